package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/sqlstore"
	"github.com/loopml/loopml/storetest"
)

const pgEnv = "LOOPML_TEST_POSTGRES_DSN"

// openSQLite opens a store on a new file in a temporary directory.
func openSQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "loopml.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// pgSchemaDSN creates a fresh schema and returns a DSN that uses it; the
// schema is dropped when the test ends.
func pgSchemaDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(pgEnv)
	if base == "" {
		t.Skip("set " + pgEnv + " to run the PostgreSQL conformance suite")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func openPostgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	dsn := pgSchemaDSN(t)
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // runs before the schema is dropped
	return db
}

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openSQLite(t) })
}

func TestConformanceSQLiteMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		db, err := sqlstore.Open(context.Background(), "sqlite::memory:", sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestConformancePostgres(t *testing.T) {
	if os.Getenv(pgEnv) == "" {
		t.Skip("set " + pgEnv + " to run the PostgreSQL conformance suite")
	}
	storetest.Run(t, func(t *testing.T) storetest.Store { return openPostgres(t) })
}

func TestOpenDSN(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		dsn  string
		file string // file that must exist afterwards ("" for none)
	}{
		{"sqlite://" + filepath.Join(dir, "abs", "a.db"), filepath.Join(dir, "abs", "a.db")},
		{"sqlite://rel/b.db", filepath.Join(dir, "rel", "b.db")},
		{filepath.Join(dir, "bare.db"), filepath.Join(dir, "bare.db")},
		{"sqlite::memory:", ""},
	}
	for _, tc := range tests {
		t.Run(tc.dsn, func(t *testing.T) {
			db, err := sqlstore.Open(context.Background(), tc.dsn, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.Dialect() != "sqlite" {
				t.Fatalf("got dialect %q", db.Dialect())
			}
			if _, err := db.GetExperiment(context.Background(), "0"); err != nil {
				t.Fatal(err)
			}
			if tc.file != "" {
				if _, err := os.Stat(tc.file); err != nil {
					t.Fatalf("database file: %v", err)
				}
			}
		})
	}
	for _, bad := range []string{"mysql://x/y", "sqlite://"} {
		if _, err := sqlstore.Open(context.Background(), bad, sqlstore.Options{}); loopml.ErrorCode(err) != loopml.EINVALID {
			t.Fatalf("Open(%q) = %v, want EINVALID", bad, err)
		}
	}
	if _, err := sqlstore.Open(context.Background(), filepath.Join(dir, "s.db"), sqlstore.Options{SQLiteSynchronous: "sometimes"}); loopml.ErrorCode(err) != loopml.EINVALID {
		t.Fatalf("bad synchronous mode: got %v, want EINVALID", err)
	}
}

// TestReopen checks that data survives Close and that migrations are not
// applied twice.
func TestReopen(t *testing.T) {
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "re.db")
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{SQLiteSynchronous: "FULL"})
	if err != nil {
		t.Fatal(err)
	}
	r := &loopml.Run{ExperimentID: "0"}
	if err := db.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := db.LogBatch(ctx, r.ID, loopml.Batch{Metrics: []loopml.Metric{{Key: "m", Value: 1}, {Key: "n", Value: 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := db.LogBatch(ctx, r.ID, loopml.Batch{}); loopml.ErrorCode(err) != loopml.EUNAVAILABLE {
		t.Fatalf("LogBatch after Close: got %v, want EUNAVAILABLE", err)
	}
	db, err = sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Metrics) != 2 {
		t.Fatalf("after reopen got metrics %+v", got.Metrics)
	}
	// Metric keys interned before the restart are reused, and new points
	// still order after old ones.
	if err := db.LogBatch(ctx, r.ID, loopml.Batch{Metrics: []loopml.Metric{{Key: "m", Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	h, _, err := db.GetMetricHistory(ctx, loopml.MetricHistoryQuery{RunID: r.ID, Key: "m"})
	if err != nil || len(h) != 2 {
		t.Fatalf("history after reopen: %v %v", h, err)
	}
}

// TestSQLiteManyWriters hammers one file from many goroutines with every
// kind of write: none may fail (in particular never with SQLITE_BUSY).
func TestSQLiteManyWriters(t *testing.T) {
	db := openSQLite(t)
	testManyWriters(t, db)
}

func TestPostgresManyWriters(t *testing.T) {
	testManyWriters(t, openPostgres(t))
}

func testManyWriters(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	const workers, iters = 24, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*iters*4)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &loopml.Experiment{Name: fmt.Sprintf("w%d", w)}
			if err := db.CreateExperiment(ctx, e); err != nil {
				errs <- err
				return
			}
			for i := range iters {
				r := &loopml.Run{ExperimentID: e.ID}
				if err := db.CreateRun(ctx, r); err != nil {
					errs <- err
					continue
				}
				ms := make([]loopml.Metric, 100)
				for j := range ms {
					ms[j] = loopml.Metric{Key: fmt.Sprintf("k%d", j%5), Value: float64(j), Step: int64(j)}
				}
				if err := db.LogBatch(ctx, r.ID, loopml.Batch{Metrics: ms, Params: []loopml.Param{{Key: "i", Value: fmt.Sprint(i)}}}); err != nil {
					errs <- err
				}
				if err := db.SetExperimentTag(ctx, e.ID, loopml.Tag{Key: "i", Value: fmt.Sprint(i)}); err != nil {
					errs <- err
				}
				st := loopml.RunFinished
				if _, err := db.UpdateRun(ctx, r.ID, loopml.RunUpdate{Status: &st}); err != nil {
					errs <- err
				}
				if _, _, err := db.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{e.ID}, MaxResults: 5}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	exps, _, err := db.SearchExperiments(ctx, loopml.ExperimentSearch{})
	if err != nil {
		t.Fatal(err)
	}
	if len(exps) != workers+1 {
		t.Fatalf("got %d experiments, want %d", len(exps), workers+1)
	}
}

// TestPostgresConcurrentOpen starts two stores on one fresh schema at once:
// both must succeed (the migration lock serialises them).
func TestPostgresConcurrentOpen(t *testing.T) {
	dsn := pgSchemaDSN(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	dbs := make([]*sqlstore.DB, 3)
	errs := make([]error, len(dbs))
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = sqlstore.Open(ctx, dsn, sqlstore.Options{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
		if dbs[i].Dialect() != "postgres" {
			t.Fatalf("got dialect %q", dbs[i].Dialect())
		}
	}
	e := &loopml.Experiment{Name: "shared"}
	if err := dbs[0].CreateExperiment(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := dbs[1].GetExperimentByName(ctx, "shared")
	if err != nil || got.ID != e.ID {
		t.Fatalf("second server sees %+v, %v", got, err)
	}
	if err := dbs[2].CreateExperiment(ctx, &loopml.Experiment{Name: "shared"}); loopml.ErrorCode(err) != loopml.ECONFLICT {
		t.Fatalf("duplicate through another server: got %v, want ECONFLICT", err)
	}
}

func TestObserve(t *testing.T) {
	var mu sync.Mutex
	ops := map[string]int{}
	var failed []string
	db, err := sqlstore.Open(context.Background(), "sqlite::memory:", sqlstore.Options{
		Observe: func(op string, d time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			ops[op]++
			if err != nil {
				failed = append(failed, op+":"+loopml.ErrorCode(err))
			}
			if d < 0 {
				t.Errorf("negative duration for %s", op)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	r := &loopml.Run{ExperimentID: "0"}
	if err := db.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := db.LogBatch(ctx, r.ID, loopml.Batch{}); err != nil {
		t.Fatal(err)
	}
	db.GetRun(ctx, "missing")
	mu.Lock()
	defer mu.Unlock()
	if ops["CreateRun"] != 1 || ops["LogBatch"] != 1 || ops["GetRun"] != 1 {
		t.Fatalf("observed %v", ops)
	}
	if len(failed) != 1 || failed[0] != "GetRun:"+loopml.ENOTFOUND {
		t.Fatalf("failed ops %v", failed)
	}
}

// TestAuditColumns checks that mutations record the workspace and the
// principal of ctx (the columns RBAC and audit will read).
func TestAuditColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	db, err := sqlstore.Open(context.Background(), path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := loopml.NewContextWithPrincipal(loopml.NewContextWithWorkspace(context.Background(), "ws1"), "alice")
	e := &loopml.Experiment{Name: "audited"}
	if err := db.CreateExperiment(ctx, e); err != nil {
		t.Fatal(err)
	}
	r := &loopml.Run{ExperimentID: e.ID}
	if err := db.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	bob := loopml.NewContextWithPrincipal(context.Background(), "bob")
	if err := db.RenameExperiment(bob, e.ID, "renamed"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteRun(bob, r.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var ws, created, updated string
	if err := raw.QueryRow(`SELECT workspace, created_by, updated_by FROM experiments WHERE name = 'renamed'`).Scan(&ws, &created, &updated); err != nil {
		t.Fatal(err)
	}
	if ws != "ws1" || created != "alice" || updated != "bob" {
		t.Fatalf("experiment workspace %q created_by %q updated_by %q", ws, created, updated)
	}
	if err := raw.QueryRow(`SELECT created_by, updated_by FROM runs WHERE run_id = ?`, r.ID).Scan(&created, &updated); err != nil {
		t.Fatal(err)
	}
	if created != "alice" || updated != "bob" {
		t.Fatalf("run created_by %q updated_by %q", created, updated)
	}
}
