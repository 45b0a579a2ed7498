package httpapi

import (
	"net/http"

	"github.com/loopml/loopml"
)

// This file serves the serving gateway's prediction log under
// /api/2.0/loopml/ (and the /ajax-api mirror), read-only:
//
//	GET predictions/list?endpoint=&since=&until=&target=&max_results=&page_token=
//	    -> {"predictions": [...], "next_page_token"?}   (timestamp order; since/until epoch ms)
//	GET predictions/get?endpoint=&request_id=  -> {"prediction": {...}}
//	GET predictions/stats?endpoint=&since=&until= -> {"targets": [...]}
//
// Each prediction carries its feedback ({"label"} or {"reward"}) when some
// has arrived. Feedback itself is posted to the gateway
// (POST /endpoints/{name}/feedback), next to the predictions it joins.

// registerPredictionRoutes registers the prediction log endpoints. When
// the Config has no Predictions they answer 501 NOT_IMPLEMENTED.
func (s *Server) registerPredictionRoutes(mux *http.ServeMux) {
	h := s.ifConfigured(s.predictions == nil)
	handleLoopml(mux, "GET", "predictions/list", h(s.handleListPredictions))
	handleLoopml(mux, "GET", "predictions/get", h(s.handleGetPrediction))
	handleLoopml(mux, "GET", "predictions/stats", h(s.handleTargetStats))
}

func (s *Server) handleListPredictions(w http.ResponseWriter, r *http.Request) {
	q := query(r.URL.Query())
	if !q.has("endpoint") {
		s.writeError(w, r, missing("endpoint"))
		return
	}
	pq := loopml.PredictionQuery{Endpoint: q.str("endpoint"), Target: q.str("target"), PageToken: q.str("page_token")}
	var err error
	var max int64
	if pq.Since, err = q.int64("since"); err == nil {
		if pq.Until, err = q.int64("until"); err == nil {
			max, err = q.int64("max_results")
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if max < 0 || max > 10_000 {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'max_results' supplied: must be between 1 and 10000", max))
		return
	}
	pq.MaxResults = int(max)
	list, next, err := s.predictions.ListPredictions(r.Context(), pq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size := 0
	for _, p := range list {
		size += len(p.Inputs) + len(p.Outputs) + 256
	}
	respondSized(w, size, func(e *encoder) {
		e.arrayField("predictions")
		for _, p := range list {
			e.beginObject()
			encodePrediction(e, p)
			e.endObject()
		}
		e.endArray()
		e.str("next_page_token", next)
	})
}

func (s *Server) handleGetPrediction(w http.ResponseWriter, r *http.Request) {
	q := query(r.URL.Query())
	for _, f := range []string{"endpoint", "request_id"} {
		if !q.has(f) {
			s.writeError(w, r, missing(f))
			return
		}
	}
	p, err := s.predictions.GetPrediction(r.Context(), q.str("endpoint"), q.str("request_id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.objectField("prediction")
		encodePrediction(e, p)
		e.endObject()
	})
}

func (s *Server) handleTargetStats(w http.ResponseWriter, r *http.Request) {
	q := query(r.URL.Query())
	if !q.has("endpoint") {
		s.writeError(w, r, missing("endpoint"))
		return
	}
	since, err := q.int64("since")
	var until int64
	if err == nil {
		until, err = q.int64("until")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.predictions.TargetStats(r.Context(), q.str("endpoint"), since, until)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.arrayField("targets")
		for _, t := range st {
			e.beginObject()
			e.strAlways("target", t.Target)
			e.str("version", t.Version)
			e.int("requests", t.Requests)
			e.int("errors", t.Errors)
			e.float("latency_p50_us", t.LatencyP50Us)
			e.float("latency_p99_us", t.LatencyP99Us)
			e.int("labeled", t.Labeled)
			e.float("rmse", t.RMSE)
			e.float("mae", t.MAE)
			e.float("mean_reward", t.MeanReward)
			e.endObject()
		}
		e.endArray()
	})
}

func encodePrediction(e *encoder, p *loopml.LabeledPrediction) {
	e.strAlways("request_id", p.RequestID)
	e.str("workspace", p.Workspace)
	e.strAlways("endpoint", p.Endpoint)
	e.str("target", p.Target)
	e.str("model", p.Model)
	e.str("version", p.Version)
	e.boolean("shadow", p.Shadow)
	e.str("protocol", p.Protocol)
	e.int("status", int64(p.Status))
	e.str("error", p.Error)
	e.str("inputs", p.Inputs)
	e.str("outputs", p.Outputs)
	e.boolean("truncated", p.Truncated)
	e.int("latency_us", p.LatencyUs)
	e.int("timestamp", p.Timestamp)
	if f := p.Feedback; f != nil {
		e.objectField("feedback")
		if f.HasReward {
			e.float("reward", f.Reward)
		} else {
			e.strAlways("label", f.Label)
		}
		e.int("timestamp", f.Timestamp)
		e.endObject()
	}
}

func decodePrediction(d *decoder, p *loopml.LabeledPrediction) error {
	err := d.object(func(d *decoder, key []byte) (err error) {
		var n int64
		switch string(key) {
		case "request_id":
			p.RequestID, err = d.str()
		case "workspace":
			p.Workspace, err = d.str()
		case "endpoint":
			p.Endpoint, err = d.str()
		case "target":
			p.Target, err = d.str()
		case "model":
			p.Model, err = d.str()
		case "version":
			p.Version, err = d.str()
		case "shadow":
			p.Shadow, err = d.boolean()
		case "protocol":
			p.Protocol, err = d.str()
		case "status":
			n, err = d.int64()
			p.Status = int(n)
		case "error":
			p.Error, err = d.str()
		case "inputs":
			p.Inputs, err = d.str()
		case "outputs":
			p.Outputs, err = d.str()
		case "truncated":
			p.Truncated, err = d.boolean()
		case "latency_us":
			p.LatencyUs, err = d.int64()
		case "timestamp":
			p.Timestamp, err = d.int64()
		case "feedback":
			f := &loopml.Feedback{}
			err = d.object(func(d *decoder, key []byte) (err error) {
				switch string(key) {
				case "label":
					f.Label, err = d.str()
				case "reward":
					f.Reward, err = d.float()
					f.HasReward = true
				case "timestamp":
					f.Timestamp, err = d.int64()
				default:
					err = d.skip()
				}
				return err
			})
			p.Feedback = f
		default:
			err = d.skip()
		}
		return err
	})
	if f := p.Feedback; f != nil {
		f.RequestID, f.Workspace, f.Endpoint = p.RequestID, p.Workspace, p.Endpoint
	}
	return err
}
