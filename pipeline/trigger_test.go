package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
	"github.com/loopml/loopml/pipeline"
)

type events struct {
	mu  sync.Mutex
	all []string
}

func (e *events) add(s string) { e.mu.Lock(); e.all = append(e.all, s); e.mu.Unlock() }
func (e *events) has(sub string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.all {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// runsStartedBy lists the pipeline runs (not stage runs) with that tag.
func (e *env) runsStartedBy(value string) []*loopml.Run {
	e.t.Helper()
	exp, err := e.db.GetExperimentByName(context.Background(), "trig")
	if err != nil {
		return nil
	}
	runs, _, err := e.db.SearchRuns(context.Background(), loopml.RunSearch{ExperimentIDs: []string{exp.ID},
		Filter: "tags.`loopml.started_by` = '" + value + "'", MaxResults: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return runs
}

func (e *env) trigSpec(sleep string) *pipeline.Spec {
	return e.parse("name: trig\nstages:\n  s:\n    cmd: sleep " + sleep + "\n    params: {t: \"" + time.Now().String() + "\"}\n")
}

func TestCronTriggerWithSkipPolicy(t *testing.T) {
	e := newEnv(t)
	q := &pipeline.Queue{Deps: e.deps}
	defer q.Close()
	ev := &events{}
	tr := &pipeline.Trigger{Spec: e.trigSpec("2.5"), Cron: "@every 1s", Policy: pipeline.PolicySkip, OnEvent: ev.add,
		Options: pipeline.Options{Force: true}}
	if err := tr.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3800*time.Millisecond)
	defer cancel()
	if err := tr.Run(ctx, q); err != context.DeadlineExceeded {
		t.Fatalf("Run = %v", err)
	}
	if !ev.has("schedule @every 1s: started a run of trig") {
		t.Errorf("no run started: %v", ev.all)
	}
	if !ev.has("not started: pipeline trig: a run is already running or waiting (policy skip)") {
		t.Errorf("no fire was skipped while the 2.5 s run ran: %v", ev.all)
	}
	q.Close()
	if n := len(e.runsStartedBy("schedule @every 1s")); n < 1 || n > 2 {
		t.Errorf("%d runs started by the schedule", n)
	}
}

func TestCronTriggerFiresAMissedSlotOnce(t *testing.T) {
	e := newEnv(t)
	spec := e.trigSpec("0")
	// A run this schedule started two years ago, recorded in the store.
	exp := &loopml.Experiment{Name: "trig"}
	if err := e.db.CreateExperiment(context.Background(), exp); err != nil {
		t.Fatal(err)
	}
	old := &loopml.Run{ExperimentID: exp.ID, StartTime: time.Now().AddDate(-2, 0, 0).UnixMilli(), Tags: []loopml.Tag{
		{Key: pipeline.TagPipeline, Value: "trig"}, {Key: pipeline.TagStartedBy, Value: "schedule 0 0 1 1 *"}}}
	if err := e.db.CreateRun(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	q := &pipeline.Queue{Deps: e.deps}
	defer q.Close()
	tr := &pipeline.Trigger{Spec: spec, Cron: "0 0 1 1 *"}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	tr.Run(ctx, q)
	q.Close()
	if n := len(e.runsStartedBy("schedule 0 0 1 1 *")); n != 2 {
		t.Errorf("%d runs by the yearly schedule, want the old one and one catch-up", n)
	}
	// Restarted again: the slot is taken, nothing fires.
	q2 := &pipeline.Queue{Deps: e.deps}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	tr.Run(ctx2, q2)
	q2.Close()
	if n := len(e.runsStartedBy("schedule 0 0 1 1 *")); n != 2 {
		t.Errorf("%d runs after a restart, want still 2", n)
	}
}

func TestDataTrigger(t *testing.T) {
	e := newEnv(t)
	dd := datasets.Deps{Store: e.db, Artifacts: e.arts}
	add := func(content string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "ratings.csv")
		os.WriteFile(p, []byte("userId,movieId,rating\n"+content), 0o644)
		if _, err := datasets.Add(context.Background(), dd, "ratings", []string{p}, datasets.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	add("1,2,3\n") // v1 exists before the trigger: not new
	spec := e.trigSpec("0")
	watch := func(d time.Duration, during func()) {
		q := &pipeline.Queue{Deps: e.deps}
		tr := &pipeline.Trigger{Spec: spec, OnData: []string{"ratings"}, PollInterval: 50 * time.Millisecond, Policy: pipeline.PolicyQueue}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- tr.Run(ctx, q) }()
		time.Sleep(200 * time.Millisecond)
		if during != nil {
			during()
		}
		time.Sleep(d)
		cancel()
		<-done
		q.Close()
	}
	watch(300*time.Millisecond, nil)
	if n := len(e.runsStartedBy("data ratings@v1")); n != 0 {
		t.Errorf("the existing version started %d runs", n)
	}
	watch(time.Second, func() { add("1,2,4\n") })
	if n := len(e.runsStartedBy("data ratings@v2")); n != 1 {
		t.Errorf("v2 started %d runs, want 1", n)
	}
	// A restarted trigger knows v2 was handled and starts v3 only.
	watch(time.Second, func() { add("1,2,5\n") })
	if n2, n3 := len(e.runsStartedBy("data ratings@v2")), len(e.runsStartedBy("data ratings@v3")); n2 != 1 || n3 != 1 {
		t.Errorf("after restart: v2 %d runs, v3 %d runs; want 1 and 1", n2, n3)
	}
	tr := &pipeline.Trigger{Spec: spec}
	if err := tr.Validate(); loopml.ErrorCode(err) != loopml.EINVALID {
		t.Errorf("empty trigger: %v", err)
	}
	tr = &pipeline.Trigger{Spec: spec, Cron: "61 * * * *"}
	if err := tr.Validate(); err == nil || !strings.Contains(loopml.ErrorMessage(err), `cron "61 * * * *"`) {
		t.Errorf("bad cron: %v", err)
	}
}

func TestRegistryTrigger(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, m := range []string{"upstream", "recs"} {
		if err := e.db.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: m}); err != nil {
			t.Fatal(err)
		}
	}
	newVersion := func(m string) string {
		t.Helper()
		v := &loopml.ModelVersion{Name: m, Source: "mlflow-artifacts:/0/x/artifacts/model"}
		if err := e.db.CreateModelVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
		return v.Version
	}
	newVersion("upstream") // before the trigger: not new
	spec := e.trigSpec("0")
	started := func() []string {
		exp, err := e.db.GetExperimentByName(ctx, "trig")
		if err != nil {
			return nil
		}
		runs, _, _ := e.db.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{exp.ID}, Filter: "tags.`loopml.started_by` LIKE 'registry event %'", MaxResults: 100})
		var out []string
		for _, r := range runs {
			v := tag(r, pipeline.TagStartedBy)
			out = append(out, v[strings.Index(v, ":")+2:])
		}
		return out
	}
	watch := func(during func()) {
		q := &pipeline.Queue{Deps: e.deps}
		tr := &pipeline.Trigger{Spec: spec, OnModel: []string{"upstream", "recs@champion"}, PollInterval: 50 * time.Millisecond, Policy: pipeline.PolicyQueue}
		if err := tr.Validate(); err != nil {
			t.Fatal(err)
		}
		c, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- tr.Run(c, q) }()
		time.Sleep(200 * time.Millisecond)
		if during != nil {
			during()
		}
		time.Sleep(time.Second)
		cancel()
		<-done
		q.Close()
	}
	watch(func() {
		newVersion("upstream")
		v := newVersion("recs") // not watched: only recs@champion is
		if err := e.db.SetAlias(ctx, "recs", "champion", v); err != nil {
			t.Fatal(err)
		}
	})
	got := strings.Join(started(), ", ")
	if !strings.Contains(got, "new version upstream/2") || !strings.Contains(got, "recs@champion -> version 1") || len(started()) != 2 {
		t.Errorf("runs started by registry events: %s", got)
	}
	watch(nil) // restarted: the events were handled
	if n := len(started()); n != 2 {
		t.Errorf("%d runs after a restart, want 2", n)
	}
}
