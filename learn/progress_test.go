package learn_test

import (
	"context"
	"testing"

	"github.com/loopml/loopml/learn"
)

// TestProgressOnePointPerEpoch checks that mf and implicit-als report one
// set of metrics per sweep, numbered from 1, and that the objective falls.
func TestProgressOnePointPerEpoch(t *testing.T) {
	for _, tc := range []struct {
		learner learn.Learner
		params  learn.Params
		epochs  int
		keys    []string
		falling string
	}{
		{learn.MF{}, learn.Params{"epochs": "6", "early_stopping": "false"}, 6, []string{"train_rmse"}, "train_rmse"},
		{learn.MF{}, learn.Params{"epochs": "4", "patience": "10"}, 4, []string{"train_rmse", "val_rmse"}, "train_rmse"},
		{learn.ImplicitALS{}, learn.Params{"iterations": "5"}, 5, []string{"loss"}, "loss"},
	} {
		var got []map[string]float64
		ctx := learn.WithProgress(context.Background(), func(ep int, m map[string]float64) {
			if ep != len(got)+1 {
				t.Errorf("%s: epoch %d after %d reports", tc.learner.Name(), ep, len(got))
			}
			got = append(got, m)
		})
		if _, err := tc.learner.Fit(ctx, planted(), tc.params); err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.epochs {
			t.Fatalf("%s %v: %d progress reports, want %d", tc.learner.Name(), tc.params, len(got), tc.epochs)
		}
		for _, m := range got {
			for _, k := range tc.keys {
				if _, ok := m[k]; !ok {
					t.Errorf("%s: report %v lacks %s", tc.learner.Name(), m, k)
				}
			}
		}
		if first, last := got[0][tc.falling], got[len(got)-1][tc.falling]; !(last < first) {
			t.Errorf("%s: %s went from %v to %v", tc.learner.Name(), tc.falling, first, last)
		}
	}
}
