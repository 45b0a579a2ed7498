package learn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// MFOptions configures biased matrix factorisation. Zero fields take the
// defaults below, tuned on MovieLens ml-latest-small.
//
// Params keys: factors, lambda, bias_lambda, epochs, validation_fraction,
// patience, early_stopping, refit, min_item_count, popularity_weight (0 disables), seed, workers.
type MFOptions struct {
	// Factors is the number k of latent factors (default 8).
	Factors int `json:"factors"`
	// Lambda is the L2 weight on factors, scaled by each user's or item's
	// rating count (ALS-WR; default 0.25).
	Lambda float64 `json:"lambda"`
	// BiasLambda is the L2 weight on user and item biases (default 5).
	BiasLambda float64 `json:"bias_lambda"`
	// Epochs is the most ALS sweeps (users then items) to run (default 30).
	Epochs int `json:"epochs"`
	// ValidationFraction of the rows is held out to pick the number of
	// epochs when early stopping is on (default 0.1).
	ValidationFraction float64 `json:"validation_fraction"`
	// Patience is how many epochs without validation improvement end
	// training (default 3).
	Patience int `json:"patience"`
	// NoEarlyStopping trains all Epochs on all rows.
	NoEarlyStopping bool `json:"no_early_stopping"`
	// NoRefit keeps the model trained on the rows minus the validation
	// rows; by default training is repeated on all rows for the best
	// number of epochs.
	NoRefit bool `json:"no_refit"`
	// MinItemCount is the fewest training ratings an item needs to be
	// recommended (default 10; 1 recommends every item). Predict is not
	// affected. Ranking by predicted rating otherwise favours rarely rated
	// items whose few ratings happen to be high.
	MinItemCount int `json:"min_item_count"`
	// PopularityWeight is w in Recommend's ranking score r̂(u,i) + w·ln(1+n_i),
	// n_i being the item's training rating count (default 0.5). A predicted
	// rating says how much the user would like an item, not how likely they
	// are to watch it; the log count is that prior. Predict is not affected.
	PopularityWeight float64 `json:"popularity_weight"`
	// NoPopularityBlend ranks by predicted rating alone (w = 0).
	NoPopularityBlend bool `json:"no_popularity_blend"`
	// Seed drives factor initialisation and the validation split.
	Seed uint64 `json:"seed"`
	// Workers is the number of goroutines (default GOMAXPROCS).
	Workers int `json:"workers"`
}

func (o MFOptions) withDefaults() MFOptions {
	if o.Factors == 0 {
		o.Factors = 8
	}
	if o.Lambda == 0 {
		o.Lambda = 0.25
	}
	if o.BiasLambda == 0 {
		o.BiasLambda = 5
	}
	if o.Epochs == 0 {
		o.Epochs = 30
	}
	if o.ValidationFraction == 0 {
		o.ValidationFraction = 0.1
	}
	if o.Patience == 0 {
		o.Patience = 3
	}
	if o.MinItemCount == 0 {
		o.MinItemCount = 10
	}
	if o.PopularityWeight == 0 {
		o.PopularityWeight = 0.5
	}
	return o
}

// ParseMFOptions reads MFOptions from params.
func ParseMFOptions(p Params) (MFOptions, error) {
	var o MFOptions
	r := newParams(p)
	r.int("factors", &o.Factors, 1, 1024)
	r.float("lambda", &o.Lambda, 1e-9, 1e6)
	r.float("bias_lambda", &o.BiasLambda, 1e-9, 1e9)
	r.int("epochs", &o.Epochs, 1, 10000)
	r.float("validation_fraction", &o.ValidationFraction, 0.001, 0.9)
	r.int("patience", &o.Patience, 1, 10000)
	r.int("min_item_count", &o.MinItemCount, 1, 1<<30)
	r.float("popularity_weight", &o.PopularityWeight, 0, 1e6)
	if o.PopularityWeight == 0 && p["popularity_weight"] != "" {
		o.NoPopularityBlend = true
	}
	var es, refit = true, true
	r.bool("early_stopping", &es)
	r.bool("refit", &refit)
	o.NoEarlyStopping, o.NoRefit = !es, !refit
	var seed int64
	r.int64("seed", &seed)
	o.Seed = uint64(seed)
	r.int("workers", &o.Workers, 0, 1024)
	return o.withDefaults(), r.done(KindMF)
}

