package learn_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/loopml/loopml/learn"
)

func TestEvaluate(t *testing.T) {
	// Train: p1 (rated 5 by users a..j) > p2 (4 by a..h) > p3 (3 by a..f).
	d := learn.NewInteractions()
	for u := 0; u < 10; u++ {
		user := string(rune('a' + u))
		d.Add(user, "p1", 5, 1)
		if u < 8 {
			d.Add(user, "p2", 4, 1)
		}
		if u < 6 {
			d.Add(user, "p3", 3, 1)
		}
	}
	train := &learn.Interactions{Users: d.Users, Items: d.Items, Rows: d.Rows}
	test := &learn.Interactions{Users: d.Users, Items: d.Items}
	add := func(user, item string, r float32) {
		test.Rows = append(test.Rows, learn.Interaction{User: d.Users.Add(user), Item: d.Items.Add(item), Rating: r, Time: 2})
	}
	add("i", "p3", 4)   // i saw p1: list [p2, p3] → hit at rank 2
	add("j", "q", 2)    // j saw p1: list [p2, p3], q unknown → miss
	add("new", "p1", 5) // cold-start user: not ranked
	m, err := learn.FitPopularity(context.Background(), train, learn.PopularityOptions{MinCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := learn.EvaluateModel(context.Background(), m, train, test, learn.EvalOptions{K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RankedUsers != 2 || rep.ColdStartUsers != 1 || rep.ColdStartPredictions != 2 {
		t.Errorf("ranked %d, cold users %d, cold predictions %d; want 2, 1, 2", rep.RankedUsers, rep.ColdStartUsers, rep.ColdStartPredictions)
	}
	want := map[string][2]float64{
		"precision": {rep.Precision, (0.5 + 0) / 2},
		"recall":    {rep.Recall, (1 + 0) / 2.0},
		"ndcg":      {rep.NDCG, (1 / math.Log2(3)) / 2},
		"hit rate":  {rep.HitRate, 0.5},
		"coverage":  {rep.Coverage, 2.0 / 3}, // p2, p3 of p1..p3
	}
	for name, v := range want {
		if math.Abs(v[0]-v[1]) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, v[0], v[1])
		}
	}
	// Relevance threshold 3 drops j's rating of 2: only i is ranked.
	rep, _ = learn.EvaluateModel(context.Background(), m, train, test, learn.EvalOptions{K: 2, RelevanceThreshold: 3})
	if rep.RankedUsers != 1 || rep.Precision != 0.5 {
		t.Errorf("threshold 3: ranked %d precision %v, want 1, 0.5", rep.RankedUsers, rep.Precision)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Errorf("report does not encode as JSON: %v", err)
	}
	if _, err := learn.EvaluateModel(context.Background(), m, train, learn.NewInteractions(), learn.EvalOptions{}); !errors.Is(err, learn.ErrNoData) {
		t.Errorf("empty test: got %v, want ErrNoData", err)
	}
	r2, _, err := learn.Evaluate(context.Background(), learn.Popularity{}, train, test, nil, learn.EvalOptions{})
	if err != nil || r2.Learner != learn.KindPopularity || r2.K != 10 {
		t.Errorf("Evaluate: %+v, %v", r2, err)
	}
}
