package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loopml/loopml"
)

// DefaultStoreSyncInterval is how often StoreSync polls the endpoints
// generation when its Interval is 0.
const DefaultStoreSyncInterval = time.Second

// EndpointSource is what StoreSync reads: the list and the generation of
// the stored endpoints (a loopml.EndpointService, local or over HTTP).
type EndpointSource interface {
	ListEndpoints(ctx context.Context) ([]*loopml.Endpoint, error)
	EndpointsGeneration(ctx context.Context) (int64, error)
}

// SpecFromEndpoint converts a stored endpoint into the gateway's spec.
func SpecFromEndpoint(e *loopml.Endpoint) EndpointSpec {
	s := EndpointSpec{Name: e.Name, StickyHeader: e.StickyHeader, Default: e.Default}
	for _, t := range e.Targets {
		s.Targets = append(s.Targets, TargetSpec{Model: t.Model, Weight: t.Weight})
	}
	for _, t := range e.Shadow {
		s.Shadow = append(s.Shadow, TargetSpec{Model: t.Model, Weight: t.Weight})
	}
	return s
}

// StoreSync makes a Gateway serve the stored endpoints (plus Static ones,
// e.g. from a YAML file): it polls the endpoints generation every Interval
// (one cheap read) and, when it moved, lists the endpoints and loads them
// into the gateway. Gateway.Load reuses every model already loaded for the
// same model URI, so a weight change applies without reloading a model,
// and a new target is loaded and warmed before the new table is swapped
// in. Set the fields, then call Sync once (to fail fast on a name clash)
// and Run.
type StoreSync struct {
	Gateway *Gateway
	Store   EndpointSource
	// Static endpoints are served besides the stored ones. A stored
	// endpoint with the name of a static one is not served (Sync reports
	// ECONFLICT naming it).
	Static []EndpointSpec
	// Interval is the generation poll period; 0 is
	// DefaultStoreSyncInterval.
	Interval time.Duration
	// Logger receives reload reports and errors; nil discards them.
	Logger *slog.Logger

	mu     sync.Mutex
	gen    int64
	synced bool
}

// Sync reloads the gateway's endpoints when the stored generation moved
// since the last Sync (always on the first call). It returns ECONFLICT
// when a stored endpoint has the name of a static one (the others are
// served), EINVALID when the endpoints together are invalid (e.g. two
// default endpoints; the gateway keeps its table), the store's error, or
// the joined errors of targets that failed to load (served anyway, retried
// by the gateway's poll).
func (s *StoreSync) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	gen, err := s.Store.EndpointsGeneration(ctx)
	if err != nil {
		return fmt.Errorf("read the endpoints generation: %w", err)
	}
	if s.synced && gen == s.gen {
		return nil
	}
	list, err := s.Store.ListEndpoints(ctx)
	if err != nil {
		return fmt.Errorf("list endpoints: %w", err)
	}
	specs := slices.Clone(s.Static)
	static := map[string]bool{}
	for _, sp := range s.Static {
		static[sp.Name] = true
	}
	var clash []string
	for _, e := range list {
		if static[e.Name] {
			clash = append(clash, e.Name)
			continue
		}
		specs = append(specs, SpecFromEndpoint(e))
	}
	s.gen, s.synced = gen, true
	loadErr := s.Gateway.Load(ctx, specs)
	if loopml.ErrorCode(loadErr) != loopml.EINVALID || loadErr == nil {
		s.logger().Info("serving stored endpoints", "generation", gen, "stored", len(list)-len(clash), "static", len(s.Static))
	}
	if len(clash) > 0 {
		return errors.Join(loopml.Errorf(loopml.ECONFLICT, "stored endpoint(s) %s have the name of an endpoint of the endpoints file: rename one (the stored one is not served)", strings.Join(clash, ", ")), loadErr)
	}
	return loadErr
}

