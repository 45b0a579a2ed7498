package drift

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// ChiSquareResult is the outcome of [ChiSquare].
type ChiSquareResult struct {
	// Statistic is Pearson's χ² = Σ (oᵢ − eᵢ)² / eᵢ; +Inf when a category
	// occurs in the current sample but never in the reference.
	Statistic float64 `json:"statistic"`
	// DF is the degrees of freedom, k − 1 for k categories in use.
	DF int `json:"df"`
	// PValue is P(χ²_DF ≥ Statistic).
	PValue float64 `json:"p_value"`
}

// ChiSquare runs Pearson's chi-squared goodness-of-fit test of the current
// counts against the reference distribution, as Evidently does with
// scipy.stats.chisquare(f_obs=current, f_exp=reference·(n_cur/n_ref)):
//
//	eᵢ = refᵢ · N_cur / N_ref,  χ² = Σᵢ (curᵢ − eᵢ)² / eᵢ,  df = k − 1
//
// over the k categories (or bins) that are non-empty in at least one of the
// two vectors; categories empty in both are skipped, since they carry no
// information and 0/0 would otherwise poison the sum. A category seen in the
// current data but absent from the reference gives χ² = +Inf and p = 0. With
// k ≤ 1 there is nothing to compare: χ² = 0, df = 0, p = 1. Evidently flags
// drift when p < 0.05.
//
// It returns ErrMismatch for vectors of different length, ErrInvalid for a
// negative or non-finite count and ErrEmpty for an all-zero vector.
func ChiSquare(ref, cur []float64) (ChiSquareResult, error) {
	if err := checkPair(ref, cur); err != nil {
		return ChiSquareResult{}, fmt.Errorf("chi-square: %w", err)
	}
	nRef, err := total(ref)
	if err != nil {
		return ChiSquareResult{}, fmt.Errorf("chi-square: reference: %w", err)
	}
	nCur, err := total(cur)
	if err != nil {
		return ChiSquareResult{}, fmt.Errorf("chi-square: current: %w", err)
	}
	scale := nCur / nRef
	var stat float64
	k := 0
	for i := range ref {
		if ref[i] == 0 && cur[i] == 0 {
			continue
		}
		k++
		e := ref[i] * scale
		if e == 0 {
			stat = math.Inf(1)
			continue
		}
		d := cur[i] - e
		stat += d * d / e
	}
	if k <= 1 {
		return ChiSquareResult{Statistic: 0, DF: 0, PValue: 1}, nil
	}
	df := k - 1
	return ChiSquareResult{Statistic: stat, DF: df, PValue: chiSquareSF(stat, df)}, nil
}

// chiSquareSF returns P(χ²_df ≥ x).
func chiSquareSF(x float64, df int) float64 {
	if math.IsInf(x, 1) {
		return 0
	}
	return distuv.ChiSquared{K: float64(df)}.Survival(x)
}

// total sums non-negative finite counts; ErrEmpty for a zero sum.
func total(counts []float64) (float64, error) {
	var sum float64
	for i, c := range counts {
		if !finite(c) || c < 0 {
			return 0, fmt.Errorf("count[%d]=%v: %w", i, c, ErrInvalid)
		}
		sum += c
	}
	if sum == 0 || !finite(sum) {
		return 0, ErrEmpty
	}
	return sum, nil
}
