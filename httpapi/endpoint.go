package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/loopml/loopml"
)

// This file serves loopml's serving endpoint management under
// /api/2.0/loopml/endpoints/ (and the /ajax-api mirror):
//
//	POST   endpoints/create          {endpoint} -> {"endpoint"}
//	GET    endpoints/get?name=       -> {"endpoint"}
//	GET    endpoints/list            -> {"endpoints": [...], "generation"}
//	GET    endpoints/generation      -> {"generation"}: cheap polling by serving replicas
//	PATCH  endpoints/update          {endpoint with the "generation" read, "reason"?} -> {"endpoint"};
//	                                 ECONFLICT (RESOURCE_ALREADY_EXISTS) when the generation moved: re-read and retry
//	DELETE endpoints/delete          {"name"} or ?name= -> {}
//	POST   endpoints/rollout/start   {"name", "rollout": {...}} -> {"endpoint"}
//	GET    endpoints/rollout/status?name= -> {"endpoint", "rollout", "step_stats"?}: the current
//	                                 step's traffic per target, from the prediction log when configured
//	POST   endpoints/rollout/abort   {"name", "reason"?} -> {"endpoint"}
//
// An endpoint is {"name", "workspace", "targets": [{"model", "weight"}],
// "shadow": [...], "sticky_header", "default", "rollout", "generation",
// "created_by", "creation_timestamp", "last_updated_timestamp"}; a rollout
// has the members of loopml.Rollout's JSON tags. These low-traffic
// management routes use encoding/json rather than the hand-written codec
// of the tracking hot paths.

// EndpointJSON is the wire form of a loopml.Endpoint.
type EndpointJSON struct {
	Name                 string                  `json:"name"`
	Workspace            string                  `json:"workspace,omitempty"`
	Targets              []loopml.EndpointTarget `json:"targets"`
	Shadow               []loopml.EndpointTarget `json:"shadow,omitempty"`
	StickyHeader         string                  `json:"sticky_header,omitempty"`
	Default              bool                    `json:"default,omitempty"`
	Rollout              *loopml.Rollout         `json:"rollout,omitempty"`
	Generation           int64                   `json:"generation,omitempty"`
	CreatedBy            string                  `json:"created_by,omitempty"`
	CreationTimestamp    int64                   `json:"creation_timestamp,omitempty"`
	LastUpdatedTimestamp int64                   `json:"last_updated_timestamp,omitempty"`
}

// ToEndpointJSON converts e to its wire form.
func ToEndpointJSON(e *loopml.Endpoint) EndpointJSON {
	return EndpointJSON{
		Name: e.Name, Workspace: e.Workspace, Targets: e.Targets, Shadow: e.Shadow, StickyHeader: e.StickyHeader,
		Default: e.Default, Rollout: e.Rollout, Generation: e.Generation, CreatedBy: e.CreatedBy,
		CreationTimestamp: e.CreationTimestamp, LastUpdatedTimestamp: e.LastUpdatedTimestamp,
	}
}

// Endpoint converts the wire form to a loopml.Endpoint.
func (j EndpointJSON) Endpoint() *loopml.Endpoint {
	return &loopml.Endpoint{
		Name: j.Name, Workspace: j.Workspace, Targets: j.Targets, Shadow: j.Shadow, StickyHeader: j.StickyHeader,
		Default: j.Default, Rollout: j.Rollout, Generation: j.Generation, CreatedBy: j.CreatedBy,
		CreationTimestamp: j.CreationTimestamp, LastUpdatedTimestamp: j.LastUpdatedTimestamp,
	}
}

// endpointRequest is the union of the endpoint request messages.
type endpointRequest struct {
	EndpointJSON
	Reason string `json:"reason,omitempty"`
}

// rolloutRequest is the body of rollout/start and rollout/abort.
type rolloutRequest struct {
	Name    string          `json:"name"`
	Rollout *loopml.Rollout `json:"rollout,omitempty"`
	Reason  string          `json:"reason,omitempty"`
}

