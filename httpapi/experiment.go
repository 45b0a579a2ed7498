package httpapi

import (
	"context"
	"net/http"

	"github.com/loopml/loopml"
)

func (s *Server) registerExperimentRoutes(mux *http.ServeMux) {
	handle(mux, "POST", "experiments/create", s.handleCreateExperiment)
	handle(mux, "GET", "experiments/get", s.handleGetExperiment)
	handle(mux, "GET", "experiments/get-by-name", s.handleGetExperimentByName)
	handle(mux, "POST", "experiments/search", s.handleSearchExperiments)
	handle(mux, "GET", "experiments/search", s.handleSearchExperiments)
	handle(mux, "POST", "experiments/update", s.handleUpdateExperiment)
	handle(mux, "POST", "experiments/delete", s.experimentAction(func(ctx context.Context, id string) error { return s.experiments.DeleteExperiment(ctx, id) }))
	handle(mux, "POST", "experiments/restore", s.experimentAction(func(ctx context.Context, id string) error { return s.experiments.RestoreExperiment(ctx, id) }))
	handle(mux, "POST", "experiments/set-experiment-tag", s.handleSetExperimentTag)
}

// createExperimentRequest is MLflow's CreateExperiment.
type createExperimentRequest struct {
	name             string
	artifactLocation string
	tags             []loopml.Tag
}

func (q *createExperimentRequest) field(d *decoder, key []byte) (err error) {
	switch string(key) {
	case "name":
		q.name, err = d.str()
	case "artifact_location":
		q.artifactLocation, err = d.str()
	case "tags":
		err = decodeTags(d, &q.tags)
	default:
		err = d.skip()
	}
	return err
}

func (s *Server) handleCreateExperiment(w http.ResponseWriter, r *http.Request) {
	var q createExperimentRequest
	if err := s.decode(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.name == "" {
		s.writeError(w, r, missing("name"))
		return
	}
	e := &loopml.Experiment{Name: q.name, ArtifactLocation: q.artifactLocation, Tags: q.tags}
	if err := s.experiments.CreateExperiment(r.Context(), e); err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(enc *encoder) { enc.strAlways("experiment_id", e.ID) })
}

func (s *Server) handleGetExperiment(w http.ResponseWriter, r *http.Request) {
	q := query(r.URL.Query())
	id := q.str("experiment_id")
	if id == "" {
		s.writeError(w, r, missing("experiment_id"))
		return
	}
	e, err := s.experiments.GetExperiment(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(enc *encoder) {
		enc.objectField("experiment")
		encodeExperiment(enc, e)
		enc.endObject()
	})
}

func (s *Server) handleGetExperimentByName(w http.ResponseWriter, r *http.Request) {
	q := query(r.URL.Query())
	name := q.str("experiment_name")
	if name == "" {
		s.writeError(w, r, missing("experiment_name"))
		return
	}
	e, err := s.experiments.GetExperimentByName(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(enc *encoder) {
		enc.objectField("experiment")
		encodeExperiment(enc, e)
		enc.endObject()
	})
}

// searchExperimentsRequest is MLflow's SearchExperiments.
type searchExperimentsRequest struct {
	maxResults int64
	pageToken  string
	filter     string
	orderBy    []string
	viewType   int
}

func (q *searchExperimentsRequest) field(d *decoder, key []byte) (err error) {
	switch string(key) {
	case "max_results":
		q.maxResults, err = d.int64()
	case "page_token":
		q.pageToken, err = d.str()
	case "filter":
		q.filter, err = d.str()
	case "order_by":
		err = d.strList(&q.orderBy)
	case "view_type":
		q.viewType, err = d.enum(viewTypeNames)
	default:
		err = d.skip()
	}
	return err
}

func (q *searchExperimentsRequest) fromQuery(v query) (err error) {
	if q.maxResults, err = v.int64("max_results"); err != nil {
		return err
	}
	q.pageToken = v.str("page_token")
	q.filter = v.str("filter")
	q.orderBy = v.list("order_by")
	q.viewType, err = v.enum("view_type", viewTypeNames)
	return err
}

