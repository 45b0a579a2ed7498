//go:build unix

package procserve_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/mlmodel"
	"github.com/loopml/loopml/procserve"
)

func parseMLmodel(t *testing.T, text string) *mlmodel.MLmodel {
	t.Helper()
	mm, err := mlmodel.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return mm
}

func TestResolve(t *testing.T) {
	fakeMLflow := filepath.Join(t.TempDir(), "python-with-mlflow")
	if err := os.WriteFile(fakeMLflow, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mlmodel, python string
		want                  string // an error substring, or the command joined by spaces
		check                 func(*testing.T, *procserve.Spec)
	}{
		{name: "declared command", mlmodel: `
flavors:
  loopml_process:
    command: [python3, score.py, --port, "{port}"]
    listen: unix
    health_path: /health
    startup_timeout: 5s
    env: {OMP_NUM_THREADS: 1}
    batch: {max_rows: 64, max_wait_ms: 1.5, concurrency: 2}
`, want: "python3 score.py --port {port}", check: func(t *testing.T, s *procserve.Spec) {
			if s.Listen != "unix" || s.HealthPath != "/health" || s.StartTimeout != 5*time.Second || s.Env["OMP_NUM_THREADS"] != "1" ||
				s.Batch == nil || s.Batch.MaxRows != 64 || s.Batch.MaxWait != 1500*time.Microsecond || s.Batch.Concurrency != 2 {
				t.Errorf("spec: %+v batch %+v", s, s.Batch)
			}
		}},
		{name: "startup timeout in seconds", mlmodel: "flavors:\n  loopml_process:\n    command: [./serve]\n    startup_timeout: 90\n",
			want: "./serve", check: func(t *testing.T, s *procserve.Spec) {
				if s.StartTimeout != 90*time.Second || s.Batch != nil {
					t.Errorf("spec: %+v", s)
				}
			}},
		{name: "pyfunc with mlflow", python: fakeMLflow, mlmodel: "flavors:\n  python_function: {loader_module: mlflow.sklearn}\n",
			want: fakeMLflow + " -m mlflow models serve -m {model_dir} -h {host} -p {port} --env-manager local"},
		{name: "pyfunc tuned by loopml_process", python: fakeMLflow,
			mlmodel: "flavors:\n  python_function: {loader_module: mlflow.sklearn}\n  loopml_process: {batch: {max_rows: 32}}\n",
			want:    fakeMLflow + " -m mlflow models serve", check: func(t *testing.T, s *procserve.Spec) {
				if s.Batch == nil || s.Batch.MaxRows != 32 || s.Protocol != "mlflow" {
					t.Errorf("spec: %+v", s)
				}
			}},
		{name: "pyfunc without mlflow", python: filepath.Join(t.TempDir(), "no-python"),
			mlmodel: "flavors:\n  python_function: {loader_module: mlflow.sklearn}\n", want: procserve.ErrNeedMLflow},
		{name: "native flavor only", mlmodel: "flavors:\n  loopml: {learner: mf}\n  sklearn: {}\n",
			want: "the package has flavors [loopml, sklearn]: the process runtime serves a loopml_process command or a python_function package"},
		{name: "process flavor without command", mlmodel: "flavors:\n  loopml_process: {listen: tcp}\n",
			want: "key 'flavors.loopml_process.command' is required"},
		{name: "command not a list", mlmodel: "flavors:\n  loopml_process: {command: 'python3 score.py'}\n",
			want: "key 'flavors.loopml_process.command' must be a list of strings"},
		{name: "empty program", mlmodel: "flavors:\n  loopml_process: {command: ['']}\n",
			want: "key 'flavors.loopml_process.command' must name a program"},
		{name: "unknown key", mlmodel: "flavors:\n  loopml_process: {command: [x], workers: 4}\n",
			want: "key 'flavors.loopml_process.workers' is unknown"},
		{name: "bad protocol", mlmodel: "flavors:\n  loopml_process: {command: [x], protocol: grpc}\n",
			want: `protocol "grpc" is not one of mlflow, http`},
		{name: "bad listen", mlmodel: "flavors:\n  loopml_process: {command: [x], listen: udp}\n",
			want: `listen "udp" is not one of tcp, unix`},
		{name: "bad health path", mlmodel: "flavors:\n  loopml_process: {command: [x], health_path: ping}\n",
			want: `health_path "ping" must start with /`},
		{name: "negative batch", mlmodel: "flavors:\n  loopml_process: {command: [x], batch: {max_rows: -1}}\n",
			want: "key 'flavors.loopml_process.batch.max_rows' must be a non-negative number"},
		{name: "unknown batch key", mlmodel: "flavors:\n  loopml_process: {command: [x], batch: {rows: 1}}\n",
			want: "key 'flavors.loopml_process.batch.rows' is unknown"},
		{name: "batch over http", mlmodel: "flavors:\n  loopml_process: {command: [x], protocol: http, batch: {max_rows: 8}}\n",
			want: "batch needs protocol mlflow"},
		{name: "bad timeout", mlmodel: "flavors:\n  loopml_process: {command: [x], startup_timeout: soon}\n",
			want: "key 'flavors.loopml_process.startup_timeout' must be a positive duration"},
		{name: "bad env", mlmodel: "flavors:\n  loopml_process: {command: [x], env: [A]}\n",
			want: "key 'flavors.loopml_process.env' must be a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := procserve.Resolve(context.Background(), t.TempDir(), parseMLmodel(t, tc.mlmodel), procserve.Options{Python: tc.python})
			if err != nil {
				if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v (%s), want EINVALID containing %q", err, loopml.ErrorCode(err), tc.want)
				}
				return
			}
			if got := strings.Join(spec.Command, " "); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("command %q, want %q", got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, spec)
			}
		})
	}
}

