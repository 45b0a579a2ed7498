package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/loopml/loopml"
)

// PredictionReader is the read half of loopml.PredictionLog: what the
// API serves about logged predictions. The Client implements it over
// HTTP; every loopml.PredictionLog is a PredictionReader.
type PredictionReader interface {
	GetPrediction(ctx context.Context, endpoint, requestID string) (*loopml.LabeledPrediction, error)
	ListPredictions(ctx context.Context, q loopml.PredictionQuery) ([]*loopml.LabeledPrediction, string, error)
	TargetStats(ctx context.Context, endpoint string, since, until int64) ([]loopml.TargetStats, error)
}

var (
	_ PredictionReader = (*Client)(nil)
	_ PredictionReader = loopml.PredictionLog(nil)
)

// GetPrediction returns the prediction logged for requestID on endpoint,
// with its feedback; ENOTFOUND when none is logged.
func (c *Client) GetPrediction(ctx context.Context, endpoint, requestID string) (*loopml.LabeledPrediction, error) {
	p := &loopml.LabeledPrediction{}
	found := false
	err := c.do(ctx, http.MethodGet, loopmlPrefix+"predictions/get", url.Values{"endpoint": {endpoint}, "request_id": {requestID}}, nil,
		func(d *decoder, key []byte) error {
			if string(key) == "prediction" {
				found = true
				return decodePrediction(d, p)
			}
			return d.skip()
		})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, loopml.Errorf(loopml.EINTERNAL, "predictions/get: the server's answer has no prediction")
	}
	return p, nil
}

// ListPredictions returns one page of the predictions of q.Endpoint and
// the token of the next page ("" at the end).
func (c *Client) ListPredictions(ctx context.Context, q loopml.PredictionQuery) ([]*loopml.LabeledPrediction, string, error) {
	v := url.Values{"endpoint": {q.Endpoint}}
	if q.Target != "" {
		v.Set("target", q.Target)
	}
	if q.Since != 0 {
		v.Set("since", strconv.FormatInt(q.Since, 10))
	}
	if q.Until != 0 {
		v.Set("until", strconv.FormatInt(q.Until, 10))
	}
	if q.MaxResults != 0 {
		v.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	if q.PageToken != "" {
		v.Set("page_token", q.PageToken)
	}
	var out []*loopml.LabeledPrediction
	var next string
	err := c.do(ctx, http.MethodGet, loopmlPrefix+"predictions/list", v, nil, func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "predictions":
			return d.array(func(d *decoder, _ int) error {
				p := &loopml.LabeledPrediction{}
				out = append(out, p)
				return decodePrediction(d, p)
			})
		case "next_page_token":
			next, err = d.str()
			return err
		}
		return d.skip()
	})
	return out, next, err
}

// TargetStats summarises the logged traffic of each target of endpoint
// over [since, until) (epoch ms; until 0 = now).
func (c *Client) TargetStats(ctx context.Context, endpoint string, since, until int64) ([]loopml.TargetStats, error) {
	v := url.Values{"endpoint": {endpoint}, "since": {strconv.FormatInt(since, 10)}, "until": {strconv.FormatInt(until, 10)}}
	var out []loopml.TargetStats
	err := c.do(ctx, http.MethodGet, loopmlPrefix+"predictions/stats", v, nil, func(d *decoder, key []byte) error {
		if string(key) != "targets" {
			return d.skip()
		}
		return d.array(func(d *decoder, _ int) error {
			var t loopml.TargetStats
			err := d.object(func(d *decoder, key []byte) (err error) {
				switch string(key) {
				case "target":
					t.Target, err = d.str()
				case "version":
					t.Version, err = d.str()
				case "requests":
					t.Requests, err = d.int64()
				case "errors":
					t.Errors, err = d.int64()
				case "latency_p50_us":
					t.LatencyP50Us, err = d.float()
				case "latency_p99_us":
					t.LatencyP99Us, err = d.float()
				case "labeled":
					t.Labeled, err = d.int64()
				case "rmse":
					t.RMSE, err = d.float()
				case "mae":
					t.MAE, err = d.float()
				case "mean_reward":
					t.MeanReward, err = d.float()
				default:
					err = d.skip()
				}
				return err
			})
			out = append(out, t)
			return err
		})
	})
	return out, err
}
