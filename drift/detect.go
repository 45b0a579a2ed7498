package drift

import (
	"fmt"
	"math"
)

// Kind is the type of a column, which decides the applicable methods.
type Kind string

// Column kinds, named as in Evidently.
const (
	KindNumeric     Kind = "num"
	KindCategorical Kind = "cat"
)

// Method names a drift statistic. The names are Evidently's stattest names.
type Method string

// Drift methods. KS, chi-square and Z are hypothesis tests: drift means a
// p-value below the threshold (default 0.05). The others are distances: drift
// means a value at or above the threshold (default 0.1).
const (
	MethodKS            Method = "ks"
	MethodChiSquare     Method = "chisquare"
	MethodZ             Method = "z"
	MethodWasserstein   Method = "wasserstein"
	MethodJensenShannon Method = "jensenshannon"
	MethodPSI           Method = "psi"
)

// Default thresholds, as Evidently registers them: every test at p < 0.05,
// the distance methods (Wasserstein normed, Jensen–Shannon, PSI) at ≥ 0.1.
const (
	DefaultPValueThreshold   = 0.05
	DefaultDistanceThreshold = 0.1
	// DefaultDriftShare is the share of drifted columns at or above which a
	// whole dataset is considered drifted.
	DefaultDriftShare = 0.5
	// SmallReference is the reference size (non-missing rows) up to which
	// SelectMethod picks hypothesis tests; above it, distances.
	SmallReference = 1000
)

// IsTest reports whether m is a hypothesis test (its score is a p-value and
// drift means score < threshold) rather than a distance (drift means
// score ≥ threshold).
func (m Method) IsTest() bool {
	return m == MethodKS || m == MethodChiSquare || m == MethodZ
}

// DefaultThreshold returns the threshold Evidently uses for m.
func (m Method) DefaultThreshold() float64 {
	if m.IsTest() {
		return DefaultPValueThreshold
	}
	return DefaultDistanceThreshold
}

// Valid reports whether m is one of the methods of this package.
func (m Method) Valid() bool {
	switch m {
	case MethodKS, MethodChiSquare, MethodZ, MethodWasserstein, MethodJensenShannon, MethodPSI:
		return true
	}
	return false
}

// SelectMethod returns Evidently's default drift method for a column
// (_get_default_stattest), given its kind, the number of non-missing
// reference rows and the number of distinct non-missing values over
// reference and current together:
//
//	                              nRef ≤ 1000     nRef > 1000
//	numeric, nUnique > 5          KS              Wasserstein (normed)
//	numeric, 3 ≤ nUnique ≤ 5      chi-square      Jensen–Shannon
//	numeric, nUnique ≤ 2          Z-test          Jensen–Shannon
//	categorical, nUnique > 2      chi-square      Jensen–Shannon
//	categorical, nUnique ≤ 2      Z-test          Jensen–Shannon
//
// It returns ErrMethod for an unknown kind.
func SelectMethod(kind Kind, nRef int64, nUnique int) (Method, error) {
	small := nRef <= SmallReference
	switch kind {
	case KindNumeric:
		switch {
		case nUnique > 5 && small:
			return MethodKS, nil
		case nUnique > 5:
			return MethodWasserstein, nil
		case !small:
			return MethodJensenShannon, nil
		case nUnique > 2:
			return MethodChiSquare, nil
		default:
			return MethodZ, nil
		}
	case KindCategorical:
		switch {
		case !small:
			return MethodJensenShannon, nil
		case nUnique > 2:
			return MethodChiSquare, nil
		default:
			return MethodZ, nil
		}
	}
	return "", fmt.Errorf("select method: kind %q: %w", kind, ErrMethod)
}

// Options overrides the default choice for one column. The zero value means
// Evidently's defaults.
type Options struct {
	// Method, if set, replaces SelectMethod's choice.
	Method Method
	// Threshold, if non-zero, replaces the method's default threshold.
	Threshold float64
}

// Result is the drift verdict for one column.
type Result struct {
	// Method is the statistic that was computed.
	Method Method `json:"method"`
	// Statistic is the method's statistic: KS D, chi-squared, Z, the normed
	// Wasserstein distance, the Jensen–Shannon distance (base 2) or PSI. An
	// infinite chi-squared (a category the reference never saw) is reported
	// as math.MaxFloat64 so that the result stays JSON-encodable.
	Statistic float64 `json:"statistic"`
	// PValue is the test's p-value; zero for distance methods (see IsTest).
	PValue float64 `json:"p_value"`
	// DF is the chi-squared degrees of freedom; zero for other methods.
	DF int `json:"df,omitempty"`
	// Score is what is compared with Threshold: PValue for tests, Statistic
	// for distances (Evidently's drift_score).
	Score float64 `json:"score"`
	// Threshold is the threshold that was applied.
	Threshold float64 `json:"threshold"`
	// Drifted is Score < Threshold for tests, Score ≥ Threshold for distances.
	Drifted bool `json:"drifted"`
	// Approximate reports that the statistic was computed from a quantile
	// sketch or histogram bins rather than raw values (KS and Wasserstein on
	// profiles of large columns).
	Approximate bool `json:"approximate,omitempty"`
	// NRef is the number of non-missing reference values compared.
	NRef int64 `json:"n_ref"`
	// NCur is the number of non-missing current values compared.
	NCur int64 `json:"n_cur"`
	// NUnique is the number of distinct non-missing values over reference and
	// current, or −1 when the profiles only know it exceeds their MaxDistinct.
	NUnique int `json:"n_unique"`
}

