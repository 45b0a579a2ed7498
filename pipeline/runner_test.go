package pipeline_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/cas"
	"github.com/loopml/loopml/pipeline"
)

func TestRunParallel(t *testing.T) {
	e := newEnv(t)
	s := e.parse(`
stages:
  a:
    cmd: date +%s%N > a.start; sleep 1; date +%s%N > a.end
    outs: [a.start, a.end]
  b:
    cmd: date +%s%N > b.start; sleep 1; date +%s%N > b.end
    outs: [b.start, b.end]
  c:
    cmd: cat a.end b.end > c.txt
    deps: [a.end, b.end]
    outs: [c.txt]
`)
	res, err := e.run(context.Background(), s, pipeline.Options{Jobs: 2})
	if err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	// Each started before the other ended (no wall-clock bound: the
	// machine may be loaded).
	ns := func(f string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSpace(e.read(f)), 10, 64)
		return n
	}
	if ns("a.start") >= ns("b.end") || ns("b.start") >= ns("a.end") {
		t.Errorf("a and b did not overlap")
	}
	if got := statuses(res); got["c"] != pipeline.StatusSucceeded {
		t.Errorf("statuses %v", got)
	}
	// Jobs 1 serialises them.
	s = e.parse(strings.ReplaceAll(e.read("loopml.yaml"), "sleep 1", "sleep 0.3"))
	start := time.Now()
	if _, err := e.run(context.Background(), s, pipeline.Options{Jobs: 1}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 600*time.Millisecond {
		t.Errorf("--jobs 1 ran two 0.3 s stages in %s", el)
	}
}

