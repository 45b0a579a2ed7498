package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// When LOOPML_TEST_RUN_MAIN is set, the test binary acts as the loopml
// binary: it runs main() with the arguments after "--".
func TestMain(m *testing.M) {
	if os.Getenv("LOOPML_TEST_RUN_MAIN") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"loopml"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// loopmlCommand returns the test binary set up to run main() with args and
// the given extra environment.
func loopmlCommand(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--"}, args...)...)
	cmd.Env = append(append(os.Environ(), "LOOPML_TEST_RUN_MAIN=1"), env...)
	return cmd
}

func TestMainStopsGracefullyOnSIGTERM(t *testing.T) {
	home := t.TempDir()
	// Settings come from the real environment here.
	cmd := loopmlCommand(t, []string{"LOOPML_HOME=" + home, "LOOPML_ADDR=127.0.0.1:0", "LOOPML_LOG_FORMAT=json"}, "server")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				line <- sc.Text()
			}
		}
	}()
	select {
	case l := <-line:
		if !listeningRE.MatchString(l) || strings.HasSuffix(l, ":0") {
			t.Fatalf("start line %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no start line; stderr:\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit within 30s of SIGTERM")
	}
	logs := stderr.String()
	for _, want := range []string{`"msg":"shutting down: waiting for in-flight requests"`, `"msg":"loopml server stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if _, err := os.Stat(home + "/loopml.db"); err != nil {
		t.Errorf("no database in LOOPML_HOME: %v", err)
	}
}

func TestMainPrintsOnlyTheMessageAndExitsNonZero(t *testing.T) {
	cmd := loopmlCommand(t, []string{"LOOPML_HOME=" + t.TempDir()}, "experiments", "show", "missing")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("err = %v, want exit code 1", err)
	}
	if got, want := stderr.String(), "Error: no experiment with id or name \"missing\"\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
}