// finish fills the verdict fields of r.
func (r *Result) finish(opt Options) {
	r.Threshold = opt.Threshold
	if r.Threshold == 0 {
		r.Threshold = r.Method.DefaultThreshold()
	}
	if math.IsInf(r.Statistic, 1) {
		r.Statistic = math.MaxFloat64
	}
	if r.Method.IsTest() {
		r.Score = r.PValue
		r.Drifted = r.Score < r.Threshold
	} else {
		r.Score = r.Statistic
		r.Drifted = r.Score >= r.Threshold
	}
}

// DetectNumeric decides whether a numeric column drifted from the reference
// profile ref to the current profile cur (build cur with ref.Observe so both
// share the bin edges). The method is opt.Method or, by default,
// [SelectMethod].
//
// KS and Wasserstein are exact when both profiles hold their complete
// samples. Otherwise they use a profile's quantile sketch in place of its
// sample, or the bins if a profile has neither, and Result.Approximate is set
// (the KS p-value still uses the true sizes). Chi-square, Jensen–Shannon and
// PSI use the exact value counts when both profiles have them and the bins
// otherwise. The Z-test needs value counts: it compares the smallest value
// against the rest, as Evidently does.
//
// It returns ErrEmpty if either profile has no finite values, ErrMismatch if
// bins are needed and the edges differ, ErrInvalid if values near ±MaxFloat64
// overflow the statistic to NaN, and ErrMethod for an unknown method
// or a Z-test on a column with many distinct values.
func DetectNumeric(ref, cur *NumericProfile, opt Options) (Result, error) {
	res := Result{NRef: ref.Finite, NCur: cur.Finite, NUnique: -1}
	if ref.Finite == 0 {
		return Result{}, fmt.Errorf("detect numeric drift: reference: %w", ErrEmpty)
	}
	if cur.Finite == 0 {
		return Result{}, fmt.Errorf("detect numeric drift: current: %w", ErrEmpty)
	}
	haveValues := !ref.ManyValues && !cur.ManyValues
	var values, rv, cv []float64
	if haveValues {
		values, rv, cv = alignValues(ref.Values, cur.Values)
		res.NUnique = len(values)
	}
	res.Method = opt.Method
	if res.Method == "" {
		nUnique := res.NUnique
		if nUnique < 0 {
			nUnique = math.MaxInt
		}
		res.Method, _ = SelectMethod(KindNumeric, ref.Finite, nUnique)
	}
	sameEdges := ref.SameEdges(&cur.Histogram) && len(ref.Counts) == len(cur.Counts)
	counts := func() (r, c []float64, err error) {
		if haveValues {
			return rv, cv, nil
		}
		if !sameEdges {
			return nil, nil, fmt.Errorf("histogram edges: %w", ErrMismatch)
		}
		return ref.FloatCounts(), cur.FloatCounts(), nil
	}
	refPts, refComplete, refOK := ref.points()
	curPts, curComplete, curOK := cur.points()
	usePoints := refOK && curOK
	res.Approximate = !(refComplete && curComplete)
	var err error
	switch res.Method {
	case MethodKS:
		if usePoints {
			d := ksStatistic(refPts, curPts)
			res.Statistic = d
			res.PValue, _ = KSPValue(d, ref.Finite, cur.Finite)
		} else {
			var ks KSResult
			ks, err = KSHistograms(&ref.Histogram, &cur.Histogram)
			res.Statistic, res.PValue = ks.D, ks.PValue
		}
	case MethodWasserstein:
		if usePoints {
			res.Statistic = wassersteinSorted(refPts, curPts) / max(ref.Std(), MinNormStd)
		} else {
			res.Statistic, err = WassersteinNormHistograms(&ref.Histogram, &cur.Histogram)
		}
	case MethodZ:
		if !haveValues {
			return Result{}, fmt.Errorf("detect numeric drift: z-test needs a column with few distinct values: %w", ErrMethod)
		}
		res.Approximate = false
		err = res.zTest(rv, cv)
	case MethodChiSquare, MethodJensenShannon, MethodPSI:
		res.Approximate = false
		var r, c []float64
		if r, c, err = counts(); err == nil {
			err = res.countTest(r, c)
		}
	default:
		return Result{}, fmt.Errorf("detect numeric drift: method %q: %w", res.Method, ErrMethod)
	}
	if err != nil {
		return Result{}, fmt.Errorf("detect numeric drift: %w", err)
	}
	if math.IsNaN(res.Statistic) {
		return Result{}, fmt.Errorf("detect numeric drift: %s is NaN, values too large to compare: %w", res.Method, ErrInvalid)
	}
	res.finish(opt)
	return res, nil
}

