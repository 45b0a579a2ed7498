package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/loopml/loopml"
)

// This file serves MLflow's model_registry.proto endpoints. Every registry
// request message uses a subset of the same few field names with the same
// types, so one request type (registryRequest) reads all of them, from a
// JSON body (POST, PATCH, DELETE) or from the query string (GET, DELETE).

// registerRegistryRoutes registers the MLflow registry endpoints. When the
// Config has no Registry they are still registered and answer 501
// NOT_IMPLEMENTED, so clients get an MLflow error body rather than a 404
// HTML page.
func (s *Server) registerRegistryRoutes(mux *http.ServeMux) {
	h := s.ifConfigured(s.registry == nil)
	handle(mux, "POST", "registered-models/create", h(s.handleCreateRegisteredModel))
	handle(mux, "GET", "registered-models/get", h(s.handleGetRegisteredModel))
	handle(mux, "POST", "registered-models/rename", h(s.handleRenameRegisteredModel))
	handle(mux, "PATCH", "registered-models/update", h(s.handleUpdateRegisteredModel))
	handle(mux, "DELETE", "registered-models/delete", h(s.handleDeleteRegisteredModel))
	handle(mux, "GET", "registered-models/search", h(s.handleSearchRegisteredModels))
	handle(mux, "POST", "registered-models/get-latest-versions", h(s.handleGetLatestVersions))
	handle(mux, "GET", "registered-models/get-latest-versions", h(s.handleGetLatestVersions))
	handle(mux, "POST", "registered-models/set-tag", h(s.handleSetRegisteredModelTag))
	handle(mux, "DELETE", "registered-models/delete-tag", h(s.handleDeleteRegisteredModelTag))
	handle(mux, "POST", "registered-models/alias", h(s.handleSetAlias))
	handle(mux, "DELETE", "registered-models/alias", h(s.handleDeleteAlias))
	handle(mux, "GET", "registered-models/alias", h(s.handleGetVersionByAlias))

	handle(mux, "POST", "model-versions/create", h(s.handleCreateModelVersion))
	handle(mux, "GET", "model-versions/get", h(s.handleGetModelVersion))
	handle(mux, "PATCH", "model-versions/update", h(s.handleUpdateModelVersion))
	handle(mux, "DELETE", "model-versions/delete", h(s.handleDeleteModelVersion))
	handle(mux, "GET", "model-versions/search", h(s.handleSearchModelVersions))
	handle(mux, "GET", "model-versions/get-download-uri", h(s.handleGetDownloadURI))
	handle(mux, "POST", "model-versions/set-tag", h(s.handleSetModelVersionTag))
	handle(mux, "DELETE", "model-versions/delete-tag", h(s.handleDeleteModelVersionTag))
	handle(mux, "POST", "model-versions/transition-stage", h(s.handleTransitionStage))

	handleLoopml(mux, "GET", "registry/events", h(s.handleRegistryEvents))
	handleLoopml(mux, "GET", "registry/alias-at", h(s.handleAliasAt))
	handleLoopml(mux, "GET", "models/lineage", h(s.handleLineage))
}

// URL prefixes of loopml's own JSON endpoints.
const (
	loopmlPrefix     = "/api/2.0/loopml/"
	ajaxLoopmlPrefix = "/ajax-api/2.0/loopml/"
)

// registryRequest is the union of MLflow's registry request messages.
type registryRequest struct {
	name            string
	newName         string
	description     string
	hasDescription  bool
	version         string
	source          string
	runID           string
	runLink         string
	tags            []loopml.Tag
	stages          []string
	stage           string
	archiveExisting bool
	alias           string
	key             string
	value           string
	hasValue        bool
	filter          string
	maxResults      int64
	orderBy         []string
	pageToken       string
}

