package pipeline_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
	"github.com/loopml/loopml/pipeline"
	"github.com/loopml/loopml/sqlstore"
)

const pgEnv = "LOOPML_TEST_POSTGRES_DSN"

// clock is a settable time source shared by schedulers.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// pgSchemaDSN returns a DSN whose search_path is a new schema, dropped at
// the end of the test; it skips without PostgreSQL.
func pgSchemaDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv(pgEnv)
	if base == "" {
		t.Skip("set " + pgEnv + " to run against PostgreSQL")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "p_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func openStore(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSchedulersFireCronOncePerTick runs two schedulers (two replicas,
// each with its own connection to one database) over a cron trigger:
// each tick starts exactly one run, which one of them executes.
func TestSchedulersFireCronOncePerTick(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t)
			var dsn string
			if backend == "sqlite" {
				dsn = "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "shared.db"))
			} else {
				dsn = pgSchemaDSN(t)
			}
			e.write(map[string]string{"loopml.yaml": "name: nightly\nstages:\n  s:\n    cmd: echo hi\n"})
			clk := &clock{t: time.Date(2026, 1, 1, 3, 0, 30, 0, time.UTC)}
			var scheds []*pipeline.Scheduler
			var stores []*sqlstore.DB
			for i := range 2 {
				db := openStore(t, dsn)
				stores = append(stores, db)
				scheds = append(scheds, &pipeline.Scheduler{Store: db, Deps: e.deps, Now: clk.Now, RunnerID: "replica-" + string(rune('a'+i)), Lease: time.Minute})
			}
			ctx := context.Background()
			if err := stores[0].CreatePipelineTrigger(ctx, &loopml.PipelineTrigger{Name: "nightly", Pipeline: "nightly", Kind: loopml.TriggerCron,
				Schedule: "* * * * *", Source: loopml.PipelineSource{Path: e.dir}, Policy: loopml.PipelinePolicyQueue, Enabled: true}); err != nil {
				t.Fatal(err)
			}
			tickAll := func() {
				var wg sync.WaitGroup
				for _, s := range scheds {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := s.Tick(ctx); err != nil {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
				for _, s := range scheds {
					s.Wait()
				}
			}
			tickAll() // first look: no run
			runs, err := stores[0].ListPipelineRuns(ctx, loopml.PipelineRunQuery{})
			if err != nil || len(runs) != 0 {
				t.Fatalf("runs after the first scan = %v, %v; want none", runs, err)
			}
			for tick := 1; tick <= 3; tick++ {
				clk.add(time.Minute)
				tickAll()
				tickAll() // the same tick seen again fires nothing
				runs, err := stores[1].ListPipelineRuns(ctx, loopml.PipelineRunQuery{Trigger: "nightly"})
				if err != nil {
					t.Fatal(err)
				}
				if len(runs) != tick {
					t.Fatalf("after tick %d: %d runs, want %d", tick, len(runs), tick)
				}
				r := runs[0]
				if r.Status != loopml.PipelineSucceeded || r.StartedBy != "schedule * * * * *" || !strings.HasPrefix(r.Runner, "replica-") || r.TrackingRunID == "" {
					t.Fatalf("run of tick %d = %+v", tick, r)
				}
				tr, err := e.db.GetRun(ctx, r.TrackingRunID)
				if err != nil || tr.Status != loopml.RunFinished || tag(tr, pipeline.TagStartedBy) != "schedule * * * * *" {
					t.Fatalf("tracking run %s = %+v, %v", r.TrackingRunID, tr, err)
				}
			}
		})
	}
}

