package serving_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loopml/loopml/serving"
)

// TestReadyWithoutEndpoints checks that a gateway loaded with no endpoints
// is ready (nothing to wait for: `loopml server` always mounts the
// gateway), while one never loaded is not.
func TestReadyWithoutEndpoints(t *testing.T) {
	e := newEnv(t)
	unloaded := &serving.Gateway{Registry: e.db, Artifacts: e.arts, PollInterval: -1}
	t.Cleanup(func() { unloaded.Close() })
	if unloaded.Ready() {
		t.Error("a gateway never loaded is ready")
	}
	usrv := httptest.NewServer(unloaded.Handler())
	t.Cleanup(usrv.Close)

	g, srv, err := e.gateway(t)
	if err != nil {
		t.Fatalf("load no endpoints: %v", err)
	}
	if !g.Ready() {
		t.Error("a gateway loaded with no endpoints is not ready")
	}
	for _, c := range []struct {
		url  string
		want int
	}{
		{srv.URL + "/ping", 200},
		{srv.URL + "/v2/health/ready", 200},
		{srv.URL + "/v2/health/live", 200},
		{srv.URL + "/readyz", 200},
		{srv.URL + "/healthz", 200},
		{usrv.URL + "/ping", 503},
		{usrv.URL + "/v2/health/ready", 503},
		{usrv.URL + "/readyz", 503},
		{usrv.URL + "/healthz", 200},
	} {
		resp, out := do(t, "GET", c.url, "", "")
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: %d %v, want %d", c.url, resp.StatusCode, out, c.want)
		}
		if strings.HasSuffix(c.url, "/healthz") {
			if out["status"] != "ok" {
				t.Errorf("GET %s: %v", c.url, out)
			}
			continue
		}
		if c.url != srv.URL+"/v2/health/live" && out["ready"] != (c.want == 200) {
			t.Errorf("GET %s: ready %v, want %v", c.url, out["ready"], c.want == 200)
		}
	}
}
