package drift

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// DefaultBins is the number of bins [QuantileEdges] uses when asked for zero
// or fewer bins. Ten to twenty reference-quantile bins is the usual choice for
// PSI on stored profiles; Evidently's own PSI uses 30 bins over the combined
// sample, which cannot be stored ahead of time.
const DefaultBins = 20

// Epsilon is the proportion that replaces an empty bin before a logarithm is
// taken (PSI). It matches Evidently's get_binned_data: empty bins get 0.0001,
// unless the smallest non-empty proportion is itself at most 0.0001, in which
// case they get that smallest proportion divided by 10⁶, so that the floor
// always stays well below every observed proportion. See [EpsilonFloor].
const Epsilon = 0.0001

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// finiteSorted returns a sorted copy of the finite values of xs.
func finiteSorted(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, v := range xs {
		if finite(v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// quantile7 returns the p-quantile of sorted (non-empty) data with linear
// interpolation between order statistics, numpy's default ("linear",
// Hyndman–Fan type 7): h = (n−1)·p, q = x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]).
func quantile7(sorted []float64, p float64) float64 {
	n := len(sorted)
	h := float64(n-1) * p
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	if lo < 0 {
		return sorted[0]
	}
	f := h - float64(lo)
	x0, x1 := sorted[lo], sorted[lo+1]
	v := x0 + f*(x1-x0)
	if !finite(v) { // x1−x0 overflowed
		v = x0*(1-f) + x1*f
	}
	return min(max(v, x0), x1)
}

// QuantileEdges returns bin edges for a numeric column taken from the
// reference values: the cut points between bins, strictly increasing. A
// [Histogram] on these edges has len(edges)+1 bins, the first and the last
// open-ended, so current values outside the reference range are still
// counted. Non-finite values are ignored; ErrEmpty is returned when none is
// left. bins ≤ 0 means [DefaultBins].
//
// Two cases:
//
//   - More than bins distinct values: the cut points are the reference
//     quantiles at 1/bins, 2/bins, …, (bins−1)/bins (numpy's linear
//     interpolation), with duplicates removed. Heavy ties therefore give fewer,
//     wider bins; a tied value always lands in the bin that starts at it.
//   - At most bins distinct values (including a constant column): one bin per
//     distinct value. Each distinct value u gets the edges u and u⁺ (the next
//     float above u), so the bin [u, u⁺) holds exactly u, and the bins in
//     between catch current values the reference never took (below, between
//     or above its values), which then count as new, as an unseen category
//     would. That is at most 2·bins+1 bins. A constant column v gets edges
//     [v, v⁺] and the three bins (−∞, v), [v, v⁺) and [v⁺, +∞), so a shift
//     either way is visible.
func QuantileEdges(values []float64, bins int) ([]float64, error) {
	if bins <= 0 {
		bins = DefaultBins
	}
	sorted := finiteSorted(values)
	if len(sorted) == 0 {
		return nil, fmt.Errorf("quantile edges: values: %w", ErrEmpty)
	}
	return quantileEdgesSorted(sorted, bins), nil
}

// quantileEdgesSorted is QuantileEdges on sorted, finite, non-empty values
// with bins ≥ 1.
func quantileEdgesSorted(sorted []float64, bins int) []float64 {
	distinct := 1
	for i := 1; i < len(sorted) && distinct <= bins; i++ {
		if sorted[i] != sorted[i-1] {
			distinct++
		}
	}
	if distinct <= bins {
		edges := make([]float64, 0, 2*distinct)
		for i, u := range sorted {
			if i > 0 && u == sorted[i-1] {
				continue
			}
			if len(edges) == 0 || u > edges[len(edges)-1] {
				edges = append(edges, u)
			}
			edges = append(edges, math.Nextafter(u, math.Inf(1)))
		}
		return edges
	}
	edges := make([]float64, 0, bins-1)
	for j := 1; j < bins; j++ {
		q := quantile7(sorted, float64(j)/float64(bins))
		if len(edges) == 0 || q > edges[len(edges)-1] {
			edges = append(edges, q)
		}
	}
	return edges
}

// UniformEdges returns the bins−1 interior cut points of bins equal-width bins
// over [lo, hi]: lo + i·(hi−lo)/bins for i = 1 … bins−1. As with every
// [Histogram], the first and last bins are open-ended, so values below lo or
// above hi are counted in them rather than dropped. It returns ErrInvalid
// unless lo < hi are finite and bins ≥ 1.
func UniformEdges(lo, hi float64, bins int) ([]float64, error) {
	if !finite(lo) || !finite(hi) || !(lo < hi) {
		return nil, fmt.Errorf("uniform edges: range [%v, %v]: %w", lo, hi, ErrInvalid)
	}
	if bins < 1 {
		return nil, fmt.Errorf("uniform edges: bins %d: %w", bins, ErrInvalid)
	}
	edges := make([]float64, 0, bins-1)
	for i := 1; i < bins; i++ {
		f := float64(i) / float64(bins)
		e := lo*(1-f) + hi*f // no overflow for large ranges
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return edges, nil
}

// validEdges checks that edges are NaN-free and strictly increasing.
func validEdges(edges []float64) error {
	for i, e := range edges {
		if math.IsNaN(e) {
			return fmt.Errorf("edges[%d] is NaN: %w", i, ErrInvalid)
		}
		if i > 0 && !(edges[i-1] < e) {
			return fmt.Errorf("edges[%d]=%v not above edges[%d]=%v: %w", i, e, i-1, edges[i-1], ErrInvalid)
		}
	}
	return nil
}

// Histogram counts numeric values into fixed bins. It is the stored form of a
// numeric reference (and, optionally, of a current window), so its fields are
// exported and JSON-friendly.
//
// Edges are the strictly increasing cut points; there are len(Edges)+1 bins.
// Bin 0 is (−∞, Edges[0]), bin i is [Edges[i−1], Edges[i]) and the last bin
// is [Edges[len−1], +∞). NaN values are counted in NaN only; ±Inf values go
// to the outer bins. Sums holds the sum of the finite values of each bin, so
// that bin means are known (this makes [WassersteinHistograms] far more
// accurate in the open-ended tail bins). The moment fields (Finite, Min, Max,
// Mean, M2) cover finite values only and let distance statistics be normed by
// the reference standard deviation without the raw data. Histograms on the
// same edges merge exactly ([Histogram.Merge]).
//
// The zero Histogram has one bin covering everything; use [NewHistogram] for
// real edges.
type Histogram struct {
	// Edges are the strictly increasing cut points between bins.
	Edges []float64 `json:"edges"`
	// Counts holds the number of non-NaN values per bin, len(Edges)+1.
	Counts []int64 `json:"counts"`
	// Sums holds the sum of the finite values per bin (nil after merging
	// with a histogram that lacks them).
	Sums []float64 `json:"sums"`
	// NaN counts the NaN values, which are in no bin.
	NaN int64 `json:"nan,omitempty"`
	// Finite counts the finite values (all counted values but ±Inf).
	Finite int64 `json:"finite"`
	// Min is the smallest finite value (0 if none).
	Min float64 `json:"min"`
	// Max is the largest finite value (0 if none).
	Max float64 `json:"max"`
	// Mean is the mean of the finite values.
	Mean float64 `json:"mean"`
	// M2 is the sum of squared deviations of the finite values from Mean
	// (Welford's running form), so Std = √(M2/Finite).
	M2 float64 `json:"m2"`
}

// NewHistogram returns an empty histogram on a copy of edges. It returns
// ErrInvalid if edges contain NaN or are not strictly increasing.
func NewHistogram(edges []float64) (*Histogram, error) {
	if err := validEdges(edges); err != nil {
		return nil, fmt.Errorf("new histogram: %w", err)
	}
	return &Histogram{Edges: slices.Clone(edges), Counts: make([]int64, len(edges)+1), Sums: make([]float64, len(edges)+1)}, nil
}

// Count returns a histogram of values on edges; see [NewHistogram].
func Count(edges []float64, values []float64) (*Histogram, error) {
	h, err := NewHistogram(edges)
	if err != nil {
		return nil, err
	}
	h.AddAll(values)
	return h, nil
}

// Bin returns the index of the bin that v falls in (the number of edges ≤ v),
// or −1 for NaN.
func (h *Histogram) Bin(v float64) int {
	if math.IsNaN(v) {
		return -1
	}
	return sort.Search(len(h.Edges), func(i int) bool { return h.Edges[i] > v })
}

// Add counts one value.
func (h *Histogram) Add(v float64) {
	if len(h.Counts) != len(h.Edges)+1 {
		h.Counts = append(h.Counts, make([]int64, len(h.Edges)+1-len(h.Counts))...)
	}
	if len(h.Sums) != len(h.Counts) {
		h.Sums = append(h.Sums, make([]float64, len(h.Counts)-len(h.Sums))...)
	}
	b := h.Bin(v)
	if b < 0 {
		h.NaN++
		return
	}
	h.Counts[b]++
	if !finite(v) {
		return
	}
	h.Sums[b] += v
	h.Finite++
	if h.Finite == 1 {
		h.Min, h.Max, h.Mean, h.M2 = v, v, v, 0
		return
	}
	h.Min, h.Max = min(h.Min, v), max(h.Max, v)
	d := v - h.Mean
	h.Mean += d / float64(h.Finite)
	h.M2 += d * (v - h.Mean)
}

// AddAll counts every value of vs.
func (h *Histogram) AddAll(vs []float64) {
	for _, v := range vs {
		h.Add(v)
	}
}

// N returns the number of non-NaN values counted (the sum of Counts).
func (h *Histogram) N() int64 {
	var n int64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Std returns the population standard deviation (numpy's default, ddof=0) of
// the finite values counted, or 0 if there are none.
func (h *Histogram) Std() float64 {
	if h.Finite == 0 {
		return 0
	}
	return math.Sqrt(max(h.M2, 0) / float64(h.Finite))
}

// SameEdges reports whether h and o have identical bin edges.
func (h *Histogram) SameEdges(o *Histogram) bool { return slices.Equal(h.Edges, o.Edges) }

// Merge adds the counts and moments of o into h (Chan et al.'s parallel
// update for the mean and M2). It returns ErrMismatch if the edges differ.
func (h *Histogram) Merge(o *Histogram) error {
	if !h.SameEdges(o) || len(h.Counts) != len(o.Counts) {
		return fmt.Errorf("merge histograms: %w", ErrMismatch)
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	if len(h.Sums) == len(h.Counts) && len(o.Sums) == len(o.Counts) {
		for i, s := range o.Sums {
			h.Sums[i] += s
		}
	} else {
		h.Sums = nil // one side lacks bin sums: the merged ones would be wrong
	}
	h.NaN += o.NaN
	switch {
	case o.Finite == 0:
	case h.Finite == 0:
		h.Finite, h.Min, h.Max, h.Mean, h.M2 = o.Finite, o.Min, o.Max, o.Mean, o.M2
	default:
		na, nb := float64(h.Finite), float64(o.Finite)
		n := na + nb
		d := o.Mean - h.Mean
		h.Mean += d * nb / n
		h.M2 += o.M2 + d*d*na*nb/n
		h.Finite += o.Finite
		h.Min, h.Max = min(h.Min, o.Min), max(h.Max, o.Max)
	}
	return nil
}

// FloatCounts returns the bin counts as float64s, the form [ChiSquare],
// [JensenShannon] and [PSI] take.
func (h *Histogram) FloatCounts() []float64 {
	out := make([]float64, len(h.Counts))
	for i, c := range h.Counts {
		out[i] = float64(c)
	}
	return out
}

// proportions normalises non-negative finite counts to sum 1. It returns
// ErrInvalid for a negative or non-finite count and ErrEmpty for a zero sum.
func proportions(counts []float64) ([]float64, error) {
	var sum float64
	for i, c := range counts {
		if !finite(c) || c < 0 {
			return nil, fmt.Errorf("count[%d]=%v: %w", i, c, ErrInvalid)
		}
		sum += c
	}
	if sum == 0 || !finite(sum) {
		return nil, ErrEmpty
	}
	out := make([]float64, len(counts))
	for i, c := range counts {
		out[i] = c / sum
	}
	return out, nil
}

// checkPair validates two aligned count vectors.
func checkPair(ref, cur []float64) error {
	if len(ref) != len(cur) {
		return fmt.Errorf("reference has %d bins, current %d: %w", len(ref), len(cur), ErrMismatch)
	}
	return nil
}

// EpsilonFloor returns a copy of the proportions p in which every zero is
// replaced by a small positive floor, Evidently's rule: [Epsilon] (0.0001),
// or, if the smallest non-zero proportion is ≤ 0.0001, that proportion
// divided by 10⁶. The result is not renormalised (Evidently does not either).
// All-zero input is returned unchanged.
func EpsilonFloor(p []float64) []float64 {
	out := slices.Clone(p)
	minNZ := math.Inf(1)
	for _, v := range p {
		if v > 0 {
			minNZ = min(minNZ, v)
		}
	}
	if math.IsInf(minNZ, 1) {
		return out
	}
	eps := Epsilon
	if minNZ <= Epsilon {
		eps = minNZ / 1e6
	}
	for i, v := range out {
		if v == 0 {
			out[i] = eps
		}
	}
	return out
}
