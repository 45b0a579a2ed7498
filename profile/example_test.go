package profile_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/loopml/loopml/profile"
)

// Profiles of two chunks merge into the profile of the whole, and the
// reference's bin edges count later data on the same bins.
func Example() {
	ctx := context.Background()
	a, _ := profile.ProfileReader(ctx, strings.NewReader("age,city\n31,Oslo\n45,Lyon\nNA,Oslo\n"), "a.csv", profile.Options{})
	b, _ := profile.ProfileReader(ctx, strings.NewReader("age,city\n27,Lyon\n60,Oslo\n"), "b.csv", profile.Options{})
	if err := a.Merge(b); err != nil {
		panic(err)
	}
	age, _ := a.Column("age")
	fmt.Println(a.Rows(), age.Type, age.Count, age.Missing, age.Numeric.Min, age.Numeric.Max, age.Numeric.Mean)
	city, _ := a.Column("city")
	fmt.Println(city.Kind, city.Top)

	edges := profile.EdgesOf(a)
	cur, _ := profile.ProfileReader(ctx, strings.NewReader("age\n20\n50\n"), "c.csv", profile.Options{Config: profile.Config{Edges: edges}})
	h, _ := cur.Column("age")
	fmt.Println(h.Numeric.Histogram.Edges, h.Numeric.Histogram.Counts)
	// Output:
	// 5 integer 4 1 27 60 40.75
	// categorical [{Oslo 3} {Lyon 2}]
	// [27 27.000000000000004 31 31.000000000000004 45 45.00000000000001 60 60.00000000000001] [1 0 0 0 0 0 1 0 0]
}
