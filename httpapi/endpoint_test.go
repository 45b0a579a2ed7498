package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
)

func newEndpointEnv(t *testing.T, dsn string) *env {
	t.Helper()
	return newEnvDSN(t, dsn, func(c *httpapi.Config) {
		c.Registry = c.Experiments.(loopml.ModelRegistry)
		c.Endpoints = c.Experiments.(loopml.EndpointService)
	})
}

func TestEndpointRoutes(t *testing.T) {
	e := newEndpointEnv(t, "")
	m := e.lm("POST", "endpoints/create", `{"name": "recs", "targets": [{"model": "models:/recs@champion", "weight": 90},
		{"model": "models:/recs@challenger", "weight": 10}], "sticky_header": "X-User-Id"}`).ok(t)
	gen, _ := dig(m, "endpoint", "generation").(float64)
	if gen <= 0 || dig(m, "endpoint", "sticky_header") != "X-User-Id" {
		t.Fatalf("create answer: %v", m)
	}
	m = e.lm("GET", "endpoints/get?name=recs", "").ok(t)
	if ts, _ := dig(m, "endpoint", "targets").([]any); len(ts) != 2 {
		t.Fatalf("get: %v", m)
	}
	m = e.lm("GET", "endpoints/list", "").ok(t)
	if eps, _ := m["endpoints"].([]any); len(eps) != 1 || m["generation"].(float64) != gen {
		t.Fatalf("list: %v", m)
	}
	// Update with the generation read; a second one with the same
	// (now stale) generation conflicts.
	upd := `{"name": "recs", "generation": ` + strconv.FormatInt(int64(gen), 10) + `, "targets": [{"model": "models:/recs@champion", "weight": 50}, {"model": "models:/recs@challenger", "weight": 50}], "reason": "even"}`
	m = e.lm("PATCH", "endpoints/update", upd).ok(t)
	if g2, _ := dig(m, "endpoint", "generation").(float64); g2 <= gen {
		t.Fatalf("update did not move the generation: %v", m)
	}
	e.lm("PATCH", "endpoints/update", upd).isError(t, 400, "RESOURCE_ALREADY_EXISTS", "generation")
	m = e.lm("GET", "endpoints/generation", "").ok(t)
	if m["generation"].(float64) <= gen {
		t.Fatalf("generation: %v", m)
	}

	// Rollouts.
	m = e.lm("POST", "endpoints/rollout/start", `{"name": "recs", "rollout": {"candidate": "models:/recs/8", "steps": [10, 100], "interval_ms": 60000, "max_error_rate": 0.02}}`).ok(t)
	if dig(m, "endpoint", "rollout", "state") != loopml.RolloutRunning {
		t.Fatalf("rollout start: %v", m)
	}
	ts, _ := dig(m, "endpoint", "targets").([]any)
	if len(ts) != 3 || ts[2].(map[string]any)["weight"].(float64) != 10*100 {
		t.Fatalf("targets at the first step: %v", ts)
	}
	e.lm("POST", "endpoints/rollout/start", `{"name": "recs", "rollout": {"candidate": "models:/recs/9", "interval_ms": 1}}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "already has a rollout")
	g3, _ := dig(m, "endpoint", "generation").(float64)
	e.lm("PATCH", "endpoints/update", `{"name": "recs", "generation": `+strconv.FormatInt(int64(g3), 10)+`, "targets": [{"model": "models:/recs/1"}]}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "rollout in progress")
	// Other fields may change during a rollout.
	e.lm("PATCH", "endpoints/update", `{"name": "recs", "generation": `+strconv.FormatInt(int64(g3), 10)+`, "targets": `+mustJSON(t, dig(m, "endpoint", "targets"))+`, "sticky_header": "X-Session"}`).ok(t)
	m = e.lm("GET", "endpoints/rollout/status?name=recs", "").ok(t)
	if dig(m, "rollout", "candidate") != "models:/recs/8" {
		t.Fatalf("status: %v", m)
	}
	m = e.lm("POST", "endpoints/rollout/abort", `{"name": "recs", "reason": "changed my mind"}`).ok(t)
	if dig(m, "endpoint", "rollout", "state") != loopml.RolloutAborted || len(dig(m, "endpoint", "targets").([]any)) != 2 {
		t.Fatalf("abort: %v", m)
	}
	e.lm("POST", "endpoints/rollout/abort", `{"name": "recs"}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "no rollout in progress")

	e.lm("DELETE", "endpoints/delete?name=recs", "").ok(t)
	e.lm("GET", "endpoints/get?name=recs", "").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "recs")
}

func TestEndpointRoutesBadInput(t *testing.T) {
	e := newEndpointEnv(t, "")
	for _, tc := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "endpoints/create", `{"name": "x", "targets": []}`, 400, "'targets'"},
		{"POST", "endpoints/create", `{"name": "x", "targets": [{"model": "nope"}]}`, 400, "'targets[0].model'"},
		{"POST", "endpoints/create", `{"name": "x", "targets": [{"model": "models:/a/1", "weight": -3}]}`, 400, "'targets[0].weight'"},
		{"POST", "endpoints/create", `{"name": "x", "targets": [{"model": "models:/a/1", "weight": "heavy"}]}`, 400, "weight"},
		{"POST", "endpoints/create", `{"name": "x", "tragets": []}`, 400, "tragets"},
		{"POST", "endpoints/create", `{"name": `, 400, "malformed"},
		{"POST", "endpoints/create", ``, 400, "empty"},
		{"POST", "endpoints/create", `{"name": "bad name", "targets": [{"model": "models:/a/1"}]}`, 400, "'name'"},
		{"GET", "endpoints/get", ``, 400, "'name'"},
		{"GET", "endpoints/get?name=none", ``, 404, "none"},
		{"PATCH", "endpoints/update", `{"name": "none", "targets": [{"model": "models:/a/1"}]}`, 400, "'generation'"},
		{"PATCH", "endpoints/update", `{"name": "none", "generation": 3, "targets": [{"model": "models:/a/1"}]}`, 404, "none"},
		{"DELETE", "endpoints/delete", ``, 400, "'name'"},
		{"POST", "endpoints/rollout/start", `{"name": "none"}`, 400, "'rollout'"},
		{"POST", "endpoints/rollout/start", `{"name": "none", "rollout": {"candidate": "models:/a/2", "interval_ms": 1}}`, 404, "none"},
		{"GET", "endpoints/rollout/status?name=none", ``, 404, "none"},
	} {
		r := e.lm(tc.method, tc.path, tc.body)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.msg) {
			t.Errorf("%s %s %s: %d %s, want %d mentioning %s", tc.method, tc.path, tc.body, r.status, r.body, tc.status, tc.msg)
		}
	}
	e.lm("POST", "endpoints/create", `{"name": "x", "targets": [{"model": "models:/a/1"}]}`).ok(t)
	for _, body := range []string{
		`{"name": "x", "rollout": {"candidate": "models:/a/2", "interval_ms": 0}}`,
		`{"name": "x", "rollout": {"candidate": "models:/a/2", "interval_ms": 5, "steps": [0]}}`,
		`{"name": "x", "rollout": {"candidate": "models:/a/1", "interval_ms": 5}}`,
		`{"name": "x", "rollout": {"candidate": "models:/a@c", "interval_ms": 5, "promote_alias": "champion"}}`,
		`{"name": "x", "rollout": {"candidate": "models:/a/2", "interval_ms": 5, "strategy": "bluegreen"}}`,
	} {
		e.lm("POST", "endpoints/rollout/start", body).isError(t, 400, "INVALID_PARAMETER_VALUE", "rollout")
	}
	// Without an EndpointService the routes answer 501.
	bare := newEnv(t)
	bare.lm("GET", "endpoints/list", "").isError(t, 501, "NOT_IMPLEMENTED")
}

func TestEndpointClientRoundTrip(t *testing.T) {
	e := newEndpointEnv(t, "")
	ctx := context.Background()
	c := httpapi.NewClient(e.srv.URL, nil)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.db.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "recs"}))
	ep := &loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/recs@champion"}}, Default: true}
	must(c.CreateEndpoint(ctx, ep))
	if ep.Generation == 0 || ep.Workspace != "default" {
		t.Fatalf("created: %+v", ep)
	}
	g, err := c.EndpointsGeneration(ctx)
	must(err)
	if g != ep.Generation {
		t.Fatalf("generation %d, want %d", g, ep.Generation)
	}
	ep.Shadow = []loopml.EndpointTarget{{Model: "models:/recs/2"}}
	must(c.UpdateEndpoint(ctx, ep, loopml.EndpointChange{Reason: "add a shadow"}))
	stale := ep.Clone()
	stale.Generation = g
	if err := c.UpdateEndpoint(ctx, stale, loopml.EndpointChange{}); loopml.ErrorCode(err) != loopml.ECONFLICT {
		t.Fatalf("stale update: %v, want ECONFLICT", err)
	}
	list, err := c.ListEndpoints(ctx)
	must(err)
	if len(list) != 1 || len(list[0].Shadow) != 1 || !list[0].Default {
		t.Fatalf("list: %+v", list)
	}
	got, err := c.StartEndpointRollout(ctx, "recs", loopml.Rollout{Candidate: "models:/recs/3", IntervalMs: 1000, PromoteAlias: "champion"})
	must(err)
	if got.Rollout == nil || got.Rollout.MinSamples != loopml.DefaultRolloutMinSamples || got.Rollout.Steps[0] != 5 {
		t.Fatalf("rollout: %+v", got.Rollout)
	}
	got, err = c.AbortEndpointRollout(ctx, "recs", "")
	must(err)
	if got.Rollout.State != loopml.RolloutAborted || !strings.Contains(got.Rollout.Reason, "aborted by") {
		t.Fatalf("aborted rollout: %+v", got.Rollout)
	}
	evs, err := c.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "recs"})
	must(err)
	var types []string
	for _, ev := range evs {
		if ev.Endpoint == "recs" {
			types = append(types, ev.Type)
		}
	}
	want := []string{loopml.EventEndpointCreated, loopml.EventEndpointUpdated, loopml.EventRolloutStarted, loopml.EventRolloutAborted}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("endpoint events over HTTP = %v, want %v", types, want)
	}
	if d := evs[len(evs)-1].Detail; !strings.Contains(d, `"candidate":"models:/recs/3"`) {
		t.Fatalf("rollout_aborted detail = %s", d)
	}
	_, err = c.GetEndpoint(ctx, "nope")
	if loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Fatalf("get unknown: %v", err)
	}
	must(c.DeleteEndpoint(ctx, "recs"))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRolloutStatusStepStats: with a prediction log, the rollout status
// carries the current step's traffic per target.
func TestRolloutStatusStepStats(t *testing.T) {
	e := newEnvDSN(t, "", func(c *httpapi.Config) {
		c.Registry = c.Experiments.(loopml.ModelRegistry)
		c.Endpoints = c.Experiments.(loopml.EndpointService)
		c.Predictions = c.Experiments.(loopml.PredictionLog)
	})
	ctx := context.Background()
	c := httpapi.NewClient(e.srv.URL, nil)
	if err := c.CreateEndpoint(ctx, &loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/recs/1"}}}); err != nil {
		t.Fatal(err)
	}
	started, err := c.StartEndpointRollout(ctx, "recs", loopml.Rollout{Candidate: "models:/recs/2", IntervalMs: 60_000})
	if err != nil {
		t.Fatal(err)
	}
	// At the start of the step: a later time may still be in the future
	// when the status is read within the same millisecond.
	now := started.Rollout.StepStartedAt
	var ps []*loopml.Prediction
	for i := range 30 {
		target, status := "models:/recs/1", 200
		if i%3 == 0 {
			target = "models:/recs/2"
			if i%2 == 0 {
				status = 500
			}
		}
		ps = append(ps, &loopml.Prediction{RequestID: fmt.Sprint("r", i), Endpoint: "recs", Target: target, Model: "recs", Protocol: "recommend",
			Status: status, LatencyUs: int64(100 + i), Timestamp: now})
	}
	if err := e.db.LogPredictions(ctx, ps); err != nil {
		t.Fatal(err)
	}
	ep, st, err := c.RolloutStatus(ctx, "recs")
	if err != nil {
		t.Fatal(err)
	}
	if ep.Rollout == nil || len(st) != 2 {
		t.Fatalf("status: %+v, stats %+v", ep.Rollout, st)
	}
	for _, s := range st {
		if s.Target == "models:/recs/2" && (s.Requests != 10 || s.Errors != 5) {
			t.Fatalf("candidate stats %+v, want 10 requests, 5 errors", s)
		}
	}
}
