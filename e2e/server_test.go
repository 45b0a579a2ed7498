package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// loopmlBin is the path of the loopml binary under test, set by TestMain.
var loopmlBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if bin := os.Getenv("LOOPML_E2E_BINARY"); bin != "" {
		loopmlBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "loopml-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	loopmlBin = filepath.Join(dir, "loopml")
	if err := buildLoopml(loopmlBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build ./cmd/loopml:", err)
		return 1
	}
	return m.Run()
}

// buildLoopml compiles ./cmd/loopml from the module root (the parent of this
// package's directory) into out, race-instrumented when the tests are.
func buildLoopml(out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/loopml")
	cmd := exec.Command(goBin, args...)
	cmd.Dir = ".."
	output, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v\n%s", err, output)
	}
	return nil
}

// serverOptions configures one loopml server process.
type serverOptions struct {
	Home  string   // --home; required
	Store string   // --store; "" leaves the default (SQLite under Home)
	Args  []string // further arguments, after the defaults (so they override them)
}

// serverProc is a running `loopml server` child process.
type serverProc struct {
	cmd     *exec.Cmd
	BaseURL string // e.g. http://127.0.0.1:40123

	exited chan struct{} // closed when the process has exited
	err    error         // Wait's result, valid after exited is closed

	mu  sync.Mutex
	out bytes.Buffer // everything the process printed
}

// addrPattern finds the base URL in the line the server prints on stdout
// once it listens: "loopml <version> listening on http://127.0.0.1:PORT".
var addrPattern = regexp.MustCompile(`listening on (https?://\S+)`)

// startServer starts `loopml server` on a free loopback port and returns once
// GET /health answers 200. The process is killed when the test ends if it is
// still running; its output is logged when the test fails.
func startServer(t *testing.T, opt serverOptions) *serverProc {
	t.Helper()
	// Warnings and errors only: an access log line per request would bury
	// them in the output shown on failure.
	args := []string{"server", "--addr", "127.0.0.1:0", "--home", opt.Home, "--log-level", "warn"}
	if opt.Store != "" {
		args = append(args, "--store", opt.Store)
	}
	args = append(args, opt.Args...)
	cmd := exec.Command(loopmlBin, args...)
	cmd.Env = childEnv()
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	p := &serverProc{cmd: cmd, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", loopmlBin, err)
	}
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.exited)
	}()

	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		found := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			if !found {
				if m := addrPattern.FindStringSubmatch(line); m != nil {
					found = true
					addrc <- m[1]
				}
			}
		}
		io.Copy(io.Discard, pr) // a line longer than the buffer: keep draining
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("output of loopml %s:\n%s", strings.Join(args, " "), p.Output())
		}
	})

	select {
	case addr := <-addrc:
		p.BaseURL = addr
	case <-p.exited:
		t.Fatalf("loopml server exited before printing its address: %v\n%s", p.err, p.Output())
	case <-time.After(30 * time.Second):
		t.Fatalf("loopml server printed no address within 30s:\n%s", p.Output())
	}
	p.waitHealthy(t, 30*time.Second)
	return p
}

// childEnv is the test's environment without LOOPML_* variables, so that a
// developer's own server settings do not leak into the servers under test.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOOPML_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitHealthy polls GET /health until it answers 200.
func (p *serverProc) waitHealthy(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("loopml server exited while starting: %v", p.err)
		default:
		}
		resp, err := client.Get(p.BaseURL + "/health")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s/health not healthy within %v: %s", p.BaseURL, timeout, last)
}

// Output returns what the process printed so far.
func (p *serverProc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Kill sends SIGKILL (if the process still runs) and waits for it to exit.
func (p *serverProc) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop asks the server to shut down with SIGTERM and fails the test unless
// it exits cleanly (status 0) within the timeout.
func (p *serverProc) Stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.Kill()
		t.Fatalf("loopml server did not exit within %v of SIGTERM", timeout)
	}
	if p.err != nil {
		t.Errorf("loopml server exit after SIGTERM: %v (want status 0)", p.err)
	}
	p.checkOutput(t)
}

// checkOutput fails the test if the server printed a data race report or a
// panic so far.
func (p *serverProc) checkOutput(t *testing.T) {
	t.Helper()
	if out := p.Output(); strings.Contains(out, "WARNING: DATA RACE") || strings.Contains(out, "panic:") {
		t.Errorf("loopml server reported a data race or panic:\n%s", out)
	}
}

// testContext returns a context that ends shortly before the test's deadline.
func testContext(t *testing.T) context.Context {
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-5*time.Second))
		t.Cleanup(cancel)
	}
	return ctx
}
