package serving

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/mlmodel"
	"github.com/loopml/loopml/procserve"
)

// modelProcess is a model served outside the Go process: the small
// interface the gateway needs from a runtime other than the native one
// (procserve today; an ONNX or XGBoost runtime would implement it too).
type modelProcess interface {
	http.Handler  // answers POST /invocations (MLflow scoring) and GET /ping
	Ready() bool  // false while the runtime restarts
	Close() error // stops it for good
}

// processModel owns a process runtime and the directory its package was
// materialised into.
type processModel struct {
	rt        modelProcess
	dir       string
	inflight  atomic.Int64 // requests being proxied to it
	closeOnce sync.Once
}

// close stops the child and removes its directory (once).
func (p *processModel) close() {
	p.closeOnce.Do(func() {
		_ = p.rt.Close()
		_ = os.RemoveAll(p.dir)
	})
}

// A process-served version that no target serves any more (its alias
// moved, its endpoint changed) is stopped once the requests that picked it
// are done: retire waits processRetireGrace, so that a request that read
// the old version just before the swap has registered itself, then until
// none is in flight (at most processDrainLimit), and stops the child unless
// a target serves the version again. A child, with the model it holds in
// memory, thus lives about a second past its last request rather than
// until the garbage collector finds it (the cleanup registered by
// loadProcess stays as a backstop).
const (
	processRetireGrace = time.Second
	processDrainLimit  = 5 * time.Minute
)

func (g *Gateway) retire(l *loaded) {
	if l == nil || l.proc == nil {
		return
	}
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		grace := time.NewTimer(processRetireGrace)
		defer grace.Stop()
		select {
		case <-g.stopped: // Close stops what the table holds; this one too
			l.proc.close()
			return
		case <-grace.C:
		}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for deadline := time.Now().Add(processDrainLimit); l.proc.inflight.Load() > 0 && time.Now().Before(deadline); {
			select {
			case <-g.stopped:
				l.proc.close()
				return
			case <-tick.C:
			}
		}
		g.refreshMu.Lock()
		defer g.refreshMu.Unlock()
		if !g.serves(l) {
			l.proc.close()
		}
	}()
}

// serves reports whether a target of the current table holds l.
func (g *Gateway) serves(l *loaded) bool {
	t := g.table.Load()
	if t == nil {
		return false
	}
	for _, ep := range t.list {
		for _, tg := range append(append([]*target(nil), ep.targets...), ep.shadow...) {
			if tg.cur.Load() == l {
				return true
			}
		}
	}
	return false
}

// processStub stands in as the learn.Model of a process-served version so
// that recommender code paths (shadow workers) never meet a nil model: it
// predicts NaN and recommends nothing.
type processStub struct{}

func (processStub) Predict(string, string) (float64, bool)     { return math.NaN(), true }
func (processStub) Recommend(string, int, bool) []learn.Scored { return nil }
func (processStub) MarshalBinary() ([]byte, error) {
	return nil, fmt.Errorf("a process-served model has no Go encoding")
}
func (processStub) UnmarshalBinary([]byte) error {
	return fmt.Errorf("a process-served model has no Go encoding")
}

// loadProcess serves v (whose package fsys is not loopml-flavored) with the
// process runtime: the package is copied to a temporary directory, the
// command is resolved from its MLmodel (procserve.Resolve) and started,
// and the version is ready when the child answers its health route. The
// child is stopped by Gateway.retire once no target serves the version
// and its requests are done, or by Gateway.Close.
func loadProcess(ctx context.Context, v *loopml.ModelVersion, fsys fs.FS, mm *mlmodel.MLmodel) (*loaded, error) {
	label := v.Name + "/" + v.Version
	dir, err := os.MkdirTemp("", "loopml-model-")
	if err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "model version %s: package directory", label)
	}
	if err := os.CopyFS(dir, fsys); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("model version %s: copy the package: %w", label, err)
	}
	opts := procserve.Options{Label: label, Logger: slog.Default()}
	spec, err := procserve.Resolve(ctx, dir, mm, opts)
	if err == nil {
		var rt *procserve.Runtime
		if rt, err = procserve.Start(ctx, dir, spec, opts); err == nil {
			pm := &processModel{rt: rt, dir: dir}
			sig := mm.Signature
			if sig == nil {
				sig = &mlmodel.Signature{} // metadata routes read it
			}
			l := (&loaded{version: v, model: processStub{}, sig: sig, proc: pm, loadedAt: time.Now()}).withHeaders()
			runtime.AddCleanup(l, func(pm *processModel) { pm.close() }, pm)
			return l, nil
		}
	}
	os.RemoveAll(dir)
	return nil, loopml.Errorf(loopml.ErrorCode(err), "model version %s: %s", label, loopml.ErrorMessage(err))
}

// processInvocations proxies an /invocations request to l's process; the
// child validates its input (MLflow's scoring server enforces the
// signature itself).
func (g *Gateway) processInvocations(w http.ResponseWriter, r *http.Request, l *loaded) {
	l.proc.inflight.Add(1)
	defer l.proc.inflight.Add(-1)
	setVersionHeaders(w, l)
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = &url.URL{Path: "/invocations", RawQuery: r.URL.RawQuery}
	l.proc.rt.ServeHTTP(w, r2)
}

// errProcessOnly answers the routes the process runtime does not serve.
func errProcessOnly(l *loaded, what string) error {
	return loopml.Errorf(loopml.EINVALID, "model %s is served by the process runtime: %s is not supported by the process runtime; use /invocations (MLflow scoring)", l.label(), what)
}
