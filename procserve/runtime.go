package procserve

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loopml/loopml"
)

// Runtime is one model served by a child process: started by Start,
// supervised (restarted on exit, killed and restarted when hung) and
// reached through ServeHTTP until Close. It is safe for concurrent use.
type Runtime struct {
	spec  Spec
	dir   string
	opts  Options // defaults filled in
	log   *slog.Logger
	label string

	sockDir string // private directory of the Unix socket, "" for TCP
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when the supervisor has stopped

	cur      atomic.Pointer[instance] // the ready child; nil while (re)starting
	down     atomic.Pointer[string]   // why no child is ready (for 503 messages)
	restarts atomic.Int64
	batch    *batcher // nil: requests are proxied one by one
	closeMu  sync.Once
}

// instance is one run of the child process.
type instance struct {
	cmd     *exec.Cmd
	base    string // "http://127.0.0.1:PORT" or "http://unix"
	network string // "tcp" or "unix"
	addr    string // host:port or socket path
	client  *http.Client
	tr      *http.Transport
	tail    *lineLog
	exited  chan struct{} // closed when the process has exited
	waitErr error         // valid after exited is closed
}

// exitStatus describes how the process ended ("exit status 1", "signal:
// killed"); it must be called after exited is closed.
func (in *instance) exitStatus() string {
	if in.waitErr == nil {
		return "exit status 0"
	}
	return in.waitErr.Error()
}

// Status describes a Runtime.
type Status struct {
	Ready    bool   // a child is up and answered its health check
	PID      int    // the ready child's process id, 0 when none
	Restarts int64  // children started after the first one
	Down     string // why no child is ready, "" when one is
}

// Start starts the child of spec for the package in dir and waits until
// it answers its health route (Spec.StartTimeout). A child that exits or
// does not become healthy in time is killed and Start returns an
// EUNAVAILABLE error with its exit status and last output lines. After a
// successful Start the Runtime restarts its child as needed until Close.
func Start(ctx context.Context, dir string, spec *Spec, opts Options) (*Runtime, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "process runtime: package directory %q", dir)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, loopml.Errorf(loopml.EINVALID, "process runtime: package directory %q does not exist", dir)
	}
	rt := &Runtime{spec: *spec, dir: abs, opts: withDefaults(opts), done: make(chan struct{})}
	rt.log = rt.opts.Logger
	rt.label = rt.opts.Label
	if rt.spec.Listen == ListenUnix {
		// Socket paths are limited to ~100 bytes: keep the directory short.
		if rt.sockDir, err = os.MkdirTemp("", "loopml-proc-"); err != nil {
			return nil, loopml.WrapError(loopml.EINTERNAL, err, "process runtime: socket directory")
		}
	}
	rt.ctx, rt.cancel = context.WithCancel(context.Background())
	if b := rt.spec.Batch; b != nil && rt.spec.Protocol != ProtocolHTTP && b.MaxRows != 1 {
		rt.batch = newBatcher(rt, b)
	}
	rt.setDown("starting")
	in, err := rt.launch()
	if err == nil {
		err = rt.waitReady(ctx, in)
	}
	if err != nil {
		rt.cancel()
		if in != nil {
			rt.kill(in)
		}
		rt.cleanup()
		close(rt.done)
		return nil, err
	}
	rt.cur.Store(in)
	rt.down.Store(nil)
	go rt.supervise(in)
	return rt, nil
}

