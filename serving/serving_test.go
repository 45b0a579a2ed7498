package serving_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/serving"
)

func TestParseEndpoints(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantErr    string // substring; "" = valid
	}{
		{"valid", `endpoints:
  - name: recs
    targets:
      - {model: "models:/recs@champion", weight: 90}
      - model: models:/recs/2
        weight: 10
    shadow: ["models:/recs@challenger"]
    sticky_header: X-User-Id
    default: true
`, ""},
		{"unknown key", "endpoints:\n  - name: a\n    targetz: []\n", "ep.yaml:3: endpoints[0].targetz: unknown key"},
		{"no targets", "endpoints:\n  - name: a\n", "ep.yaml:2: endpoints[0] (a) targets: at least one target is required"},
		{"bad uri", "endpoints:\n  - name: a\n    targets:\n      - model: models:/recs/nope\n", "ep.yaml:4: endpoints[0].targets[0].model"},
		{"negative weight", "endpoints:\n  - name: a\n    targets:\n      - {model: models:/r/1, weight: -1}\n", "endpoints[0].targets[0].weight"},
		{"duplicate name", "endpoints:\n  - {name: a, targets: [models:/r/1]}\n  - {name: a, targets: [models:/r/1]}\n", "ep.yaml:3: endpoints[1] name: \"a\" is declared twice"},
		{"two defaults", "endpoints:\n  - {name: a, targets: [models:/r/1], default: true}\n  - {name: b, targets: [models:/r/1], default: true}\n", "only one endpoint may be the default"},
		{"bad name", "endpoints:\n  - {name: 'a b', targets: [models:/r/1]}\n", "may hold only letters"},
		{"bad header", "endpoints:\n  - {name: a, targets: [models:/r/1], sticky_header: 'X User'}\n", "sticky_header"},
		{"empty", "", "empty file"},
		{"no endpoints", "endpoints: []\n", "at least one endpoint"},
		{"not a list", "endpoints: {}\n", "ep.yaml:1: endpoints: must be a list"},
		{"bad yaml", "endpoints: [\n", "ep.yaml"},
		{"bad default", "endpoints:\n  - {name: a, targets: [models:/r/1], default: maybe}\n", "endpoints[0].default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := serving.ParseEndpoints(strings.NewReader(tt.yaml), "ep.yaml")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				s := specs[0]
				if s.Name != "recs" || len(s.Targets) != 2 || s.Targets[0].Weight != 90 || s.Targets[1].Model != "models:/recs/2" ||
					len(s.Shadow) != 1 || s.StickyHeader != "X-User-Id" || !s.Default {
					t.Errorf("got %+v", s)
				}
				return
			}
			if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
				t.Errorf("got %v, want EINVALID containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestInvocations(t *testing.T) {
	e := newEnv(t)
	_, srv, err := e.gateway(t, champion("recs"))
	if err != nil {
		t.Fatal(err)
	}
	u0, u1, i0, i1 := e.users[0], e.users[1], e.items[0], e.items[1]
	want := []float64{}
	for _, p := range [][2]string{{u0, i0}, {u1, i1}} {
		s, _ := e.models["1"].Predict(p[0], p[1])
		want = append(want, s)
	}
	bodies := map[string]string{
		"dataframe_split":   fmt.Sprintf(`{"dataframe_split": {"columns": ["user_id", "item_id", "extra"], "data": [[%s, %s, "x"], [%s, %s, "y"]]}}`, u0, i0, u1, i1),
		"dataframe_records": fmt.Sprintf(`{"dataframe_records": [{"user_id": %s, "item_id": %s}, {"item_id": %s, "user_id": %s}], "params": {"k": 3}}`, u0, i0, i1, u1),
		"instances":         fmt.Sprintf(`{"instances": [{"user_id": %s, "item_id": %s}, {"user_id": %s, "item_id": %s}]}`, u0, i0, u1, i1),
		"inputs":            fmt.Sprintf(`{"inputs": {"user_id": [%s, %s], "item_id": [%s, %s]}}`, u0, u1, i0, i1),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			resp, out := do(t, "POST", srv.URL+"/endpoints/recs/invocations", "application/json", body, "X-Request-Id", "req-"+name)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %v", resp.StatusCode, out)
			}
			checkPredictions(t, out, want)
			if got := resp.Header.Get("X-Request-Id"); got != "req-"+name {
				t.Errorf("X-Request-Id %q, want the one sent", got)
			}
			if got := resp.Header.Get("X-Loopml-Model-Version"); got != "1" {
				t.Errorf("model version header %q, want 1", got)
			}
		})
	}
	t.Run("csv", func(t *testing.T) {
		body := fmt.Sprintf("item_id,user_id\n%s,%s\n%s,%s\n", i0, u0, i1, u1)
		resp, out := do(t, "POST", srv.URL+"/invocations", "text/csv; charset=utf-8", body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %v", resp.StatusCode, out)
		}
		checkPredictions(t, out, want)
		if id := resp.Header.Get("X-Request-Id"); len(id) != 32 {
			t.Errorf("generated request id %q, want 32 hex digits", id)
		}
	})

	errs := []struct {
		name, path, ct, body string
		status               int
		code, msg            string
	}{
		{"malformed JSON", "/endpoints/recs/invocations", "application/json", `{"inputs": [1,`, 400, "BAD_REQUEST", "scoring request"},
		{"two formats", "/endpoints/recs/invocations", "application/json", `{"inputs": [], "instances": []}`, 400, "BAD_REQUEST", "exactly one"},
		{"missing column", "/endpoints/recs/invocations", "application/json", `{"dataframe_records": [{"user_id": 1}]}`, 400, "BAD_REQUEST", "'item_id'"},
		{"unsafe conversion", "/endpoints/recs/invocations", "application/json", `{"dataframe_records": [{"user_id": 1.5, "item_id": 2}]}`, 400, "BAD_REQUEST", "user_id"},
		{"bad param", "/endpoints/recs/invocations", "application/json", `{"dataframe_records": [{"user_id": 1, "item_id": 2}], "params": {"k": "many"}}`, 400, "BAD_REQUEST", "'k'"},
		{"wrong content type", "/endpoints/recs/invocations", "text/plain", `x`, 415, "BAD_REQUEST", "text/plain"},
		{"bad charset", "/endpoints/recs/invocations", "application/json; charset=latin-1", `{}`, 415, "BAD_REQUEST", "charset"},
		{"no content type", "/endpoints/recs/invocations", "", `{}`, 415, "BAD_REQUEST", "Content-Type"},
		{"unknown endpoint", "/endpoints/nope/invocations", "application/json", `{}`, 404, "RESOURCE_DOES_NOT_EXIST", `"nope"`},
		{"too large", "/endpoints/recs/invocations", "application/json", `{"inputs": "` + strings.Repeat("x", serving.DefaultMaxBodyBytes) + `"}`, 413, "REQUEST_LIMIT_EXCEEDED", "larger than"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := do(t, "POST", srv.URL+tt.path, tt.ct, tt.body)
			if resp.StatusCode != tt.status || out["error_code"] != tt.code || !strings.Contains(fmt.Sprint(out["message"]), tt.msg) {
				t.Errorf("got %d %v, want %d %s with message containing %q", resp.StatusCode, out, tt.status, tt.code, tt.msg)
			}
		})
	}
}

