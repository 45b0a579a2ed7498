package drift

import (
	"fmt"
	"math"
)

// PSI band limits from the credit-scoring literature: below PSIModerate the
// population is stable, from PSIModerate up to PSIMajor the change is
// moderate, at PSIMajor and above it is major (investigate or retrain).
const (
	PSIModerate = 0.1
	PSIMajor    = 0.25
)

// Band classifies a PSI value.
type Band string

// PSI bands; see [PSIBand].
const (
	BandNone     Band = "none"
	BandModerate Band = "moderate"
	BandMajor    Band = "major"
)

// PSIBand returns the conventional band of a PSI value: [BandNone] below 0.1,
// [BandModerate] from 0.1 to below 0.25, [BandMajor] from 0.25 (and for NaN,
// which only arises from invalid input, so that it is not silently ignored).
func PSIBand(psi float64) Band {
	switch {
	case psi < PSIModerate:
		return BandNone
	case psi < PSIMajor:
		return BandModerate
	default:
		return BandMajor
	}
}

// PSI returns the Population Stability Index of two aligned count vectors
// (bin counts of the same bins, or category counts in the same order):
//
//	PSI = Σᵢ (rᵢ − cᵢ) · ln(rᵢ / cᵢ)
//
// where rᵢ and cᵢ are the reference and current proportions (each vector is
// normalised to sum 1, so proportions may be passed too). Zero proportions
// are replaced by [EpsilonFloor] first, as Evidently does, so an empty bin
// contributes a large but finite term. PSI is the symmetrised Kullback–Leibler
// divergence: 0 for identical distributions, growing without bound. Evidently
// flags drift at PSI ≥ 0.1; see [PSIBand] for the usual bands.
//
// It returns ErrMismatch for vectors of different length, ErrInvalid for a
// negative or non-finite count and ErrEmpty for an all-zero vector.
func PSI(ref, cur []float64) (float64, error) {
	if err := checkPair(ref, cur); err != nil {
		return 0, fmt.Errorf("psi: %w", err)
	}
	r, err := proportions(ref)
	if err != nil {
		return 0, fmt.Errorf("psi: reference: %w", err)
	}
	c, err := proportions(cur)
	if err != nil {
		return 0, fmt.Errorf("psi: current: %w", err)
	}
	r, c = EpsilonFloor(r), EpsilonFloor(c)
	var psi float64
	for i := range r {
		psi += (r[i] - c[i]) * math.Log(r[i]/c[i])
	}
	return psi, nil
}

// PSISamples returns the PSI of two raw samples, binned on the reference
// quantile edges ([QuantileEdges] with the given number of bins; ≤ 0 means
// [DefaultBins]). NaN values are dropped from both samples. This matches what
// a stored reference profile gives later; Evidently instead bins the combined
// sample into equal-width Sturges bins, which needs both samples at once, so
// values differ somewhat between the two.
func PSISamples(ref, cur []float64, bins int) (float64, error) {
	r, c, err := binSamples(ref, cur, bins)
	if err != nil {
		return 0, fmt.Errorf("psi: %w", err)
	}
	return PSI(r, c)
}

// PSIHistograms returns the PSI of two histograms on the same edges. It
// returns ErrMismatch if the edges differ.
func PSIHistograms(ref, cur *Histogram) (float64, error) {
	if !ref.SameEdges(cur) {
		return 0, fmt.Errorf("psi: histogram edges: %w", ErrMismatch)
	}
	return PSI(ref.FloatCounts(), cur.FloatCounts())
}

// binSamples counts both samples on the reference quantile edges, ignoring
// NaN and ±Inf.
func binSamples(ref, cur []float64, bins int) (r, c []float64, err error) {
	edges, err := QuantileEdges(ref, bins)
	if err != nil {
		return nil, nil, fmt.Errorf("reference: %w", err)
	}
	hr, _ := NewHistogram(edges)
	hc, _ := NewHistogram(edges)
	for _, v := range ref {
		if finite(v) {
			hr.Add(v)
		}
	}
	for _, v := range cur {
		if finite(v) {
			hc.Add(v)
		}
	}
	if hc.N() == 0 {
		return nil, nil, fmt.Errorf("current: %w", ErrEmpty)
	}
	return hr.FloatCounts(), hc.FloatCounts(), nil
}
