package httpapi

import (
	"net/http"
	"sort"
	"strconv"

	"github.com/loopml/loopml"
)

// This file serves loopml's dataset registry under /api/2.0/loopml/datasets/
// (and the /ajax-api mirror). Only the metadata goes through these routes;
// a version's files are content-addressed objects that clients move through
// the artifact proxy (cas/objects/...).
//
//	POST   datasets/versions/create  {name, version?, root, files, size, labels{}, profile_ref, schema, quarantined?, validation?}
//	                                 -> {"dataset_version", "created"}
//	GET    datasets/versions/get?ref=NAME[@latest|@vN|@tag] -> {"dataset_version"}
//	GET    datasets/versions/list?name= -> {"dataset_versions": [...]} oldest first
//	DELETE datasets/versions/delete  {name, version} or ?name=&version= -> {}
//	GET    datasets/get?name=        -> {"dataset"}
//	GET    datasets/list             -> {"datasets": [...]} by name
//	POST   datasets/tags/set         {name, tag, version} -> {}
//	DELETE datasets/tags/delete      {name, tag} or ?name=&tag= -> {}
//
// A version is {"name", "version", "workspace", "root", "files", "size",
// "labels": {k: v}, "tags": [...], "profile_ref", "schema" (the schema JSON
// as a string), "quarantined", "validation", "created_by",
// "creation_timestamp"}; a dataset summary is
// {"name", "versions", "latest", "next_version", "tags": {tag: version},
// "creation_timestamp", "last_updated_timestamp"}.

// registerDatasetRoutes registers the dataset endpoints. When the Config
// has no Datasets they answer 501 NOT_IMPLEMENTED.
func (s *Server) registerDatasetRoutes(mux *http.ServeMux) {
	h := s.ifConfigured(s.datasets == nil)
	handleLoopml(mux, "POST", "datasets/versions/create", h(s.handleCreateDatasetVersion))
	handleLoopml(mux, "GET", "datasets/versions/get", h(s.handleGetDatasetVersion))
	handleLoopml(mux, "GET", "datasets/versions/list", h(s.handleListDatasetVersions))
	handleLoopml(mux, "DELETE", "datasets/versions/delete", h(s.handleDeleteDatasetVersion))
	handleLoopml(mux, "GET", "datasets/get", h(s.handleGetDataset))
	handleLoopml(mux, "GET", "datasets/list", h(s.handleListDatasets))
	handleLoopml(mux, "POST", "datasets/tags/set", h(s.handleSetDatasetTag))
	handleLoopml(mux, "DELETE", "datasets/tags/delete", h(s.handleDeleteDatasetTag))
}

// datasetRequest is the union of the dataset request messages.
type datasetRequest struct {
	v   loopml.DatasetVersion // name, version, root, files, size, labels, profile_ref, schema
	tag string
}

func (q *datasetRequest) field(d *decoder, key []byte) (err error) {
	switch string(key) {
	case "tag":
		q.tag, err = d.str()
	default:
		err = decodeDatasetVersionField(d, key, &q.v)
	}
	return err
}

// encodeDatasetVersion writes the members of a version.
func encodeDatasetVersion(e *encoder, v *loopml.DatasetVersion) {
	e.strAlways("name", v.Name)
	e.int("version", int64(v.Version))
	e.str("workspace", v.Workspace)
	e.strAlways("root", v.Root)
	e.int("files", v.Files)
	e.int("size", v.Size)
	if len(v.Labels) > 0 {
		keys := make([]string, 0, len(v.Labels))
		for k := range v.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		e.objectField("labels")
		for _, k := range keys {
			e.mapKey(k)
			e.b = appendString(e.b, v.Labels[k])
		}
		e.endObject()
	}
	if len(v.Tags) > 0 {
		encodeStrList(e, "tags", v.Tags)
	}
	e.str("profile_ref", v.ProfileRef)
	e.str("schema", v.Schema)
	e.boolean("quarantined", v.Quarantined)
	e.str("validation", v.Validation)
	e.str("created_by", v.CreatedBy)
	e.intNZ("creation_timestamp", v.CreationTimestamp)
}

// mapKey writes a member key that is data (a label or tag name), escaped.
func (e *encoder) mapKey(k string) {
	e.sep()
	e.b = appendString(e.b, k)
	e.b = append(e.b, ':')
}

