package learn

import (
	"context"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// ImplicitALSOptions configures implicit-feedback ALS. Zero fields take the
// defaults below, tuned for top-N on MovieLens ml-latest-small.
//
// Params keys: factors, lambda, alpha, iterations, cg_steps, binary, seed,
// workers.
type ImplicitALSOptions struct {
	// Factors is the number k of latent factors (default 32).
	Factors int `json:"factors"`
	// Lambda is the L2 weight on the factors (default 5).
	Lambda float64 `json:"lambda"`
	// Alpha scales confidence: c = 1 + Alpha·r (default 1).
	Alpha float64 `json:"alpha"`
	// Iterations is the number of ALS sweeps (default 12).
	Iterations int `json:"iterations"`
	// CGSteps is the conjugate-gradient steps per solve (default 3).
	CGSteps int `json:"cg_steps"`
	// Binary treats every interaction as r = 1 instead of its rating.
	Binary bool `json:"binary"`
	// Seed drives factor initialisation.
	Seed uint64 `json:"seed"`
	// Workers is the number of goroutines (default GOMAXPROCS).
	Workers int `json:"workers"`
}

func (o ImplicitALSOptions) withDefaults() ImplicitALSOptions {
	if o.Factors == 0 {
		o.Factors = 32
	}
	if o.Lambda == 0 {
		o.Lambda = 5
	}
	if o.Alpha == 0 {
		o.Alpha = 1
	}
	if o.Iterations == 0 {
		o.Iterations = 12
	}
	if o.CGSteps == 0 {
		o.CGSteps = 3
	}
	return o
}

// ParseImplicitALSOptions reads ImplicitALSOptions from params.
func ParseImplicitALSOptions(p Params) (ImplicitALSOptions, error) {
	var o ImplicitALSOptions
	r := newParams(p)
	r.int("factors", &o.Factors, 1, 1024)
	r.float("lambda", &o.Lambda, 1e-9, 1e6)
	r.float("alpha", &o.Alpha, 1e-9, 1e6)
	r.int("iterations", &o.Iterations, 1, 10000)
	r.int("cg_steps", &o.CGSteps, 1, 100)
	r.bool("binary", &o.Binary)
	var seed int64
	r.int64("seed", &seed)
	o.Seed = uint64(seed)
	r.int("workers", &o.Workers, 0, 1024)
	return o.withDefaults(), r.done(KindImplicitALS)
}

// ImplicitALS is the Hu–Koren–Volinsky implicit-feedback learner: every
// interaction is a positive preference with confidence c = 1 + α·r, every
// other pair a zero preference with confidence 1; user and item factors are
// found by alternating least squares, each solve done approximately by a few
// warm-started conjugate-gradient steps (Takács et al.), in parallel over
// Workers goroutines.
//
// Memory: with R rows, U users, I items and k factors, Fit allocates about
// 48·R + 8·(U+I)·k + 16·k² + Workers·24·k bytes beyond the input
// (compacted rows, both CSR views, factors, the Gram matrix, per-worker CG
// vectors); the model keeps 4·R + 8·(U+I)·(k+1)
// bytes plus the ids. ctx is checked between chunks of 64 users or items.
type ImplicitALS struct {
	// Options are used by Fit when params is nil or empty.
	Options ImplicitALSOptions
}

// Name returns "implicit-als".
func (ImplicitALS) Name() string { return KindImplicitALS }

// Fit trains an *ImplicitALSModel. params, when non-empty, replace Options.
func (l ImplicitALS) Fit(ctx context.Context, data *Interactions, params Params) (Model, error) {
	o := l.Options.withDefaults()
	if len(params) > 0 {
		var err error
		if o, err = ParseImplicitALSOptions(params); err != nil {
			return nil, err
		}
	}
	return FitImplicitALS(ctx, data, o)
}

// ImplicitALSModel is a trained implicit ALS model.
type ImplicitALSModel struct {
	base
	k    int
	x, y []float64 // user and item factors, row-major (·k)
}

// FitImplicitALS trains implicit ALS with o (zero fields take defaults).
func FitImplicitALS(ctx context.Context, data *Interactions, o ImplicitALSOptions) (*ImplicitALSModel, error) {
	if data == nil || len(data.Rows) == 0 {
		return nil, fmt.Errorf("%s: %w", KindImplicitALS, ErrNoData)
	}
	o = o.withDefaults()
	if o.Factors < 1 || o.Lambda <= 0 || o.Alpha <= 0 || o.Iterations < 1 || o.CGSteps < 1 {
		return nil, fmt.Errorf("%s: options %+v out of range: %w", KindImplicitALS, o, ErrInvalidParam)
	}
	rows, users, items := compact(data)
	for n, r := range rows {
		if o.Binary || r.Rating <= 0 {
			// Non-positive strengths carry no preference signal; keep the
			// pair as a minimal positive so the user stays known.
			rows[n].Rating = 1
		}
	}
	nu, ni, k := len(users), len(items), o.Factors
	m := &ImplicitALSModel{k: k, base: newBase(rows, users, items, nil)}
	m.popOrder, m.popScore, _ = popularity(rows, ni, PopularityOptions{By: "count"})

	rng := rand.New(rand.NewPCG(o.Seed, 0x69616c73))
	m.x, m.y = make([]float64, nu*k), make([]float64, ni*k)
	for i := range m.x {
		m.x[i] = rng.NormFloat64() * 0.01
	}
	for i := range m.y {
		m.y[i] = rng.NormFloat64() * 0.01
	}
	byUser := buildCSR(rows, nu, false)
	byItem := buildCSR(rows, ni, true)
	w := workers(o.Workers)
	cgs := make([]*cg, w)
	for i := range cgs {
		cgs[i] = &cg{k: k, r: make([]float64, k), p: make([]float64, k), ap: make([]float64, k)}
	}
	gram := make([]float64, k*k)
	for it := 0; it < o.Iterations; it++ {
		for _, half := range []struct {
			c          csr
			solve, fix []float64
			n          int
		}{{byUser, m.x, m.y, nu}, {byItem, m.y, m.x, ni}} {
			gramPlusReg(half.fix, k, o.Lambda, gram)
			err := parallel(ctx, half.n, w, func(g, lo, hi int) {
				for r := lo; r < hi; r++ {
					cgs[g].solve(half.c, r, half.fix, gram, o.Alpha, o.CGSteps, half.solve[r*k:(r+1)*k])
				}
			})
			if err != nil {
				return nil, err
			}
		}
		if report := progress(ctx); report != nil {
			report(it+1, map[string]float64{"loss": m.loss(byUser, o.Lambda, o.Alpha)})
		}
	}
	return m, nil
}

// gramPlusReg writes YᵀY + λI (full, row-major k×k) for factors y (n×k).
func gramPlusReg(y []float64, k int, lambda float64, out []float64) {
	n := len(y) / k
	var s mat.SymDense
	s.SymOuterK(1, mat.NewDense(n, k, y).T())
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			out[i*k+j] = s.At(i, j)
		}
		out[i*k+i] += lambda
	}
}