func (q *registryRequest) field(d *decoder, key []byte) (err error) {
	switch string(key) {
	case "name":
		q.name, err = d.str()
	case "new_name":
		q.newName, err = d.str()
	case "description":
		q.hasDescription = d.peek() != 'n'
		q.description, err = d.str()
	case "version":
		q.version, err = d.id()
	case "source":
		q.source, err = d.str()
	case "run_id":
		q.runID, err = d.str()
	case "run_link":
		q.runLink, err = d.str()
	case "tags":
		err = decodeTags(d, &q.tags)
	case "stages":
		err = d.strList(&q.stages)
	case "stage":
		q.stage, err = d.str()
	case "archive_existing_versions":
		q.archiveExisting, err = d.boolean()
	case "alias":
		q.alias, err = d.str()
	case "key":
		q.key, err = d.str()
	case "value":
		q.hasValue = d.peek() != 'n'
		q.value, err = d.str()
	case "filter":
		q.filter, err = d.str()
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

// fromQuery fills the fields present in the query string, leaving the
// others as they are (a DELETE may carry some in a body).
func (q *registryRequest) fromQuery(v query) error {
	set := func(dst *string, name string) {
		if v.has(name) {
			*dst = v.str(name)
		}
	}
	set(&q.name, "name")
	set(&q.newName, "new_name")
	if v.has("description") {
		q.description, q.hasDescription = v.str("description"), true
	}
	set(&q.version, "version")
	set(&q.source, "source")
	set(&q.runID, "run_id")
	set(&q.runLink, "run_link")
	set(&q.stage, "stage")
	set(&q.alias, "alias")
	set(&q.key, "key")
	if _, ok := v["value"]; ok {
		q.value, q.hasValue = v.str("value"), true
	}
	set(&q.filter, "filter")
	set(&q.pageToken, "page_token")
	if l := v.list("order_by"); len(l) > 0 {
		q.orderBy = l
	}
	if l := v.list("stages"); len(l) > 0 {
		q.stages = l
	}
	if v.has("archive_existing_versions") {
		b, err := strconv.ParseBool(v.str("archive_existing_versions"))
		if err != nil {
			return loopml.Errorf(loopml.EINVALID, "Invalid value %q for parameter 'archive_existing_versions' supplied: expected true or false", v.str("archive_existing_versions"))
		}
		q.archiveExisting = b
	}
	if v.has("max_results") {
		n, err := v.int64("max_results")
		if err != nil {
			return err
		}
		q.maxResults = n
	}
	return nil
}

// readRegistryRequest reads a registry request: GET from the query string,
// DELETE from an optional JSON body and then the query string (MLflow's
// Python client sends DELETE parameters as a body), others from the body.
func (s *Server) readRegistryRequest(r *http.Request) (*registryRequest, error) {
	q := new(registryRequest)
	if r.Method != http.MethodGet {
		if err := s.decode(r, q); err != nil {
			return nil, err
		}
	}
	if r.Method == http.MethodGet || r.Method == http.MethodDelete {
		if err := q.fromQuery(query(r.URL.Query())); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// require returns a missing-parameter error for the first empty value;
// pairs are (field name, value).
func require(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return missing(pairs[i])
		}
	}
	return nil
}

// registryCall reads the request, checks required fields (named by
// need: "name", "version", ...) and runs fn.
func (s *Server) registryCall(w http.ResponseWriter, r *http.Request, need []string, fn func(q *registryRequest) error) {
	q, err := s.readRegistryRequest(r)
	if err == nil {
		for _, f := range need {
			if err = require(f, q.get(f)); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = fn(q)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

// get returns a required string field by its wire name.
func (q *registryRequest) get(field string) string {
	switch field {
	case "name":
		return q.name
	case "new_name":
		return q.newName
	case "version":
		return q.version
	case "source":
		return q.source
	case "stage":
		return q.stage
	case "alias":
		return q.alias
	case "key":
		return q.key
	}
	return ""
}

func respondModel(w http.ResponseWriter, m *loopml.RegisteredModel) {
	respond(w, func(e *encoder) {
		e.objectField("registered_model")
		encodeRegisteredModel(e, m)
		e.endObject()
	})
}

func respondVersion(w http.ResponseWriter, v *loopml.ModelVersion) {
	respond(w, func(e *encoder) {
		e.objectField("model_version")
		encodeModelVersion(e, v)
		e.endObject()
	})
}

func (s *Server) handleCreateRegisteredModel(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name"}, func(q *registryRequest) error {
		m := &loopml.RegisteredModel{Name: q.name, Description: q.description, Tags: q.tags}
		if err := s.registry.CreateRegisteredModel(r.Context(), m); err != nil {
			return err
		}
		got, err := s.registry.GetRegisteredModel(r.Context(), q.name)
		if err != nil {
			return err
		}
		respondModel(w, got)
		return nil
	})
}

func (s *Server) handleGetRegisteredModel(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name"}, func(q *registryRequest) error {
		m, err := s.registry.GetRegisteredModel(r.Context(), q.name)
		if err != nil {
			return err
		}
		respondModel(w, m)
		return nil
	})
}

func (s *Server) handleRenameRegisteredModel(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "new_name"}, func(q *registryRequest) error {
		m, err := s.registry.RenameRegisteredModel(r.Context(), q.name, q.newName)
		if err != nil {
			return err
		}
		respondModel(w, m)
		return nil
	})
}

