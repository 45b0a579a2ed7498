package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/pipeline"
)

// slowSpec is a pipeline named name whose one stage appends its tag to
// log.txt when it starts and ends, sleeping in between.
func (e *env) slowSpec(name, tag, sleep string) *pipeline.Spec {
	e.t.Helper()
	dir := filepath.Join(e.dir, name)
	os.MkdirAll(dir, 0o755)
	src := "name: " + name + "\nstages:\n  s:\n    cmd: echo start-" + tag + " >> ../log.txt; sleep " + sleep + "; echo end-" + tag + " >> ../log.txt\n    params: {tag: " + tag + "}\n"
	os.WriteFile(filepath.Join(dir, "loopml.yaml"), []byte(src), 0o644)
	s, err := pipeline.ParseFile(filepath.Join(dir, "loopml.yaml"), pipeline.ParseOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) waitLog(want string) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(e.dir, "log.txt"))
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("log.txt never contained %q: %q", want, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestQueuePolicies(t *testing.T) {
	e := newEnv(t)
	q := &pipeline.Queue{Deps: e.deps, MaxRunning: 2}
	defer q.Close()

	// skip: refused while a run of the same pipeline is running.
	first, err := q.Submit(e.slowSpec("p", "a", "0.5"), pipeline.Options{}, "schedule 0 3 * * *", pipeline.PolicySkip)
	if err != nil {
		t.Fatal(err)
	}
	e.waitLog("start-a")
	if _, err := q.Submit(e.slowSpec("p", "b", "0"), pipeline.Options{}, "api", pipeline.PolicySkip); !errors.Is(err, pipeline.ErrBusy) || loopml.ErrorCode(err) != loopml.ECONFLICT {
		t.Errorf("skip while running: %v", err)
	}
	res, err := first.Wait()
	if err != nil {
		t.Fatal(err)
	}
	r, _ := e.db.GetRun(context.Background(), res.RunID)
	if tag(r, pipeline.TagStartedBy) != "schedule 0 3 * * *" {
		t.Errorf("started_by = %q", tag(r, pipeline.TagStartedBy))
	}

	// queue: runs of one pipeline one after the other, in order.
	os.Remove(filepath.Join(e.dir, "log.txt"))
	var ts []*pipeline.Ticket
	for _, tg := range []string{"q1", "q2", "q3"} {
		tk, err := q.Submit(e.slowSpec("p", tg, "0.2"), pipeline.Options{}, "data ratings@v"+tg, pipeline.PolicyQueue)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tk)
	}
	for _, tk := range ts {
		if _, err := tk.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Fields(e.read("log.txt")); strings.Join(got, " ") != "start-q1 end-q1 start-q2 end-q2 start-q3 end-q3" {
		t.Errorf("queued runs overlapped or reordered: %v", got)
	}

	// replace: the running run is cancelled (KILLED), waiting ones dropped.
	os.Remove(filepath.Join(e.dir, "log.txt"))
	old, _ := q.Submit(e.slowSpec("p", "old", "30"), pipeline.Options{}, "", pipeline.PolicyQueue)
	e.waitLog("start-old")
	dropped, _ := q.Submit(e.slowSpec("p", "dropped", "0"), pipeline.Options{}, "", pipeline.PolicyQueue)
	start := time.Now()
	repl, err := q.Submit(e.slowSpec("p", "new", "0"), pipeline.Options{}, "registry event", pipeline.PolicyReplace)
	if err != nil {
		t.Fatal(err)
	}
	oldRes, oldErr := old.Wait()
	if !errors.Is(oldErr, context.Canceled) || oldRes.Status != loopml.RunKilled {
		t.Errorf("replaced run: %v, %+v", oldErr, oldRes)
	}
	if _, err := dropped.Wait(); !errors.Is(err, pipeline.ErrReplaced) {
		t.Errorf("waiting run under replace: %v", err)
	}
	if _, err := repl.Wait(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("replace took %s", el)
	}
	if log := e.read("log.txt"); strings.Contains(log, "dropped") || !strings.Contains(log, "end-new") {
		t.Errorf("log after replace: %q", log)
	}

	if _, err := q.Submit(e.slowSpec("p", "x", "0"), pipeline.Options{}, "", "sometimes"); loopml.ErrorCode(err) != loopml.EINVALID {
		t.Errorf("bad policy: %v", err)
	}
}

func TestQueueBoundsConcurrency(t *testing.T) {
	e := newEnv(t)
	q := &pipeline.Queue{Deps: e.deps, MaxRunning: 2}
	var ts []*pipeline.Ticket
	for i := range 4 {
		tg := "r" + strconv.Itoa(i)
		tk, err := q.Submit(e.slowSpec("pipe-"+tg, tg, "0.3"), pipeline.Options{}, "", pipeline.PolicyQueue)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tk)
	}
	for _, tk := range ts {
		if _, err := tk.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	running, most := 0, 0
	for _, ev := range strings.Fields(e.read("log.txt")) {
		if strings.HasPrefix(ev, "start-") {
			running++
		} else {
			running--
		}
		most = max(most, running)
	}
	if most != 2 {
		t.Errorf("at most %d pipelines ran at once, want 2 (MaxRunning)", most)
	}
	q.Close()
	if _, err := q.Submit(e.slowSpec("late", "l", "0"), pipeline.Options{}, "", pipeline.PolicyQueue); !errors.Is(err, pipeline.ErrClosed) {
		t.Errorf("submit after Close: %v", err)
	}
}