// Run calls Sync every Interval until ctx ends, logging its errors (once
// per distinct message, so a persistent problem does not flood the log).
func (s *StoreSync) Run(ctx context.Context) {
	iv := s.Interval
	if iv <= 0 {
		iv = DefaultStoreSyncInterval
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.Sync(ctx)
		if ctx.Err() != nil {
			return
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if msg != "" && msg != last {
			s.logger().Error("syncing stored endpoints failed", "err", err)
		}
		last = msg
	}
}

func (s *StoreSync) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// TrafficStats records, in this process, the outcome and latency of every
// routed request per endpoint target, and summarises them like
// loopml.PredictionLog.TargetStats: what a rollout controller compares
// when no prediction log is available. It sees only the traffic of its own
// process (one replica). Set it as the Gateway's Traffic.
type TrafficStats struct {
	// Samples bounds the samples kept per target (the newest are kept);
	// 0 is 1<<16.
	Samples int

	mu      sync.Mutex
	byKey   map[[2]string]*sampleRing
	now     func() time.Time
	version map[[2]string]string
}

type sample struct {
	at  int64 // epoch ms
	us  float64
	err bool
}

type sampleRing struct {
	buf  []sample
	next int
	full bool
}

// record notes one request of endpoint answered by t with l.
func (s *TrafficStats) record(endpoint string, t *target, l *loaded, status int, d time.Duration) {
	key := [2]string{endpoint, t.spec.Model}
	ver := ""
	if l != nil {
		ver = l.version.Version
	}
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	smp := sample{at: now().UnixMilli(), us: float64(d.Nanoseconds()) / 1e3, err: status >= 500}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey == nil {
		s.byKey = map[[2]string]*sampleRing{}
		s.version = map[[2]string]string{}
	}
	rg := s.byKey[key]
	if rg == nil {
		n := s.Samples
		if n <= 0 {
			n = 1 << 16
		}
		rg = &sampleRing{buf: make([]sample, n)}
		s.byKey[key] = rg
	}
	rg.buf[rg.next] = smp
	rg.next++
	if rg.next == len(rg.buf) {
		rg.next, rg.full = 0, true
	}
	if ver != "" {
		s.version[key] = ver
	}
}

// TargetStats summarises the recorded requests of endpoint's targets with
// a time in [since, until) (epoch ms; until 0 = now), one entry per target
// seen, ordered by target. It implements the method of the same name of
// loopml.PredictionLog (without feedback: Labeled is 0).
func (s *TrafficStats) TargetStats(_ context.Context, endpoint string, since, until int64) ([]loopml.TargetStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []loopml.TargetStats
	for key, rg := range s.byKey {
		if key[0] != endpoint {
			continue
		}
		st := loopml.TargetStats{Target: key[1], Version: s.version[key]}
		var lat []float64
		n := rg.next
		if rg.full {
			n = len(rg.buf)
		}
		for _, smp := range rg.buf[:n] {
			if smp.at < since || until > 0 && smp.at >= until {
				continue
			}
			st.Requests++
			if smp.err {
				st.Errors++
			}
			lat = append(lat, smp.us)
		}
		if st.Requests == 0 {
			continue
		}
		slices.Sort(lat)
		st.LatencyP50Us = quantile(lat, 0.50)
		st.LatencyP99Us = quantile(lat, 0.99)
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b loopml.TargetStats) int { return strings.Compare(a.Target, b.Target) })
	return out, nil
}

// quantile is the nearest-rank quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// TargetError returns why the target (or shadow target) model of endpoint
// has no model version loaded — its last load or resolution error — and
// "" when it is loaded, still loading or not a target. Model URIs are
// compared in canonical form. A rollout controller uses it to roll back a
// candidate that cannot be served.
func (g *Gateway) TargetError(endpoint, model string) string {
	want, err := loopml.ParseModelURI(model)
	if err != nil {
		return ""
	}
	for _, st := range g.Status() {
		if st.Name != endpoint {
			continue
		}
		for _, t := range st.Targets {
			if u, err := loopml.ParseModelURI(t.Model); err == nil && u.String() == want.String() && t.Version == "" {
				return t.Error
			}
		}
	}
	return ""
}