func (s *Server) handleUpdateRegisteredModel(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name"}, func(q *registryRequest) error {
		var m *loopml.RegisteredModel
		var err error
		if q.hasDescription {
			m, err = s.registry.UpdateRegisteredModel(r.Context(), q.name, q.description)
		} else {
			m, err = s.registry.GetRegisteredModel(r.Context(), q.name)
		}
		if err != nil {
			return err
		}
		respondModel(w, m)
		return nil
	})
}

func (s *Server) handleDeleteRegisteredModel(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name"}, func(q *registryRequest) error {
		if err := s.registry.DeleteRegisteredModel(r.Context(), q.name); err != nil {
			return err
		}
		respondEmpty(w)
		return nil
	})
}

// checkMaxResults rejects negative and too large page sizes.
func checkMaxResults(n int64, limit int) error {
	if n < 0 || n > int64(limit) {
		return loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'max_results' supplied: it must be between 1 and %d", n, limit)
	}
	return nil
}

func (s *Server) handleSearchRegisteredModels(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, nil, func(q *registryRequest) error {
		if err := checkMaxResults(q.maxResults, loopml.MaxSearchModelsResults); err != nil {
			return err
		}
		ms, next, err := s.registry.SearchRegisteredModels(r.Context(), loopml.RegisteredModelSearch{
			Filter: q.filter, OrderBy: q.orderBy, MaxResults: int(q.maxResults), PageToken: q.pageToken,
		})
		if err != nil {
			return err
		}
		respond(w, func(e *encoder) {
			if len(ms) > 0 {
				e.arrayField("registered_models")
				for _, m := range ms {
					e.beginObject()
					encodeRegisteredModel(e, m)
					e.endObject()
				}
				e.endArray()
			}
			e.str("next_page_token", next)
		})
		return nil
	})
}

// respondVersions writes {"model_versions": [...], "next_page_token": ...}.
func respondVersions(w http.ResponseWriter, vs []*loopml.ModelVersion, next string) {
	respond(w, func(e *encoder) {
		if len(vs) > 0 {
			e.arrayField("model_versions")
			for _, v := range vs {
				e.beginObject()
				encodeModelVersion(e, v)
				e.endObject()
			}
			e.endArray()
		}
		e.str("next_page_token", next)
	})
}

func (s *Server) handleGetLatestVersions(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name"}, func(q *registryRequest) error {
		vs, err := s.registry.GetLatestVersions(r.Context(), q.name, q.stages)
		if err != nil {
			return err
		}
		respondVersions(w, vs, "")
		return nil
	})
}

func (s *Server) handleSetRegisteredModelTag(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "key"}, func(q *registryRequest) error {
		if !q.hasValue {
			return missing("value")
		}
		if err := s.registry.SetRegisteredModelTag(r.Context(), q.name, loopml.Tag{Key: q.key, Value: q.value}); err != nil {
			return err
		}
		respondEmpty(w)
		return nil
	})
}

func (s *Server) handleDeleteRegisteredModelTag(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "key"}, func(q *registryRequest) error {
		if err := s.registry.DeleteRegisteredModelTag(r.Context(), q.name, q.key); err != nil {
			return err
		}
		respondEmpty(w)
		return nil
	})
}

func (s *Server) handleSetAlias(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "alias", "version"}, func(q *registryRequest) error {
		if err := loopml.ValidateAlias(q.alias); err != nil {
			return err
		}
		if err := s.registry.SetAlias(r.Context(), q.name, q.alias, q.version); err != nil {
			return err
		}
		respondEmpty(w)
		return nil
	})
}

