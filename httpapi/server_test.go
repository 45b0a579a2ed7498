package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
)

func withMaxBody(n int64) func(*httpapi.Config) {
	return func(c *httpapi.Config) { c.MaxBodyBytes = n }
}

// faultyRuns wraps a real RunService and injects failures.
type faultyRuns struct {
	loopml.RunService
	getRun   func(ctx context.Context, id string) (*loopml.Run, error)
	logBatch func(ctx context.Context, id string, b loopml.Batch) error
}

func (f faultyRuns) GetRun(ctx context.Context, id string) (*loopml.Run, error) {
	if f.getRun != nil {
		return f.getRun(ctx, id)
	}
	return f.RunService.GetRun(ctx, id)
}

func (f faultyRuns) LogBatch(ctx context.Context, id string, b loopml.Batch) error {
	if f.logBatch != nil {
		return f.logBatch(ctx, id, b)
	}
	return f.RunService.LogBatch(ctx, id, b)
}

func TestHealthVersionRoutes(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/health", ""); r.status != 200 || string(r.body) != "OK" {
		t.Errorf("health = %d %q", r.status, r.body)
	}
	if r := e.do("GET", "/version", ""); r.status != 200 || string(r.body) != loopml.MLflowVersion {
		t.Errorf("version = %d %q", r.status, r.body)
	}
	// Wrong method on a known path, unknown route.
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/2.0/mlflow/runs/log-batch", 405},
		{"POST", "/api/2.0/mlflow/runs/get", 405},
		{"DELETE", "/ajax-api/2.0/mlflow/experiments/create", 405},
		{"GET", "/api/2.0/mlflow/no/such/route", 404},
		{"GET", "/nothing", 404},
	} {
		if r := e.do(tt.method, tt.path, ""); r.status != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, r.status, tt.status)
		}
	}
}

func TestRequestIDAndAccessLog(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", "", "X-Request-Id", "abc-123")
	if got := r.header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("echoed request id = %q", got)
	}
	r = e.do("GET", "/health", "", "X-Request-Id", "bad id\twith spaces")
	gen := r.header.Get("X-Request-Id")
	if gen == "" || strings.ContainsAny(gen, " \t") {
		t.Errorf("generated request id = %q", gen)
	}
	logs := e.logs.String()
	for _, want := range []string{`"request_id":"abc-123"`, `"route":"/api/2.0/mlflow/experiments/get"`, `"status":200`, `"method":"GET"`, `"request_id":"` + gen + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %s:\n%s", want, logs)
		}
	}
}

func TestPanicAndInternalErrors(t *testing.T) {
	var e *env
	e = newEnv(t, func(c *httpapi.Config) {
		c.Runs = faultyRuns{
			RunService: c.Runs,
			getRun: func(ctx context.Context, id string) (*loopml.Run, error) {
				panic("boom in store")
			},
			logBatch: func(ctx context.Context, id string, b loopml.Batch) error {
				return errors.New("disk on fire at /secret/path")
			},
		}
	})
	r := e.do("GET", "/api/2.0/mlflow/runs/get?run_id=x", "", "X-Request-Id", "req-panic")
	r.isError(t, 500, "INTERNAL_ERROR", "internal error")
	r = e.do("POST", "/api/2.0/mlflow/runs/log-batch", `{"run_id":"x"}`, "X-Request-Id", "req-internal")
	r.isError(t, 500, "INTERNAL_ERROR", "internal error")
	if strings.Contains(string(r.body), "secret") {
		t.Errorf("internal detail leaked: %s", r.body)
	}
	logs := e.logs.String()
	for _, want := range []string{"boom in store", `"request_id":"req-panic"`, "disk on fire at /secret/path", `"request_id":"req-internal"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	// The server still works after a panic.
	e.do("GET", "/health", "").ok200(t)
}

func (r response) ok200(t *testing.T) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, withMaxBody(100))
	big := `{"name":"` + strings.Repeat("x", 200) + `"}`
	e.post("experiments/create", big).isError(t, 413, "REQUEST_LIMIT_EXCEEDED", "limit of 100 bytes")

	// Without a Content-Length (chunked), the limit still applies.
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/2.0/mlflow/experiments/create", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	response{status: resp.StatusCode, header: resp.Header, body: b}.isError(t, 413, "REQUEST_LIMIT_EXCEEDED", "limit")

	e.post("experiments/create", `{"name":"small"}`).ok(t)
}

func TestUnknownFieldsAndIDForms(t *testing.T) {
	e := newEnv(t)
	m := e.post("experiments/create", `{"name":"forms","future_field":{"deep":[1,"two",null,true]},"tags":[{"key":"a","value":"b","extra":1}]}`).ok(t)
	id := m["experiment_id"].(string)
	for _, body := range []string{`{"experiment_id":"` + id + `"}`, `{"experiment_id":` + id + `}`} {
		e.post("experiments/delete", body).ok(t)
		e.post("experiments/restore", body).ok(t)
	}
	e.post("experiments/delete", `{"experiment_id":1.5}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "'experiment_id'")
	e.post("experiments/delete", `{"experiment_id":true}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "'experiment_id'")
	e.post("runs/create", `{"experiment_id":`+id+`,"start_time":"12"}`).ok(t)
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/health", "").ok200(t)
	e.get("experiments/get?experiment_id=424242")
	r := e.do("GET", "/metrics", "")
	if r.status != 200 {
		t.Fatalf("metrics status %d", r.status)
	}
	body := string(r.body)
	for _, want := range []string{
		`loopml_http_requests_total{method="GET",route="/health",status="200"} 1`,
		`loopml_http_requests_total{method="GET",route="/api/2.0/mlflow/experiments/get",status="404"} 1`,
		`loopml_http_request_duration_seconds_bucket{method="GET",route="/health",status="200"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// A second server on the same registry reuses the collectors.
	_ = httpapi.NewServer(httpapi.Config{Metrics: e.reg})

	// No registry: no /metrics.
	plain := httptest404(t)
	if plain != 404 {
		t.Errorf("/metrics without registry = %d, want 404", plain)
	}
}

func httptest404(t *testing.T) int {
	e := newEnv(t, func(c *httpapi.Config) { c.Metrics = nil })
	return e.do("GET", "/metrics", "").status
}

func TestZeroConfig(t *testing.T) {
	h := httpapi.NewServer(httpapi.Config{}).Handler()
	e := &env{t: t}
	e.srv = newHTTPTestServer(t, h)
	e.get("runs/get?run_id=x").isError(t, 501, "NOT_IMPLEMENTED")
	e.do("GET", proxy+"/a.txt", "").isError(t, 501, "NOT_IMPLEMENTED")
	if r := e.do("GET", "/health", ""); r.status != 200 {
		t.Errorf("health = %d", r.status)
	}
}
