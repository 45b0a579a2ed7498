package serving

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// MaxFeedbackBatch bounds the entries of one feedback request.
const MaxFeedbackBatch = 1000

// feedbackItem is one entry of a feedback request.
type feedbackItem struct {
	RequestID *string         `json:"request_id"`
	Label     json.RawMessage `json:"label"`
	Reward    *float64        `json:"reward"`
}

// feedbackRequest is the body of POST /endpoints/{name}/feedback: one
// entry inline, or a batch under "feedback".
type feedbackRequest struct {
	feedbackItem
	Feedback []feedbackItem `json:"feedback"`
}

// decodeFeedback reads a feedback request for endpoint: {"request_id",
// "label": <any JSON but null>} or {"request_id", "reward": <number>}, or
// {"feedback": [...]} of those. Errors are EINVALID and name the field
// ("feedback[2].request_id"). now stamps the entries.
func decodeFeedback(r io.Reader, endpoint string, now int64) ([]*loopml.Feedback, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var req feedbackRequest
	if err := dec.Decode(&req); err != nil {
		return nil, feedbackJSONError(err)
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return nil, loopml.Errorf(loopml.EINVALID, "malformed JSON: data after the request object")
	}
	inline := req.RequestID != nil || req.Label != nil || req.Reward != nil
	var items []feedbackItem
	prefix := func(int) string { return "" }
	switch {
	case req.Feedback != nil && inline:
		return nil, loopml.Errorf(loopml.EINVALID, "feedback: send either one entry (request_id, label|reward) or a batch under \"feedback\", not both")
	case req.Feedback != nil:
		if len(req.Feedback) == 0 {
			return nil, loopml.Errorf(loopml.EINVALID, "feedback must not be empty")
		}
		if len(req.Feedback) > MaxFeedbackBatch {
			return nil, loopml.Errorf(loopml.EINVALID, "feedback holds %d entries: at most %d per request", len(req.Feedback), MaxFeedbackBatch)
		}
		items = req.Feedback
		prefix = func(i int) string { return fmt.Sprintf("feedback[%d].", i) }
	default:
		items = []feedbackItem{req.feedbackItem}
	}
	out := make([]*loopml.Feedback, len(items))
	for i, it := range items {
		p := prefix(i)
		if it.RequestID == nil || *it.RequestID == "" {
			return nil, loopml.Errorf(loopml.EINVALID, "%srequest_id is required", p)
		}
		if len(*it.RequestID) > maxRequestIDLength {
			return nil, loopml.Errorf(loopml.EINVALID, "%srequest_id is longer than %d characters", p, maxRequestIDLength)
		}
		label := strings.TrimSpace(string(it.Label))
		if label == "null" {
			label = ""
		}
		f := &loopml.Feedback{RequestID: *it.RequestID, Endpoint: endpoint, Label: label, Timestamp: now}
		switch {
		case it.Reward != nil && label != "":
			return nil, loopml.Errorf(loopml.EINVALID, "%slabel and reward: send one of them, not both", p)
		case it.Reward != nil:
			f.Reward, f.HasReward = *it.Reward, true
		case label == "":
			return nil, loopml.Errorf(loopml.EINVALID, "%slabel or reward is required", p)
		}
		if err := f.Validate(); err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "%s%s", p, loopml.ErrorMessage(err))
		}
		out[i] = f
	}
	return out, nil
}

// feedbackJSONError turns a decoding error into an EINVALID naming the
// field when there is one.
func feedbackJSONError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return loopml.Errorf(loopml.ETOOLARGE, "request body is larger than %d bytes", mbe.Limit)
	case errors.As(err, &te) && te.Field != "":
		want := te.Type.String()
		switch te.Type.Kind().String() {
		case "float64":
			want = "a number"
		case "string":
			want = "a string"
		case "slice":
			want = "a list"
		}
		return loopml.Errorf(loopml.EINVALID, "%s must be %s, got a JSON %s", te.Field, want, te.Value)
	case errors.As(err, &te):
		return loopml.Errorf(loopml.EINVALID, "the request body must be a JSON object, got a JSON %s", te.Value)
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return loopml.Errorf(loopml.EINVALID, "malformed JSON: %v", err)
	case errors.Is(err, io.EOF):
		return loopml.Errorf(loopml.EINVALID, "the request body is empty: send {\"request_id\", \"label\"} or {\"request_id\", \"reward\"}")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return loopml.Errorf(loopml.EINVALID, "unknown field %s: the fields are request_id, label, reward and feedback",
			strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return loopml.Errorf(loopml.EINVALID, "malformed JSON: %v", err)
}

// handleFeedback serves POST /endpoints/{name}/feedback: ground truth
// (a label or a reward) for logged requests, joined to their predictions
// by request id, late and in any order. It answers {"accepted": n}.
func (g *Gateway) handleFeedback(w http.ResponseWriter, r *http.Request) {
	ep, err := g.endpoint(r.PathValue("name"))
	if err != nil {
		g.writeMLflowError(w, r, err)
		return
	}
	store := g.PredictionLog.Store
	if store == nil {
		g.writeMLflowError(w, r, loopml.Errorf(loopml.ENOTIMPLEMENTED, "feedback needs the prediction log, which is off on this server"))
		return
	}
	fs, err := decodeFeedback(r.Body, ep.spec.Name, time.Now().UnixMilli())
	if err != nil {
		g.writeMLflowError(w, r, err)
		return
	}
	ws := g.PredictionLog.Workspace
	if ws == "" {
		ws = loopml.DefaultWorkspace
	}
	if err := store.LogFeedback(loopml.NewContextWithWorkspace(r.Context(), ws), fs); err != nil {
		g.writeMLflowError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"accepted": len(fs)})
}
