package learn

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// The tabular learners (linear, logistic) share one encoding of a row into
// a design vector x: x[0] = 1 (the intercept), then per feature in order
//
//   - numeric: (v − mean) / std with the training mean and standard
//     deviation; a missing value (or NaN at prediction) becomes 0, i.e. it
//     is imputed with the training mean;
//   - categorical: one 0/1 column per level kept (the max_categories most
//     frequent training values, ties by name) plus one "other" column for
//     a missing value, a rarer value, and a value never seen in training.
//
// The model is linear in x; its coefficients are fitted by minimising
// f(w) + l2/2·Σ_{j≥1} w_j² + l1·Σ_{j≥1} |w_j|, f being the mean loss over
// the rows (squared error / 2 for linear, log-loss for logistic); the
// intercept is not penalised. Both learners reduce each step to a quadratic
// ½wᵀQw − cᵀw (+ the L1 term) with a p×p matrix Q accumulated row by row:
// a design row has only 1 + f non-zeros for f features (one per one-hot
// block), so a pass over n rows costs O(n·f²) however many categories
// there are, and memory is O(p²) whatever the row count. The quadratic is
// solved by Cholesky (l1 = 0) or by cyclic coordinate descent with
// soft-thresholding (l1 > 0; Friedman, Hastie and Tibshirani's covariance
// updates). Passes run on GOMAXPROCS goroutines over 8 fixed row blocks
// summed in order, so results do not depend on the core count.

// tabChunk is how often (in rows) a pass checks its context.
const tabChunk = 2048

// minL2 replaces l2 = 0: a categorical feature's one-hot columns sum to
// one, like the intercept column, so the unpenalised system is singular.
const minL2 = 1e-10

// tabularOptions are the options both tabular learners share.
type tabularOptions struct {
	L2            float64
	L1            float64
	MaxIter       int
	Tol           float64
	MaxCategories int
}

func (o *tabularOptions) read(r *params) {
	r.float("l2", &o.L2, 0, 1e9)
	r.float("l1", &o.L1, 0, 1e9)
	r.int("max_iter", &o.MaxIter, 1, 1_000_000)
	r.float("tol", &o.Tol, 1e-15, 1)
	r.int("max_categories", &o.MaxCategories, 1, 100_000)
}

func (o tabularOptions) params() Params {
	return Params{
		"l2": fmtF(o.L2), "l1": fmtF(o.L1), "max_iter": strconv.Itoa(o.MaxIter),
		"tol": fmtF(o.Tol), "max_categories": strconv.Itoa(o.MaxCategories),
	}
}

// featSpec is how one feature is encoded.
type featSpec struct {
	name      string
	numeric   bool
	integral  bool
	optional  bool // had missing values in training
	mean, std float64
	levels    []string // categorical: kept levels, in design order
	lookup    map[string]int
}

// width returns the number of design columns of f.
func (f *featSpec) width() int {
	if f.numeric {
		return 1
	}
	return len(f.levels) + 1
}

// tabBase is what both tabular models hold.
type tabBase struct {
	kind   string
	target string
	feats  []featSpec
	w      []float64 // design-space coefficients, w[0] the intercept
	iters  int       // iterations (Newton steps or coordinate-descent sweeps)
}

func (m *tabBase) dim() int {
	p := 1
	for i := range m.feats {
		p += m.feats[i].width()
	}
	return p
}

func (m *tabBase) index() {
	for i := range m.feats {
		f := &m.feats[i]
		if !f.numeric {
			f.lookup = make(map[string]int, len(f.levels))
			for n, l := range f.levels {
				f.lookup[l] = n
			}
		}
	}
}

// Kind returns the learner kind.
func (m *tabBase) Kind() string { return m.kind }

// Target returns the predicted column's name.
func (m *tabBase) Target() string { return m.target }

// Iterations returns how many iterations training ran (Newton steps for
// logistic, coordinate-descent sweeps for linear with l1 > 0, 1 for the
// closed-form ridge solve).
func (m *tabBase) Iterations() int { return m.iters }

