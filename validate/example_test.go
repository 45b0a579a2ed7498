package validate_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/loopml/loopml/profile"
	"github.com/loopml/loopml/validate"
)

func Example() {
	rules, err := validate.Load(strings.NewReader(`
row_count: {min: 1}
columns:
  userId: {not_null: true}
  rating: {min: 0.5, max: 5, step: 0.5}
`), "rules.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	data := "userId,rating\n1,4.5\n,3\n3,7\n"
	rd, err := profile.NewReader(strings.NewReader(data), "ratings.csv", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := validate.Check(context.Background(), rules, rd, "ratings.csv",
		validate.Options{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Workers: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = rep.WriteText(os.Stdout)
	// Output:
	// validation FAILED: 3 rows, 5 rules, 2 failed
	// STATUS  RULE       COLUMN  OBSERVED               EXPECTED
	// ok      row_count  -       3 rows                 at least 1 rows
	// FAIL    not_null   userId  1 missing values       0 missing values
	// ok      min        rating  min 3, max 7           values ≥ 0.5
	// FAIL    max        rating  min 3, max 7           values ≤ 5
	// ok      step       rating  0 values off the step  values 0.5 + k·0.5
	//
	// not_null userId: 1 offending rows, e.g.
	//   ratings.csv:3: rating="3" userId=""
	//
	// max rating: 1 offending rows, e.g.
	//   ratings.csv:4: rating="7" userId="3"
}
