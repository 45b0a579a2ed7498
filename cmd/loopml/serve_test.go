package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// servingHome trains and registers model "recs" (version 1, alias
// champion) in a new home and writes an endpoints file; it returns both.
func servingHome(t *testing.T) (home, endpoints string) {
	t.Helper()
	home = filepath.Join(t.TempDir(), "home")
	data := genMovies(t)
	if _, err := cliRun(t, "train", "popularity", "--data", data, "--register", "recs", "--home", home); err != nil {
		t.Fatal(err)
	}
	if _, err := cliRun(t, "models", "alias", "set", "recs", "champion", "1", "--home", home); err != nil {
		t.Fatal(err)
	}
	endpoints = filepath.Join(t.TempDir(), "endpoints.yaml")
	spec := "endpoints:\n  - name: recs\n    targets:\n      - model: models:/recs@champion\n    sticky_header: X-User-Id\n    default: true\n"
	if err := os.WriteFile(endpoints, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return home, endpoints
}

func httpJSON(t *testing.T, method, url, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out, resp.Header
}

// checkServing exercises the three protocols on a gateway at url.
func checkServing(t *testing.T, url string) {
	t.Helper()
	if code, out, _ := httpJSON(t, "GET", url+"/v2/health/ready", ""); code != 200 || out["ready"] != true {
		t.Errorf("ready: %d %v", code, out)
	}
	code, out, hdr := httpJSON(t, "POST", url+"/endpoints/recs/recommend", `{"user_id": "1", "k": 3}`)
	if code != 200 || len(out["items"].([]any)) != 3 || out["model_version"] != "1" || hdr.Get("X-Request-Id") == "" || hdr.Get("X-Loopml-Model-Version") != "1" {
		t.Errorf("recommend: %d %v %v", code, out, hdr)
	}
	code, out, _ = httpJSON(t, "POST", url+"/invocations", `{"dataframe_records": [{"user_id": 1, "item_id": 2}]}`)
	if code != 200 || len(out["predictions"].([]any)) != 1 {
		t.Errorf("invocations: %d %v", code, out)
	}
	code, out, _ = httpJSON(t, "POST", url+"/v2/models/recs/infer", `{"inputs": [{"name": "user_id", "shape": [1], "datatype": "INT64", "data": [1]}, {"name": "item_id", "shape": [1], "datatype": "INT64", "data": [2]}]}`)
	if code != 200 || out["model_version"] != "1" {
		t.Errorf("infer: %d %v", code, out)
	}
}

func TestServeCommand(t *testing.T) {
	home, endpoints := servingHome(t)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-f", endpoints, "--home", home, "--addr", "127.0.0.1:0", "--pprof-addr", "127.0.0.1:0"}, envMap(nil), stdout, stderr)
	}()
	var url string
	deadline := time.Now().Add(30 * time.Second)
	for url == "" {
		if m := listeningRE.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("serve did not start; stdout %q stderr %s", stdout.String(), stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if !strings.Contains(stdout.String(), "endpoint recs: models:/recs@champion -> version 1 (weight 0)") {
		t.Errorf("stdout %q lacks the endpoint summary", stdout.String())
	}
	checkServing(t, url)
	if m := regexp.MustCompile(`profiling endpoints listening" addr=(\S+)`).FindStringSubmatch(stderr.String()); m == nil {
		t.Errorf("stderr lacks the pprof address: %s", stderr.String())
	} else if resp, err := http.Get("http://" + m[1] + "/debug/pprof/cmdline"); err != nil || resp.StatusCode != 200 {
		t.Errorf("pprof: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeCommandErrors(t *testing.T) {
	home, good := servingHome(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.yaml", "endpoints:\n  - name: recs\n    targets:\n      - model: models:/recs@champion\n        wieght: 3\n")
	missing := write("missing.yaml", "endpoints:\n  - name: recs\n    targets: [models:/recs@nobody]\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no file", []string{"serve", "--home", home}, nil, "an endpoints YAML file is required"},
		{"unreadable file", []string{"serve", "-f", filepath.Join(dir, "nope.yaml"), "--home", home}, nil, "endpoints file"},
		{"bad key", []string{"serve", "-f", bad, "--home", home}, nil, "bad.yaml:5: endpoints[0].targets[0].wieght: unknown key"},
		{"from env", []string{"serve", "--home", home}, map[string]string{endpointsEnv: bad}, "bad.yaml:5"},
		{"unresolvable alias", []string{"serve", "-f", missing, "--home", home, "--addr", "127.0.0.1:0"}, nil, "nobody"},
		{"bad max body", []string{"serve", "-f", bad, "--max-body", "lots"}, nil, "max-body"},
		{"bad pprof address", []string{"serve", "-f", good, "--home", home, "--addr", "127.0.0.1:0", "--pprof-addr", "nowhere"}, nil, "pprof-addr nowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			err := run(context.Background(), tt.args, envMap(tt.env), &out, &errOut)
			if err == nil || !strings.Contains(fmt.Sprint(userMessage(err), err), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestServerMountsEndpoints(t *testing.T) {
	home, endpoints := servingHome(t)
	url, _, stop := startServer(t, home, "--endpoints", endpoints)
	checkServing(t, url)
	// The tracking API still answers on the same port.
	if code, out, _ := httpJSON(t, "GET", url+"/api/2.0/mlflow/registered-models/get?name=recs", ""); code != 200 || !strings.Contains(fmt.Sprint(out), "champion") {
		t.Errorf("tracking API: %d %v", code, out)
	}
	if code, _, _ := httpJSON(t, "GET", url+"/health", ""); code != 200 {
		t.Errorf("/health: %d", code)
	}
	// Probes: liveness, and readiness once every target is loaded.
	if code, out, _ := httpJSON(t, "GET", url+"/healthz", ""); code != 200 || out["status"] != "ok" {
		t.Errorf("/healthz: %d %v", code, out)
	}
	if code, out, _ := httpJSON(t, "GET", url+"/readyz", ""); code != 200 || out["ready"] != true {
		t.Errorf("/readyz: %d %v", code, out)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