// Features returns the input columns in PredictRow order.
func (m *tabBase) Features() []TabularFeature {
	out := make([]TabularFeature, len(m.feats))
	for i, f := range m.feats {
		out[i] = TabularFeature{Name: f.name, Numeric: f.numeric, Integral: f.integral, Optional: f.optional}
	}
	return out
}

// Coefficients returns the model's coefficients in the units of the data:
// per unit of a numeric feature (keyed by its name), and the one-hot
// coefficient of each category (keyed "name=value", the other bucket
// "name=*"); the difference between two categories' coefficients is their
// effect relative to each other. The linear predictor of a row is
// Intercept() + Σ coefficient·value over numeric features + the
// coefficient of each categorical feature's category.
func (m *tabBase) Coefficients() map[string]float64 {
	out := map[string]float64{}
	off := 1
	for _, f := range m.feats {
		if f.numeric {
			out[f.name] = m.w[off] / f.std
		} else {
			for n, l := range f.levels {
				out[f.name+"="+l] = m.w[off+n]
			}
			out[f.name+"=*"] = m.w[off+len(f.levels)]
		}
		off += f.width()
	}
	return out
}

// Intercept returns the intercept in the units of the data: the linear
// predictor when every numeric feature is 0, before the category
// coefficients are added (see Coefficients).
func (m *tabBase) Intercept() float64 {
	b := m.w[0]
	off := 1
	for _, f := range m.feats {
		if f.numeric {
			b -= m.w[off] * f.mean / f.std
		}
		off += f.width()
	}
	return b
}

// linearPredictor returns wᵀx for one row of values.
func (m *tabBase) linearPredictor(values []any) (float64, error) {
	if len(values) != len(m.feats) {
		return 0, fmt.Errorf("%d values for %d features: %w", len(values), len(m.feats), ErrBadValue)
	}
	s := m.w[0]
	off := 1
	for i := range m.feats {
		f := &m.feats[i]
		if f.numeric {
			v, miss, err := numericValue(values[i])
			if err != nil {
				return 0, fmt.Errorf("feature %q: %v: %w", f.name, err, ErrBadValue)
			}
			if !miss {
				s += m.w[off] * (v - f.mean) / f.std
			}
		} else {
			s += m.w[off+f.level(categoryValue(values[i]))]
		}
		off += f.width()
	}
	return s, nil
}

// level returns the design offset (within the feature) of category s; ""
// is missing and goes to the other bucket like an unseen value.
func (f *featSpec) level(s string) int {
	if n, ok := f.lookup[s]; ok && s != "" {
		return n
	}
	return len(f.levels)
}

// numericValue converts a prediction input to a number; nil, NaN and a
// missing-value string are missing.
func numericValue(v any) (float64, bool, error) {
	var f float64
	switch x := v.(type) {
	case nil:
		return 0, true, nil
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	case int:
		f = float64(x)
	case bool:
		if x {
			f = 1
		}
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false, fmt.Errorf("%q is not a number", x.String())
		}
	case string:
		s := strings.TrimSpace(x)
		if missingCell(s) {
			return 0, true, nil
		}
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return 0, false, fmt.Errorf("%q is not a number", x)
		}
	default:
		return 0, false, fmt.Errorf("%v (%T) is not a number", v, v)
	}
	if math.IsNaN(f) {
		return 0, true, nil
	}
	if math.IsInf(f, 0) {
		return 0, false, fmt.Errorf("%v is not finite", f)
	}
	return f, false, nil
}

// categoryValue converts a prediction input to a category; "" is missing.
func categoryValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		s := strings.TrimSpace(x)
		if missingCell(s) {
			return ""
		}
		return s
	case float64:
		if math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// design binds a model's feature specs to the columns of a table, for
// encoding its rows.
type design struct {
	m    *tabBase
	cols []*Column
	// catMap[i][code] is the design offset within feature i of a category
	// code of its column (the other bucket for unknown levels).
	catMap [][]int
}