// MF is the biased matrix factorisation learner for explicit ratings:
// r̂(u,i) = μ + b_u + b_i + p_u·q_i, trained by alternating least squares
// (each half-sweep solves one (k+1)×(k+1) system per user or item, in
// parallel over Workers goroutines) with L2 regularisation and early stopping
// on a validation split.
//
// Memory: with R rows, U users, I items and k factors, Fit allocates at
// most about 90·R + 16·(U+I)·(k+1) + Workers·8·(k+1)·(k+3) bytes beyond the
// input (row copies for the compacted and validation sets, both CSR views,
// factors and biases plus the best-epoch snapshot, per-worker solver
// buffers); the model keeps 4·R + 8·(U+I)·(k+3) bytes plus the ids. ctx is
// checked between chunks of 64 users or items.
type MF struct {
	// Options are used by Fit when params is nil or empty.
	Options MFOptions
}

// Name returns "mf".
func (MF) Name() string { return KindMF }

// Fit trains an *MFModel. params, when non-empty, replace Options.
func (l MF) Fit(ctx context.Context, data *Interactions, params Params) (Model, error) {
	o := l.Options.withDefaults()
	if len(params) > 0 {
		var err error
		if o, err = ParseMFOptions(params); err != nil {
			return nil, err
		}
	}
	return FitMF(ctx, data, o)
}

// MFModel is a trained biased matrix factorisation.
type MFModel struct {
	base
	k          int
	mean       float64
	lo, hi     float64   // rating range seen in training; predictions are clipped to it
	bu, bi     []float64 // user and item biases
	p, q       []float64 // user and item factors, row-major (·k)
	rankable   []bool    // items with at least MinItemCount training ratings
	prior      []float64 // w·ln(1+n_i), added to the ranking score
	epochs     int       // epochs trained
	validation float64   // best validation RMSE (NaN without early stopping)
}

// Epochs returns how many ALS epochs the final model was trained for.
func (m *MFModel) Epochs() int { return m.epochs }

// ValidationRMSE returns the best validation RMSE seen during early
// stopping, or NaN when it was off.
func (m *MFModel) ValidationRMSE() float64 { return m.validation }

// FitMF trains biased MF with o (zero fields take defaults).
func FitMF(ctx context.Context, data *Interactions, o MFOptions) (*MFModel, error) {
	if data == nil || len(data.Rows) == 0 {
		return nil, fmt.Errorf("%s: %w", KindMF, ErrNoData)
	}
	o = o.withDefaults()
	if o.Factors < 1 || o.Lambda <= 0 || o.BiasLambda <= 0 || o.Epochs < 1 || !(o.ValidationFraction > 0 && o.ValidationFraction < 1) {
		return nil, fmt.Errorf("%s: options %+v out of range: %w", KindMF, o, ErrInvalidParam)
	}
	rows, users, items := compact(data)
	nu, ni := len(users), len(items)
	m := &MFModel{k: o.Factors, lo: math.Inf(1), hi: math.Inf(-1), validation: math.NaN()}
	for _, r := range rows {
		m.lo, m.hi = min(m.lo, float64(r.Rating)), max(m.hi, float64(r.Rating))
	}
	pop, ps, _ := popularity(rows, ni, PopularityOptions{})
	m.base = newBase(rows, users, items, nil)
	m.popOrder, m.popScore = pop, ps
	m.rankable = make([]bool, ni)
	counts := make([]int, ni)
	for _, r := range rows {
		counts[r.Item]++
	}
	m.prior = make([]float64, ni)
	w := o.PopularityWeight
	if o.NoPopularityBlend {
		w = 0
	}
	for i, c := range counts {
		m.rankable[i] = c >= o.MinItemCount
		m.prior[i] = w * math.Log1p(float64(c))
	}

	epochs := o.Epochs
	if !o.NoEarlyStopping && len(rows) >= 20 {
		tr, va := splitRandom(rows, o.ValidationFraction, o.Seed)
		best, err := m.train(ctx, tr, va, nu, ni, o, o.Epochs)
		if err != nil {
			return nil, err
		}
		epochs = best
		if o.NoRefit {
			return m, nil
		}
	}
	val := m.validation
	rctx := ctx
	if !o.NoEarlyStopping && len(rows) >= 20 {
		rctx = WithProgress(ctx, nil) // the refit repeats the epochs already reported
	}
	if _, err := m.train(rctx, rows, nil, nu, ni, o, epochs); err != nil {
		return nil, err
	}
	m.validation = val
	return m, nil
}

