package httpapi

import (
	"context"
	"net/http"

	"github.com/loopml/loopml"
)

func (s *Server) registerRunRoutes(mux *http.ServeMux) {
	handle(mux, "POST", "runs/create", s.handleCreateRun)
	handle(mux, "GET", "runs/get", s.handleGetRun)
	handle(mux, "POST", "runs/update", s.handleUpdateRun)
	handle(mux, "POST", "runs/delete", s.runAction(func(ctx context.Context, id string) error { return s.runs.DeleteRun(ctx, id) }))
	handle(mux, "POST", "runs/restore", s.runAction(func(ctx context.Context, id string) error { return s.runs.RestoreRun(ctx, id) }))
	handle(mux, "POST", "runs/search", s.handleSearchRuns)
	handle(mux, "POST", "runs/log-parameter", s.handleLogParam)
	handle(mux, "POST", "runs/set-tag", s.handleSetTag)
	handle(mux, "POST", "runs/delete-tag", s.handleDeleteTag)
	handle(mux, "POST", "runs/log-inputs", s.handleLogInputs)
}

// runRef is the run_id / deprecated run_uuid pair most run requests carry;
// either may be sent.
type runRef struct {
	runID   string
	runUUID string
}

// field reads run_id and run_uuid; it reports false for other keys.
func (q *runRef) field(d *decoder, key []byte) (bool, error) {
	var err error
	switch string(key) {
	case "run_id":
		q.runID, err = d.id()
	case "run_uuid":
		q.runUUID, err = d.id()
	default:
		return false, nil
	}
	return true, err
}

// id returns the run id, or a missing-parameter error.
func (q *runRef) id() (string, error) {
	if q.runID != "" {
		return q.runID, nil
	}
	if q.runUUID != "" {
		return q.runUUID, nil
	}
	return "", missing("run_id")
}

// runIDFromQuery reads run_id or run_uuid from a GET query.
func runIDFromQuery(q query) (string, error) {
	ref := runRef{runID: q.str("run_id"), runUUID: q.str("run_uuid")}
	return ref.id()
}

// createRunRequest is MLflow's CreateRun.
type createRunRequest struct {
	experimentID string
	userID       string
	runName      string
	startTime    int64
	tags         []loopml.Tag
}

func (q *createRunRequest) field(d *decoder, key []byte) (err error) {
	switch string(key) {
	case "experiment_id":
		q.experimentID, err = d.id()
	case "user_id":
		q.userID, err = d.str()
	case "run_name":
		q.runName, err = d.str()
	case "start_time":
		q.startTime, err = d.int64()
	case "tags":
		err = decodeTags(d, &q.tags)
	default:
		err = d.skip()
	}
	return err
}

func (s *Server) handleCreateRun(w http.ResponseWriter, r *http.Request) {
	var q createRunRequest
	if err := s.decode(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.experimentID == "" {
		// MLflow clients that omit it mean the default experiment.
		q.experimentID = loopml.DefaultExperimentID
	}
	run := &loopml.Run{
		ExperimentID: q.experimentID,
		Name:         q.runName,
		UserID:       q.userID,
		StartTime:    q.startTime,
		Tags:         q.tags,
	}
	if err := s.runs.CreateRun(r.Context(), run); err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.objectField("run")
		encodeRun(e, run)
		e.endObject()
	})
}

func (s *Server) handleGetRun(w http.ResponseWriter, r *http.Request) {
	id, err := runIDFromQuery(query(r.URL.Query()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	run, err := s.runs.GetRun(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.objectField("run")
		encodeRun(e, run)
		e.endObject()
	})
}

// updateRunRequest is MLflow's UpdateRun.
type updateRunRequest struct {
	runRef
	status     int
	hasEndTime bool
	endTime    int64
	runName    string
}

func (q *updateRunRequest) field(d *decoder, key []byte) (err error) {
	if ok, err := q.runRef.field(d, key); ok {
		return err
	}
	switch string(key) {
	case "status":
		q.status, err = d.enum(runStatusNames)
	case "end_time":
		q.hasEndTime = d.peek() != 'n'
		q.endTime, err = d.int64()
	case "run_name":
		q.runName, err = d.str()
	default:
		err = d.skip()
	}
	return err
}

func (s *Server) handleUpdateRun(w http.ResponseWriter, r *http.Request) {
	var q updateRunRequest
	if err := s.decode(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := q.id()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var u loopml.RunUpdate
	if q.status != 0 {
		u.Status = &runStatusNames[q.status]
	}
	if q.hasEndTime {
		u.EndTime = &q.endTime
	}
	if q.runName != "" {
		u.Name = &q.runName
	}
	run, err := s.runs.UpdateRun(r.Context(), id, u)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.objectField("run_info")
		encodeRunInfo(e, run)
		e.endObject()
	})
}