func checkPredictions(t *testing.T, out map[string]any, want []float64) {
	t.Helper()
	got, ok := out["predictions"].([]any)
	if !ok || len(got) != len(want) {
		t.Fatalf("predictions %v, want %v", out["predictions"], want)
	}
	for i := range want {
		if f, _ := got[i].(float64); math.Abs(f-want[i]) > 1e-9 {
			t.Errorf("prediction %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestOpenInferenceProtocol(t *testing.T) {
	e := newEnv(t)
	_, srv, err := e.gateway(t, champion("recs"))
	if err != nil {
		t.Fatal(err)
	}
	u0, i0, i1 := e.users[0], e.items[0], e.items[1]
	s0, _ := e.models["1"].Predict(u0, i0)
	s1, _ := e.models["1"].Predict(u0, i1)

	for path, want := range map[string]int{"/v2/health/live": 200, "/v2/health/ready": 200, "/v2/models/recs/ready": 200,
		"/v2/models/recs/versions/1/ready": 200, "/v2/models/recs/versions/9/ready": 503, "/v2/models/nope/ready": 404, "/v2": 200} {
		if resp, out := do(t, "GET", srv.URL+path, "", ""); resp.StatusCode != want {
			t.Errorf("GET %s: %d %v, want %d", path, resp.StatusCode, out, want)
		}
	}
	_, meta := do(t, "GET", srv.URL+"/v2", "", "")
	if meta["name"] != "loopml" || meta["version"] != loopml.Version {
		t.Errorf("server metadata %v", meta)
	}
	resp, meta := do(t, "GET", srv.URL+"/v2/models/recs", "", "")
	in := fmt.Sprint(meta["inputs"])
	if resp.StatusCode != 200 || meta["platform"] != "loopml" || fmt.Sprint(meta["versions"]) != "[1]" ||
		!strings.Contains(in, "datatype:INT64 name:user_id") || !strings.Contains(in, "datatype:INT64 name:item_id") ||
		!strings.Contains(fmt.Sprint(meta["outputs"]), "datatype:FP64 name:score") {
		t.Errorf("model metadata %d %v", resp.StatusCode, meta)
	}

	okBodies := map[string]string{
		"INT64":  fmt.Sprintf(`{"id": "a1", "inputs": [{"name": "user_id", "shape": [2], "datatype": "INT64", "data": [%s, %s]}, {"name": "item_id", "shape": [2], "datatype": "INT64", "data": [%s, %s]}]}`, u0, u0, i0, i1),
		"BYTES":  fmt.Sprintf(`{"id": "a1", "inputs": [{"name": "user_id", "shape": [2, 1], "datatype": "BYTES", "data": [["%s"], ["%s"]]}, {"name": "item_id", "shape": [2, 1], "datatype": "BYTES", "data": [["%s"], ["%s"]]}], "outputs": [{"name": "score"}]}`, u0, u0, i0, i1),
		"FP64":   fmt.Sprintf(`{"id": "a1", "inputs": [{"name": "item_id", "shape": [2], "datatype": "FP64", "data": [%s.0, %s]}, {"name": "user_id", "shape": [2], "datatype": "FP64", "data": [%s, %s]}]}`, i0, i1, u0, u0),
		"v1 url": "",
	}
	for name, body := range okBodies {
		t.Run(name, func(t *testing.T) {
			path := "/v2/models/recs/infer"
			if body == "" {
				body, path = okBodies["INT64"], "/v2/models/recs/versions/1/infer"
			}
			resp, out := do(t, "POST", srv.URL+path, "application/json", body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %v", resp.StatusCode, out)
			}
			if out["id"] != "a1" || out["model_name"] != "recs" || out["model_version"] != "1" {
				t.Errorf("response %v", out)
			}
			outs, _ := out["outputs"].([]any)
			if len(outs) != 1 {
				t.Fatalf("outputs %v", out["outputs"])
			}
			o := outs[0].(map[string]any)
			data, _ := o["data"].([]any)
			if o["name"] != "score" || o["datatype"] != "FP64" || fmt.Sprint(o["shape"]) != "[2]" || len(data) != 2 ||
				math.Abs(data[0].(float64)-s0) > 1e-9 || math.Abs(data[1].(float64)-s1) > 1e-9 {
				t.Errorf("output %v, want scores [%v %v]", o, s0, s1)
			}
		})
	}

	errs := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"bad shape", "/v2/models/recs/infer", `{"inputs": [{"name": "user_id", "shape": [3], "datatype": "INT64", "data": [1, 2]}, {"name": "item_id", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}`, 400, "shape [3]"},
		{"2-D shape", "/v2/models/recs/infer", `{"inputs": [{"name": "user_id", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]}]}`, 400, "[N] or [N, 1]"},
		{"length mismatch", "/v2/models/recs/infer", `{"inputs": [{"name": "user_id", "shape": [1], "datatype": "INT64", "data": [1]}, {"name": "item_id", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}`, 400, "has 1 elements but item_id has 2"},
		{"missing input", "/v2/models/recs/infer", `{"inputs": [{"name": "user_id", "shape": [1], "datatype": "INT64", "data": [1]}]}`, 400, `"item_id" is missing`},
		{"wrong datatype", "/v2/models/recs/infer", `{"inputs": [{"name": "user_id", "shape": [1], "datatype": "BYTES", "data": [1]}, {"name": "item_id", "shape": [1], "datatype": "INT64", "data": [1]}]}`, 400, "BYTES element must be a string"},
		{"fraction", "/v2/models/recs/infer", `{"inputs": [{"name": "user_id", "shape": [1], "datatype": "FP64", "data": [1.5]}, {"name": "item_id", "shape": [1], "datatype": "INT64", "data": [1]}]}`, 400, "not a whole number"},
		{"malformed", "/v2/models/recs/infer", `{"inputs": [`, 400, "invalid JSON"},
		{"unknown output", "/v2/models/recs/infer", `{"inputs": [], "outputs": [{"name": "proba"}]}`, 400, `"proba"`},
		{"unknown model", "/v2/models/nope/infer", `{"inputs": []}`, 404, `"nope"`},
		{"unknown version", "/v2/models/recs/versions/7/infer", okBodies["INT64"], 404, `version "7"`},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := do(t, "POST", srv.URL+tt.path, "application/json", tt.body)
			if resp.StatusCode != tt.status || !strings.Contains(fmt.Sprint(out["error"]), tt.msg) || len(out) != 1 {
				t.Errorf("got %d %v, want %d {\"error\": ...%q...}", resp.StatusCode, out, tt.status, tt.msg)
			}
		})
	}
}

