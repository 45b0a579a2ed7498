package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestBenchServing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/invocations" {
			w.WriteHeader(404)
			return
		}
		time.Sleep(time.Millisecond)
		w.Write([]byte(`{"predictions": [1]}`))
	}))
	defer srv.Close()
	for _, client := range []string{"raw", "go"} {
		t.Run(client, func(t *testing.T) { testBenchServing(t, srv.URL, client) })
	}
	if _, err := runServingBench(context.Background(), servingBenchOptions{url: srv.URL, path: "/invocations", client: "curl",
		duration: time.Second, connections: 1, output: "text"}); err == nil || !strings.Contains(userMessage(err), "client") {
		t.Errorf("unknown client: %v", err)
	}
}

func testBenchServing(t *testing.T, url, client string) {
	base := servingBenchOptions{url: url, path: "/invocations", body: "{}", contentType: "application/json",
		duration: 300 * time.Millisecond, warmup: 50 * time.Millisecond, connections: 4, output: "text", client: client}

	closed, err := runServingBench(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	if closed.Mode != "closed" || closed.Requests < 50 || closed.Errors != 0 || closed.P50Ms < 1 || closed.P99Ms < closed.P50Ms {
		t.Errorf("closed loop: %+v", closed)
	}
	open := base
	open.rate = 500
	r, err := runServingBench(context.Background(), open)
	if err != nil {
		t.Fatal(err)
	}
	// 500 req/s for 0.3 s is 150 requests on schedule.
	if r.Mode != "rate" || r.Requests < 140 || r.Requests > 160 || r.Errors != 0 || r.P50Ms < 1 {
		t.Errorf("open loop: %+v", r)
	}
	if s := r.String(); !strings.Contains(s, "at 500 req/s requested") || !strings.Contains(s, "p99") {
		t.Errorf("String() = %q", s)
	}
	bad := base
	bad.path = "/nope"
	if _, err := runServingBench(context.Background(), bad); err == nil || !strings.Contains(userMessage(err), "status 404") {
		t.Errorf("unknown route: %v", err)
	}
	remote := base
	remote.url = "http://10.1.2.3:5001"
	if _, err := runServingBench(context.Background(), remote); err == nil {
		t.Error("a non-loopback target was accepted")
	}
}