// registerEndpointRoutes registers the endpoint routes. When the Config has
// no Endpoints they answer 501 NOT_IMPLEMENTED.
func (s *Server) registerEndpointRoutes(mux *http.ServeMux) {
	h := s.ifConfigured(s.endpoints == nil)
	handleLoopml(mux, "POST", "endpoints/create", h(s.handleCreateEndpoint))
	handleLoopml(mux, "GET", "endpoints/get", h(s.handleGetEndpoint))
	handleLoopml(mux, "GET", "endpoints/list", h(s.handleListEndpoints))
	handleLoopml(mux, "GET", "endpoints/generation", h(s.handleEndpointsGeneration))
	handleLoopml(mux, "PATCH", "endpoints/update", h(s.handleUpdateEndpoint))
	handleLoopml(mux, "DELETE", "endpoints/delete", h(s.handleDeleteEndpoint))
	handleLoopml(mux, "POST", "endpoints/rollout/start", h(s.handleStartRollout))
	handleLoopml(mux, "GET", "endpoints/rollout/status", h(s.handleRolloutStatus))
	handleLoopml(mux, "POST", "endpoints/rollout/abort", h(s.handleAbortRollout))
}

// decodeJSON reads r's body (bounded by the body limit) into v. Unknown
// members are refused, so a misspelt field is an error naming it.
func (s *Server) decodeJSON(r *http.Request, v any) error {
	bp := getBuf()
	defer putBuf(bp)
	if err := readBody(r.Body, s.maxBody, bp); err != nil {
		return err
	}
	return unmarshalStrict(*bp, v)
}

func unmarshalStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return loopml.Errorf(loopml.EINVALID, "request body is empty: want a JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return loopml.Errorf(loopml.EINVALID, "Invalid value for parameter '%s': want %s", te.Field, te.Type)
		}
		return loopml.Errorf(loopml.EINVALID, "malformed JSON request: %v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return loopml.Errorf(loopml.EINVALID, "malformed JSON request: data after the object")
	}
	return nil
}

