package httpapi

import (
	"net/http"
	"strconv"

	"github.com/loopml/loopml"
)

// This file serves server-side pipeline runs and stored triggers under
// /api/2.0/loopml/pipelines/ (and the /ajax-api mirror):
//
//	POST   pipelines/runs/submit      {"source": {"path"} or {"spec", "dir"}, "set"?, "policy"?} -> {"run"}
//	GET    pipelines/runs/get?id=     -> {"run"}
//	GET    pipelines/runs/list?pipeline=&trigger=&status=&max_results= -> {"runs": [...]} (newest first)
//	POST   pipelines/runs/cancel      {"id", "reason"?} -> {"run"}
//	POST   pipelines/triggers/create  {trigger} -> {"trigger"}
//	GET    pipelines/triggers/get?name= -> {"trigger"}
//	GET    pipelines/triggers/list    -> {"triggers": [...]}
//	DELETE pipelines/triggers/delete  {"name"} or ?name= -> {}
//	POST   pipelines/triggers/fire    {"name"} -> {"run"}: the "API/webhook call" trigger;
//	                                  409 when the trigger's policy is skip and a run is queued or running
//
// Runs and triggers have the JSON members of loopml.PipelineRun and
// loopml.PipelineTrigger. A source's paths are paths on the server.

// pipelineAPI is the part of the Server that serves pipelines.
type pipelineAPI struct {
	svc          loopml.PipelineService
	checkSource  func(*loopml.PipelineSource) (string, error)
	checkTrigger func(*loopml.PipelineTrigger) error
}

func newPipelineAPI(cfg Config) pipelineAPI {
	return pipelineAPI{svc: cfg.Pipelines, checkSource: cfg.CheckPipelineSource, checkTrigger: cfg.CheckPipelineTrigger}
}

// SubmitPipelineRequest is the body of pipelines/runs/submit.
type SubmitPipelineRequest struct {
	Source loopml.PipelineSource `json:"source"`
	Policy string                `json:"policy,omitempty"`
	// Pipeline groups runs for the policy; the server sets it from the
	// spec when it can read it.
	Pipeline string `json:"pipeline,omitempty"`
}

// PipelineTriggerJSON is the wire form of a loopml.PipelineTrigger in a
// create request: Enabled defaults to true.
type PipelineTriggerJSON struct {
	Name              string                `json:"name"`
	Source            loopml.PipelineSource `json:"source"`
	Kind              string                `json:"kind"`
	Schedule          string                `json:"schedule,omitempty"`
	Dataset           string                `json:"dataset,omitempty"`
	Model             string                `json:"model,omitempty"`
	RequireValidation bool                  `json:"require_validation,omitempty"`
	Policy            string                `json:"policy,omitempty"`
	Enabled           *bool                 `json:"enabled,omitempty"`
}