func (s *Server) handleDeleteAlias(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "alias"}, func(q *registryRequest) error {
		if err := s.registry.DeleteAlias(r.Context(), q.name, q.alias); err != nil {
			return err
		}
		respondEmpty(w)
		return nil
	})
}

func (s *Server) handleGetVersionByAlias(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "alias"}, func(q *registryRequest) error {
		v, err := s.registry.GetVersionByAlias(r.Context(), q.name, q.alias)
		if err != nil {
			return err
		}
		respondVersion(w, v)
		return nil
	})
}

// runsSourceScheme is the scheme of sources relative to a run's artifacts.
const runsSourceScheme = "runs:/"

// ResolveRunsSource turns a runs:/<run_id>/<path> model source into the
// run's artifact URI joined with path and returns the run id too, as MLflow
// does on model-versions/create. Other sources (mlflow-artifacts:/...,
// models:/...) are returned unchanged with an empty run id.
func ResolveRunsSource(ctx context.Context, runs loopml.RunService, source string) (uri, runID string, err error) {
	rest, ok := strings.CutPrefix(source, runsSourceScheme)
	if !ok {
		return source, "", nil
	}
	runID, p, _ := strings.Cut(strings.TrimLeft(rest, "/"), "/")
	if runID == "" {
		return "", "", loopml.Errorf(loopml.EINVALID, "Invalid value %q for parameter 'source' supplied: expected runs:/<run_id>/<path>", source)
	}
	rel, err := loopml.CleanArtifactPath(p)
	if err != nil {
		return "", "", loopml.Errorf(loopml.EINVALID, "Invalid value %q for parameter 'source' supplied: %s", source, loopml.ErrorMessage(err))
	}
	run, err := runs.GetRun(ctx, runID)
	if err != nil {
		return "", "", err
	}
	uri = strings.TrimRight(run.ArtifactURI, "/")
	if rel != "" {
		uri += "/" + rel
	}
	return uri, runID, nil
}

func (s *Server) handleCreateModelVersion(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "source"}, func(q *registryRequest) error {
		source, runID, err := ResolveRunsSource(r.Context(), s.runs, q.source)
		if err != nil {
			return err
		}
		if q.runID != "" {
			runID = q.runID
		}
		v := &loopml.ModelVersion{
			Name: q.name, Source: source, RunID: runID, RunLink: q.runLink,
			Description: q.description, Tags: q.tags,
		}
		if s.packages != nil {
			// MLflow accepts any source; record package details when the
			// source is a readable package, refuse a malformed MLmodel.
			pkg, err := s.packages.InspectPackage(r.Context(), source)
			switch loopml.ErrorCode(err) {
			case "":
				v.Signature, v.SizeBytes, v.Digest = pkg.Signature, pkg.SizeBytes, pkg.Digest
			case loopml.ENOTFOUND:
			default:
				return err
			}
		}
		if err := s.registry.CreateModelVersion(r.Context(), v); err != nil {
			return err
		}
		got, err := s.registry.GetModelVersion(r.Context(), v.Name, v.Version)
		if err != nil {
			return err
		}
		respondVersion(w, got)
		return nil
	})
}

func (s *Server) handleGetModelVersion(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "version"}, func(q *registryRequest) error {
		v, err := s.registry.GetModelVersion(r.Context(), q.name, q.version)
		if err != nil {
			return err
		}
		respondVersion(w, v)
		return nil
	})
}

func (s *Server) handleUpdateModelVersion(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "version"}, func(q *registryRequest) error {
		var v *loopml.ModelVersion
		var err error
		if q.hasDescription {
			v, err = s.registry.UpdateModelVersion(r.Context(), q.name, q.version, q.description)
		} else {
			v, err = s.registry.GetModelVersion(r.Context(), q.name, q.version)
		}
		if err != nil {
			return err
		}
		respondVersion(w, v)
		return nil
	})
}

func (s *Server) handleDeleteModelVersion(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "version"}, func(q *registryRequest) error {
		if err := s.registry.DeleteModelVersion(r.Context(), q.name, q.version); err != nil {
			return err
		}
		respondEmpty(w)
		return nil
	})
}