func withDefaults(o Options) Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.HealthInterval, time.Second)
	def(&o.HealthTimeout, 2*time.Second)
	def(&o.RequestTimeout, time.Minute)
	def(&o.MinBackoff, 100*time.Millisecond)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.KillGrace, 3*time.Second)
	if o.HealthFailures <= 0 {
		o.HealthFailures = 3
	}
	if o.Label == "" {
		o.Label = "model"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Ready reports whether a child is up and healthy.
func (rt *Runtime) Ready() bool { return rt.cur.Load() != nil }

// Status returns the runtime's state.
func (rt *Runtime) Status() Status {
	s := Status{Restarts: rt.restarts.Load()}
	if in := rt.cur.Load(); in != nil {
		s.Ready, s.PID = true, in.cmd.Process.Pid
	} else if d := rt.down.Load(); d != nil {
		s.Down = *d
	} else {
		s.Down = "starting"
	}
	return s
}

// Addr returns where the ready child listens ("tcp", "127.0.0.1:PORT" or
// "unix", a socket path), for calling it directly (benchmarks, debugging);
// "" when no child is ready.
func (rt *Runtime) Addr() (network, address string) {
	if in := rt.cur.Load(); in != nil {
		return in.network, in.addr
	}
	return "", ""
}

// Close stops supervision and kills the child's process group (SIGTERM,
// then SIGKILL after Options.KillGrace). Requests in flight fail with 503.
func (rt *Runtime) Close() error {
	rt.closeMu.Do(func() {
		rt.cancel()
		<-rt.done
		if in := rt.cur.Swap(nil); in != nil {
			rt.kill(in)
		}
		rt.setDown("closed")
		rt.cleanup()
	})
	return nil
}

func (rt *Runtime) cleanup() {
	if rt.sockDir != "" {
		os.RemoveAll(rt.sockDir)
	}
}

func (rt *Runtime) setDown(reason string) { rt.down.Store(&reason) }

// launch starts one child process on a fresh address.
func (rt *Runtime) launch() (*instance, error) {
	in := &instance{exited: make(chan struct{}), tail: newLineLog(rt.log, rt.label)}
	port := ""
	switch rt.spec.Listen {
	case ListenUnix:
		in.network, in.addr = "unix", filepath.Join(rt.sockDir, "model.sock")
		os.Remove(in.addr)
		in.base = "http://unix"
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, loopml.WrapError(loopml.EUNAVAILABLE, err, "model %s: pick a port", rt.label)
		}
		in.network, in.addr = "tcp", l.Addr().String()
		l.Close()
		_, port, _ = net.SplitHostPort(in.addr)
		in.base = "http://" + in.addr
	}
	repl := strings.NewReplacer("{port}", port, "{host}", "127.0.0.1", "{socket}", socketOf(in), "{model_dir}", rt.dir)
	args := make([]string, len(rt.spec.Command))
	for i, a := range rt.spec.Command {
		args[i] = repl.Replace(a)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = rt.dir
	env := append(os.Environ(), "HOST=127.0.0.1", "LOOPML_MODEL_DIR="+rt.dir)
	if port != "" {
		env = append(env, "PORT="+port)
	} else {
		env = append(env, "LOOPML_SOCKET="+in.addr)
	}
	for k, v := range rt.spec.Env {
		env = append(env, k+"="+v)
	}
	cmd.Env = append(env, rt.opts.Env...)
	cmd.Stdout = in.tail.writer("stdout")
	cmd.Stderr = in.tail.writer("stderr")
	cmd.WaitDelay = time.Second // grandchildren holding the pipes must not stall Wait
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, loopml.WrapError(loopml.EUNAVAILABLE, err, "model %s: start %s", rt.label, strings.Join(args, " "))
	}
	in.cmd = cmd
	go func() {
		in.waitErr = cmd.Wait()
		in.tail.flush()
		close(in.exited)
	}()
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	in.tr = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, in.network, in.addr)
		},
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: rt.opts.RequestTimeout,
		DisableCompression:    true,
	}
	in.client = &http.Client{Transport: in.tr}
	rt.log.Info("model process started", "model", rt.label, "pid", cmd.Process.Pid, "listen", in.addr, "command", strings.Join(args, " "))
	return in, nil
}

func socketOf(in *instance) string {
	if in.network == "unix" {
		return in.addr
	}
	return ""
}

