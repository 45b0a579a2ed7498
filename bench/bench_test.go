package bench_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml/bench"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/sqlstore"
)

// newServer serves the real API over a SQLite store and a local artifact
// store in a temporary directory.
func newServer(t *testing.T) (url, artifactsDir string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(dir, "loopml.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	artifactsDir = filepath.Join(dir, "artifacts")
	arts, err := blobstore.NewLocal(artifactsDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arts.Close() })
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{Experiments: db, Runs: db, Artifacts: arts}).Handler())
	t.Cleanup(srv.Close)
	return srv.URL, artifactsDir
}

func TestRunAllScenariosAgainstLoopml(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a short load test; skipped with -short")
	}
	url, artifactsDir := newServer(t)
	var progress bytes.Buffer
	cfg := bench.Config{
		URL:           url,
		Duration:      time.Second,
		Concurrency:   2,
		Preload:       2500, // rounded up to whole requests: 3000
		SearchRuns:    80,
		HistoryPoints: 3500,
		ArtifactSize:  5<<20 + 3,
		ServerPID:     os.Getpid(),
		Progress:      &progress,
	}
	var emitted []string
	results, err := bench.Run(context.Background(), cfg, func(r bench.Result) { emitted = append(emitted, r.Scenario) })
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}
	if strings.Join(emitted, ",") != strings.Join(bench.Scenarios, ",") {
		t.Fatalf("emitted %v, want %v", emitted, bench.Scenarios)
	}
	byName := map[string]bench.Result{}
	for _, r := range results {
		byName[r.Scenario] = r
		if r.Errors != 0 {
			t.Errorf("%s: %d errors, first: %s", r.Scenario, r.Errors, r.FirstError)
		}
		if r.Requests == 0 {
			t.Errorf("%s: no successful request", r.Scenario)
		}
		t.Log(r.String())
	}
	lb := byName[bench.ScenarioLogBatch]
	if lb.Preloaded != 3000 || lb.Points != lb.Requests*bench.MetricsPerBatch || lb.PointsSec <= 0 || lb.Seconds < 1 {
		t.Errorf("logbatch: %+v", lb)
	}
	if lm := byName[bench.ScenarioLogMetric]; lm.Latency == nil || lm.Latency.P50 <= 0 || lm.Latency.P50 > lm.Latency.P99 {
		t.Errorf("logmetric latency: %+v", lm.Latency)
	}
	if h := byName[bench.ScenarioHistory]; h.Points != 3500 || h.Latency == nil {
		t.Errorf("history: %+v", h)
	}
	a := byName[bench.ScenarioArtifacts]
	if a.Bytes != 5<<20+3 || a.UploadMBs <= 0 || a.DownloadMBs <= 0 || a.PeakRSSBytes < a.RSSBytes || a.RSSBytes <= 0 {
		t.Errorf("artifacts: %+v", a)
	}
	// The artifact was deleted after the round trip.
	if entries, _ := os.ReadDir(filepath.Join(artifactsDir, "bench")); len(entries) != 0 {
		t.Errorf("artifacts left behind: %v", entries)
	}

	// A second search benchmark reuses the experiment instead of creating
	// the runs again.
	progress.Reset()
	cfg.Scenarios = []string{bench.ScenarioSearch}
	cfg.MaxRequests = 5
	results, err = bench.Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Requests != 5 {
		t.Errorf("bounded search: %+v", results)
	}
	if !strings.Contains(progress.String(), "reusing experiment") {
		t.Errorf("search did not reuse its experiment; progress:\n%s", progress.String())
	}
}

func TestRunRefusesRemoteAndBadServers(t *testing.T) {
	_, err := bench.Run(context.Background(), bench.Config{URL: "http://203.0.113.9:5000"}, nil)
	if err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Errorf("remote host: %v", err)
	}
	// A loopback server that does not speak MLflow fails fast.
	srv := httptest.NewServer(nil) // 404 for everything, HTML-free
	defer srv.Close()
	_, err = bench.Run(context.Background(), bench.Config{URL: srv.URL + "/nothing-here", Duration: time.Second}, nil)
	if err == nil || !strings.Contains(err.Error(), "does not answer the MLflow API") {
		t.Errorf("non-MLflow server: %v", err)
	}
}