func (s *Server) handleSearchModelVersions(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, nil, func(q *registryRequest) error {
		if err := checkMaxResults(q.maxResults, loopml.MaxSearchVersionsResults); err != nil {
			return err
		}
		vs, next, err := s.registry.SearchModelVersions(r.Context(), loopml.ModelVersionSearch{
			Filter: q.filter, OrderBy: q.orderBy, MaxResults: int(q.maxResults), PageToken: q.pageToken,
		})
		if err != nil {
			return err
		}
		respondVersions(w, vs, next)
		return nil
	})
}

func (s *Server) handleGetDownloadURI(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "version"}, func(q *registryRequest) error {
		v, err := s.registry.GetModelVersion(r.Context(), q.name, q.version)
		if err != nil {
			return err
		}
		respond(w, func(e *encoder) { e.strAlways("artifact_uri", v.Source) })
		return nil
	})
}

func (s *Server) handleSetModelVersionTag(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "version", "key"}, func(q *registryRequest) error {
		if !q.hasValue {
			return missing("value")
		}
		if err := s.registry.SetModelVersionTag(r.Context(), q.name, q.version, loopml.Tag{Key: q.key, Value: q.value}); err != nil {
			return err
		}
		respondEmpty(w)
		return nil
	})
}

func (s *Server) handleDeleteModelVersionTag(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "version", "key"}, func(q *registryRequest) error {
		if err := s.registry.DeleteModelVersionTag(r.Context(), q.name, q.version, q.key); err != nil {
			return err
		}
		respondEmpty(w)
		return nil
	})
}

func (s *Server) handleTransitionStage(w http.ResponseWriter, r *http.Request) {
	s.registryCall(w, r, []string{"name", "version", "stage"}, func(q *registryRequest) error {
		stage, ok := loopml.CanonicalStage(q.stage)
		if !ok {
			return loopml.Errorf(loopml.EINVALID, "Invalid Model Version stage: %s. Value must be one of %s, %s, %s, %s.",
				q.stage, loopml.StageNone, loopml.StageStaging, loopml.StageProduction, loopml.StageArchived)
		}
		v, err := s.registry.TransitionModelVersionStage(r.Context(), q.name, q.version, stage, q.archiveExisting)
		if err != nil {
			return err
		}
		respondVersion(w, v)
		return nil
	})
}

// encodeRegisteredModel writes the members of an MLflow RegisteredModel.
func encodeRegisteredModel(e *encoder, m *loopml.RegisteredModel) {
	e.str("name", m.Name)
	e.intNZ("creation_timestamp", m.CreationTimestamp)
	e.intNZ("last_updated_timestamp", m.LastUpdatedTimestamp)
	e.str("user_id", m.UserID)
	e.str("description", m.Description)
	if len(m.LatestVersions) > 0 {
		e.arrayField("latest_versions")
		for _, v := range m.LatestVersions {
			e.beginObject()
			encodeModelVersion(e, v)
			e.endObject()
		}
		e.endArray()
	}
	encodeTagList(e, "tags", m.Tags)
	if len(m.Aliases) > 0 {
		e.arrayField("aliases")
		for _, a := range m.Aliases {
			e.beginObject()
			e.strAlways("alias", a.Alias)
			e.strAlways("version", a.Version)
			e.endObject()
		}
		e.endArray()
	}
}

// encodeModelVersion writes the members of an MLflow ModelVersion.
func encodeModelVersion(e *encoder, v *loopml.ModelVersion) {
	e.str("name", v.Name)
	e.str("version", v.Version)
	e.intNZ("creation_timestamp", v.CreationTimestamp)
	e.intNZ("last_updated_timestamp", v.LastUpdatedTimestamp)
	e.str("user_id", v.UserID)
	e.str("current_stage", v.CurrentStage)
	e.str("description", v.Description)
	e.str("source", v.Source)
	e.str("run_id", v.RunID)
	e.str("status", v.Status)
	e.str("status_message", v.StatusMessage)
	encodeTagList(e, "tags", v.Tags)
	e.str("run_link", v.RunLink)
	encodeStrList(e, "aliases", v.Aliases)
}

