package learn_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/loopml/loopml/learn"
)

// synth builds a table: x1 ~ N(5, 2²), x2 ~ U(0, 10), x3 ~ N(0,1) (no
// effect), cat ∈ {a, b, c}; z = b0 + 2·x1 − 1.5·x2 + {a: 0, b: 4, c: −3}.
func synth(n int, seed uint64, target func(z float64, rng *rand.Rand) float64) *learn.Table {
	rng := rand.New(rand.NewPCG(seed, 1))
	x1, x2, x3, y := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	codes := make([]int32, n)
	eff := []float64{0, 4, -3}
	for i := 0; i < n; i++ {
		x1[i] = 5 + 2*rng.NormFloat64()
		x2[i] = 10 * rng.Float64()
		x3[i] = rng.NormFloat64()
		codes[i] = int32(rng.IntN(3))
		y[i] = target(2*x1[i]-1.5*x2[i]+eff[codes[i]], rng)
	}
	t, err := learn.NewTable(
		&learn.Column{Name: "x1", Numeric: true, Floats: x1},
		&learn.Column{Name: "x2", Numeric: true, Floats: x2},
		&learn.Column{Name: "x3", Numeric: true, Floats: x3},
		&learn.Column{Name: "cat", Codes: codes, Levels: []string{"a", "b", "c"}},
		&learn.Column{Name: "y", Numeric: true, Floats: y},
	)
	if err != nil {
		panic(err)
	}
	t.Target = "y"
	return t
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) {
		t.Errorf("%s = %.4f, want %.4f ± %g", what, got, want, tol)
	}
}

func TestLinearRecoversCoefficients(t *testing.T) {
	tab := synth(5000, 1, func(z float64, rng *rand.Rand) float64 { return 3 + z + 0.1*rng.NormFloat64() })
	m, err := learn.Linear{}.Fit(context.Background(), tab, nil)
	if err != nil {
		t.Fatal(err)
	}
	lm := m.(*learn.LinearModel)
	c := lm.Coefficients()
	near(t, "x1", c["x1"], 2, 0.01)
	near(t, "x2", c["x2"], -1.5, 0.01)
	near(t, "x3", c["x3"], 0, 0.01)
	near(t, "b-a", c["cat=b"]-c["cat=a"], 4, 0.02)
	near(t, "c-a", c["cat=c"]-c["cat=a"], -3, 0.02)
	// The intercept is at the "other" bucket; add cat=a's effect.
	near(t, "intercept", lm.Intercept()+c["cat=a"], 3, 0.05)
	metrics, err := learn.TabularMetrics(m, tab)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "rmse", metrics["rmse"], 0.1, 0.01)
	if metrics["r2"] < 0.999 {
		t.Errorf("r2 = %v, want > 0.999", metrics["r2"])
	}
	// PredictRow agrees with Predict, and unseen categories and missing
	// numbers are answered.
	pred, _ := m.Predict(tab)
	var row []any
	for _, f := range m.Features() {
		c, _ := tab.Column(f.Name)
		if c.Numeric {
			row = append(row, c.Floats[0])
		} else {
			row = append(row, c.String(0))
		}
	}
	got, err := m.PredictRow(row)
	if err != nil || math.Abs(got-pred[0]) > 1e-9 {
		t.Errorf("PredictRow = %v, %v; Predict = %v", got, err, pred[0])
	}
	if _, err := m.PredictRow([]any{nil, int64(3), "4.5", "zzz"}); err != nil {
		t.Errorf("PredictRow with missing and unseen values: %v", err)
	}
	if _, err := m.PredictRow([]any{"abc", 1.0, 1.0, "a"}); !errors.Is(err, learn.ErrBadValue) || !strings.Contains(err.Error(), `"x1"`) {
		t.Errorf("PredictRow(non-number) error = %v, want ErrBadValue naming x1", err)
	}
	if _, err := m.PredictRow([]any{math.Inf(1), 1.0, 1.0, "a"}); !errors.Is(err, learn.ErrBadValue) {
		t.Errorf("PredictRow(Inf) error = %v, want ErrBadValue", err)
	}
}

