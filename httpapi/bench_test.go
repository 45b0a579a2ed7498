package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/sqlstore"
)

// countingRuns is a RunService whose LogBatch only counts, so benchmarks
// measure the HTTP layer alone.
type countingRuns struct {
	loopml.RunService
	points int
}

func (c *countingRuns) LogBatch(_ context.Context, _ string, b loopml.Batch) error {
	c.points += len(b.Metrics)
	return nil
}

func logBatchBody(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"run_id":"0123456789abcdef0123456789abcdef","metrics":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"key":"metric_%d","value":%g,"timestamp":1700000000%03d,"step":%d}`, i%20, float64(i)*0.731, i%1000, i)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

func benchHandler(b *testing.B, path string, body []byte) {
	runs := &countingRuns{}
	h := httpapi.NewServer(httpapi.Config{Runs: runs}).Handler()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkLogBatch1000 is one 1000-metric log-batch request through the
// whole handler stack (middleware, decode, respond) with a counting store.
func BenchmarkLogBatch1000(b *testing.B) {
	benchHandler(b, "/api/2.0/mlflow/runs/log-batch", logBatchBody(1000))
}

// BenchmarkLogMetric is one single-metric log-metric request.
func BenchmarkLogMetric(b *testing.B) {
	benchHandler(b, "/api/2.0/mlflow/runs/log-metric",
		[]byte(`{"run_id":"0123456789abcdef0123456789abcdef","key":"loss","value":0.123,"timestamp":1700000000000,"step":12}`))
}

// BenchmarkLogBatchSQLite8Clients sends 1000-metric log-batch requests from
// 8 concurrent clients over TCP to a server on a real SQLite store; the
// points/s metric is the ingest rate (target: at least 150,000 on 2 cores).
func BenchmarkLogBatchSQLite8Clients(b *testing.B) {
	benchSQLite(b, 1000, func(c *httpapi.Client, _ *http.Client, _, runID string, i int64) error {
		ms := make([]loopml.Metric, 1000)
		for j := range ms {
			ms[j] = loopml.Metric{Key: fmt.Sprintf("m%d", j%10), Value: float64(j), Timestamp: i, Step: i*1000 + int64(j)}
		}
		return c.LogBatch(context.Background(), runID, loopml.Batch{Metrics: ms})
	})
}

// BenchmarkLogMetricSQLite8Clients sends single log-metric requests from 8
// concurrent clients (target: at least 5,000 requests/s on 2 cores).
func BenchmarkLogMetricSQLite8Clients(b *testing.B) {
	benchSQLite(b, 1, func(_ *httpapi.Client, hc *http.Client, base, runID string, i int64) error {
		body := fmt.Sprintf(`{"run_id":%q,"key":"loss","value":0.5,"timestamp":%d,"step":%d}`, runID, i, i)
		resp, err := hc.Post(base+"/api/2.0/mlflow/runs/log-metric", "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

func benchSQLite(b *testing.B, pointsPerOp int, op func(c *httpapi.Client, hc *http.Client, base, runID string, i int64) error) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(dir, "loopml.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{Experiments: db, Runs: db}).Handler())
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	c := httpapi.NewClient(srv.URL, hc)
	runs := make([]string, 8)
	for i := range runs {
		r := &loopml.Run{ExperimentID: "0"}
		if err := c.CreateRun(ctx, r); err != nil {
			b.Fatal(err)
		}
		runs[i] = r.ID
	}
	var next atomic.Int64
	b.SetParallelism(4) // 8 goroutines on 2 CPUs
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		n := next.Add(1)
		runID := runs[int(n)%len(runs)]
		for pb.Next() {
			if err := op(c, hc, srv.URL, runID, next.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N*pointsPerOp)/elapsed.Seconds(), "points/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}
