package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// Client talks to a loopml (or MLflow) tracking server over the REST API. It
// implements loopml.ExperimentService and loopml.RunService (and, against a
// loopml server, loopml.ModelRegistry and loopml.DatasetService), so code
// written against the domain interfaces runs unchanged against a remote
// server, and adds the artifact proxy (also as a loopml.ArtifactStore, see
// Artifacts) and health calls. Errors from the server come back
// as *loopml.Error with the code matching the MLflow error_code and the
// server's message. A Client is safe for concurrent use.
type Client struct {
	base      string // without trailing slash
	hc        *http.Client
	workspace string // sent in X-Loopml-Workspace when the context names none; see WithWorkspace
}

// WithWorkspace returns a copy of c whose calls work in workspace (the
// X-Loopml-Workspace header) unless their context names another one with
// loopml.NewContextWithWorkspace. A context's workspace other than
// loopml.DefaultWorkspace is always sent, so code scoped by its context
// behaves the same against a local store and against a server.
func (c *Client) WithWorkspace(workspace string) *Client {
	cp := *c
	cp.workspace = workspace
	return &cp
}

var (
	_ loopml.ExperimentService = (*Client)(nil)
	_ loopml.RunService        = (*Client)(nil)
)

// NewClient returns a client for the server at baseURL (for example
// "http://127.0.0.1:5000"). A nil hc means a client with connect, TLS and
// response-header timeouts but no overall timeout, so large artifact
// transfers are not cut off; bound calls with their context instead.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 2 * time.Minute,
			ExpectContinueTimeout: time.Second,
		}}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// do sends one request and decodes the JSON response with fill (nil: the
// body is discarded). Non-2xx answers become *loopml.Error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, fill func(d *decoder, key []byte) error) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "build request %s %s", method, path)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if id := loopml.RequestIDFromContext(ctx); validRequestID(id) {
		req.Header.Set(requestIDHeader, id)
	}
	if ws := loopml.WorkspaceFromContext(ctx); ws != loopml.DefaultWorkspace {
		req.Header.Set(WorkspaceHeader, ws)
	} else if c.workspace != "" {
		req.Header.Set(WorkspaceHeader, c.workspace)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return responseError(resp)
	}
	if fill == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	bp := getBuf()
	defer putBuf(bp)
	if err := readBody(resp.Body, 1<<40, bp); err != nil {
		return c.transportError(ctx, method, path, err)
	}
	d := decoder{data: *bp}
	if err := d.document(fill); err != nil {
		return loopml.WrapError(loopml.EINTERNAL, err, "decode response of %s %s", method, path)
	}
	return nil
}

func (c *Client) transportError(ctx context.Context, method, path string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return loopml.WrapError(loopml.EUNAVAILABLE, err, "%s %s%s failed", method, c.base, path)
}

// responseError decodes an MLflow error body; bodies that are not one
// (a proxy's HTML page, a plain-text 404) fall back to the status.
func responseError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var mlflowCode, msg string
	d := decoder{data: body}
	err := d.document(func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "error_code":
			mlflowCode, err = d.str()
		case "message":
			msg, err = d.str()
		default:
			err = d.skip()
		}
		return err
	})
	if err != nil || (mlflowCode == "" && msg == "") {
		mlflowCode = ""
		msg = strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		if msg == "" {
			msg = resp.Status
		} else {
			msg = resp.Status + ": " + msg
		}
	}
	return loopml.Errorf(codeFromMLflow(mlflowCode, resp.StatusCode), "%s", msg)
}

// post sends a JSON body built by build.
func (c *Client) post(ctx context.Context, path string, build func(e *encoder), fill func(d *decoder, key []byte) error) error {
	bp := getBuf()
	defer putBuf(bp)
	e := encoder{b: (*bp)[:0]}
	e.beginObject()
	build(&e)
	e.endObject()
	*bp = e.b
	return c.do(ctx, http.MethodPost, apiPrefix+path, nil, e.b, fill)
}

func (c *Client) get(ctx context.Context, path string, q url.Values, fill func(d *decoder, key []byte) error) error {
	return c.do(ctx, http.MethodGet, apiPrefix+path, q, nil, fill)
}

// CreateExperiment creates e on the server and fills in its ID and the
// fields the server sets.
func (c *Client) CreateExperiment(ctx context.Context, e *loopml.Experiment) error {
	var id string
	err := c.post(ctx, "experiments/create", func(enc *encoder) {
		enc.strAlways("name", e.Name)
		enc.str("artifact_location", e.ArtifactLocation)
		encodeTagList(enc, "tags", e.Tags)
	}, func(d *decoder, key []byte) (err error) {
		if string(key) == "experiment_id" {
			id, err = d.str()
			return err
		}
		return d.skip()
	})
	if err != nil {
		return err
	}
	got, err := c.GetExperiment(ctx, id)
	if err != nil {
		return err
	}
	*e = *got
	return nil
}