// decodeRegisteredModel reads an MLflow RegisteredModel.
func decodeRegisteredModel(d *decoder, m *loopml.RegisteredModel) error {
	return d.object(func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "name":
			m.Name, err = d.str()
		case "creation_timestamp":
			m.CreationTimestamp, err = d.int64()
		case "last_updated_timestamp":
			m.LastUpdatedTimestamp, err = d.int64()
		case "user_id":
			m.UserID, err = d.str()
		case "description":
			m.Description, err = d.str()
		case "latest_versions":
			err = d.array(func(d *decoder, _ int) error {
				v := new(loopml.ModelVersion)
				m.LatestVersions = append(m.LatestVersions, v)
				return decodeModelVersion(d, v)
			})
		case "tags":
			err = decodeTags(d, &m.Tags)
		case "aliases":
			err = d.array(func(d *decoder, _ int) error {
				var a loopml.ModelAlias
				err := d.object(func(d *decoder, key []byte) (err error) {
					switch string(key) {
					case "alias":
						a.Alias, err = d.str()
					case "version":
						a.Version, err = d.id()
					default:
						err = d.skip()
					}
					return err
				})
				m.Aliases = append(m.Aliases, a)
				return err
			})
		default:
			err = d.skip()
		}
		return err
	})
}

// decodeModelVersion reads an MLflow ModelVersion.
func decodeModelVersion(d *decoder, v *loopml.ModelVersion) error {
	return d.object(func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "name":
			v.Name, err = d.str()
		case "version":
			v.Version, err = d.id()
		case "creation_timestamp":
			v.CreationTimestamp, err = d.int64()
		case "last_updated_timestamp":
			v.LastUpdatedTimestamp, err = d.int64()
		case "user_id":
			v.UserID, err = d.str()
		case "current_stage":
			v.CurrentStage, err = d.str()
		case "description":
			v.Description, err = d.str()
		case "source":
			v.Source, err = d.str()
		case "run_id":
			v.RunID, err = d.str()
		case "status":
			v.Status, err = d.str()
		case "status_message":
			v.StatusMessage, err = d.str()
		case "tags":
			err = decodeTags(d, &v.Tags)
		case "run_link":
			v.RunLink, err = d.str()
		case "aliases":
			err = d.strList(&v.Aliases)
		default:
			err = d.skip()
		}
		return err
	})
}

// maxEventsPage bounds one page of registry events.
const maxEventsPage = 1000

// handleRegistryEvents serves GET /api/2.0/loopml/registry/events?name=&
// alias=&after_id=&until=&max_results=: the registry event log in ID order,
// paged by after_id. next_after_id is set when more events may follow.
func (s *Server) handleRegistryEvents(w http.ResponseWriter, r *http.Request) {
	v := query(r.URL.Query())
	afterID, err := v.int64("after_id")
	var until, maxResults int64
	if err == nil {
		until, err = v.int64("until")
	}
	if err == nil {
		maxResults, err = v.int64("max_results")
	}
	if err == nil {
		err = checkMaxResults(maxResults, maxEventsPage)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if maxResults == 0 {
		maxResults = maxEventsPage
	}
	evs, err := s.registry.RegistryEvents(r.Context(), loopml.RegistryEventQuery{
		Model: v.str("name"), Alias: v.str("alias"), AfterID: afterID, Until: until, MaxResults: int(maxResults),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		if len(evs) > 0 {
			e.arrayField("events")
			for i := range evs {
				e.beginObject()
				encodeRegistryEvent(e, &evs[i])
				e.endObject()
			}
			e.endArray()
		}
		if int64(len(evs)) == maxResults {
			e.int("next_after_id", evs[len(evs)-1].ID)
		}
	})
}

// handleAliasAt serves GET /api/2.0/loopml/registry/alias-at?name=&alias=&
// time=: the version the alias pointed at at time (epoch ms), replayed from
// the event log; version is omitted when the alias pointed nowhere.
func (s *Server) handleAliasAt(w http.ResponseWriter, r *http.Request) {
	v := query(r.URL.Query())
	name, alias := v.str("name"), v.str("alias")
	err := require("name", name, "alias", alias, "time", v.str("time"))
	var t int64
	if err == nil {
		t, err = v.int64("time")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	version, err := AliasAtTime(r.Context(), s.registry, name, alias, t)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.strAlways("name", name)
		e.strAlways("alias", alias)
		e.int("time", t)
		e.str("version", version)
	})
}