// waitReady polls the health route until it answers 200, the process
// exits, the start timeout passes, or ctx or the runtime ends.
func (rt *Runtime) waitReady(ctx context.Context, in *instance) error {
	timeout := rt.spec.startTimeout()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	wait := 10 * time.Millisecond
	for {
		if rt.healthy(in) {
			return nil
		}
		select {
		case <-in.exited:
			return loopml.Errorf(loopml.EUNAVAILABLE, "model %s: the model process exited before it was ready (%s)%s", rt.label, in.exitStatus(), in.tail.suffix())
		case <-deadline.C:
			return loopml.Errorf(loopml.EUNAVAILABLE, "model %s: the model process did not answer GET %s within %s%s", rt.label, rt.spec.healthPath(), timeout, in.tail.suffix())
		case <-ctx.Done():
			return loopml.WrapError(loopml.EUNAVAILABLE, ctx.Err(), "model %s: start cancelled", rt.label)
		case <-rt.ctx.Done():
			return loopml.Errorf(loopml.EUNAVAILABLE, "model %s: runtime closed while starting", rt.label)
		case <-time.After(wait):
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

// healthy sends one health check.
func (rt *Runtime) healthy(in *instance) bool {
	ctx, cancel := context.WithTimeout(rt.ctx, rt.opts.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.base+rt.spec.healthPath(), nil)
	if err != nil {
		return false
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return false
	}
	drain(resp)
	return resp.StatusCode == http.StatusOK
}

// supervise watches the ready child in and replaces it when it exits or
// hangs, until the runtime is closed.
func (rt *Runtime) supervise(in *instance) {
	defer close(rt.done)
	backoff := rt.opts.MinBackoff
	for {
		readyAt := time.Now()
		reason := rt.watch(in)
		rt.cur.CompareAndSwap(in, nil)
		if rt.ctx.Err() != nil {
			rt.kill(in) // closed
			return
		}
		rt.setDown(reason)
		rt.kill(in)
		if time.Since(readyAt) > 10*rt.opts.MaxBackoff {
			backoff = rt.opts.MinBackoff // it ran well for a long time
		}
		for {
			rt.log.Warn("model process down; restarting", "model", rt.label, "reason", reason, "backoff", backoff)
			select {
			case <-rt.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, rt.opts.MaxBackoff)
			next, err := rt.launch()
			if err == nil {
				if err = rt.waitReady(rt.ctx, next); err != nil {
					rt.kill(next)
				}
			}
			if rt.ctx.Err() != nil {
				return
			}
			if err == nil {
				in = next
				rt.restarts.Add(1)
				rt.cur.Store(in)
				rt.down.Store(nil)
				rt.log.Info("model process ready again", "model", rt.label, "pid", in.cmd.Process.Pid, "restarts", rt.restarts.Load())
				break
			}
			reason = loopml.ErrorMessage(err)
			rt.setDown(reason)
		}
	}
}

// watch returns why in stopped serving: it exited, or it failed
// HealthFailures health checks in a row (it is then killed), or "" when
// the runtime was closed.
func (rt *Runtime) watch(in *instance) string {
	tick := time.NewTicker(rt.opts.HealthInterval)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-rt.ctx.Done():
			return ""
		case <-in.exited:
			return fmt.Sprintf("the model process exited (%s)%s", in.exitStatus(), in.tail.suffix())
		case <-tick.C:
			if rt.healthy(in) {
				failures = 0
				continue
			}
			select {
			case <-in.exited:
				return fmt.Sprintf("the model process exited (%s)%s", in.exitStatus(), in.tail.suffix())
			default:
			}
			if rt.ctx.Err() != nil {
				return ""
			}
			failures++
			if failures >= rt.opts.HealthFailures {
				rt.log.Error("model process hung: killing it", "model", rt.label, "pid", in.cmd.Process.Pid, "failed_checks", failures)
				return fmt.Sprintf("the model process hung (no answer to %d health checks of %s); it was killed", failures, rt.opts.HealthTimeout)
			}
		}
	}
}

// kill ends in's process group: SIGTERM, then SIGKILL after KillGrace, and
// drops its connections.
func (rt *Runtime) kill(in *instance) {
	select {
	case <-in.exited:
		killGroup(in.cmd, true) // leftover grandchildren
	default:
		killGroup(in.cmd, false)
		select {
		case <-in.exited:
		case <-time.After(rt.opts.KillGrace):
			killGroup(in.cmd, true)
			<-in.exited
		}
	}
	in.tr.CloseIdleConnections()
}

// errUnavailable is the error of a request that finds no ready child.
func (rt *Runtime) errUnavailable() error {
	reason := "starting"
	if d := rt.down.Load(); d != nil {
		reason = *d
	}
	if reason == "closed" {
		return loopml.Errorf(loopml.EUNAVAILABLE, "model %s: the process runtime is closed", rt.label)
	}
	return loopml.Errorf(loopml.EUNAVAILABLE, "model %s is restarting: %s; retry shortly", rt.label, reason)
}
