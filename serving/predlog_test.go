package serving_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/serving"
)

// memLog is an in-memory loopml.PredictionLog that records batches; delay
// makes every LogPredictions call slow (a store that cannot keep up).
type memLog struct {
	loopml.PredictionLog // only LogPredictions and LogFeedback are used
	delay                time.Duration

	mu       sync.Mutex
	preds    []*loopml.Prediction
	batches  int
	feedback []*loopml.Feedback
}

func (m *memLog) LogPredictions(ctx context.Context, ps []*loopml.Prediction) error {
	if m.delay > 0 {
		time.Sleep(m.delay)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.preds = append(m.preds, ps...)
	m.batches++
	return nil
}

func (m *memLog) LogFeedback(ctx context.Context, fs []*loopml.Feedback) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.feedback = append(m.feedback, fs...)
	return nil
}

func (m *memLog) all() []*loopml.Prediction {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.preds)
}

// logGateway is a gateway logging into store with cfg (Store set here).
func (e *env) logGateway(t testing.TB, store loopml.PredictionLog, cfg serving.PredictionLogConfig, specs ...serving.EndpointSpec) (*serving.Gateway, *httptest.Server) {
	t.Helper()
	cfg.Store = store
	g := &serving.Gateway{Registry: e.db, Artifacts: e.arts, PollInterval: -1, Rand: seededRand(1), PredictionLog: cfg}
	if err := g.Load(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() { srv.Close(); g.Close() })
	return g, srv
}

func TestPredictionLogEveryHandler(t *testing.T) {
	e := newEnv(t)
	store := &memLog{}
	spec := champion("recs")
	spec.Shadow = []serving.TargetSpec{{Model: "models:/recs@challenger"}}
	g, srv := e.logGateway(t, store, serving.PredictionLogConfig{}, spec)
	u0, i0 := e.users[0], e.items[0]
	reqs := []struct{ id, path, body string }{
		{"inv", "/endpoints/recs/invocations", fmt.Sprintf(`{"dataframe_records": [{"user_id": %s, "item_id": %s}]}`, u0, i0)},
		{"def", "/invocations", fmt.Sprintf(`{"instances": [{"user_id": %s, "item_id": %s}]}`, u0, i0)},
		{"inf", "/v2/models/recs/infer", fmt.Sprintf(`{"inputs": [{"name": "user_id", "shape": [1], "datatype": "INT64", "data": [%s]}, {"name": "item_id", "shape": [1], "datatype": "INT64", "data": [%s]}]}`, u0, i0)},
		{"rec", "/endpoints/recs/recommend", fmt.Sprintf(`{"user_id": %s, "k": 3}`, u0)},
		{"bad", "/endpoints/recs/invocations", `{"dataframe_records": [{"user_id": 1}]}`},
		{"unknown", "/endpoints/nope/invocations", `{}`}, // not an endpoint: not logged
	}
	for _, r := range reqs {
		resp, out := do(t, "POST", srv.URL+r.path, "application/json", r.body, "X-Request-Id", r.id)
		if want := map[string]int{"bad": 400, "unknown": 404}[r.id]; want != 0 && resp.StatusCode != want || want == 0 && resp.StatusCode != 200 {
			t.Fatalf("%s: status %d %v", r.id, resp.StatusCode, out)
		}
	}
	// Shadow copies run in the background: wait for them before Close.
	waitFor(t, func() bool { done, _ := g.ShadowStats(); return done == 4 })
	g.Close() // drains the queue
	byKey := map[string]*loopml.Prediction{}
	for _, p := range store.all() {
		byKey[fmt.Sprintf("%s/%v", p.RequestID, p.Shadow)] = p
	}
	if len(byKey) != 9 {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range byKey {
				if !yield(k) {
					return
				}
			}
		})
		t.Fatalf("logged %d predictions %v, want 5 answers + 4 shadow copies", len(byKey), keys)
	}
	for _, r := range reqs[:4] {
		p := byKey[r.id+"/false"]
		wantProto := map[string]string{"inv": "invocations", "def": "invocations", "inf": "infer", "rec": "recommend"}[r.id]
		if p.Endpoint != "recs" || p.Target != "models:/recs@champion" || p.Model != "recs" || p.Version != "1" || p.Protocol != wantProto ||
			p.Status != 200 || p.Error != "" || p.Inputs != r.body || p.Truncated || p.LatencyUs <= 0 || p.Workspace != "default" ||
			time.Since(time.UnixMilli(p.Timestamp)) > time.Minute || !json.Valid([]byte(p.Outputs)) {
			t.Errorf("%s: logged %+v", r.id, p)
		}
		sh := byKey[r.id+"/true"]
		if sh == nil || sh.Target != "models:/recs@challenger" || sh.Version != "2" || !json.Valid([]byte(sh.Inputs)) || !json.Valid([]byte(sh.Outputs)) {
			t.Errorf("%s: shadow logged %+v", r.id, sh)
		}
	}
	if p := byKey["inv/false"]; !strings.HasPrefix(p.Outputs, `{"predictions":[`) {
		t.Errorf("invocations output %q", p.Outputs)
	}
	if p := byKey["rec/false"]; !strings.Contains(p.Outputs, `"items"`) {
		t.Errorf("recommend output %q", p.Outputs)
	}
	bad := byKey["bad/false"]
	if bad.Status != 400 || !strings.Contains(bad.Error, "item_id") || bad.Version != "1" {
		t.Errorf("error request logged as %+v", bad)
	}
	st := g.PredictionLogStats()
	if st.Written != 9 || st.Dropped != 0 || st.Depth != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestPredictionLogQueueFullNeverBlocks(t *testing.T) {
	e := newEnv(t)
	store := &memLog{delay: 300 * time.Millisecond}
	g, srv := e.logGateway(t, store, serving.PredictionLogConfig{Queue: 4, BatchSize: 1, DrainTimeout: 100 * time.Millisecond}, champion("recs"))
	body := fmt.Sprintf(`{"dataframe_records": [{"user_id": %s, "item_id": %s}]}`, e.users[0], e.items[0])
	var worst time.Duration
	for i := range 100 {
		start := time.Now()
		resp, out := do(t, "POST", srv.URL+"/invocations", "application/json", body, "X-Request-Id", fmt.Sprint("q", i))
		if d := time.Since(start); d > worst {
			worst = d
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %v", resp.StatusCode, out)
		}
	}
	st := g.PredictionLogStats()
	if st.Dropped == 0 || st.Queued > 10 {
		t.Errorf("stats %+v: want drops and at most a few queued", st)
	}
	// A blocked request would wait for the 300ms store call.
	if worst > 200*time.Millisecond {
		t.Errorf("slowest request took %v with a slow log store: logging blocked serving", worst)
	}
	g.Close()
	if st := g.PredictionLogStats(); st.Queued != st.Written+st.Failed {
		t.Errorf("after Close: %+v: every queued prediction is written or counted as failed", st)
	}
}