// train runs up to epochs ALS sweeps on rows from a fresh start. With
// validation rows it keeps the parameters of the best validation epoch and
// stops after Patience epochs without improvement; it returns the number of
// epochs of the kept parameters.
func (m *MFModel) train(ctx context.Context, rows, val []Interaction, nu, ni int, o MFOptions, epochs int) (int, error) {
	k := o.Factors
	var sum float64
	for _, r := range rows {
		sum += float64(r.Rating)
	}
	m.mean = sum / float64(len(rows))
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d66))
	m.bu, m.bi = make([]float64, nu), make([]float64, ni)
	m.p, m.q = make([]float64, nu*k), make([]float64, ni*k)
	for i := range m.q {
		m.q[i] = rng.NormFloat64() * 0.1
	}
	byUser := buildCSR(rows, nu, false)
	byItem := buildCSR(rows, ni, true)
	w := workers(o.Workers)
	solvers := make([]*ridge, w)
	for i := range solvers {
		solvers[i] = newRidge(k + 1)
	}
	bestEpoch, bestRMSE, since := 0, math.Inf(1), 0
	var snap *MFModel
	report := progress(ctx)
	for ep := 1; ep <= epochs; ep++ {
		// Users: x = [p_u; b_u] against y = [q_i; 1], target r - μ - b_i.
		err := parallel(ctx, nu, w, func(g, lo, hi int) {
			for u := lo; u < hi; u++ {
				solvers[g].solveBiased(byUser, u, m.q, m.bi, m.mean, k, o.Lambda, o.BiasLambda, m.p[u*k:(u+1)*k], &m.bu[u])
			}
		})
		if err != nil {
			return 0, err
		}
		err = parallel(ctx, ni, w, func(g, lo, hi int) {
			for i := lo; i < hi; i++ {
				solvers[g].solveBiased(byItem, i, m.p, m.bu, m.mean, k, o.Lambda, o.BiasLambda, m.q[i*k:(i+1)*k], &m.bi[i])
			}
		})
		if err != nil {
			return 0, err
		}
		m.epochs = ep
		if report != nil {
			pm := map[string]float64{"train_rmse": m.rmseOn(rows)}
			if val != nil {
				pm["val_rmse"] = m.rmseOn(val)
			}
			report(ep, pm)
		}
		if val == nil {
			continue
		}
		var se float64
		for _, r := range val {
			d := m.predictIdx(r.User, r.Item) - float64(r.Rating)
			se += d * d
		}
		rmse := math.Sqrt(se / float64(len(val)))
		if rmse < bestRMSE {
			bestEpoch, bestRMSE, since = ep, rmse, 0
			if snap == nil {
				snap = &MFModel{bu: make([]float64, nu), bi: make([]float64, ni), p: make([]float64, nu*k), q: make([]float64, ni*k)}
			}
			snap.mean = m.mean
			copy(snap.bu, m.bu)
			copy(snap.bi, m.bi)
			copy(snap.p, m.p)
			copy(snap.q, m.q)
		} else if since++; since >= o.Patience {
			break
		}
	}
	if val != nil && snap != nil {
		m.mean, m.bu, m.bi, m.p, m.q = snap.mean, snap.bu, snap.bi, snap.p, snap.q
		m.epochs, m.validation = bestEpoch, bestRMSE
	}
	return m.epochs, nil
}

// ridge is one worker's buffers for the small regularised least-squares
// solves of ALS. It calls LAPACK's Cholesky routines (potrf/potrs) directly:
// mat.Cholesky also estimates the condition number, which would more than
// double the cost of these tiny systems.
type ridge struct {
	n   int
	a   blas64.Symmetric // upper triangle used
	rhs blas64.General   // n×1
	y   []float64
}

func newRidge(n int) *ridge {
	return &ridge{
		n:   n,
		a:   blas64.Symmetric{N: n, Stride: n, Data: make([]float64, n*n), Uplo: blas.Upper},
		rhs: blas64.General{Rows: n, Cols: 1, Stride: 1, Data: make([]float64, n)},
		y:   make([]float64, n),
	}
}

// solveBiased solves for row r of c (a user or an item): minimise
// Σ (t - y·x)² + λ·n·|f|² + λb·b² with x = [f; b], y = [other factors; 1]
// and t = rating - μ - other bias. It writes f and b.
func (s *ridge) solveBiased(c csr, r int, other, otherBias []float64, mu float64, k int, lambda, biasLambda float64, f []float64, b *float64) {
	lo, hi := c.ptr[r], c.ptr[r+1]
	if lo == hi {
		for j := range f {
			f[j] = 0
		}
		*b = 0
		return
	}
	n := s.n
	a, st := s.a.Data, s.a.Stride
	for i := range a {
		a[i] = 0
	}
	rhs := s.rhs.Data
	for i := range rhs {
		rhs[i] = 0
	}
	y := s.y
	for e := lo; e < hi; e++ {
		o := int(c.cols[e])
		copy(y, other[o*k:(o+1)*k])
		y[k] = 1
		t := float64(c.vals[e]) - mu - otherBias[o]
		for i := 0; i < n; i++ {
			yi := y[i]
			rhs[i] += t * yi
			row := a[i*st : i*st+n]
			for j := i; j < n; j++ {
				row[j] += yi * y[j]
			}
		}
	}
	reg := lambda * float64(hi-lo)
	for i := 0; i < k; i++ {
		a[i*st+i] += reg
	}
	a[k*st+k] += biasLambda
	t, ok := lapack64.Potrf(s.a)
	if !ok {
		// Not positive definite only through round-off; keep the old values.
		return
	}
	lapack64.Potrs(t, s.rhs)
	copy(f, rhs[:k])
	*b = rhs[k]
}

