//go:build unix

package serving_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopml/loopml/serving"
)

// TestProcessRuntime serves a package whose MLmodel declares a
// loopml_process command (the standard-library Python scoring server of
// procserve/testdata) through the gateway: MLflow scoring is proxied,
// the child's own errors pass through, the other protocols say clearly
// that the process runtime does not serve them.
func TestProcessRuntime(t *testing.T) {
	score := pythonScorer(t)
	e := newEnv(t)
	v := e.putPackage(t, "py/model", map[string]string{
		"MLmodel":  "artifact_path: model\nflavors:\n  loopml_process:\n    command: [python3, score.py]\n    batch: {max_rows: 64}\n",
		"score.py": string(score),
	})
	g, srv, err := e.gateway(t, serving.EndpointSpec{Name: "py", Targets: []serving.TargetSpec{{Model: "models:/recs/" + v}}})
	if err != nil {
		t.Fatal(err)
	}
	if !g.Ready() {
		t.Fatalf("not ready: %+v", g.Status())
	}
	resp, out := do(t, "POST", srv.URL+"/endpoints/py/invocations", "application/json", `{"dataframe_split": {"columns": ["x", "y"], "data": [[1, 2], [0, 0]]}}`)
	if preds, _ := out["predictions"].([]any); resp.StatusCode != 200 || len(preds) != 2 || preds[0] != 9.0 || preds[1] != 1.0 {
		t.Errorf("invocations: %d %v", resp.StatusCode, out)
	}
	resp, out = do(t, "POST", srv.URL+"/endpoints/py/invocations", "application/json", `{"dataframe_records": [{"x": -1, "y": 0}]}`)
	if resp.StatusCode != 400 || !strings.Contains(out["message"].(string), "x must not be negative") {
		t.Errorf("bad row: %d %v, want the child's 400", resp.StatusCode, out)
	}
	resp, out = do(t, "POST", srv.URL+"/v2/models/py/infer", "application/json",
		`{"inputs": [{"name": "user_id", "datatype": "BYTES", "shape": [1], "data": ["1"]}, {"name": "item_id", "datatype": "BYTES", "shape": [1], "data": ["2"]}]}`)
	if resp.StatusCode != 400 || !strings.Contains(out["error"].(string), "not supported by the process runtime") {
		t.Errorf("OIP infer: %d %v, want 400", resp.StatusCode, out)
	}
	if resp, out := do(t, "GET", srv.URL+"/v2/models/py", "", ""); resp.StatusCode != 200 || out["name"] != "py" {
		t.Errorf("OIP metadata of a package without signature: %d %v", resp.StatusCode, out)
	}
	resp, out = do(t, "POST", srv.URL+"/endpoints/py/recommend", "application/json", `{"user_id": "1"}`)
	if resp.StatusCode != 400 || !strings.Contains(out["message"].(string), "not supported by the process runtime") {
		t.Errorf("recommend: %d %v, want 400", resp.StatusCode, out)
	}
}

// TestProcessRuntimeLoadFailure: a package whose command fails to start
// is reported with the child's output, and the endpoint is not ready.
func TestProcessRuntimeLoadFailure(t *testing.T) {
	e := newEnv(t)
	v := e.putPackage(t, "bad/model", map[string]string{
		"MLmodel": "flavors:\n  loopml_process:\n    command: [sh, -c, 'echo cannot load weights >&2; exit 4']\n",
	})
	g, srv, err := e.gateway(t, serving.EndpointSpec{Name: "bad", Targets: []serving.TargetSpec{{Model: "models:/recs/" + v}}})
	if err == nil || !strings.Contains(err.Error(), "model version recs/"+v+": model recs/"+v+": the model process exited before it was ready (exit status 4); last output: cannot load weights") {
		t.Fatalf("load: %v", err)
	}
	if g.Ready() {
		t.Error("ready with a failed target")
	}
	// The readiness probe says which target failed and why.
	resp, out := do(t, "GET", srv.URL+"/readyz", "", "")
	if resp.StatusCode != 503 || !strings.Contains(fmt.Sprint(out["endpoints"]), "cannot load weights") {
		t.Errorf("GET /readyz: %d %v", resp.StatusCode, out)
	}
}