// writeJSONResponse writes a 200 JSON response.
func writeJSONResponse(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func respondEndpoint(w http.ResponseWriter, e *loopml.Endpoint) {
	writeJSONResponse(w, map[string]any{"endpoint": ToEndpointJSON(e)})
}

func (s *Server) handleCreateEndpoint(w http.ResponseWriter, r *http.Request) {
	var q endpointRequest
	if err := s.decodeJSON(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	e := q.Endpoint()
	if e.Rollout != nil {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'rollout': start a rollout with endpoints/rollout/start"))
		return
	}
	if err := s.endpoints.CreateEndpoint(r.Context(), e); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEndpoint(w, e)
}

// queryEndpoint reads the endpoint named by ?name=, or answers the error
// and returns false.
func (s *Server) queryEndpoint(w http.ResponseWriter, r *http.Request) (*loopml.Endpoint, bool) {
	name := r.URL.Query().Get("name")
	if name == "" {
		s.writeError(w, r, missing("name"))
		return nil, false
	}
	e, err := s.endpoints.GetEndpoint(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	return e, true
}

func (s *Server) handleGetEndpoint(w http.ResponseWriter, r *http.Request) {
	e, ok := s.queryEndpoint(w, r)
	if !ok {
		return
	}
	respondEndpoint(w, e)
}

func (s *Server) handleListEndpoints(w http.ResponseWriter, r *http.Request) {
	// The generation is read first: a poller that lists after seeing a
	// new generation gets a list at least that new.
	g, err := s.endpoints.EndpointsGeneration(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.endpoints.ListEndpoints(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]EndpointJSON, len(list))
	for i, e := range list {
		out[i] = ToEndpointJSON(e)
	}
	writeJSONResponse(w, map[string]any{"endpoints": out, "generation": g})
}

func (s *Server) handleEndpointsGeneration(w http.ResponseWriter, r *http.Request) {
	g, err := s.endpoints.EndpointsGeneration(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSONResponse(w, map[string]int64{"generation": g})
}

func (s *Server) handleUpdateEndpoint(w http.ResponseWriter, r *http.Request) {
	var q endpointRequest
	if err := s.decodeJSON(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Name == "" {
		s.writeError(w, r, missing("name"))
		return
	}
	if q.Generation <= 0 {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Missing value for parameter 'generation': send the generation you read (optimistic concurrency)"))
		return
	}
	e := q.Endpoint()
	// A rollout is changed only through the rollout routes: keep the
	// stored one (the compare-and-set guarantees it is the one read).
	cur, err := s.endpoints.GetEndpoint(r.Context(), q.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e.Rollout = cur.Rollout
	if cur.Rollout.Active() && !slices.Equal(cur.Targets, e.Targets) {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'targets': endpoint %q has a rollout in progress that sets its targets; abort it first (endpoints/rollout/abort)", q.Name))
		return
	}
	if err := s.endpoints.UpdateEndpoint(r.Context(), e, loopml.EndpointChange{Event: loopml.EventEndpointUpdated, Reason: q.Reason}); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEndpoint(w, e)
}

func (s *Server) handleDeleteEndpoint(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" && r.ContentLength != 0 {
		var q struct {
			Name string `json:"name"`
		}
		if err := s.decodeJSON(r, &q); err != nil {
			s.writeError(w, r, err)
			return
		}
		name = q.Name
	}
	if name == "" {
		s.writeError(w, r, missing("name"))
		return
	}
	if err := s.endpoints.DeleteEndpoint(r.Context(), name); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

func (s *Server) handleStartRollout(w http.ResponseWriter, r *http.Request) {
	var q rolloutRequest
	if err := s.decodeJSON(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Name == "" {
		s.writeError(w, r, missing("name"))
		return
	}
	if q.Rollout == nil {
		s.writeError(w, r, missing("rollout"))
		return
	}
	e, err := loopml.StartEndpointRollout(r.Context(), s.endpoints, q.Name, *q.Rollout, time.Now().UnixMilli())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEndpoint(w, e)
}

func (s *Server) handleRolloutStatus(w http.ResponseWriter, r *http.Request) {
	e, ok := s.queryEndpoint(w, r)
	if !ok {
		return
	}
	if e.Rollout == nil {
		s.writeError(w, r, loopml.Errorf(loopml.ENOTFOUND, "endpoint %q has no rollout", e.Name))
		return
	}
	resp := map[string]any{"endpoint": ToEndpointJSON(e), "rollout": e.Rollout}
	if s.predictions != nil && e.Rollout.Active() && e.Rollout.Step >= 0 {
		// The traffic of the current step, from the prediction log; a
		// failure to read it does not hide the rollout.
		if st, err := s.predictions.TargetStats(r.Context(), e.Name, e.Rollout.StepStartedAt, 0); err == nil {
			out := make([]TargetStatsJSON, len(st))
			for i, t := range st {
				out[i] = TargetStatsJSON(t)
			}
			resp["step_stats"] = out
		}
	}
	writeJSONResponse(w, resp)
}

// TargetStatsJSON is the wire form of loopml.TargetStats in the rollout
// status.
type TargetStatsJSON struct {
	Target       string  `json:"target"`
	Version      string  `json:"version,omitempty"`
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	LatencyP50Us float64 `json:"latency_p50_us"`
	LatencyP99Us float64 `json:"latency_p99_us"`
	Labeled      int64   `json:"labeled,omitempty"`
	RMSE         float64 `json:"rmse,omitempty"`
	MAE          float64 `json:"mae,omitempty"`
	MeanReward   float64 `json:"mean_reward,omitempty"`
}

func (s *Server) handleAbortRollout(w http.ResponseWriter, r *http.Request) {
	var q rolloutRequest
	if err := s.decodeJSON(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Name == "" {
		s.writeError(w, r, missing("name"))
		return
	}
	e, err := loopml.AbortEndpointRollout(r.Context(), s.endpoints, q.Name, q.Reason, time.Now().UnixMilli())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEndpoint(w, e)
}