// TestProxy serves the Go child over TCP and a Unix socket: scoring,
// health, other paths, status, logs.
func TestProxy(t *testing.T) {
	for _, listen := range []string{procserve.ListenTCP, procserve.ListenUnix} {
		t.Run(listen, func(t *testing.T) {
			logs := &logBuffer{}
			spec := goChild("ok")
			spec.Listen = listen
			rt := start(t, spec, fastOptions(logs))
			for _, tc := range []struct{ body, want string }{
				{`{"dataframe_split": {"columns": ["x", "y"], "data": [[1, 2], [0, 0]]}}`, `{"predictions":[9,1]}`},
				{`{"dataframe_records": [{"x": 1, "y": 1}]}`, `{"predictions":[6]}`},
				{`{"inputs": [{"x": 2, "y": 0}]}`, `{"predictions":[5]}`},
			} {
				code, body := invoke(t, rt, tc.body)
				if code != 200 || strings.TrimSpace(body) != tc.want {
					t.Errorf("%s: %d %s, want %s", tc.body, code, body, tc.want)
				}
			}
			code, body := invoke(t, rt, `{"dataframe_records": [{"x": -1, "y": 1}]}`)
			if code != 400 || !strings.Contains(body, "x must not be negative") {
				t.Errorf("bad row: %d %s, want the child's 400", code, body)
			}
			w := httptest.NewRecorder()
			rt.ServeHTTP(w, httptest.NewRequest("GET", "/ping", nil))
			if w.Code != 200 {
				t.Errorf("/ping: %d", w.Code)
			}
			w = httptest.NewRecorder()
			rt.ServeHTTP(w, httptest.NewRequest("GET", "/version", nil))
			if w.Code != 404 {
				t.Errorf("GET /version proxied: %d, want the child's 404", w.Code)
			}
			st := rt.Status()
			if network, addr := rt.Addr(); !st.Ready || st.PID == 0 || st.Restarts != 0 || network != listen || addr == "" {
				t.Errorf("status %+v, addr %s %s", st, network, addr)
			}
			waitFor(t, "child output in the log", func() bool {
				return strings.Contains(logs.String(), `msg="model process output" model=m/1 stream=stdout line="child listening on`)
			})
		})
	}
}

func TestStartFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec *procserve.Spec
		want []string
	}{
		{"exits", goChild("exit"), []string{"model m/1: the model process exited before it was ready (exit status 2)", "last output:", "boom: cannot load model.bin"}},
		{"never healthy", func() *procserve.Spec {
			s := goChild("never-ready")
			s.StartTimeout = 700 * time.Millisecond
			return s
		}(), []string{"model m/1: the model process did not answer GET /ping within 700ms", "child listening on"}},
		{"no such program", &procserve.Spec{Command: []string{"/nonexistent/serve"}}, []string{"model m/1: start /nonexistent/serve"}},
		{"empty command", &procserve.Spec{}, []string{"command is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := procserve.Start(context.Background(), t.TempDir(), tc.spec, fastOptions(nil))
			if err == nil {
				t.Fatal("Start succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("Start took %s", time.Since(start))
			}
		})
	}
	if _, err := procserve.Start(context.Background(), filepath.Join(t.TempDir(), "missing"), goChild("ok"), fastOptions(nil)); loopml.ErrorCode(err) != loopml.EINVALID {
		t.Errorf("missing directory: %v", err)
	}
}

