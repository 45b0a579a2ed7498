package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn/movies"
	"github.com/loopml/loopml/sqlstore"
)

// loopmlOnPath writes an executable "loopml" that runs this test binary as
// the loopml command (see TestMain) and returns its path.
func loopmlOnPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "loopml")
	script := fmt.Sprintf("#!/bin/sh\nLOOPML_TEST_RUN_MAIN=1 exec %q -- \"$@\"\n", os.Args[0])
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// testRunEnv is the environment of a `loopml run` in tests: the home,
// this test binary as the loopml of the stages (loopmlOnPath), no
// tracking URI, the process's environment otherwise.
func testRunEnv(t *testing.T, home string) func(string) (string, bool) {
	t.Helper()
	bin := loopmlOnPath(t)
	return func(k string) (string, bool) {
		switch k {
		case homeEnv:
			return home, true
		case binEnv:
			return bin, true
		case trackingURIEnv:
			return "", false
		}
		return os.LookupEnv(k)
	}
}

// copyExample copies the MovieLens pipeline into a temporary directory, so
// that its outputs do not land in the repository.
func copyExample(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"loopml.yaml", "params.yaml", "split.sh", "rules.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "movielens", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// stageTable parses the summary table `loopml run` prints last: stage ->
// status.
func stageTable(t *testing.T, out string) map[string]string {
	t.Helper()
	i := strings.LastIndex(out, "STAGE ")
	if i < 0 {
		t.Fatalf("no summary table in:\n%s", out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(out[i:], "\n")[1:] {
		f := strings.Fields(l)
		if len(f) >= 2 {
			got[f[0]] = f[1]
		}
	}
	return got
}

// TestRunMovieLensExample runs examples/movielens/loopml.yaml end to end
// on a synthetic MovieLens-shaped data set: every stage passes, a second
// run is fully cached, and --set mf.k=64 re-runs exactly train-mf,
// evaluate@mf, gate and register.
func TestRunMovieLensExample(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models")
	}
	data := t.TempDir()
	var ratings, mv bytes.Buffer
	if err := movies.Generate(movies.Config{Seed: 7, Users: 200, Movies: 300, RatingsPerUser: 40}, &ratings, &mv); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(data, "ratings.csv"), ratings.Bytes(), 0o644)
	os.WriteFile(filepath.Join(data, "movies.csv"), mv.Bytes(), 0o644)
	t.Setenv("LOOPML_MOVIELENS", data)
	dir := copyExample(t)
	home := t.TempDir()
	getenv := testRunEnv(t, home)
	runPipeline := func(args ...string) (map[string]string, string, error) {
		t.Helper()
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"run", filepath.Join(dir, "loopml.yaml")}, args...), getenv, &out, &out)
		return stageTable(t, out.String()), out.String(), err
	}
	got, out, err := runPipeline()
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	stages := []string{"ingest", "validate", "split", "train-popularity", "train-mf", "evaluate@popularity", "evaluate@mf", "gate", "register"}
	for _, s := range stages {
		if got[s] != "succeeded" {
			t.Errorf("first run: %s %s\n%s", s, got[s], out)
		}
	}
	if !strings.Contains(out, "registered movielens-recs version 1 @champion") {
		t.Errorf("first run did not register version 1:\n%s", out)
	}
	got, out, err = runPipeline()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stages {
		if got[s] != "cached" {
			t.Errorf("second run: %s %s, want cached\n%s", s, got[s], out)
		}
	}
	got, out, err = runPipeline("--set", "mf.k=64")
	if err != nil {
		t.Fatal(err)
	}
	rerun := map[string]bool{"train-mf": true, "evaluate@mf": true, "gate": true, "register": true}
	for _, s := range stages {
		switch {
		case !rerun[s] && got[s] != "cached":
			t.Errorf("--set mf.k=64: %s %s, want cached", s, got[s])
		case rerun[s] && got[s] == "cached":
			t.Errorf("--set mf.k=64: %s cached, want it re-run", s)
		}
	}
	// The gate decides whether the k=64 model beats the champion; either
	// way it was evaluated and register followed its decision.
	if (got["gate"] == "succeeded") != (got["register"] == "succeeded") || got["gate"] == "blocked" && got["register"] != "skipped" {
		t.Errorf("gate %s but register %s\n%s", got["gate"], got["register"], out)
	}

	// Tracking: nested runs with params, metrics, dataset inputs and tags.
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(home, "loopml.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	exp, err := db.GetExperimentByName(ctx, "movielens-pipeline")
	if err != nil {
		t.Fatal(err)
	}
	runs, _, err := db.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{exp.ID}, Filter: "tags.`loopml.stage` = 'train-mf' and tags.`loopml.cache` = 'miss'", MaxResults: 10})
	if err != nil || len(runs) != 2 {
		t.Fatalf("train-mf runs that ran: %d, %v", len(runs), err)
	}
	for _, r := range runs {
		var factors, parent string
		for _, p := range r.Params {
			if p.Key == "factors" {
				factors = p.Value
			}
		}
		for _, tg := range r.Tags {
			if tg.Key == loopml.TagParentRunID {
				parent = tg.Value
			}
		}
		if factors != "32" && factors != "64" || parent == "" || r.Status != loopml.RunFinished {
			t.Errorf("train-mf run %s: factors %q parent %q status %s", r.ID, factors, parent, r.Status)
		}
		if _, ok := runMetric(r, "training_rmse"); !ok {
			t.Errorf("train-mf run %s has no training_rmse", r.ID)
		}
	}
	splits, _, _ := db.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{exp.ID}, Filter: "tags.`loopml.stage` = 'split'", MaxResults: 1})
	if len(splits) != 1 || len(splits[0].Inputs) != 1 || !strings.HasPrefix(tagValue(splits[0], "loopml.datasets"), "ratings@v1") {
		t.Errorf("split run: inputs %+v, datasets tag %q", splits, tagValue(splits[0], "loopml.datasets"))
	}
	v, err := db.GetVersionByAlias(ctx, "movielens-recs", "champion")
	if err != nil {
		t.Fatal(err)
	}
	champ, _ := db.GetRun(ctx, v.RunID)
	if _, ok := runMetric(champ, "ndcg_at_10"); !ok {
		t.Errorf("the champion's run does not carry the evaluation metrics: %+v", champ.Metrics)
	}

	// A cache gc keeps every intact entry; --keep-last 1 drops the older
	// train-mf entry.
	var gcOut bytes.Buffer
	if err := run(ctx, []string{"cache", "gc", "--keep-last", "1"}, getenv, &gcOut, &gcOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(gcOut.String(), "stage train-mf") || !strings.Contains(gcOut.String(), "Removed ") {
		t.Errorf("cache gc:\n%s", gcOut.String())
	}
}

