package storetest

import (
	"strings"
	"sync"
	"testing"

	"github.com/loopml/loopml"
)

var endpointTests = []test{
	{"CRUD", testEndpointCRUD},
	{"Validation", testEndpointValidation},
	{"CompareAndSet", testEndpointCompareAndSet},
	{"Generation", testEndpointGeneration},
	{"Events", testEndpointEvents},
	{"Workspaces", testEndpointWorkspaces},
	{"RacingUpdates", testEndpointRacingUpdates},
}

// endpointStore returns s as an EndpointService, skipping stores without
// one.
func endpointStore(t *testing.T, s Store) loopml.EndpointService {
	t.Helper()
	es, ok := s.(loopml.EndpointService)
	if !ok {
		t.Skip("store does not implement loopml.EndpointService")
	}
	return es
}

func mustCreateEndpoint(t *testing.T, es loopml.EndpointService, e loopml.Endpoint) *loopml.Endpoint {
	t.Helper()
	if err := es.CreateEndpoint(ctx, &e); err != nil {
		t.Fatalf("create endpoint %q: %v", e.Name, err)
	}
	return &e
}

func testEndpointCRUD(t *testing.T, s Store) {
	es := endpointStore(t, s)
	e := mustCreateEndpoint(t, es, loopml.Endpoint{
		Name:         "recs",
		Targets:      []loopml.EndpointTarget{{Model: "models:/recs@champion", Weight: 90}, {Model: "models:/recs@challenger", Weight: 10}},
		Shadow:       []loopml.EndpointTarget{{Model: "models:/recs/7"}},
		StickyHeader: "X-User-Id",
		Default:      true,
	})
	if e.Workspace != loopml.DefaultWorkspace || e.Generation <= 0 || e.CreationTimestamp == 0 || e.CreatedBy == "" {
		t.Fatalf("created endpoint not filled in: %+v", e)
	}
	got, err := es.GetEndpoint(ctx, "recs")
	must(t, err)
	if len(got.Targets) != 2 || got.Targets[1] != (loopml.EndpointTarget{Model: "models:/recs@challenger", Weight: 10}) ||
		len(got.Shadow) != 1 || got.Shadow[0].Model != "models:/recs/7" || got.StickyHeader != "X-User-Id" || !got.Default ||
		got.Generation != e.Generation || got.Rollout != nil {
		t.Fatalf("get endpoint = %+v, want what was created (%+v)", got, e)
	}
	wantErr(t, es.CreateEndpoint(ctx, &loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/x/1"}}}), loopml.ECONFLICT, "recs")
	mustCreateEndpoint(t, es, loopml.Endpoint{Name: "alpha", Targets: []loopml.EndpointTarget{{Model: "models:/a/1"}}})
	list, err := es.ListEndpoints(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "recs" {
		t.Fatalf("list endpoints = %v, want alpha, recs", endpointNames(list))
	}

	got.Targets = []loopml.EndpointTarget{{Model: "models:/recs@champion", Weight: 50}, {Model: "models:/recs@challenger", Weight: 50}}
	got.Shadow = nil
	got.Default = false
	old := got.Generation
	must(t, es.UpdateEndpoint(ctx, got, loopml.EndpointChange{Reason: "even split"}))
	if got.Generation <= old {
		t.Fatalf("generation after update = %d, want > %d", got.Generation, old)
	}
	again, err := es.GetEndpoint(ctx, "recs")
	must(t, err)
	if again.Targets[0].Weight != 50 || len(again.Shadow) != 0 || again.Default || again.Generation != got.Generation || again.CreationTimestamp != e.CreationTimestamp {
		t.Fatalf("after update: %+v", again)
	}

	r := loopml.Rollout{Candidate: "models:/recs/8", Steps: []int{10, 100}, IntervalMs: 1000, MaxErrorRate: 0.01, PromoteAlias: "champion"}
	must(t, loopml.StartRollout(again, r, 1000, "alice"))
	must(t, es.UpdateEndpoint(ctx, again, loopml.EndpointChange{Event: loopml.EventRolloutStarted}))
	withRollout, err := es.GetEndpoint(ctx, "recs")
	must(t, err)
	if ro := withRollout.Rollout; ro == nil || ro.State != loopml.RolloutRunning || ro.Candidate != "models:/recs/8" || len(ro.Baseline) != 2 ||
		ro.MinSamples != loopml.DefaultRolloutMinSamples || ro.PromoteAlias != "champion" || ro.StartedBy != "alice" {
		t.Fatalf("stored rollout = %+v", withRollout.Rollout)
	}
	if len(withRollout.Targets) != 3 || withRollout.Targets[2].Model != "models:/recs/8" {
		t.Fatalf("targets during the rollout = %+v", withRollout.Targets)
	}

	must(t, es.DeleteEndpoint(ctx, "recs"))
	_, err = es.GetEndpoint(ctx, "recs")
	wantErr(t, err, loopml.ENOTFOUND, "recs")
	wantErr(t, es.DeleteEndpoint(ctx, "recs"), loopml.ENOTFOUND, "recs")
	wantErr(t, es.UpdateEndpoint(ctx, withRollout, loopml.EndpointChange{}), loopml.ENOTFOUND, "recs")
}

func endpointNames(list []*loopml.Endpoint) []string {
	var out []string
	for _, e := range list {
		out = append(out, e.Name)
	}
	return out
}

func testEndpointValidation(t *testing.T, s Store) {
	es := endpointStore(t, s)
	ok := []loopml.EndpointTarget{{Model: "models:/recs/1"}}
	for _, tc := range []struct {
		e    loopml.Endpoint
		want string
	}{
		{loopml.Endpoint{Targets: ok}, "'name'"},
		{loopml.Endpoint{Name: "a/b", Targets: ok}, "'name'"},
		{loopml.Endpoint{Name: strings.Repeat("x", 200), Targets: ok}, "'name'"},
		{loopml.Endpoint{Name: "e"}, "'targets'"},
		{loopml.Endpoint{Name: "e", Targets: []loopml.EndpointTarget{{Model: "runs:/abc/model"}}}, "'targets[0].model'"},
		{loopml.Endpoint{Name: "e", Targets: []loopml.EndpointTarget{{Model: "models:/a/1", Weight: -1}}}, "'targets[0].weight'"},
		{loopml.Endpoint{Name: "e", Targets: []loopml.EndpointTarget{{Model: "models:/a/1"}, {Model: "models:/a/1"}}}, "'targets[1].model'"},
		{loopml.Endpoint{Name: "e", Targets: ok, Shadow: []loopml.EndpointTarget{{Model: "nope"}}}, "'shadow[0].model'"},
		{loopml.Endpoint{Name: "e", Targets: ok, StickyHeader: "X User"}, "'sticky_header'"},
		{loopml.Endpoint{Name: "e", Targets: ok, Rollout: &loopml.Rollout{Candidate: "models:/a/2", Steps: []int{50, 10}, IntervalMs: 1}}, "'rollout.steps[1]'"},
		{loopml.Endpoint{Name: "e", Targets: ok, Rollout: &loopml.Rollout{Candidate: "models:/a/2"}}, "'rollout.interval'"},
		{loopml.Endpoint{Name: "e", Targets: ok, Rollout: &loopml.Rollout{Candidate: "models:/a@x", IntervalMs: 1, PromoteAlias: "champion"}}, "'rollout.to'"},
	} {
		wantErr(t, es.CreateEndpoint(ctx, &tc.e), loopml.EINVALID, tc.want)
	}
	list, err := es.ListEndpoints(ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("invalid endpoints were stored: %v", endpointNames(list))
	}
	// At most one default endpoint per workspace.
	mustCreateEndpoint(t, es, loopml.Endpoint{Name: "a", Targets: ok, Default: true})
	wantErr(t, es.CreateEndpoint(ctx, &loopml.Endpoint{Name: "b", Targets: ok, Default: true}), loopml.EINVALID, "'default'", "a")
	b := mustCreateEndpoint(t, es, loopml.Endpoint{Name: "b", Targets: ok})
	b.Default = true
	wantErr(t, es.UpdateEndpoint(ctx, b, loopml.EndpointChange{}), loopml.EINVALID, "'default'")
	a, err := es.GetEndpoint(ctx, "a")
	must(t, err)
	a.StickyHeader = "X-Still-Default"
	must(t, es.UpdateEndpoint(ctx, a, loopml.EndpointChange{})) // the default itself may change
	must(t, es.CreateEndpoint(loopml.NewContextWithWorkspace(ctx, "other"), &loopml.Endpoint{Name: "c", Targets: ok, Default: true}))
}

func testEndpointCompareAndSet(t *testing.T, s Store) {
	es := endpointStore(t, s)
	mustCreateEndpoint(t, es, loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/recs/1"}}})
	a, err := es.GetEndpoint(ctx, "recs")
	must(t, err)
	b, err := es.GetEndpoint(ctx, "recs")
	must(t, err)
	a.Targets[0].Weight = 3
	must(t, es.UpdateEndpoint(ctx, a, loopml.EndpointChange{}))
	b.Targets[0].Weight = 4
	wantErr(t, es.UpdateEndpoint(ctx, b, loopml.EndpointChange{}), loopml.ECONFLICT, "generation")
	got, err := es.GetEndpoint(ctx, "recs")
	must(t, err)
	if got.Targets[0].Weight != 3 {
		t.Fatalf("the stale update was applied: weight %d, want 3", got.Targets[0].Weight)
	}
	b.Generation = got.Generation
	must(t, es.UpdateEndpoint(ctx, b, loopml.EndpointChange{}))
}

func testEndpointGeneration(t *testing.T, s Store) {
	es := endpointStore(t, s)
	g0, err := es.EndpointsGeneration(ctx)
	must(t, err)
	if g0 != 0 {
		t.Fatalf("generation of an empty store = %d, want 0", g0)
	}
	e := mustCreateEndpoint(t, es, loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/recs/1"}}})
	g1, err := es.EndpointsGeneration(ctx)
	must(t, err)
	if g1 <= g0 || g1 != e.Generation {
		t.Fatalf("generation after create = %d, want %d", g1, e.Generation)
	}
	_, err = es.GetEndpoint(ctx, "recs")
	must(t, err)
	if g, _ := es.EndpointsGeneration(ctx); g != g1 {
		t.Fatalf("a read changed the generation: %d -> %d", g1, g)
	}
	e.StickyHeader = "X-User"
	must(t, es.UpdateEndpoint(ctx, e, loopml.EndpointChange{}))
	g2, _ := es.EndpointsGeneration(ctx)
	if g2 <= g1 {
		t.Fatalf("generation after update = %d, want > %d", g2, g1)
	}
	must(t, es.DeleteEndpoint(ctx, "recs"))
	g3, _ := es.EndpointsGeneration(ctx)
	if g3 <= g2 {
		t.Fatalf("generation after delete = %d, want > %d", g3, g2)
	}
	// A failed (stale) update does not move it.
	mustCreateEndpoint(t, es, loopml.Endpoint{Name: "x", Targets: []loopml.EndpointTarget{{Model: "models:/recs/1"}}})
	g4, _ := es.EndpointsGeneration(ctx)
	stale := &loopml.Endpoint{Name: "x", Targets: []loopml.EndpointTarget{{Model: "models:/recs/2"}}, Generation: 1}
	if es.UpdateEndpoint(ctx, stale, loopml.EndpointChange{}) == nil {
		t.Fatal("update with a stale generation succeeded")
	}
	if g, _ := es.EndpointsGeneration(ctx); g != g4 {
		t.Fatalf("a failed update moved the generation %d -> %d", g4, g)
	}
}

func testEndpointEvents(t *testing.T, s Store) {
	es := endpointStore(t, s)
	for _, name := range []string{"recs", "other"} {
		must(t, s.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: name}))
	}
	pctx := loopml.NewContextWithPrincipal(ctx, "bob")
	e := &loopml.Endpoint{Name: "ep", Targets: []loopml.EndpointTarget{{Model: "models:/recs@champion"}}, Shadow: []loopml.EndpointTarget{{Model: "models:/other/1"}}}
	must(t, es.CreateEndpoint(pctx, e))
	e.Shadow = nil
	must(t, es.UpdateEndpoint(pctx, e, loopml.EndpointChange{Event: loopml.EventRolloutStep, Reason: "step 2", Detail: `{"percent":25}`}))
	evs, err := s.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "recs"})
	must(t, err)
	var mine []loopml.RegistryEvent
	for _, ev := range evs {
		if ev.Endpoint != "" {
			mine = append(mine, ev)
		}
	}
	if len(mine) != 2 || mine[0].Type != loopml.EventEndpointCreated || mine[1].Type != loopml.EventRolloutStep {
		t.Fatalf("endpoint events of recs = %+v, want endpoint_created, rollout_step", mine)
	}
	last := mine[1]
	if last.Endpoint != "ep" || last.Reason != "step 2" || last.Detail != `{"percent":25}` || last.Principal != "bob" || last.Model != "recs" {
		t.Fatalf("rollout_step event = %+v", last)
	}
	if !strings.Contains(mine[0].Detail, "models:/recs@champion") {
		t.Fatalf("endpoint_created detail %q does not list the targets", mine[0].Detail)
	}
	// The model that was only in the previous state (shadow) gets the
	// update event too.
	other, err := s.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "other"})
	must(t, err)
	n := 0
	for _, ev := range other {
		if ev.Endpoint == "ep" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("model other has %d events of endpoint ep, want 2 (created, and the update that removed it)", n)
	}
	must(t, es.DeleteEndpoint(pctx, "ep"))
	evs, err = s.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "recs"})
	must(t, err)
	if ev := evs[len(evs)-1]; ev.Type != loopml.EventEndpointDeleted || ev.Endpoint != "ep" {
		t.Fatalf("last event of recs = %+v, want endpoint_deleted", ev)
	}
	// A model that is not registered gets its events under its name.
	must(t, es.CreateEndpoint(ctx, &loopml.Endpoint{Name: "ghost", Targets: []loopml.EndpointTarget{{Model: "models:/unregistered/1"}}}))
	evs, err = s.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "unregistered"})
	must(t, err)
	if len(evs) != 1 || evs[0].Endpoint != "ghost" {
		t.Fatalf("events of an unregistered model = %+v", evs)
	}
}