// decodeDatasetVersionField decodes one member of a version into v.
func decodeDatasetVersionField(d *decoder, key []byte, v *loopml.DatasetVersion) (err error) {
	var n int64
	switch string(key) {
	case "name":
		v.Name, err = d.str()
	case "version":
		start := d.pos
		if n, err = d.int64(); err == nil && (n < 0 || n > 1<<31-1) {
			return d.valueErr(start, "expected a version number")
		}
		v.Version = int(n)
	case "workspace":
		v.Workspace, err = d.str()
	case "root":
		v.Root, err = d.str()
	case "files":
		v.Files, err = d.int64()
	case "size":
		v.Size, err = d.int64()
	case "labels":
		err = d.object(func(d *decoder, k []byte) error {
			s, err := d.str()
			if err != nil {
				return err
			}
			if v.Labels == nil {
				v.Labels = map[string]string{}
			}
			v.Labels[string(k)] = s
			return nil
		})
	case "tags":
		v.Tags = nil
		err = d.strList(&v.Tags)
	case "profile_ref":
		v.ProfileRef, err = d.str()
	case "schema":
		v.Schema, err = d.str()
	case "quarantined":
		v.Quarantined, err = d.boolean()
	case "validation":
		v.Validation, err = d.str()
	case "created_by":
		v.CreatedBy, err = d.str()
	case "creation_timestamp":
		v.CreationTimestamp, err = d.int64()
	default:
		err = d.skip()
	}
	return err
}

func decodeDatasetVersion(d *decoder, v *loopml.DatasetVersion) error {
	return d.object(func(d *decoder, key []byte) error { return decodeDatasetVersionField(d, key, v) })
}

// encodeDatasetSummary writes the members of a dataset summary.
func encodeDatasetSummary(e *encoder, s *loopml.DatasetSummary) {
	e.strAlways("name", s.Name)
	e.int("versions", int64(s.Versions))
	e.int("latest", int64(s.Latest))
	e.int("next_version", int64(s.NextVersion))
	if len(s.Tags) > 0 {
		tags := make([]string, 0, len(s.Tags))
		for t := range s.Tags {
			tags = append(tags, t)
		}
		sort.Strings(tags)
		e.objectField("tags")
		for _, t := range tags {
			e.mapKey(t)
			e.b = strconv.AppendInt(e.b, int64(s.Tags[t]), 10)
		}
		e.endObject()
	}
	e.intNZ("creation_timestamp", s.CreationTimestamp)
	e.intNZ("last_updated_timestamp", s.LastUpdatedTimestamp)
}

func decodeDatasetSummary(d *decoder, s *loopml.DatasetSummary) error {
	return d.object(func(d *decoder, key []byte) (err error) {
		var n int64
		switch string(key) {
		case "name":
			s.Name, err = d.str()
		case "versions":
			n, err = d.int64()
			s.Versions = int(n)
		case "latest":
			n, err = d.int64()
			s.Latest = int(n)
		case "next_version":
			n, err = d.int64()
			s.NextVersion = int(n)
		case "tags":
			s.Tags = map[string]int{}
			err = d.object(func(d *decoder, k []byte) error {
				n, err := d.int64()
				s.Tags[string(k)] = int(n)
				return err
			})
		case "creation_timestamp":
			s.CreationTimestamp, err = d.int64()
		case "last_updated_timestamp":
			s.LastUpdatedTimestamp, err = d.int64()
		default:
			err = d.skip()
		}
		return err
	})
}

// respondDatasetVersion writes {"dataset_version": {...}}, plus "created"
// when created is not nil.
func respondDatasetVersion(w http.ResponseWriter, v *loopml.DatasetVersion, created *bool) {
	respond(w, func(e *encoder) {
		e.objectField("dataset_version")
		encodeDatasetVersion(e, v)
		e.endObject()
		if created != nil {
			e.key("created")
			e.b = strconv.AppendBool(e.b, *created)
		}
	})
}

// datasetName reads and validates the name parameter.
func datasetName(name string) error {
	if name == "" {
		return loopml.Errorf(loopml.EINVALID, "Missing value for parameter 'name': a dataset name is required")
	}
	if err := loopml.ValidateDatasetName(name); err != nil {
		return loopml.Errorf(loopml.EINVALID, "Invalid value %q for parameter 'name' supplied: %s", name, loopml.ErrorMessage(err))
	}
	return nil
}

// versionParam reads a positive version number from the query string.
func versionParam(v query) (int, error) {
	if !v.has("version") {
		return 0, missing("version")
	}
	s := v.str("version")
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, loopml.Errorf(loopml.EINVALID, "Invalid value %q for parameter 'version' supplied: expected a version number (1, 2, ...)", s)
	}
	return n, nil
}

