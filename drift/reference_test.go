package drift_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/loopml/loopml/drift"
)

// reference mirrors testdata/reference.json, produced by
// testdata/reference.py with scipy 1.10.1 / numpy 1.24.2.
type reference struct {
	PSI []struct {
		Name     string
		Ref, Cur []float64
		Want     float64
	}
	KS []struct {
		Name     string
		Ref, Cur []float64
		D, P     float64
	}
	KSWeyl []struct {
		Name     string
		Ref, Cur []float64 // weyl generator parameters: n, a, b, scale, shift
		D, P     float64
		W, Wnorm float64
	} `json:"ks_weyl"`
	ChiSquare []struct {
		Name     string
		Ref, Cur []float64
		Stat, P  float64
		DF       int
	}
	ZTest []struct {
		Name   string
		RefPos int64 `json:"ref_pos"`
		RefN   int64 `json:"ref_n"`
		CurPos int64 `json:"cur_pos"`
		CurN   int64 `json:"cur_n"`
		Z, P   float64
	}
	JS []struct {
		Name     string
		Ref, Cur []float64
		Base     float64
		Want     float64
	}
	Wasserstein []struct {
		Name     string
		U, V     []float64
		W, Wnorm float64
	}
	QuantileEdges []struct {
		Name  string
		X     []float64
		Bins  int
		Edges []float64
	} `json:"quantile_edges"`
	Detect []struct {
		Name     string
		Kind     drift.Kind
		Ref, Cur json.RawMessage
		Method   drift.Method
		Score    float64
		Drifted  bool
	}
}

func loadReference(t *testing.T) *reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.PSI) == 0 || len(ref.KS) == 0 || len(ref.ZTest) == 0 || len(ref.Detect) == 0 {
		t.Fatal("reference.json decoded to empty tables")
	}
	return &ref
}

// weyl regenerates the deterministic sample of reference.py's weyl().
func weyl(p []float64) []float64 {
	n, a, b, scale, shift := int(p[0]), p[1], p[2], p[3], p[4]
	out := make([]float64, n)
	for i := range out {
		x := a + float64(i)*b
		out[i] = scale*((x-math.Floor(x))-0.5) + shift
	}
	return out
}

// near reports whether got is within rel (relative) or abs of want.
func near(got, want, rel, abs float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= abs || math.Abs(got-want) <= rel*math.Abs(want)
}

func TestPSIReference(t *testing.T) {
	for _, tc := range loadReference(t).PSI {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := drift.PSI(tc.Ref, tc.Cur)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, tc.Want, 1e-12, 1e-15) {
				t.Errorf("PSI = %.17g, want %.17g", got, tc.Want)
			}
		})
	}
}

func TestKSReference(t *testing.T) {
	for _, tc := range loadReference(t).KS {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := drift.KS(tc.Ref, tc.Cur)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Exact {
				t.Errorf("Exact = false for sizes %d, %d", got.N1, got.N2)
			}
			if !near(got.D, tc.D, 1e-12, 1e-15) {
				t.Errorf("D = %.17g, want %.17g", got.D, tc.D)
			}
			if !near(got.PValue, tc.P, 1e-9, 1e-15) {
				t.Errorf("p = %.17g, want %.17g", got.PValue, tc.P)
			}
		})
	}
}

func TestKSAsymptoticReference(t *testing.T) {
	for _, tc := range loadReference(t).KSWeyl {
		t.Run(tc.Name, func(t *testing.T) {
			x, y := weyl(tc.Ref), weyl(tc.Cur)
			got, err := drift.KS(x, y)
			if err != nil {
				t.Fatal(err)
			}
			if got.Exact {
				t.Errorf("Exact = true for sizes %d, %d", got.N1, got.N2)
			}
			if !near(got.D, tc.D, 1e-9, 1e-12) {
				t.Errorf("D = %.17g, want %.17g", got.D, tc.D)
			}
			// Stephens-corrected Kolmogorov vs scipy's kstwo(n_e): ~1 % apart.
			if !near(got.PValue, tc.P, 0.02, 1e-6) {
				t.Errorf("p = %.17g, want %.17g (±2%%)", got.PValue, tc.P)
			}
			w, err := drift.Wasserstein(x, y)
			if err != nil {
				t.Fatal(err)
			}
			if !near(w, tc.W, 1e-9, 1e-12) {
				t.Errorf("W = %.17g, want %.17g", w, tc.W)
			}
			wn, err := drift.WassersteinNorm(x, y)
			if err != nil {
				t.Fatal(err)
			}
			if !near(wn, tc.Wnorm, 1e-9, 1e-12) {
				t.Errorf("W normed = %.17g, want %.17g", wn, tc.Wnorm)
			}
		})
	}
}