func TestFailureSkipsDownstreamAndOthersContinue(t *testing.T) {
	e := newEnv(t)
	s := e.parse(`
name: failing
stages:
  bad:
    cmd: 'echo step one; echo "boom: disk on fire" >&2; exit 3'
    outs: [bad.txt]
  after-bad:
    cmd: cp bad.txt after.txt
    deps: [bad.txt]
    outs: [after.txt]
  good:
    cmd: sleep 0.3; echo ok > good.txt
    outs: [good.txt]
`)
	res, err := e.run(context.Background(), s, pipeline.Options{})
	if !errors.Is(err, pipeline.ErrFailed) {
		t.Fatalf("err = %v, want ErrFailed", err)
	}
	msg := loopml.ErrorMessage(err)
	if !contains(msg, "stage bad: exit status 3") || !contains(msg, "boom: disk on fire") {
		t.Errorf("error %q lacks the exit status or the last log line", msg)
	}
	want := map[string]string{"bad": pipeline.StatusFailed, "after-bad": pipeline.StatusSkipped, "good": pipeline.StatusSucceeded}
	if got := statuses(res); !equalMaps(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if e.runStatus(res.RunID) != loopml.RunFailed || e.runStatus(res.Stage("bad").RunID) != loopml.RunFailed {
		t.Errorf("pipeline or stage run not FAILED")
	}
	if res.Stage("after-bad").RunID != "" {
		t.Errorf("a skipped stage got a run")
	}
	// The logs are artifacts of the stage run.
	r, _ := e.db.GetRun(context.Background(), res.Stage("bad").RunID)
	rc, err := e.arts.Open(context.Background(), strings.TrimPrefix(r.ArtifactURI, "mlflow-artifacts:/")+"/logs/stderr.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b := make([]byte, 100)
	n, _ := rc.Read(b)
	if !contains(string(b[:n]), "boom") {
		t.Errorf("stderr.txt = %q", b[:n])
	}
	if !contains(e.out.String(), "bad | step one") {
		t.Errorf("stage output not streamed with its prefix:\n%s", e.out)
	}
	// The failed stage was not cached: a fixed command runs.
	s = e.parse(strings.Replace(e.read("loopml.yaml"), "exit 3", "echo fixed > bad.txt", 1))
	res, err = e.run(context.Background(), s, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"bad": pipeline.StatusSucceeded, "after-bad": pipeline.StatusSucceeded, "good": pipeline.StatusCached}
	if got := statuses(res); !equalMaps(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestFailFast(t *testing.T) {
	e := newEnv(t)
	s := e.parse(`
stages:
  bad:
    cmd: sleep 0.2; exit 1
  slow:
    cmd: sleep 20
  later:
    cmd: "true"
    deps: [slow.outs]
`)
	start := time.Now()
	res, err := e.run(context.Background(), s, pipeline.Options{FailFast: true, Jobs: 2})
	if !errors.Is(err, pipeline.ErrFailed) {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("--fail-fast took %s: the slow stage was not stopped", el)
	}
	want := map[string]string{"bad": pipeline.StatusFailed, "slow": pipeline.StatusKilled, "later": pipeline.StatusSkipped}
	if got := statuses(res); !equalMaps(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if got := e.runStatus(res.Stage("slow").RunID); got != loopml.RunKilled {
		t.Errorf("slow stage run %s, want KILLED", got)
	}
}

func TestRetryWithBackoff(t *testing.T) {
	e := newEnv(t)
	s := e.parse(`
stages:
  flaky:
    cmd: n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; date +%s%N >> times; test $n -ge 3 && echo done > out.txt
    outs: [out.txt]
    retries: 3
    backoff: 100ms
`)
	res, err := e.run(context.Background(), s, pipeline.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	if a := res.Stage("flaky").Attempts; a != 3 {
		t.Errorf("attempts = %d, want 3", a)
	}
	var ts []int64
	for _, l := range strings.Fields(e.read("times")) {
		n, _ := strconv.ParseInt(l, 10, 64)
		ts = append(ts, n)
	}
	if len(ts) != 3 {
		t.Fatalf("times %v", ts)
	}
	d1, d2 := time.Duration(ts[1]-ts[0]), time.Duration(ts[2]-ts[1])
	if d1 < 100*time.Millisecond || d2 < 200*time.Millisecond {
		t.Errorf("backoff delays %s, %s: want >= 100ms then >= 200ms", d1, d2)
	}
	// Retries exhausted: the error says how many attempts.
	s = e.parse(`
stages:
  never:
    cmd: exit 7
    retries: 1
    backoff: 10ms
`)
	_, err = e.run(context.Background(), s, pipeline.Options{})
	if !contains(loopml.ErrorMessage(err), "exit status 7 (after 2 attempts)") {
		t.Errorf("err = %v", err)
	}
}

// alive reports whether process pid exists (and is not a zombie we own).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err == nil && strings.Contains(string(b), ") Z ") {
		return false
	}
	return true
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running: the process group was not killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	e := newEnv(t)
	s := e.parse(`
stages:
  hang:
    cmd: sleep 30 & echo $! > child.pid; wait
    timeout: 300ms
`)
	start := time.Now()
	res, err := e.run(context.Background(), s, pipeline.Options{})
	if !errors.Is(err, pipeline.ErrFailed) || !contains(loopml.ErrorMessage(err), "timed out after 300ms") {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("timeout took %s", el)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(e.read("child.pid")))
	waitDead(t, pid)
	if res.Stage("hang").Status != pipeline.StatusFailed {
		t.Errorf("status %s", res.Stage("hang").Status)
	}
}

func TestCancelMarksRunsKilled(t *testing.T) {
	e := newEnv(t)
	s := e.parse(`
stages:
  long:
    cmd: trap '' TERM; sleep 30 & echo $! > child.pid; wait
  next:
    cmd: "true"
    deps: [long.outs]
`)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			if _, err := os.Stat(filepath.Join(e.dir, "child.pid")); err == nil {
				time.Sleep(50 * time.Millisecond)
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	res, err := e.run(ctx, s, pipeline.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(e.read("child.pid")))
	waitDead(t, pid) // SIGTERM was ignored: SIGKILL after the grace period
	if res.Status != loopml.RunKilled || e.runStatus(res.RunID) != loopml.RunKilled {
		t.Errorf("pipeline run %s / %s, want KILLED", res.Status, e.runStatus(res.RunID))
	}
	if got := e.runStatus(res.Stage("long").RunID); got != loopml.RunKilled {
		t.Errorf("stage run %s, want KILLED", got)
	}
	if st := res.Stage("next").Status; st != pipeline.StatusSkipped {
		t.Errorf("next: %s", st)
	}
}

func TestCacheHitMissInvalidation(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"input.txt": "hello\n", "params.yaml": "prep: {n: 1}\ntrain: {lr: 0.1}\n"})
	spec := `
name: cached
stages:
  prep:
    cmd: cat input.txt > prep.txt; echo $LOOPML_PARAM_PREP_N >> prep.txt
    deps: [input.txt]
    params: [prep.n]
    outs: [prep.txt]
  train:
    cmd: 'mkdir -p model; cat prep.txt > model/w; echo "{\"loss\": $LOOPML_PARAM_TRAIN_LR, \"nested\": {\"acc\": 0.9}}" > m.json; echo "$MODE" >> model/w'
    deps: [prep.txt]
    params: [train.lr]
    env: {MODE: fast}
    outs: [model]
    metrics: [m.json]
  other:
    cmd: echo other > other.txt
    outs: [other.txt]
`
	s := e.parse(spec)
	first, err := e.run(context.Background(), s, pipeline.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	for _, st := range first.Stages {
		if st.Status != pipeline.StatusSucceeded {
			t.Fatalf("first run: %s %s", st.Name, st.Status)
		}
	}
	r, _ := e.db.GetRun(context.Background(), first.Stage("train").RunID)
	if v, ok := metric(r, "nested.acc"); !ok || v != 0.9 {
		t.Errorf("metric nested.acc = %v, %v", v, ok)
	}
	if tag(r, loopml.TagParentRunID) != first.RunID || tag(r, pipeline.TagCache) != "miss" {
		t.Errorf("stage run tags %v", r.Tags)
	}
	check := func(label string, res *pipeline.Result, want map[string]string) {
		t.Helper()
		if got := statuses(res); !equalMaps(got, want) {
			t.Errorf("%s: statuses %v, want %v", label, got, want)
		}
	}
	all := func(st string) map[string]string {
		return map[string]string{"prep": st, "train": st, "other": st}
	}
	// Twice: nothing runs, outputs restored, the source run linked.
	os.RemoveAll(filepath.Join(e.dir, "model"))
	second, err := e.run(context.Background(), s, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check("second run", second, all(pipeline.StatusCached))
	if !contains(e.read("model/w"), "fast") {
		t.Errorf("model/w not restored")
	}
	r, _ = e.db.GetRun(context.Background(), second.Stage("train").RunID)
	if tag(r, pipeline.TagCache) != "hit" || tag(r, pipeline.TagCacheSource) != first.Stage("train").RunID {
		t.Errorf("cached stage tags %v", r.Tags)
	}
	if v, ok := metric(r, "loss"); !ok || v != 0.1 {
		t.Errorf("cached stage metric loss = %v %v", v, ok)
	}
	// A param change re-runs exactly that stage and its dependants.
	s2 := e.parse(spec, "train.lr=0.2")
	res, err := e.run(context.Background(), s2, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check("--set train.lr", res, map[string]string{"prep": pipeline.StatusCached, "train": pipeline.StatusSucceeded, "other": pipeline.StatusCached})
	s3 := e.parse(spec, "prep.n=2")
	res, _ = e.run(context.Background(), s3, pipeline.Options{})
	check("--set prep.n", res, map[string]string{"prep": pipeline.StatusSucceeded, "train": pipeline.StatusSucceeded, "other": pipeline.StatusCached})
	// A dep content change.
	e.write(map[string]string{"input.txt": "changed\n"})
	res, _ = e.run(context.Background(), s, pipeline.Options{})
	check("dep change", res, map[string]string{"prep": pipeline.StatusSucceeded, "train": pipeline.StatusSucceeded, "other": pipeline.StatusCached})
	// A declared env change.
	s4 := e.parse(strings.Replace(spec, "MODE: fast", "MODE: slow", 1))
	res, _ = e.run(context.Background(), s4, pipeline.Options{})
	check("env change", res, map[string]string{"prep": pipeline.StatusCached, "train": pipeline.StatusSucceeded, "other": pipeline.StatusCached})
	// Back to the first settings: everything cached again.
	s = e.parse(spec)
	e.write(map[string]string{"input.txt": "hello\n"})
	res, _ = e.run(context.Background(), s, pipeline.Options{})
	check("original again", res, all(pipeline.StatusCached))
	// A deleted object: the hit is a miss and the stage re-runs.
	digest := res.Stage("other").Outs[0].Root
	m, err := cas.LoadManifest(context.Background(), e.arts, digest)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range m.Entries {
		if !en.Dir {
			e.arts.Delete(context.Background(), en.Digest.ObjectPath())
		}
	}
	res, _ = e.run(context.Background(), s, pipeline.Options{})
	check("deleted object", res, map[string]string{"prep": pipeline.StatusCached, "train": pipeline.StatusCached, "other": pipeline.StatusSucceeded})
	// --force runs everything.
	res, _ = e.run(context.Background(), s, pipeline.Options{Force: true})
	check("--force", res, all(pipeline.StatusSucceeded))
	// --stage runs the stage and its upstream only; --dry-run runs nothing.
	res, _ = e.run(context.Background(), s2, pipeline.Options{Stages: []string{"train"}, DryRun: true})
	if len(res.Stages) != 2 || res.Stage("prep").Status != pipeline.StatusCached || res.Stage("train").Status != pipeline.StatusCached {
		t.Errorf("dry run of --stage train with train.lr=0.2 (cached earlier): %+v %+v", res.Stage("prep"), res.Stage("train"))
	}
	s5 := e.parse(spec, "train.lr=0.3")
	res, _ = e.run(context.Background(), s5, pipeline.Options{Stages: []string{"train"}, DryRun: true})
	if res.Stage("train").Status != pipeline.StatusPlanned || res.RunID != "" {
		t.Errorf("dry run: %+v", res.Stage("train"))
	}
}

// TestAlwaysChanged checks that an always_changed stage runs every time
// while its downstream stage still hits the cache when the output comes
// out the same.
func TestAlwaysChanged(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"input.txt": "hello\n"})
	spec := `
stages:
  score:
    cmd: cat input.txt > scores.txt; date +%s%N >> runs.log
    deps: [input.txt]
    outs: [scores.txt]
    always_changed: true
  report:
    cmd: wc -l < scores.txt > report.txt
    deps: [scores.txt]
    outs: [report.txt]
`
	s := e.parse(spec)
	for _, st := range s.Stages {
		if st.AlwaysChanged != (st.Name == "score") {
			t.Fatalf("stage %s: AlwaysChanged %v", st.Name, st.AlwaysChanged)
		}
	}
	for i, want := range []map[string]string{
		{"score": pipeline.StatusSucceeded, "report": pipeline.StatusSucceeded},
		{"score": pipeline.StatusSucceeded, "report": pipeline.StatusCached},
	} {
		res, err := e.run(context.Background(), s, pipeline.Options{})
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, e.out)
		}
		if got := statuses(res); !equalMaps(got, want) {
			t.Errorf("run %d: statuses %v, want %v", i, got, want)
		}
	}
	b, _ := os.ReadFile(filepath.Join(e.dir, "runs.log"))
	if n := strings.Count(string(b), "\n"); n != 2 {
		t.Errorf("score ran %d times, want 2", n)
	}
}

func TestMissingOutputsNamed(t *testing.T) {
	e := newEnv(t)
	s := e.parse(`
stages:
  lazy:
    cmd: touch one.txt
    outs: [one.txt, two.txt, dir]
`)
	_, err := e.run(context.Background(), s, pipeline.Options{})
	if msg := loopml.ErrorMessage(err); !contains(msg, "outputs not produced: two.txt, dir") {
		t.Errorf("err = %q", msg)
	}
	// An output left by an earlier run does not count as produced.
	s = e.parse("stages:\n  once:\n    cmd: touch once.txt\n    params: {v: 1}\n    outs: [once.txt]\n")
	if _, err := e.run(context.Background(), s, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	s = e.parse("stages:\n  once:\n    cmd: \"true\"\n    params: {v: 2}\n    outs: [once.txt]\n")
	_, err = e.run(context.Background(), s, pipeline.Options{})
	if msg := loopml.ErrorMessage(err); !contains(msg, "outputs not produced: once.txt") {
		t.Errorf("stale output accepted: %q", msg)
	}
}

func TestEnvReachesChild(t *testing.T) {
	e := newEnv(t)
	s := e.parse(`
experiment: envtest
stages:
  show:
    cmd: env | grep -E '^(MLFLOW|LOOPML|CUSTOM)' | sort > env.txt
    params: {lr: 0.5}
    env: {CUSTOM: "x-${LOOPML_STAGE}"}
    outs: [env.txt]
`)
	res, err := e.run(context.Background(), s, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := e.read("env.txt")
	exp, _ := e.db.GetExperimentByName(context.Background(), "envtest")
	for _, want := range []string{
		"MLFLOW_TRACKING_URI=" + e.deps.TrackingURI, "MLFLOW_RUN_ID=" + res.Stage("show").RunID,
		"MLFLOW_EXPERIMENT_ID=" + exp.ID, "LOOPML_RUN_ID=" + res.Stage("show").RunID,
		"LOOPML_PIPELINE_RUN_ID=" + res.RunID, "LOOPML_PARAM_LR=0.5", "CUSTOM=x-show",
	} {
		if !contains(got, want+"\n") {
			t.Errorf("env lacks %s:\n%s", want, got)
		}
	}
}

func TestPythonLogsIntoStageRun(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: skipping the MLflow REST logging stage")
	}
	e := newEnv(t)
	e.write(map[string]string{"log.py": `
import json, os, time, urllib.request
uri = os.environ["MLFLOW_TRACKING_URI"]
body = json.dumps({"run_id": os.environ["MLFLOW_RUN_ID"], "key": "py_accuracy", "value": 0.875,
                   "timestamp": int(time.time() * 1000), "step": 0}).encode()
req = urllib.request.Request(uri + "/api/2.0/mlflow/runs/log-metric", data=body, headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
print("logged")
`})
	s := e.parse(`
stages:
  py:
    cmd: [` + py + `, log.py]
`)
	res, err := e.run(context.Background(), s, pipeline.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	r, _ := e.db.GetRun(context.Background(), res.Stage("py").RunID)
	if v, ok := metric(r, "py_accuracy"); !ok || v != 0.875 {
		t.Errorf("py_accuracy = %v %v in the stage run; output:\n%s", v, ok, e.out)
	}
}

func TestGateAndRegister(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"params.yaml": "train: {rmse: 0.8}\n"})
	spec := `
name: gated
stages:
  train:
    cmd: 'mkdir -p model && echo w > model/MLmodel && echo "{\"rmse\": $LOOPML_PARAM_TRAIN_RMSE}" > metrics.json'
    params: [train.rmse]
    outs: [model]
    metrics: [metrics.json]
  gate:
    gate: {condition: "metrics.rmse < champion.metrics.rmse && train.metrics.rmse < 1"}
    deps: [train.outs]
  register:
    model: {name: recs, path: model, alias: champion}
    deps: [gate.outs]
`
	ctx := context.Background()
	res, err := e.run(ctx, e.parse(spec), pipeline.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	if res.Stage("register").Version != "1" {
		t.Fatalf("first run (no champion) registered %q", res.Stage("register").Version)
	}
	v, err := e.db.GetVersionByAlias(ctx, "recs", "champion")
	if err != nil || v.Version != "1" || v.RunID != res.Stage("register").RunID {
		t.Fatalf("champion %+v %v", v, err)
	}
	// Worse: the gate blocks and nothing is registered; the run succeeds.
	res, err = e.run(ctx, e.parse(spec, "train.rmse=0.9"), pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(res); got["gate"] != pipeline.StatusBlocked || got["register"] != pipeline.StatusSkipped {
		t.Errorf("worse model: %v", got)
	}
	// Better: version 2 becomes champion.
	res, err = e.run(ctx, e.parse(spec, "train.rmse=0.5"), pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := e.db.GetVersionByAlias(ctx, "recs", "champion"); v == nil || v.Version != "2" {
		t.Errorf("champion after a better model: %+v (%v)", v, statuses(res))
	}
	r, _ := e.db.GetRun(ctx, res.Stage("gate").RunID)
	if tag(r, pipeline.TagGate) != "passed" {
		t.Errorf("gate tags %v", r.Tags)
	}
	if c, ok := metric(r, "champion.rmse"); !ok || c != 0.8 {
		t.Errorf("gate run champion.rmse = %v %v", c, ok)
	}
}

func TestCacheGC(t *testing.T) {
	e := newEnv(t)
	spec := `
stages:
  a:
    cmd: echo $LOOPML_PARAM_V > a.txt
    params: {v: "1"}
    outs: [a.txt]
`
	for _, v := range []string{"1", "2", "3"} {
		if _, err := e.run(context.Background(), e.parse(spec, "a.v="+v), pipeline.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.deps.Cache.GC(context.Background(), pipeline.GCOptions{KeepLast: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept != 1 || len(res.Removed) != 2 {
		t.Errorf("gc kept %d removed %d, want 1 and 2", res.Kept, len(res.Removed))
	}
	r, _ := e.run(context.Background(), e.parse(spec, "a.v=3"), pipeline.Options{})
	if r.Stage("a").Status != pipeline.StatusCached {
		t.Errorf("newest entry was removed")
	}
}

// TestPythonExample runs examples/pipeline-python: Python stages that log
// into their stage runs through MLFLOW_TRACKING_URI / MLFLOW_RUN_ID.
//
// When Debian's python3 has scikit-learn (package python3-sklearn) it runs
// the stages, so that train.py fits with sklearn; LOOPML_TEST_SKLEARN=1
// (set by .ci/run after installing python3-sklearn) makes that required.
func TestPythonExample(t *testing.T) {
	wantSklearn := os.Getenv("LOOPML_TEST_SKLEARN") == "1"
	if err := exec.Command("/usr/bin/python3", "-c", "import sklearn").Run(); err == nil {
		// Put Debian's interpreter first on PATH (a pyenv or venv python3
		// does not see Debian's dist-packages).
		bin := t.TempDir()
		if err := os.Symlink("/usr/bin/python3", filepath.Join(bin, "python3")); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	} else if wantSklearn {
		t.Fatalf("LOOPML_TEST_SKLEARN=1 but /usr/bin/python3 cannot import sklearn: %v", err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found: skipping the Python pipeline example")
	}
	e := newEnv(t)
	for _, f := range []string{"loopml.yaml", "params.yaml", "prepare.py", "train.py"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", "pipeline-python", f))
		if err != nil {
			t.Fatal(err)
		}
		e.write(map[string]string{f: string(b)})
	}
	s, err := pipeline.ParseFile(filepath.Join(e.dir, "loopml.yaml"), pipeline.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.run(context.Background(), s, pipeline.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	r, _ := e.db.GetRun(context.Background(), res.Stage("train").RunID)
	if v, ok := metric(r, "mse"); !ok || v <= 0 || v > 1 {
		t.Errorf("mse logged by train.py over HTTP = %v %v\n%s", v, ok, e.out)
	}
	if v, ok := metric(r, "r2"); !ok || v < 0.9 {
		t.Errorf("r2 from metrics.json = %v %v", v, ok)
	}
	fitted := ""
	for _, p := range r.Params {
		if p.Key == "fitted_with" {
			fitted = p.Value
		}
	}
	if fitted != "sklearn" && fitted != "stdlib" {
		t.Errorf("param fitted_with = %q", fitted)
	}
	if fitted == "stdlib" {
		if wantSklearn {
			t.Errorf("train.py used its standard-library fit, want scikit-learn (LOOPML_TEST_SKLEARN=1)")
		}
		t.Log("scikit-learn is not installed: train.py used its standard-library fit")
	}
	if res.Stage("register").Version != "1" {
		t.Errorf("register: %+v", res.Stage("register"))
	}
}

func TestCorruptObjectIsAMiss(t *testing.T) {
	e := newEnv(t)
	s := e.parse("stages:\n  a:\n    cmd: echo payload > a.txt\n    outs: [a.txt]\n")
	res, err := e.run(context.Background(), s, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cas.LoadManifest(context.Background(), e.arts, res.Stage("a").Outs[0].Root)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range m.Entries {
		if !en.Dir { // same size, different bytes
			e.arts.Put(context.Background(), en.Digest.ObjectPath(), strings.NewReader("PAYLOAD\n"))
		}
	}
	res, err = e.run(context.Background(), s, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Stage("a").Status; st != pipeline.StatusSucceeded {
		t.Errorf("stage with a corrupt cached object: %s, want it run again", st)
	}
	if got := e.read("a.txt"); got != "payload\n" {
		t.Errorf("a.txt = %q", got)
	}
}

func TestGitCommitTags(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found")
	}
	e := newEnv(t)
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", e.dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	e.write(map[string]string{"loopml.yaml": "stages:\n  a:\n    cmd: \"true\"\n"})
	git("init", "-q")
	git("add", "loopml.yaml")
	git("commit", "-q", "-m", "init")
	head := git("rev-parse", "HEAD")
	s := e.parse("stages:\n  a:\n    cmd: \"true\"\n")
	res, err := e.run(context.Background(), s, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := e.db.GetRun(context.Background(), res.Stage("a").RunID)
	if tag(r, pipeline.TagGitCommit) != head || tag(r, pipeline.TagGitDirty) != "false" {
		t.Errorf("clean checkout: commit %q dirty %q, want %s false", tag(r, pipeline.TagGitCommit), tag(r, pipeline.TagGitDirty), head)
	}
	s = e.parse("stages:\n  a:\n    cmd: \"true\"\n    env: {X: y}\n") // an uncommitted change
	res, _ = e.run(context.Background(), s, pipeline.Options{})
	r, _ = e.db.GetRun(context.Background(), res.RunID)
	if tag(r, pipeline.TagGitDirty) != "true" {
		t.Errorf("modified checkout: dirty %q", tag(r, pipeline.TagGitDirty))
	}
}