// bind finds the model's features in t by name. A categorical feature in a
// numeric column is read as the numbers' text; a numeric feature in a
// categorical column is ErrBadValue.
func (m *tabBase) bind(t *Table) (*design, error) {
	d := &design{m: m, cols: make([]*Column, len(m.feats)), catMap: make([][]int, len(m.feats))}
	for i := range m.feats {
		f := &m.feats[i]
		c, ok := t.Column(f.name)
		if !ok {
			return nil, fmt.Errorf("feature column %q not in the data (columns: %s): %w", f.name, strings.Join(t.Columns(), ", "), ErrUnknownColumn)
		}
		if f.numeric && !c.Numeric {
			return nil, fmt.Errorf("feature column %q: want numbers, the data holds text such as %q: %w", f.name, firstLevel(c), ErrBadValue)
		}
		if !f.numeric && !c.Numeric {
			cm := make([]int, len(c.Levels))
			for code, l := range c.Levels {
				cm[code] = f.level(l)
			}
			d.catMap[i] = cm
		}
		d.cols[i] = c
	}
	return d, nil
}

func firstLevel(c *Column) string {
	if len(c.Levels) > 0 {
		return c.Levels[0]
	}
	return ""
}

// encode writes the design row of table row r in sparse form: every row
// has exactly 1 + len(feats) entries (the intercept, one per numeric
// feature, one per categorical feature's one-hot column), at increasing
// design indices idx with values val.
func (d *design) encode(r int, idx []int32, val []float64) {
	idx[0], val[0] = 0, 1
	off := 1
	for i := range d.m.feats {
		f := &d.m.feats[i]
		c := d.cols[i]
		k := i + 1
		switch {
		case f.numeric:
			idx[k], val[k] = int32(off), 0
			if v := c.Floats[r]; !math.IsNaN(v) {
				val[k] = (v - f.mean) / f.std
			}
		case !c.Numeric:
			val[k] = 1
			if code := c.Codes[r]; code >= 0 {
				idx[k] = int32(off + d.catMap[i][code])
			} else {
				idx[k] = int32(off + len(f.levels))
			}
		default: // categorical feature, numeric column
			v := c.Floats[r]
			s := ""
			if !math.IsNaN(v) {
				s = strconv.FormatFloat(v, 'g', -1, 64)
			}
			idx[k], val[k] = int32(off+f.level(s)), 1
		}
		off += f.width()
	}
}

// sparseDot returns wᵀx for a sparse row.
func sparseDot(w []float64, idx []int32, val []float64) float64 {
	var s float64
	for a, j := range idx {
		s += w[j] * val[a]
	}
	return s
}

// addOuter adds alpha·xxᵀ to the upper triangle of q for a sparse row
// (idx increasing).
func addOuter(q blas64.Symmetric, alpha float64, idx []int32, val []float64) {
	for a, i := range idx {
		ai := alpha * val[a]
		if ai == 0 {
			continue
		}
		row := q.Data[int(i)*q.Stride:]
		for b := a; b < len(idx); b++ {
			row[idx[b]] += ai * val[b]
		}
	}
}

// predictLinear returns wᵀx for every row of t.
func (m *tabBase) predictLinear(t *Table) ([]float64, error) {
	d, err := m.bind(t)
	if err != nil {
		return nil, err
	}
	nnz := 1 + len(m.feats)
	idx, val := make([]int32, nnz), make([]float64, nnz)
	out := make([]float64, t.Len())
	for r := range out {
		d.encode(r, idx, val)
		out[r] = sparseDot(m.w, idx, val)
	}
	return out, nil
}