func TestRecommend(t *testing.T) {
	e := newEnv(t)
	_, srv, err := e.gateway(t, serving.EndpointSpec{Name: "mf", Targets: []serving.TargetSpec{{Model: "models:/recs@challenger"}}})
	if err != nil {
		t.Fatal(err)
	}
	u := e.users[3]
	want := e.models["2"].Recommend(u, 5, true)
	resp, out := do(t, "POST", srv.URL+"/endpoints/mf/recommend", "application/json", fmt.Sprintf(`{"user_id": %q, "k": 5}`, u))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %v", resp.StatusCode, out)
	}
	items, _ := out["items"].([]any)
	if len(items) != 5 || out["cold_start"] != false || out["model_version"] != "2" || resp.Header.Get("X-Loopml-Model-Version") != "2" {
		t.Fatalf("response %v", out)
	}
	for i, it := range items {
		m := it.(map[string]any)
		if fmt.Sprint(m["item_id"]) != want[i].Item || math.Abs(m["score"].(float64)-want[i].Score) > 1e-9 {
			t.Errorf("item %d = %v, want %+v", i, m, want[i])
		}
		if _, isNum := m["item_id"].(float64); !isNum {
			t.Errorf("item_id %v: want a number (the package's ids are long)", m["item_id"])
		}
	}
	// A numeric user id, exclude_seen false, and a cold user.
	if resp, out := do(t, "POST", srv.URL+"/endpoints/mf/recommend", "application/json", fmt.Sprintf(`{"user_id": %s, "exclude_seen": false}`, u)); resp.StatusCode != 200 || len(out["items"].([]any)) != 10 {
		t.Errorf("numeric user: %d %v", resp.StatusCode, out)
	}
	if resp, out := do(t, "POST", srv.URL+"/endpoints/mf/recommend", "application/json", `{"user_id": "nobody", "k": 3}`); resp.StatusCode != 200 || out["cold_start"] != true || len(out["items"].([]any)) != 3 {
		t.Errorf("cold user: %d %v", resp.StatusCode, out)
	}
	for body, msg := range map[string]string{
		`{"k": 3}`:                            "'user_id' is required",
		`{"user_id": "1", "k": 0}`:            "'k' must be a whole number in [1, 1000]",
		`{"user_id": "1", "k": "x"}`:          "'k'",
		`{"user_id": [1]}`:                    "'user_id'",
		`{"user_id": "1", "exclude": true}`:   `unknown key "exclude"`,
		`{"user_id": "1", "exclude_seen": 1}`: "'exclude_seen'",
		`[1]`:                                 "JSON object",
		`{`:                                   "JSON object",
	} {
		resp, out := do(t, "POST", srv.URL+"/endpoints/mf/recommend", "application/json", body)
		if resp.StatusCode != 400 || out["error_code"] != "BAD_REQUEST" || !strings.Contains(fmt.Sprint(out["message"]), msg) {
			t.Errorf("%s: got %d %v, want 400 naming %q", body, resp.StatusCode, out, msg)
		}
	}
	if resp, out := do(t, "POST", srv.URL+"/endpoints/nope/recommend", "application/json", `{"user_id": "1"}`); resp.StatusCode != 404 {
		t.Errorf("unknown endpoint: %d %v", resp.StatusCode, out)
	}
	// The only endpoint is the default one: /invocations reaches it.
	if resp, out := do(t, "POST", srv.URL+"/invocations", "application/json", `{}`); resp.StatusCode != 400 || !strings.Contains(fmt.Sprint(out["message"]), "exactly one") {
		t.Errorf("single endpoint is the default: %d %v, want its 400 for an empty request", resp.StatusCode, out)
	}
}