func TestChiSquareReference(t *testing.T) {
	for _, tc := range loadReference(t).ChiSquare {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := drift.ChiSquare(tc.Ref, tc.Cur)
			if err != nil {
				t.Fatal(err)
			}
			if got.DF != tc.DF {
				t.Errorf("DF = %d, want %d", got.DF, tc.DF)
			}
			if !near(got.Statistic, tc.Stat, 1e-12, 1e-12) {
				t.Errorf("statistic = %.17g, want %.17g", got.Statistic, tc.Stat)
			}
			if !near(got.PValue, tc.P, 1e-9, 1e-15) {
				t.Errorf("p = %.17g, want %.17g", got.PValue, tc.P)
			}
		})
	}
}

func TestZTestReference(t *testing.T) {
	for _, tc := range loadReference(t).ZTest {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := drift.ZTest(tc.RefPos, tc.RefN, tc.CurPos, tc.CurN)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got.Z, tc.Z, 1e-12, 1e-15) {
				t.Errorf("Z = %.17g, want %.17g", got.Z, tc.Z)
			}
			if !near(got.PValue, tc.P, 1e-9, 1e-15) {
				t.Errorf("p = %.17g, want %.17g", got.PValue, tc.P)
			}
		})
	}
}

func TestJensenShannonReference(t *testing.T) {
	for _, tc := range loadReference(t).JS {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := drift.JensenShannon(tc.Ref, tc.Cur, tc.Base)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, tc.Want, 1e-12, 1e-8) {
				t.Errorf("JS(base %v) = %.17g, want %.17g", tc.Base, got, tc.Want)
			}
		})
	}
}

func TestWassersteinReference(t *testing.T) {
	for _, tc := range loadReference(t).Wasserstein {
		t.Run(tc.Name, func(t *testing.T) {
			w, err := drift.Wasserstein(tc.U, tc.V)
			if err != nil {
				t.Fatal(err)
			}
			if !near(w, tc.W, 1e-12, 1e-14) {
				t.Errorf("W = %.17g, want %.17g", w, tc.W)
			}
			wn, err := drift.WassersteinNorm(tc.U, tc.V)
			if err != nil {
				t.Fatal(err)
			}
			if !near(wn, tc.Wnorm, 1e-12, 1e-14) {
				t.Errorf("W normed = %.17g, want %.17g", wn, tc.Wnorm)
			}
		})
	}
}

func TestQuantileEdgesReference(t *testing.T) {
	for _, tc := range loadReference(t).QuantileEdges {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := drift.QuantileEdges(tc.X, tc.Bins)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.Edges) {
				t.Fatalf("edges = %v, want %v", got, tc.Edges)
			}
			for i := range got {
				if !near(got[i], tc.Edges[i], 1e-12, 1e-15) {
					t.Errorf("edges[%d] = %.17g, want %.17g", i, got[i], tc.Edges[i])
				}
			}
		})
	}
}

func TestDetectReference(t *testing.T) {
	for _, tc := range loadReference(t).Detect {
		t.Run(tc.Name, func(t *testing.T) {
			var got drift.Result
			var err error
			switch tc.Kind {
			case drift.KindNumeric:
				var ref, cur []float64
				mustUnmarshal(t, tc.Ref, &ref)
				mustUnmarshal(t, tc.Cur, &cur)
				got, err = drift.Detect(ref, cur, drift.Options{})
			case drift.KindCategorical:
				var ref, cur []string
				mustUnmarshal(t, tc.Ref, &ref)
				mustUnmarshal(t, tc.Cur, &cur)
				got, err = drift.DetectCategories(ref, cur, drift.Options{})
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != tc.Method {
				t.Errorf("method = %q, want %q", got.Method, tc.Method)
			}
			if !near(got.Score, tc.Score, 1e-9, 1e-15) {
				t.Errorf("score = %.17g, want %.17g", got.Score, tc.Score)
			}
			if got.Drifted != tc.Drifted {
				t.Errorf("drifted = %v, want %v", got.Drifted, tc.Drifted)
			}
			if got.Approximate {
				t.Error("Approximate = true for raw samples")
			}
		})
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