// TestRestartAfterCrash: a child that dies while answering gives that
// request a 502, requests meanwhile a 503, and is replaced.
func TestRestartAfterCrash(t *testing.T) {
	logs := &logBuffer{}
	opts := fastOptions(logs)
	opts.MinBackoff = 400 * time.Millisecond // long enough to see the 503s
	rt := start(t, goChild("crash:1"), opts)
	const ok = `{"dataframe_records": [{"x": 1, "y": 1}]}`
	if code, body := invoke(t, rt, ok); code != 200 {
		t.Fatalf("first request: %d %s", code, body)
	}
	code, body := invoke(t, rt, ok)
	if code != http.StatusBadGateway || !strings.Contains(body, "model m/1: the model process") || !strings.Contains(body, "INTERNAL_ERROR") {
		t.Fatalf("request that crashed the child: %d %s, want 502 with a message", code, body)
	}
	waitFor(t, "not ready", func() bool { return !rt.Ready() })
	code, body = invoke(t, rt, ok)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "model m/1 is restarting: the model process exited (exit status 3)") ||
		!strings.Contains(body, "segmentation fault (simulated)") || !strings.Contains(body, "TEMPORARILY_UNAVAILABLE") {
		t.Fatalf("request during the restart: %d %s, want 503 naming the exit", code, body)
	}
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, httptest.NewRequest("GET", "/ping", nil))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("/ping while restarting: %d %v", w.Code, w.Header())
	}
	waitFor(t, "ready again", rt.Ready)
	if code, body := invoke(t, rt, ok); code != 200 || rt.Status().Restarts != 1 {
		t.Fatalf("after restart: %d %s, status %+v", code, body, rt.Status())
	}
	if !strings.Contains(logs.String(), "model process down; restarting") {
		t.Errorf("no restart in the log:\n%s", logs)
	}
}

// TestRestartBackoff: children that keep failing to start are retried
// with doubling delays up to the cap, and the runtime recovers when one
// starts.
func TestRestartBackoff(t *testing.T) {
	logs := &logBuffer{}
	once := filepath.Join(t.TempDir(), "once")
	rt := start(t, goChild("crash:0", "CHILD_ONCE", once, "CHILD_LATER_MODE", "exit"), fastOptions(logs))
	invoke(t, rt, `{"inputs": [{"x": 1, "y": 1}]}`) // crashes the first child; later ones exit at start
	waitFor(t, "backoff at the cap", func() bool { return strings.Count(logs.String(), "backoff=200ms") >= 2 })
	for _, d := range []string{"backoff=20ms", "backoff=40ms", "backoff=80ms", "backoff=160ms"} {
		if !strings.Contains(logs.String(), d) {
			t.Errorf("log lacks %s", d)
		}
	}
	code, body := invoke(t, rt, `{"inputs": [{"x": 1, "y": 1}]}`)
	if code != 503 || !strings.Contains(body, "exited before it was ready (exit status 2)") || !strings.Contains(body, "boom: cannot load model.bin") {
		t.Errorf("while children keep failing: %d %s", code, body)
	}
	if err := os.Remove(once); err != nil { // the next child crashes on first use again, but starts
		t.Fatal(err)
	}
	waitFor(t, "ready", rt.Ready)
}

// TestHungChild: a request to a hung child times out with 504; failed
// health checks get the child killed and replaced.
func TestHungChild(t *testing.T) {
	logs := &logBuffer{}
	opts := fastOptions(logs)
	opts.RequestTimeout = 300 * time.Millisecond
	opts.HealthInterval, opts.HealthTimeout, opts.HealthFailures = 200*time.Millisecond, 300*time.Millisecond, 3
	rt := start(t, goChild("hang:1"), opts)
	const ok = `{"dataframe_records": [{"x": 1, "y": 1}]}`
	if code, _ := invoke(t, rt, ok); code != 200 {
		t.Fatalf("first request: %d", code)
	}
	pid := rt.Status().PID
	code, body := invoke(t, rt, ok)
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "model m/1: the model process did not answer within 300ms") {
		t.Fatalf("request to the hung child: %d %s, want 504", code, body)
	}
	waitFor(t, "a new child", func() bool { st := rt.Status(); return st.Ready && st.PID != pid })
	if !strings.Contains(logs.String(), "model process hung: killing it") {
		t.Errorf("log lacks the hang:\n%s", logs)
	}
	if code, _ := invoke(t, rt, ok); code != 200 {
		t.Errorf("after the restart: %d", code)
	}
}

// TestCloseKillsGroup: Close ends the child and what it started.
func TestCloseKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild")
	rt := start(t, goChild("spawn:"+pidFile), fastOptions(nil))
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	grandchild, _ := strconv.Atoi(string(b))
	child := rt.Status().PID
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{child, grandchild} {
		waitFor(t, "process "+strconv.Itoa(pid)+" gone", func() bool {
			if !gone(pid) {
				b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
				t.Logf("%s", b)
				return false
			}
			return true
		})
	}
	code, body := invoke(t, rt, `{"inputs": [{"x": 1, "y": 1}]}`)
	if code != 503 || !strings.Contains(body, "the process runtime is closed") {
		t.Errorf("after Close: %d %s", code, body)
	}
	if rt.Close() != nil {
		t.Error("second Close failed")
	}
}

// gone reports whether pid no longer runs (absent, or a zombie nobody
// reaped yet).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}
