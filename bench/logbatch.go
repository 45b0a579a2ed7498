package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// progressInterval is how often long set-up phases report progress.
const progressInterval = 2 * time.Second

// stepsPerBatch is the number of steps in one logbatch request.
const stepsPerBatch = MetricsPerBatch / MetricKeys

// createRuns creates n runs in a fresh experiment named after prefix and
// the current time, and returns their ids.
func createRuns(ctx context.Context, c *client, prefix string, n int) ([]string, error) {
	now := time.Now()
	exp, err := c.ensureExperiment(ctx, prefix+"-"+now.UTC().Format("20060102-150405.000000"))
	if err != nil {
		return nil, err
	}
	ids := make([]string, n)
	for i := range ids {
		if ids[i], err = c.createRun(ctx, exp.ID, fmt.Sprintf("%s-%d", prefix, i), now.UnixMilli()); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// runLogBatch measures metric ingestion through runs/log-batch: each of
// Concurrency clients logs to its own run, MetricsPerBatch points per
// request (keys m0..m9, increasing steps).
func runLogBatch(ctx context.Context, cfg Config, c *client) (Result, error) {
	setup, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancel()
	runs, err := createRuns(setup, c, "loopml-bench-logbatch", cfg.Concurrency)
	if err != nil {
		return Result{}, err
	}
	// Each worker owns a run, its next step and a reusable body buffer.
	next := make([]int64, cfg.Concurrency)
	bufs := make([][]byte, cfg.Concurrency)
	send := func(ctx context.Context, w int) error {
		bufs[w] = appendLogBatch(bufs[w][:0], runs[w], MetricKeys, next[w], stepsPerBatch)
		next[w] += stepsPerBatch
		return c.do(ctx, http.MethodPost, apiPrefix+"runs/log-batch", bufs[w], nil)
	}

	var res Result
	if cfg.Preload > 0 {
		reqs := (cfg.Preload + MetricsPerBatch - 1) / MetricsPerBatch
		report := func(done int64, el time.Duration) string {
			pts := done * MetricsPerBatch
			return fmt.Sprintf("%d/%d points (%.0f points/s)", pts, reqs*MetricsPerBatch, float64(pts)/el.Seconds())
		}
		err := runTasks(setup, cfg.Concurrency, reqs, "preload", cfg.Progress, progressInterval, report,
			func(ctx context.Context, w int, _ int64) error { return send(ctx, w) })
		if err != nil {
			return Result{}, err
		}
		res.Preloaded = reqs * MetricsPerBatch
		fmt.Fprintf(cfg.Progress, "preload: done, %d points\n", res.Preloaded)
	}

	var before int64
	if cfg.ServerPID > 0 {
		if before, err = procWriteBytes(cfg.ServerPID); err != nil {
			return Result{}, err
		}
	}
	m, err := measureLoop(ctx, cfg.Concurrency, cfg.Duration, cfg.MaxRequests, send)
	if err != nil {
		return Result{}, err
	}
	res.fill(m)
	res.Points = m.ok * MetricsPerBatch
	res.PointsSec = float64(res.Points) / m.elapsed.Seconds()
	if cfg.ServerPID > 0 && res.Points > 0 {
		after, err := procWriteBytes(cfg.ServerPID)
		if err != nil {
			return Result{}, err
		}
		res.DiskBytesPerPoint = float64(after-before) / float64(res.Points)
		if res.DiskBytesPerPoint == 0 {
			res.Note = "server wrote nothing to disk during the measurement (WAL not yet checkpointed?)"
		}
	}
	return res, nil
}

// fill copies the common fields of a measurement into r.
func (r *Result) fill(m measurement) {
	r.Seconds = m.elapsed.Seconds()
	r.Requests = m.ok
	r.Errors = m.errs
	r.FirstError = m.firstErr
	if r.Seconds > 0 {
		r.RequestsSec = float64(m.ok) / r.Seconds
	}
	r.Latency = Summarize(m.lat)
}
