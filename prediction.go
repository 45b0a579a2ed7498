package loopml

import (
	"context"
	"encoding/json"
	"math"
)

// Prediction is one logged request to a serving endpoint: what came in,
// what went out, which model version answered, and how long it took. The
// gateway logs predictions asynchronously; a prediction may be sampled out
// or dropped when the log queue is full, never delaying the response.
type Prediction struct {
	// RequestID is the X-Request-Id of the request (accepted or
	// generated); unique per endpoint. Feedback joins on it.
	RequestID string
	Workspace string
	Endpoint  string
	// Target is the model reference of the endpoint target that answered
	// (e.g. "models:/recs@champion"); Model and Version the resolved
	// version.
	Target  string
	Model   string
	Version string
	// Shadow is true for a mirrored request answered by a shadow target
	// (its response was logged, not returned).
	Shadow bool
	// Protocol is "invocations", "infer" or "recommend".
	Protocol string
	// Status is the HTTP status returned (or that would have been, for a
	// shadow); Error its message when Status >= 400.
	Status int
	Error  string
	// Inputs and Outputs are JSON documents, truncated to the log's size
	// limit (Truncated is then true).
	Inputs    string
	Outputs   string
	Truncated bool
	LatencyUs int64 // time to answer, microseconds
	Timestamp int64 // epoch ms of the request
}

// Feedback is ground truth for one logged prediction: a label (the true
// value, e.g. the rating the user gave) or a reward (e.g. 1 for a click).
// Feedback may arrive late and out of order, before or after the
// prediction is written; the latest feedback for a request wins.
type Feedback struct {
	RequestID string
	Workspace string
	Endpoint  string
	// Label is a JSON value (number, string, array); "" when Reward is set.
	Label string
	// Reward is set when HasReward is true.
	Reward    float64
	HasReward bool
	Timestamp int64 // epoch ms when the feedback was received
}

// PredictionQuery selects logged predictions of one endpoint with
// Timestamp in [Since, Until) (0 = unbounded), optionally only those of one
// target, in (Timestamp, RequestID) order after the page token.
type PredictionQuery struct {
	Endpoint   string
	Target     string
	Since      int64
	Until      int64
	MaxResults int // 0 = 1000
	PageToken  string
}

// LabeledPrediction is a logged prediction with the feedback joined to it,
// if any has arrived.
type LabeledPrediction struct {
	Prediction
	Feedback *Feedback // nil when no feedback yet
}

// TargetStats summarises the logged traffic of one endpoint target over a
// time window: what a canary rollout compares between the old and the new
// target.
type TargetStats struct {
	Target  string // the endpoint target's model reference
	Version string // the model version that answered most of its requests
	// Requests and Errors count non-shadow predictions; Errors are those
	// with Status >= 500.
	Requests int64
	Errors   int64
	// LatencyP50Us and LatencyP99Us are latency quantiles, microseconds.
	LatencyP50Us float64
	LatencyP99Us float64
	// Labeled counts predictions with feedback; when > 0, RMSE and MAE are
	// computed over numeric labels against numeric outputs, and
	// MeanReward over rewards.
	Labeled    int64
	RMSE       float64
	MAE        float64
	MeanReward float64
}

// PredictionLog stores logged predictions and the feedback joined to them.
// Safe for concurrent use; every method works in the workspace of ctx.
type PredictionLog interface {
	// LogPredictions stores a batch of predictions (one transaction).
	// A prediction whose (endpoint, request id) is already stored is
	// ignored (the log is idempotent under retries).
	LogPredictions(ctx context.Context, ps []*Prediction) error
	// LogFeedback stores feedback; a later feedback for the same request
	// replaces an earlier one. Feedback for a request not (yet) logged is
	// kept and joins when the prediction arrives. EINVALID for a missing
	// request id or a feedback with neither label nor reward.
	LogFeedback(ctx context.Context, fs []*Feedback) error
	// GetPrediction returns one prediction with its feedback; ENOTFOUND.
	GetPrediction(ctx context.Context, endpoint, requestID string) (*LabeledPrediction, error)
	// ListPredictions pages through predictions with their feedback.
	ListPredictions(ctx context.Context, q PredictionQuery) ([]*LabeledPrediction, string, error)
	// TargetStats summarises each target of endpoint over [since, until)
	// (epoch ms; until 0 = now), one entry per target seen, by Target.
	TargetStats(ctx context.Context, endpoint string, since, until int64) ([]TargetStats, error)
	// DeletePredictions deletes predictions (and their feedback) older
	// than before (epoch ms), returning how many were deleted: retention.
	DeletePredictions(ctx context.Context, endpoint string, before int64) (int64, error)
}

// Validate checks one feedback: request id and endpoint set, and either a
// finite reward or a label that is a JSON value. EINVALID naming the field.
func (f *Feedback) Validate() error {
	switch {
	case f.RequestID == "":
		return Errorf(EINVALID, "request_id is required")
	case f.Endpoint == "":
		return Errorf(EINVALID, "endpoint is required")
	case f.HasReward:
		if math.IsNaN(f.Reward) || math.IsInf(f.Reward, 0) {
			return Errorf(EINVALID, "reward must be a finite number")
		}
	case f.Label == "":
		return Errorf(EINVALID, "label or reward is required")
	case !json.Valid([]byte(f.Label)):
		return Errorf(EINVALID, "label must be a JSON value")
	}
	return nil
}
