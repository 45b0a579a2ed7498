package rollout_test

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

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create a test schema
	"github.com/loopml/loopml"
	"github.com/loopml/loopml/rollout"
	"github.com/loopml/loopml/sqlstore"
)

var ctx = context.Background()

// fakeStats returns fixed stats for every window.
type fakeStats struct {
	mu    sync.Mutex
	stats []loopml.TargetStats
	calls int
}

func (f *fakeStats) set(s ...loopml.TargetStats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats = s
}

func (f *fakeStats) TargetStats(_ context.Context, _ string, since, until int64) ([]loopml.TargetStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return append([]loopml.TargetStats(nil), f.stats...), nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	db    *sqlstore.DB
	clock *fakeClock
	stats *fakeStats
	ctl   *rollout.Controller
}

// newFixture: model recs with versions 1 and 2, champion -> 1, endpoint
// "recs" serving models:/recs@champion.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureDSN(t, "sqlite://"+filepath.Join(t.TempDir(), "loopml.db"))
}

func newFixtureDSN(t *testing.T, dsn string) *fixture {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	must(t, db.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "recs"}))
	for range 2 {
		must(t, db.CreateModelVersion(ctx, &loopml.ModelVersion{Name: "recs", Source: "mlflow-artifacts:/x"}))
	}
	must(t, db.SetAlias(ctx, "recs", "champion", "1"))
	must(t, db.CreateEndpoint(ctx, &loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/recs@champion", Weight: 100}}}))
	f := &fixture{db: db, clock: clock, stats: &fakeStats{}}
	f.ctl = &rollout.Controller{Endpoints: db, Registry: db, Stats: f.stats, Now: clock.Now}
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) start(t *testing.T, r loopml.Rollout) {
	t.Helper()
	_, err := loopml.StartEndpointRollout(ctx, f.db, "recs", r, f.clock.Now().UnixMilli())
	must(t, err)
}

func (f *fixture) step(t *testing.T) *loopml.Endpoint {
	t.Helper()
	must(t, f.ctl.Step(ctx))
	e, err := f.db.GetEndpoint(ctx, "recs")
	must(t, err)
	return e
}

// events returns the types of the rollout events of model recs.
func (f *fixture) events(t *testing.T) []loopml.RegistryEvent {
	t.Helper()
	evs, err := f.db.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "recs"})
	must(t, err)
	var out []loopml.RegistryEvent
	for _, e := range evs {
		if strings.HasPrefix(e.Type, "rollout_") {
			out = append(out, e)
		}
	}
	return out
}

func types(evs []loopml.RegistryEvent) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return strings.Join(s, ",")
}

func healthy(candidate loopml.TargetStats) []loopml.TargetStats {
	return []loopml.TargetStats{
		{Target: "models:/recs@champion", Requests: 1000, LatencyP50Us: 200, LatencyP99Us: 1000},
		candidate,
	}
}

func candidateShare(e *loopml.Endpoint) float64 {
	sum, c := 0, 0
	for _, t := range e.Targets {
		sum += t.Weight
		if t.Model == "models:/recs/2" {
			c = t.Weight
		}
	}
	return float64(c) / float64(sum)
}

func TestPromotion(t *testing.T) {
	f := newFixture(t)
	f.start(t, loopml.Rollout{Candidate: "models:/recs/2", Steps: []int{10, 50, 100}, IntervalMs: 60_000,
		MaxErrorRate: 0.01, MaxP99Ratio: 1.5, MinSamples: 50, PromoteAlias: "champion"})
	f.stats.set(healthy(loopml.TargetStats{Target: "models:/recs/2", Requests: 100, LatencyP99Us: 1100})...)
	e := f.step(t)
	if e.Rollout.Step != 0 || candidateShare(e) != 0.10 {
		t.Fatalf("before the interval: step %d, share %.2f; want step 0 at 10%%", e.Rollout.Step, candidateShare(e))
	}
	for i, want := range []float64{0.50, 1.00} {
		f.clock.advance(61 * time.Second)
		e = f.step(t)
		if e.Rollout.Step != i+1 || candidateShare(e) != want || e.Rollout.State != loopml.RolloutRunning {
			t.Fatalf("after step %d: %+v, share %.2f, want %.2f", i+1, e.Rollout, candidateShare(e), want)
		}
	}
	f.clock.advance(61 * time.Second)
	e = f.step(t)
	if e.Rollout.State != loopml.RolloutPromoted || len(e.Targets) != 1 || e.Targets[0].Model != "models:/recs@champion" {
		t.Fatalf("after the last step: rollout %+v, targets %+v", e.Rollout, e.Targets)
	}
	v, err := f.db.GetVersionByAlias(ctx, "recs", "champion")
	must(t, err)
	if v.Version != "2" {
		t.Fatalf("champion -> %s after promotion, want 2", v.Version)
	}
	evs := f.events(t)
	if got, want := types(evs), "rollout_started,rollout_step,rollout_step,rollout_step,rollout_promoted"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	for _, ev := range evs[1:] {
		if ev.Principal != rollout.Principal || ev.Endpoint != "recs" || !strings.Contains(ev.Detail, `"candidate":"models:/recs/2"`) {
			t.Fatalf("event %+v", ev)
		}
	}
	if !strings.Contains(evs[1].Detail, `"candidate_stats"`) || !strings.Contains(evs[1].Detail, `"Requests":100`) {
		t.Fatalf("step event detail lacks the stats: %s", evs[1].Detail)
	}
	// A finished rollout is left alone.
	f.clock.advance(time.Hour)
	before := f.stats.calls
	f.step(t)
	if f.stats.calls != before {
		t.Fatal("the controller read stats for a finished rollout")
	}
}