func TestPredictionLogTruncationAndSampling(t *testing.T) {
	e := newEnv(t)
	store := &memLog{}
	g, srv := e.logGateway(t, store, serving.PredictionLogConfig{MaxBytes: 20, SampleRate: 0.25}, champion("recs"))
	body := fmt.Sprintf(`{"dataframe_records": [{"user_id": %s, "item_id": %s}]}`, e.users[0], e.items[0])
	const n = 400
	for i := range n {
		do(t, "POST", srv.URL+"/invocations", "application/json", body, "X-Request-Id", fmt.Sprint("s", i))
	}
	// The same id is sampled the same way every time.
	do(t, "POST", srv.URL+"/invocations", "application/json", body, "X-Request-Id", "s0")
	g.Close()
	ps := store.all()
	got := map[string]int{}
	for _, p := range ps {
		got[p.RequestID]++
		if !p.Truncated || len(p.Inputs) != 20 || p.Inputs != body[:20] || len(p.Outputs) > 20 {
			t.Fatalf("not truncated to 20 bytes: %+v", p)
		}
	}
	if frac := float64(len(ps)) / n; frac < 0.15 || frac > 0.35 {
		t.Errorf("sampled %d of %d (%.2f), want about 0.25", len(ps), n, frac)
	}
	if c := got["s0"]; c != 0 && c != 2 {
		t.Errorf("request id s0 logged %d times of 2: sampling is not by request id", c)
	}
}

