package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Raw MLflow REST helpers: the crash test speaks the wire protocol directly
// so that it depends on nothing but the server's HTTP API.

// apiError is a non-200 answer from the server.
type apiError struct {
	Status    int
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
	Body      string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.ErrorCode, e.Body)
}

// mlflowCall sends one request to /api/2.0/mlflow/<path>. A POST sends in as
// JSON; a GET sends query. A 200 answer is decoded into out (when non-nil);
// any other status gives an *apiError; a transport failure gives that error.
func mlflowCall(ctx context.Context, c *http.Client, baseURL, method, path string, query url.Values, in, out any) error {
	u := baseURL + "/api/2.0/mlflow/" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &apiError{Status: resp.StatusCode, Body: string(b)}
		_ = json.Unmarshal(b, e)
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode %s answer %.200q: %w", path, b, err)
	}
	return nil
}

// int64JSON decodes an int64 sent as a JSON number or, proto3-JSON style, as
// a string.
type int64JSON int64

func (n *int64JSON) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("int64 field %s: %w", b, err)
	}
	*n = int64JSON(v)
	return nil
}

// wireMetric is a metric as MLflow's JSON carries it.
type wireMetric struct {
	Key       string    `json:"key"`
	Value     float64   `json:"value"`
	Timestamp int64JSON `json:"timestamp"`
	Step      int64JSON `json:"step"`
}

// wireKV is a param or tag as MLflow's JSON carries it.
type wireKV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// logBatchRequest is MLflow's LogBatch.
type logBatchRequest struct {
	RunID   string       `json:"run_id"`
	Metrics []wireMetric `json:"metrics,omitempty"`
	Params  []wireKV     `json:"params,omitempty"`
	Tags    []wireKV     `json:"tags,omitempty"`
}

// wireRun is the part of an MLflow Run the tests read.
type wireRun struct {
	Info struct {
		RunID          string `json:"run_id"`
		ExperimentID   string `json:"experiment_id"`
		LifecycleStage string `json:"lifecycle_stage"`
		Status         string `json:"status"`
	} `json:"info"`
	Data struct {
		Metrics []wireMetric `json:"metrics"`
		Params  []wireKV     `json:"params"`
		Tags    []wireKV     `json:"tags"`
	} `json:"data"`
}

func createExperiment(ctx context.Context, c *http.Client, baseURL, name string) (string, error) {
	var out struct {
		ExperimentID string `json:"experiment_id"`
	}
	err := mlflowCall(ctx, c, baseURL, http.MethodPost, "experiments/create", nil, map[string]any{"name": name}, &out)
	return out.ExperimentID, err
}

func createRun(ctx context.Context, c *http.Client, baseURL, experimentID, name string, startTime int64) (string, error) {
	var out struct {
		Run wireRun `json:"run"`
	}
	in := map[string]any{"experiment_id": experimentID, "run_name": name, "start_time": startTime}
	err := mlflowCall(ctx, c, baseURL, http.MethodPost, "runs/create", nil, in, &out)
	return out.Run.Info.RunID, err
}

func getRun(ctx context.Context, c *http.Client, baseURL, runID string) (*wireRun, error) {
	var out struct {
		Run wireRun `json:"run"`
	}
	err := mlflowCall(ctx, c, baseURL, http.MethodGet, "runs/get", url.Values{"run_id": {runID}}, nil, &out)
	return &out.Run, err
}

// metricHistory returns every point of one metric, following page tokens.
func metricHistory(ctx context.Context, c *http.Client, baseURL, runID, key string) ([]wireMetric, error) {
	var all []wireMetric
	token := ""
	for page := 0; ; page++ {
		if page > 10000 {
			return nil, fmt.Errorf("get-history of %s: more than 10000 pages", key)
		}
		q := url.Values{"run_id": {runID}, "metric_key": {key}}
		if token != "" {
			q.Set("page_token", token)
		}
		var out struct {
			Metrics       []wireMetric `json:"metrics"`
			NextPageToken string       `json:"next_page_token"`
		}
		if err := mlflowCall(ctx, c, baseURL, http.MethodGet, "metrics/get-history", q, nil, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Metrics...)
		if out.NextPageToken == "" {
			return all, nil
		}
		token = out.NextPageToken
	}
}