type pipelineNameRequest struct {
	ID     string `json:"id,omitempty"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// registerPipelineRoutes registers the pipeline routes. When the Config
// has no Pipelines they answer 501 NOT_IMPLEMENTED.
func (s *Server) registerPipelineRoutes(mux *http.ServeMux) {
	h := s.ifConfigured(s.pipelines.svc == nil)
	handleLoopml(mux, "POST", "pipelines/runs/submit", h(s.handleSubmitPipelineRun))
	handleLoopml(mux, "GET", "pipelines/runs/get", h(s.handleGetPipelineRun))
	handleLoopml(mux, "GET", "pipelines/runs/list", h(s.handleListPipelineRuns))
	handleLoopml(mux, "POST", "pipelines/runs/cancel", h(s.handleCancelPipelineRun))
	handleLoopml(mux, "POST", "pipelines/triggers/create", h(s.handleCreatePipelineTrigger))
	handleLoopml(mux, "GET", "pipelines/triggers/get", h(s.handleGetPipelineTrigger))
	handleLoopml(mux, "GET", "pipelines/triggers/list", h(s.handleListPipelineTriggers))
	handleLoopml(mux, "DELETE", "pipelines/triggers/delete", h(s.handleDeletePipelineTrigger))
	handleLoopml(mux, "POST", "pipelines/triggers/fire", h(s.handleFirePipelineTrigger))
}

func respondPipelineRun(w http.ResponseWriter, r *loopml.PipelineRun) {
	writeJSONResponse(w, map[string]any{"run": r})
}

func (s *Server) handleSubmitPipelineRun(w http.ResponseWriter, r *http.Request) {
	var q SubmitPipelineRequest
	if err := s.decodeJSON(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := q.Source.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Policy != "" {
		if err := loopml.ValidatePipelinePolicy(q.Policy); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if s.pipelines.checkSource != nil {
		name, err := s.pipelines.checkSource(&q.Source)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		q.Pipeline = name
	}
	run := &loopml.PipelineRun{Pipeline: q.Pipeline, Source: q.Source, Policy: q.Policy,
		StartedBy: "api call by " + loopml.PrincipalFromContext(r.Context())}
	if err := s.pipelines.svc.SubmitPipelineRun(r.Context(), run); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondPipelineRun(w, run)
}

func (s *Server) handleGetPipelineRun(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" {
		s.writeError(w, r, missing("id"))
		return
	}
	run, err := s.pipelines.svc.GetPipelineRun(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondPipelineRun(w, run)
}

func (s *Server) handleListPipelineRuns(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := loopml.PipelineRunQuery{Pipeline: v.Get("pipeline"), Trigger: v.Get("trigger"), Status: v.Get("status")}
	switch q.Status {
	case "", loopml.PipelineQueued, loopml.PipelineRunning, loopml.PipelineSucceeded, loopml.PipelineFailed, loopml.PipelineCancelled:
	default:
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'status': %q, want queued, running, succeeded, failed or cancelled", q.Status))
		return
	}
	if m := v.Get("max_results"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'max_results': %q", m))
			return
		}
		q.MaxResults = n
	}
	runs, err := s.pipelines.svc.ListPipelineRuns(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if runs == nil {
		runs = []*loopml.PipelineRun{}
	}
	writeJSONResponse(w, map[string]any{"runs": runs})
}

func (s *Server) handleCancelPipelineRun(w http.ResponseWriter, r *http.Request) {
	var q pipelineNameRequest
	if err := s.decodeJSON(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.ID == "" {
		s.writeError(w, r, missing("id"))
		return
	}
	run, err := s.pipelines.svc.CancelPipelineRun(r.Context(), q.ID, q.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondPipelineRun(w, run)
}

func (s *Server) handleCreatePipelineTrigger(w http.ResponseWriter, r *http.Request) {
	var q PipelineTriggerJSON
	if err := s.decodeJSON(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	t := &loopml.PipelineTrigger{Name: q.Name, Source: q.Source, Kind: q.Kind, Schedule: q.Schedule, Dataset: q.Dataset,
		Model: q.Model, RequireValidation: q.RequireValidation, Policy: q.Policy, Enabled: q.Enabled == nil || *q.Enabled}
	check := s.pipelines.checkTrigger
	if check == nil {
		check = loopml.ValidatePipelineTrigger
	}
	if err := check(t); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.pipelines.svc.CreatePipelineTrigger(r.Context(), t); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSONResponse(w, map[string]any{"trigger": t})
}

func (s *Server) handleGetPipelineTrigger(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		s.writeError(w, r, missing("name"))
		return
	}
	t, err := s.pipelines.svc.GetPipelineTrigger(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSONResponse(w, map[string]any{"trigger": t})
}

func (s *Server) handleListPipelineTriggers(w http.ResponseWriter, r *http.Request) {
	list, err := s.pipelines.svc.ListPipelineTriggers(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []*loopml.PipelineTrigger{}
	}
	writeJSONResponse(w, map[string]any{"triggers": list})
}

func (s *Server) handleDeletePipelineTrigger(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" && r.ContentLength != 0 {
		var q pipelineNameRequest
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
	if err := s.pipelines.svc.DeletePipelineTrigger(r.Context(), name); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSONResponse(w, map[string]any{})
}

func (s *Server) handleFirePipelineTrigger(w http.ResponseWriter, r *http.Request) {
	var q pipelineNameRequest
	if err := s.decodeJSON(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Name == "" {
		s.writeError(w, r, missing("name"))
		return
	}
	run, err := s.pipelines.svc.FirePipelineTrigger(r.Context(), loopml.PipelineFire{Trigger: q.Name, Start: true,
		StartedBy: "api call by " + loopml.PrincipalFromContext(r.Context())})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondPipelineRun(w, run)
}
