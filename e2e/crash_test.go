package e2e_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for the schema set-up
	_ "modernc.org/sqlite"             // database/sql driver "sqlite" for integrity_check
)

// Load shape of the crash test.
const (
	crashWriters      = 8
	crashBatchPoints  = 200 // metrics per log-batch request, plus one param and one tag
	crashKeys         = 4   // metric keys per run; point j of a batch uses key j%crashKeys
	crashLoadDuration = 2 * time.Second
	crashMaxBatches   = 100000 // per writer: bounds the load loop in count, not only in time
	crashBaseTime     = int64(1_700_000_000_000)
)

// batchOutcome is what a writer knows about one log-batch request.
type batchOutcome int

const (
	batchAcked    batchOutcome = iota // answered 200: must be durable
	batchInDoubt                      // sent, no answer (the server died): all or nothing
	batchRejected                     // answered non-200: must be absent
)

// crashPoint returns point j of batch b of writer w. (key, step) is unique per
// run and the value is not a short decimal, so that a lossy round trip shows.
func crashPoint(w, b, j int) wireMetric {
	v := (float64(b*1000+j) + float64(w)/8) / 7
	if j%2 == 1 {
		v = -v
	}
	return wireMetric{
		Key:       fmt.Sprintf("m%d", j%crashKeys),
		Value:     v,
		Timestamp: int64JSON(crashBaseTime + int64(b)*1000 + int64(j)),
		Step:      int64JSON(b*(crashBatchPoints/crashKeys) + j/crashKeys),
	}
}

// crashBatch returns batch b of writer w: crashBatchPoints metrics, the
// param p<b> and the tag t<b>, both with the value "<w>-<b>".
func crashBatch(runID string, w, b int) logBatchRequest {
	req := logBatchRequest{
		RunID:   runID,
		Metrics: make([]wireMetric, crashBatchPoints),
		Params:  []wireKV{{Key: fmt.Sprintf("p%d", b), Value: fmt.Sprintf("%d-%d", w, b)}},
		Tags:    []wireKV{{Key: fmt.Sprintf("t%d", b), Value: fmt.Sprintf("%d-%d", w, b)}},
	}
	for j := range req.Metrics {
		req.Metrics[j] = crashPoint(w, b, j)
	}
	return req
}

// crashBatchSize is the number of entities (metrics, params, tags) in a batch.
const crashBatchSize = crashBatchPoints + 2

// pointBatch returns the batch and index within it of the point with this key
// and step, the inverse of crashPoint.
func pointBatch(key string, step int64) (b, j int, ok bool) {
	var k int
	if _, err := fmt.Sscanf(key, "m%d", &k); err != nil || k < 0 || k >= crashKeys || step < 0 {
		return 0, 0, false
	}
	per := int64(crashBatchPoints / crashKeys)
	return int(step / per), int(step%per)*crashKeys + k, true
}

// crashWriter is one goroutine's run and what happened to its batches.
type crashWriter struct {
	runID    string
	outcomes []batchOutcome
	errs     []string // non-200 answers, for the report
}

// TestKill9UnderLoad kills the server with SIGKILL while eight writers log
// metric batches, restarts it on the same home and checks that every
// acknowledged point survived and every unacknowledged batch is all-or-nothing.
func TestKill9UnderLoad(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		home := t.TempDir()
		crashTest(t, serverOptions{Home: home})
		checkSQLiteIntegrity(t, sqliteFile(t, home))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("LOOPML_TEST_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("set LOOPML_TEST_POSTGRES_DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run on PostgreSQL")
		}
		crashTest(t, serverOptions{Home: t.TempDir(), Store: freshPostgresSchema(t, dsn)})
	})
}

