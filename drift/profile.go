package drift

import (
	"fmt"
	"math"
)

// Defaults for [ProfileOptions].
const (
	// DefaultSampleLimit is the largest number of values whose raw sample a
	// profile keeps. It equals Evidently's switch from KS (which needs raw
	// values) to Wasserstein at 1000 reference rows, so a default reference
	// profile always supports the test Evidently would pick exactly.
	DefaultSampleLimit = 1000
	// DefaultMaxDistinct is how many distinct values a profile counts exactly
	// before it gives up and keeps only the histogram. It matches the 20
	// distinct values up to which Evidently bins a numeric column by value.
	DefaultMaxDistinct = 20
)

// ValueCount is one distinct value of a numeric column and its count.
type ValueCount struct {
	// Value is the distinct value.
	Value float64 `json:"value"`
	// Count is how many times it occurs.
	Count int64 `json:"count"`
}

// NumericProfile is the stored summary of a numeric column: a [Histogram]
// (always), the exact counts of its distinct finite values while there are
// few of them (Values, unless ManyValues), and either all its sorted finite
// values (Sample, while there are at most SampleLimit of them) or a quantile
// sketch of them (Quantiles). With the default options it holds about 20
// bins, at most 20 value counts and at most 1000 values however large the
// column is, and still supports every default test of [SelectMethod]: exactly
// where Evidently would look at raw values (KS needs at most 1000 reference
// values), and from the sketch otherwise (the Wasserstein distance of a large
// reference).
type NumericProfile struct {
	Histogram
	// Values are the distinct finite values in increasing order with their
	// counts; nil when ManyValues.
	Values []ValueCount `json:"values,omitempty"`
	// ManyValues reports more than MaxDistinct distinct finite values.
	ManyValues bool `json:"many_values,omitempty"`
	// Sample holds all finite values, sorted, when there were at most
	// SampleLimit of them; nil otherwise.
	Sample []float64 `json:"sample,omitempty"`
	// Quantiles, when Sample is nil, holds the SampleLimit quantiles at
	// (i+½)/SampleLimit, i = 0 … SampleLimit−1, of the finite values (numpy's
	// linear interpolation): the equally weighted SampleLimit-point
	// distribution closest to the data in Wasserstein distance. KS and
	// Wasserstein computed from it are off by at most about 1/SampleLimit in
	// CDF terms, far less than with bins.
	Quantiles []float64 `json:"quantiles,omitempty"`
}

// ProfileOptions configures [NewNumericProfile]. The zero value is ready to
// use: reference-quantile edges with [DefaultBins] bins, a raw sample (or a
// quantile sketch) of [DefaultSampleLimit] values and exact value counts up
// to [DefaultMaxDistinct] distinct values.
type ProfileOptions struct {
	// Edges, if non-nil, are used as the bin edges (as for a current window,
	// which must be counted on the reference's edges). Otherwise the edges are
	// [QuantileEdges] of the values with Bins bins.
	Edges []float64
	// Bins is the number of quantile bins; ≤ 0 means DefaultBins.
	Bins int
	// SampleLimit bounds the raw sample kept and sizes the quantile sketch
	// kept instead for larger columns; 0 means DefaultSampleLimit, a negative
	// value keeps neither (bins only) and math.MaxInt keeps every value.
	SampleLimit int
	// MaxDistinct bounds the distinct values counted exactly; 0 means
	// DefaultMaxDistinct, and it is never below 5, the largest count at which
	// the default tests look at individual values.
	MaxDistinct int
}

// NewNumericProfile summarises values. NaN values are counted in NaN; ±Inf
// values are counted in the histogram's outer bins but left out of Values,
// Sample and Quantiles. It returns ErrEmpty when the edges must be derived
// from values that are all NaN or ±Inf, and ErrInvalid for malformed Edges.
func NewNumericProfile(values []float64, opt ProfileOptions) (*NumericProfile, error) {
	sorted := finiteSorted(values)
	edges := opt.Edges
	if edges == nil {
		if len(sorted) == 0 {
			return nil, fmt.Errorf("numeric profile: values: %w", ErrEmpty)
		}
		bins := opt.Bins
		if bins <= 0 {
			bins = DefaultBins
		}
		edges = quantileEdgesSorted(sorted, bins)
	}
	h, err := NewHistogram(edges)
	if err != nil {
		return nil, fmt.Errorf("numeric profile: %w", err)
	}
	h.AddAll(values)
	p := &NumericProfile{Histogram: *h}

	limit := opt.SampleLimit
	if limit == 0 {
		limit = DefaultSampleLimit
	}
	switch {
	case limit < 0 || len(sorted) == 0:
	case len(sorted) <= limit:
		p.Sample = sorted
	default:
		p.Quantiles = make([]float64, limit)
		for i := range p.Quantiles {
			p.Quantiles[i] = quantile7(sorted, (float64(i)+0.5)/float64(limit))
		}
	}
	maxDistinct := opt.MaxDistinct
	if maxDistinct == 0 {
		maxDistinct = DefaultMaxDistinct
	}
	maxDistinct = max(maxDistinct, 5)
	for i, v := range sorted {
		if i > 0 && v == sorted[i-1] {
			p.Values[len(p.Values)-1].Count++
			continue
		}
		if len(p.Values) == maxDistinct {
			p.ManyValues, p.Values = true, nil
			break
		}
		p.Values = append(p.Values, ValueCount{Value: v, Count: 1})
	}
	return p, nil
}

// Observe profiles a current sample on the reference's bin edges, keeping all
// its finite values so that the exact sample statistics stay available
// wherever the reference kept its own sample. The reference is not modified.
// It returns ErrInvalid if the reference edges are malformed (a profile
// decoded from damaged storage).
func (p *NumericProfile) Observe(values []float64) (*NumericProfile, error) {
	// A non-nil copy, so that a reference with no edges is not re-binned.
	return NewNumericProfile(values, ProfileOptions{Edges: append([]float64{}, p.Edges...), SampleLimit: math.MaxInt})
}

// points returns the sorted values that stand for the distribution in KS and
// Wasserstein (the sample, or else the quantile sketch), whether they are
// the complete sample, and false if the profile has neither.
func (p *NumericProfile) points() (pts []float64, complete, ok bool) {
	switch {
	case p.hasSample():
		return p.Sample, true, true
	case len(p.Quantiles) > 0:
		return p.Quantiles, false, true
	}
	return nil, false, false
}

// hasSample reports whether p holds its complete finite sample.
func (p *NumericProfile) hasSample() bool {
	return p.Finite > 0 && int64(len(p.Sample)) == p.Finite
}

// alignValues lines up the exact value counts of two profiles on the sorted
// union of their values.
func alignValues(ref, cur []ValueCount) (values, r, c []float64) {
	i, j := 0, 0
	for i < len(ref) || j < len(cur) {
		switch {
		case j == len(cur) || (i < len(ref) && ref[i].Value < cur[j].Value):
			values = append(values, ref[i].Value)
			r = append(r, float64(ref[i].Count))
			c = append(c, 0)
			i++
		case i == len(ref) || cur[j].Value < ref[i].Value:
			values = append(values, cur[j].Value)
			r = append(r, 0)
			c = append(c, float64(cur[j].Count))
			j++
		default:
			values = append(values, ref[i].Value)
			r = append(r, float64(ref[i].Count))
			c = append(c, float64(cur[j].Count))
			i++
			j++
		}
	}
	return values, r, c
}