// AliasAtTime returns the version alias of model name pointed at at time
// t (epoch ms), "" if none, by reading the alias's events up to t page by
// page and replaying them with loopml.AliasAt. The model need not exist
// any more: its history outlives it.
func AliasAtTime(ctx context.Context, reg loopml.ModelRegistry, name, alias string, t int64) (string, error) {
	var all []loopml.RegistryEvent
	var after int64
	for {
		evs, err := reg.RegistryEvents(ctx, loopml.RegistryEventQuery{
			Model: name, Alias: alias, AfterID: after, Until: t, MaxResults: maxEventsPage,
		})
		if err != nil {
			return "", err
		}
		all = append(all, evs...)
		if len(evs) < maxEventsPage {
			break
		}
		after = evs[len(evs)-1].ID
	}
	return loopml.AliasAt(all, alias, t), nil
}

func encodeRegistryEvent(e *encoder, ev *loopml.RegistryEvent) {
	e.int("id", ev.ID)
	e.int("time", ev.Time)
	e.str("workspace", ev.Workspace)
	e.str("principal", ev.Principal)
	e.str("type", ev.Type)
	e.str("model", ev.Model)
	e.str("version", ev.Version)
	e.str("alias", ev.Alias)
	e.str("from_version", ev.FromVersion)
	e.str("to_version", ev.ToVersion)
	e.str("from_stage", ev.FromStage)
	e.str("to_stage", ev.ToStage)
	e.str("reason", ev.Reason)
	e.str("endpoint", ev.Endpoint)
	e.str("detail", ev.Detail)
}

func decodeRegistryEvent(d *decoder, ev *loopml.RegistryEvent) error {
	return d.object(func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "id":
			ev.ID, err = d.int64()
		case "time":
			ev.Time, err = d.int64()
		case "workspace":
			ev.Workspace, err = d.str()
		case "principal":
			ev.Principal, err = d.str()
		case "type":
			ev.Type, err = d.str()
		case "model":
			ev.Model, err = d.str()
		case "version":
			ev.Version, err = d.id()
		case "alias":
			ev.Alias, err = d.str()
		case "from_version":
			ev.FromVersion, err = d.id()
		case "to_version":
			ev.ToVersion, err = d.id()
		case "from_stage":
			ev.FromStage, err = d.str()
		case "to_stage":
			ev.ToStage, err = d.str()
		case "reason":
			ev.Reason, err = d.str()
		case "endpoint":
			ev.Endpoint, err = d.str()
		case "detail":
			ev.Detail, err = d.str()
		default:
			err = d.skip()
		}
		return err
	})
}

// Run tags that describe the code a run executed.
const (
	tagGitCommit  = "mlflow.source.git.commit"
	tagSourceName = "mlflow.source.name"
	tagSourceType = "mlflow.source.type"
	tagGitDirty   = "loopml.git.dirty"
)

// Lineage is where a model version came from: the version, the run that
// produced it (with params, latest metrics and tags), the datasets the run
// read and the code it ran.
type Lineage struct {
	ModelURI string // canonical models:/ URI that was resolved
	Version  *loopml.ModelVersion
	// Run is nil when the version names no run or the run is gone;
	// RunError then says which.
	Run      *loopml.Run
	RunError string
	Datasets []loopml.DatasetInput
	Code     LineageCode
}

// LineageCode is the code a run executed, from its mlflow.source.* and
// loopml.git.dirty tags ("" when a tag is absent).
type LineageCode struct {
	GitCommit  string
	SourceName string
	SourceType string
	GitDirty   string
}