func runMetric(r *loopml.Run, key string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Key == key {
			return m.Value, true
		}
	}
	return 0, false
}

func tagValue(r *loopml.Run, key string) string {
	if r == nil {
		return ""
	}
	for _, t := range r.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

func TestRunExitCodes(t *testing.T) {
	if got := exitCode(fmt.Errorf("pipeline x cancelled: %w", context.Canceled)); got != 130 {
		t.Errorf("cancelled: exit %d, want 130", got)
	}
	if got := exitCode(errors.New("stage failed")); got != 1 {
		t.Errorf("failed: exit %d, want 1", got)
	}
	// A failing stage makes `loopml run` exit 1 with the stage's output.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "loopml.yaml"), []byte("stages:\n  bad:\n    cmd: echo broken pipe >&2; exit 4\n"), 0o644)
	cmd := loopmlCommand(t, []string{"LOOPML_HOME=" + t.TempDir()}, "run", filepath.Join(dir, "loopml.yaml"))
	out, err := cmd.CombinedOutput()
	var ee interface{ ExitCode() int }
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "Error: pipeline") || !strings.Contains(string(out), "broken pipe") {
		t.Errorf("exit %v, output:\n%s", err, out)
	}
	// -o json: the result on stdout, progress on stderr.
	os.WriteFile(filepath.Join(dir, "loopml.yaml"), []byte("stages:\n  ok:\n    cmd: echo '{\"acc\":0.5}' > m.json\n    metrics: [m.json]\n"), 0o644)
	var jout, jerr bytes.Buffer
	home := t.TempDir()
	if err := run(context.Background(), []string{"run", filepath.Join(dir, "loopml.yaml"), "--home", home, "-o", "json"}, func(string) (string, bool) { return "", false }, &jout, &jerr); err != nil {
		t.Fatal(err)
	}
	var view struct {
		Status string `json:"status"`
		Stages []struct {
			Name    string             `json:"name"`
			Status  string             `json:"status"`
			Metrics map[string]float64 `json:"metrics"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(jout.Bytes(), &view); err != nil || view.Status != "FINISHED" || len(view.Stages) != 1 || view.Stages[0].Metrics["acc"] != 0.5 {
		t.Errorf("json %s (%v); stderr:\n%s", jout.String(), err, jerr.String())
	}
	// A spec error names file and line.
	os.WriteFile(filepath.Join(dir, "loopml.yaml"), []byte("stages:\n  bad:\n    cmd: x\n    outz: [y]\n"), 0o644)
	var buf bytes.Buffer
	err = run(context.Background(), []string{"run", filepath.Join(dir, "loopml.yaml"), "--home", t.TempDir()}, func(string) (string, bool) { return "", false }, &buf, &buf)
	if err == nil || !strings.Contains(userMessage(err), "loopml.yaml:4: stage \"bad\": unknown key \"outz\"") {
		t.Errorf("err = %v", err)
	}
}

// TestRunAgainstServer runs a pipeline with --tracking-uri: runs land on
// the server, the cache lives in the server's artifact store (shared by
// every client), and data:// deps resolve through the dataset API.
func TestRunAgainstServer(t *testing.T) {
	serverHome := t.TempDir()
	url, _, _ := startServer(t, serverHome)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ratings.csv"), []byte("userId,movieId,rating,timestamp\n1,10,4,100\n2,10,3,200\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "loopml.yaml"), []byte(`
name: remote
stages:
  ingest:
    cmd: loopml data add ratings ratings.csv
    deps: [ratings.csv]
  count:
    cmd: 'loopml data get "$LOOPML_DATA_RATINGS" got && echo "{\"rows\": $(($(wc -l < got/ratings.csv) - 1))}" > m.json; echo "uri=$MLFLOW_TRACKING_URI"'
    deps: [ingest.outs, "data://ratings@latest"]
    outs: [got]
    metrics: [m.json]
`), 0o644)
	bin := loopmlOnPath(t)
	getenv := func(k string) (string, bool) {
		switch k {
		case binEnv:
			return bin, true
		case homeEnv:
			return filepath.Join(t.TempDir(), "unused-home"), true
		}
		return os.LookupEnv(k)
	}
	var out bytes.Buffer
	args := []string{"run", filepath.Join(dir, "loopml.yaml"), "--tracking-uri", url}
	if err := run(context.Background(), args, getenv, &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "count | uri="+url) {
		t.Errorf("the stage did not get the server's URI:\n%s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), args, getenv, &out, &out); err != nil {
		t.Fatal(err)
	}
	if got := stageTable(t, out.String()); got["ingest"] != "cached" || got["count"] != "cached" {
		t.Errorf("second run over HTTP: %v\n%s", got, out.String())
	}
	entries, err := os.ReadDir(filepath.Join(serverHome, "artifacts", "pipeline-cache"))
	if err != nil || len(entries) != 2 {
		t.Errorf("cache entries in the server's store: %d, %v", len(entries), err)
	}
}

// TestRunInterruptExits130: Ctrl-C (SIGINT) stops the stage's process
// group, marks the runs KILLED and exits 130.
func TestRunInterruptExits130(t *testing.T) {
	dir, home := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dir, "loopml.yaml"), []byte("stages:\n  long:\n    cmd: sleep 60 & echo $! > child.pid; wait\n"), 0o644)
	cmd := loopmlCommand(t, []string{"LOOPML_HOME=" + home}, "run", filepath.Join(dir, "loopml.yaml"))
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "long                 running") {
		if time.Now().After(deadline) {
			t.Fatalf("stage did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, err := os.Stat(filepath.Join(dir, "child.pid")); err != nil; _, err = os.Stat(filepath.Join(dir, "child.pid")) {
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\n%s", err, out.String())
	}
	pidb, _ := os.ReadFile(filepath.Join(dir, "child.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidb)))
	if pid > 0 && syscall.Kill(pid, 0) == nil {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if !strings.Contains(string(b), ") Z ") {
			t.Errorf("the stage's child %d survived the interrupt", pid)
		}
	}
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(home, "loopml.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, _, _ := db.SearchRuns(context.Background(), loopml.RunSearch{ExperimentIDs: []string{"1"}, MaxResults: 10})
	if len(runs) != 2 {
		t.Fatalf("%d runs", len(runs))
	}
	for _, r := range runs {
		if r.Status != loopml.RunKilled {
			t.Errorf("run %s (%s) is %s, want KILLED", r.ID, r.Name, r.Status)
		}
	}
}

// TestRunResumesAfterKill9: a runner killed with SIGKILL leaves RUNNING
// runs and no cache entry for the unfinished stage; the next `loopml run`
// marks the interrupted runs FAILED with the reason and resumes from the
// cache (the finished stage is not run again).
func TestRunResumesAfterKill9(t *testing.T) {
	dir, home := t.TempDir(), t.TempDir()
	spec := func(bCmd string) {
		os.WriteFile(filepath.Join(dir, "loopml.yaml"), []byte("name: crash\nstages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n  b:\n    cmd: "+bCmd+"\n    deps: [a.txt]\n    outs: [b.txt]\n"), 0o644)
	}
	spec("sleep 60 & echo $! > b.pid; wait")
	cmd := loopmlCommand(t, []string{"LOOPML_HOME=" + home}, "run", filepath.Join(dir, "loopml.yaml"))
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var sleepPID int
	for sleepPID == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("stage b did not start:\n%s", out.String())
		}
		b, _ := os.ReadFile(filepath.Join(dir, "b.pid"))
		sleepPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill() // kill -9 of the runner
	cmd.Wait()
	if pgid, err := syscall.Getpgid(sleepPID); err == nil {
		syscall.Kill(-pgid, syscall.SIGKILL) // the orphaned stage
	}

	spec("echo b > b.txt")
	var buf bytes.Buffer
	getenv := func(k string) (string, bool) {
		if k == homeEnv {
			return home, true
		}
		if k == trackingURIEnv {
			return "", false
		}
		return os.LookupEnv(k)
	}
	if err := run(context.Background(), []string{"run", filepath.Join(dir, "loopml.yaml")}, getenv, &buf, &buf); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if !strings.Contains(buf.String(), "was interrupted (its runner is gone): marked FAILED") {
		t.Errorf("the interrupted run was not reported:\n%s", buf.String())
	}
	if got := stageTable(t, buf.String()); got["a"] != "cached" || got["b"] != "succeeded" {
		t.Errorf("resume: %v", got)
	}
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(home, "loopml.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, _, _ := db.SearchRuns(context.Background(), loopml.RunSearch{ExperimentIDs: []string{"1"}, Filter: "attributes.status = 'FAILED'", MaxResults: 10})
	if len(runs) != 2 {
		t.Fatalf("%d FAILED runs, want the interrupted pipeline run and its stage b", len(runs))
	}
	for _, r := range runs {
		if !strings.Contains(tagValue(r, "loopml.error"), "interrupted: the runner (pid") {
			t.Errorf("run %s (%s): error tag %q", r.ID, r.Name, tagValue(r, "loopml.error"))
		}
	}
	running, _, _ := db.SearchRuns(context.Background(), loopml.RunSearch{ExperimentIDs: []string{"1"}, Filter: "attributes.status = 'RUNNING'", MaxResults: 10})
	if len(running) != 0 {
		t.Errorf("%d runs still RUNNING", len(running))
	}
}

func TestRunWatchCron(t *testing.T) {
	dir, home := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dir, "loopml.yaml"), []byte("name: nightly\nstages:\n  s:\n    cmd: echo tick >> ticks.txt\n"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	var out syncBuffer
	err := run(ctx, []string{"run", filepath.Join(dir, "loopml.yaml"), "--home", home, "--cron", "@every 1s", "--force"},
		func(string) (string, bool) { return "", false }, &out, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "watching schedule @every 1s for pipeline nightly (policy skip)") ||
		!strings.Contains(out.String(), "schedule @every 1s: started a run of nightly") {
		t.Errorf("output:\n%s", out.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "ticks.txt"))
	if n := strings.Count(string(b), "tick"); n < 1 {
		t.Errorf("%d scheduled runs ran", n)
	}
	var buf bytes.Buffer
	err = run(context.Background(), []string{"run", filepath.Join(dir, "loopml.yaml"), "--home", home, "--cron", "every day"},
		func(string) (string, bool) { return "", false }, &buf, &buf)
	if err == nil || !strings.Contains(userMessage(err), `cron "every day"`) {
		t.Errorf("bad cron: %v", err)
	}
}