func (s *Server) handleSearchExperiments(w http.ResponseWriter, r *http.Request) {
	var q searchExperimentsRequest
	var err error
	if r.Method == http.MethodPost {
		err = s.decode(r, &q)
	} else {
		err = q.fromQuery(query(r.URL.Query()))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.maxResults < 0 {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'max_results' supplied: it must be a positive integer", q.maxResults))
		return
	}
	exps, next, err := s.experiments.SearchExperiments(r.Context(), loopml.ExperimentSearch{
		Filter:     q.filter,
		OrderBy:    q.orderBy,
		ViewType:   viewTypeFromProto(q.viewType),
		MaxResults: clampInt(q.maxResults),
		PageToken:  q.pageToken,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(enc *encoder) {
		if len(exps) > 0 {
			enc.arrayField("experiments")
			for _, e := range exps {
				enc.beginObject()
				encodeExperiment(enc, e)
				enc.endObject()
			}
			enc.endArray()
		}
		enc.str("next_page_token", next)
	})
}

// clampInt converts a request's int64 to int without wrapping.
func clampInt(n int64) int {
	const maxInt = int64(^uint(0) >> 1)
	if n > maxInt {
		return int(maxInt)
	}
	return int(n)
}

// experimentIDRequest is MLflow's DeleteExperiment, RestoreExperiment and
// UpdateExperiment.
type experimentIDRequest struct {
	experimentID string
	newName      string
}

func (q *experimentIDRequest) field(d *decoder, key []byte) (err error) {
	switch string(key) {
	case "experiment_id":
		q.experimentID, err = d.id()
	case "new_name":
		q.newName, err = d.str()
	default:
		err = d.skip()
	}
	return err
}

func (s *Server) handleUpdateExperiment(w http.ResponseWriter, r *http.Request) {
	var q experimentIDRequest
	if err := s.decode(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.experimentID == "" {
		s.writeError(w, r, missing("experiment_id"))
		return
	}
	var err error
	if q.newName != "" {
		err = s.experiments.RenameExperiment(r.Context(), q.experimentID, q.newName)
	} else {
		_, err = s.experiments.GetExperiment(r.Context(), q.experimentID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

// experimentAction handles experiments/delete and experiments/restore:
// decode {"experiment_id"}, call fn, answer {}.
func (s *Server) experimentAction(fn func(context.Context, string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q experimentIDRequest
		err := s.decode(r, &q)
		if err == nil && q.experimentID == "" {
			err = missing("experiment_id")
		}
		if err == nil {
			err = fn(r.Context(), q.experimentID)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		respondEmpty(w)
	}
}

// setExperimentTagRequest is MLflow's SetExperimentTag.
type setExperimentTagRequest struct {
	experimentID string
	key          string
	value        string
	hasValue     bool
}

func (q *setExperimentTagRequest) field(d *decoder, key []byte) (err error) {
	switch string(key) {
	case "experiment_id":
		q.experimentID, err = d.id()
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

func (s *Server) handleSetExperimentTag(w http.ResponseWriter, r *http.Request) {
	var q setExperimentTagRequest
	if err := s.decode(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case q.experimentID == "":
		s.writeError(w, r, missing("experiment_id"))
		return
	case q.key == "":
		s.writeError(w, r, missing("key"))
		return
	case !q.hasValue:
		s.writeError(w, r, missing("value"))
		return
	}
	if err := s.experiments.SetExperimentTag(r.Context(), q.experimentID, loopml.Tag{Key: q.key, Value: q.value}); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

// encodeExperiment writes the members of an MLflow Experiment.
func encodeExperiment(e *encoder, x *loopml.Experiment) {
	e.str("experiment_id", x.ID)
	e.str("name", x.Name)
	e.str("artifact_location", x.ArtifactLocation)
	e.str("lifecycle_stage", x.LifecycleStage)
	e.intNZ("last_update_time", x.LastUpdateTime)
	e.intNZ("creation_time", x.CreationTime)
	encodeTagList(e, "tags", x.Tags)
}

// decodeExperiment reads an MLflow Experiment.
func decodeExperiment(d *decoder, x *loopml.Experiment) error {
	return d.object(func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "experiment_id":
			x.ID, err = d.str()
		case "name":
			x.Name, err = d.str()
		case "artifact_location":
			x.ArtifactLocation, err = d.str()
		case "lifecycle_stage":
			x.LifecycleStage, err = d.str()
		case "last_update_time":
			x.LastUpdateTime, err = d.int64()
		case "creation_time":
			x.CreationTime, err = d.int64()
		case "workspace":
			x.Workspace, err = d.str()
		case "tags":
			err = decodeTags(d, &x.Tags)
		default:
			err = d.skip()
		}
		return err
	})
}

// encodeTagList writes a list of {key, value} (params or tags), omitted when
// empty.
func encodeTagList(e *encoder, name string, tags []loopml.Tag) {
	if len(tags) == 0 {
		return
	}
	e.arrayField(name)
	for _, t := range tags {
		e.beginObject()
		e.strAlways("key", t.Key)
		e.strAlways("value", t.Value)
		e.endObject()
	}
	e.endArray()
}

// decodeTags appends a list of {key, value} to dst.
func decodeTags(d *decoder, dst *[]loopml.Tag) error {
	return d.array(func(d *decoder, _ int) error {
		var t loopml.Tag
		err := d.object(func(d *decoder, key []byte) (err error) {
			switch string(key) {
			case "key":
				t.Key, err = d.str()
			case "value":
				t.Value, err = d.str()
			default:
				err = d.skip()
			}
			return err
		})
		*dst = append(*dst, t)
		return err
	})
}