// DetectCategorical decides whether a categorical column drifted from ref to
// cur, on the counts lined up by [AlignCategories]. The method is opt.Method
// or, by default, [SelectMethod]; KS and Wasserstein do not apply
// (ErrMethod). The Z-test compares the first category in sorted order against
// all others, as Evidently does. It returns ErrEmpty if either profile is
// empty and ErrInvalid for negative counts.
func DetectCategorical(ref, cur CategoryProfile, opt Options) (Result, error) {
	res := Result{NRef: ref.N(), NCur: cur.N()}
	if res.NRef == 0 {
		return Result{}, fmt.Errorf("detect categorical drift: reference: %w", ErrEmpty)
	}
	if res.NCur == 0 {
		return Result{}, fmt.Errorf("detect categorical drift: current: %w", ErrEmpty)
	}
	_, r, c, _, err := AlignCategories(ref, cur)
	if err != nil {
		return Result{}, fmt.Errorf("detect categorical drift: %w", err)
	}
	res.NUnique = len(r)
	res.Method = opt.Method
	if res.Method == "" {
		res.Method, _ = SelectMethod(KindCategorical, res.NRef, res.NUnique)
	}
	switch res.Method {
	case MethodZ:
		err = res.zTest(r, c)
	case MethodChiSquare, MethodJensenShannon, MethodPSI:
		err = res.countTest(r, c)
	default:
		return Result{}, fmt.Errorf("detect categorical drift: method %q: %w", res.Method, ErrMethod)
	}
	if err != nil {
		return Result{}, fmt.Errorf("detect categorical drift: %w", err)
	}
	res.finish(opt)
	return res, nil
}

// zTest runs the Z-test of "first key" against "any other key" on aligned
// counts, Evidently's reduction of a binary column to proportions.
func (res *Result) zTest(r, c []float64) error {
	var nr, nc float64
	for i := range r {
		nr += r[i]
		nc += c[i]
	}
	z, err := ZTest(int64(nr-r[0]), int64(nr), int64(nc-c[0]), int64(nc))
	res.Statistic, res.PValue = z.Z, z.PValue
	return err
}

// countTest runs chi-square, Jensen–Shannon (base 2) or PSI on aligned
// counts.
func (res *Result) countTest(r, c []float64) error {
	var err error
	switch res.Method {
	case MethodChiSquare:
		var cs ChiSquareResult
		cs, err = ChiSquare(r, c)
		res.Statistic, res.PValue, res.DF = cs.Statistic, cs.PValue, cs.DF
	case MethodJensenShannon:
		res.Statistic, err = JensenShannon(r, c, 2)
	case MethodPSI:
		res.Statistic, err = PSI(r, c)
	}
	return err
}

// Detect is [DetectNumeric] on two raw samples, keeping every value, so KS and
// Wasserstein are exact and the result matches Evidently's on the same data
// (quantile bins with [DefaultBins] are used only by PSI and by chi-square or
// Jensen–Shannon forced onto a column with many distinct values).
func Detect(ref, cur []float64, opt Options) (Result, error) {
	rp, err := NewNumericProfile(ref, ProfileOptions{SampleLimit: math.MaxInt})
	if err != nil {
		return Result{}, fmt.Errorf("detect numeric drift: reference: %w", err)
	}
	cp, err := rp.Observe(cur)
	if err != nil {
		return Result{}, fmt.Errorf("detect numeric drift: current: %w", err)
	}
	return DetectNumeric(rp, cp, opt)
}

// DetectCategories is [DetectCategorical] on two raw samples of categories,
// keeping every category.
func DetectCategories(ref, cur []string, opt Options) (Result, error) {
	return DetectCategorical(NewCategoryProfile(ref, 0), NewCategoryProfile(cur, 0), opt)
}

// DatasetResult is the verdict for a whole dataset.
type DatasetResult struct {
	// Columns is the number of columns checked.
	Columns int `json:"columns"`
	// Drifted is the number of columns that drifted.
	Drifted int `json:"drifted"`
	// Share is Drifted/Columns (0 for no columns).
	Share float64 `json:"share"`
	// Threshold is the share that was applied.
	Threshold float64 `json:"threshold"`
	// Drift is Share ≥ Threshold (and at least one column checked).
	Drift bool `json:"drift"`
}

// DatasetDrift applies Evidently's dataset rule: the dataset drifted when the
// share of drifted columns is at least share (≤ 0 means
// [DefaultDriftShare], 0.5).
func DatasetDrift(columns []Result, share float64) DatasetResult {
	if share <= 0 {
		share = DefaultDriftShare
	}
	d := DatasetResult{Columns: len(columns), Threshold: share}
	for _, r := range columns {
		if r.Drifted {
			d.Drifted++
		}
	}
	if d.Columns > 0 {
		d.Share = float64(d.Drifted) / float64(d.Columns)
		d.Drift = d.Share >= share
	}
	return d
}
