package serving_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// TestSlowClient: a client that sends its headers and then stalls in the
// body gets 408 with a message after ReadTimeout, and does not hold the
// handler; the next request on a fresh connection is served.
func TestSlowClient(t *testing.T) {
	e := newEnv(t)
	g := &serving.Gateway{Registry: e.db, Artifacts: e.arts, PollInterval: -1, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 100 * time.Millisecond}
	t.Cleanup(func() { g.Close() })
	if err := g.Load(context.Background(), []serving.EndpointSpec{champion("recs")}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"dataframe_")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "did not arrive within 200ms") {
		t.Fatalf("stalled body: %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
		t.Fatalf("answered after %s, want about the 200ms read timeout", d)
	}
	// Requests on one keep-alive connection, further apart than the write
	// timeout: the deadline of the first must not fail the second.
	body2 := fmt.Sprintf(`{"dataframe_records": [{"user_id": %s, "item_id": %s}]}`, e.users[0], e.items[0])
	for i := range 2 {
		if i > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		r, out := do(t, "POST", srv.URL+"/invocations", "application/json", body2)
		if r.StatusCode != 200 {
			t.Fatalf("request %d: %d %v", i, r.StatusCode, out)
		}
	}
}
