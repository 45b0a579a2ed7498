package learn_test

import (
	"math"
	"testing"

	"github.com/loopml/loopml/learn"
)

func TestRatingMetrics(t *testing.T) {
	pred, act := []float64{1, 2, 3, 4}, []float64{2, 2, 1, 4}
	if got, want := learn.RMSE(pred, act), math.Sqrt(5.0/4); math.Abs(got-want) > 1e-12 {
		t.Errorf("RMSE = %v, want %v", got, want)
	}
	if got, want := learn.MAE(pred, act), 3.0/4; math.Abs(got-want) > 1e-12 {
		t.Errorf("MAE = %v, want %v", got, want)
	}
	if !math.IsNaN(learn.RMSE(nil, nil)) || !math.IsNaN(learn.MAE([]float64{1}, nil)) {
		t.Error("empty or mismatched input must give NaN")
	}
}

func TestRankingMetrics(t *testing.T) {
	rel := map[string]bool{"a": true, "c": true, "x": true}
	l2 := func(n float64) float64 { return 1 / math.Log2(n+1) }
	tests := []struct {
		name                   string
		k                      int
		rec                    []string
		precision, recall, hit float64
		ndcg, ap               float64
	}{
		{"hits at 1 and 3", 3, []string{"a", "b", "c", "d"}, 2.0 / 3, 2.0 / 3, 1,
			(l2(1) + l2(3)) / (l2(1) + l2(2) + l2(3)), (1 + 2.0/3) / 3},
		{"no hits", 2, []string{"b", "d"}, 0, 0, 0, 0, 0},
		{"short list", 5, []string{"x"}, 1.0 / 5, 1.0 / 3, 1, l2(1) / (l2(1) + l2(2) + l2(3)), 1.0 / 3},
		{"perfect", 3, []string{"c", "a", "x"}, 1, 1, 1, 1, 1},
		{"k zero", 0, []string{"a"}, 0, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, m := range []struct {
				name      string
				got, want float64
			}{
				{"precision", learn.PrecisionAt(tt.k, tt.rec, rel), tt.precision},
				{"recall", learn.RecallAt(tt.k, tt.rec, rel), tt.recall},
				{"hit", learn.HitAt(tt.k, tt.rec, rel), tt.hit},
				{"ndcg", learn.NDCGAt(tt.k, tt.rec, rel), tt.ndcg},
				{"ap", learn.APAt(tt.k, tt.rec, rel), tt.ap},
			} {
				if math.Abs(m.got-m.want) > 1e-12 {
					t.Errorf("%s = %v, want %v", m.name, m.got, m.want)
				}
			}
		})
	}
	if got := learn.Coverage([][]int{{1, 2}, {2, 3}}, 10); got != 0.3 {
		t.Errorf("Coverage = %v, want 0.3", got)
	}
}
