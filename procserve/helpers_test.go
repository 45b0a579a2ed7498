package procserve_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopml/loopml/procserve"
)

// childEnv selects the test binary's role: when set, TestMain runs a
// scoring child instead of the tests (see runChild).
const childEnv = "LOOPML_PROCSERVE_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		runChild(mode)
		return
	}
	os.Exit(m.Run())
}

// runChild is a scoring server in the mlflow protocol that misbehaves on
// demand. Modes:
//
//	ok          serve (2x + 3y + 1, as testdata/score.py; x < 0 is a 400)
//	exit        print to stderr and exit 2 at once (a model that fails to load)
//	never-ready answer /ping with 500
//	crash:N     exit 3 while answering the (N+1)th /invocations of this process
//	hang:N      after N /invocations, answer nothing ever again (not even /ping)
//
// CHILD_START_DELAY delays listening (a slow start); CHILD_DELAY_MS is a
// fixed cost per /invocations; CHILD_STATE names a file where each request
// appends its row count (to check batching); CHILD_ONCE names a file: the
// first child creates it, later ones see it and run in CHILD_LATER_MODE
// (default ok), e.g. a crash that happens only once. Mode spawn:FILE starts
// a grandchild (sleep) in the process group, writes its pid to FILE, then
// serves as ok.
func runChild(mode string) {
	fmt.Println("child starting pid", os.Getpid(), "mode", mode)
	if once := os.Getenv("CHILD_ONCE"); once != "" {
		if _, err := os.Stat(once); err == nil {
			mode = cmp.Or(os.Getenv("CHILD_LATER_MODE"), "ok")
			fmt.Println("child: later mode", mode)
		} else {
			os.WriteFile(once, nil, 0o644)
		}
	}
	if d, _ := time.ParseDuration(os.Getenv("CHILD_START_DELAY")); d > 0 {
		time.Sleep(d)
	}
	if f, ok := strings.CutPrefix(mode, "spawn:"); ok {
		gc := exec.Command("sleep", "300")
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "spawn:", err)
			os.Exit(1)
		}
		os.WriteFile(f, []byte(strconv.Itoa(gc.Process.Pid)), 0o644)
		mode = "ok"
	}
	if mode == "exit" {
		fmt.Fprintln(os.Stderr, "boom: cannot load model.bin")
		os.Exit(2)
	}
	limit := -1
	if i := strings.IndexByte(mode, ':'); i >= 0 {
		limit, _ = strconv.Atoi(mode[i+1:])
		mode = mode[:i]
	}
	delay, _ := strconv.Atoi(os.Getenv("CHILD_DELAY_MS"))
	var served atomic.Int64
	hung := make(chan struct{})
	var hangOnce sync.Once
	var stateMu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		if mode == "hang" && served.Load() >= int64(limit) {
			<-r.Context().Done()
			return
		}
		if mode == "never-ready" {
			w.WriteHeader(500)
			return
		}
		w.Write([]byte("{}"))
	})
	mux.HandleFunc("POST /invocations", func(w http.ResponseWriter, r *http.Request) {
		n := served.Add(1)
		switch {
		case mode == "crash" && n > int64(limit):
			fmt.Fprintln(os.Stderr, "child: segmentation fault (simulated)")
			os.Exit(3)
		case mode == "hang" && n > int64(limit):
			hangOnce.Do(func() { close(hung) })
			<-r.Context().Done()
			return
		}
		body, _ := io.ReadAll(r.Body)
		rows, err := childRows(body)
		if st := os.Getenv("CHILD_STATE"); st != "" {
			stateMu.Lock()
			f, _ := os.OpenFile(st, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			fmt.Fprintln(f, len(rows))
			f.Close()
			stateMu.Unlock()
		}
		if delay > 0 {
			time.Sleep(time.Duration(delay) * time.Millisecond)
		}
		preds := make([]float64, len(rows))
		for i, row := range rows {
			if err == nil && row[0] < 0 {
				err = fmt.Errorf("x must not be negative, got %g", row[0])
			}
			preds[i] = 2*row[0] + 3*row[1] + 1
		}
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error_code": "BAD_REQUEST", "message": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"predictions": preds})
	})
	var l net.Listener
	var err error
	if sock := os.Getenv("LOOPML_SOCKET"); sock != "" {
		l, err = net.Listen("unix", sock)
	} else {
		l, err = net.Listen("tcp", os.Getenv("HOST")+":"+os.Getenv("PORT"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Println("child listening on", l.Addr())
	http.Serve(l, mux)
}

// childRows reads [x, y] rows from dataframe_split (columns x, y),
// dataframe_records, instances or inputs.
func childRows(body []byte) ([][2]float64, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, err
	}
	var recs []map[string]float64
	if raw, ok := top["dataframe_split"]; ok {
		var s struct {
			Columns []string    `json:"columns"`
			Data    [][]float64 `json:"data"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		for _, row := range s.Data {
			m := map[string]float64{}
			for i, c := range s.Columns {
				if i < len(row) {
					m[c] = row[i]
				}
			}
			recs = append(recs, m)
		}
	} else {
		for _, k := range []string{"dataframe_records", "instances", "inputs"} {
			if raw, ok := top[k]; ok {
				if err := json.Unmarshal(raw, &recs); err != nil {
					return nil, err
				}
			}
		}
	}
	if recs == nil {
		return nil, fmt.Errorf("no rows")
	}
	out := make([][2]float64, len(recs))
	for i, m := range recs {
		x, okx := m["x"]
		y, oky := m["y"]
		if !okx || !oky {
			return nil, fmt.Errorf("row %d: missing column x or y", i)
		}
		out[i] = [2]float64{x, y}
	}
	return out, nil
}

// goChild is the Spec of a Go test child in mode.
func goChild(mode string, env ...string) *procserve.Spec {
	s := &procserve.Spec{
		Command: []string{os.Args[0], "-test.run=^$"},
		Env:     map[string]string{childEnv: mode},
	}
	for i := 0; i+1 < len(env); i += 2 {
		s.Env[env[i]] = env[i+1]
	}
	return s
}

// logBuffer collects log records for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fastOptions are Options with short intervals for tests.
func fastOptions(logs io.Writer) procserve.Options {
	if logs == nil {
		logs = io.Discard
	}
	return procserve.Options{
		Label:          "m/1",
		HealthInterval: 50 * time.Millisecond,
		HealthTimeout:  200 * time.Millisecond,
		HealthFailures: 2,
		RequestTimeout: 5 * time.Second,
		MinBackoff:     20 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
		KillGrace:      500 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(logs, nil)),
	}
}

// start starts a runtime for spec in a fresh package directory and closes
// it at the end of the test.
func start(t *testing.T, spec *procserve.Spec, opts procserve.Options) *procserve.Runtime {
	t.Helper()
	if spec.StartTimeout == 0 {
		spec.StartTimeout = 20 * time.Second
	}
	rt, err := procserve.Start(context.Background(), t.TempDir(), spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// invoke posts body to the runtime's /invocations.
func invoke(t testing.TB, h http.Handler, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequest("POST", "/invocations", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// waitFor polls cond until it holds or 20s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// python returns the path of python3, or skips the test.
func python(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the Python child tests need it")
	}
	return p
}

// pythonPackage writes a package whose MLmodel runs testdata/score.py.
func pythonPackage(t testing.TB, listen string, batch string) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "score.py"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "score.py"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	mlm := "flavors:\n  loopml_process:\n    command: [python3, score.py, --port, '{port}']\n    listen: " + listen + "\n    startup_timeout: 30s\n"
	if batch != "" {
		mlm += "    batch: " + batch + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "MLmodel"), []byte(mlm), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
