package learn_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/loopml/loopml/learn"
)

// Train a popularity model from CSV and recommend for a known and an
// unknown user.
func ExamplePopularity() {
	csv := `userId,movieId,rating,timestamp
1,heat,5,1
2,heat,4,2
2,alien,5,3
3,alien,4,4
3,up,2,5
`
	d, err := learn.LoadCSV(context.Background(), strings.NewReader(csv), learn.CSVOptions{})
	if err != nil {
		panic(err)
	}
	m, err := learn.Popularity{}.Fit(context.Background(), d, learn.Params{"min_count": "1", "prior_count": "1"})
	if err != nil {
		panic(err)
	}
	for _, user := range []string{"1", "new"} {
		for _, s := range m.Recommend(user, 2, true) {
			fmt.Printf("user %s: %s %.2f cold=%v\n", user, s.Item, s.Score, s.ColdStart)
		}
	}
	// Global mean 4; Bayesian average (1·4 + Σr) / (1 + n): heat 13/3,
	// alien 13/3 (ties keep first appearance), up 6/2.

	// Output:
	// user 1: alien 4.33 cold=false
	// user 1: up 3.00 cold=false
	// user new: heat 4.33 cold=true
	// user new: alien 4.33 cold=true
}

// Score one recommendation list.
func ExampleNDCGAt() {
	relevant := map[string]bool{"alien": true, "up": true}
	fmt.Printf("%.3f\n", learn.NDCGAt(3, []string{"heat", "alien", "up"}, relevant))
	// Output: 0.693
}
