package profile_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/loopml/loopml/profile"
)

// genTable returns random rows of the property test's columns:
//
//	f    normal floats, 10% missing (fixed bins)
//	i    integers in [0, 50) (stays exact)
//	big  integers in [0, 10⁶) (sketches; fixed bins)
//	cat  Zipf-distributed categories over 2000 names (heavy hitters)
//	mix  integers with an occasional string (widens to string)
//	b    booleans, sometimes "NA"
func genTable(r *rand.Rand, n int) ([]string, [][]string) {
	names := []string{"f", "i", "big", "cat", "mix", "b"}
	zipf := rand.NewZipf(r, 1.3, 1, 1999)
	rows := make([][]string, n)
	for k := range rows {
		row := make([]string, len(names))
		if r.Float64() >= 0.1 {
			row[0] = strconv.FormatFloat(r.NormFloat64()*1000+50, 'g', -1, 64)
		}
		row[1] = strconv.Itoa(r.IntN(50))
		row[2] = strconv.Itoa(r.IntN(1_000_000))
		row[3] = "c" + strconv.FormatUint(zipf.Uint64(), 10)
		row[4] = strconv.Itoa(r.IntN(300))
		if r.IntN(100) == 0 {
			row[4] = "x" + strconv.Itoa(r.IntN(5))
		}
		row[5] = []string{"true", "false", "NA"}[r.IntN(3)]
		rows[k] = row
	}
	return names, rows
}

func profileRows(cfg profile.Config, names []string, rows [][]string) *profile.Profile {
	p := profile.New(cfg)
	p.SetColumns(names)
	for _, row := range rows {
		p.Add(row)
	}
	return p
}

// truth is the exact statistics of one column, computed independently.
type truth struct {
	count, missing int64
	nums           []float64 // sorted numeric values
	freq           map[string]int64
	minLen, maxLen int
}

func columnTruth(rows [][]string, col int) truth {
	t := truth{freq: map[string]int64{}, minLen: math.MaxInt}
	for _, row := range rows {
		s := row[col]
		if s == "" || s == "NA" {
			t.missing++
			continue
		}
		t.count++
		t.freq[s]++
		t.minLen, t.maxLen = min(t.minLen, len(s)), max(t.maxLen, len(s))
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			t.nums = append(t.nums, v)
		}
	}
	slices.Sort(t.nums)
	return t
}

// rankOK reports whether v is a quantile p of sorted within eps in rank.
func rankOK(sorted []float64, p, v, eps float64) bool {
	n := float64(len(sorted))
	lo := float64(sortSearch(sorted, func(x float64) bool { return x >= v })) / n
	hi := float64(sortSearch(sorted, func(x float64) bool { return x > v })) / n
	return lo-eps <= p && p <= hi+eps
}

func sortSearch(s []float64, f func(float64) bool) int {
	i, _ := slices.BinarySearchFunc(s, 0, func(x, _ float64) int {
		if f(x) {
			return 1
		}
		return -1
	})
	return i
}

func relClose(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*max(1, math.Abs(a), math.Abs(b))
}

// checkAgainstTruth compares one merged column summary with the exact
// statistics, within the sketches' bounds.
func checkAgainstTruth(t *testing.T, p *profile.Profile, name string, tr truth) {
	t.Helper()
	s, ok := p.Column(name)
	if !ok {
		t.Fatalf("column %s missing", name)
	}
	if s.Count != tr.count || s.Missing != tr.missing {
		t.Errorf("%s: count/missing = %d/%d, want %d/%d", name, s.Count, s.Missing, tr.count, tr.missing)
	}
	if s.Length != nil && (s.Length.Min != int64(tr.minLen) || s.Length.Max != int64(tr.maxLen)) {
		t.Errorf("%s: length %d..%d, want %d..%d", name, s.Length.Min, s.Length.Max, tr.minLen, tr.maxLen)
	}
	d := int64(len(tr.freq))
	if s.DistinctExact && s.Distinct != d || !s.DistinctExact && math.Abs(float64(s.Distinct-d)) > 0.05*float64(d)+2 {
		t.Errorf("%s: distinct = %d (exact %v), want %d", name, s.Distinct, s.DistinctExact, d)
	}
	if len(tr.nums) > 0 {
		n := s.Numeric
		if n == nil {
			t.Fatalf("%s: no numeric summary", name)
		}
		var sum float64
		for _, v := range tr.nums {
			sum += v
		}
		mean := sum / float64(len(tr.nums))
		var ss float64
		for _, v := range tr.nums {
			ss += (v - mean) * (v - mean)
		}
		std := math.Sqrt(ss / float64(len(tr.nums)))
		if n.Min != tr.nums[0] || n.Max != tr.nums[len(tr.nums)-1] {
			t.Errorf("%s: min/max = %v/%v, want %v/%v", name, n.Min, n.Max, tr.nums[0], tr.nums[len(tr.nums)-1])
		}
		if !relClose(n.Mean, mean, 1e-9) || !relClose(n.Stddev, std, 1e-9) {
			t.Errorf("%s: mean/stddev = %v/%v, want %v/%v", name, n.Mean, n.Stddev, mean, std)
		}
		eps := 0.03 + 2/float64(len(tr.nums))
		for _, q := range n.Quantiles {
			if !rankOK(tr.nums, q.P, q.Value, eps) {
				t.Errorf("%s: quantile %v = %v is off by more than %v in rank", name, q.P, q.Value, eps)
			}
		}
		if h := n.Histogram; h != nil && (h.Fixed || !h.Estimated) {
			want := make([]int64, len(h.Edges)+1)
			for _, v := range tr.nums {
				want[sortSearch(h.Edges, func(e float64) bool { return e > v })]++
			}
			if !slices.Equal(h.Counts, want) {
				t.Errorf("%s: histogram counts = %v, want %v", name, h.Counts, want)
			}
		}
	}
	// Heavy hitters: counts never above the truth, at most ErrorBound
	// below it, and every value above the bound is kept.
	if bound := float64(tr.count) / float64(p.Config().Counters+1); !s.TopExact && float64(s.ErrorBound) > bound {
		t.Errorf("%s: error bound %d exceeds N/(k+1) = %v", name, s.ErrorBound, bound)
	}
	kept := map[string]int64{}
	for _, vc := range p.Frequent(name) {
		kept[vc.Value] = vc.Count
		if vc.Count > tr.freq[vc.Value] || vc.Count < tr.freq[vc.Value]-s.ErrorBound {
			t.Errorf("%s: count of %q = %d, want within [%d, %d]", name, vc.Value, vc.Count, tr.freq[vc.Value]-s.ErrorBound, tr.freq[vc.Value])
		}
	}
	for v, c := range tr.freq {
		if _, ok := kept[v]; !ok && c > s.ErrorBound {
			t.Errorf("%s: value %q (count %d > bound %d) not kept", name, v, c, s.ErrorBound)
		}
	}
}