func TestRollback(t *testing.T) {
	for _, tc := range []struct {
		name      string
		candidate loopml.TargetStats
		baseline  *loopml.TargetStats
		guard     string
	}{
		{"ErrorRate", loopml.TargetStats{Target: "models:/recs/2", Requests: 200, Errors: 9, LatencyP99Us: 900}, nil, "error_rate"},
		{"Latency", loopml.TargetStats{Target: "models:/recs/2", Requests: 200, LatencyP99Us: 5000}, nil, "p99_ratio"},
		{"RMSE", loopml.TargetStats{Target: "models:/recs/2", Requests: 200, LatencyP99Us: 900, Labeled: 80, RMSE: 1.4, MAE: 0.9},
			&loopml.TargetStats{Target: "models:/recs@champion", Requests: 1000, LatencyP99Us: 1000, Labeled: 400, RMSE: 1.0, MAE: 0.9}, "rmse"},
		{"MeanReward", loopml.TargetStats{Target: "models:/recs/2", Requests: 200, LatencyP99Us: 900, Labeled: 80, MeanReward: 0.05},
			&loopml.TargetStats{Target: "models:/recs@champion", Requests: 1000, LatencyP99Us: 1000, Labeled: 400, MeanReward: 0.10}, "mean_reward"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.start(t, loopml.Rollout{Candidate: "models:/recs/2", Steps: []int{25, 100}, IntervalMs: 60_000,
				MaxErrorRate: 0.01, MaxP99Ratio: 2, MaxMetricRegression: 0.05, MinSamples: 100, PromoteAlias: "champion"})
			stats := healthy(tc.candidate)
			if tc.baseline != nil {
				stats[0] = *tc.baseline
			}
			f.stats.set(stats...)
			// Judged as soon as the samples are there, before the interval.
			f.clock.advance(5 * time.Second)
			e := f.step(t)
			if e.Rollout.State != loopml.RolloutRolledBack || len(e.Targets) != 1 || e.Targets[0] != (loopml.EndpointTarget{Model: "models:/recs@champion", Weight: 100}) {
				t.Fatalf("after a failing guard: rollout %+v, targets %+v", e.Rollout, e.Targets)
			}
			if !strings.Contains(e.Rollout.Reason, tc.guard) {
				t.Fatalf("reason %q does not name guard %s", e.Rollout.Reason, tc.guard)
			}
			evs := f.events(t)
			last := evs[len(evs)-1]
			if last.Type != loopml.EventRolloutRolledBack || !strings.Contains(last.Detail, `"guard":"`+tc.guard+`"`) || !strings.Contains(last.Reason, tc.guard) {
				t.Fatalf("rollback event %+v", last)
			}
			if v, _ := f.db.GetVersionByAlias(ctx, "recs", "champion"); v.Version != "1" {
				t.Fatalf("a rolled back rollout moved the alias to %s", v.Version)
			}
		})
	}
}

func TestWaitsForSamples(t *testing.T) {
	f := newFixture(t)
	f.start(t, loopml.Rollout{Candidate: "models:/recs/2", Steps: []int{50, 100}, IntervalMs: 1000, MaxErrorRate: 0.01, MinSamples: 100})
	// Too few candidate requests to judge, even with errors.
	f.stats.set(healthy(loopml.TargetStats{Target: "models:/recs/2", Requests: 99, Errors: 50})...)
	f.clock.advance(time.Hour)
	if e := f.step(t); e.Rollout.Step != 0 || e.Rollout.State != loopml.RolloutRunning {
		t.Fatalf("with too few samples: %+v", e.Rollout)
	}
	f.stats.set(healthy(loopml.TargetStats{Target: "models:/recs/2", Requests: 100})...)
	if e := f.step(t); e.Rollout.Step != 1 {
		t.Fatalf("with enough samples after the interval: %+v", e.Rollout)
	}
	f.clock.advance(2 * time.Second)
	e := f.step(t)
	// No promote alias: the candidate itself becomes the only target.
	if e.Rollout.State != loopml.RolloutPromoted || len(e.Targets) != 1 || e.Targets[0].Model != "models:/recs/2" {
		t.Fatalf("promotion without alias: %+v %+v", e.Rollout, e.Targets)
	}
}