func TestLinearL1ZeroesIrrelevantFeature(t *testing.T) {
	tab := synth(3000, 2, func(z float64, rng *rand.Rand) float64 { return z + rng.NormFloat64() })
	m, err := learn.Linear{}.Fit(context.Background(), tab, learn.Params{"l1": "0.05"})
	if err != nil {
		t.Fatal(err)
	}
	c := m.(*learn.LinearModel).Coefficients()
	if c["x3"] != 0 {
		t.Errorf("x3 = %v, want exactly 0 under l1", c["x3"])
	}
	near(t, "x1", c["x1"], 2, 0.1)
	near(t, "x2", c["x2"], -1.5, 0.1)
	if it := m.(*learn.LinearModel).Iterations(); it < 2 {
		t.Errorf("iterations = %d, want coordinate-descent sweeps", it)
	}
}

func TestLogisticCalibratedOnKnownLogit(t *testing.T) {
	// logit = −8 + z/2 → coefficients 1, −0.75, cat b−a 2, c−a −1.5.
	tab := synth(40000, 3, func(z float64, rng *rand.Rand) float64 {
		if rng.Float64() < 1/(1+math.Exp(-(-2+z/2))) {
			return 1
		}
		return 0
	})
	var epochs []int
	var losses []float64
	ctx := learn.WithProgress(context.Background(), func(ep int, m map[string]float64) {
		epochs = append(epochs, ep)
		losses = append(losses, m["loss"])
	})
	m, err := learn.Logistic{}.Fit(ctx, tab, nil)
	if err != nil {
		t.Fatal(err)
	}
	lm := m.(*learn.LogisticModel)
	c := lm.Coefficients()
	near(t, "x1", c["x1"], 1, 0.06)
	near(t, "x2", c["x2"], -0.75, 0.05)
	near(t, "x3", c["x3"], 0, 0.05)
	near(t, "b-a", c["cat=b"]-c["cat=a"], 2, 0.12)
	near(t, "c-a", c["cat=c"]-c["cat=a"], -1.5, 0.12)
	near(t, "intercept", lm.Intercept()+c["cat=a"], -2, 0.2)
	// One progress point per Newton iteration, the loss never rising.
	if len(epochs) != lm.Iterations() || len(epochs) < 3 {
		t.Fatalf("progress points %v for %d iterations", epochs, lm.Iterations())
	}
	for i := range epochs {
		if epochs[i] != i+1 || (i > 0 && losses[i] > losses[i-1]) {
			t.Fatalf("progress epochs %v losses %v", epochs, losses)
		}
	}
	// Calibration: in deciles of predicted probability the observed rate
	// matches the mean prediction.
	prob, _ := m.Predict(tab)
	y, _ := tab.Column("y")
	for lo := 0.0; lo < 1; lo += 0.2 {
		var n, sp, sy float64
		for i, p := range prob {
			if p >= lo && p < lo+0.2 {
				n, sp, sy = n+1, sp+p, sy+y.Floats[i]
			}
		}
		if n > 500 {
			near(t, fmt.Sprintf("observed rate in [%.1f, %.1f)", lo, lo+0.2), sy/n, sp/n, 0.03)
		}
	}
	metrics, err := learn.TabularMetrics(m, tab)
	if err != nil {
		t.Fatal(err)
	}
	if metrics["auc"] < 0.85 || metrics["accuracy"] < 0.75 || metrics["log_loss"] > 0.5 {
		t.Errorf("metrics %v", metrics)
	}
}