// buildSpecs derives the feature encodings from the training table and
// returns the target column. Errors: unknown columns, no rows, a single
// row, a constant or all-missing feature, a missing target value.
func buildSpecs(kind string, t *Table, maxCategories int) ([]featSpec, *Column, error) {
	if t == nil || t.Len() == 0 {
		return nil, nil, fmt.Errorf("%s: %w", kind, ErrNoData)
	}
	if t.Target == "" {
		return nil, nil, fmt.Errorf("%s: the target column is not set: %w", kind, ErrInvalidParam)
	}
	target, ok := t.Column(t.Target)
	if !ok {
		return nil, nil, fmt.Errorf("%s: target column %q not in the data (columns: %s): %w", kind, t.Target, strings.Join(t.Columns(), ", "), ErrUnknownColumn)
	}
	if t.Len() < 2 {
		return nil, nil, fmt.Errorf("%s: %d row, want at least 2: %w", kind, t.Len(), ErrNoData)
	}
	for i := 0; i < target.Len(); i++ {
		if target.Missing(i) {
			return nil, nil, fmt.Errorf("%s: target column %q is missing a value in data row %d: %w", kind, t.Target, i+1, ErrBadValue)
		}
	}
	names, err := t.FeatureNames()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", kind, err)
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("%s: no feature columns besides the target %q: %w", kind, t.Target, ErrNoData)
	}
	specs := make([]featSpec, len(names))
	for i, name := range names {
		c, _ := t.Column(name)
		f := featSpec{name: name, numeric: c.Numeric, integral: c.Integral}
		if c.Numeric {
			var n, sum float64
			for _, v := range c.Floats {
				if math.IsNaN(v) {
					f.optional = true
					continue
				}
				n++
				sum += v
			}
			if n == 0 {
				return nil, nil, fmt.Errorf("%s: feature column %q has no values: %w", kind, name, ErrBadValue)
			}
			f.mean = sum / n
			var ss float64
			for _, v := range c.Floats {
				if !math.IsNaN(v) {
					ss += (v - f.mean) * (v - f.mean)
				}
			}
			f.std = math.Sqrt(ss / n)
			if !(f.std > 1e-12*math.Max(1, math.Abs(f.mean))) {
				return nil, nil, fmt.Errorf("%s: feature column %q is constant (%g): leave it out of the features: %w", kind, name, f.mean, ErrBadValue)
			}
		} else {
			counts := make([]int, len(c.Levels))
			for _, code := range c.Codes {
				if code < 0 {
					f.optional = true
					continue
				}
				counts[code]++
			}
			var used []int
			for code, n := range counts {
				if n > 0 {
					used = append(used, code)
				}
			}
			if len(used) == 0 {
				return nil, nil, fmt.Errorf("%s: feature column %q has no values: %w", kind, name, ErrBadValue)
			}
			if len(used) == 1 && !f.optional {
				return nil, nil, fmt.Errorf("%s: feature column %q is constant (%q): leave it out of the features: %w", kind, name, c.Levels[used[0]], ErrBadValue)
			}
			sort.Slice(used, func(a, b int) bool {
				if counts[used[a]] != counts[used[b]] {
					return counts[used[a]] > counts[used[b]]
				}
				return c.Levels[used[a]] < c.Levels[used[b]]
			})
			if len(used) > maxCategories {
				used = used[:maxCategories]
			}
			for _, code := range used {
				f.levels = append(f.levels, c.Levels[code])
			}
			sort.Strings(f.levels)
		}
		specs[i] = f
	}
	return specs, target, nil
}

// tabBlocks is the number of contiguous row blocks a pass is cut into.
// Each block accumulates into its own sums, which are added in block
// order, so results do not depend on how many goroutines ran the pass.
const tabBlocks = 8