func TestWeightedAndStickyRouting(t *testing.T) {
	e := newEnv(t)
	split := serving.EndpointSpec{Name: "split", Targets: []serving.TargetSpec{
		{Model: "models:/recs@champion", Weight: 90}, {Model: "models:/recs@challenger", Weight: 10}}}
	sticky := serving.EndpointSpec{Name: "sticky", StickyHeader: "X-User-Id", Targets: []serving.TargetSpec{
		{Model: "models:/recs/1", Weight: 50}, {Model: "models:/recs/2", Weight: 50}}}
	g, _, err := e.gateway(t, split, sticky)
	if err != nil {
		t.Fatal(err)
	}
	h := g.Handler()
	serve := func(ep, user string) string {
		req, _ := http.NewRequest("POST", "/endpoints/"+ep+"/recommend", strings.NewReader(`{"user_id": "1", "k": 1}`))
		if user != "" {
			req.Header.Set("X-User-Id", user)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		return rec.Header().Get("X-Loopml-Model-Version")
	}
	// Several endpoints and none marked default: /invocations is 404.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/invocations", strings.NewReader(`{}`)))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), "no default endpoint") {
		t.Errorf("no default: %d %s, want 404", rec.Code, rec.Body)
	}
	const n = 4000
	counts := map[string]int{}
	for range n {
		counts[serve("split", "")]++
	}
	if got := float64(counts["2"]) / n; math.Abs(got-0.10) > 0.02 {
		t.Errorf("challenger share %.3f (%v), want 0.10 ± 0.02", got, counts)
	}
	// Sticky: the same key always lands on the same target; keys spread.
	per := map[string]int{}
	for u := range 200 {
		key := fmt.Sprintf("user-%d", u)
		first := serve("sticky", key)
		for range 3 {
			if got := serve("sticky", key); got != first {
				t.Fatalf("key %s went to version %s then %s", key, first, got)
			}
		}
		per[first]++
	}
	if per["1"] < 70 || per["2"] < 70 {
		t.Errorf("sticky keys per version %v, want a roughly even split of 200", per)
	}
	// Without the header a sticky endpoint routes at random.
	seen := map[string]bool{}
	for range 50 {
		seen[serve("sticky", "")] = true
	}
	if len(seen) != 2 {
		t.Errorf("no header: versions %v, want both", seen)
	}
}

