package learn

import (
	"context"
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/blas/blas64"
)

// LogisticOptions configures regularised logistic regression. Zero fields
// take the defaults below.
//
// Params keys: l2, l1, max_iter, tol, max_categories, threshold.
type LogisticOptions struct {
	// L2 is the ridge weight on the (standardised) coefficients, relative
	// to the mean log-loss (default 1e-4; 0 is replaced by 1e-10).
	L2 float64 `json:"l2"`
	// L1 is the lasso weight (default 0). With L1 > 0 each Newton step's
	// quadratic model is solved by coordinate descent (proximal Newton).
	L1 float64 `json:"l1"`
	// MaxIter bounds the Newton iterations (default 100).
	MaxIter int `json:"max_iter"`
	// Tol ends training when an iteration lowers the objective by less
	// than Tol·max(1, objective) (default 1e-10).
	Tol float64 `json:"tol"`
	// MaxCategories is the most one-hot levels kept per categorical
	// feature (default 100).
	MaxCategories int `json:"max_categories"`
	// Threshold is the probability from which a row is predicted as class
	// 1 (default 0.5).
	Threshold float64 `json:"threshold"`
}

func (o LogisticOptions) withDefaults() LogisticOptions {
	t := tabularOptions{L2: o.L2, L1: o.L1, MaxIter: o.MaxIter, Tol: o.Tol, MaxCategories: o.MaxCategories}.withDefaults(1e-4, 100, 1e-10)
	out := LogisticOptions{L2: t.L2, L1: t.L1, MaxIter: t.MaxIter, Tol: t.Tol, MaxCategories: t.MaxCategories, Threshold: o.Threshold}
	if out.Threshold == 0 {
		out.Threshold = 0.5
	}
	return out
}

// ParseLogisticOptions reads LogisticOptions from params.
func ParseLogisticOptions(p Params) (LogisticOptions, error) {
	var o tabularOptions
	r := newParams(p)
	o.read(r)
	var th float64
	r.float("threshold", &th, 1e-9, 1-1e-9)
	if err := r.done(KindLogistic); err != nil {
		return LogisticOptions{}, err
	}
	if o.L2 == 0 && p["l2"] != "" {
		o.L2 = minL2
	}
	return LogisticOptions{L2: o.L2, L1: o.L1, MaxIter: o.MaxIter, Tol: o.Tol, MaxCategories: o.MaxCategories, Threshold: th}.withDefaults(), nil
}

// Params returns o (with defaults applied) as Params;
// ParseLogisticOptions reads them back.
func (o LogisticOptions) Params() Params {
	o = o.withDefaults()
	p := tabularOptions{L2: o.L2, L1: o.L1, MaxIter: o.MaxIter, Tol: o.Tol, MaxCategories: o.MaxCategories}.params()
	p["threshold"] = fmtF(o.Threshold)
	return p
}

// Logistic is regularised logistic regression for a 0/1 target (numbers 0
// and 1, or the words true/false or yes/no) on tabular features (see the
// tabular notes in tabular.go). It minimises the mean log-loss plus the
// penalties by Newton's method (iteratively reweighted least squares):
// each iteration accumulates the gradient and the Hessian XᵀDX/n in one
// pass over the rows, solves the penalised quadratic model (Cholesky, or
// coordinate descent when L1 > 0) and backtracks until the objective
// decreases enough (Armijo). With WithProgress it reports loss (the
// penalised objective) and log_loss after each iteration.
//
// Memory: about 80·p² bytes beyond the table for p design columns; an
// iteration reads the rows once (more when a step is shortened). ctx is
// checked every 2048 rows.
type Logistic struct {
	// Options are used by Fit when params is nil or empty.
	Options LogisticOptions
}

// Name returns "logistic".
func (Logistic) Name() string { return KindLogistic }

// Fit trains a *LogisticModel. params, when non-empty, replace Options.
func (l Logistic) Fit(ctx context.Context, t *Table, params Params) (TabularModel, error) {
	o := l.Options.withDefaults()
	if len(params) > 0 {
		var err error
		if o, err = ParseLogisticOptions(params); err != nil {
			return nil, err
		}
	}
	return FitLogistic(ctx, t, o)
}