func testEndpointWorkspaces(t *testing.T, s Store) {
	es := endpointStore(t, s)
	other := loopml.NewContextWithWorkspace(ctx, "team-b")
	mustCreateEndpoint(t, es, loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/recs/1"}}})
	must(t, es.CreateEndpoint(other, &loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/recs/2"}}}))
	a, err := es.GetEndpoint(ctx, "recs")
	must(t, err)
	b, err := es.GetEndpoint(other, "recs")
	must(t, err)
	if a.Targets[0].Model == b.Targets[0].Model || b.Workspace != "team-b" {
		t.Fatalf("workspaces share endpoints: %+v / %+v", a, b)
	}
	ga, _ := es.EndpointsGeneration(ctx)
	must(t, es.DeleteEndpoint(other, "recs"))
	if g, _ := es.EndpointsGeneration(ctx); g != ga {
		t.Fatalf("a change in another workspace moved this one's generation %d -> %d", ga, g)
	}
	if _, err := es.GetEndpoint(ctx, "recs"); err != nil {
		t.Fatalf("deleting in another workspace deleted this one's endpoint: %v", err)
	}
}

// testEndpointRacingUpdates: concurrent compare-and-set updates from the
// same generation: exactly one wins, the others get ECONFLICT.
func testEndpointRacingUpdates(t *testing.T, s Store) {
	es := endpointStore(t, s)
	e := mustCreateEndpoint(t, es, loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/recs/1"}}})
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.Clone()
			c.Targets[0].Weight = i + 1
			err := es.UpdateEndpoint(ctx, c, loopml.EndpointChange{})
			mu.Lock()
			defer mu.Unlock()
			switch loopml.ErrorCode(err) {
			case "":
				wins++
			case loopml.ECONFLICT:
				conflicts++
			default:
				t.Errorf("racing update: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || conflicts != n-1 {
		t.Fatalf("racing updates from one generation: %d won, %d conflicted; want 1 and %d", wins, conflicts, n-1)
	}
}
