package drift

import (
	"fmt"
	"math"
)

// ZTestResult is the outcome of [ZTest].
type ZTestResult struct {
	// Z is the standardised difference of the two proportions (reference
	// minus current); positive when the reference proportion is larger.
	Z float64 `json:"z"`
	// PValue is the two-sided p-value 2·(1 − Φ(|Z|)).
	PValue float64 `json:"p_value"`
}

// ZTest runs the two-sample Z-test for a difference in proportions, the test
// Evidently uses for binary columns: with p₁ = refPos/refN, p₂ = curPos/curN
// and the pooled proportion P = (refPos + curPos)/(refN + curN),
//
//	Z = (p₁ − p₂) / √(P·(1 − P)·(1/refN + 1/curN)),  p = 2·(1 − Φ(|Z|)).
//
// When P is 0 or 1 (both samples hold one and the same value) there is no
// difference to test: Z = 0 and p = 1, as Evidently returns for two identical
// constant columns. Evidently flags drift when p < 0.05. The p-value is
// computed as erfc(|Z|/√2), which keeps precision for large |Z| where
// 1 − Φ(|Z|) would round to 0.
//
// It returns ErrEmpty if refN or curN is zero and ErrInvalid for a negative
// count or a positive count above its total.
func ZTest(refPos, refN, curPos, curN int64) (ZTestResult, error) {
	if refN == 0 {
		return ZTestResult{}, fmt.Errorf("z-test: reference: %w", ErrEmpty)
	}
	if curN == 0 {
		return ZTestResult{}, fmt.Errorf("z-test: current: %w", ErrEmpty)
	}
	if refN < 0 || curN < 0 || refPos < 0 || curPos < 0 || refPos > refN || curPos > curN {
		return ZTestResult{}, fmt.Errorf("z-test: counts %d/%d and %d/%d: %w", refPos, refN, curPos, curN, ErrInvalid)
	}
	n1, n2 := float64(refN), float64(curN)
	p1, p2 := float64(refPos)/n1, float64(curPos)/n2
	pool := float64(refPos+curPos) / (n1 + n2)
	v := pool * (1 - pool) * (1/n1 + 1/n2)
	if v <= 0 {
		return ZTestResult{Z: 0, PValue: 1}, nil
	}
	z := (p1 - p2) / math.Sqrt(v)
	return ZTestResult{Z: z, PValue: min(math.Erfc(math.Abs(z)/math.Sqrt2), 1)}, nil
}
