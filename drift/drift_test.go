package drift_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/loopml/loopml/drift"
)

var nan = math.NaN()

// seq returns n deterministic, well-spread values: a Weyl sequence mapped to
// [shift − scale/2, shift + scale/2).
func seq(n int, a, scale, shift float64) []float64 {
	return weyl([]float64{float64(n), a, 0.6180339887498949, scale, shift})
}

// gauss returns n pseudo-random normal values with the given mean (shift) and
// standard deviation scale/2, from a PCG seeded by a, so runs repeat exactly.
func gauss(n int, a, scale, shift float64) []float64 {
	rng := rand.New(rand.NewPCG(math.Float64bits(a), 7))
	out := make([]float64, n)
	for i := range out {
		out[i] = shift + scale/2*rng.NormFloat64()
	}
	return out
}

func TestErrors(t *testing.T) {
	some := []float64{1, 2, 3}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"psi empty reference", errOf(drift.PSI([]float64{0, 0}, []float64{1, 2})), drift.ErrEmpty},
		{"psi length", errOf(drift.PSI([]float64{1}, []float64{1, 2})), drift.ErrMismatch},
		{"psi negative", errOf(drift.PSI([]float64{-1, 2}, []float64{1, 2})), drift.ErrInvalid},
		{"psi NaN count", errOf(drift.PSI([]float64{nan, 2}, []float64{1, 2})), drift.ErrInvalid},
		{"psi samples all NaN", errOf(drift.PSISamples([]float64{nan}, some, 10)), drift.ErrEmpty},
		{"psi samples empty current", errOf(drift.PSISamples(some, nil, 10)), drift.ErrEmpty},
		{"ks empty reference", errOf(drift.KS(nil, some)), drift.ErrEmpty},
		{"ks NaN-only current", errOf(drift.KS(some, []float64{nan, math.Inf(1)})), drift.ErrEmpty},
		{"chi-square empty current", errOf(drift.ChiSquare([]float64{1, 2}, []float64{0, 0})), drift.ErrEmpty},
		{"chi-square length", errOf(drift.ChiSquare([]float64{1, 2}, []float64{1})), drift.ErrMismatch},
		{"chi-square infinite count", errOf(drift.ChiSquare([]float64{math.Inf(1), 2}, []float64{1, 1})), drift.ErrInvalid},
		{"z empty reference", errOf(drift.ZTest(0, 0, 1, 2)), drift.ErrEmpty},
		{"z positive above total", errOf(drift.ZTest(3, 2, 1, 2)), drift.ErrInvalid},
		{"z negative", errOf(drift.ZTest(-1, 2, 1, 2)), drift.ErrInvalid},
		{"js base 1", errOf(drift.JensenShannon(some, some, 1)), drift.ErrInvalid},
		{"js empty", errOf(drift.JensenShannon([]float64{0}, []float64{1}, 2)), drift.ErrEmpty},
		{"wasserstein empty", errOf(drift.Wasserstein(some, nil)), drift.ErrEmpty},
		{"wasserstein norm NaN reference", errOf(drift.WassersteinNorm([]float64{nan}, some)), drift.ErrEmpty},
		{"quantile edges empty", errOf(drift.QuantileEdges(nil, 10)), drift.ErrEmpty},
		{"uniform edges reversed", errOf(drift.UniformEdges(2, 1, 4)), drift.ErrInvalid},
		{"uniform edges zero bins", errOf(drift.UniformEdges(0, 1, 0)), drift.ErrInvalid},
		{"uniform edges infinite", errOf(drift.UniformEdges(0, math.Inf(1), 3)), drift.ErrInvalid},
		{"histogram unsorted edges", errOf(drift.NewHistogram([]float64{1, 1})), drift.ErrInvalid},
		{"histogram NaN edge", errOf(drift.NewHistogram([]float64{nan})), drift.ErrInvalid},
		{"select unknown kind", errOf(drift.SelectMethod("text", 10, 10)), drift.ErrMethod},
		{"detect empty current", errOf(drift.Detect(some, []float64{nan}, drift.Options{})), drift.ErrEmpty},
		{"detect unknown method", errOf(drift.Detect(some, some, drift.Options{Method: "t-test"})), drift.ErrMethod},
		{"detect categorical ks", errOf(drift.DetectCategories([]string{"a"}, []string{"b"}, drift.Options{Method: drift.MethodKS})), drift.ErrMethod},
		{"detect categorical empty", errOf(drift.DetectCategories(nil, []string{"b"}, drift.Options{})), drift.ErrEmpty},
		{"detect z on many values", errOf(drift.Detect(seq(100, 0.1, 1, 0), seq(100, 0.2, 1, 0), drift.Options{Method: drift.MethodZ})), drift.ErrMethod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("err = %v, want %v", tt.err, tt.want)
			}
		})
	}
}