func crashTest(t *testing.T, opt serverOptions) {
	ctx := testContext(t)
	client := &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2 * crashWriters, DisableCompression: true},
	}
	t.Cleanup(client.CloseIdleConnections)

	srv := startServer(t, opt)
	expID, err := createExperiment(ctx, client, srv.BaseURL, "crash-test")
	if err != nil {
		t.Fatalf("create experiment: %v", err)
	}
	writers := make([]*crashWriter, crashWriters)
	for w := range writers {
		id, err := createRun(ctx, client, srv.BaseURL, expID, fmt.Sprintf("writer-%d", w), crashBaseTime)
		if err != nil {
			t.Fatalf("create run %d: %v", w, err)
		}
		writers[w] = &crashWriter{runID: id}
	}

	// Load: each writer sends its batches back to back until the server dies.
	var (
		wg          sync.WaitGroup
		outstanding atomic.Int32 // log-batch requests sent and not yet answered
		loadCtx     context.Context
		stopLoad    context.CancelFunc
	)
	loadCtx, stopLoad = context.WithTimeout(ctx, 20*time.Second)
	defer stopLoad()
	for w, cw := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < crashMaxBatches && loadCtx.Err() == nil; b++ {
				batch := crashBatch(cw.runID, w, b)
				outstanding.Add(1)
				err := mlflowCall(loadCtx, client, srv.BaseURL, http.MethodPost, "runs/log-batch", nil, batch, nil)
				outstanding.Add(-1)
				var apiErr *apiError
				switch {
				case err == nil:
					cw.outcomes = append(cw.outcomes, batchAcked)
				case errors.As(err, &apiErr):
					cw.outcomes = append(cw.outcomes, batchRejected)
					cw.errs = append(cw.errs, fmt.Sprintf("batch %d: %v", b, err))
				default: // no answer: the server is gone
					cw.outcomes = append(cw.outcomes, batchInDoubt)
					return
				}
			}
		}()
	}
	time.Sleep(crashLoadDuration)
	// Kill at a moment when requests are in flight (the writers are
	// between two requests only for microseconds).
	for spin := time.Now(); outstanding.Load() == 0 && time.Since(spin) < time.Second; {
		runtime.Gosched()
	}
	inFlight := outstanding.Load()
	srv.Kill()
	wg.Wait()
	stopLoad()
	srv.checkOutput(t)

	acked, inDoubt := 0, 0
	for w, cw := range writers {
		n := 0
		for _, o := range cw.outcomes {
			switch o {
			case batchAcked:
				n++
			case batchInDoubt:
				inDoubt++
			}
		}
		acked += n
		if n == 0 {
			t.Errorf("writer %d: no log-batch acknowledged in %v", w, crashLoadDuration)
		}
		for _, e := range cw.errs {
			t.Errorf("writer %d: log-batch rejected: %s", w, e)
		}
	}
	t.Logf("SIGKILL with %d requests in flight, after %d acknowledged batches (%d points); %d batches unacknowledged",
		inFlight, acked, acked*crashBatchPoints, inDoubt)
	if inFlight == 0 {
		t.Errorf("no request was in flight when the server was killed")
	}
	if t.Failed() {
		t.FailNow()
	}

	// Restart on the same home and check every run's histories.
	restart := time.Now()
	srv = startServer(t, opt)
	verify := time.Now()
	for w, cw := range writers {
		verifyWriter(ctx, t, client, srv.BaseURL, w, cw)
	}
	t.Logf("restart took %v, verification %v", verify.Sub(restart).Round(time.Millisecond), time.Since(verify).Round(time.Millisecond))

	// The store still takes writes after recovery.
	batch := crashBatch(writers[0].runID, 0, len(writers[0].outcomes))
	if err := mlflowCall(ctx, client, srv.BaseURL, http.MethodPost, "runs/log-batch", nil, batch, nil); err != nil {
		t.Errorf("log-batch after restart: %v", err)
	} else if h, err := metricHistory(ctx, client, srv.BaseURL, batch.RunID, batch.Metrics[0].Key); err != nil {
		t.Errorf("get-history after restart: %v", err)
	} else if want := batch.Metrics[crashBatchPoints-crashKeys]; len(h) == 0 || h[len(h)-1] != want {
		t.Errorf("history of %s after restart ends with %+v, want %+v", want.Key, h[max(len(h)-1, 0):], want)
	}
	stop := time.Now()
	srv.Stop(t, 15*time.Second)
	t.Logf("graceful stop took %v", time.Since(stop).Round(time.Millisecond))
}