// runIDRequest is MLflow's DeleteRun and RestoreRun.
type runIDRequest struct{ runRef }

func (q *runIDRequest) field(d *decoder, key []byte) error {
	if ok, err := q.runRef.field(d, key); ok {
		return err
	}
	return d.skip()
}

// runAction handles runs/delete and runs/restore: decode {"run_id"} (or
// run_uuid), call fn, answer {}.
func (s *Server) runAction(fn func(context.Context, string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q runIDRequest
		err := s.decode(r, &q)
		var id string
		if err == nil {
			id, err = q.id()
		}
		if err == nil {
			err = fn(r.Context(), id)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		respondEmpty(w)
	}
}

// searchRunsRequest is MLflow's SearchRuns.
type searchRunsRequest struct {
	experimentIDs []string
	filter        string
	viewType      int
	maxResults    int64
	orderBy       []string
	pageToken     string
}

func (q *searchRunsRequest) field(d *decoder, key []byte) (err error) {
	switch string(key) {
	case "experiment_ids":
		err = d.idList(&q.experimentIDs)
	case "filter":
		q.filter, err = d.str()
	case "run_view_type":
		q.viewType, err = d.enum(viewTypeNames)
	case "max_results":
		q.maxResults, err = d.int64()
	case "order_by":
		err = d.strList(&q.orderBy)
	case "page_token":
		q.pageToken, err = d.str()
	default:
		err = d.skip()
	}
	return err
}

func (s *Server) handleSearchRuns(w http.ResponseWriter, r *http.Request) {
	var q searchRunsRequest
	if err := s.decode(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.maxResults < 0 {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'max_results' supplied: it must be a positive integer", q.maxResults))
		return
	}
	runs, next, err := s.runs.SearchRuns(r.Context(), loopml.RunSearch{
		ExperimentIDs: q.experimentIDs,
		Filter:        q.filter,
		OrderBy:       q.orderBy,
		ViewType:      viewTypeFromProto(q.viewType),
		MaxResults:    clampInt(q.maxResults),
		PageToken:     q.pageToken,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		if len(runs) > 0 {
			e.arrayField("runs")
			for _, run := range runs {
				e.beginObject()
				encodeRun(e, run)
				e.endObject()
			}
			e.endArray()
		}
		e.str("next_page_token", next)
	})
}

// keyValueRequest is MLflow's LogParam, SetTag and DeleteTag.
type keyValueRequest struct {
	runRef
	key      string
	value    string
	hasValue bool
}

func (q *keyValueRequest) field(d *decoder, key []byte) (err error) {
	if ok, err := q.runRef.field(d, key); ok {
		return err
	}
	switch string(key) {
	case "key":
		q.key, err = d.str()
	case "value":
		q.hasValue = d.peek() != 'n'
		q.value, err = d.str()
	default:
		err = d.skip()
	}
	return err
}

// decodeKeyValue reads a LogParam/SetTag request and checks its required
// fields.
func (s *Server) decodeKeyValue(r *http.Request, needValue bool) (string, *keyValueRequest, error) {
	var q keyValueRequest
	if err := s.decode(r, &q); err != nil {
		return "", nil, err
	}
	id, err := q.id()
	if err != nil {
		return "", nil, err
	}
	if q.key == "" {
		return "", nil, missing("key")
	}
	if needValue && !q.hasValue {
		return "", nil, missing("value")
	}
	return id, &q, nil
}

func (s *Server) handleLogParam(w http.ResponseWriter, r *http.Request) {
	id, q, err := s.decodeKeyValue(r, true)
	if err == nil {
		err = s.runs.LogBatch(r.Context(), id, loopml.Batch{Params: []loopml.Param{{Key: q.key, Value: q.value}}})
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

func (s *Server) handleSetTag(w http.ResponseWriter, r *http.Request) {
	id, q, err := s.decodeKeyValue(r, true)
	if err == nil {
		err = s.runs.LogBatch(r.Context(), id, loopml.Batch{Tags: []loopml.Tag{{Key: q.key, Value: q.value}}})
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

func (s *Server) handleDeleteTag(w http.ResponseWriter, r *http.Request) {
	id, q, err := s.decodeKeyValue(r, false)
	if err == nil {
		err = s.runs.DeleteTag(r.Context(), id, q.key)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

// logInputsRequest is MLflow's LogInputs.
type logInputsRequest struct {
	runRef
	datasets []loopml.DatasetInput
}

func (q *logInputsRequest) field(d *decoder, key []byte) (err error) {
	if ok, err := q.runRef.field(d, key); ok {
		return err
	}
	switch string(key) {
	case "datasets":
		err = decodeDatasetInputs(d, &q.datasets)
	default:
		err = d.skip()
	}
	return err
}

func (s *Server) handleLogInputs(w http.ResponseWriter, r *http.Request) {
	var q logInputsRequest
	if err := s.decode(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := q.id()
	if err == nil {
		err = checkDatasetInputs(q.datasets)
	}
	if err == nil {
		err = s.runs.LogInputs(r.Context(), id, q.datasets)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

// checkDatasetInputs enforces the fields service.proto marks required.
func checkDatasetInputs(in []loopml.DatasetInput) error {
	if len(in) > loopml.MaxDatasetInputsPerLog {
		return loopml.Errorf(loopml.EINVALID, "A log-inputs request can contain at most %d datasets. Got %d datasets.", loopml.MaxDatasetInputsPerLog, len(in))
	}
	for i, di := range in {
		ds := di.Dataset
		for _, f := range []struct{ name, v string }{
			{"name", ds.Name}, {"digest", ds.Digest}, {"source_type", ds.SourceType}, {"source", ds.Source},
		} {
			if f.v == "" {
				return loopml.Errorf(loopml.EINVALID, "Missing value for parameter 'datasets[%d].dataset.%s'", i, f.name)
			}
		}
		for j, t := range di.Tags {
			if t.Key == "" {
				return loopml.Errorf(loopml.EINVALID, "Missing value for parameter 'datasets[%d].tags[%d].key'", i, j)
			}
		}
	}
	return nil
}

// encodeRun writes the members of an MLflow Run: info, data (metrics,
// params, tags as lists of {key, value}) and inputs.dataset_inputs.
func encodeRun(e *encoder, r *loopml.Run) {
	e.objectField("info")
	encodeRunInfo(e, r)
	e.endObject()

	e.objectField("data")
	if len(r.Metrics) > 0 {
		e.arrayField("metrics")
		for i := range r.Metrics {
			e.beginObject()
			encodeMetric(e, &r.Metrics[i])
			e.endObject()
		}
		e.endArray()
	}
	if len(r.Params) > 0 {
		e.arrayField("params")
		for _, p := range r.Params {
			e.beginObject()
			e.strAlways("key", p.Key)
			e.strAlways("value", p.Value)
			e.endObject()
		}
		e.endArray()
	}
	encodeTagList(e, "tags", r.Tags)
	e.endObject()

	e.objectField("inputs")
	if len(r.Inputs) > 0 {
		e.arrayField("dataset_inputs")
		for i := range r.Inputs {
			e.beginObject()
			encodeDatasetInput(e, &r.Inputs[i])
			e.endObject()
		}
		e.endArray()
	}
	e.endObject()
}

// encodeRunInfo writes the members of an MLflow RunInfo; run_id and the
// deprecated run_uuid carry the same value.
func encodeRunInfo(e *encoder, r *loopml.Run) {
	e.str("run_id", r.ID)
	e.str("run_uuid", r.ID)
	e.str("run_name", r.Name)
	e.str("experiment_id", r.ExperimentID)
	e.str("user_id", r.UserID)
	e.str("status", r.Status)
	e.int("start_time", r.StartTime)
	e.intNZ("end_time", r.EndTime)
	e.str("artifact_uri", r.ArtifactURI)
	e.str("lifecycle_stage", r.LifecycleStage)
}

func encodeDatasetInput(e *encoder, in *loopml.DatasetInput) {
	encodeTagList(e, "tags", in.Tags)
	e.objectField("dataset")
	ds := &in.Dataset
	e.str("name", ds.Name)
	e.str("digest", ds.Digest)
	e.str("source_type", ds.SourceType)
	e.str("source", ds.Source)
	e.str("schema", ds.Schema)
	e.str("profile", ds.Profile)
	e.endObject()
}

// decodeRun reads an MLflow Run.
func decodeRun(d *decoder, r *loopml.Run) error {
	return d.object(func(d *decoder, key []byte) error {
		switch string(key) {
		case "info":
			return decodeRunInfo(d, r)
		case "data":
			return d.object(func(d *decoder, key []byte) error {
				switch string(key) {
				case "metrics":
					return decodeMetrics(d, &r.Metrics)
				case "params":
					return d.array(func(d *decoder, _ int) error {
						var p loopml.Param
						err := d.object(func(d *decoder, key []byte) (err error) {
							switch string(key) {
							case "key":
								p.Key, err = d.str()
							case "value":
								p.Value, err = d.str()
							default:
								err = d.skip()
							}
							return err
						})
						r.Params = append(r.Params, p)
						return err
					})
				case "tags":
					return decodeTags(d, &r.Tags)
				}
				return d.skip()
			})
		case "inputs":
			return d.object(func(d *decoder, key []byte) error {
				if string(key) == "dataset_inputs" {
					return decodeDatasetInputs(d, &r.Inputs)
				}
				return d.skip()
			})
		}
		return d.skip()
	})
}

// decodeRunInfo reads an MLflow RunInfo into r.
func decodeRunInfo(d *decoder, r *loopml.Run) error {
	return d.object(func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "run_id":
			r.ID, err = d.str()
		case "run_uuid":
			var id string
			id, err = d.str()
			if r.ID == "" {
				r.ID = id
			}
		case "run_name":
			r.Name, err = d.str()
		case "experiment_id":
			r.ExperimentID, err = d.str()
		case "user_id":
			r.UserID, err = d.str()
		case "status":
			var n int
			n, err = d.enum(runStatusNames)
			r.Status = runStatusNames[n]
		case "start_time":
			r.StartTime, err = d.int64()
		case "end_time":
			r.EndTime, err = d.int64()
		case "artifact_uri":
			r.ArtifactURI, err = d.str()
		case "lifecycle_stage":
			r.LifecycleStage, err = d.str()
		default:
			err = d.skip()
		}
		return err
	})
}

// decodeDatasetInputs appends a list of MLflow DatasetInput to dst.
func decodeDatasetInputs(d *decoder, dst *[]loopml.DatasetInput) error {
	return d.array(func(d *decoder, _ int) error {
		var in loopml.DatasetInput
		err := d.object(func(d *decoder, key []byte) error {
			switch string(key) {
			case "tags":
				return decodeTags(d, &in.Tags)
			case "dataset":
				ds := &in.Dataset
				return d.object(func(d *decoder, key []byte) (err error) {
					switch string(key) {
					case "name":
						ds.Name, err = d.str()
					case "digest":
						ds.Digest, err = d.str()
					case "source_type":
						ds.SourceType, err = d.str()
					case "source":
						ds.Source, err = d.str()
					case "schema":
						ds.Schema, err = d.str()
					case "profile":
						ds.Profile, err = d.str()
					default:
						err = d.skip()
					}
					return err
				})
			}
			return d.skip()
		})
		*dst = append(*dst, in)
		return err
	})
}
