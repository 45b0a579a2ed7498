package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopml/loopml"
)

// TestPipelinesServerDataTrigger: a data trigger stored through the API
// starts a run on the server when the dataset gets a new version; a run
// submitted through the API runs too; bad input is refused naming the
// field.
func TestPipelinesServerDataTrigger(t *testing.T) {
	ctx := context.Background()
	serverHome, clientHome := t.TempDir(), t.TempDir()
	url, stderr, _ := startServer(t, serverHome, "--pipeline-concurrency", "2")
	cli := func(args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--tracking-uri", url)
		if args[0] == "data" {
			args = append(args, "--home", clientHome)
		}
		err := run(ctx, args, envMap(nil), &out, &errOut)
		return out.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("loopml %s: %v\nserver log:\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
	addVersion := func(content string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "ratings.csv")
		if err := os.WriteFile(p, []byte("userId,movieId,rating\n"+content), 0o644); err != nil {
			t.Fatal(err)
		}
		must("data", "add", "ratings", p)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "loopml.yaml"), []byte("name: retrain\nstages:\n  train:\n    cmd: echo training\n    deps: [\"data://ratings@latest\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addVersion("1,2,3\n")

	// Bad input names the field.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pipelines", "triggers", "create", "bad", "--path", dir, "--cron", "61 * * * *"}, "'schedule'"},
		{[]string{"pipelines", "triggers", "create", "bad", "--path", "relative"}, "'path'"},
		{[]string{"pipelines", "triggers", "create", "bad", "--path", dir, "--on-data", "ratings", "--policy", "later"}, "'policy'"},
		{[]string{"pipelines", "submit", "--path", filepath.Join(dir, "missing.yaml")}, "'path'"},
		{[]string{"pipelines", "runs", "--status", "done"}, "'status'"},
	} {
		_, err := cli(tc.args...)
		if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tc.want) {
			t.Errorf("loopml %s: %v, want an invalid-input error naming %s", strings.Join(tc.args, " "), err, tc.want)
		}
	}

	must("pipelines", "triggers", "create", "on-ratings", "--path", dir, "--on-data", "ratings", "--policy", "queue")
	var triggers []loopml.PipelineTrigger
	waitUntil(t, "the scheduler's first look at the trigger", func() bool {
		if err := json.Unmarshal([]byte(must("pipelines", "triggers", "list", "-o", "json")), &triggers); err != nil {
			t.Fatal(err)
		}
		return len(triggers) == 1 && triggers[0].Cursor != ""
	})
	if triggers[0].Pipeline != "retrain" || triggers[0].Cursor != "1" {
		t.Fatalf("trigger = %+v", triggers[0])
	}
	addVersion("1,2,4\n")
	var runs []loopml.PipelineRun
	waitUntil(t, "the data-triggered run to succeed", func() bool {
		if err := json.Unmarshal([]byte(must("pipelines", "runs", "--trigger", "on-ratings", "-o", "json")), &runs); err != nil {
			t.Fatal(err)
		}
		return len(runs) == 1 && runs[0].Status == loopml.PipelineSucceeded
	})
	if runs[0].StartedBy != "data ratings@v2" || runs[0].TrackingRunID == "" {
		t.Fatalf("run = %+v", runs[0])
	}
	out := must("runs", "show", runs[0].TrackingRunID)
	if !strings.Contains(out, "data ratings@v2") {
		t.Errorf("tracking run does not record what started it:\n%s", out)
	}

	out = must("pipelines", "submit", "--path", dir, "-o", "json")
	var sub []loopml.PipelineRun
	if err := json.Unmarshal([]byte(out), &sub); err != nil || len(sub) != 1 {
		t.Fatalf("submit output %q: %v", out, err)
	}
	waitUntil(t, "the submitted run to succeed", func() bool {
		if err := json.Unmarshal([]byte(must("pipelines", "runs", sub[0].ID, "-o", "json")), &runs); err != nil {
			t.Fatal(err)
		}
		return runs[0].Status == loopml.PipelineSucceeded
	})
	if !strings.HasPrefix(runs[0].StartedBy, "api call by ") {
		t.Errorf("submitted run started by %q", runs[0].StartedBy)
	}
	must("pipelines", "triggers", "rm", "on-ratings")
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPipelinesServerKill9: a server killed with SIGKILL while running a
// pipeline stops renewing its lease; another server on the same store
// fails the run with the reason and closes its tracking run.
func TestPipelinesServerKill9(t *testing.T) {
	ctx := context.Background()
	home, dir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dir, "loopml.yaml"), []byte("name: crash\nstages:\n  slow:\n    cmd: sleep 60 & echo $! > slow.pid; wait\n"), 0o644)
	cmd := loopmlCommand(t, nil, "server", "--addr", "127.0.0.1:0", "--home", home, "--pipeline-lease", "1s")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var url string
	waitUntil(t, "the first server to listen", func() bool {
		if m := listeningRE.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			return true
		}
		return false
	})
	cli := func(url string, args ...string) string {
		t.Helper()
		var b bytes.Buffer
		if err := run(ctx, append(args, "--tracking-uri", url, "-o", "json"), envMap(nil), &b, &b); err != nil {
			t.Fatalf("loopml %s: %v\n%s\nserver:\n%s", strings.Join(args, " "), err, b.String(), out.String())
		}
		return b.String()
	}
	var runs []loopml.PipelineRun
	if err := json.Unmarshal([]byte(cli(url, "pipelines", "submit", "--path", dir)), &runs); err != nil || len(runs) != 1 {
		t.Fatalf("submit: %v", err)
	}
	id := runs[0].ID
	var sleepPID int
	waitUntil(t, "the stage to start", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "slow.pid"))
		sleepPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return sleepPID > 0
	})
	waitUntil(t, "the run to record its tracking run", func() bool {
		json.Unmarshal([]byte(cli(url, "pipelines", "runs", id)), &runs)
		return runs[0].TrackingRunID != ""
	})
	cmd.Process.Kill() // kill -9 of the server running the pipeline
	cmd.Wait()
	if pgid, err := syscall.Getpgid(sleepPID); err == nil {
		syscall.Kill(-pgid, syscall.SIGKILL) // the orphaned stage
	}

	url2, _, _ := startServer(t, home, "--pipeline-lease", "1s")
	waitUntil(t, "the other server to fail the run", func() bool {
		json.Unmarshal([]byte(cli(url2, "pipelines", "runs", id)), &runs)
		return runs[0].Status != loopml.PipelineRunning
	})
	r := runs[0]
	if r.Status != loopml.PipelineFailed || !strings.Contains(r.Reason, "runner "+r.Runner+" lost its lease at ") {
		t.Fatalf("run after its server was killed = %+v", r)
	}
	var tr struct {
		Status string `json:"status"`
	}
	// The tracking run is closed right after the run is failed.
	var show string
	waitUntil(t, "the tracking run to be closed", func() bool {
		show = cli(url2, "runs", "show", r.TrackingRunID)
		if err := json.Unmarshal([]byte(show), &tr); err != nil {
			t.Fatalf("%v\n%s", err, show)
		}
		return tr.Status != loopml.RunRunning
	})
	if tr.Status != loopml.RunFailed || !strings.Contains(show, "lost its lease") {
		t.Fatalf("tracking run after the lease expired:\n%s", show)
	}
}
