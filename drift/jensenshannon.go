package drift

import (
	"fmt"
	"math"
)

// JensenShannon returns the Jensen–Shannon distance between two aligned count
// vectors (bin or category counts; each is normalised to sum 1), exactly as
// scipy.spatial.distance.jensenshannon(ref, cur, base):
//
//	m = (p + q)/2,  JS = √((KL(p‖m) + KL(q‖m)) / 2)
//
// with KL(p‖m) = Σ pᵢ·ln(pᵢ/mᵢ) (terms with pᵢ = 0 are 0, so no epsilon is
// needed) and the divergence divided by ln(base) when base > 0. base ≤ 0 means
// the natural logarithm, scipy's default, where the distance lies in
// [0, √ln 2 ≈ 0.8326]. With base 2 it lies in [0, 1]; Evidently calls scipy
// with base 2 and flags drift at a distance ≥ 0.1, which is why the default
// detection ([Detect]) uses base 2.
//
// It returns ErrMismatch for vectors of different length, ErrInvalid for a
// negative or non-finite count, or base 1, and ErrEmpty for an all-zero
// vector.
func JensenShannon(ref, cur []float64, base float64) (float64, error) {
	if err := checkPair(ref, cur); err != nil {
		return 0, fmt.Errorf("jensen-shannon: %w", err)
	}
	if base == 1 || math.IsNaN(base) || math.IsInf(base, 0) {
		return 0, fmt.Errorf("jensen-shannon: base %v: %w", base, ErrInvalid)
	}
	p, err := proportions(ref)
	if err != nil {
		return 0, fmt.Errorf("jensen-shannon: reference: %w", err)
	}
	q, err := proportions(cur)
	if err != nil {
		return 0, fmt.Errorf("jensen-shannon: current: %w", err)
	}
	var js float64
	for i := range p {
		m := (p[i] + q[i]) / 2
		if p[i] > 0 {
			js += p[i] * math.Log(p[i]/m)
		}
		if q[i] > 0 {
			js += q[i] * math.Log(q[i]/m)
		}
	}
	if base > 0 {
		js /= math.Log(base)
	}
	return math.Sqrt(max(js, 0) / 2), nil
}
