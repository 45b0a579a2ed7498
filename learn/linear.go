package learn

import (
	"context"
	"fmt"
)

// LinearOptions configures regularised linear regression. Zero fields take
// the defaults below.
//
// Params keys: l2, l1, max_iter, tol, max_categories.
type LinearOptions struct {
	// L2 is the ridge weight on the (standardised) coefficients, relative
	// to the mean squared error / 2 (default 1e-4; 0 is replaced by 1e-10,
	// see the package's tabular notes).
	L2 float64 `json:"l2"`
	// L1 is the lasso weight (default 0: closed-form ridge by Cholesky;
	// > 0: coordinate descent).
	L1 float64 `json:"l1"`
	// MaxIter bounds the coordinate-descent sweeps when L1 > 0 (default
	// 1000).
	MaxIter int `json:"max_iter"`
	// Tol ends coordinate descent when no coefficient moves more than
	// Tol·(1+max|w|) in a sweep (default 1e-9).
	Tol float64 `json:"tol"`
	// MaxCategories is the most one-hot levels kept per categorical
	// feature, the most frequent ones (default 100); the others share the
	// "other" bucket with missing and unseen values.
	MaxCategories int `json:"max_categories"`
}

func (o LinearOptions) withDefaults() LinearOptions {
	t := tabularOptions(o).withDefaults(1e-4, 1000, 1e-9)
	return LinearOptions(t)
}

func (o tabularOptions) withDefaults(l2 float64, maxIter int, tol float64) tabularOptions {
	if o.L2 == 0 {
		o.L2 = l2
	}
	if o.MaxIter == 0 {
		o.MaxIter = maxIter
	}
	if o.Tol == 0 {
		o.Tol = tol
	}
	if o.MaxCategories == 0 {
		o.MaxCategories = 100
	}
	return o
}

// ParseLinearOptions reads LinearOptions from params. An explicit l2=0 is
// kept as the smallest ridge (1e-10).
func ParseLinearOptions(p Params) (LinearOptions, error) {
	var o tabularOptions
	r := newParams(p)
	o.read(r)
	if err := r.done(KindLinear); err != nil {
		return LinearOptions{}, err
	}
	if o.L2 == 0 && p["l2"] != "" {
		o.L2 = minL2
	}
	return LinearOptions(o).withDefaults(), nil
}

// Params returns o (with defaults applied) as Params; ParseLinearOptions
// reads them back.
func (o LinearOptions) Params() Params { return tabularOptions(o.withDefaults()).params() }

// Linear is regularised linear regression on tabular features (see the
// tabular notes in tabular.go: standardised numbers, one-hot categories,
// mean/"other" imputation). With L1 = 0 the coefficients are the
// closed-form ridge solution, (XᵀX/n + l2·P)w = Xᵀy/n solved by Cholesky;
// with L1 > 0 the elastic net is solved by coordinate descent on the same
// Gram matrix.
//
// Memory: with p design columns (1 + numeric features + Σ (levels+1) over
// categorical ones) Fit allocates about 80·p² bytes beyond the table
// (per-block sums), whatever its row count; one pass over the rows. ctx is
// checked every 2048 rows.
type Linear struct {
	// Options are used by Fit when params is nil or empty.
	Options LinearOptions
}

// Name returns "linear".
func (Linear) Name() string { return KindLinear }

// Fit trains a *LinearModel. params, when non-empty, replace Options.
func (l Linear) Fit(ctx context.Context, t *Table, params Params) (TabularModel, error) {
	o := l.Options.withDefaults()
	if len(params) > 0 {
		var err error
		if o, err = ParseLinearOptions(params); err != nil {
			return nil, err
		}
	}
	return FitLinear(ctx, t, o)
}

// LinearModel is a trained linear regression.
type LinearModel struct{ tabBase }

// FitLinear trains linear regression with o (zero fields take defaults).
func FitLinear(ctx context.Context, t *Table, o LinearOptions) (*LinearModel, error) {
	o = o.withDefaults()
	specs, target, err := buildSpecs(KindLinear, t, o.MaxCategories)
	if err != nil {
		return nil, err
	}
	if !target.Numeric {
		return nil, fmt.Errorf("%s: target column %q holds text such as %q, want numbers: %w", KindLinear, t.Target, firstLevel(target), ErrBadValue)
	}
	m := &LinearModel{tabBase{kind: KindLinear, target: t.Target, feats: specs}}
	m.index()
	d, err := m.bind(t)
	if err != nil {
		return nil, err
	}
	p, n := m.dim(), t.Len()
	qs, cs := blockSyms(p), blockVecs(p)
	inv := 1 / float64(n)
	err = d.accumulate(ctx, n, func(b, r int, idx []int32, val []float64) {
		addOuter(qs[b], inv, idx, val)
		yr, c := inv*target.Floats[r], cs[b] // c += Xᵀy/n
		for a, j := range idx {
			c[j] += yr * val[a]
		}
	})
	if err != nil {
		return nil, err
	}
	q, c := sumSyms(qs), sumVecs(cs)
	addRidge(q, o.L2)
	m.w = make([]float64, p)
	if m.iters, err = solveQuadratic(q, c, o.L1, m.w, o.MaxIter, o.Tol); err != nil {
		return nil, fmt.Errorf("%s: %w", KindLinear, err)
	}
	return m, nil
}

// PredictRow returns the predicted target for one row (see TabularModel).
func (m *LinearModel) PredictRow(values []any) (float64, error) { return m.linearPredictor(values) }

// Predict returns the predicted target of every row of t.
func (m *LinearModel) Predict(t *Table) ([]float64, error) { return m.predictLinear(t) }

// MarshalBinary encodes the model.
func (m *LinearModel) MarshalBinary() ([]byte, error) {
	e := &encoder{}
	m.encode(e)
	return e.b, nil
}

// UnmarshalBinary decodes a model written by MarshalBinary.
func (m *LinearModel) UnmarshalBinary(b []byte) error {
	nm, d := decodeTab(b, KindLinear)
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return d.err
	}
	m.tabBase = nm
	return nil
}
