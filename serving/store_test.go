package serving_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/serving"
)

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func TestStoreSyncFollowsStoredEndpoints(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	logs := &lockedBuffer{}
	g := &serving.Gateway{Registry: e.db, Artifacts: e.arts, PollInterval: -1, Rand: seededRand(3),
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	t.Cleanup(func() { g.Close() })
	static := serving.EndpointSpec{Name: "yaml", Targets: []serving.TargetSpec{{Model: "models:/recs/1"}}}
	sync := &serving.StoreSync{Gateway: g, Store: e.db, Static: []serving.EndpointSpec{static}}
	if err := sync.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := g.Status(); len(st) != 1 || st[0].Name != "yaml" {
		t.Fatalf("status with no stored endpoints: %+v", st)
	}
	ep := &loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/recs@champion", Weight: 100}}}
	if err := e.db.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	if err := sync.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	resp, _ := do(t, "POST", srv.URL+"/endpoints/recs/recommend", "application/json", `{"user_id": "`+e.users[0]+`", "k": 3}`)
	if resp.StatusCode != 200 || resp.Header.Get(serving.HeaderModelVersion) != "1" {
		t.Fatalf("stored endpoint: status %d, version %q", resp.StatusCode, resp.Header.Get(serving.HeaderModelVersion))
	}
	loads := logs.count("model loaded")

	// An unchanged generation reads one row and changes nothing.
	if err := sync.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// A weight change and a new target (version 2): version 1 is not
	// reloaded, version 2 is loaded once.
	ep.Targets = []loopml.EndpointTarget{{Model: "models:/recs@champion", Weight: 0}, {Model: "models:/recs/2", Weight: 100}}
	if err := e.db.UpdateEndpoint(ctx, ep, loopml.EndpointChange{}); err != nil {
		t.Fatal(err)
	}
	if err := sync.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := logs.count("model loaded") - loads; got != 1 {
		t.Fatalf("the update loaded %d models, want 1 (only the new target)", got)
	}
	for range 20 {
		resp, _ := do(t, "POST", srv.URL+"/endpoints/recs/recommend", "application/json", `{"user_id": "`+e.users[1]+`", "k": 3}`)
		if v := resp.Header.Get(serving.HeaderModelVersion); v != "2" {
			t.Fatalf("after the weight change version %q answered, want 2 (weight 100 vs 0)", v)
		}
	}
	ep.Targets[0].Weight, ep.Targets[1].Weight = 100, 0
	if err := e.db.UpdateEndpoint(ctx, ep, loopml.EndpointChange{}); err != nil {
		t.Fatal(err)
	}
	before := logs.count("model loaded")
	if err := sync.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if logs.count("model loaded") != before {
		t.Fatal("a pure weight change reloaded a model")
	}

	// A stored endpoint named like a static one is refused (ECONFLICT),
	// the others keep being served.
	if err := e.db.CreateEndpoint(ctx, &loopml.Endpoint{Name: "yaml", Targets: []loopml.EndpointTarget{{Model: "models:/recs/2"}}}); err != nil {
		t.Fatal(err)
	}
	err := sync.Sync(ctx)
	if loopml.ErrorCode(err) != loopml.ECONFLICT || !strings.Contains(loopml.ErrorMessage(err), "yaml") {
		t.Fatalf("name clash: %v, want ECONFLICT naming yaml", err)
	}
	if st := g.Status(); len(st) != 2 || st[0].Targets[0].Model != "models:/recs/1" {
		t.Fatalf("after the clash: %+v", st)
	}
	// Deleting an endpoint stops serving it.
	if err := e.db.DeleteEndpoint(ctx, "recs"); err != nil {
		t.Fatal(err)
	}
	_ = sync.Sync(ctx)
	resp, _ = do(t, "POST", srv.URL+"/endpoints/recs/recommend", "application/json", `{"user_id": "1", "k": 3}`)
	if resp.StatusCode != 404 {
		t.Fatalf("deleted endpoint answered %d, want 404", resp.StatusCode)
	}
}

func TestTrafficStats(t *testing.T) {
	e := newEnv(t)
	stats := &serving.TrafficStats{}
	g := &serving.Gateway{Registry: e.db, Artifacts: e.arts, PollInterval: -1, Rand: seededRand(1), Traffic: stats}
	defer g.Close()
	if err := g.Load(context.Background(), []serving.EndpointSpec{{Name: "recs", Targets: []serving.TargetSpec{
		{Model: "models:/recs@champion", Weight: 80}, {Model: "models:/recs/2", Weight: 20}}}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	const n = 500
	for i := range n {
		resp, _ := do(t, "POST", srv.URL+"/endpoints/recs/recommend", "application/json", `{"user_id": "`+e.users[i%len(e.users)]+`", "k": 2}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// Unrouted requests (unknown endpoint, bad body) are not recorded.
	do(t, "POST", srv.URL+"/endpoints/nope/recommend", "application/json", `{"user_id": "1"}`)
	st, err := stats.TargetStats(context.Background(), "recs", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Target != "models:/recs/2" || st[1].Target != "models:/recs@champion" {
		t.Fatalf("stats: %+v", st)
	}
	if st[0].Requests+st[1].Requests != n || st[1].Version != "1" || st[0].Version != "2" {
		t.Fatalf("stats: %+v, want %d requests in all", st, n)
	}
	if share := float64(st[1].Requests) / n; share < 0.72 || share > 0.88 {
		t.Fatalf("champion share %.2f, want about 0.8", share)
	}
	for _, s := range st {
		if s.Errors != 0 || s.LatencyP99Us <= 0 || s.LatencyP50Us > s.LatencyP99Us {
			t.Fatalf("stats: %+v", s)
		}
	}
	if st, _ := stats.TargetStats(context.Background(), "recs", 1<<50, 0); len(st) != 0 {
		t.Fatalf("a window in the future has stats: %+v", st)
	}
}

// BenchmarkStoreSyncUnchanged is the cost of one poll when nothing
// changed: one read of the endpoints generation.
func BenchmarkStoreSyncUnchanged(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	if err := e.db.CreateEndpoint(ctx, &loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/recs@champion"}}}); err != nil {
		b.Fatal(err)
	}
	g := &serving.Gateway{Registry: e.db, Artifacts: e.arts, PollInterval: -1}
	defer g.Close()
	s := &serving.StoreSync{Gateway: g, Store: e.db}
	if err := s.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrafficStatsHandler is a recommend request through the gateway
// with and without TrafficStats: the cost of recording rollout stats.
func BenchmarkTrafficStatsHandler(b *testing.B) {
	e := newEnv(b)
	body := `{"user_id": "` + e.users[0] + `", "k": 10}`
	for _, tc := range []struct {
		name    string
		traffic *serving.TrafficStats
	}{{"bare", nil}, {"stats", &serving.TrafficStats{}}} {
		b.Run(tc.name, func(b *testing.B) {
			g := &serving.Gateway{Registry: e.db, Artifacts: e.arts, PollInterval: -1, Traffic: tc.traffic}
			defer g.Close()
			if err := g.Load(context.Background(), []serving.EndpointSpec{champion("recs")}); err != nil {
				b.Fatal(err)
			}
			h := g.Handler()
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("POST", "/endpoints/recs/recommend", strings.NewReader(body)))
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
