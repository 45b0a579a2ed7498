package drift

import (
	"fmt"
	"math"
)

// KSExactMaxN is the largest sample size for which [KS] computes the exact
// p-value, as scipy.stats.ks_2samp(method="auto") does (MAX_AUTO_N = 10000
// there): the exact method is used when both samples have at most this many
// values, the asymptotic one otherwise.
const KSExactMaxN = 10000

// KSResult is the outcome of a two-sample Kolmogorov–Smirnov test.
type KSResult struct {
	// D is the largest absolute difference between the two empirical CDFs.
	D float64 `json:"d"`
	// PValue is the two-sided p-value of D under "same distribution".
	PValue float64 `json:"p_value"`
	// Exact reports whether PValue is exact (see [KSPValue]).
	Exact bool `json:"exact"`
	// N1 is the reference sample size used.
	N1 int64 `json:"n1"`
	// N2 is the current sample size used.
	N2 int64 `json:"n2"`
}

// KS runs the two-sample, two-sided Kolmogorov–Smirnov test on raw samples,
// like scipy.stats.ks_2samp(ref, cur) with method "auto":
//
//	D = supₓ |F_ref(x) − F_cur(x)|
//
// over the empirical CDFs, with ties handled exactly (both CDFs are advanced
// past equal values together). The p-value comes from [KSPValue]. NaN and ±Inf
// values are ignored; ErrEmpty is returned if either sample has none left.
// Evidently flags drift when the p-value is below 0.05.
//
// The inputs are not modified; sorted copies are made, so the cost is
// O(n log n).
func KS(ref, cur []float64) (KSResult, error) {
	a, b := finiteSorted(ref), finiteSorted(cur)
	if len(a) == 0 {
		return KSResult{}, fmt.Errorf("ks: reference: %w", ErrEmpty)
	}
	if len(b) == 0 {
		return KSResult{}, fmt.Errorf("ks: current: %w", ErrEmpty)
	}
	return ksSorted(a, b), nil
}

// ksSorted runs KS on two sorted, finite, non-empty samples.
func ksSorted(a, b []float64) KSResult {
	d := ksStatistic(a, b)
	p, exact := KSPValue(d, int64(len(a)), int64(len(b)))
	return KSResult{D: d, PValue: p, Exact: exact, N1: int64(len(a)), N2: int64(len(b))}
}

// ksStatistic returns the largest ECDF difference of two sorted, non-empty
// samples.
func ksStatistic(a, b []float64) float64 {
	n1, n2 := len(a), len(b)
	var i, j int
	var d float64
	for i < n1 && j < n2 {
		v := min(a[i], b[j])
		for i < n1 && a[i] == v {
			i++
		}
		for j < n2 && b[j] == v {
			j++
		}
		d = max(d, math.Abs(float64(i)/float64(n1)-float64(j)/float64(n2)))
	}
	return d
}

// KSHistograms approximates the KS test from two histograms on the same
// edges: D is the largest CDF difference at the bin edges,
// maxₖ |R(eₖ) − C(eₖ)|, where R and C are the cumulative bin proportions. This
// is exact when every bin holds a single distinct value (the discrete edges of
// [QuantileEdges]) and otherwise a lower bound of the D of the raw samples,
// tighter with more bins ([NumericProfile] keeps a quantile sketch that does
// better). The p-value is [KSPValue] at the histogram totals
// (NaN excluded). It returns ErrMismatch if the edges differ and ErrEmpty if a
// histogram is empty.
func KSHistograms(ref, cur *Histogram) (KSResult, error) {
	if !ref.SameEdges(cur) || len(ref.Counts) != len(cur.Counts) {
		return KSResult{}, fmt.Errorf("ks: histogram edges: %w", ErrMismatch)
	}
	n1, n2 := ref.N(), cur.N()
	if n1 == 0 {
		return KSResult{}, fmt.Errorf("ks: reference: %w", ErrEmpty)
	}
	if n2 == 0 {
		return KSResult{}, fmt.Errorf("ks: current: %w", ErrEmpty)
	}
	var c1, c2 int64
	var d float64
	for k := range ref.Counts {
		c1 += ref.Counts[k]
		c2 += cur.Counts[k]
		d = max(d, math.Abs(float64(c1)/float64(n1)-float64(c2)/float64(n2)))
	}
	p, exact := KSPValue(d, n1, n2)
	return KSResult{D: d, PValue: p, Exact: exact, N1: n1, N2: n2}, nil
}

