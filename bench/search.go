package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Search scenario query: a metric filter and a metric order_by, one page
// of searchPageSize runs.
const (
	searchFilter   = "metrics.acc > 0.5"
	searchOrderBy  = "metrics.loss ASC"
	searchPageSize = 100
	// searchCompleteTag marks an experiment whose runs are all created, so
	// later benchmarks reuse it instead of creating them again.
	searchCompleteTag = "loopml.bench.complete"
)

// searchRunBatch is the log-batch body of run i of the search experiment:
// three params and three metrics with deterministic, spread-out values.
func searchRunBatch(runID string, i int64) []byte {
	acc := uniform(1, i) // uniform over [0, 1): about half match searchFilter
	b := map[string]any{
		"run_id": runID,
		"params": []map[string]string{
			{"key": "lr", "value": strconv.FormatFloat(0.0001*float64(1+i%100), 'g', -1, 64)},
			{"key": "depth", "value": strconv.FormatInt(2+i%12, 10)},
			{"key": "optimizer", "value": []string{"adam", "sgd", "rmsprop"}[i%3]},
		},
		"metrics": []map[string]any{
			{"key": "acc", "value": acc, "timestamp": baseTimestamp + i, "step": 0},
			{"key": "loss", "value": 2 * uniform(2, i), "timestamp": baseTimestamp + i, "step": 0},
			{"key": "f1", "value": uniform(3, i), "timestamp": baseTimestamp + i, "step": 0},
		},
	}
	out, _ := json.Marshal(b)
	return out
}

// prepareSearchExperiment returns the id of an experiment holding n runs,
// reusing one from an earlier benchmark when its name matches.
func prepareSearchExperiment(ctx context.Context, cfg Config, c *client) (string, error) {
	name := fmt.Sprintf("loopml-bench-search-%d", cfg.SearchRuns)
	exp, err := c.ensureExperiment(ctx, name)
	if err != nil {
		return "", err
	}
	if exp.tag(searchCompleteTag) == "true" {
		fmt.Fprintf(cfg.Progress, "search: reusing experiment %q (%d runs)\n", name, cfg.SearchRuns)
		return exp.ID, nil
	}
	// A previous benchmark may have been interrupted: count what is there.
	var have int64
	for tok := ""; ; {
		ids, next, err := c.searchRunIDs(ctx, exp.ID, tok, 1000)
		if err != nil {
			return "", err
		}
		have += int64(len(ids))
		if next == "" {
			break
		}
		tok = next
	}
	missing := int64(cfg.SearchRuns) - have
	if missing > 0 {
		report := func(done int64, el time.Duration) string {
			return fmt.Sprintf("%d/%d runs (%.0f runs/s)", have+done, cfg.SearchRuns, float64(done)/el.Seconds())
		}
		err := runTasks(ctx, cfg.Concurrency, missing, "search: creating runs", cfg.Progress, progressInterval, report,
			func(ctx context.Context, _ int, i int64) error {
				i += have
				id, err := c.createRun(ctx, exp.ID, fmt.Sprintf("bench-%d", i), baseTimestamp+i)
				if err != nil {
					return err
				}
				return c.do(ctx, http.MethodPost, apiPrefix+"runs/log-batch", searchRunBatch(id, i), nil)
			})
		if err != nil {
			return "", err
		}
	}
	if err := c.setExperimentTag(ctx, exp.ID, searchCompleteTag, "true"); err != nil {
		return "", fmt.Errorf("tag experiment %q: %w", name, err)
	}
	return exp.ID, nil
}

// runSearch times runs/search with a metric filter and a metric order_by
// over an experiment of SearchRuns runs, one request at a time.
func runSearch(ctx context.Context, cfg Config, c *client) (Result, error) {
	setup, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancel()
	expID, err := prepareSearchExperiment(setup, cfg, c)
	if err != nil {
		return Result{}, err
	}
	body, _ := json.Marshal(map[string]any{
		"experiment_ids": []string{expID},
		"filter":         searchFilter,
		"order_by":       []string{searchOrderBy},
		"max_results":    searchPageSize,
	})
	// Check once that the server really filters and orders.
	if err := checkSearchPage(setup, c, body); err != nil {
		return Result{}, err
	}
	var buf []byte
	m, err := measureLoop(ctx, 1, cfg.Duration, cfg.MaxRequests, func(ctx context.Context, _ int) error {
		return c.do(ctx, http.MethodPost, apiPrefix+"runs/search", body, &buf)
	})
	if err != nil {
		return Result{}, err
	}
	var res Result
	res.fill(m)
	return res, nil
}

// checkSearchPage runs the query once and verifies the answer: a full page
// of runs whose acc passes the filter, sorted by loss.
func checkSearchPage(ctx context.Context, c *client, body []byte) error {
	var out struct {
		Runs []struct {
			Data struct {
				Metrics []struct {
					Key   string  `json:"key"`
					Value float64 `json:"value"`
				} `json:"metrics"`
			} `json:"data"`
		} `json:"runs"`
	}
	if err := c.do(ctx, http.MethodPost, apiPrefix+"runs/search", body, &out); err != nil {
		return fmt.Errorf("search runs: %w", err)
	}
	if len(out.Runs) == 0 {
		return fmt.Errorf("search runs: %q returned no runs", searchFilter)
	}
	prev := -1e308
	for i, r := range out.Runs {
		vals := map[string]float64{}
		for _, m := range r.Data.Metrics {
			vals[m.Key] = m.Value
		}
		if vals["acc"] <= 0.5 {
			return fmt.Errorf("search runs: result %d has acc=%v, which does not match %q", i, vals["acc"], searchFilter)
		}
		if vals["loss"] < prev {
			return fmt.Errorf("search runs: result %d has loss=%v after %v, not ordered by %q", i, vals["loss"], prev, searchOrderBy)
		}
		prev = vals["loss"]
	}
	return nil
}