// TestProcessRuntimeSwap: when the alias moves, the new version's child
// starts and serves, the old child stops about a second later (not when
// the garbage collector gets to it), and Close stops the current one.
func TestProcessRuntimeSwap(t *testing.T) {
	score := pythonScorer(t)
	ctx := context.Background()
	e := newEnv(t)
	tmp := t.TempDir()
	versions := map[string]string{}
	for _, name := range []string{"a", "b"} {
		pidFile := filepath.Join(tmp, name+".pid")
		versions[name] = e.putPackage(t, "py-"+name+"/model", map[string]string{
			"MLmodel":  "flavors:\n  loopml_process:\n    command: [sh, -c, 'echo $$ > " + pidFile + "; exec python3 score.py']\n",
			"score.py": string(score),
		})
	}
	if err := e.db.SetAlias(ctx, "recs", "py", versions["a"]); err != nil {
		t.Fatal(err)
	}
	g, srv, err := e.gateway(t, serving.EndpointSpec{Name: "py", Targets: []serving.TargetSpec{{Model: "models:/recs@py"}}})
	if err != nil {
		t.Fatal(err)
	}
	const body = `{"inputs": [{"x": 1, "y": 1}]}`
	if resp, _ := do(t, "POST", srv.URL+"/endpoints/py/invocations", "application/json", body); resp.Header.Get("X-Loopml-Model-Version") != versions["a"] {
		t.Fatalf("before the swap: version %q", resp.Header.Get("X-Loopml-Model-Version"))
	}
	pidA := readPid(t, filepath.Join(tmp, "a.pid"))
	if err := e.db.SetAlias(ctx, "recs", "py", versions["b"]); err != nil {
		t.Fatal(err)
	}
	if err := g.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if resp, out := do(t, "POST", srv.URL+"/endpoints/py/invocations", "application/json", body); resp.StatusCode != 200 || resp.Header.Get("X-Loopml-Model-Version") != versions["b"] {
		t.Fatalf("after the swap: %d %v version %q", resp.StatusCode, out, resp.Header.Get("X-Loopml-Model-Version"))
	}
	// The old child stops about a second after the swap (no garbage
	// collection needed: g keeps nothing that would let it run on).
	waitExit := func(what string, pid int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for syscall.Kill(pid, 0) == nil && !zombie(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: child %d still runs", what, pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitExit("the old version after the swap", pidA)
	// Close stops the child of the version being served.
	pidB := readPid(t, filepath.Join(tmp, "b.pid"))
	if syscall.Kill(pidB, 0) != nil {
		t.Fatalf("the serving version's child %d is not running", pidB)
	}
	g.Close()
	waitExit("the serving version after Close", pidB)
}

func readPid(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// zombie reports whether pid has exited but was not reaped yet.
func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// TestProcessRuntimeSharedVersion: two targets that resolve to the same
// version (an alias and its version number) share one child process.
func TestProcessRuntimeSharedVersion(t *testing.T) {
	score := pythonScorer(t)
	e := newEnv(t)
	pids := filepath.Join(t.TempDir(), "pids")
	v := e.putPackage(t, "py/model", map[string]string{
		"MLmodel":  "flavors:\n  loopml_process:\n    command: [sh, -c, 'echo $$ >> " + pids + "; exec python3 score.py']\n",
		"score.py": string(score),
	})
	if err := e.db.SetAlias(context.Background(), "recs", "py", v); err != nil {
		t.Fatal(err)
	}
	_, srv, err := e.gateway(t, serving.EndpointSpec{Name: "py", Targets: []serving.TargetSpec{
		{Model: "models:/recs@py", Weight: 50}, {Model: "models:/recs/" + v, Weight: 50}}})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if resp, out := do(t, "POST", srv.URL+"/endpoints/py/invocations", "application/json", `{"inputs": [{"x": 1, "y": 1}]}`); resp.StatusCode != 200 {
			t.Fatalf("status %d: %v", resp.StatusCode, out)
		}
	}
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 1 {
		t.Fatalf("%d children started for one version, want 1", n)
	}
}

// pythonScorer skips the test when python3 is missing, and returns the
// source of procserve's test child (score.py: 2x + 3y + 1 per row).
func pythonScorer(t *testing.T) []byte {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the process runtime test needs it")
	}
	score, err := os.ReadFile(filepath.Join("..", "procserve", "testdata", "score.py"))
	if err != nil {
		t.Fatal(err)
	}
	return score
}

// TestInputExampleWarmUp: a version is warmed with its package's input
// example before it serves; a process-served version whose child refuses
// its own example fails to load (its child stopped) and the alias move to
// it leaves the previous version serving.
func TestInputExampleWarmUp(t *testing.T) {
	score := pythonScorer(t)
	ctx := context.Background()
	e := newEnv(t)
	tmp := t.TempDir()
	mlmodel := func(pidFile string) string {
		return "flavors:\n  loopml_process:\n    command: [sh, -c, 'echo $$ > " + pidFile + "; exec python3 score.py']\n" +
			"saved_input_example_info:\n  artifact_path: input_example.json\n  type: dataframe\n  pandas_orient: split\n"
	}
	good := e.putPackage(t, "good/model", map[string]string{
		"MLmodel": mlmodel(filepath.Join(tmp, "good.pid")), "score.py": string(score),
		"input_example.json": `{"columns": ["x", "y"], "data": [[1, 2]]}`,
	})
	bad := e.putPackage(t, "bad/model", map[string]string{
		"MLmodel": mlmodel(filepath.Join(tmp, "bad.pid")), "score.py": string(score),
		"input_example.json": `{"columns": ["a"], "data": [[1]]}`,
	})
	if err := e.db.SetAlias(ctx, "recs", "py", good); err != nil {
		t.Fatal(err)
	}
	g, srv, err := e.gateway(t, serving.EndpointSpec{Name: "py", Targets: []serving.TargetSpec{{Model: "models:/recs@py"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetAlias(ctx, "recs", "py", bad); err != nil {
		t.Fatal(err)
	}
	err = g.Refresh(ctx)
	if err == nil || !strings.Contains(err.Error(), "input example") || !strings.Contains(err.Error(), "missing column") {
		t.Fatalf("refresh to a version that refuses its example: %v", err)
	}
	resp, out := do(t, "POST", srv.URL+"/endpoints/py/invocations", "application/json", `{"dataframe_records": [{"x": 1, "y": 2}]}`)
	if resp.StatusCode != 200 || resp.Header.Get("X-Loopml-Model-Version") != good {
		t.Fatalf("after the failed swap: %d %v, version %q", resp.StatusCode, out, resp.Header.Get("X-Loopml-Model-Version"))
	}
	pid := readPid(t, filepath.Join(tmp, "bad.pid"))
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the refused version's child %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
