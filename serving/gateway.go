package serving

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/registrycache"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the Gateway's zero-valued fields.
const (
	DefaultPollInterval = 5 * time.Second
	DefaultMaxBodyBytes = 16 << 20
	DefaultShadowQueue  = 256
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 60 * time.Second
)

// Gateway serves endpoints. Set Registry and Artifacts, call Load with the
// endpoint specs, then serve Handler; Close stops the background work.
// Other fields are optional. Load, Refresh, Ready, Handler and Close are
// safe for concurrent use; the fields must not change after Load.
type Gateway struct {
	// Registry resolves the targets' model URIs.
	Registry loopml.ModelRegistry
	// Artifacts holds the model packages (a loopml.ArtifactStore, or the
	// server's artifact proxy).
	Artifacts ArtifactReader
	// Logger receives load, swap and shadow reports; nil discards them.
	Logger *slog.Logger
	// PollInterval is how often targets that follow an alias, a stage or
	// "latest" are re-resolved in the background; 0 is
	// DefaultPollInterval, negative disables the poll (call Refresh).
	PollInterval time.Duration
	// MaxBodyBytes bounds request bodies; 0 is DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ReadTimeout bounds the time to receive a request's body, and
	// WriteTimeout the time to send its answer, from the moment its
	// headers are read: a slow client gets 408 Request Timeout or its
	// connection closed, and cannot hold a handler. They are set per
	// request (http.ResponseController), so they also apply when the
	// gateway shares a server with longer uploads (loopml server). 0 means
	// DefaultReadTimeout and DefaultWriteTimeout; negative disables.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// ShadowQueue bounds the shadow requests waiting to run; when it is
	// full a shadow copy is dropped (and counted), never the response.
	// 0 is DefaultShadowQueue.
	ShadowQueue int
	// Rand returns uniform numbers in [0, 1) for weighted routing; nil uses
	// math/rand/v2. Tests set a seeded source. Must be safe for concurrent
	// use.
	Rand func() float64
	// PredictionLog configures the asynchronous prediction log (off when
	// its Store is nil). See predlog.go.
	PredictionLog PredictionLogConfig
	// Metrics, when set, receives the serving metrics (requests, errors
	// and latency per endpoint/target/version, log queue depth, dropped
	// logs, model load times). See metrics.go.
	Metrics prometheus.Registerer
	// Traffic, when set, records the status and latency of every request
	// routed to a target (what a rollout controller compares when no
	// prediction log is available). Set it before the first request.
	Traffic *TrafficStats

	table     atomic.Pointer[table]
	cache     *registrycache.Cache
	refreshMu sync.Mutex

	startOnce sync.Once
	stop      context.CancelFunc
	stopped   <-chan struct{} // closed by Close
	bg        sync.WaitGroup
	shadowCh  chan shadowJob
	closed    atomic.Bool

	shadowDropped atomic.Int64
	shadowDone    atomic.Int64

	plog    atomic.Pointer[predLogger]     // set by start when PredictionLog.Store is set
	metrics atomic.Pointer[gatewayMetrics] // set by start when Metrics is set
}

// table is the set of endpoints being served; Load replaces it whole.
type table struct {
	byName map[string]*endpoint
	list   []*endpoint
	def    *endpoint
}

type endpoint struct {
	spec    EndpointSpec
	targets []*target
	shadow  []*target
	cum     []float64 // cumulative normalised weights of targets
}

// target is one model reference of an endpoint and the version loaded for
// it. cur is swapped atomically when the reference moves.
type target struct {
	spec    TargetSpec
	uri     loopml.ModelURI
	follows bool // alias, stage or latest: re-resolved by Refresh
	cur     atomic.Pointer[loaded]
	lastErr atomic.Pointer[string]
}

func (t *target) setErr(err error) {
	if err == nil {
		t.lastErr.Store(nil)
		return
	}
	s := loopml.ErrorMessage(err)
	if loopml.ErrorCode(err) == loopml.EINTERNAL {
		s = err.Error()
	}
	t.lastErr.Store(&s)
}

func (g *Gateway) logger() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return discardLogger
}

var discardLogger = slog.New(slog.DiscardHandler)