// experimentField decodes {"experiment": {...}}.
func experimentField(x *loopml.Experiment) func(d *decoder, key []byte) error {
	return func(d *decoder, key []byte) error {
		if string(key) == "experiment" {
			return decodeExperiment(d, x)
		}
		return d.skip()
	}
}

// GetExperiment returns an experiment by id.
func (c *Client) GetExperiment(ctx context.Context, id string) (*loopml.Experiment, error) {
	x := new(loopml.Experiment)
	if err := c.get(ctx, "experiments/get", url.Values{"experiment_id": {id}}, experimentField(x)); err != nil {
		return nil, err
	}
	return x, nil
}

// GetExperimentByName returns an experiment by name.
func (c *Client) GetExperimentByName(ctx context.Context, name string) (*loopml.Experiment, error) {
	x := new(loopml.Experiment)
	if err := c.get(ctx, "experiments/get-by-name", url.Values{"experiment_name": {name}}, experimentField(x)); err != nil {
		return nil, err
	}
	return x, nil
}

// SearchExperiments returns one page of experiments and the next page token.
func (c *Client) SearchExperiments(ctx context.Context, q loopml.ExperimentSearch) ([]*loopml.Experiment, string, error) {
	var exps []*loopml.Experiment
	var next string
	err := c.post(ctx, "experiments/search", func(e *encoder) {
		if q.MaxResults != 0 {
			e.int("max_results", int64(q.MaxResults))
		}
		e.str("page_token", q.PageToken)
		e.str("filter", q.Filter)
		encodeStrList(e, "order_by", q.OrderBy)
		e.strAlways("view_type", viewTypeName(q.ViewType))
	}, func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "experiments":
			return d.array(func(d *decoder, _ int) error {
				x := new(loopml.Experiment)
				exps = append(exps, x)
				return decodeExperiment(d, x)
			})
		case "next_page_token":
			next, err = d.str()
			return err
		}
		return d.skip()
	})
	if err != nil {
		return nil, "", err
	}
	return exps, next, nil
}

func encodeStrList(e *encoder, name string, list []string) {
	if len(list) == 0 {
		return
	}
	e.arrayField(name)
	for _, s := range list {
		e.strElem(s)
	}
	e.endArray()
}

// RenameExperiment renames an experiment.
func (c *Client) RenameExperiment(ctx context.Context, id, newName string) error {
	if newName == "" {
		return loopml.Errorf(loopml.EINVALID, "Missing value for parameter 'new_name'")
	}
	return c.post(ctx, "experiments/update", func(e *encoder) {
		e.strAlways("experiment_id", id)
		e.strAlways("new_name", newName)
	}, nil)
}

// DeleteExperiment soft-deletes an experiment.
func (c *Client) DeleteExperiment(ctx context.Context, id string) error {
	return c.post(ctx, "experiments/delete", func(e *encoder) { e.strAlways("experiment_id", id) }, nil)
}

// RestoreExperiment restores a deleted experiment.
func (c *Client) RestoreExperiment(ctx context.Context, id string) error {
	return c.post(ctx, "experiments/restore", func(e *encoder) { e.strAlways("experiment_id", id) }, nil)
}

// SetExperimentTag sets an experiment tag.
func (c *Client) SetExperimentTag(ctx context.Context, id string, tag loopml.Tag) error {
	return c.post(ctx, "experiments/set-experiment-tag", func(e *encoder) {
		e.strAlways("experiment_id", id)
		e.strAlways("key", tag.Key)
		e.strAlways("value", tag.Value)
	}, nil)
}

// runField decodes {"run": {...}}.
func runField(r *loopml.Run) func(d *decoder, key []byte) error {
	return func(d *decoder, key []byte) error {
		if string(key) == "run" {
			return decodeRun(d, r)
		}
		return d.skip()
	}
}

// CreateRun creates r on the server and fills it in from the server's
// answer (ID, status, artifact URI, name, ...).
func (c *Client) CreateRun(ctx context.Context, r *loopml.Run) error {
	got := new(loopml.Run)
	err := c.post(ctx, "runs/create", func(e *encoder) {
		e.strAlways("experiment_id", r.ExperimentID)
		e.str("user_id", r.UserID)
		e.str("run_name", r.Name)
		e.intNZ("start_time", r.StartTime)
		encodeTagList(e, "tags", r.Tags)
	}, runField(got))
	if err != nil {
		return err
	}
	*r = *got
	return nil
}

