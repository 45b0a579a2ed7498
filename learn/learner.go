package learn

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"sync"
)

// Learner kinds, as accepted by LearnerByName and recorded in model bytes.
const (
	KindPopularity  = "popularity"
	KindMF          = "mf"
	KindImplicitALS = "implicit-als"
)

// Params are learner hyperparameters as strings, the way MLflow logs them
// and a pipeline spec carries them. Each learner documents its keys; an
// unknown key or a value out of range is an error wrapping ErrInvalidParam.
// A nil Params selects every default.
type Params map[string]string

// Learner trains a Model from interactions.
//
// Fit must honour ctx: when it is cancelled Fit returns ctx.Err() promptly
// (within one pass over the data). Fit does not modify data and may be
// called concurrently on different data.
type Learner interface {
	// Name returns the learner kind, e.g. "mf".
	Name() string
	// Fit trains on data with params. Errors wrap ErrNoData,
	// ErrInvalidParam or the context's error.
	Fit(ctx context.Context, data *Interactions, params Params) (Model, error)
}

// Scored is one recommended item. ColdStart is true when the user was not in
// the training data and the list came from the popularity fallback.
type Scored struct {
	Item      string  `json:"item"`
	Score     float64 `json:"score"`
	ColdStart bool    `json:"cold_start,omitempty"`
}

// Model is a trained recommender. Users and items are external ids. A
// trained or decoded Model is safe for concurrent use by multiple goroutines;
// UnmarshalBinary must not run concurrently with other methods.
type Model interface {
	// Predict returns the model's score of item for user (a rating for
	// explicit models, a preference for implicit ones). coldStart is true
	// when the user or the item was not in the training data; the score is
	// then the popularity fallback's.
	Predict(user, item string) (score float64, coldStart bool)
	// Recommend returns up to k items for user, best first, leaving out the
	// items the user interacted with in training when excludeSeen is set.
	// An unknown user gets the popularity list, each entry flagged ColdStart.
	Recommend(user string, k int, excludeSeen bool) []Scored
	// MarshalBinary encodes the model; UnmarshalModel or the concrete type's
	// UnmarshalBinary decodes it.
	MarshalBinary() ([]byte, error)
	// UnmarshalBinary replaces the model with the decoded bytes. Errors
	// wrap ErrBadModel.
	UnmarshalBinary([]byte) error
}

// Learners returns the names of the built-in learners.
func Learners() []string { return []string{KindPopularity, KindMF, KindImplicitALS} }

// LearnerByName returns the built-in learner called name.
func LearnerByName(name string) (Learner, error) {
	switch name {
	case KindPopularity:
		return Popularity{}, nil
	case KindMF:
		return MF{}, nil
	case KindImplicitALS:
		return ImplicitALS{}, nil
	}
	if IsTabular(name) {
		return nil, fmt.Errorf("learner %q is tabular, not a recommender (see TabularLearnerByName): %w", name, ErrInvalidParam)
	}
	return nil, fmt.Errorf("learner %q: want one of %v: %w", name, Learners(), ErrInvalidParam)
}

// base is what every model shares: the ids it was trained on, each user's
// seen items, and the popularity fallback for cold starts.
type base struct {
	userIDs, itemIDs []string
	users, items     *IDMap
	seenPtr          []int   // user u saw seenCols[seenPtr[u]:seenPtr[u+1]], ascending
	seenCols         []int32 //
	popOrder         []int32 // items by fallback score, best first
	popScore         []float64
}

func newBase(rows []Interaction, userIDs, itemIDs []string, pop *PopularityModel) base {
	c := buildCSR(rows, len(userIDs), false)
	b := base{userIDs: userIDs, itemIDs: itemIDs, seenPtr: c.ptr, seenCols: c.cols}
	if pop != nil {
		b.popOrder, b.popScore = pop.popOrder, pop.popScore
	}
	b.index()
	return b
}

func (b *base) index() {
	b.users, b.items = NewIDMap(b.userIDs...), NewIDMap(b.itemIDs...)
}

func (b *base) seen(u int32) []int32 { return b.seenCols[b.seenPtr[u]:b.seenPtr[u+1]] }

// coldList returns the popularity fallback list for an unknown user.
func (b *base) coldList(k int) []Scored {
	k = min(k, len(b.popOrder))
	out := make([]Scored, 0, max(k, 0))
	for _, i := range b.popOrder[:max(k, 0)] {
		out = append(out, Scored{Item: b.itemIDs[i], Score: b.popScore[i], ColdStart: true})
	}
	return out
}

func (b *base) encode(e *encoder) {
	e.strs(b.userIDs)
	e.strs(b.itemIDs)
	e.ints(b.seenPtr)
	e.i32s(b.seenCols)
	e.i32s(b.popOrder)
	e.f64s(b.popScore)
}

func (b *base) decode(d *decoder) {
	b.userIDs, b.itemIDs = d.strs(), d.strs()
	b.seenPtr, b.seenCols = d.ints(), d.i32s()
	b.popOrder, b.popScore = d.i32s(), d.f64s()
	if d.err != nil {
		return
	}
	nu, ni := len(b.userIDs), len(b.itemIDs)
	if len(b.seenPtr) != nu+1 || b.seenPtr[0] != 0 || b.seenPtr[nu] != len(b.seenCols) {
		d.fail("seen index does not match %d users", nu)
		return
	}
	for u := 0; u < nu; u++ {
		if b.seenPtr[u] > b.seenPtr[u+1] {
			d.fail("seen index not monotone at user %d", u)
			return
		}
	}
	for _, i := range b.seenCols {
		if i < 0 || int(i) >= ni {
			d.fail("seen item %d out of range", i)
			return
		}
	}
	if len(b.popScore) != ni {
		d.fail("popularity scores for %d items, want %d", len(b.popScore), ni)
		return
	}
	for _, i := range b.popOrder {
		if i < 0 || int(i) >= ni {
			d.fail("popularity item %d out of range", i)
			return
		}
	}
	b.index()
}