func errOf[T any](_ T, err error) error { return err }

func TestPSIBand(t *testing.T) {
	tests := []struct {
		psi  float64
		want drift.Band
	}{
		{0, drift.BandNone}, {0.0999, drift.BandNone}, {0.1, drift.BandModerate},
		{0.2499, drift.BandModerate}, {0.25, drift.BandMajor}, {3, drift.BandMajor}, {nan, drift.BandMajor},
	}
	for _, tt := range tests {
		if got := drift.PSIBand(tt.psi); got != tt.want {
			t.Errorf("PSIBand(%v) = %q, want %q", tt.psi, got, tt.want)
		}
	}
}

func TestPSISamples(t *testing.T) {
	ref := gauss(5000, 0.1, 1, 0)
	tests := []struct {
		name     string
		cur      []float64
		min, max float64
	}{
		{"identical", ref, 0, 0},
		{"same law", gauss(3000, 0.55, 1, 0), 0, 0.02},
		{"shift of one sd", gauss(3000, 0.55, 1, 0.5), 0.25, 10},
		{"NaN ignored", append(slices.Clone(ref), nan, nan), 0, 0},
		{"constant far away", []float64{100, 100}, 5, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := drift.PSISamples(ref, tt.cur, 10)
			if err != nil {
				t.Fatal(err)
			}
			if got < tt.min || got > tt.max {
				t.Errorf("PSI = %v, want in [%v, %v]", got, tt.min, tt.max)
			}
		})
	}
}

func TestEpsilonFloor(t *testing.T) {
	tests := []struct {
		name    string
		in, out []float64
	}{
		{"default epsilon", []float64{0, 0.5, 0.5}, []float64{0.0001, 0.5, 0.5}},
		{"tiny smallest proportion", []float64{0, 0.00005, 0.99995}, []float64{0.00005 / 1e6, 0.00005, 0.99995}},
		{"no zeros", []float64{0.2, 0.8}, []float64{0.2, 0.8}},
		{"all zero", []float64{0, 0}, []float64{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := drift.EpsilonFloor(tt.in)
			if !slices.Equal(got, tt.out) {
				t.Errorf("EpsilonFloor(%v) = %v, want %v", tt.in, got, tt.out)
			}
		})
	}
}