// GetRun returns a run with its latest metrics, params, tags and inputs.
func (c *Client) GetRun(ctx context.Context, id string) (*loopml.Run, error) {
	r := new(loopml.Run)
	if err := c.get(ctx, "runs/get", url.Values{"run_id": {id}}, runField(r)); err != nil {
		return nil, err
	}
	return r, nil
}

// UpdateRun changes a run's status, end time and/or name and returns the
// whole updated run.
func (c *Client) UpdateRun(ctx context.Context, id string, u loopml.RunUpdate) (*loopml.Run, error) {
	err := c.post(ctx, "runs/update", func(e *encoder) {
		e.strAlways("run_id", id)
		e.strAlways("run_uuid", id)
		if u.Status != nil {
			e.strAlways("status", *u.Status)
		}
		if u.EndTime != nil {
			e.int("end_time", *u.EndTime)
		}
		if u.Name != nil {
			e.strAlways("run_name", *u.Name)
		}
	}, nil)
	if err != nil {
		return nil, err
	}
	return c.GetRun(ctx, id)
}

// DeleteRun soft-deletes a run.
func (c *Client) DeleteRun(ctx context.Context, id string) error {
	return c.post(ctx, "runs/delete", func(e *encoder) { e.strAlways("run_id", id) }, nil)
}

// RestoreRun restores a deleted run.
func (c *Client) RestoreRun(ctx context.Context, id string) error {
	return c.post(ctx, "runs/restore", func(e *encoder) { e.strAlways("run_id", id) }, nil)
}

// SearchRuns returns one page of runs and the next page token.
func (c *Client) SearchRuns(ctx context.Context, q loopml.RunSearch) ([]*loopml.Run, string, error) {
	var runs []*loopml.Run
	var next string
	err := c.post(ctx, "runs/search", func(e *encoder) {
		encodeStrList(e, "experiment_ids", q.ExperimentIDs)
		e.str("filter", q.Filter)
		e.strAlways("run_view_type", viewTypeName(q.ViewType))
		if q.MaxResults != 0 {
			e.int("max_results", int64(q.MaxResults))
		}
		encodeStrList(e, "order_by", q.OrderBy)
		e.str("page_token", q.PageToken)
	}, func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "runs":
			return d.array(func(d *decoder, _ int) error {
				r := new(loopml.Run)
				runs = append(runs, r)
				return decodeRun(d, r)
			})
		case "next_page_token":
			next, err = d.str()
			return err
		}
		return d.skip()
	})
	if err != nil {
		return nil, "", err
	}
	return runs, next, nil
}

// LogBatch logs metrics, params and tags in one log-batch request.
func (c *Client) LogBatch(ctx context.Context, runID string, b loopml.Batch) error {
	return c.post(ctx, "runs/log-batch", func(e *encoder) {
		e.strAlways("run_id", runID)
		if len(b.Metrics) > 0 {
			e.arrayField("metrics")
			for i := range b.Metrics {
				e.beginObject()
				encodeMetric(e, &b.Metrics[i])
				e.endObject()
			}
			e.endArray()
		}
		if len(b.Params) > 0 {
			e.arrayField("params")
			for _, p := range b.Params {
				e.beginObject()
				e.strAlways("key", p.Key)
				e.strAlways("value", p.Value)
				e.endObject()
			}
			e.endArray()
		}
		encodeTagList(e, "tags", b.Tags)
	}, nil)
}

// DeleteTag removes a run tag.
func (c *Client) DeleteTag(ctx context.Context, runID, key string) error {
	return c.post(ctx, "runs/delete-tag", func(e *encoder) {
		e.strAlways("run_id", runID)
		e.strAlways("key", key)
	}, nil)
}

// LogInputs links dataset inputs to a run.
func (c *Client) LogInputs(ctx context.Context, runID string, inputs []loopml.DatasetInput) error {
	return c.post(ctx, "runs/log-inputs", func(e *encoder) {
		e.strAlways("run_id", runID)
		if len(inputs) > 0 {
			e.arrayField("datasets")
			for i := range inputs {
				e.beginObject()
				encodeDatasetInput(e, &inputs[i])
				e.endObject()
			}
			e.endArray()
		}
	}, nil)
}

