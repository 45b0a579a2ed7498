package serving_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopml/loopml/serving"
	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	g := &serving.Gateway{Registry: e.db, Artifacts: e.arts, PollInterval: -1, Metrics: reg,
		PredictionLog: serving.PredictionLogConfig{Store: &memLog{}}}
	if err := g.Load(context.Background(), []serving.EndpointSpec{champion("recs")}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer func() { srv.Close(); g.Close() }()
	body := fmt.Sprintf(`{"dataframe_records": [{"user_id": %s, "item_id": %s}]}`, e.users[0], e.items[0])
	for range 5 {
		do(t, "POST", srv.URL+"/invocations", "application/json", body)
	}
	do(t, "POST", srv.URL+"/invocations", "application/json", `{"dataframe_records": [{"user_id": 1}]}`) // 400 after routing
	do(t, "POST", srv.URL+"/endpoints/recs/invocations", "text/plain", `x`)                              // 415 before routing
	do(t, "POST", srv.URL+"/endpoints/nope/recommend", "application/json", `{}`)                         // 404, unknown endpoint

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			}
		}
	}
	const champ = "endpoint=recs,target=models:/recs@champion,version=1"
	for key, want := range map[string]float64{
		"loopml_serving_requests_total{" + champ + "}":                          6,
		"loopml_serving_errors_total{class=4xx," + champ + "}":                  1,
		"loopml_serving_errors_total{class=5xx," + champ + "}":                  0,
		"loopml_serving_requests_total{endpoint=recs,target=,version=}":         1, // 415 before routing
		"loopml_serving_errors_total{class=4xx,endpoint=recs,target=,version=}": 1,
		"loopml_serving_requests_total{endpoint=unknown,target=,version=}":      1,
		"loopml_serving_request_duration_seconds{" + champ + "}":                6,
		"loopml_serving_model_load_duration_seconds{outcome=ok}":                1,
		"loopml_serving_prediction_log_dropped_total{}":                         0,
		"loopml_serving_shadow_dropped_total{}":                                 0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
	}
	for _, name := range []string{"loopml_serving_prediction_log_queue_depth", "loopml_serving_prediction_log_dropped_total",
		"loopml_serving_prediction_log_written_total", "loopml_serving_model_load_duration_seconds", "loopml_serving_shadow_dropped_total"} {
		if !seen[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
}

// BenchmarkLoggedHandler measures one-row /invocations through the
// in-process Handler with the prediction log off, on (into the real SQLite
// store, the queue drained by Close inside the timing), and on with a store
// too slow to keep up (queue full: requests must not slow down; drops are
// reported). cpu-us/op is the process CPU time per request, the writer's
// included, which the machine's load does not inflate the way it does
// ns/op.
func BenchmarkLoggedHandler(b *testing.B) {
	e := newEnv(b)
	body := fmt.Sprintf(`{"dataframe_split": {"columns": ["user_id", "item_id"], "data": [[%s, %s]]}}`, e.users[0], e.items[0])
	cases := []struct {
		name string
		log  serving.PredictionLogConfig
	}{
		{"log-off", serving.PredictionLogConfig{}},
		{"log-sqlite", serving.PredictionLogConfig{Store: e.db}},
		{"log-slow-store", serving.PredictionLogConfig{Store: &memLog{delay: 50 * time.Millisecond}, Queue: 256}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			g := &serving.Gateway{Registry: e.db, Artifacts: e.arts, PollInterval: -1, Metrics: prometheus.NewRegistry(), PredictionLog: c.log}
			if err := g.Load(context.Background(), []serving.EndpointSpec{champion("recs")}); err != nil {
				b.Fatal(err)
			}
			h := g.Handler()
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/invocations", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
			g.Close()
			b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(b.N), "cpu-us/op")
			st := g.PredictionLogStats()
			b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
		})
	}
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