// KSPValue returns the two-sided p-value P(D ≥ d) of the two-sample KS
// statistic for sample sizes n1 and n2, and whether it is exact.
//
// When both sizes are at most [KSExactMaxN] it is exact and matches scipy's
// ks_2samp: d is snapped to the lattice h/lcm(n1, n2) and the probability that
// a random lattice path stays strictly within the band |x/n1 − y/n2| < d is
// computed by dynamic programming on normalised path counts (for n1 = n2, by
// the closed-form alternating sum). Otherwise it uses the asymptotic
// Kolmogorov distribution with Stephens' small-sample correction,
//
//	p = Q_KS((√nₑ + 0.12 + 0.11/√nₑ)·d),  nₑ = n1·n2/(n1+n2),
//	Q_KS(λ) = 2 Σₖ₌₁^∞ (−1)^(k−1) exp(−2k²λ²),
//
// where scipy uses the exact one-sample Kolmogorov distribution kstwo(nₑ);
// for nₑ ≥ 5000 and p near 0.05 the two agree to about 0.1 % (relative).
func KSPValue(d float64, n1, n2 int64) (p float64, exact bool) {
	if n1 <= 0 || n2 <= 0 || math.IsNaN(d) {
		return math.NaN(), false
	}
	if d <= 0 {
		return 1, true
	}
	if n1 <= KSExactMaxN && n2 <= KSExactMaxN {
		g := gcd(n1, n2)
		lcm := (n1 / g) * n2
		h := int64(math.Round(d * float64(lcm)))
		if h == 0 {
			return 1, true
		}
		if n1 == n2 {
			p = ksOutsideSquare(n1, h)
		} else {
			p = 1 - ksInsideProb(n1, n2, g, h)
		}
		return min(max(p, 0), 1), true
	}
	en := float64(n1) * float64(n2) / float64(n1+n2)
	s := math.Sqrt(en)
	return kolmogorovSF((s + 0.12 + 0.11/s) * d), false
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ksOutsideSquare returns P(D_{n,n} ≥ h/n): twice the alternating sum
// Σₖ (−1)^(k−1) C(2n, n−kh)/C(2n, n), evaluated Horner-style to avoid
// cancellation.
func ksOutsideSquare(n, h int64) float64 {
	var p float64
	for k := n / h; k >= 0; k-- {
		p1 := 1.0
		for j := int64(0); j < h; j++ {
			p1 = float64(n-k*h-j) * p1 / float64(n+k*h+j+1)
		}
		p = p1 * (1 - p)
	}
	return 2 * p
}

// ksInsideProb returns the probability that a uniformly random monotone
// lattice path from (0,0) to (m,n) stays strictly inside |i·n/g − j·m/g| < h,
// i.e. that the two-sample statistic is below h/lcm(m,n). A(i,j) holds the
// number of admissible paths to (i,j) divided by C(i+j, j), so that
// A(i,j) = (i·A(i−1,j) + j·A(i,j−1))/(i+j) stays in [0,1] and never overflows.
func ksInsideProb(m, n, g, h int64) float64 {
	if m < n {
		m, n = n, m
	}
	mg, ng := m/g, n/g
	col := make([]float64, n+1) // col[j] = A(i, j) for the current i
	// i = 0: A(0, j) = 1 while |−j·mg| < h.
	for j := int64(0); j <= n && j*mg < h; j++ {
		col[j] = 1
	}
	prevLo, prevHi := int64(0), min((h+mg-1)/mg, n+1) // [lo, hi) band of the previous column
	for i := int64(1); i <= m; i++ {
		// Admissible j: ng·i − h < mg·j < ng·i + h.
		lo := max(floorDiv(ng*i-h, mg)+1, 0)
		hi := min(ceilDiv(ng*i+h, mg), n+1)
		if hi <= lo {
			return 0
		}
		// Clear entries of the previous band that fall below the new band;
		// entries above it are zero already.
		for j := prevLo; j < min(lo, prevHi); j++ {
			col[j] = 0
		}
		var below float64 // A(i, j−1); zero below the band
		for j := lo; j < hi; j++ {
			left := col[j] // A(i−1, j); zero outside the previous band
			v := (float64(i)*left + float64(j)*below) / float64(i+j)
			col[j] = v
			below = v
		}
		prevLo, prevHi = lo, hi
	}
	return col[n]
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// kolmogorovSF returns Q_KS(λ) = P(K > λ) for the Kolmogorov distribution,
// using the alternating series for λ ≥ 1 and the Jacobi-theta form
// 1 − √(2π)/λ · Σ exp(−(2k−1)²π²/(8λ²)) below it, where the first series
// converges slowly.
func kolmogorovSF(lambda float64) float64 {
	switch {
	case lambda <= 0:
		return 1
	case lambda < 1:
		var s float64
		for k := 1; k <= 20; k++ {
			t := float64(2*k-1) * math.Pi / lambda
			s += math.Exp(-t * t / 8)
		}
		return min(max(1-math.Sqrt(2*math.Pi)/lambda*s, 0), 1)
	default:
		var s float64
		sign := 1.0
		for k := 1; k <= 100; k++ {
			t := sign * math.Exp(-2*float64(k*k)*lambda*lambda)
			s += t
			if math.Abs(t) < 1e-17*s {
				break
			}
			sign = -sign
		}
		return min(max(2*s, 0), 1)
	}
}