// TestSchedulerFailsExpiredLease: a runner that stops heartbeating (kill
// -9) has its run failed with the reason by another scheduler, and the
// tracking run it left RUNNING closed.
func TestSchedulerFailsExpiredLease(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	exp := &loopml.Experiment{Name: "dead"}
	if err := e.db.CreateExperiment(ctx, exp); err != nil {
		t.Fatal(err)
	}
	trk := &loopml.Run{ExperimentID: exp.ID}
	if err := e.db.CreateRun(ctx, trk); err != nil {
		t.Fatal(err)
	}
	r := &loopml.PipelineRun{Pipeline: "p", Source: loopml.PipelineSource{Path: e.dir}}
	if err := e.db.SubmitPipelineRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if c, err := e.db.ClaimPipelineRun(ctx, "host1:42:dead", 30*time.Millisecond); err != nil || c == nil {
		t.Fatalf("claim: %v, %v", c, err)
	}
	if _, err := e.db.HeartbeatPipelineRun(ctx, loopml.PipelineHeartbeat{ID: r.ID, Runner: "host1:42:dead", Lease: 30 * time.Millisecond, TrackingRunID: trk.ID}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	s := &pipeline.Scheduler{Store: e.db, Deps: e.deps, RunnerID: "host2:7:alive"}
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := e.db.GetPipelineRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != loopml.PipelineFailed || !strings.Contains(got.Reason, "runner host1:42:dead lost its lease at") {
		t.Fatalf("expired run = %+v", got)
	}
	tr, err := e.db.GetRun(ctx, trk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != loopml.RunFailed || !strings.Contains(tag(tr, pipeline.TagError), "lost its lease") {
		t.Fatalf("tracking run = status %s, error %q", tr.Status, tag(tr, pipeline.TagError))
	}
}

// TestSchedulerCancelAndReplace: a running run stops when cancelled (at
// its next heartbeat), and a replace submission stops the running one and
// runs the new one.
func TestSchedulerCancelAndReplace(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.write(map[string]string{"loopml.yaml": "name: slow\nstages:\n  s:\n    cmd: sleep 30\n"})
	s := &pipeline.Scheduler{Store: e.db, Deps: e.deps, Lease: 300 * time.Millisecond, Poll: 50 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	status := func(id string) string {
		r, err := e.db.GetPipelineRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	a := &loopml.PipelineRun{Pipeline: "slow", Source: loopml.PipelineSource{Path: e.dir}, StartedBy: "api"}
	if err := e.db.SubmitPipelineRun(ctx, a); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run a to start", 10*time.Second, func() bool { return status(a.ID) == loopml.PipelineRunning })
	if _, err := e.db.CancelPipelineRun(ctx, a.ID, "stop please"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run a to be cancelled", 10*time.Second, func() bool { return status(a.ID) == loopml.PipelineCancelled })
	got, _ := e.db.GetPipelineRun(ctx, a.ID)
	if got.Reason != "stop please" || got.TrackingRunID == "" || e.runStatus(got.TrackingRunID) != loopml.RunKilled {
		t.Fatalf("cancelled run = %+v", got)
	}

	b := &loopml.PipelineRun{Pipeline: "slow", Source: loopml.PipelineSource{Path: e.dir}}
	if err := e.db.SubmitPipelineRun(ctx, b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run b to start", 10*time.Second, func() bool { return status(b.ID) == loopml.PipelineRunning })
	c := &loopml.PipelineRun{Pipeline: "slow", Source: loopml.PipelineSource{Path: e.dir}, Policy: loopml.PipelinePolicyReplace}
	if err := e.db.SubmitPipelineRun(ctx, c); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run b to be replaced", 10*time.Second, func() bool { return status(b.ID) == loopml.PipelineCancelled })
	waitFor(t, "run c to start", 10*time.Second, func() bool { return status(c.ID) == loopml.PipelineRunning })
	got, _ = e.db.GetPipelineRun(ctx, b.ID)
	if !strings.Contains(got.Reason, "replaced by run "+c.ID) {
		t.Fatalf("replaced run reason = %q", got.Reason)
	}
	// Shutdown stops the running run and records why.
	cancel()
	<-done
	got, _ = e.db.GetPipelineRun(context.Background(), c.ID)
	if got.Status != loopml.PipelineFailed || !strings.Contains(got.Reason, "stopped (server shutting down)") {
		t.Fatalf("run at shutdown = %+v", got)
	}
}

// TestSchedulerDataTrigger: a stored data trigger starts a run for a new
// dataset version (not for the versions that existed before), and the run
// records what started it.
func TestSchedulerDataTrigger(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dd := datasets.Deps{Store: e.db, Artifacts: e.arts}
	add := func(content string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "ratings.csv")
		os.WriteFile(p, []byte("userId,movieId,rating\n"+content), 0o644)
		if _, err := datasets.Add(ctx, dd, "ratings", []string{p}, datasets.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	add("1,2,3\n")
	spec := "name: retrain\nstages:\n  s:\n    cmd: echo retrain\n    deps: [\"data://ratings@latest\"]\n"
	tr := &loopml.PipelineTrigger{Name: "on-ratings", Kind: loopml.TriggerData, Dataset: "ratings",
		Source: loopml.PipelineSource{Spec: spec, Dir: e.dir}, Enabled: true}
	if err := pipeline.CheckTrigger(tr); err != nil {
		t.Fatal(err)
	}
	if tr.Pipeline != "retrain" {
		t.Fatalf("trigger pipeline = %q", tr.Pipeline)
	}
	if err := e.db.CreatePipelineTrigger(ctx, tr); err != nil {
		t.Fatal(err)
	}
	s := &pipeline.Scheduler{Store: e.db, Deps: e.deps}
	tick := func() {
		if err := s.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		s.Wait()
	}
	tick()
	tick()
	if runs, _ := e.db.ListPipelineRuns(ctx, loopml.PipelineRunQuery{}); len(runs) != 0 {
		t.Fatalf("the existing version started %d runs", len(runs))
	}
	add("1,2,4\n")
	tick()
	tick()
	runs, err := e.db.ListPipelineRuns(ctx, loopml.PipelineRunQuery{Trigger: "on-ratings"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].StartedBy != "data ratings@v2" || runs[0].Status != loopml.PipelineSucceeded {
		t.Fatalf("runs = %+v", runs)
	}
}

func TestCheckTriggerAndSource(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "loopml.yaml"), []byte("name: ok\nstages:\n  s:\n    cmd: echo\n"), 0o644)
	for _, tc := range []struct {
		tr    loopml.PipelineTrigger
		field string
	}{
		{loopml.PipelineTrigger{Name: "t", Kind: loopml.TriggerCron, Schedule: "61 * * * *", Source: loopml.PipelineSource{Path: dir}}, "'schedule'"},
		{loopml.PipelineTrigger{Name: "t", Kind: loopml.TriggerData, Dataset: "Bad Name!", Source: loopml.PipelineSource{Path: dir}}, "'dataset'"},
		{loopml.PipelineTrigger{Name: "t", Kind: loopml.TriggerModel, Model: "m@", Source: loopml.PipelineSource{Path: dir}}, "'model'"},
		{loopml.PipelineTrigger{Name: "t", Kind: loopml.TriggerAPI, Source: loopml.PipelineSource{Path: "relative/dir"}}, "'path'"},
		{loopml.PipelineTrigger{Name: "t", Kind: loopml.TriggerAPI, Source: loopml.PipelineSource{Path: filepath.Join(dir, "missing")}}, "'path'"},
		{loopml.PipelineTrigger{Name: "t", Kind: loopml.TriggerAPI, Source: loopml.PipelineSource{Spec: "stages: {}", Dir: "rel"}}, "'dir'"},
		{loopml.PipelineTrigger{Name: "t", Kind: loopml.TriggerAPI, Source: loopml.PipelineSource{Spec: "stages:\n  s:\n    bogus: 1\n", Dir: dir}}, "loopml.yaml:3"},
	} {
		err := pipeline.CheckTrigger(&tc.tr)
		if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tc.field) {
			t.Errorf("%+v: got %v, want EINVALID naming %s", tc.tr, err, tc.field)
		}
	}
	tr := loopml.PipelineTrigger{Name: "t", Kind: loopml.TriggerCron, Schedule: "0 3 * * *", Source: loopml.PipelineSource{Path: dir}}
	if err := pipeline.CheckTrigger(&tr); err != nil || tr.Pipeline != "ok" || tr.Policy != loopml.PipelinePolicySkip {
		t.Fatalf("valid trigger: %v, %+v", err, tr)
	}
}

// TestSchedulerModelTrigger: a stored model trigger starts one run per
// matching registry event after its first look (events before it are not
// new), and none for events it does not watch.
func TestSchedulerModelTrigger(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.write(map[string]string{"loopml.yaml": "name: downstream\nstages:\n  s:\n    cmd: echo ok\n"})
	for _, m := range []string{"upstream", "other"} {
		if err := e.db.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: m}); err != nil {
			t.Fatal(err)
		}
	}
	newVersion := func(m string) {
		t.Helper()
		if err := e.db.CreateModelVersion(ctx, &loopml.ModelVersion{Name: m, Source: "mlflow-artifacts:/0/x/artifacts/model"}); err != nil {
			t.Fatal(err)
		}
	}
	newVersion("upstream") // before the trigger's first look: not new
	tr := &loopml.PipelineTrigger{Name: "on-upstream", Kind: loopml.TriggerModel, Model: "upstream",
		Source: loopml.PipelineSource{Path: e.dir}, Policy: loopml.PipelinePolicyQueue, Enabled: true}
	if err := pipeline.CheckTrigger(tr); err != nil {
		t.Fatal(err)
	}
	if err := e.db.CreatePipelineTrigger(ctx, tr); err != nil {
		t.Fatal(err)
	}
	s := &pipeline.Scheduler{Store: e.db, Deps: e.deps}
	tick := func() {
		if err := s.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		s.Wait()
	}
	tick()
	newVersion("other")
	newVersion("upstream")
	newVersion("upstream")
	tick()
	tick()
	runs, err := e.db.ListPipelineRuns(ctx, loopml.PipelineRunQuery{Trigger: "on-upstream"})
	if err != nil {
		t.Fatal(err)
	}
	var by []string
	for _, r := range runs {
		by = append(by, r.StartedBy)
		if r.Status != loopml.PipelineSucceeded {
			t.Errorf("run %s: %s (%s)", r.ID, r.Status, r.Reason)
		}
	}
	got := strings.Join(by, "; ")
	if len(runs) != 2 || !strings.Contains(got, "new version upstream/2") || !strings.Contains(got, "new version upstream/3") {
		t.Fatalf("runs started by registry events: %s", got)
	}
}