func TestMergeProperty(t *testing.T) {
	edges := map[string][]float64{"f": {-2000, -1000, -500, 0, 50, 500, 1000, 2000}, "big": {1e5, 2.5e5, 5e5, 9e5}}
	cfg := profile.Config{Edges: edges, ExactLimit: 100, Counters: 20}
	iterations := 25
	if testing.Short() {
		iterations = 5
	}
	for seed := range uint64(iterations) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 42))
			names, rows := genTable(r, 1+r.IntN(3000))
			whole := profileRows(cfg, names, rows)

			k := 2 + r.IntN(7)
			parts := make([][][]string, k)
			for _, row := range rows {
				i := r.IntN(k)
				parts[i] = append(parts[i], row)
			}
			merged := profile.New(cfg)
			for _, i := range r.Perm(k) {
				part := profileRows(cfg, names, parts[i])
				if r.IntN(2) == 0 { // sometimes go through the stored form
					b, err := json.Marshal(part)
					if err != nil {
						t.Fatal(err)
					}
					part = new(profile.Profile)
					if err := json.Unmarshal(b, part); err != nil {
						t.Fatal(err)
					}
				}
				if err := merged.Merge(part); err != nil {
					t.Fatal(err)
				}
			}
			if merged.Rows() != int64(len(rows)) {
				t.Fatalf("rows = %d, want %d", merged.Rows(), len(rows))
			}
			if got, want := merged.Schema(), whole.Schema(); !schemaEqual(got, want) {
				t.Errorf("schema = %+v, want %+v", got, want)
			}
			for i, name := range names {
				tr := columnTruth(rows, i)
				checkAgainstTruth(t, whole, name, tr)
				checkAgainstTruth(t, merged, name, tr)
				ws, _ := whole.Column(name)
				ms, _ := merged.Column(name)
				if ws.Types != ms.Types {
					t.Errorf("%s: types = %+v, want %+v", name, ms.Types, ws.Types)
				}
				if ws.Numeric != nil && ws.Numeric.Histogram.Fixed &&
					!slices.Equal(ws.Numeric.Histogram.Counts, ms.Numeric.Histogram.Counts) {
					t.Errorf("%s: merged histogram %v, whole %v", name, ms.Numeric.Histogram.Counts, ws.Numeric.Histogram.Counts)
				}
			}
		})
	}
}

func schemaEqual(a, b profile.Schema) bool {
	return slices.Equal(a.Fields, b.Fields)
}

// TestMergeJSONStable checks that a round trip through JSON is lossless.
func TestMergeJSONStable(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	names, rows := genTable(r, 2000)
	p := profileRows(profile.Config{ExactLimit: 100, Counters: 20}, names, rows)
	b1, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q profile.Profile
	if err := json.Unmarshal(b1, &q); err != nil {
		t.Fatal(err)
	}
	b2, err := json.Marshal(&q)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		i := 0
		for i < min(len(b1), len(b2)) && b1[i] == b2[i] {
			i++
		}
		lo := max(0, i-80)
		t.Errorf("JSON round trip changed the encoding at byte %d:\n%s\n%s", i, b1[lo:min(len(b1), i+80)], b2[lo:min(len(b2), i+80)])
	}
}