func TestQuantileEdges(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		bins   int
		want   []float64
	}{
		{"constant", []float64{7, 7, 7}, 10, []float64{7, math.Nextafter(7, 8)}},
		{"few distinct", []float64{3, 1, 2, 1, 3}, 10, []float64{1, math.Nextafter(1, 2), 2, math.Nextafter(2, 3), 3, math.Nextafter(3, 4)}},
		{"NaN and Inf ignored", []float64{nan, 5, math.Inf(-1), 5, math.Inf(1)}, 10, []float64{5, math.Nextafter(5, 6)}},
		{"two bins", []float64{1, 2, 3, 4, 5}, 2, []float64{3}},
		{"one bin", []float64{1, 2, 3}, 1, nil},
		{"default bins", seq(1000, 0.3, 1, 0), 0, nil}, // checked below: 19 edges
		{"ties collapse", []float64{0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, 4, []float64{0, 1.25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := drift.QuantileEdges(tt.values, tt.bins)
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "default bins" {
				if len(got) != drift.DefaultBins-1 {
					t.Errorf("len(edges) = %d, want %d", len(got), drift.DefaultBins-1)
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("edges = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUniformEdges(t *testing.T) {
	got, err := drift.UniformEdges(0, 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{2, 4, 6, 8}; !slices.Equal(got, want) {
		t.Errorf("edges = %v, want %v", got, want)
	}
	got, err = drift.UniformEdges(-math.MaxFloat64, math.MaxFloat64, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0}; !slices.Equal(got, want) {
		t.Errorf("edges over the whole float range = %v, want %v", got, want)
	}
}

func TestHistogram(t *testing.T) {
	h, err := drift.Count([]float64{0, 10}, []float64{-5, 0, 3, 9.99, 10, 11, nan, math.Inf(-1), math.Inf(1)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{2, 3, 3}; !slices.Equal(h.Counts, want) {
		t.Errorf("counts = %v, want %v (value on an edge goes up, ±Inf to the outer bins)", h.Counts, want)
	}
	if h.NaN != 1 || h.N() != 8 || h.Finite != 6 {
		t.Errorf("NaN, N, Finite = %d, %d, %d, want 1, 8, 6", h.NaN, h.N(), h.Finite)
	}
	if h.Min != -5 || h.Max != 11 {
		t.Errorf("min, max = %v, %v, want -5, 11", h.Min, h.Max)
	}
	finite := []float64{-5, 0, 3, 9.99, 10, 11}
	mean := (-5 + 0 + 3 + 9.99 + 10 + 11) / 6.0
	var ss float64
	for _, v := range finite {
		ss += (v - mean) * (v - mean)
	}
	if want := math.Sqrt(ss / 6); math.Abs(h.Std()-want) > 1e-12 {
		t.Errorf("Std = %v, want %v", h.Std(), want)
	}
	if b := h.Bin(nan); b != -1 {
		t.Errorf("Bin(NaN) = %d, want -1", b)
	}
	var zero drift.Histogram
	zero.Add(1)
	if zero.N() != 1 || len(zero.Counts) != 1 {
		t.Errorf("zero histogram after Add: counts %v", zero.Counts)
	}
}

func TestHistogramMerge(t *testing.T) {
	edges := []float64{-1, 0, 1}
	a, b := gauss(700, 0.1, 2, -1), gauss(300, 0.2, 3, 1)
	ha, _ := drift.Count(edges, a)
	hb, _ := drift.Count(edges, b)
	whole, _ := drift.Count(edges, append(slices.Clone(a), b...))
	if err := ha.Merge(hb); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ha.Counts, whole.Counts) || ha.Finite != whole.Finite || ha.Min != whole.Min || ha.Max != whole.Max {
		t.Errorf("merged = %+v, want %+v", ha, whole)
	}
	if math.Abs(ha.Mean-whole.Mean) > 1e-12 || math.Abs(ha.Std()-whole.Std()) > 1e-12 {
		t.Errorf("merged mean, std = %v, %v, want %v, %v", ha.Mean, ha.Std(), whole.Mean, whole.Std())
	}
	empty, _ := drift.NewHistogram(edges)
	if err := empty.Merge(whole); err != nil || empty.Mean != whole.Mean {
		t.Errorf("merge into empty: err %v, mean %v, want %v", err, empty.Mean, whole.Mean)
	}
	other, _ := drift.NewHistogram([]float64{0})
	if err := ha.Merge(other); !errors.Is(err, drift.ErrMismatch) {
		t.Errorf("merge across edges: err = %v, want ErrMismatch", err)
	}
}

func TestChiSquareEdgeCases(t *testing.T) {
	got, err := drift.ChiSquare([]float64{10, 0}, []float64{5, 5})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(got.Statistic, 1) || got.PValue != 0 || got.DF != 1 {
		t.Errorf("unseen category: %+v, want +Inf, p 0, df 1", got)
	}
	got, err = drift.ChiSquare([]float64{10, 0}, []float64{3, 0})
	if err != nil {
		t.Fatal(err)
	}
	if got.PValue != 1 || got.DF != 0 || got.Statistic != 0 {
		t.Errorf("single category: %+v, want 0, df 0, p 1", got)
	}
}

func TestZTestConstant(t *testing.T) {
	got, err := drift.ZTest(0, 50, 0, 60)
	if err != nil {
		t.Fatal(err)
	}
	if got.Z != 0 || got.PValue != 1 {
		t.Errorf("same constant: %+v, want z 0, p 1", got)
	}
	got, _ = drift.ZTest(0, 100, 100, 100)
	if got.PValue <= 0 || got.PValue > 1e-40 {
		t.Errorf("opposite constants: p = %v, want tiny but positive", got.PValue)
	}
}

func TestKSEdgeCases(t *testing.T) {
	ref, cur := gauss(200, 0.4, 1, 0), gauss(150, 0.8, 1, 0.2)
	tests := []struct {
		name     string
		ref, cur []float64
		d, p     float64 // p < 0 means "compare with the NaN-free run"
	}{
		{"constant, same value", []float64{5, 5, 5}, []float64{5, 5}, 0, 1},
		{"constant, different values", []float64{5, 5, 5}, []float64{6, 6}, 1, 0.2},
		{"NaN and Inf ignored", append([]float64{nan, math.Inf(1)}, ref...), append([]float64{math.Inf(-1)}, cur...), -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := drift.KS(tt.ref, tt.cur)
			if err != nil {
				t.Fatal(err)
			}
			if tt.p < 0 {
				want, _ := drift.KS(ref, cur)
				if got != want {
					t.Errorf("KS = %+v, want %+v", got, want)
				}
				return
			}
			// Two-sided p for D=1 with sizes 3 and 2 is 2/C(5,2) = 0.2 (scipy agrees).
			if got.D != tt.d || math.Abs(got.PValue-tt.p) > 1e-12 {
				t.Errorf("KS = %+v, want D %v, p %v", got, tt.d, tt.p)
			}
		})
	}
}

func TestKSPValue(t *testing.T) {
	if p, exact := drift.KSPValue(0, 10, 20); p != 1 || !exact {
		t.Errorf("KSPValue(0) = %v, %v, want 1, true", p, exact)
	}
	if p, _ := drift.KSPValue(0.5, 0, 20); !math.IsNaN(p) {
		t.Errorf("KSPValue with n1=0 = %v, want NaN", p)
	}
	for _, n := range [][2]int64{{30, 70}, {100, 100}, {7, 1000}} {
		prev := 1.0
		for d := 0.0; d <= 1; d += 0.05 {
			p, _ := drift.KSPValue(d, n[0], n[1])
			q, _ := drift.KSPValue(d, n[1], n[0])
			if p != q {
				t.Errorf("KSPValue(%v, %d, %d) = %v but %v with sizes swapped", d, n[0], n[1], p, q)
			}
			if p > prev+1e-12 || p < 0 || p > 1 {
				t.Errorf("KSPValue(%v, %d, %d) = %v after %v: not a decreasing probability", d, n[0], n[1], p, prev)
			}
			prev = p
		}
	}
	// Exact and asymptotic agree where the method switches.
	for _, d := range []float64{0.01, 0.015, 0.02} {
		pe, exact := drift.KSPValue(d, 10000, 10000)
		pa, asym := drift.KSPValue(d, 10001, 10000)
		if !exact || asym {
			t.Fatalf("exactness flags = %v, %v, want true, false", exact, asym)
		}
		if math.Abs(pe-pa) > 0.02*pe+1e-9 {
			t.Errorf("d=%v: exact %v vs asymptotic %v", d, pe, pa)
		}
	}
}

func TestKSHistograms(t *testing.T) {
	// Few distinct values: one bin per value, so the binned D is exact.
	ref := []float64{1, 1, 2, 2, 2, 3, 4, 4, 5, 5}
	cur := []float64{1, 2, 3, 3, 3, 3, 4, 5, 5, 5, 5}
	rp, _ := drift.NewNumericProfile(ref, drift.ProfileOptions{})
	cp, _ := rp.Observe(cur)
	binned, err := drift.KSHistograms(&rp.Histogram, &cp.Histogram)
	if err != nil {
		t.Fatal(err)
	}
	exact, _ := drift.KS(ref, cur)
	if binned.D != exact.D || binned.PValue != exact.PValue {
		t.Errorf("binned %+v, want exact %+v", binned, exact)
	}
	// Many values: the binned D is a lower bound close to the exact one.
	refC, curC := gauss(3000, 0.1, 1, 0), gauss(2000, 0.4, 1, 0.1)
	rp, _ = drift.NewNumericProfile(refC, drift.ProfileOptions{})
	cp, _ = rp.Observe(curC)
	binned, _ = drift.KSHistograms(&rp.Histogram, &cp.Histogram)
	exact, _ = drift.KS(refC, curC)
	if binned.D > exact.D+1e-12 || binned.D < 0.8*exact.D {
		t.Errorf("binned D = %v, exact D = %v: want 0.8·exact ≤ binned ≤ exact", binned.D, exact.D)
	}
	other, _ := drift.Count([]float64{0}, curC)
	if _, err := drift.KSHistograms(&rp.Histogram, other); !errors.Is(err, drift.ErrMismatch) {
		t.Errorf("err = %v, want ErrMismatch", err)
	}
}

func TestWassersteinHistograms(t *testing.T) {
	// Point-mass bins: exact.
	ref := []float64{0, 0, 1, 1, 1, 4}
	cur := []float64{0, 1, 4, 4, 4}
	rp, _ := drift.NewNumericProfile(ref, drift.ProfileOptions{})
	cp, _ := rp.Observe(cur)
	got, err := drift.WassersteinHistograms(&rp.Histogram, &cp.Histogram)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := drift.Wasserstein(ref, cur)
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("discrete: binned W = %v, want %v", got, want)
	}
	// Continuous: close on 20 quantile bins, thanks to the bin means.
	tests := []struct {
		name         string
		shift, scale float64
		tol          float64
	}{
		{"shift", 0.2, 1, 0.01}, {"scale", 0, 1.5, 0.01}, {"both", -0.3, 0.7, 0.01}, {"small shift", 0.05, 1, 0.01},
	}
	refC := gauss(20000, 0.1, 1, 0)
	rp, _ = drift.NewNumericProfile(refC, drift.ProfileOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			curC := gauss(5000, 0.3, tt.scale, tt.shift)
			cp, _ := rp.Observe(curC)
			got, err := drift.WassersteinNormHistograms(&rp.Histogram, &cp.Histogram)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := drift.WassersteinNorm(refC, curC)
			if math.Abs(got-want) > tt.tol*want {
				t.Errorf("binned W normed = %v, want %v ± %v%%", got, want, 100*tt.tol)
			}
		})
	}
	inf, _ := drift.Count(rp.Edges, []float64{1, math.Inf(1)})
	if _, err := drift.WassersteinHistograms(&rp.Histogram, inf); !errors.Is(err, drift.ErrInvalid) {
		t.Errorf("infinite values: err = %v, want ErrInvalid", err)
	}
}

func TestSelectMethod(t *testing.T) {
	tests := []struct {
		kind    drift.Kind
		nRef    int64
		nUnique int
		want    drift.Method
	}{
		{drift.KindNumeric, 1000, 6, drift.MethodKS},
		{drift.KindNumeric, 1001, 6, drift.MethodWasserstein},
		{drift.KindNumeric, 10, 5, drift.MethodChiSquare},
		{drift.KindNumeric, 10, 3, drift.MethodChiSquare},
		{drift.KindNumeric, 10, 2, drift.MethodZ},
		{drift.KindNumeric, 10, 1, drift.MethodZ},
		{drift.KindNumeric, 5000, 5, drift.MethodJensenShannon},
		{drift.KindNumeric, 5000, 2, drift.MethodJensenShannon},
		{drift.KindCategorical, 1000, 3, drift.MethodChiSquare},
		{drift.KindCategorical, 1000, 100, drift.MethodChiSquare},
		{drift.KindCategorical, 1000, 2, drift.MethodZ},
		{drift.KindCategorical, 1001, 2, drift.MethodJensenShannon},
		{drift.KindCategorical, 1001, 50, drift.MethodJensenShannon},
	}
	for _, tt := range tests {
		got, err := drift.SelectMethod(tt.kind, tt.nRef, tt.nUnique)
		if err != nil || got != tt.want {
			t.Errorf("SelectMethod(%s, %d, %d) = %q, %v, want %q", tt.kind, tt.nRef, tt.nUnique, got, err, tt.want)
		}
	}
}

func TestDetectIdentical(t *testing.T) {
	ref := seq(500, 0.2, 10, 3)
	for _, m := range []drift.Method{drift.MethodKS, drift.MethodWasserstein, drift.MethodChiSquare, drift.MethodJensenShannon, drift.MethodPSI} {
		t.Run(string(m), func(t *testing.T) {
			got, err := drift.Detect(ref, ref, drift.Options{Method: m})
			if err != nil {
				t.Fatal(err)
			}
			if got.Drifted || got.Statistic != 0 || (m.IsTest() && got.PValue != 1) {
				t.Errorf("identical samples: %+v, want statistic 0, p 1, no drift", got)
			}
		})
	}
	cats := []string{"a", "b", "b", "c"}
	for _, m := range []drift.Method{drift.MethodChiSquare, drift.MethodZ, drift.MethodJensenShannon, drift.MethodPSI} {
		got, err := drift.DetectCategories(cats, cats, drift.Options{Method: m})
		if err != nil || got.Drifted || (m.IsTest() && got.PValue != 1) || (!m.IsTest() && got.Statistic != 0) {
			t.Errorf("%s on identical categories: %+v, %v", m, got, err)
		}
	}
}

func TestDetectOverrides(t *testing.T) {
	ref, cur := gauss(400, 0.1, 1, 0), gauss(400, 0.5, 1, 0.05)
	def, err := drift.Detect(ref, cur, drift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if def.Method != drift.MethodKS || def.Threshold != 0.05 {
		t.Errorf("default: %s at %v, want ks at 0.05", def.Method, def.Threshold)
	}
	strict, _ := drift.Detect(ref, cur, drift.Options{Threshold: 0.99})
	if !strict.Drifted || strict.Score != def.Score {
		t.Errorf("threshold 0.99: %+v, want drift with the same score %v", strict, def.Score)
	}
	psi, _ := drift.Detect(ref, cur, drift.Options{Method: drift.MethodPSI, Threshold: 1e-9})
	if psi.Method != drift.MethodPSI || psi.PValue != 0 || psi.Score != psi.Statistic || !psi.Drifted {
		t.Errorf("psi override: %+v", psi)
	}
}

func TestDetectProfiles(t *testing.T) {
	// A large reference is stored without its sample: Wasserstein comes from
	// the bins and is close to the exact value.
	ref, cur := gauss(20000, 0.1, 1, 0), gauss(3000, 0.6, 1, 0.12)
	rp, err := drift.NewNumericProfile(ref, drift.ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rp.Sample != nil || len(rp.Quantiles) != drift.DefaultSampleLimit || !rp.ManyValues {
		t.Fatalf("large profile kept %d sample values, %d quantiles, ManyValues %v", len(rp.Sample), len(rp.Quantiles), rp.ManyValues)
	}
	// Round-trip through JSON, as a stored profile would.
	b, err := json.Marshal(rp)
	if err != nil {
		t.Fatal(err)
	}
	var stored drift.NumericProfile
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	cp, err := stored.Observe(cur)
	if err != nil {
		t.Fatal(err)
	}
	got, err := drift.DetectNumeric(&stored, cp, drift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := drift.Detect(ref, cur, drift.Options{})
	if got.Method != drift.MethodWasserstein || !got.Approximate || want.Approximate {
		t.Errorf("method %s approximate %v (exact run approximate %v)", got.Method, got.Approximate, want.Approximate)
	}
	if math.Abs(got.Statistic-want.Statistic) > 0.01*want.Statistic || got.Drifted != want.Drifted {
		t.Errorf("from profile %+v, from samples %+v", got, want)
	}
	// KS forced onto the large profile: D within 1/SampleLimit of the exact.
	gotKS, _ := drift.DetectNumeric(&stored, cp, drift.Options{Method: drift.MethodKS})
	wantKS, _ := drift.KS(ref, cur)
	if math.Abs(gotKS.Statistic-wantKS.D) > 1.0/drift.DefaultSampleLimit || !gotKS.Approximate {
		t.Errorf("KS from sketch %+v, exact D %v", gotKS, wantKS.D)
	}
	// Without sample or sketch, the bins are used.
	binsOnly, _ := drift.NewNumericProfile(ref, drift.ProfileOptions{SampleLimit: -1})
	bc, _ := binsOnly.Observe(cur)
	gotBins, err := drift.DetectNumeric(binsOnly, bc, drift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if binsOnly.Quantiles != nil || math.Abs(gotBins.Statistic-want.Statistic) > 0.01*want.Statistic {
		t.Errorf("from bins %+v, from samples %+v", gotBins, want)
	}
	// A small reference keeps its sample: KS is exact and equals Detect's.
	small := ref[:800]
	sp, _ := drift.NewNumericProfile(small, drift.ProfileOptions{})
	scp, _ := sp.Observe(cur)
	got, _ = drift.DetectNumeric(sp, scp, drift.Options{})
	want, _ = drift.Detect(small, cur, drift.Options{})
	if got != want || got.Approximate {
		t.Errorf("small profile %+v, want %+v", got, want)
	}
	// Unseen value in a few-valued column: chi-square is infinite, and the
	// result still encodes as JSON.
	fp, _ := drift.NewNumericProfile([]float64{1, 2, 3, 1, 2, 3}, drift.ProfileOptions{})
	fc, _ := fp.Observe([]float64{1, 2, 3, 4})
	res, err := drift.DetectNumeric(fp, fc, drift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != drift.MethodChiSquare || res.NUnique != 4 || !res.Drifted || res.Statistic != math.MaxFloat64 {
		t.Errorf("unseen value: %+v", res)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("marshal result: %v", err)
	}
	// Profiles on different edges cannot be compared from bins.
	other, _ := drift.NewNumericProfile(cur, drift.ProfileOptions{SampleLimit: -1})
	if _, err := drift.DetectNumeric(rp, other, drift.Options{}); !errors.Is(err, drift.ErrMismatch) {
		t.Errorf("different edges: err = %v, want ErrMismatch", err)
	}
}

func TestCategoryProfile(t *testing.T) {
	p := drift.NewCategoryProfile([]string{"a", "b", "b", "c", "c", "c", "d", "e"}, 2)
	if want := map[string]int64{"c": 3, "b": 2}; len(p.Counts) != 2 || p.Counts["c"] != 3 || p.Counts["b"] != 2 || p.Other != 3 {
		t.Errorf("profile = %+v, want counts %v and other 3", p, want)
	}
	if p.N() != 8 {
		t.Errorf("N = %d, want 8", p.N())
	}
	cur := drift.NewCategoryProfile([]string{"b", "c", "z", "z"}, 0)
	keys, r, c, other, err := drift.AlignCategories(p, cur)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"b", "c"}) || !slices.Equal(r, []float64{2, 3, 3}) || !slices.Equal(c, []float64{1, 1, 2}) || !other {
		t.Errorf("aligned truncated reference: %v %v %v %v", keys, r, c, other)
	}
	full := drift.NewCategoryProfile([]string{"b", "c"}, 0)
	keys, r, c, other, _ = drift.AlignCategories(full, cur)
	if !slices.Equal(keys, []string{"b", "c", "z"}) || !slices.Equal(r, []float64{1, 1, 0}) || !slices.Equal(c, []float64{1, 1, 2}) || other {
		t.Errorf("aligned full reference: %v %v %v %v", keys, r, c, other)
	}
	if _, _, _, _, err := drift.AlignCategories(drift.CategoryProfile{Other: -1}, cur); !errors.Is(err, drift.ErrInvalid) {
		t.Errorf("negative other: err = %v, want ErrInvalid", err)
	}
}

func TestDatasetDrift(t *testing.T) {
	d, n := drift.Result{Drifted: true}, drift.Result{}
	tests := []struct {
		name    string
		cols    []drift.Result
		share   float64
		drifted int
		want    bool
	}{
		{"no columns", nil, 0, 0, false},
		{"half drifted", []drift.Result{d, n}, 0, 1, true},
		{"one of three", []drift.Result{d, n, n}, 0, 1, false},
		{"custom share", []drift.Result{d, n, n}, 0.3, 1, true},
		{"none drifted", []drift.Result{n, n}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := drift.DatasetDrift(tt.cols, tt.share)
			if got.Drift != tt.want || got.Drifted != tt.drifted || got.Columns != len(tt.cols) {
				t.Errorf("DatasetDrift = %+v, want drift %v with %d drifted", got, tt.want, tt.drifted)
			}
		})
	}
}