// LogisticModel is a trained logistic regression. PredictRow and Predict
// return the probability of class 1.
type LogisticModel struct {
	tabBase
	threshold float64
}

// Threshold returns the probability from which the model predicts class 1.
func (m *LogisticModel) Threshold() float64 { return m.threshold }

// binaryTarget reads a 0/1 target column: numbers 0 and 1, or categories
// true/false, yes/no (any case).
func binaryTarget(c *Column) ([]float64, error) {
	if c.Numeric {
		for i, v := range c.Floats {
			if v != 0 && v != 1 {
				return nil, fmt.Errorf("target column %q: value %g in data row %d, want 0 or 1: %w", c.Name, v, i+1, ErrBadValue)
			}
		}
		return c.Floats, nil
	}
	val := make([]float64, len(c.Levels))
	for code, l := range c.Levels {
		switch strings.ToLower(l) {
		case "1", "true", "yes":
			val[code] = 1
		case "0", "false", "no":
		default:
			return nil, fmt.Errorf("target column %q: value %q, want 0/1, true/false or yes/no: %w", c.Name, l, ErrBadValue)
		}
	}
	y := make([]float64, len(c.Codes))
	for i, code := range c.Codes {
		if code < 0 {
			return nil, fmt.Errorf("target column %q is missing a value in data row %d: %w", c.Name, i+1, ErrBadValue)
		}
		y[i] = val[code]
	}
	return y, nil
}

