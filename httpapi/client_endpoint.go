package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/loopml/loopml"
)

var _ loopml.EndpointService = (*Client)(nil)

// endpointCall sends body (JSON-encoded, nil for none) with method to one
// of the endpoint routes and decodes the answer into out (nil: ignored).
func (c *Client) endpointCall(ctx context.Context, method, path string, q url.Values, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return loopml.WrapError(loopml.EINVALID, err, "encode request of %s", path)
		}
	}
	return c.do(ctx, method, loopmlPrefix+path, q, b, func(d *decoder, key []byte) error {
		raw, err := d.raw()
		if err != nil || out == nil {
			return err
		}
		// Re-assemble the member into the target struct: out is a map of
		// member name to destination.
		dst, ok := out.(map[string]any)[string(key)]
		if !ok {
			return nil
		}
		return json.Unmarshal(raw, dst)
	})
}

// endpointResult decodes {"endpoint": {...}}.
func (c *Client) endpointResult(ctx context.Context, method, path string, q url.Values, body any) (*loopml.Endpoint, error) {
	var j EndpointJSON
	if err := c.endpointCall(ctx, method, path, q, body, map[string]any{"endpoint": &j}); err != nil {
		return nil, err
	}
	if j.Name == "" {
		return nil, loopml.Errorf(loopml.EINTERNAL, "%s: the server sent no endpoint", path)
	}
	return j.Endpoint(), nil
}

// CreateEndpoint implements loopml.EndpointService.
func (c *Client) CreateEndpoint(ctx context.Context, e *loopml.Endpoint) error {
	if e == nil {
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'endpoint'")
	}
	got, err := c.endpointResult(ctx, http.MethodPost, "endpoints/create", nil, ToEndpointJSON(e))
	if err != nil {
		return err
	}
	*e = *got
	return nil
}

// GetEndpoint implements loopml.EndpointService.
func (c *Client) GetEndpoint(ctx context.Context, name string) (*loopml.Endpoint, error) {
	return c.endpointResult(ctx, http.MethodGet, "endpoints/get", url.Values{"name": {name}}, nil)
}

// ListEndpoints implements loopml.EndpointService.
func (c *Client) ListEndpoints(ctx context.Context) ([]*loopml.Endpoint, error) {
	list, _, err := c.ListEndpointsWithGeneration(ctx)
	return list, err
}

// ListEndpointsWithGeneration returns the endpoints and the generation
// they are at least as new as (read by the server before the list).
func (c *Client) ListEndpointsWithGeneration(ctx context.Context) ([]*loopml.Endpoint, int64, error) {
	var js []EndpointJSON
	var g int64
	if err := c.endpointCall(ctx, http.MethodGet, "endpoints/list", nil, nil, map[string]any{"endpoints": &js, "generation": &g}); err != nil {
		return nil, 0, err
	}
	out := make([]*loopml.Endpoint, len(js))
	for i, j := range js {
		out[i] = j.Endpoint()
	}
	return out, g, nil
}

// UpdateEndpoint implements loopml.EndpointService. The server keeps the
// stored rollout: rollouts change through StartEndpointRollout and
// AbortEndpointRollout (or the server's rollout controller).
func (c *Client) UpdateEndpoint(ctx context.Context, e *loopml.Endpoint, ch loopml.EndpointChange) error {
	if e == nil {
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'endpoint'")
	}
	got, err := c.endpointResult(ctx, http.MethodPatch, "endpoints/update", nil, endpointRequest{EndpointJSON: ToEndpointJSON(e), Reason: ch.Reason})
	if err != nil {
		return err
	}
	*e = *got
	return nil
}

// DeleteEndpoint implements loopml.EndpointService.
func (c *Client) DeleteEndpoint(ctx context.Context, name string) error {
	return c.endpointCall(ctx, http.MethodDelete, "endpoints/delete", nil, map[string]string{"name": name}, nil)
}

// EndpointsGeneration implements loopml.EndpointService.
func (c *Client) EndpointsGeneration(ctx context.Context) (int64, error) {
	var g int64
	err := c.endpointCall(ctx, http.MethodGet, "endpoints/generation", nil, nil, map[string]any{"generation": &g})
	return g, err
}

// StartEndpointRollout starts a rollout on endpoint name (see
// loopml.StartRollout) and returns the endpoint as it is now.
func (c *Client) StartEndpointRollout(ctx context.Context, name string, r loopml.Rollout) (*loopml.Endpoint, error) {
	return c.endpointResult(ctx, http.MethodPost, "endpoints/rollout/start", nil, rolloutRequest{Name: name, Rollout: &r})
}

// AbortEndpointRollout stops the active rollout of endpoint name.
func (c *Client) AbortEndpointRollout(ctx context.Context, name, reason string) (*loopml.Endpoint, error) {
	return c.endpointResult(ctx, http.MethodPost, "endpoints/rollout/abort", nil, rolloutRequest{Name: name, Reason: reason})
}

// RolloutStatus returns endpoint name with its rollout (ENOTFOUND when it
// has none) and the traffic of the current step per target, when the
// server has a prediction log and the rollout is running.
func (c *Client) RolloutStatus(ctx context.Context, name string) (*loopml.Endpoint, []loopml.TargetStats, error) {
	var j EndpointJSON
	var st []TargetStatsJSON
	if err := c.endpointCall(ctx, http.MethodGet, "endpoints/rollout/status", url.Values{"name": {name}}, nil, map[string]any{"endpoint": &j, "step_stats": &st}); err != nil {
		return nil, nil, err
	}
	out := make([]loopml.TargetStats, len(st))
	for i, t := range st {
		out[i] = loopml.TargetStats(t)
	}
	return j.Endpoint(), out, nil
}