// accumulate runs one pass over rows [0, n) of d: the rows are cut into
// tabBlocks contiguous blocks processed in parallel (GOMAXPROCS
// goroutines); f(block, r, idx, val) gets each row's sparse design row
// (see encode; the slices are reused). ctx is checked every tabChunk rows.
func (d *design) accumulate(ctx context.Context, n int, f func(block, r int, idx []int32, val []float64)) error {
	nnz := 1 + len(d.m.feats)
	var next atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < min(workers(0), tabBlocks); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx, val := make([]int32, nnz), make([]float64, nnz)
			for {
				b := int(next.Add(1)) - 1
				if b >= tabBlocks {
					return
				}
				hi := (b + 1) * n / tabBlocks
				for r := b * n / tabBlocks; r < hi; r++ {
					if r%tabChunk == 0 && ctx.Err() != nil {
						return
					}
					d.encode(r, idx, val)
					f(b, r, idx, val)
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// blockSyms returns tabBlocks zero p×p matrices.
func blockSyms(p int) []blas64.Symmetric {
	out := make([]blas64.Symmetric, tabBlocks)
	for i := range out {
		out[i] = newSym(p)
	}
	return out
}

// sumSyms adds the upper triangles of qs in order into a new matrix.
func sumSyms(qs []blas64.Symmetric) blas64.Symmetric {
	q := newSym(qs[0].N)
	for _, b := range qs {
		for i, v := range b.Data {
			q.Data[i] += v
		}
	}
	return q
}

// sumVecs adds vs in order.
func sumVecs(vs [][]float64) []float64 {
	out := make([]float64, len(vs[0]))
	for _, v := range vs {
		for i, x := range v {
			out[i] += x
		}
	}
	return out
}

func blockVecs(p int) [][]float64 {
	out := make([][]float64, tabBlocks)
	for i := range out {
		out[i] = make([]float64, p)
	}
	return out
}

// newSym returns a zero p×p symmetric matrix (upper triangle used).
func newSym(p int) blas64.Symmetric {
	return blas64.Symmetric{N: p, Stride: p, Data: make([]float64, p*p), Uplo: blas.Upper}
}

// addRidge adds l2 to the diagonal of q except the intercept's.
func addRidge(q blas64.Symmetric, l2 float64) {
	for j := 1; j < q.N; j++ {
		q.Data[j*q.Stride+j] += l2
	}
}

// solveQuadratic minimises ½wᵀQw − cᵀw + l1·Σ_{j≥1}|w_j| (Q symmetric
// positive definite, upper triangle). With l1 = 0 it solves Qw = c by
// Cholesky; else it runs cyclic coordinate descent from w (a warm start)
// until the largest coefficient change is below tol·(1 + max|w|) or after
// maxIter sweeps. It writes w and returns the sweeps run (1 for Cholesky).
func solveQuadratic(q blas64.Symmetric, c []float64, l1 float64, w []float64, maxIter int, tol float64) (int, error) {
	p := q.N
	if l1 == 0 {
		sym := mat.NewSymDense(p, nil)
		for i := 0; i < p; i++ {
			for j := i; j < p; j++ {
				sym.SetSym(i, j, q.Data[i*q.Stride+j])
			}
		}
		var ch mat.Cholesky
		if !ch.Factorize(sym) {
			return 0, fmt.Errorf("the system is not positive definite (collinear features or too few rows; raise l2): %w", ErrBadValue)
		}
		var x mat.VecDense
		if err := ch.SolveVecTo(&x, mat.NewVecDense(p, append([]float64(nil), c...))); err != nil {
			return 0, fmt.Errorf("solve: %v: %w", err, ErrBadValue)
		}
		for j := range w {
			w[j] = x.AtVec(j)
		}
		return 1, nil
	}
	at := func(i, j int) float64 {
		if i > j {
			i, j = j, i
		}
		return q.Data[i*q.Stride+j]
	}
	// g = Qw, kept up to date as coordinates move.
	g := make([]float64, p)
	for i := 0; i < p; i++ {
		for j := 0; j < p; j++ {
			g[i] += at(i, j) * w[j]
		}
	}
	sweeps := 0
	for sweeps < maxIter {
		sweeps++
		var maxDelta, maxW float64
		for j := 0; j < p; j++ {
			qjj := at(j, j)
			if qjj <= 0 {
				continue
			}
			r := c[j] - (g[j] - qjj*w[j])
			nw := r / qjj
			if j > 0 {
				nw = softThreshold(r, l1) / qjj
			}
			if delta := nw - w[j]; delta != 0 {
				for i := 0; i < p; i++ {
					g[i] += delta * at(i, j)
				}
				w[j] = nw
				maxDelta = math.Max(maxDelta, math.Abs(delta))
			}
			maxW = math.Max(maxW, math.Abs(w[j]))
		}
		if maxDelta <= tol*(1+maxW) {
			break
		}
	}
	return sweeps, nil
}

func softThreshold(v, t float64) float64 {
	switch {
	case v > t:
		return v - t
	case v < -t:
		return v + t
	}
	return 0
}

// encodeTab writes the shared part of a tabular model.
func (m *tabBase) encode(e *encoder) {
	e.header(m.kind)
	e.str(m.target)
	e.u32(uint32(len(m.feats)))
	for _, f := range m.feats {
		e.str(f.name)
		var flags byte
		if f.numeric {
			flags |= 1
		}
		if f.integral {
			flags |= 2
		}
		if f.optional {
			flags |= 4
		}
		e.b = append(e.b, flags)
		e.f64(f.mean)
		e.f64(f.std)
		e.strs(f.levels)
	}
	e.f64s(m.w)
	e.u32(uint32(m.iters))
}

// decodeTab reads what encode wrote, checking the kind.
func decodeTab(b []byte, kind string) (tabBase, *decoder) {
	k, d := readHeader(b)
	var m tabBase
	if d.err == nil && k != kind {
		d.fail("kind %q, want %q", k, kind)
	}
	m.kind = kind
	m.target = d.str()
	n := d.length(1)
	for i := 0; i < n && d.err == nil; i++ {
		var f featSpec
		f.name = d.str()
		flags := d.take(1)
		if d.err != nil {
			break
		}
		f.numeric, f.integral, f.optional = flags[0]&1 != 0, flags[0]&2 != 0, flags[0]&4 != 0
		f.mean, f.std = d.f64(), d.f64()
		f.levels = d.strs()
		if f.numeric && !(f.std > 0) {
			d.fail("feature %q: standard deviation %v", f.name, f.std)
		}
		m.feats = append(m.feats, f)
	}
	m.w = d.f64s()
	m.iters = int(d.u32())
	if d.err == nil && len(m.w) != m.dim() {
		d.fail("%d coefficients for %d design columns", len(m.w), m.dim())
	}
	if d.err == nil {
		m.index()
	}
	return m, d
}

// UnmarshalTabularModel decodes a model written by a tabular learner's
// MarshalBinary. Errors wrap ErrBadModel.
func UnmarshalTabularModel(b []byte) (TabularModel, error) {
	kind, d := readHeader(b)
	if d.err != nil {
		return nil, d.err
	}
	var m TabularModel
	switch kind {
	case KindLinear:
		m = &LinearModel{}
	case KindLogistic:
		m = &LogisticModel{}
	default:
		return nil, fmt.Errorf("unknown tabular model kind %q: %w", kind, ErrBadModel)
	}
	if err := m.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return m, nil
}

// TabularReport is the evaluation of a tabular model on a test table.
// Metrics holds rmse, mae and r2 (linear) or log_loss, accuracy and auc
// (logistic), each on the test rows.
type TabularReport struct {
	Learner    string             `json:"learner"`
	Target     string             `json:"target"`
	Features   []string           `json:"features"`
	TrainRows  int                `json:"train_rows"`
	TestRows   int                `json:"test_rows"`
	FitSeconds float64            `json:"fit_seconds"`
	Metrics    map[string]float64 `json:"metrics"`
}

// TabularMetrics scores m on t: rmse, mae and r2 for a linear model;
// log_loss, accuracy (at the model's threshold) and auc for a logistic one.
func TabularMetrics(m TabularModel, t *Table) (map[string]float64, error) {
	pred, err := m.Predict(t)
	if err != nil {
		return nil, err
	}
	target, ok := t.Column(m.Target())
	if !ok {
		return nil, fmt.Errorf("target column %q not in the data: %w", m.Target(), ErrUnknownColumn)
	}
	switch mm := m.(type) {
	case *LogisticModel:
		y, err := binaryTarget(target)
		if err != nil {
			return nil, err
		}
		return map[string]float64{
			"log_loss": LogLoss(pred, y), "accuracy": Accuracy(pred, y, mm.threshold), "auc": AUC(pred, y),
		}, nil
	default:
		if !target.Numeric {
			return nil, fmt.Errorf("target column %q is not numeric: %w", m.Target(), ErrBadValue)
		}
		return map[string]float64{
			"rmse": RMSE(pred, target.Floats), "mae": MAE(pred, target.Floats), "r2": R2(pred, target.Floats),
		}, nil
	}
}

// R2 returns the coefficient of determination 1 − SS_res/SS_tot of pred
// against actual, or NaN when actual is constant, empty or the lengths
// differ.
func R2(pred, actual []float64) float64 {
	if len(pred) == 0 || len(pred) != len(actual) {
		return math.NaN()
	}
	var mean float64
	for _, v := range actual {
		mean += v
	}
	mean /= float64(len(actual))
	var res, tot float64
	for i, v := range actual {
		res += (v - pred[i]) * (v - pred[i])
		tot += (v - mean) * (v - mean)
	}
	if tot == 0 {
		return math.NaN()
	}
	return 1 - res/tot
}

// LogLoss returns the mean negative log-likelihood of 0/1 labels y under
// probabilities prob (clipped to [1e-15, 1−1e-15]), or NaN for empty or
// mismatched input.
func LogLoss(prob, y []float64) float64 {
	if len(prob) == 0 || len(prob) != len(y) {
		return math.NaN()
	}
	var s float64
	for i, p := range prob {
		p = min(max(p, 1e-15), 1-1e-15)
		if y[i] > 0.5 {
			s -= math.Log(p)
		} else {
			s -= math.Log1p(-p)
		}
	}
	return s / float64(len(prob))
}

// Accuracy returns the share of rows whose class (prob ≥ threshold) equals
// the 0/1 label y, or NaN for empty or mismatched input.
func Accuracy(prob, y []float64, threshold float64) float64 {
	if len(prob) == 0 || len(prob) != len(y) {
		return math.NaN()
	}
	var hit int
	for i, p := range prob {
		if (p >= threshold) == (y[i] > 0.5) {
			hit++
		}
	}
	return float64(hit) / float64(len(prob))
}

// AUC returns the area under the ROC curve of scores against 0/1 labels
// y: the probability that a random positive scores above a random negative,
// ties counting one half (Mann–Whitney). NaN when a class is absent.
func AUC(scores, y []float64) float64 {
	if len(scores) == 0 || len(scores) != len(y) {
		return math.NaN()
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var rankSum, npos float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			if y[idx[k]] > 0.5 {
				rankSum += avg
				npos++
			}
		}
		i = j
	}
	nneg := float64(len(scores)) - npos
	if npos == 0 || nneg == 0 {
		return math.NaN()
	}
	return (rankSum - npos*(npos+1)/2) / (npos * nneg)
}

// EvaluateTabular fits l on train and scores it on test.
func EvaluateTabular(ctx context.Context, l TabularLearner, train, test *Table, params Params) (*TabularReport, TabularModel, error) {
	start := time.Now()
	m, err := l.Fit(ctx, train, params)
	if err != nil {
		return nil, nil, err
	}
	fit := time.Since(start).Seconds()
	metrics, err := TabularMetrics(m, test)
	if err != nil {
		return nil, nil, err
	}
	feats := make([]string, 0, len(m.Features()))
	for _, f := range m.Features() {
		feats = append(feats, f.Name)
	}
	for k, v := range metrics {
		if math.IsNaN(v) {
			delete(metrics, k)
		}
	}
	return &TabularReport{
		Learner: l.Name(), Target: m.Target(), Features: feats, TrainRows: train.Len(), TestRows: test.Len(),
		FitSeconds: fit, Metrics: metrics,
	}, m, nil
}