// timeouts returns the read and write timeouts (0 when disabled).
func (g *Gateway) timeouts() (read, write time.Duration) {
	read, write = g.ReadTimeout, g.WriteTimeout
	if read == 0 {
		read = DefaultReadTimeout
	}
	if write == 0 {
		write = DefaultWriteTimeout
	}
	return max(read, 0), max(write, 0)
}

func (g *Gateway) maxBody() int64 {
	if g.MaxBodyBytes > 0 {
		return g.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

func (g *Gateway) rand() float64 {
	if g.Rand != nil {
		return g.Rand()
	}
	return rand.Float64()
}

// Load validates specs, replaces the served endpoints with them and loads
// every target (those already loaded for the same model URI are reused).
// It returns the targets that failed to load, joined; the endpoints are
// served anyway (unready ones answer 503) and Refresh retries them. A
// validation error is EINVALID and changes nothing. The first Load starts
// the background poll and the shadow worker, which Close stops.
func (g *Gateway) Load(ctx context.Context, specs []EndpointSpec) error {
	if g.closed.Load() {
		return loopml.Errorf(loopml.EUNAVAILABLE, "serving gateway is closed")
	}
	if g.Registry == nil || g.Artifacts == nil {
		return loopml.Errorf(loopml.EINTERNAL, "serving: Gateway.Registry and Gateway.Artifacts must be set")
	}
	if err := ValidateEndpoints(specs); err != nil {
		return err
	}
	g.startOnce.Do(g.start)
	g.refreshMu.Lock()
	defer g.refreshMu.Unlock()
	old := map[string]*loaded{}
	if t := g.table.Load(); t != nil {
		for _, ep := range t.list {
			for _, tg := range append(append([]*target(nil), ep.targets...), ep.shadow...) {
				if l := tg.cur.Load(); l != nil {
					old[tg.uri.String()] = l
				}
			}
		}
	}
	nt := &table{byName: map[string]*endpoint{}}
	for _, s := range specs {
		ep := &endpoint{spec: s}
		mk := func(ts TargetSpec) *target {
			u, _ := loopml.ParseModelURI(ts.Model) // validated
			t := &target{spec: ts, uri: u, follows: u.Version == ""}
			if l, ok := old[u.String()]; ok {
				t.cur.Store(l)
			}
			return t
		}
		total := 0
		for _, ts := range s.Targets {
			ep.targets = append(ep.targets, mk(ts))
			total += ts.Weight
		}
		acc := 0.0
		for _, ts := range s.Targets {
			w := float64(ts.Weight) / float64(total)
			if total == 0 {
				w = 1 / float64(len(s.Targets))
			}
			acc += w
			ep.cum = append(ep.cum, acc)
		}
		for _, ts := range s.Shadow {
			ep.shadow = append(ep.shadow, mk(ts))
		}
		nt.byName[s.Name] = ep
		nt.list = append(nt.list, ep)
		if s.Default {
			nt.def = ep
		}
	}
	if nt.def == nil && len(nt.list) == 1 {
		nt.def = nt.list[0]
	}
	err := g.refreshTable(ctx, nt, true)
	g.table.Store(nt)
	for _, l := range old { // targets dropped by the new table
		g.retire(l)
	}
	return err
}

// Refresh re-resolves every target that follows an alias, a stage or
// "latest" (and retries targets that never loaded). When a target now
// resolves to another version, that version is loaded and warmed, then
// swapped in atomically: requests in flight finish on the old one, no
// request fails. A version that fails to load is reported (logged, and in
// the returned error) and the old one keeps serving.
func (g *Gateway) Refresh(ctx context.Context) error {
	t := g.table.Load()
	if t == nil {
		return nil
	}
	g.refreshMu.Lock()
	defer g.refreshMu.Unlock()
	return g.refreshTable(ctx, t, true)
}

// refreshTable (re)loads the targets of t; fresh bypasses the resolution
// cache. The caller holds refreshMu.
func (g *Gateway) refreshTable(ctx context.Context, t *table, fresh bool) error {
	log := g.logger()
	var errs []error
	resolved := map[string]*loopml.ModelVersion{}
	loadedNow := map[string]*loaded{} // by "name/version": targets naming one version share it
	for _, ep := range t.list {
		for _, tg := range append(append([]*target(nil), ep.targets...), ep.shadow...) {
			cur := tg.cur.Load()
			if cur != nil && !tg.follows {
				continue
			}
			key := tg.uri.String()
			v, ok := resolved[key]
			if !ok {
				if fresh {
					g.cache.Invalidate(loopml.RegistryEvent{Type: loopml.EventAliasSet, Model: tg.uri.Name})
				}
				var err error
				v, err = g.cache.Resolve(ctx, tg.uri)
				if err != nil {
					err = fmt.Errorf("endpoint %s: target %s: %w", ep.spec.Name, key, err)
					tg.setErr(err)
					errs = append(errs, err)
					log.Error("resolving target failed", "endpoint", ep.spec.Name, "model", key, "err", err, "serving", versionOf(cur))
					continue
				}
				resolved[key] = v
			}
			if cur != nil && cur.version.Name == v.Name && cur.version.Version == v.Version {
				continue
			}
			start := time.Now()
			l, err := loadedNow[v.Name+"/"+v.Version], error(nil)
			if l == nil {
				l, err = loadVersion(ctx, g.Registry, g.Artifacts, v)
				g.observeLoad(time.Since(start), err)
			}
			if err == nil {
				loadedNow[v.Name+"/"+v.Version] = l
			}
			if err != nil {
				err = fmt.Errorf("endpoint %s: target %s: %w", ep.spec.Name, key, err)
				tg.setErr(err)
				errs = append(errs, err)
				log.Error("loading model version failed", "endpoint", ep.spec.Name, "model", key, "version", v.Version, "err", err, "serving", versionOf(cur))
				continue
			}
			tg.cur.Store(l)
			tg.setErr(nil)
			g.retire(cur)
			if cur == nil {
				log.Info("model loaded", "endpoint", ep.spec.Name, "model", key, "version", v.Version, "seconds", time.Since(start).Seconds())
			} else {
				log.Info("model swapped", "endpoint", ep.spec.Name, "model", key, "from", cur.version.Version, "to", v.Version, "seconds", time.Since(start).Seconds())
			}
		}
	}
	return errors.Join(errs...)
}

func versionOf(l *loaded) string {
	if l == nil {
		return "none"
	}
	return l.label()
}

// start creates the resolution cache and starts the background poll and
// the shadow worker.
func (g *Gateway) start() {
	ttl := g.PollInterval
	if ttl == 0 {
		ttl = DefaultPollInterval
	}
	// Entries expire before the next tick, so a poll never sees an answer
	// older than one interval; Watch drops them sooner.
	g.cache = &registrycache.Cache{Registry: g.Registry, TTL: max(ttl/2, time.Millisecond)}
	ctx, cancel := context.WithCancel(context.Background())
	g.stop = cancel
	g.stopped = ctx.Done()
	n := g.ShadowQueue
	if n <= 0 {
		n = DefaultShadowQueue
	}
	g.shadowCh = make(chan shadowJob, n)
	g.startObservability()
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		g.shadowWorker(ctx)
	}()
	if g.PollInterval >= 0 {
		g.bg.Add(1)
		go func() {
			defer g.bg.Done()
			tick := time.NewTicker(ttl)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if t := g.table.Load(); t != nil {
					g.refreshMu.Lock()
					_ = g.refreshTable(ctx, t, false) // failures are logged
					g.refreshMu.Unlock()
				}
			}
		}()
	}
}

