package pipeline

import (
	"context"
	"errors"
	"sync"

	"github.com/loopml/loopml"
)

// Policy says what Queue.Submit does with a run of a pipeline that is
// already running or waiting.
type Policy string

// Concurrency policies.
const (
	// PolicySkip refuses the new run (ErrBusy).
	PolicySkip Policy = "skip"
	// PolicyQueue runs it after the runs already there, in order.
	PolicyQueue Policy = "queue"
	// PolicyReplace cancels the running run (it ends KILLED), drops the
	// waiting ones (ErrReplaced) and starts the new one.
	PolicyReplace Policy = "replace"
)

// Errors of Queue.
var (
	ErrBusy     = errors.New("a run of this pipeline is already running or waiting")
	ErrReplaced = errors.New("replaced by a newer run before it started")
	ErrClosed   = errors.New("queue closed")
)

// TagStartedBy records on a pipeline run what started it ("schedule 0 3 *
// * *", "data ratings@v7", "api").
const TagStartedBy = "loopml.started_by"

// Queue runs submitted pipeline runs in this process: at most MaxRunning
// at once overall, and per pipeline (by Spec.Name) one at a time under the
// submission's Policy. It is what a server or a trigger hands runs to; the
// stage commands still go through Deps.Executor. The zero value is not
// usable: set Deps. Safe for concurrent use.
type Queue struct {
	Deps Deps
	// MaxRunning bounds the pipeline runs executing at once (0: 1).
	MaxRunning int

	once    sync.Once
	mu      sync.Mutex
	sem     chan struct{}
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running map[string]*Ticket   // by pipeline name
	waiting map[string][]*Ticket // by pipeline name, in order
}

// Ticket follows one submitted run.
type Ticket struct {
	spec   *Spec
	opts   Options
	cancel context.CancelFunc
	done   chan struct{}
	res    *Result
	err    error
}

// Wait blocks until the run ended (or was dropped) and returns its
// outcome, as Run does.
func (t *Ticket) Wait() (*Result, error) {
	<-t.done
	return t.res, t.err
}

// Done is closed when the run ended or was dropped.
func (t *Ticket) Done() <-chan struct{} { return t.done }

func (q *Queue) init() {
	q.once.Do(func() {
		n := q.MaxRunning
		if n <= 0 {
			n = 1
		}
		q.sem = make(chan struct{}, n)
		q.ctx, q.cancel = context.WithCancel(context.Background())
		q.running = map[string]*Ticket{}
		q.waiting = map[string][]*Ticket{}
	})
}

// Submit hands a run of spec to the queue; startedBy is recorded on the
// pipeline run (TagStartedBy). Under PolicySkip it returns ErrBusy (code
// ECONFLICT) when a run of the same pipeline is running or waiting.
func (q *Queue) Submit(spec *Spec, opts Options, startedBy string, policy Policy) (*Ticket, error) {
	q.init()
	switch policy {
	case PolicySkip, PolicyQueue, PolicyReplace:
	default:
		return nil, loopml.Errorf(loopml.EINVALID, "concurrency policy %q: want skip, queue or replace", policy)
	}
	if startedBy != "" {
		opts.StartedBy = startedBy
	}
	t := &Ticket{spec: spec, opts: opts, done: make(chan struct{})}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, loopml.WrapError(loopml.EUNAVAILABLE, ErrClosed, "pipeline queue is closed")
	}
	name := spec.Name
	busy := q.running[name] != nil || len(q.waiting[name]) > 0
	switch {
	case busy && policy == PolicySkip:
		return nil, loopml.WrapError(loopml.ECONFLICT, ErrBusy, "pipeline %s: a run is already running or waiting (policy skip)", name)
	case busy && policy == PolicyReplace:
		for _, w := range q.waiting[name] {
			w.err = loopml.WrapError(loopml.ECONFLICT, ErrReplaced, "pipeline %s: replaced by a newer run", name)
			close(w.done)
		}
		q.waiting[name] = nil
		if r := q.running[name]; r != nil {
			r.cancel()
		}
	}
	q.waiting[name] = append(q.waiting[name], t)
	q.startNext(name)
	return t, nil
}

// startNext starts the first waiting run of name when none is running.
// q.mu is held.
func (q *Queue) startNext(name string) {
	if q.running[name] != nil || len(q.waiting[name]) == 0 || q.closed {
		return
	}
	t := q.waiting[name][0]
	q.waiting[name] = q.waiting[name][1:]
	ctx, cancel := context.WithCancel(q.ctx)
	t.cancel = cancel
	q.running[name] = t
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		defer cancel()
		select {
		case q.sem <- struct{}{}:
			t.res, t.err = Run(ctx, t.spec, q.Deps, t.opts)
			<-q.sem
		case <-ctx.Done():
			t.err = ctx.Err()
		}
		q.mu.Lock()
		delete(q.running, name)
		close(t.done)
		q.startNext(name)
		q.mu.Unlock()
	}()
}

// Close cancels every running run (they end KILLED), drops the waiting
// ones (ErrClosed) and waits for the running ones to end.
func (q *Queue) Close() {
	q.init()
	q.mu.Lock()
	q.closed = true
	for name, ws := range q.waiting {
		for _, w := range ws {
			w.err = loopml.WrapError(loopml.EUNAVAILABLE, ErrClosed, "pipeline %s: queue closed", name)
			close(w.done)
		}
		delete(q.waiting, name)
	}
	q.mu.Unlock()
	q.cancel()
	q.wg.Wait()
}