func TestAliasMoveSwapsWithoutFailures(t *testing.T) {
	e := newEnv(t)
	g, srv, err := e.gateway(t, champion("recs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var failures, total atomic.Int64
	var sawV2 atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"user_id": %q, "k": 5}`, e.users[(w*7+i)%len(e.users)])
				resp, err := client.Post(srv.URL+"/endpoints/recs/recommend", "application/json", strings.NewReader(body))
				total.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failures.Add(1)
				}
				if err == nil {
					if resp.Header.Get("X-Loopml-Model-Version") == "2" {
						sawV2.Store(true)
					}
					resp.Body.Close()
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := e.db.SetAlias(ctx, "recs", "champion", "2"); err != nil {
		t.Fatal(err)
	}
	if err := g.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failures.Load() != 0 || total.Load() < 10 {
		t.Errorf("%d of %d requests failed during the swap", failures.Load(), total.Load())
	}
	if !sawV2.Load() {
		t.Error("no request was served by version 2 after the alias moved")
	}
	if st := g.Status(); st[0].Targets[0].Version != "2" {
		t.Errorf("status %+v, want version 2", st)
	}

	// A move to a version that does not load keeps the old one serving.
	bad := e.putPackage(t, "broken/model", map[string]string{
		"MLmodel":   "artifact_path: model\nflavors:\n  loopml:\n    learner: mf\n    format_version: 1\n    model_file: model.bin\n",
		"model.bin": "not a model",
	})
	if err := e.db.SetAlias(ctx, "recs", "champion", bad); err != nil {
		t.Fatal(err)
	}
	err = g.Refresh(ctx)
	if err == nil || !strings.Contains(err.Error(), "model.bin") {
		t.Errorf("refresh onto a broken package: %v, want an error naming model.bin", err)
	}
	resp, out := do(t, "POST", srv.URL+"/endpoints/recs/recommend", "application/json", `{"user_id": "1"}`)
	if resp.StatusCode != 200 || out["model_version"] != "2" {
		t.Errorf("after a failed swap: %d %v, want version 2 still serving", resp.StatusCode, out)
	}
	if st := g.Status(); st[0].Targets[0].Error == "" || !g.Ready() {
		t.Errorf("status %+v ready %v: want the error reported and still ready", st, g.Ready())
	}
}

func TestReadinessAndRuntimes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := e.putPackage(t, "sk/model", map[string]string{
		"MLmodel": "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n  sklearn:\n    pickled_model: model.pkl\n",
	})
	g, srv, err := e.gateway(t,
		serving.EndpointSpec{Name: "later", Targets: []serving.TargetSpec{{Model: "models:/recs@later"}}},
		serving.EndpointSpec{Name: "sk", Targets: []serving.TargetSpec{{Model: "models:/recs/" + other}}})
	if err == nil || !strings.Contains(err.Error(), "message=model version recs/"+other+": ") || !strings.Contains(err.Error(), "later") {
		t.Fatalf("load: %v, want errors for alias 'later' and the sklearn flavor's runtime", err)
	}
	if g.Ready() {
		t.Error("ready with unloaded targets")
	}
	for _, path := range []string{"/v2/health/ready", "/v2/models/later/ready", "/ping"} {
		if resp, _ := do(t, "GET", srv.URL+path, "", ""); resp.StatusCode != 503 {
			t.Errorf("GET %s: %d, want 503", path, resp.StatusCode)
		}
	}
	if resp, out := do(t, "POST", srv.URL+"/endpoints/later/recommend", "application/json", `{"user_id": "1"}`); resp.StatusCode != 503 || !strings.Contains(fmt.Sprint(out["message"]), "not ready") ||
		!strings.Contains(fmt.Sprint(out["message"]), "target models:/recs@later: ") {
		t.Errorf("unready endpoint: %d %v, want 503 naming the target and why it is not loaded", resp.StatusCode, out)
	}
	// Replace the sklearn endpoint, set the alias: Refresh makes it ready.
	if err := e.db.SetAlias(ctx, "recs", "later", "1"); err != nil {
		t.Fatal(err)
	}
	if err := g.Load(ctx, []serving.EndpointSpec{{Name: "later", Targets: []serving.TargetSpec{{Model: "models:/recs@later"}}}}); err != nil {
		t.Fatal(err)
	}
	if !g.Ready() {
		t.Errorf("not ready after the alias was set: %+v", g.Status())
	}
	if resp, out := do(t, "GET", srv.URL+"/v2/health/ready", "", ""); resp.StatusCode != 200 || out["ready"] != true {
		t.Errorf("ready: %d %v", resp.StatusCode, out)
	}
	if resp, out := do(t, "GET", srv.URL+"/endpoints", "", ""); resp.StatusCode != 200 || !strings.Contains(fmt.Sprint(out), "later") {
		t.Errorf("GET /endpoints: %d %v", resp.StatusCode, out)
	}
}

func TestShadow(t *testing.T) {
	e := newEnv(t)
	g, srv, err := e.gateway(t, serving.EndpointSpec{Name: "recs",
		Targets: []serving.TargetSpec{{Model: "models:/recs@champion"}},
		Shadow:  []serving.TargetSpec{{Model: "models:/recs@challenger"}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		resp, out := do(t, "POST", srv.URL+"/endpoints/recs/recommend", "application/json", fmt.Sprintf(`{"user_id": %q}`, e.users[i]))
		if resp.StatusCode != 200 || out["model_version"] != "1" {
			t.Fatalf("primary: %d %v", resp.StatusCode, out)
		}
	}
	body := fmt.Sprintf(`{"inputs": {"user_id": [%s], "item_id": [%s]}}`, e.users[0], e.items[0])
	if resp, out := do(t, "POST", srv.URL+"/invocations", "application/json", body); resp.StatusCode != 200 {
		t.Fatalf("invocations: %d %v", resp.StatusCode, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		done, dropped := g.ShadowStats()
		if done+dropped == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shadow copies done %d dropped %d, want 6 in all", done, dropped)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatchRefreshesOnEvents(t *testing.T) {
	e := newEnv(t)
	g, _, err := e.gateway(t, champion("recs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan loopml.RegistryEvent)
	done := make(chan struct{})
	go func() { g.Watch(ctx, events); close(done) }()
	if err := e.db.SetAlias(ctx, "recs", "champion", "2"); err != nil {
		t.Fatal(err)
	}
	events <- loopml.RegistryEvent{Type: loopml.EventAliasSet, Model: "other", Alias: "champion", ToVersion: "2"}
	time.Sleep(20 * time.Millisecond)
	if v := g.Status()[0].Targets[0].Version; v != "1" {
		t.Errorf("an event of another model swapped to %s", v)
	}
	events <- loopml.RegistryEvent{Type: loopml.EventAliasSet, Model: "recs", Alias: "champion", ToVersion: "2"}
	deadline := time.Now().Add(5 * time.Second)
	for g.Status()[0].Targets[0].Version != "2" {
		if time.Now().After(deadline) {
			t.Fatalf("no swap after the event: %+v", g.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestBackgroundPollSwaps(t *testing.T) {
	e := newEnv(t)
	g := &serving.Gateway{Registry: e.db, Artifacts: e.arts, PollInterval: 20 * time.Millisecond}
	defer g.Close()
	ctx := context.Background()
	if err := g.Load(ctx, []serving.EndpointSpec{champion("recs")}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetAlias(ctx, "recs", "champion", "2"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for g.Status()[0].Targets[0].Version != "2" {
		if time.Now().After(deadline) {
			t.Fatalf("the poll did not swap to version 2: %+v", g.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Load(ctx, []serving.EndpointSpec{champion("recs")}); loopml.ErrorCode(err) != loopml.EUNAVAILABLE {
		t.Errorf("Load after Close: %v, want EUNAVAILABLE", err)
	}
}