// Close stops the background poll and the shadow worker and waits for
// them. The handler keeps serving the loaded models.
func (g *Gateway) Close() error {
	if g.closed.Swap(true) {
		return nil
	}
	g.startOnce.Do(func() {}) // never start after Close
	if g.stop != nil {
		g.stop()
	}
	g.bg.Wait()
	if t := g.table.Load(); t != nil { // stop the child processes
		for _, ep := range t.list {
			for _, tg := range append(append([]*target(nil), ep.targets...), ep.shadow...) {
				if l := tg.cur.Load(); l != nil && l.proc != nil {
					l.proc.close()
				}
			}
		}
	}
	if p := g.plog.Load(); p != nil {
		p.close() // drains the queued predictions
	}
	return nil
}

// TargetStatus describes one target of an endpoint.
type TargetStatus struct {
	Model   string // the target's model URI
	Weight  int
	Shadow  bool
	Version string // the version loaded, "" when none
	Error   string // the last load or resolution error, "" when none
}

// EndpointStatus describes one endpoint.
type EndpointStatus struct {
	Name    string
	Ready   bool // every target and shadow target is loaded
	Default bool
	Targets []TargetStatus
}

// Status returns the state of every endpoint, in declaration order.
func (g *Gateway) Status() []EndpointStatus {
	t := g.table.Load()
	if t == nil {
		return nil
	}
	var out []EndpointStatus
	for _, ep := range t.list {
		st := EndpointStatus{Name: ep.spec.Name, Ready: ep.ready(), Default: t.def == ep}
		for i, tg := range append(append([]*target(nil), ep.targets...), ep.shadow...) {
			ts := TargetStatus{Model: tg.spec.Model, Weight: tg.spec.Weight, Shadow: i >= len(ep.targets)}
			if l := tg.cur.Load(); l != nil {
				ts.Version = l.version.Version
			}
			if e := tg.lastErr.Load(); e != nil {
				ts.Error = *e
			}
			st.Targets = append(st.Targets, ts)
		}
		out = append(out, st)
	}
	return out
}