// cg is one worker's conjugate-gradient buffers.
type cg struct {
	k        int
	r, p, ap []float64
}

// solve improves x (warm start) towards the solution of
// (YᵀY + λI + Σ_i (c_i−1) y_i y_iᵀ) x = Σ_i c_i y_i over row r's items.
func (s *cg) solve(c csr, row int, y, gram []float64, alpha float64, steps int, x []float64) {
	k := s.k
	lo, hi := c.ptr[row], c.ptr[row+1]
	if lo == hi {
		for i := range x {
			x[i] = 0
		}
		return
	}
	r, p, ap := s.r, s.p, s.ap
	// r = b − A x
	for i := 0; i < k; i++ {
		r[i] = -dot(gram[i*k:(i+1)*k], x)
	}
	for e := lo; e < hi; e++ {
		yi := y[int(c.cols[e])*k : int(c.cols[e]+1)*k]
		conf := 1 + alpha*float64(c.vals[e])
		coef := conf - (conf-1)*dot(yi, x)
		for j, v := range yi {
			r[j] += coef * v
		}
	}
	copy(p, r)
	rsold := dot(r, r)
	for step := 0; step < steps && rsold > 1e-20; step++ {
		for i := 0; i < k; i++ {
			ap[i] = dot(gram[i*k:(i+1)*k], p)
		}
		for e := lo; e < hi; e++ {
			yi := y[int(c.cols[e])*k : int(c.cols[e]+1)*k]
			conf := 1 + alpha*float64(c.vals[e])
			coef := (conf - 1) * dot(yi, p)
			for j, v := range yi {
				ap[j] += coef * v
			}
		}
		pap := dot(p, ap)
		if pap <= 0 {
			return
		}
		a := rsold / pap
		for i := range x {
			x[i] += a * p[i]
			r[i] -= a * ap[i]
		}
		rsnew := dot(r, r)
		for i := range p {
			p[i] = r[i] + rsnew/rsold*p[i]
		}
		rsold = rsnew
	}
}

// Predict returns the preference x_u·y_i; for an unknown user or item it
// returns the item's interaction count (0 for an unknown item), coldStart true.
func (m *ImplicitALSModel) Predict(user, item string) (float64, bool) {
	u, uok := m.users.Index(user)
	i, iok := m.items.Index(item)
	switch {
	case uok && iok:
		k := m.k
		return dot(m.x[int(u)*k:int(u+1)*k], m.y[int(i)*k:int(i+1)*k]), false
	case iok:
		return m.popScore[i], true
	}
	return 0, true
}

// Recommend ranks every item by preference x_u·y_i.
func (m *ImplicitALSModel) Recommend(user string, k int, excludeSeen bool) []Scored {
	return m.recommend(user, k, excludeSeen, func(u int32, out []float64) {
		f := m.k
		xu := m.x[int(u)*f : int(u+1)*f]
		for i := range out {
			out[i] = dot(xu, m.y[i*f:(i+1)*f])
		}
	})
}

// MarshalBinary encodes the model.
func (m *ImplicitALSModel) MarshalBinary() ([]byte, error) {
	e := &encoder{}
	e.header(KindImplicitALS)
	m.base.encode(e)
	e.u32(uint32(m.k))
	e.f64s(m.x)
	e.f64s(m.y)
	return e.b, nil
}

// UnmarshalBinary decodes a model written by MarshalBinary.
func (m *ImplicitALSModel) UnmarshalBinary(b []byte) error {
	kind, d := readHeader(b)
	if d.err == nil && kind != KindImplicitALS {
		d.fail("kind %q, want %q", kind, KindImplicitALS)
	}
	var nm ImplicitALSModel
	nm.base.decode(d)
	nm.k = int(d.u32())
	nm.x, nm.y = d.f64s(), d.f64s()
	if d.err == nil {
		nu, ni := len(nm.userIDs), len(nm.itemIDs)
		if nm.k < 1 || len(nm.x) != nu*nm.k || len(nm.y) != ni*nm.k {
			d.fail("factor sizes do not match %d users, %d items, %d factors", nu, ni, nm.k)
		} else if len(d.b) != 0 {
			d.fail("%d trailing bytes", len(d.b))
		}
	}
	if d.err != nil {
		return d.err
	}
	*m = nm
	return nil
}