// scorePool recycles per-call item score buffers for Recommend.
var scorePool sync.Pool

func getScores(n int) *[]float64 {
	if p, ok := scorePool.Get().(*[]float64); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float64, n)
	return &s
}

// topK returns the indices of the k largest scores, best first (ties by
// lower index), skipping the ascending indices in skip and NaN scores.
func topK(scores []float64, k int, skip []int32) []int32 {
	if k <= 0 {
		return nil
	}
	h := make(minHeap, 0, k)
	s := 0
	for i, v := range scores {
		if s < len(skip) && int(skip[s]) == i {
			s++
			continue
		}
		if math.IsNaN(v) {
			continue
		}
		if len(h) < k {
			heap.Push(&h, hitem{int32(i), v})
		} else if v > h[0].score {
			h[0] = hitem{int32(i), v}
			heap.Fix(&h, 0)
		}
	}
	sort.Slice(h, func(a, b int) bool {
		if h[a].score != h[b].score {
			return h[a].score > h[b].score
		}
		return h[a].item < h[b].item
	})
	out := make([]int32, len(h))
	for n, x := range h {
		out[n] = x.item
	}
	return out
}

type hitem struct {
	item  int32
	score float64
}

type minHeap []hitem

func (h minHeap) Len() int { return len(h) }
func (h minHeap) Less(a, b int) bool {
	if h[a].score != h[b].score {
		return h[a].score < h[b].score
	}
	return h[a].item > h[b].item
}
func (h minHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *minHeap) Push(x any)   { *h = append(*h, x.(hitem)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// recommend is the shared Recommend: score fills scores for user u (a
// known user) and topK picks the best.
func (b *base) recommend(user string, k int, excludeSeen bool, score func(u int32, out []float64)) []Scored {
	u, ok := b.users.Index(user)
	if !ok {
		return b.coldList(k)
	}
	if k <= 0 {
		return []Scored{}
	}
	buf := getScores(len(b.itemIDs))
	defer scorePool.Put(buf)
	score(u, *buf)
	var skip []int32
	if excludeSeen {
		skip = b.seen(u)
	}
	top := topK(*buf, k, skip)
	out := make([]Scored, len(top))
	for n, i := range top {
		out[n] = Scored{Item: b.itemIDs[i], Score: (*buf)[i]}
	}
	return out
}

// params reads typed values from Params, remembering the first error and
// which keys were used, so that unknown keys can be reported.
type params struct {
	p    Params
	used map[string]bool
	err  error
}

func newParams(p Params) *params { return &params{p: p, used: map[string]bool{}} }

func (p *params) setErr(key, v, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("param %s=%q: want %s: %w", key, v, want, ErrInvalidParam)
	}
}

func (p *params) int(key string, dst *int, lo, hi int) {
	p.used[key] = true
	v, ok := p.p[key]
	if !ok {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.setErr(key, v, fmt.Sprintf("an integer in [%d, %d]", lo, hi))
		return
	}
	*dst = n
}

func (p *params) float(key string, dst *float64, lo, hi float64) {
	p.used[key] = true
	v, ok := p.p[key]
	if !ok {
		return
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < lo || f > hi {
		p.setErr(key, v, fmt.Sprintf("a number in [%g, %g]", lo, hi))
		return
	}
	*dst = f
}

func (p *params) int64(key string, dst *int64) {
	p.used[key] = true
	v, ok := p.p[key]
	if !ok {
		return
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.setErr(key, v, "an integer (Unix seconds)")
		return
	}
	*dst = n
}

func (p *params) bool(key string, dst *bool) {
	p.used[key] = true
	v, ok := p.p[key]
	if !ok {
		return
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.setErr(key, v, "true or false")
		return
	}
	*dst = b
}

// done returns the first error, or an error naming the first unknown key
// (in sorted order).
func (p *params) done(learner string) error {
	if p.err != nil {
		return fmt.Errorf("%s: %w", learner, p.err)
	}
	var unknown []string
	for k := range p.p {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(p.used))
		for k := range p.used {
			known = append(known, k)
		}
		sort.Strings(known)
		return fmt.Errorf("%s: unknown param %q (known: %v): %w", learner, unknown[0], known, ErrInvalidParam)
	}
	return nil
}

// workers returns how many goroutines training uses.
func workers(n int) int {
	if n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// parallel runs f(lo, hi) over [0, n) in chunks on w goroutines, checking
// ctx between chunks. It returns ctx.Err() if ctx was cancelled.
func parallel(ctx context.Context, n, w int, f func(worker, lo, hi int)) error {
	const chunk = 64
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < w; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for {
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				lo := int(next)
				next += chunk
				mu.Unlock()
				if lo >= n {
					return
				}
				f(g, lo, min(lo+chunk, n))
			}
		}(g)
	}
	wg.Wait()
	return ctx.Err()
}