func (m *MFModel) predictIdx(u, i int32) float64 {
	k := m.k
	v := m.mean + m.bu[u] + m.bi[i] + dot(m.p[int(u)*k:int(u+1)*k], m.q[int(i)*k:int(i+1)*k])
	return min(max(v, m.lo), m.hi)
}

func dot(a, b []float64) float64 {
	var s float64
	b = b[:len(a)]
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

// Predict returns the predicted rating, clipped to the training range. An
// unknown user gets μ + b_i, an unknown item μ + b_u (coldStart true).
func (m *MFModel) Predict(user, item string) (float64, bool) {
	u, uok := m.users.Index(user)
	i, iok := m.items.Index(item)
	switch {
	case uok && iok:
		return m.predictIdx(u, i), false
	case iok:
		return min(max(m.mean+m.bi[i], m.lo), m.hi), true
	case uok:
		return min(max(m.mean+m.bu[u], m.lo), m.hi), true
	}
	return m.mean, true
}

// Recommend ranks the items with at least MinItemCount training ratings by
// predicted rating (unclipped) plus PopularityWeight·ln(1+n_i).
func (m *MFModel) Recommend(user string, k int, excludeSeen bool) []Scored {
	return m.recommend(user, k, excludeSeen, func(u int32, out []float64) {
		f := m.k
		pu := m.p[int(u)*f : int(u+1)*f]
		base := m.mean + m.bu[u]
		for i := range out {
			if !m.rankable[i] {
				out[i] = math.NaN() // topK skips NaN
				continue
			}
			out[i] = base + m.bi[i] + dot(pu, m.q[i*f:(i+1)*f]) + m.prior[i]
		}
	})
}

// MarshalBinary encodes the model.
func (m *MFModel) MarshalBinary() ([]byte, error) {
	e := &encoder{}
	e.header(KindMF)
	m.base.encode(e)
	e.u32(uint32(m.k))
	e.u32(uint32(m.epochs))
	for _, v := range []float64{m.mean, m.lo, m.hi, m.validation} {
		e.f64(v)
	}
	for _, v := range [][]float64{m.bu, m.bi, m.p, m.q, m.prior} {
		e.f64s(v)
	}
	e.u32(uint32(len(m.rankable)))
	for _, v := range m.rankable {
		if v {
			e.b = append(e.b, 1)
		} else {
			e.b = append(e.b, 0)
		}
	}
	return e.b, nil
}

// UnmarshalBinary decodes a model written by MarshalBinary.
func (m *MFModel) UnmarshalBinary(b []byte) error {
	kind, d := readHeader(b)
	if d.err == nil && kind != KindMF {
		d.fail("kind %q, want %q", kind, KindMF)
	}
	var nm MFModel
	nm.base.decode(d)
	nm.k, nm.epochs = int(d.u32()), int(d.u32())
	nm.mean, nm.lo, nm.hi, nm.validation = d.f64(), d.f64(), d.f64(), d.f64()
	nm.bu, nm.bi, nm.p, nm.q, nm.prior = d.f64s(), d.f64s(), d.f64s(), d.f64s(), d.f64s()
	for _, v := range d.take(d.length(1)) {
		nm.rankable = append(nm.rankable, v != 0)
	}
	if d.err == nil {
		nu, ni := len(nm.userIDs), len(nm.itemIDs)
		if nm.k < 1 || len(nm.bu) != nu || len(nm.bi) != ni || len(nm.p) != nu*nm.k || len(nm.q) != ni*nm.k || len(nm.rankable) != ni || len(nm.prior) != ni {
			d.fail("parameter sizes do not match %d users, %d items, %d factors", nu, ni, nm.k)
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

// GlobalMean returns μ, the mean training rating.
func (m *MFModel) GlobalMean() float64 { return m.mean }

// UserBias returns b_u for a known user.
func (m *MFModel) UserBias(user string) (float64, bool) {
	u, ok := m.users.Index(user)
	if !ok {
		return 0, false
	}
	return m.bu[u], true
}

// ItemBias returns b_i for a known item.
func (m *MFModel) ItemBias(item string) (float64, bool) {
	i, ok := m.items.Index(item)
	if !ok {
		return 0, false
	}
	return m.bi[i], true
}