func TestShadowFirst(t *testing.T) {
	f := newFixture(t)
	f.start(t, loopml.Rollout{Candidate: "models:/recs/2", Steps: []int{10, 100}, IntervalMs: 1000, ShadowFirstMs: 10_000, MinSamples: 1})
	e, err := f.db.GetEndpoint(ctx, "recs")
	must(t, err)
	if e.Rollout.Step != -1 || len(e.Shadow) != 1 || e.Shadow[0].Model != "models:/recs/2" || len(e.Targets) != 1 {
		t.Fatalf("shadow phase: %+v %+v %+v", e.Rollout, e.Targets, e.Shadow)
	}
	f.clock.advance(5 * time.Second)
	if e = f.step(t); e.Rollout.Step != -1 {
		t.Fatal("left the shadow phase early")
	}
	f.clock.advance(5 * time.Second)
	e = f.step(t)
	if e.Rollout.Step != 0 || len(e.Shadow) != 0 || candidateShare(e) != 0.10 {
		t.Fatalf("after the shadow phase: %+v %+v %+v", e.Rollout, e.Targets, e.Shadow)
	}
}

func TestAbort(t *testing.T) {
	f := newFixture(t)
	f.start(t, loopml.Rollout{Candidate: "models:/recs/2", Steps: []int{10, 100}, IntervalMs: 1000, MinSamples: 1})
	e, err := loopml.AbortEndpointRollout(loopml.NewContextWithPrincipal(ctx, "carol"), f.db, "recs", "", f.clock.Now().UnixMilli())
	must(t, err)
	if e.Rollout.State != loopml.RolloutAborted || len(e.Targets) != 1 || e.Rollout.Reason != "aborted by carol" {
		t.Fatalf("aborted: %+v %+v", e.Rollout, e.Targets)
	}
	f.stats.set(healthy(loopml.TargetStats{Target: "models:/recs/2", Requests: 1000})...)
	f.clock.advance(time.Hour)
	if e := f.step(t); e.Rollout.State != loopml.RolloutAborted || e.Rollout.Step != 0 {
		t.Fatalf("the controller moved an aborted rollout: %+v", e.Rollout)
	}
	if got := types(f.events(t)); got != "rollout_started,rollout_aborted" {
		t.Fatalf("events %s", got)
	}
}

