package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// stragglerGrace is how long measureLoop lets requests started before its
// deadline run on after it.
const stragglerGrace = time.Minute

// measurement is what measureLoop observed.
type measurement struct {
	elapsed  time.Duration
	ok       int64
	errs     int64
	firstErr string
	lat      []time.Duration
}

// measureLoop runs op from workers goroutines until d has elapsed (no new
// request starts after the deadline; in-flight ones finish), max operations
// have been started (when max > 0) or ctx is done. op gets the worker index
// and returns the error of one operation; its latency is recorded when it
// succeeds. Failed operations are counted, not fatal; an operation still
// running stragglerGrace after the deadline is cancelled and counted as
// failed. It returns ctx's error if ctx was cancelled.
func measureLoop(ctx context.Context, workers int, d time.Duration, max int64, op func(ctx context.Context, worker int) error) (measurement, error) {
	opCtx, cancel := context.WithTimeout(ctx, d+stragglerGrace)
	defer cancel()
	var (
		issued   atomic.Int64
		ok, errs atomic.Int64
		errOnce  sync.Once
		firstErr string
		wg       sync.WaitGroup
		lats     = make([][]time.Duration, workers)
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				if max > 0 && issued.Add(1) > max {
					break
				}
				err := op(opCtx, w)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					if opCtx.Err() != nil {
						err = fmt.Errorf("request still running %s after the measured phase ended: %w", stragglerGrace, err)
					}
					errs.Add(1)
					errOnce.Do(func() { firstErr = err.Error() })
					continue
				}
				lat = append(lat, time.Since(t0))
				ok.Add(1)
			}
			lats[w] = lat
		}(w)
	}
	wg.Wait()
	m := measurement{elapsed: time.Since(start), ok: ok.Load(), errs: errs.Load(), firstErr: firstErr}
	for _, l := range lats {
		m.lat = append(m.lat, l...)
	}
	if err := ctx.Err(); err != nil {
		return m, err
	}
	return m, nil
}

// runTasks runs n set-up tasks on workers goroutines and returns the first
// error (which stops the others). When progress is not nil it prints, every
// interval, the line report returns for the number of tasks done so far.
func runTasks(ctx context.Context, workers int, n int64, label string, progress io.Writer, interval time.Duration, report func(done int64, elapsed time.Duration) string, task func(ctx context.Context, worker int, i int64) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
	)
	start := time.Now()
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if progress == nil || interval <= 0 || report == nil {
			return
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				fmt.Fprintf(progress, "%s: %s\n", label, report(done.Load(), time.Since(start)))
			}
		}
	}()
	if workers < 1 {
		workers = 1
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				if err := task(ctx, w, i); err != nil {
					cancel(err)
					return
				}
				done.Add(1)
			}
		}(w)
	}
	wg.Wait()
	close(stopProgress)
	<-progressDone
	if done.Load() < n {
		return fmt.Errorf("%s: %w", label, context.Cause(ctx))
	}
	return nil
}
