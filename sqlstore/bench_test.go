package sqlstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/sqlstore"
)

// benchBackends runs fn on SQLite and, when configured, on PostgreSQL.
func benchBackends(b *testing.B, fn func(b *testing.B, db *sqlstore.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, openSQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, openPostgres(b)) })
}

// wcharNow returns the bytes this process has passed to write syscalls so
// far (Linux), or -1.
func wcharNow() int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

func mustRuns(b *testing.B, db *sqlstore.DB, n int) []string {
	b.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for i := range ids {
		r := &loopml.Run{ExperimentID: "0", StartTime: int64(i)}
		if err := db.CreateRun(ctx, r); err != nil {
			b.Fatal(err)
		}
		ids[i] = r.ID
	}
	return ids
}

// logConcurrently makes total LogBatch calls from workers goroutines, each
// on its own run, with per points per call (10 keys), and returns the time.
func logConcurrently(b *testing.B, db *sqlstore.DB, runs []string, total, per int, stepBase *int64) time.Duration {
	ctx := context.Background()
	workers := len(runs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	base := *stepBase
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ms := make([]loopml.Metric, per)
			for call := w; call < total; call += workers {
				for i := range ms {
					step := base + int64(call/workers*per/10+i/10)
					ms[i] = loopml.Metric{Key: "metric_" + strconv.Itoa(i%10), Value: float64(i) * 0.5, Timestamp: time.Now().UnixMilli(), Step: step}
				}
				if err := db.LogBatch(ctx, runs[w], loopml.Batch{Metrics: ms}); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	*stepBase += int64(total/workers*per/10 + per)
	return time.Since(start)
}

// BenchmarkLogBatch8x1000 logs batches of 1000 points from 8 concurrent
// clients, each on its own run, and reports points/s and the bytes written
// to files per point (WAL and checkpoints included; SQLite only).
func BenchmarkLogBatch8x1000(b *testing.B) {
	benchBackends(b, func(b *testing.B, db *sqlstore.DB) {
		runs := mustRuns(b, db, 8)
		var step int64
		logConcurrently(b, db, runs, 16, 1000, &step) // warm up: keys interned, statements prepared
		w0 := wcharNow()
		calls := 0
		var elapsed time.Duration
		for b.Loop() {
			elapsed += logConcurrently(b, db, runs, 8, 1000, &step)
			calls += 8
		}
		points := float64(calls * 1000)
		b.ReportMetric(points/elapsed.Seconds(), "points/s")
		if w1 := wcharNow(); w0 >= 0 && w1 >= 0 && db.Dialect() == "sqlite" {
			b.ReportMetric(float64(w1-w0)/points, "written-B/point")
		}
	})
}

// BenchmarkLogBatch10MStored measures ingestion once 10 million points are
// stored. It takes minutes, so it runs only with LOOPML_BENCH_10M=1.
func BenchmarkLogBatch10MStored(b *testing.B) {
	if os.Getenv("LOOPML_BENCH_10M") == "" {
		b.Skip("set LOOPML_BENCH_10M=1 to preload 10 million points and measure ingestion after them")
	}
	benchBackends(b, func(b *testing.B, db *sqlstore.DB) {
		runs := mustRuns(b, db, 8)
		var step int64
		const preload = 10_000_000
		t := logConcurrently(b, db, runs, preload/1000, 1000, &step)
		b.Logf("preloaded %d points at %.0f points/s", preload, preload/t.Seconds())
		w0 := wcharNow()
		calls := 0
		var elapsed time.Duration
		for b.Loop() {
			elapsed += logConcurrently(b, db, runs, 80, 1000, &step)
			calls += 80
		}
		points := float64(calls * 1000)
		b.ReportMetric(points/elapsed.Seconds(), "points/s")
		if w1 := wcharNow(); w0 >= 0 && w1 >= 0 && db.Dialect() == "sqlite" {
			b.ReportMetric(float64(w1-w0)/points, "written-B/point")
		}
	})
}

// BenchmarkLogMetricSingle logs one point per call from 8 concurrent
// clients (MLflow's log-metric) and reports calls/s.
func BenchmarkLogMetricSingle(b *testing.B) {
	benchBackends(b, func(b *testing.B, db *sqlstore.DB) {
		runs := mustRuns(b, db, 8)
		var step int64
		logConcurrently(b, db, runs, 80, 1, &step)
		calls := 0
		var elapsed time.Duration
		for b.Loop() {
			elapsed += logConcurrently(b, db, runs, 800, 1, &step)
			calls += 800
		}
		b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
	})
}

// BenchmarkSearchRuns10k searches 10,000 runs with a metric filter and a
// metric order_by, 100 results per page, and reports the median latency.
func BenchmarkSearchRuns10k(b *testing.B) {
	benchBackends(b, func(b *testing.B, db *sqlstore.DB) {
		ctx := context.Background()
		e := &loopml.Experiment{Name: "bench-search"}
		if err := db.CreateExperiment(ctx, e); err != nil {
			b.Fatal(err)
		}
		const n = 10_000
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					r := &loopml.Run{ExperimentID: e.ID, StartTime: int64(i)}
					if err := db.CreateRun(ctx, r); err != nil {
						errs <- err
						return
					}
					err := db.LogBatch(ctx, r.ID, loopml.Batch{
						Metrics: []loopml.Metric{{Key: "rmse", Value: float64(i%1000) / 1000}, {Key: "acc", Value: float64((i*7919)%1000) / 1000}, {Key: "loss", Value: 1}},
						Params:  []loopml.Param{{Key: "model", Value: fmt.Sprintf("m%d", i%10)}, {Key: "lr", Value: "0.01"}},
						Tags:    []loopml.Tag{{Key: "team", Value: "t" + strconv.Itoa(i%3)}},
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		q := loopml.RunSearch{ExperimentIDs: []string{e.ID}, Filter: "metrics.rmse < 0.5", OrderBy: []string{"metrics.acc DESC"}, MaxResults: 100}
		var lat []time.Duration
		for b.Loop() {
			start := time.Now()
			runs, _, err := db.SearchRuns(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			if len(runs) != 100 {
				b.Fatalf("got %d runs", len(runs))
			}
			lat = append(lat, time.Since(start))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	})
}

// BenchmarkGetMetricHistory100k reads all pages of a 100,000-point history.
func BenchmarkGetMetricHistory100k(b *testing.B) {
	benchBackends(b, func(b *testing.B, db *sqlstore.DB) {
		ctx := context.Background()
		runs := mustRuns(b, db, 1)
		ms := make([]loopml.Metric, 1000)
		for c := range 100 {
			for i := range ms {
				ms[i] = loopml.Metric{Key: "loss", Value: float64(i), Timestamp: int64(c*1000 + i), Step: int64(c*1000 + i)}
			}
			if err := db.LogBatch(ctx, runs[0], loopml.Batch{Metrics: ms}); err != nil {
				b.Fatal(err)
			}
		}
		var lat []time.Duration
		for b.Loop() {
			start := time.Now()
			n, tok := 0, ""
			for {
				page, next, err := db.GetMetricHistory(ctx, loopml.MetricHistoryQuery{RunID: runs[0], Key: "loss", PageToken: tok})
				if err != nil {
					b.Fatal(err)
				}
				n += len(page)
				if next == "" {
					break
				}
				tok = next
			}
			if n != 100_000 {
				b.Fatalf("got %d points", n)
			}
			lat = append(lat, time.Since(start))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	})
}