func TestPredictionLogFlushOnClose(t *testing.T) {
	e := newEnv(t)
	store := &memLog{}
	g, srv := e.logGateway(t, store, serving.PredictionLogConfig{BatchSize: 10_000, FlushInterval: time.Hour}, champion("recs"))
	body := fmt.Sprintf(`{"user_id": %s, "k": 2}`, e.users[0])
	for range 25 {
		do(t, "POST", srv.URL+"/endpoints/recs/recommend", "application/json", body)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(store.all()); n != 0 {
		t.Fatalf("%d written before the batch filled or the interval passed", n)
	}
	g.Close()
	if n := len(store.all()); n != 25 {
		t.Errorf("Close flushed %d of 25", n)
	}
	if store.batches != 1 {
		t.Errorf("%d batches, want 1", store.batches)
	}
}

// TestFeedbackJoinsLateAndDuplicate logs through the gateway into the real
// SQLite store: feedback before the prediction, then a duplicate, then an
// older one arriving last.
func TestFeedbackJoinsLateAndDuplicate(t *testing.T) {
	e := newEnv(t)
	g, srv := e.logGateway(t, e.db, serving.PredictionLogConfig{FlushInterval: time.Millisecond}, champion("recs"))
	fb := func(body string) {
		t.Helper()
		resp, out := do(t, "POST", srv.URL+"/endpoints/recs/feedback", "application/json", body)
		if resp.StatusCode != 200 {
			t.Fatalf("feedback %s: %d %v", body, resp.StatusCode, out)
		}
	}
	fb(`{"request_id": "early", "label": 4}`) // before the prediction
	u0, i0 := e.users[0], e.items[0]
	body := fmt.Sprintf(`{"dataframe_records": [{"user_id": %s, "item_id": %s}]}`, u0, i0)
	for _, id := range []string{"early", "dup"} {
		if resp, out := do(t, "POST", srv.URL+"/invocations", "application/json", body, "X-Request-Id", id); resp.StatusCode != 200 {
			t.Fatalf("status %d %v", resp.StatusCode, out)
		}
	}
	fb(`{"feedback": [{"request_id": "dup", "label": 1}, {"request_id": "dup", "reward": 0.5}]}`)
	time.Sleep(5 * time.Millisecond)
	fb(`{"request_id": "dup", "label": 5}`)
	g.Close()
	ctx := context.Background()
	early, err := e.db.GetPrediction(ctx, "recs", "early")
	if err != nil {
		t.Fatal(err)
	}
	if early.Feedback == nil || early.Feedback.Label != "4" {
		t.Errorf("early feedback %+v", early.Feedback)
	}
	dup, err := e.db.GetPrediction(ctx, "recs", "dup")
	if err != nil {
		t.Fatal(err)
	}
	if dup.Feedback == nil || dup.Feedback.Label != "5" || dup.Feedback.HasReward {
		t.Errorf("duplicate feedback %+v, want the last (label 5)", dup.Feedback)
	}
	st, err := e.db.TargetStats(ctx, "recs", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.models["1"].Predict(u0, i0)
	if len(st) != 1 || st[0].Requests != 2 || st[0].Labeled != 2 || st[0].MAE <= 0 || st[0].Version != "1" {
		t.Errorf("stats %+v (prediction %v vs labels 4 and 5)", st, want)
	}
}

func TestFeedbackBadInput(t *testing.T) {
	e := newEnv(t)
	store := &memLog{}
	_, srv := e.logGateway(t, store, serving.PredictionLogConfig{}, champion("recs"))
	_, plain, _ := e.gateway(t, champion("recs")) // logging off
	tests := []struct {
		name, url, body string
		status          int
		msg             string
	}{
		{"missing request_id", srv.URL + "/endpoints/recs/feedback", `{"label": 1}`, 400, "request_id is required"},
		{"neither", srv.URL + "/endpoints/recs/feedback", `{"request_id": "r"}`, 400, "label or reward is required"},
		{"null label", srv.URL + "/endpoints/recs/feedback", `{"request_id": "r", "label": null}`, 400, "label or reward"},
		{"both", srv.URL + "/endpoints/recs/feedback", `{"request_id": "r", "label": 1, "reward": 1}`, 400, "not both"},
		{"reward not a number", srv.URL + "/endpoints/recs/feedback", `{"request_id": "r", "reward": "1"}`, 400, "reward must be a number"},
		{"request_id not a string", srv.URL + "/endpoints/recs/feedback", `{"request_id": 5, "label": 1}`, 400, "request_id must be a string"},
		{"batch entry", srv.URL + "/endpoints/recs/feedback", `{"feedback": [{"request_id": "a", "label": 1}, {"label": 2}]}`, 400, "feedback[1].request_id is required"},
		{"empty batch", srv.URL + "/endpoints/recs/feedback", `{"feedback": []}`, 400, "must not be empty"},
		{"batch and inline", srv.URL + "/endpoints/recs/feedback", `{"request_id": "a", "feedback": [{"request_id": "a", "label": 1}]}`, 400, "not both"},
		{"unknown field", srv.URL + "/endpoints/recs/feedback", `{"request_id": "a", "lable": 1}`, 400, `"lable"`},
		{"malformed", srv.URL + "/endpoints/recs/feedback", `{"request_id": `, 400, "malformed JSON"},
		{"trailing", srv.URL + "/endpoints/recs/feedback", `{"request_id": "a", "label": 1} {}`, 400, "after the request object"},
		{"empty body", srv.URL + "/endpoints/recs/feedback", ``, 400, "empty"},
		{"not an object", srv.URL + "/endpoints/recs/feedback", `[1]`, 400, "JSON object"},
		{"unknown endpoint", srv.URL + "/endpoints/nope/feedback", `{"request_id": "a", "label": 1}`, 404, `"nope"`},
		{"logging off", plain.URL + "/endpoints/recs/feedback", `{"request_id": "a", "label": 1}`, 501, "prediction log"},
		{"ok", srv.URL + "/endpoints/recs/feedback", `{"request_id": "a", "label": {"rating": 4}}`, 200, ""},
		{"ok batch", srv.URL + "/endpoints/recs/feedback", `{"feedback": [{"request_id": "a", "reward": 1}, {"request_id": "b", "label": "x"}]}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := do(t, "POST", tt.url, "application/json", tt.body)
			if resp.StatusCode != tt.status || !strings.Contains(fmt.Sprint(out["message"]), tt.msg) {
				t.Errorf("got %d %v, want %d with %q", resp.StatusCode, out, tt.status, tt.msg)
			}
		})
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.feedback) != 3 || store.feedback[0].Label != `{"rating": 4}` || !store.feedback[1].HasReward || store.feedback[2].Label != `"x"` {
		t.Errorf("stored feedback %+v", store.feedback)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// discardLog accepts and forgets predictions.
type discardLog struct{ loopml.PredictionLog }

func (discardLog) LogPredictions(context.Context, []*loopml.Prediction) error { return nil }