// handleCreateDatasetVersion serves POST datasets/versions/create.
func (s *Server) handleCreateDatasetVersion(w http.ResponseWriter, r *http.Request) {
	q := new(datasetRequest)
	if err := s.decode(r, q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := datasetName(q.v.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.v.Root == "" {
		s.writeError(w, r, missing("root"))
		return
	}
	// The server fills these in; a client cannot choose them.
	q.v.Workspace, q.v.Tags, q.v.CreatedBy, q.v.CreationTimestamp = "", nil, "", 0
	v, created, err := s.datasets.CreateDatasetVersion(r.Context(), &q.v)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondDatasetVersion(w, v, &created)
}

// handleGetDatasetVersion serves GET datasets/versions/get?ref=.
func (s *Server) handleGetDatasetVersion(w http.ResponseWriter, r *http.Request) {
	v := query(r.URL.Query())
	if !v.has("ref") {
		s.writeError(w, r, missing("ref"))
		return
	}
	ref, err := loopml.ParseDatasetRef(v.str("ref"))
	if err != nil {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'ref' supplied: %s", loopml.ErrorMessage(err)))
		return
	}
	dv, err := s.datasets.GetDatasetVersion(r.Context(), ref)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondDatasetVersion(w, dv, nil)
}

// handleListDatasetVersions serves GET datasets/versions/list?name=.
func (s *Server) handleListDatasetVersions(w http.ResponseWriter, r *http.Request) {
	name := query(r.URL.Query()).str("name")
	if err := datasetName(name); err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.datasets.ListDatasetVersions(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.arrayField("dataset_versions")
		for _, v := range list {
			e.beginObject()
			encodeDatasetVersion(e, v)
			e.endObject()
		}
		e.endArray()
	})
}

// handleDeleteDatasetVersion serves DELETE datasets/versions/delete with
// name and version in a JSON body or the query string.
func (s *Server) handleDeleteDatasetVersion(w http.ResponseWriter, r *http.Request) {
	q := new(datasetRequest)
	if err := s.decode(r, q); err != nil {
		s.writeError(w, r, err)
		return
	}
	v := query(r.URL.Query())
	if v.has("name") {
		q.v.Name = v.str("name")
	}
	if v.has("version") {
		n, err := versionParam(v)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		q.v.Version = n
	}
	if err := datasetName(q.v.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.v.Version <= 0 {
		s.writeError(w, r, missing("version"))
		return
	}
	if err := s.datasets.DeleteDatasetVersion(r.Context(), q.v.Name, q.v.Version); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

// handleGetDataset serves GET datasets/get?name=.
func (s *Server) handleGetDataset(w http.ResponseWriter, r *http.Request) {
	name := query(r.URL.Query()).str("name")
	if err := datasetName(name); err != nil {
		s.writeError(w, r, err)
		return
	}
	sum, err := s.datasets.GetDataset(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.objectField("dataset")
		encodeDatasetSummary(e, sum)
		e.endObject()
	})
}

// handleListDatasets serves GET datasets/list.
func (s *Server) handleListDatasets(w http.ResponseWriter, r *http.Request) {
	list, err := s.datasets.ListDatasets(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.arrayField("datasets")
		for _, sum := range list {
			e.beginObject()
			encodeDatasetSummary(e, sum)
			e.endObject()
		}
		e.endArray()
	})
}

// handleSetDatasetTag serves POST datasets/tags/set.
func (s *Server) handleSetDatasetTag(w http.ResponseWriter, r *http.Request) {
	q := new(datasetRequest)
	if err := s.decode(r, q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := datasetName(q.v.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.tag == "" {
		s.writeError(w, r, missing("tag"))
		return
	}
	if err := loopml.ValidateDatasetTag(q.tag); err != nil {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value %q for parameter 'tag' supplied: %s", q.tag, loopml.ErrorMessage(err)))
		return
	}
	if q.v.Version <= 0 {
		s.writeError(w, r, missing("version"))
		return
	}
	if err := s.datasets.SetDatasetTag(r.Context(), q.v.Name, q.tag, q.v.Version); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

// handleDeleteDatasetTag serves DELETE datasets/tags/delete with name and
// tag in a JSON body or the query string.
func (s *Server) handleDeleteDatasetTag(w http.ResponseWriter, r *http.Request) {
	q := new(datasetRequest)
	if err := s.decode(r, q); err != nil {
		s.writeError(w, r, err)
		return
	}
	v := query(r.URL.Query())
	if v.has("name") {
		q.v.Name = v.str("name")
	}
	if v.has("tag") {
		q.tag = v.str("tag")
	}
	if err := datasetName(q.v.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.tag == "" {
		s.writeError(w, r, missing("tag"))
		return
	}
	if err := s.datasets.DeleteDatasetTag(r.Context(), q.v.Name, q.tag); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}