// TestRacingControllers: several controllers (replicas) on one store look
// at the same due transition at once; exactly one makes it.
func TestRacingControllers(t *testing.T) {
	f := newFixture(t)
	f.start(t, loopml.Rollout{Candidate: "models:/recs/2", Steps: []int{10, 50, 100}, IntervalMs: 1000, MaxErrorRate: 0.01, MinSamples: 10})
	f.stats.set(healthy(loopml.TargetStats{Target: "models:/recs/2", Requests: 100})...)
	f.clock.advance(2 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		ctl := &rollout.Controller{Endpoints: f.db, Registry: f.db, Stats: f.stats, Now: f.clock.Now}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- ctl.Step(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	if got := types(f.events(t)); got != "rollout_started,rollout_step" {
		t.Fatalf("events after 4 racing controllers: %s, want one step", got)
	}
	e, err := f.db.GetEndpoint(ctx, "recs")
	must(t, err)
	if e.Rollout.Step != 1 {
		t.Fatalf("step %d, want 1", e.Rollout.Step)
	}
}

func TestJudge(t *testing.T) {
	r := &loopml.Rollout{Candidate: "models:/m/2", Steps: []int{10, 100}, IntervalMs: 100, MaxErrorRate: 0.1, MaxP99Ratio: 2, MinSamples: 10, StepStartedAt: 1000}
	for _, tc := range []struct {
		name  string
		now   int64
		stats []loopml.TargetStats
		want  string
	}{
		{"NoTraffic", 5000, nil, rollout.ActionWait},
		{"InProgress", 1050, []loopml.TargetStats{{Target: "models:/m/2", Requests: 20}}, rollout.ActionWait},
		{"Advance", 1100, []loopml.TargetStats{{Target: "models:/m/2", Requests: 20}}, rollout.ActionAdvance},
		{"ErrorsAtLimit", 1100, []loopml.TargetStats{{Target: "models:/m/2", Requests: 20, Errors: 2}}, rollout.ActionAdvance},
		{"ErrorsAbove", 1050, []loopml.TargetStats{{Target: "models:/m/2", Requests: 20, Errors: 3}}, rollout.ActionRollback},
		{"NoBaselineLatency", 1100, []loopml.TargetStats{{Target: "models:/m/2", Requests: 20, LatencyP99Us: 1e6}}, rollout.ActionAdvance},
		{"CandidateURIForms", 1050, []loopml.TargetStats{{Target: "models:m/2", Requests: 20, Errors: 20}}, rollout.ActionRollback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := rollout.Judge(r, tc.stats, tc.now); d.Action != tc.want {
				t.Fatalf("Judge = %+v, want %s", d, tc.want)
			}
		})
	}
	last := *r
	last.Step = 1
	if d := rollout.Judge(&last, []loopml.TargetStats{{Target: "models:/m/2", Requests: 20}}, 1100); d.Action != rollout.ActionPromote {
		t.Fatalf("last step: %+v, want promote", d)
	}
}

// fakeHealth reports a load error for one model.
type fakeHealth struct{ model, err string }

func (h fakeHealth) TargetError(_, model string) string {
	if model == h.model {
		return h.err
	}
	return ""
}

// TestRollbackWhenCandidateCannotLoad: a candidate that never loads gets
// no traffic (so no stats); it is rolled back one interval into its step.
func TestRollbackWhenCandidateCannotLoad(t *testing.T) {
	f := newFixture(t)
	f.ctl.Health = fakeHealth{model: "models:/recs/2", err: "runtime not available yet"}
	f.start(t, loopml.Rollout{Candidate: "models:/recs/2", Steps: []int{10, 100}, IntervalMs: 10_000, MinSamples: 10})
	f.stats.set(loopml.TargetStats{Target: "models:/recs@champion", Requests: 500})
	f.clock.advance(5 * time.Second)
	if e := f.step(t); e.Rollout.State != loopml.RolloutRunning {
		t.Fatalf("rolled back before an interval passed: %+v", e.Rollout)
	}
	f.clock.advance(5 * time.Second)
	e := f.step(t)
	if e.Rollout.State != loopml.RolloutRolledBack || !strings.Contains(e.Rollout.Reason, "runtime not available yet") {
		t.Fatalf("after an interval with a load error: %+v", e.Rollout)
	}
	evs := f.events(t)
	if last := evs[len(evs)-1]; last.Type != loopml.EventRolloutRolledBack || !strings.Contains(last.Detail, `"guard":"load"`) {
		t.Fatalf("last event %+v", last)
	}
}

// pgSchemaDSN returns the DSN of a new schema of LOOPML_TEST_POSTGRES_DSN,
// dropped when the test ends, or skips the test.
func pgSchemaDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv("LOOPML_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("set LOOPML_TEST_POSTGRES_DSN to run the PostgreSQL rollout test")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	must(t, err)
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

// TestRacingReplicasPostgres: controllers of several replicas (each with
// its own connection pool) on one PostgreSQL database race for every
// transition of a rollout; each transition is made exactly once and the
// alias moves once.
func TestRacingReplicasPostgres(t *testing.T) {
	dsn := pgSchemaDSN(t)
	f := newFixtureDSN(t, dsn)
	f.start(t, loopml.Rollout{Candidate: "models:/recs/2", Steps: []int{10, 50, 100}, IntervalMs: 1000, MaxErrorRate: 0.01, MinSamples: 10, PromoteAlias: "champion"})
	f.stats.set(healthy(loopml.TargetStats{Target: "models:/recs/2", Requests: 100})...)
	var ctls []*rollout.Controller
	for range 3 {
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Now: f.clock.Now})
		must(t, err)
		t.Cleanup(func() { db.Close() })
		ctls = append(ctls, &rollout.Controller{Endpoints: db, Registry: db, Stats: f.stats, Now: f.clock.Now})
	}
	for range 4 { // three steps and the promotion
		f.clock.advance(2 * time.Second)
		var wg sync.WaitGroup
		for _, ctl := range ctls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := ctl.Step(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	if got, want := types(f.events(t)), "rollout_started,rollout_step,rollout_step,rollout_step,rollout_promoted"; got != want {
		t.Fatalf("events with racing replicas: %s, want %s", got, want)
	}
	evs, err := f.db.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "recs", Alias: "champion"})
	must(t, err)
	if len(evs) != 2 || evs[1].ToVersion != "2" {
		t.Fatalf("champion moves: %+v, want one move to 2 after the initial set", evs)
	}
}
