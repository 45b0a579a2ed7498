package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Job is one attempt at running a stage's command.
type Job struct {
	Stage string
	// Shell is run with "sh -c"; otherwise Argv is executed directly.
	Shell string
	Argv  []string
	Dir   string
	// Env is the complete environment of the process ("KEY=value").
	Env []string
	// Timeout bounds the attempt (0: none).
	Timeout        time.Duration
	Stdout, Stderr io.Writer
}

// ExecResult is the outcome of a Job that ran.
type ExecResult struct {
	ExitCode int
	Duration time.Duration
	TimedOut bool
}

// Executor runs stage commands. Exec runs job to completion and returns
// its result; a command that ran and exited non-zero is with a
// non-zero ExitCode and a nil error. When ctx is cancelled Exec stops the
// command (and everything it started) and returns ctx's error. Exec must
// be safe for concurrent use. LocalExecutor runs jobs as local processes; a
// distributed executor can run them elsewhere.
type Executor interface {
	Exec(ctx context.Context, job Job) (ExecResult, error)
}

// DefaultGrace is how long LocalExecutor waits after SIGTERM before it
// sends SIGKILL.
const DefaultGrace = 5 * time.Second

// LocalExecutor runs each job as a subprocess in its own process group, so
// that a timeout or a cancellation stops the command and its children:
// SIGTERM to the group, then SIGKILL after Grace. The zero value is ready
// to use.
type LocalExecutor struct {
	// Grace is the time between SIGTERM and SIGKILL (0: DefaultGrace).
	Grace time.Duration
}

// ErrTimeout is wrapped by the error of a stage attempt that exceeded its
// timeout.
var ErrTimeout = errors.New("timeout")

// Exec implements Executor.
func (e LocalExecutor) Exec(ctx context.Context, job Job) (ExecResult, error) {
	grace := e.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	var cmd *exec.Cmd
	switch {
	case job.Shell != "":
		cmd = exec.Command("/bin/sh", "-c", job.Shell)
	case len(job.Argv) > 0:
		cmd = exec.Command(job.Argv[0], job.Argv[1:]...)
	default:
		return ExecResult{}, fmt.Errorf("stage %s: nothing to run", job.Stage)
	}
	cmd.Dir, cmd.Env = job.Dir, job.Env
	cmd.Stdout, cmd.Stderr = job.Stdout, job.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Output pipes held open by orphaned grandchildren must not block Wait
	// forever once the group has been killed.
	cmd.WaitDelay = grace + time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return ExecResult{}, fmt.Errorf("stage %s: start: %w", job.Stage, err)
	}
	pgid := cmd.Process.Pid
	done := make(chan struct{})
	var timedOut, cancelled bool
	var timeout <-chan time.Time
	if job.Timeout > 0 {
		t := time.NewTimer(job.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-done:
			return
		case <-ctx.Done():
			cancelled = true
		case <-timeout:
			timedOut = true
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(grace):
		}
		// Kill whatever is left of the group, even when the leader has
		// exited (its children may still be running).
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}()
	err := cmd.Wait()
	close(done)
	<-stopped
	if !timedOut && !cancelled {
		// The leader exited on its own; do not leave daemons behind.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	res := ExecResult{Duration: time.Since(start), TimedOut: timedOut}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	switch {
	case cancelled:
		return res, ctx.Err()
	case timedOut:
		if res.ExitCode == 0 {
			res.ExitCode = -1
		}
		return res, nil
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) {
		return res, fmt.Errorf("stage %s: %w", job.Stage, err)
	}
	if res.ExitCode == 0 && err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		res.ExitCode = -1
	}
	return res, nil
}

// environ returns os.Environ() with the given overrides applied.
func environ(over map[string]string) []string {
	base := os.Environ()
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range base {
		k := kv
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				k = kv[:i]
				break
			}
		}
		if _, ok := over[k]; ok {
			continue
		}
		out = append(out, kv)
	}
	for _, k := range sortedKeys(over) {
		out = append(out, k+"="+over[k])
	}
	return out
}
