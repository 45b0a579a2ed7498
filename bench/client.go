package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// client is the handful of MLflow REST calls the scenarios need, written
// against the wire protocol so any MLflow-compatible server can be driven.
type client struct {
	base string
	hc   *http.Client
}

const apiPrefix = "/api/2.0/mlflow/"

// apiError is a non-2xx answer from the server.
type apiError struct {
	Status    int
	ErrorCode string
	Message   string
}

func (e *apiError) Error() string {
	if e.ErrorCode != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.ErrorCode, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// isNotFound reports whether err is MLflow's RESOURCE_DOES_NOT_EXIST (a
// bare 404 means the route is missing, which is another matter).
func isNotFound(err error) bool {
	e, ok := err.(*apiError)
	return ok && e.ErrorCode == "RESOURCE_DOES_NOT_EXIST"
}

// do sends a request and, for a 2xx answer, decodes the body into out (when
// not nil) or discards it; the body is always drained so that the
// connection is reused.
func (c *client) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readAPIError(resp)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if b, ok := out.(*[]byte); ok {
		*b, err = appendAll((*b)[:0], resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// appendAll reads r to EOF into buf, reusing its capacity.
func appendAll(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		} else if err != nil {
			return buf, err
		}
	}
}

func readAPIError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, resp.Body)
	e := &apiError{Status: resp.StatusCode}
	var body struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(b, &body) == nil && (body.ErrorCode != "" || body.Message != "") {
		e.ErrorCode, e.Message = body.ErrorCode, body.Message
	} else {
		e.Message = strings.TrimSpace(string(b))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "..."
		}
	}
	return e
}

func (c *client) post(ctx context.Context, endpoint string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, apiPrefix+endpoint, body, out)
}

// ping checks that the server answers the MLflow API before any load is
// generated, so that a wrong URL fails fast with a clear message.
func (c *client) ping(ctx context.Context) error {
	err := c.do(ctx, http.MethodGet, apiPrefix+"experiments/get?experiment_id=0", nil, nil)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("tracking server at %s does not answer the MLflow API: %w", c.base, err)
	}
	return nil
}

type experimentJSON struct {
	ID   string `json:"experiment_id"`
	Name string `json:"name"`
	Tags []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"tags"`
}

func (e experimentJSON) tag(key string) string {
	for _, t := range e.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// experimentByName returns the experiment, or nil and no error if there is
// none with that name.
func (c *client) experimentByName(ctx context.Context, name string) (*experimentJSON, error) {
	var out struct {
		Experiment experimentJSON `json:"experiment"`
	}
	err := c.do(ctx, http.MethodGet, apiPrefix+"experiments/get-by-name?experiment_name="+url.QueryEscape(name), nil, &out)
	if isNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("get experiment %q: %w", name, err)
	}
	return &out.Experiment, nil
}

// ensureExperiment returns the experiment with that name, creating it.
func (c *client) ensureExperiment(ctx context.Context, name string) (*experimentJSON, error) {
	if e, err := c.experimentByName(ctx, name); err != nil || e != nil {
		return e, err
	}
	var out struct {
		ID string `json:"experiment_id"`
	}
	if err := c.post(ctx, "experiments/create", map[string]string{"name": name}, &out); err != nil {
		return nil, fmt.Errorf("create experiment %q: %w", name, err)
	}
	return &experimentJSON{ID: out.ID, Name: name}, nil
}

func (c *client) setExperimentTag(ctx context.Context, id, key, value string) error {
	return c.post(ctx, "experiments/set-experiment-tag", map[string]string{"experiment_id": id, "key": key, "value": value}, nil)
}

// createRun creates a run and returns its id.
func (c *client) createRun(ctx context.Context, experimentID, name string, startTime int64) (string, error) {
	in := map[string]any{"experiment_id": experimentID, "run_name": name, "start_time": startTime}
	var out struct {
		Run struct {
			Info struct {
				RunID   string `json:"run_id"`
				RunUUID string `json:"run_uuid"`
			} `json:"info"`
		} `json:"run"`
	}
	if err := c.post(ctx, "runs/create", in, &out); err != nil {
		return "", fmt.Errorf("create run: %w", err)
	}
	id := out.Run.Info.RunID
	if id == "" {
		id = out.Run.Info.RunUUID
	}
	if id == "" {
		return "", fmt.Errorf("create run: response has no run id")
	}
	return id, nil
}

// searchRunIDs returns one page of run ids of an experiment.
func (c *client) searchRunIDs(ctx context.Context, experimentID, pageToken string, max int) ([]string, string, error) {
	in := map[string]any{"experiment_ids": []string{experimentID}, "max_results": max}
	if pageToken != "" {
		in["page_token"] = pageToken
	}
	var out struct {
		Runs []struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"runs"`
		Next string `json:"next_page_token"`
	}
	if err := c.post(ctx, "runs/search", in, &out); err != nil {
		return nil, "", fmt.Errorf("search runs: %w", err)
	}
	ids := make([]string, len(out.Runs))
	for i, r := range out.Runs {
		ids[i] = r.Info.RunID
	}
	return ids, out.Next, nil
}

func historyPath(runID, key, pageToken string) string {
	q := url.Values{"run_id": {runID}, "metric_key": {key}}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	return apiPrefix + "metrics/get-history?" + q.Encode()
}

func artifactPath(name string) string {
	return "/api/2.0/mlflow-artifacts/artifacts/" + url.PathEscape("bench") + "/" + url.PathEscape(name)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