// GetMetricHistory returns one page of a metric's history and the next page
// token.
func (c *Client) GetMetricHistory(ctx context.Context, q loopml.MetricHistoryQuery) ([]loopml.Metric, string, error) {
	v := url.Values{"run_id": {q.RunID}, "metric_key": {q.Key}}
	if q.MaxResults != 0 {
		v.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	if q.PageToken != "" {
		v.Set("page_token", q.PageToken)
	}
	var metrics []loopml.Metric
	var next string
	err := c.get(ctx, "metrics/get-history", v, func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "metrics":
			return decodeMetrics(d, &metrics)
		case "next_page_token":
			next, err = d.str()
			return err
		}
		return d.skip()
	})
	if err != nil {
		return nil, "", err
	}
	return metrics, next, nil
}

// GetMetricHistoryBulkInterval returns sampled histories of one metric for
// several runs.
func (c *Client) GetMetricHistoryBulkInterval(ctx context.Context, q loopml.MetricBulkIntervalQuery) ([]loopml.RunMetric, error) {
	v := url.Values{"run_ids": q.RunIDs, "metric_key": {q.Key}}
	if q.MaxResults != 0 {
		v.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	if q.StartStep != nil {
		v.Set("start_step", strconv.FormatInt(*q.StartStep, 10))
	}
	if q.EndStep != nil {
		v.Set("end_step", strconv.FormatInt(*q.EndStep, 10))
	}
	var out []loopml.RunMetric
	err := c.get(ctx, "metrics/get-history-bulk-interval", v, func(d *decoder, key []byte) error {
		if string(key) != "metrics" {
			return d.skip()
		}
		return d.array(func(d *decoder, _ int) error {
			out = append(out, loopml.RunMetric{})
			m := &out[len(out)-1]
			return decodeMetric(d, &m.Metric, &m.RunID)
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// artifactURL is the artifact proxy URL of a store path, each segment
// escaped.
func (c *Client) artifactURL(p string) (string, error) {
	clean, err := loopml.CleanArtifactPath(p)
	if err != nil {
		return "", err
	}
	if clean == "" {
		return "", loopml.Errorf(loopml.EINVALID, "Missing value for parameter 'path': an artifact path is required")
	}
	segs := strings.Split(clean, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.base + artifactProxyPath + "/" + strings.Join(segs, "/"), nil
}

// UploadArtifact streams r to the artifact proxy at path (relative to the
// store root, e.g. "<exp>/<run>/artifacts/model.pkl").
func (c *Client) UploadArtifact(ctx context.Context, path string, r io.Reader) error {
	u, err := c.artifactURL(path)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, r)
	if err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "build upload request for %q", path)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, http.MethodPut, artifactProxyPath, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return responseError(resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// DownloadArtifact streams the file at path from the artifact proxy into w
// and returns the number of bytes written.
func (c *Client) DownloadArtifact(ctx context.Context, path string, w io.Writer) (int64, error) {
	u, err := c.artifactURL(path)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, loopml.WrapError(loopml.EINVALID, err, "build download request for %q", path)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, c.transportError(ctx, http.MethodGet, artifactProxyPath, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 0, responseError(resp)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		return n, loopml.WrapError(loopml.EUNAVAILABLE, err, "download %q", path)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, loopml.Errorf(loopml.EUNAVAILABLE, "download %q: got %d of %d bytes", path, n, resp.ContentLength)
	}
	return n, nil
}

// ListArtifacts lists the run's artifacts under path (relative to the run's
// artifact root); returned paths are relative to the run's artifact root,
// as MLflow's artifacts/list returns them.
func (c *Client) ListArtifacts(ctx context.Context, runID, path string) ([]loopml.ArtifactInfo, error) {
	v := url.Values{"run_id": {runID}}
	if path != "" {
		v.Set("path", path)
	}
	var out []loopml.ArtifactInfo
	err := c.get(ctx, "artifacts/list", v, func(d *decoder, key []byte) error {
		if string(key) != "files" {
			return d.skip()
		}
		return d.array(func(d *decoder, _ int) error {
			var f loopml.ArtifactInfo
			err := d.object(func(d *decoder, key []byte) (err error) {
				switch string(key) {
				case "path":
					f.Path, err = d.str()
				case "is_dir":
					f.IsDir, err = d.boolean()
				case "file_size":
					f.Size, err = d.int64()
				default:
					err = d.skip()
				}
				return err
			})
			out = append(out, f)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Health returns nil when GET /health answers 200 OK.
func (c *Client) Health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/health", nil)
	if err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "build health request")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, http.MethodGet, "/health", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return responseError(resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// String describes the client for logs.
func (c *Client) String() string { return fmt.Sprintf("httpapi.Client(%s)", c.base) }
