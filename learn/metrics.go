package learn

import "math"

// RMSE returns the root mean squared error of pred against actual, or NaN
// when the slices are empty or differ in length.
func RMSE(pred, actual []float64) float64 {
	if len(pred) == 0 || len(pred) != len(actual) {
		return math.NaN()
	}
	var s float64
	for i, p := range pred {
		d := p - actual[i]
		s += d * d
	}
	return math.Sqrt(s / float64(len(pred)))
}

// MAE returns the mean absolute error of pred against actual, or NaN when
// the slices are empty or differ in length.
func MAE(pred, actual []float64) float64 {
	if len(pred) == 0 || len(pred) != len(actual) {
		return math.NaN()
	}
	var s float64
	for i, p := range pred {
		s += math.Abs(p - actual[i])
	}
	return s / float64(len(pred))
}

// The ranking metrics below judge one user's recommendation list rec (best
// first) against the set of relevant items, with binary relevance, at cut-off
// k. Only the first k entries of rec count. They return 0 when k < 1 or
// nothing is relevant.

// PrecisionAt returns |rec[:k] ∩ relevant| / k.
func PrecisionAt[T comparable](k int, rec []T, relevant map[T]bool) float64 {
	if k < 1 || len(relevant) == 0 {
		return 0
	}
	return float64(hits(k, rec, relevant)) / float64(k)
}

// RecallAt returns |rec[:k] ∩ relevant| / |relevant|.
func RecallAt[T comparable](k int, rec []T, relevant map[T]bool) float64 {
	if k < 1 || len(relevant) == 0 {
		return 0
	}
	return float64(hits(k, rec, relevant)) / float64(len(relevant))
}

// HitAt returns 1 if any of rec[:k] is relevant, else 0.
func HitAt[T comparable](k int, rec []T, relevant map[T]bool) float64 {
	if k >= 1 && hits(k, rec, relevant) > 0 {
		return 1
	}
	return 0
}

// NDCGAt returns DCG/IDCG with gain 1/log2(rank+1) for each relevant item,
// the ideal list having min(k, |relevant|) hits at the top.
func NDCGAt[T comparable](k int, rec []T, relevant map[T]bool) float64 {
	if k < 1 || len(relevant) == 0 {
		return 0
	}
	var dcg, idcg float64
	for n, it := range rec[:min(k, len(rec))] {
		if relevant[it] {
			dcg += 1 / math.Log2(float64(n)+2)
		}
	}
	for n := 0; n < min(k, len(relevant)); n++ {
		idcg += 1 / math.Log2(float64(n)+2)
	}
	return dcg / idcg
}

// APAt returns average precision at k: the mean of precision@n over the
// ranks n ≤ k that hold a relevant item, divided by min(k, |relevant|).
func APAt[T comparable](k int, rec []T, relevant map[T]bool) float64 {
	if k < 1 || len(relevant) == 0 {
		return 0
	}
	var sum float64
	h := 0
	for n, it := range rec[:min(k, len(rec))] {
		if relevant[it] {
			h++
			sum += float64(h) / float64(n+1)
		}
	}
	return sum / float64(min(k, len(relevant)))
}

func hits[T comparable](k int, rec []T, relevant map[T]bool) int {
	h := 0
	seen := make(map[T]bool, min(k, len(rec)))
	for _, it := range rec[:min(k, len(rec))] {
		if relevant[it] && !seen[it] {
			h++
		}
		seen[it] = true
	}
	return h
}

// Coverage returns the share of a catalogue of size catalogue that appears
// in at least one of the lists.
func Coverage[T comparable](lists [][]T, catalogue int) float64 {
	if catalogue < 1 {
		return 0
	}
	seen := map[T]bool{}
	for _, l := range lists {
		for _, it := range l {
			seen[it] = true
		}
	}
	return float64(len(seen)) / float64(catalogue)
}
