package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/bench"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/sqlstore"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine to write while
// the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

// startServer runs `loopml server` on a free port in home and returns its
// URL, its stderr and a function that stops it (cancels the context) and
// returns Run's result.
func startServer(t *testing.T, home string, extra ...string) (string, *syncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	args := append([]string{"server", "--addr", "127.0.0.1:0", "--home", home, "--shutdown-timeout", "10s"}, extra...)
	go func() { done <- run(ctx, args, envMap(nil), stdout, stderr) }()
	var stopped bool
	var result error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(30 * time.Second):
				result = fmt.Errorf("server did not stop within 30s after cancel; stderr:\n%s", stderr.String())
			}
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], stderr, stop
		}
		select {
		case err := <-done:
			t.Fatalf("server exited before listening: %v\nstderr:\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("server did not print its address; stdout %q stderr:\n%s", stdout.String(), stderr.String())
	return "", nil, nil
}

func TestServerEndToEnd(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	url, stderr, stop := startServer(t, home)
	if strings.HasSuffix(url, ":0") {
		t.Fatalf("printed address %s is not the real port", url)
	}
	// With no endpoints the serving gateway has nothing to load: ready.
	for _, p := range []string{"/ping", "/v2/health/ready"} {
		resp, err := http.Get(url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without endpoints: %d, want 200", p, resp.StatusCode)
		}
	}

	// The Go client over HTTP.
	c := httpapi.NewClient(url, nil)
	exp := &loopml.Experiment{Name: "e2e"}
	if err := c.CreateExperiment(ctx, exp); err != nil {
		t.Fatal(err)
	}
	r := &loopml.Run{ExperimentID: exp.ID, Name: "first", StartTime: 1767225600000}
	if err := c.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	err := c.LogBatch(ctx, r.ID, loopml.Batch{
		Params:  []loopml.Param{{Key: "lr", Value: "0.1"}},
		Metrics: []loopml.Metric{{Key: "rmse", Value: 0.25, Timestamp: 1767225601000, Step: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}

	// The CLI through --tracking-uri, and through LOOPML_TRACKING_URI.
	var out bytes.Buffer
	if err := run(ctx, []string{"runs", "list", "--experiment", "e2e", "--tracking-uri", url, "-o", "json"}, envMap(nil), &out, &out); err != nil {
		t.Fatalf("runs list: %v\n%s", err, out.String())
	}
	var runs []runView
	if err := json.Unmarshal(out.Bytes(), &runs); err != nil {
		t.Fatalf("runs list output is not JSON: %v\n%s", err, out.String())
	}
	if len(runs) != 1 || runs[0].RunID != r.ID || runs[0].RunName != "first" || len(runs[0].Metrics) != 1 || runs[0].Metrics[0].Value != 0.25 {
		t.Errorf("runs list = %+v", runs)
	}
	out.Reset()
	env := envMap(map[string]string{"LOOPML_TRACKING_URI": url})
	if err := run(ctx, []string{"experiments", "show", "e2e"}, env, &out, &out); err != nil {
		t.Fatalf("experiments show: %v", err)
	}
	if !regexp.MustCompile(`(?m)^Name:\s+e2e$`).MatchString(out.String()) {
		t.Errorf("experiments show over HTTP:\n%s", out.String())
	}
	out.Reset()
	err = run(ctx, []string{"runs", "show", strings.Repeat("f", 32), "--tracking-uri", url}, envMap(nil), &out, &out)
	if loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Errorf("runs show of a missing run over HTTP: %v, want ENOTFOUND", err)
	}

	// Prometheus metrics include the store timings.
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`loopml_store_operation_duration_seconds_count{op="LogBatch",outcome="ok"}`, "go_goroutines", "process_resident_memory_bytes"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// An upload in flight when the server is told to stop still completes.
	pr, pw := io.Pipe()
	upload := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPut, url+"/api/2.0/mlflow-artifacts/artifacts/inflight/file.bin", pr)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("upload status %s", resp.Status)
			}
			resp.Body.Close()
		}
		upload <- err
	}()
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	if _, err := pw.Write(chunk); err != nil {
		t.Fatal(err)
	}
	// The handler has started once the store creates the target directory.
	waitFor(t, func() bool {
		_, err := os.Stat(filepath.Join(home, "artifacts", "inflight"))
		return err == nil
	})
	stopErr := make(chan error, 1)
	go func() { stopErr <- stop() }()
	// Wait until the server has begun shutting down, then finish the body.
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "shutting down") })
	for i := 0; i < 4; i++ {
		if _, err := pw.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	pw.Close()
	if err := <-upload; err != nil {
		t.Errorf("in-flight upload during shutdown: %v", err)
	}
	if err := <-stopErr; err != nil {
		t.Fatalf("server Run returned %v after cancel\nstderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "loopml server stopped") {
		t.Errorf("no clean-stop log line:\n%s", stderr.String())
	}
	if st, err := os.Stat(filepath.Join(home, "artifacts", "inflight", "file.bin")); err != nil || st.Size() != 5*64<<10 {
		t.Errorf("in-flight upload on disk: %v %v", st, err)
	}
	if _, err := http.Get(url + "/health"); err == nil {
		t.Error("server still answers after shutdown")
	}

	// The database was closed cleanly and holds what was logged.
	dsn, _ := Config{Home: home}.StoreDSN()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.GetRun(ctx, r.ID)
	if err != nil || len(got.Params) != 1 || got.Params[0].Value != "0.1" {
		t.Errorf("after restart: %+v, %v", got, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServerRefusesBadConfig(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"server", "--home", t.TempDir(), "--artifacts", "s3://bucket/x"}, envMap(nil), &out, &out)
	if err == nil || !strings.Contains(userMessage(err), "not supported yet") {
		t.Fatalf("err = %v", err)
	}
	err = run(context.Background(), []string{"server", "--home", t.TempDir(), "--addr", "256.0.0.1:1"}, envMap(nil), &out, &out)
	if err == nil || !strings.HasPrefix(userMessage(err), "addr 256.0.0.1:1") {
		t.Fatalf("err = %v", err)
	}
}

func TestBenchTrackingCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a short load test; skipped with -short")
	}
	home := t.TempDir()
	url, _, stop := startServer(t, home, "--log-level", "warn")
	var out, progress bytes.Buffer
	args := []string{"bench", "tracking", "--url", url, "--duration", "1s", "--concurrency", "2",
		"--preload", "3000", "--search-runs", "60", "--history-points", "2500", "--artifact-size", "3MiB",
		"--server-pid", strconv.Itoa(os.Getpid()), "-o", "json"}
	if err := run(context.Background(), args, envMap(nil), &out, &progress); err != nil {
		t.Fatalf("bench: %v\nprogress:\n%s", err, progress.String())
	}
	var results []bench.Result
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var r bench.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) != len(bench.Scenarios) {
		t.Fatalf("%d results, want %d:\n%s", len(results), len(bench.Scenarios), out.String())
	}
	for i, r := range results {
		if r.Scenario != bench.Scenarios[i] || r.Requests == 0 || r.Errors != 0 {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if lb := results[0]; lb.Preloaded != 3000 || lb.PointsSec <= 0 || lb.DiskBytesPerPoint < 0 {
		t.Errorf("logbatch: %+v", lb)
	}
	if a := results[4]; a.Bytes != 3<<20 || a.UploadMBs <= 0 || a.DownloadMBs <= 0 || a.PeakRSSBytes <= 0 {
		t.Errorf("artifacts: %+v", a)
	}
	// Text output and the loopback refusal.
	out.Reset()
	err := run(context.Background(), []string{"bench", "tracking", "--url", "http://192.0.2.1:5000"}, envMap(nil), &out, &out)
	if err == nil || !strings.Contains(userMessage(err), "refusing to load-test non-loopback host") {
		t.Errorf("non-loopback: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