// BuildLineage resolves uri (a models:/ URI or "name@alias" / "name/3")
// and follows the version to its run, datasets and code. A missing run is
// reported in Lineage.RunError rather than as an error.
func BuildLineage(ctx context.Context, reg loopml.ModelRegistry, runs loopml.RunService, uri string) (*Lineage, error) {
	u, err := loopml.ParseModelURI(uri)
	if err != nil {
		return nil, err
	}
	v, err := loopml.ResolveModelURI(ctx, reg, u)
	if err != nil {
		return nil, err
	}
	l := &Lineage{ModelURI: u.String(), Version: v}
	if v.RunID == "" {
		l.RunError = "model version " + v.Name + "/" + v.Version + " names no run (source " + v.Source + ")"
		return l, nil
	}
	run, err := runs.GetRun(ctx, v.RunID)
	switch loopml.ErrorCode(err) {
	case "":
	case loopml.ENOTFOUND:
		l.RunError = "run " + v.RunID + " of model version " + v.Name + "/" + v.Version + " not found: " + loopml.ErrorMessage(err)
		return l, nil
	default:
		return nil, err
	}
	l.Run = run
	l.Datasets = run.Inputs
	for _, t := range run.Tags {
		switch t.Key {
		case tagGitCommit:
			l.Code.GitCommit = t.Value
		case tagSourceName:
			l.Code.SourceName = t.Value
		case tagSourceType:
			l.Code.SourceType = t.Value
		case tagGitDirty:
			l.Code.GitDirty = t.Value
		}
	}
	return l, nil
}

// handleLineage serves GET /api/2.0/loopml/models/lineage?uri=.
func (s *Server) handleLineage(w http.ResponseWriter, r *http.Request) {
	uri := query(r.URL.Query()).str("uri")
	if uri == "" {
		s.writeError(w, r, missing("uri"))
		return
	}
	l, err := BuildLineage(r.Context(), s.registry, s.runs, uri)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) { encodeLineage(e, l) })
}

func encodeLineage(e *encoder, l *Lineage) {
	e.str("model_uri", l.ModelURI)
	e.objectField("model_version")
	encodeModelVersion(e, l.Version)
	e.endObject()
	if l.Run != nil {
		e.objectField("run")
		encodeRun(e, l.Run)
		e.endObject()
	}
	e.str("run_error", l.RunError)
	if len(l.Datasets) > 0 {
		e.arrayField("datasets")
		for i := range l.Datasets {
			e.beginObject()
			encodeDatasetInput(e, &l.Datasets[i])
			e.endObject()
		}
		e.endArray()
	}
	if v := l.Version; v.Signature != "" || v.Digest != "" {
		// loopml's record of the model package (not part of MLflow's
		// ModelVersion message, so kept out of the MLflow endpoints).
		e.objectField("package")
		e.str("digest", v.Digest)
		e.intNZ("size_bytes", v.SizeBytes)
		if v.Signature != "" {
			e.key("signature")
			e.b = append(e.b, v.Signature...)
		}
		e.endObject()
	}
	e.objectField("code")
	e.str("git_commit", l.Code.GitCommit)
	e.str("source_name", l.Code.SourceName)
	e.str("source_type", l.Code.SourceType)
	e.str("git_dirty", l.Code.GitDirty)
	e.endObject()
}

func decodeLineage(d *decoder, key []byte, l *Lineage) (err error) {
	switch string(key) {
	case "model_uri":
		l.ModelURI, err = d.str()
	case "model_version":
		l.Version = new(loopml.ModelVersion)
		err = decodeModelVersion(d, l.Version)
	case "run":
		l.Run = new(loopml.Run)
		err = decodeRun(d, l.Run)
	case "run_error":
		l.RunError, err = d.str()
	case "package":
		if l.Version == nil {
			l.Version = new(loopml.ModelVersion)
		}
		err = d.object(func(d *decoder, key []byte) (err error) {
			switch string(key) {
			case "digest":
				l.Version.Digest, err = d.str()
			case "size_bytes":
				l.Version.SizeBytes, err = d.int64()
			case "signature":
				var raw []byte
				if raw, err = d.raw(); err == nil {
					l.Version.Signature = string(raw)
				}
			default:
				err = d.skip()
			}
			return err
		})
	case "datasets":
		err = decodeDatasetInputs(d, &l.Datasets)
	case "code":
		err = d.object(func(d *decoder, key []byte) (err error) {
			switch string(key) {
			case "git_commit":
				l.Code.GitCommit, err = d.str()
			case "source_name":
				l.Code.SourceName, err = d.str()
			case "source_type":
				l.Code.SourceType, err = d.str()
			case "git_dirty":
				l.Code.GitDirty, err = d.str()
			default:
				err = d.skip()
			}
			return err
		})
	default:
		err = d.skip()
	}
	return err
}