// Ready reports whether endpoints are loaded (Load was called) and every
// target of every endpoint has a model version loaded. A gateway loaded
// with no endpoints is ready: it has nothing to wait for.
func (g *Gateway) Ready() bool {
	t := g.table.Load()
	if t == nil {
		return false
	}
	for _, ep := range t.list {
		if !ep.ready() {
			return false
		}
	}
	return true
}

func (ep *endpoint) ready() bool {
	for _, tg := range ep.targets {
		if tg.cur.Load() == nil {
			return false
		}
	}
	for _, tg := range ep.shadow {
		if tg.cur.Load() == nil {
			return false
		}
	}
	return true
}

// route picks the target of a request: by the hash of the sticky header's
// value when the endpoint has one and the request carries it, else at
// random, both by weight. A target with nothing loaded is skipped for the
// next loaded one; nil when none is loaded.
func (g *Gateway) route(ep *endpoint, r *http.Request) (*target, *loaded) {
	var u float64
	if h := ep.spec.StickyHeader; h != "" && r.Header.Get(h) != "" {
		f := fnv.New64a()
		f.Write([]byte(r.Header.Get(h)))
		u = float64(mix(f.Sum64())>>11) / (1 << 53)
	} else {
		u = g.rand()
	}
	i := 0
	for i < len(ep.cum)-1 && u >= ep.cum[i] {
		i++
	}
	for k := range ep.targets {
		tg := ep.targets[(i+k)%len(ep.targets)]
		if l := tg.cur.Load(); l != nil {
			return tg, l
		}
	}
	return nil, nil
}

// mix is the splitmix64 finaliser: it spreads FNV's low-entropy high bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// version returns the loaded target of ep at model version v, if any.
func (ep *endpoint) version(v string) *loaded {
	_, l := ep.versionTarget(v)
	return l
}

// versionTarget returns the first target of ep serving model version v
// and what it serves, if any.
func (ep *endpoint) versionTarget(v string) (*target, *loaded) {
	for _, tg := range ep.targets {
		if l := tg.cur.Load(); l != nil && l.version.Version == v {
			return tg, l
		}
	}
	return nil, nil
}

// Watch refreshes as soon as a registry event concerns a model that a
// target references (an alias moved, a version was created or deleted, a
// stage changed), instead of waiting for the poll. Connect it to the
// registry event feed (webhook.Dispatcher.Subscribe). Events arriving
// while a refresh runs are coalesced into one more refresh. Watch returns
// when ctx ends or events is closed; refresh errors are logged.
func (g *Gateway) Watch(ctx context.Context, events <-chan loopml.RegistryEvent) {
	kick := make(chan struct{}, 1)
	done := make(chan struct{})
	wctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(done)
		for {
			select {
			case <-wctx.Done():
				return
			case <-kick:
			}
			_ = g.Refresh(wctx) // failures are logged
		}
	}()
	defer func() {
		cancel()
		<-done
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if !g.references(ev.Model) {
				continue
			}
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}
}

// references reports whether a target of a served endpoint refers to the
// registered model name.
func (g *Gateway) references(model string) bool {
	t := g.table.Load()
	if t == nil {
		return false
	}
	for _, ep := range t.list {
		for _, tg := range append(append([]*target(nil), ep.targets...), ep.shadow...) {
			if tg.uri.Name == model {
				return true
			}
		}
	}
	return false
}
