package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// historyKey is the metric the history scenario logs and fetches.
const historyKey = "loss"

// runHistory logs one metric of HistoryPoints points to a fresh run (by
// log-batch) and then times fetching its whole history with
// metrics/get-history, following next_page_token, one fetch at a time.
func runHistory(ctx context.Context, cfg Config, c *client) (Result, error) {
	setup, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancel()
	runs, err := createRuns(setup, c, "loopml-bench-history", 1)
	if err != nil {
		return Result{}, err
	}
	run := runs[0]
	total := int64(cfg.HistoryPoints)
	reqs := (total + MetricsPerBatch - 1) / MetricsPerBatch
	bufs := make([][]byte, cfg.Concurrency)
	report := func(done int64, el time.Duration) string {
		return fmt.Sprintf("%d/%d points", min(done*MetricsPerBatch, total), total)
	}
	err = runTasks(setup, cfg.Concurrency, reqs, "history: logging", cfg.Progress, progressInterval, report,
		func(ctx context.Context, w int, i int64) error {
			first := i * MetricsPerBatch
			n := min(MetricsPerBatch, total-first)
			bufs[w] = appendSingleKeyBatch(bufs[w][:0], run, historyKey, first, int(n))
			return c.do(ctx, http.MethodPost, apiPrefix+"runs/log-batch", bufs[w], nil)
		})
	if err != nil {
		return Result{}, err
	}
	if err := checkHistory(setup, c, run, total); err != nil {
		return Result{}, err
	}

	var buf []byte
	m, err := measureLoop(ctx, 1, cfg.Duration, cfg.MaxRequests, func(ctx context.Context, _ int) error {
		got, err := fetchHistory(ctx, c, run, &buf)
		if err == nil && got != total {
			err = fmt.Errorf("get-history returned %d points, want %d", got, total)
		}
		return err
	})
	if err != nil {
		return Result{}, err
	}
	var res Result
	res.fill(m)
	res.Points = total
	return res, nil
}

// fetchHistory fetches every page of the history and returns the number
// of points, counted without decoding each point so that the client does
// not become the bottleneck.
func fetchHistory(ctx context.Context, c *client, run string, buf *[]byte) (int64, error) {
	var n int64
	for tok, pages := "", 0; ; pages++ {
		if pages > 1_000_000 {
			return n, fmt.Errorf("get-history: more than a million pages, the server keeps returning a page token")
		}
		if err := c.do(ctx, http.MethodGet, historyPath(run, historyKey, tok), nil, buf); err != nil {
			return n, err
		}
		k, next, err := scanHistoryPage(*buf)
		if err != nil {
			return n, err
		}
		n += int64(k)
		if next == "" {
			return n, nil
		}
		tok = next
	}
}

var (
	keyField   = []byte(`"key"`)
	tokenField = []byte(`"next_page_token"`)
)

// scanHistoryPage counts the metric points of a get-history response (one
// "key" field each) and extracts next_page_token, without decoding the
// points.
func scanHistoryPage(body []byte) (points int, next string, err error) {
	points = bytes.Count(body, keyField)
	i := bytes.LastIndex(body, tokenField)
	if i < 0 {
		return points, "", nil
	}
	rest := bytes.TrimLeft(body[i+len(tokenField):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return 0, "", fmt.Errorf("get-history: malformed next_page_token in response")
	}
	dec := json.NewDecoder(bytes.NewReader(rest[1:]))
	if err := dec.Decode(&next); err != nil {
		return 0, "", fmt.Errorf("get-history: malformed next_page_token in response: %w", err)
	}
	return points, next, nil
}

// checkHistory decodes the full history once and verifies the count, that
// every step is there once, and the values.
func checkHistory(ctx context.Context, c *client, run string, total int64) error {
	var all []int64
	for tok := ""; ; {
		var page struct {
			Metrics []struct {
				Key   string  `json:"key"`
				Value float64 `json:"value"`
				Step  int64   `json:"step"`
			} `json:"metrics"`
			Next string `json:"next_page_token"`
		}
		if err := c.do(ctx, http.MethodGet, historyPath(run, historyKey, tok), nil, &page); err != nil {
			return fmt.Errorf("get-history: %w", err)
		}
		for _, m := range page.Metrics {
			if m.Key != historyKey || m.Value != metricValue(0, m.Step) {
				return fmt.Errorf("get-history: point at step %d is %s=%v, want %s=%v", m.Step, m.Key, m.Value, historyKey, metricValue(0, m.Step))
			}
			all = append(all, m.Step)
		}
		if page.Next == "" {
			break
		}
		tok = page.Next
		if int64(len(all)) > total {
			break
		}
	}
	if int64(len(all)) != total {
		return fmt.Errorf("get-history: got %d points, want %d", len(all), total)
	}
	slices.Sort(all) // MLflow does not promise an order; loopml orders by step
	for i, s := range all {
		if s != int64(i) {
			return fmt.Errorf("get-history: step %d is missing or duplicated", i)
		}
	}
	return nil
}
