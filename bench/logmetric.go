package bench

import (
	"context"
	"net/http"
)

// runLogMetric measures single runs/log-metric requests from Concurrency
// clients, each logging to its own run.
func runLogMetric(ctx context.Context, cfg Config, c *client) (Result, error) {
	setup, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancel()
	runs, err := createRuns(setup, c, "loopml-bench-logmetric", cfg.Concurrency)
	if err != nil {
		return Result{}, err
	}
	next := make([]int64, cfg.Concurrency)
	bufs := make([][]byte, cfg.Concurrency)
	m, err := measureLoop(ctx, cfg.Concurrency, cfg.Duration, cfg.MaxRequests, func(ctx context.Context, w int) error {
		bufs[w] = appendLogMetric(bufs[w][:0], runs[w], next[w])
		next[w]++
		return c.do(ctx, http.MethodPost, apiPrefix+"runs/log-metric", bufs[w], nil)
	})
	if err != nil {
		return Result{}, err
	}
	var res Result
	res.fill(m)
	res.Points = m.ok
	return res, nil
}