// verifyWriter checks one run after the restart: acknowledged batches are
// complete with exact values, in-doubt batches are complete or absent,
// rejected and unsent batches are absent, and the run's latest metric values
// agree with the histories.
func verifyWriter(ctx context.Context, t *testing.T, c *http.Client, baseURL string, w int, cw *crashWriter) {
	present := make([]int, len(cw.outcomes)) // entities found per batch
	latest := map[string]wireMetric{}
	for k := 0; k < crashKeys; k++ {
		key := fmt.Sprintf("m%d", k)
		h, err := metricHistory(ctx, c, baseURL, cw.runID, key)
		if err != nil {
			t.Fatalf("writer %d: get-history %s: %v", w, key, err)
		}
		seen := map[int64JSON]bool{}
		for _, m := range h {
			if seen[m.Step] {
				t.Errorf("writer %d: %s step %d appears twice in the history", w, key, m.Step)
				continue
			}
			seen[m.Step] = true
			b, j, ok := pointBatch(m.Key, int64(m.Step))
			if !ok || b >= len(cw.outcomes) {
				t.Errorf("writer %d: point %+v belongs to no batch that was sent", w, m)
				continue
			}
			if want := crashPoint(w, b, j); m != want {
				t.Errorf("writer %d: batch %d point %d = %+v, want %+v", w, b, j, m, want)
				continue
			}
			present[b]++
			if cur, ok := latest[key]; !ok || m.Step > cur.Step {
				latest[key] = m
			}
		}
	}

	run, err := getRun(ctx, c, baseURL, cw.runID)
	if err != nil {
		t.Fatalf("writer %d: get run: %v", w, err)
	}
	for _, set := range []struct {
		prefix string
		kvs    []wireKV
	}{{"p", run.Data.Params}, {"t", run.Data.Tags}} {
		for _, kv := range set.kvs {
			digits, ok := strings.CutPrefix(kv.Key, set.prefix)
			b, err := strconv.Atoi(digits)
			if !ok || err != nil {
				continue // mlflow.runName and the like
			}
			if b < 0 || b >= len(cw.outcomes) {
				t.Errorf("writer %d: %s belongs to no batch that was sent", w, kv.Key)
			} else if want := fmt.Sprintf("%d-%d", w, b); kv.Value != want {
				t.Errorf("writer %d: %s = %q, want %q", w, kv.Key, kv.Value, want)
			} else {
				present[b]++
			}
		}
	}
	for b, o := range cw.outcomes {
		n := present[b]
		switch o {
		case batchAcked:
			if n != crashBatchSize {
				t.Errorf("writer %d: acknowledged batch %d has %d of its %d metrics, params and tags after the crash", w, b, n, crashBatchSize)
			}
		case batchInDoubt:
			if n != 0 && n != crashBatchSize {
				t.Errorf("writer %d: unacknowledged batch %d is partly stored: %d of %d metrics, params and tags", w, b, n, crashBatchSize)
			}
		case batchRejected:
			if n != 0 {
				t.Errorf("writer %d: rejected batch %d has %d of its metrics, params and tags stored", w, b, n)
			}
		}
	}
	got := map[string]wireMetric{}
	for _, m := range run.Data.Metrics {
		got[m.Key] = m
	}
	for key, want := range latest {
		if g := got[key]; g != want {
			t.Errorf("writer %d: latest %s in runs/get = %+v, want %+v (highest step in the history)", w, key, g, want)
		}
	}
	if len(got) != len(latest) {
		t.Errorf("writer %d: runs/get has %d latest metrics, the histories %d", w, len(got), len(latest))
	}
}

// sqliteFile returns the SQLite database file the server keeps under home.
func sqliteFile(t *testing.T, home string) string {
	t.Helper()
	path := filepath.Join(home, "loopml.db")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("SQLite database: %v", err)
	}
	return path
}

// checkSQLiteIntegrity runs PRAGMA integrity_check on the file.
func checkSQLiteIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if len(lines) != 1 || lines[0] != "ok" {
		t.Errorf("PRAGMA integrity_check = %q, want [ok]", lines)
	}
}

// freshPostgresSchema creates an empty schema, drops it when the test ends,
// and returns dsn with search_path set to it.
func freshPostgresSchema(t *testing.T, dsn string) string {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	schema := fmt.Sprintf("e2e_crash_%d_%d", time.Now().UnixNano(), rand.IntN(1_000_000))
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema on %s: %v", dsn, err)
	}
	t.Cleanup(func() {
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse LOOPML_TEST_POSTGRES_DSN: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