func TestLogisticSeparatesPlantedClasses(t *testing.T) {
	n := 2000
	rng := rand.New(rand.NewPCG(4, 4))
	x, y := make([]float64, n), make([]float64, n)
	for i := range x {
		if i%2 == 0 {
			x[i], y[i] = 3+rng.NormFloat64(), 1
		} else {
			x[i] = -3 + rng.NormFloat64()
		}
	}
	tab, _ := learn.NewTable(&learn.Column{Name: "x", Numeric: true, Floats: x}, &learn.Column{Name: "label", Numeric: true, Floats: y})
	tab.Target = "label"
	train, test, err := learn.SplitTable(tab, 0.25, 42)
	if err != nil {
		t.Fatal(err)
	}
	rep, m, err := learn.EvaluateTabular(context.Background(), learn.Logistic{}, train, test, learn.Params{"threshold": "0.5", "l2": "0.01"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Metrics["accuracy"] < 0.99 || rep.Metrics["auc"] < 0.999 || rep.TestRows != 500 || rep.TrainRows != 1500 {
		t.Errorf("report %+v", rep)
	}
	// Perfectly separable rows with the default (tiny) ridge still
	// converge, to a steep but finite model.
	sep := make([]float64, n)
	for i := range sep {
		sep[i] = float64(i%2)*2 - 1 + 0.001*float64(i)/float64(n)
	}
	stab, _ := learn.NewTable(&learn.Column{Name: "x", Numeric: true, Floats: sep}, &learn.Column{Name: "label", Numeric: true, Floats: y2(n)})
	stab.Target = "label"
	sm, err := learn.Logistic{}.Fit(context.Background(), stab, nil)
	if err != nil {
		t.Fatal(err)
	}
	if met, _ := learn.TabularMetrics(sm, stab); met["accuracy"] != 1 || math.IsNaN(met["log_loss"]) {
		t.Errorf("separable: %v", met)
	}
	if p, _ := m.PredictRow([]any{4.0}); p < 0.98 {
		t.Errorf("P(class 1 | x=4) = %v", p)
	}
	if p, _ := m.PredictRow([]any{-4.0}); p > 0.02 {
		t.Errorf("P(class 1 | x=-4) = %v", p)
	}
}

// y2 is 0, 1, 0, 1, ...
func y2(n int) []float64 {
	y := make([]float64, n)
	for i := range y {
		y[i] = float64(i % 2)
	}
	return y
}

func TestTabularMarshalRoundTrip(t *testing.T) {
	tab := synth(500, 5, func(z float64, rng *rand.Rand) float64 { return z + rng.NormFloat64() })
	ytab := synth(500, 5, func(z float64, rng *rand.Rand) float64 {
		if z+rng.NormFloat64() > 0 {
			return 1
		}
		return 0
	})
	for _, tc := range []struct {
		l   learn.TabularLearner
		tab *learn.Table
	}{{learn.Linear{}, tab}, {learn.Logistic{}, ytab}} {
		m, err := tc.l.Fit(context.Background(), tc.tab, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := learn.UnmarshalTabularModel(b)
		if err != nil {
			t.Fatal(err)
		}
		if m2.Kind() != tc.l.Name() || m2.Target() != "y" || len(m2.Features()) != 4 {
			t.Fatalf("decoded %s %s %v", m2.Kind(), m2.Target(), m2.Features())
		}
		p1, _ := m.Predict(tc.tab)
		p2, _ := m2.Predict(tc.tab)
		for i := range p1 {
			if p1[i] != p2[i] {
				t.Fatalf("%s row %d: %v != %v after round trip", tc.l.Name(), i, p1[i], p2[i])
			}
		}
		for _, bad := range [][]byte{nil, b[:len(b)-3], append(append([]byte{}, b...), 0)} {
			if _, err := learn.UnmarshalTabularModel(bad); !errors.Is(err, learn.ErrBadModel) {
				t.Errorf("%s: corrupt bytes (%d): error %v, want ErrBadModel", tc.l.Name(), len(bad), err)
			}
		}
		// A recommender's bytes are not a tabular model.
		if _, err := learn.UnmarshalTabularModel([]byte("LOOPMLRS\x01\x00\x02\x00\x00\x00mf")); !errors.Is(err, learn.ErrBadModel) {
			t.Errorf("mf bytes: error %v", err)
		}
	}
}

func readTable(t *testing.T, csv string) (*learn.Table, error) {
	t.Helper()
	return learn.ReadTable(context.Background(), strings.NewReader(csv), learn.TableOptions{})
}

func TestReadTable(t *testing.T) {
	tab, err := readTable(t, "a,b,c,d\n1,x,2.5,\n2,y,NA,7\n3,,4,8\n")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 3 || strings.Join(tab.Columns(), ",") != "a,b,c,d" {
		t.Fatalf("table %d rows, columns %v", tab.Len(), tab.Columns())
	}
	a, _ := tab.Column("a")
	b, _ := tab.Column("b")
	c, _ := tab.Column("c")
	if !a.Numeric || !a.Integral || b.Numeric || !c.Numeric || c.Integral {
		t.Errorf("types: a %v/%v b %v c %v/%v", a.Numeric, a.Integral, b.Numeric, c.Numeric, c.Integral)
	}
	if !b.Missing(2) || !c.Missing(1) || b.String(1) != "y" {
		t.Errorf("missing cells not recognised")
	}
	// A column that turns to text after numbers keeps the numbers as text.
	tab, err = readTable(t, "id,y\n1,1\n2,2\nx7,3\n")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := tab.Column("id")
	if id.Numeric || id.String(0) != "1" || id.String(2) != "x7" {
		t.Errorf("id column: numeric %v, %q %q", id.Numeric, id.String(0), id.String(2))
	}
	tab, err = learn.ReadTable(context.Background(), strings.NewReader("store,y\n1,1\n2,2\n"), learn.TableOptions{Categorical: []string{"store"}})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := tab.Column("store"); st.Numeric {
		t.Errorf("store forced categorical is numeric")
	}
}

func TestTabularBadInput(t *testing.T) {
	good := "x,c,y\n1,a,2\n2,b,4\n3,a,7\n"
	for _, tc := range []struct {
		name, csv, target string
		features          []string
		learner           learn.TabularLearner
		params            learn.Params
		want              error
		msg               string
	}{
		{"empty file", "", "y", nil, learn.Linear{}, nil, learn.ErrNoData, "empty"},
		{"header only", "x,y\n", "y", nil, learn.Linear{}, nil, learn.ErrNoData, "no rows"},
		{"single row", "x,y\n1,2\n", "y", nil, learn.Linear{}, nil, learn.ErrNoData, "at least 2"},
		{"NaN", "x,y\n1,2\nNaN,3\n", "y", nil, learn.Linear{}, nil, learn.ErrBadValue, `"NaN" is not a finite number`},
		{"Inf", "x,y\n1,2\n2,inf\n", "y", nil, learn.Linear{}, nil, learn.ErrBadValue, `column "y"`},
		{"duplicate header", "x,x\n1,2\n", "y", nil, learn.Linear{}, nil, learn.ErrBadValue, "twice"},
		{"unknown target", good, "z", nil, learn.Linear{}, nil, learn.ErrUnknownColumn, `target column "z"`},
		{"no target", good, "", nil, learn.Linear{}, nil, learn.ErrInvalidParam, "target column is not set"},
		{"unknown feature", good, "y", []string{"x", "q"}, learn.Linear{}, nil, learn.ErrUnknownColumn, `feature column "q"`},
		{"target as feature", good, "y", []string{"y"}, learn.Linear{}, nil, learn.ErrInvalidParam, "is the target"},
		{"non-numeric target", "x,y\n1,a\n2,b\n3,a\n", "y", nil, learn.Linear{}, nil, learn.ErrBadValue, "holds text"},
		{"constant numeric", "x,k,y\n1,5,2\n2,5,3\n3,5,1\n", "y", nil, learn.Linear{}, nil, learn.ErrBadValue, `"k" is constant`},
		{"constant category", "x,k,y\n1,a,2\n2,a,3\n3,a,1\n", "y", nil, learn.Linear{}, nil, learn.ErrBadValue, `"k" is constant`},
		{"all-missing feature", "x,k,y\n1,,2\n2,,3\n3,,1\n", "y", nil, learn.Linear{}, nil, learn.ErrBadValue, `"k" has no values`},
		{"missing target", "x,y\n1,2\n2,\n3,1\n", "y", nil, learn.Linear{}, nil, learn.ErrBadValue, "missing a value in data row 2"},
		{"bad param", good, "y", nil, learn.Linear{}, learn.Params{"l2": "-1"}, learn.ErrInvalidParam, "l2"},
		{"unknown param", good, "y", nil, learn.Linear{}, learn.Params{"factors": "3"}, learn.ErrInvalidParam, "factors"},
		{"logistic threshold", good, "y", nil, learn.Logistic{}, learn.Params{"threshold": "1"}, learn.ErrInvalidParam, "threshold"},
		{"logistic non-binary", good, "y", nil, learn.Logistic{}, nil, learn.ErrBadValue, "want 0 or 1"},
		{"logistic one class", "x,y\n1,1\n2,1\n3,1\n", "y", nil, learn.Logistic{}, nil, learn.ErrBadValue, "only class 1"},
		{"logistic text labels", "x,y\n1,maybe\n2,yes\n", "y", nil, learn.Logistic{}, nil, learn.ErrBadValue, `"maybe"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := readTable(t, tc.csv)
			if err == nil {
				tab.Target, tab.Features = tc.target, tc.features
				_, err = tc.learner.Fit(context.Background(), tab, tc.params)
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error = %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestLogisticTextLabels(t *testing.T) {
	tab, err := readTable(t, "x,late\n1,no\n2,no\n3,yes\n2.5,yes\n1.5,no\n2.8,yes\n2.2,no\n")
	if err != nil {
		t.Fatal(err)
	}
	tab.Target = "late"
	m, err := learn.Logistic{}.Fit(context.Background(), tab, nil)
	if err != nil {
		t.Fatal(err)
	}
	lo, _ := m.PredictRow([]any{1.0})
	hi, _ := m.PredictRow([]any{3.0})
	if !(lo < 0.5 && hi > 0.5) {
		t.Errorf("P(late|1) = %v, P(late|3) = %v", lo, hi)
	}
}

func TestTabularFitCancelled(t *testing.T) {
	tab := synth(10000, 6, func(z float64, _ *rand.Rand) float64 { return z })
	btab := synth(10000, 6, func(z float64, _ *rand.Rand) float64 { return math.Round(math.Mod(math.Abs(z), 2) / 2) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for l, tab := range map[learn.TabularLearner]*learn.Table{learn.Linear{}: tab, learn.Logistic{}: btab} {
		if _, err := l.Fit(ctx, tab, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: error %v, want context.Canceled", l.Name(), err)
		}
	}
}

func TestLogisticCancelledDuringFit(t *testing.T) {
	tab := synth(5000, 7, func(z float64, rng *rand.Rand) float64 {
		if rng.Float64() < 1/(1+math.Exp(-z/4)) {
			return 1
		}
		return 0
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	ctx = learn.WithProgress(ctx, func(int, map[string]float64) { calls++; cancel() })
	if _, err := (learn.Logistic{}).Fit(ctx, tab, nil); !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("error %v after %d iterations, want context.Canceled after 1", err, calls)
	}
}

func TestTabularMetricFunctions(t *testing.T) {
	near(t, "auc perfect", learn.AUC([]float64{0.1, 0.2, 0.8, 0.9}, []float64{0, 0, 1, 1}), 1, 0)
	near(t, "auc ties", learn.AUC([]float64{0.5, 0.5, 0.5, 0.5}, []float64{0, 1, 0, 1}), 0.5, 0)
	near(t, "auc inverted", learn.AUC([]float64{0.9, 0.1}, []float64{0, 1}), 0, 0)
	if !math.IsNaN(learn.AUC([]float64{0.1}, []float64{1})) {
		t.Error("AUC with one class is not NaN")
	}
	near(t, "log loss", learn.LogLoss([]float64{0.5, 0.5}, []float64{0, 1}), math.Ln2, 1e-12)
	near(t, "accuracy", learn.Accuracy([]float64{0.4, 0.6, 0.7}, []float64{0, 0, 1}, 0.5), 2.0/3, 1e-12)
	near(t, "r2", learn.R2([]float64{1, 2, 3}, []float64{1, 2, 3}), 1, 0)
	near(t, "r2 mean", learn.R2([]float64{2, 2, 2}, []float64{1, 2, 3}), 0, 1e-12)
}

func FuzzReadTable(f *testing.F) {
	for _, s := range []string{"x,c,y\n1,a,2\n2,b,4\n3,,7\n", "a\n1\nNaN\n", "a,b\n\"x,y\",2\n", "", "x,y\n1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tab, err := learn.ReadTable(context.Background(), strings.NewReader(s), learn.TableOptions{})
		if err != nil {
			return
		}
		cols := tab.Columns()
		tab.Target = cols[len(cols)-1]
		for _, l := range []learn.TabularLearner{learn.Linear{}, learn.Logistic{}} {
			m, err := l.Fit(context.Background(), tab, learn.Params{"max_iter": "5"})
			if err != nil {
				continue
			}
			pred, err := m.Predict(tab)
			if err != nil {
				t.Fatalf("%s: Predict on the training table: %v", l.Name(), err)
			}
			b, _ := m.MarshalBinary()
			m2, err := learn.UnmarshalTabularModel(b)
			if err != nil {
				t.Fatalf("%s: round trip: %v", l.Name(), err)
			}
			pred2, _ := m2.Predict(tab)
			for i := range pred {
				if pred[i] != pred2[i] && !(math.IsNaN(pred[i]) && math.IsNaN(pred2[i])) {
					t.Fatalf("%s: row %d %v != %v after round trip", l.Name(), i, pred[i], pred2[i])
				}
			}
		}
	})
}

func FuzzUnmarshalTabularModel(f *testing.F) {
	tab := synth(50, 9, func(z float64, _ *rand.Rand) float64 { return z })
	m, _ := learn.Linear{}.Fit(context.Background(), tab, nil)
	b, _ := m.MarshalBinary()
	f.Add(b)
	f.Add([]byte("LOOPMLRS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := learn.UnmarshalTabularModel(b)
		if err != nil {
			if !errors.Is(err, learn.ErrBadModel) {
				t.Fatalf("error %v does not wrap ErrBadModel", err)
			}
			return
		}
		row := make([]any, len(m.Features()))
		_, _ = m.PredictRow(row)
	})
}

// Fit a linear model on a small table read from CSV and read back its
// coefficients in the data's units.
func ExampleLinear() {
	csv := "size,city,price\n50,paris,600\n80,paris,900\n60,lyon,600\n90,lyon,900\n70,paris,800\n40,lyon,400\n"
	t, err := learn.ReadTable(context.Background(), strings.NewReader(csv), learn.TableOptions{})
	if err != nil {
		panic(err)
	}
	t.Target = "price"
	m, err := learn.FitLinear(context.Background(), t, learn.LinearOptions{L2: 1e-9})
	if err != nil {
		panic(err)
	}
	c := m.Coefficients()
	fmt.Printf("per m²: %.1f, paris − lyon: %.1f\n", c["size"], c["city=paris"]-c["city=lyon"])
	p, _ := m.PredictRow([]any{75.0, "paris"})
	fmt.Printf("75 m² in paris: %.0f\n", p)
	// Output:
	// per m²: 10.0, paris − lyon: 100.0
	// 75 m² in paris: 850
}