// softplus returns ln(1 + e^x) without overflow.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// FitLogistic trains logistic regression with o (zero fields take
// defaults).
func FitLogistic(ctx context.Context, t *Table, o LogisticOptions) (*LogisticModel, error) {
	o = o.withDefaults()
	specs, target, err := buildSpecs(KindLogistic, t, o.MaxCategories)
	if err != nil {
		return nil, err
	}
	y, err := binaryTarget(target)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KindLogistic, err)
	}
	var pos float64
	for _, v := range y {
		pos += v
	}
	n := t.Len()
	if pos == 0 || pos == float64(n) {
		return nil, fmt.Errorf("%s: target column %q holds only class %v, want both 0 and 1: %w", KindLogistic, t.Target, y[0], ErrBadValue)
	}
	m := &LogisticModel{tabBase: tabBase{kind: KindLogistic, target: t.Target, feats: specs}, threshold: o.Threshold}
	m.index()
	d, err := m.bind(t)
	if err != nil {
		return nil, err
	}
	p := m.dim()
	inv := 1 / float64(n)
	penalty := func(w []float64) float64 {
		var s float64
		for _, v := range w[1:] {
			s += o.L2/2*v*v + o.L1*math.Abs(v)
		}
		return s
	}
	// objective returns the penalised objective and the mean log-loss at w.
	// evaluate returns the penalised objective and the mean log-loss at
	// w and, when full, the Hessian XᵀDX/n + l2·P (q) and the smooth
	// gradient Xᵀ(p−y)/n + l2·P·w (g), all in one pass over the rows.
	type point struct {
		obj, ll float64
		q       blas64.Symmetric
		g       []float64
	}
	evaluate := func(w []float64, full bool) (point, error) {
		var lls [tabBlocks]float64
		var qs []blas64.Symmetric
		var gs [][]float64
		if full {
			qs, gs = blockSyms(p), blockVecs(p)
		}
		err := d.accumulate(ctx, n, func(b, r int, idx []int32, val []float64) {
			v := sparseDot(w, idx, val)
			lls[b] += softplus(v) - y[r]*v
			if !full {
				return
			}
			pr := sigmoid(v)
			res, gb := inv*(pr-y[r]), gs[b] // g += Xᵀ(p−y)/n
			for a, j := range idx {
				gb[j] += res * val[a]
			}
			addOuter(qs[b], inv*max(pr*(1-pr), 1e-12), idx, val) // Hessian XᵀDX/n
		})
		if err != nil {
			return point{}, err
		}
		var pt point
		for _, v := range lls {
			pt.ll += v
		}
		pt.ll *= inv
		pt.obj = pt.ll + penalty(w)
		if full {
			pt.q, pt.g = sumSyms(qs), sumVecs(gs)
			addRidge(pt.q, o.L2)
			for j := 1; j < p; j++ {
				pt.g[j] += o.L2 * w[j] // smooth gradient, L1 aside
			}
		}
		return pt, nil
	}
	w := make([]float64, p)
	w[0] = math.Log(pos / (float64(n) - pos))
	cur, err := evaluate(w, true)
	if err != nil {
		return nil, err
	}
	report := progress(ctx)
	c := make([]float64, p)
	wNew, wTry := make([]float64, p), make([]float64, p)
	for it := 1; it <= o.MaxIter; it++ {
		q, g := cur.q, cur.g
		// c = Qw − g: the quadratic model's linear term.
		for i := 0; i < p; i++ {
			var s float64
			for j := 0; j < p; j++ {
				a, b := i, j
				if a > b {
					a, b = b, a
				}
				s += q.Data[a*q.Stride+b] * w[j]
			}
			c[i] = s - g[i]
		}
		copy(wNew, w)
		if _, err := solveQuadratic(q, c, o.L1, wNew, 1000, 1e-12); err != nil {
			return nil, fmt.Errorf("%s: iteration %d: %w", KindLogistic, it, err)
		}
		// Armijo backtracking along wNew − w. The full step is evaluated
		// with the next iteration's Hessian in the same pass; shorter
		// steps need an objective pass each and a full pass once accepted.
		var dec float64
		for j := range w {
			dec += g[j] * (wNew[j] - w[j])
		}
		for j := 1; j < p; j++ {
			dec += o.L1 * (math.Abs(wNew[j]) - math.Abs(w[j]))
		}
		step, accepted := 1.0, false
		var next point
		for k := 0; k < 30; k++ {
			for j := range w {
				wTry[j] = w[j] + step*(wNew[j]-w[j])
			}
			if next, err = evaluate(wTry, k == 0); err != nil {
				return nil, err
			}
			if next.obj <= cur.obj+1e-4*step*dec {
				accepted = true
				break
			}
			step /= 2
		}
		if !accepted {
			break // no further decrease: at the optimum up to round-off
		}
		gain := cur.obj - next.obj
		copy(w, wTry)
		m.iters = it
		if report != nil {
			report(it, map[string]float64{"loss": next.obj, "log_loss": next.ll})
		}
		if gain <= o.Tol*math.Max(1, math.Abs(next.obj)) {
			break
		}
		if step != 1 {
			if next, err = evaluate(w, true); err != nil {
				return nil, err
			}
		}
		cur = next
	}
	m.w = w
	return m, nil
}

// PredictRow returns the probability of class 1 for one row (see
// TabularModel).
func (m *LogisticModel) PredictRow(values []any) (float64, error) {
	z, err := m.linearPredictor(values)
	if err != nil {
		return 0, err
	}
	return sigmoid(z), nil
}

// Predict returns the probability of class 1 for every row of t.
func (m *LogisticModel) Predict(t *Table) ([]float64, error) {
	z, err := m.predictLinear(t)
	if err != nil {
		return nil, err
	}
	for i, v := range z {
		z[i] = sigmoid(v)
	}
	return z, nil
}

// MarshalBinary encodes the model.
func (m *LogisticModel) MarshalBinary() ([]byte, error) {
	e := &encoder{}
	m.encode(e)
	e.f64(m.threshold)
	return e.b, nil
}

// UnmarshalBinary decodes a model written by MarshalBinary.
func (m *LogisticModel) UnmarshalBinary(b []byte) error {
	nm, d := decodeTab(b, KindLogistic)
	th := d.f64()
	if d.err == nil && !(th > 0 && th < 1) {
		d.fail("threshold %v out of (0, 1)", th)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return d.err
	}
	m.tabBase, m.threshold = nm, th
	return nil
}
