package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/loopml/loopml"
)

// Client methods of the pipeline routes (see pipeline.go). The scheduler
// methods of loopml.PipelineService (claim, heartbeat, finish, expire,
// scan, state moves) are not offered over HTTP: schedulers run inside
// servers, next to the store.

func (c *Client) pipelineRun(ctx context.Context, method, path string, q url.Values, body any) (*loopml.PipelineRun, error) {
	var run loopml.PipelineRun
	if err := c.endpointCall(ctx, method, path, q, body, map[string]any{"run": &run}); err != nil {
		return nil, err
	}
	if run.ID == "" {
		return nil, loopml.Errorf(loopml.EINTERNAL, "%s: the server sent no run", path)
	}
	return &run, nil
}

// SubmitPipelineRun queues a run of the pipeline at src (paths on the
// server) under policy ("": queue).
func (c *Client) SubmitPipelineRun(ctx context.Context, src loopml.PipelineSource, policy string) (*loopml.PipelineRun, error) {
	return c.pipelineRun(ctx, http.MethodPost, "pipelines/runs/submit", nil, SubmitPipelineRequest{Source: src, Policy: policy})
}

// GetPipelineRun returns one server-side pipeline run.
func (c *Client) GetPipelineRun(ctx context.Context, id string) (*loopml.PipelineRun, error) {
	return c.pipelineRun(ctx, http.MethodGet, "pipelines/runs/get", url.Values{"id": {id}}, nil)
}

// ListPipelineRuns lists server-side pipeline runs, newest first.
func (c *Client) ListPipelineRuns(ctx context.Context, q loopml.PipelineRunQuery) ([]*loopml.PipelineRun, error) {
	v := url.Values{}
	for k, s := range map[string]string{"pipeline": q.Pipeline, "trigger": q.Trigger, "status": q.Status} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.MaxResults > 0 {
		v.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	var runs []*loopml.PipelineRun
	err := c.endpointCall(ctx, http.MethodGet, "pipelines/runs/list", v, nil, map[string]any{"runs": &runs})
	return runs, err
}

// CancelPipelineRun cancels a queued run or asks a running one to stop.
func (c *Client) CancelPipelineRun(ctx context.Context, id, reason string) (*loopml.PipelineRun, error) {
	return c.pipelineRun(ctx, http.MethodPost, "pipelines/runs/cancel", nil, pipelineNameRequest{ID: id, Reason: reason})
}

// CreatePipelineTrigger stores a trigger; t is updated with what the
// server filled in.
func (c *Client) CreatePipelineTrigger(ctx context.Context, t *loopml.PipelineTrigger) error {
	en := t.Enabled
	body := PipelineTriggerJSON{Name: t.Name, Source: t.Source, Kind: t.Kind, Schedule: t.Schedule, Dataset: t.Dataset, Model: t.Model,
		RequireValidation: t.RequireValidation, Policy: t.Policy, Enabled: &en}
	var got loopml.PipelineTrigger
	if err := c.endpointCall(ctx, http.MethodPost, "pipelines/triggers/create", nil, body, map[string]any{"trigger": &got}); err != nil {
		return err
	}
	*t = got
	return nil
}

// GetPipelineTrigger returns one stored trigger.
func (c *Client) GetPipelineTrigger(ctx context.Context, name string) (*loopml.PipelineTrigger, error) {
	var t loopml.PipelineTrigger
	if err := c.endpointCall(ctx, http.MethodGet, "pipelines/triggers/get", url.Values{"name": {name}}, nil, map[string]any{"trigger": &t}); err != nil {
		return nil, err
	}
	return &t, nil
}

// ListPipelineTriggers lists the stored triggers of the workspace.
func (c *Client) ListPipelineTriggers(ctx context.Context) ([]*loopml.PipelineTrigger, error) {
	var list []*loopml.PipelineTrigger
	err := c.endpointCall(ctx, http.MethodGet, "pipelines/triggers/list", nil, nil, map[string]any{"triggers": &list})
	return list, err
}

// DeletePipelineTrigger deletes a stored trigger.
func (c *Client) DeletePipelineTrigger(ctx context.Context, name string) error {
	return c.endpointCall(ctx, http.MethodDelete, "pipelines/triggers/delete", url.Values{"name": {name}}, nil, nil)
}

// FirePipelineTrigger starts a run of a trigger now (the API/webhook
// trigger); ECONFLICT when its policy is skip and a run is queued or
// running.
func (c *Client) FirePipelineTrigger(ctx context.Context, name string) (*loopml.PipelineRun, error) {
	return c.pipelineRun(ctx, http.MethodPost, "pipelines/triggers/fire", nil, pipelineNameRequest{Name: name})
}
