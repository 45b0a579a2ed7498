package httpapi

import (
	"net/http"
	"strconv"

	"github.com/loopml/loopml"
)

// This file serves dataset validation under /api/2.0/loopml/datasets/ (and
// the /ajax-api mirror): recorded validation results, the rules attached
// to datasets, and quarantine. The checks themselves run where the data is
// read (the CLI or a pipeline step), which records their result here.
//
//	POST   datasets/validations/record  {name, version, status, rules_digest?, report_ref?, summary?, failed?, checks?, strict?}
//	                                    -> {"validation"}
//	GET    datasets/validations/list?name=&version= -> {"validations": [...]} newest first (version 0 or absent: all)
//	GET    datasets/validations/latest?ref=NAME[@vN|@tag] -> {"validation"}
//	POST   datasets/rules/set           {name, rules (YAML text)} -> {"rules"}
//	GET    datasets/rules/get?name=     -> {"rules"}
//	GET    datasets/rules/list?name=    -> {"revisions": [rules...]} newest first, removals with empty "rules"
//	DELETE datasets/rules/delete        {name} or ?name= -> {}
//	POST   datasets/versions/quarantine {name, version, quarantined (bool, required)} -> {}
//
// A validation is {"id", "name", "version", "workspace", "status"
// (passed|failed|error), "rules_digest", "report_ref", "summary", "failed",
// "checks", "strict", "created_by", "creation_timestamp"}; rules are
// {"name", "workspace", "revision", "rules", "digest", "created_by",
// "creation_timestamp"}.

// registerDatasetValidationRoutes registers the validation endpoints. When
// the Config has no DatasetValidations they answer 501 NOT_IMPLEMENTED.
func (s *Server) registerDatasetValidationRoutes(mux *http.ServeMux) {
	h := s.ifConfigured(s.validations == nil)
	handleLoopml(mux, "POST", "datasets/validations/record", h(s.handleRecordDatasetValidation))
	handleLoopml(mux, "GET", "datasets/validations/list", h(s.handleListDatasetValidations))
	handleLoopml(mux, "GET", "datasets/validations/latest", h(s.handleLatestDatasetValidation))
	handleLoopml(mux, "POST", "datasets/rules/set", h(s.handleSetDatasetRules))
	handleLoopml(mux, "GET", "datasets/rules/get", h(s.handleGetDatasetRules))
	handleLoopml(mux, "GET", "datasets/rules/list", h(s.handleListDatasetRules))
	handleLoopml(mux, "DELETE", "datasets/rules/delete", h(s.handleDeleteDatasetRules))
	handleLoopml(mux, "POST", "datasets/versions/quarantine", h(s.handleQuarantineDatasetVersion))
}

// validationRequest is the union of the validation request messages.
type validationRequest struct {
	val            loopml.DatasetValidation
	rules          string
	quarantined    bool
	hasQuarantined bool
}

func (q *validationRequest) field(d *decoder, key []byte) (err error) {
	switch string(key) {
	case "rules":
		q.rules, err = d.str()
	case "quarantined":
		q.quarantined, err = d.boolean()
		q.hasQuarantined = true
	default:
		err = decodeDatasetValidationField(d, key, &q.val)
	}
	return err
}

// encodeDatasetValidation writes the members of a validation.
func encodeDatasetValidation(e *encoder, v *loopml.DatasetValidation) {
	e.intNZ("id", v.ID)
	e.strAlways("name", v.Name)
	e.int("version", int64(v.Version))
	e.str("workspace", v.Workspace)
	e.strAlways("status", v.Status)
	e.str("rules_digest", v.RulesDigest)
	e.str("report_ref", v.ReportRef)
	e.str("summary", v.Summary)
	e.int("failed", int64(v.Failed))
	e.int("checks", int64(v.Checks))
	e.boolean("strict", v.Strict)
	e.str("created_by", v.CreatedBy)
	e.intNZ("creation_timestamp", v.CreationTimestamp)
}

// decodeDatasetValidationField decodes one member of a validation into v.
func decodeDatasetValidationField(d *decoder, key []byte, v *loopml.DatasetValidation) (err error) {
	var n int64
	count := func(dst *int, what string) error {
		start := d.pos
		if n, err = d.int64(); err == nil && (n < 0 || n > 1<<31-1) {
			return d.valueErr(start, "expected a non-negative "+what)
		}
		*dst = int(n)
		return err
	}
	switch string(key) {
	case "id":
		v.ID, err = d.int64()
	case "name":
		v.Name, err = d.str()
	case "version":
		err = count(&v.Version, "version number")
	case "workspace":
		v.Workspace, err = d.str()
	case "status":
		v.Status, err = d.str()
	case "rules_digest":
		v.RulesDigest, err = d.str()
	case "report_ref":
		v.ReportRef, err = d.str()
	case "summary":
		v.Summary, err = d.str()
	case "failed":
		err = count(&v.Failed, "count")
	case "checks":
		err = count(&v.Checks, "count")
	case "strict":
		v.Strict, err = d.boolean()
	case "created_by":
		v.CreatedBy, err = d.str()
	case "creation_timestamp":
		v.CreationTimestamp, err = d.int64()
	default:
		err = d.skip()
	}
	return err
}

func decodeDatasetValidation(d *decoder, v *loopml.DatasetValidation) error {
	return d.object(func(d *decoder, key []byte) error { return decodeDatasetValidationField(d, key, v) })
}

// encodeDatasetRules writes the members of attached rules.
func encodeDatasetRules(e *encoder, r *loopml.DatasetRules) {
	e.strAlways("name", r.Name)
	e.str("workspace", r.Workspace)
	e.int("revision", int64(r.Revision))
	e.strAlways("rules", r.YAML)
	e.str("digest", r.Digest)
	e.str("created_by", r.CreatedBy)
	e.intNZ("creation_timestamp", r.CreationTimestamp)
}

func decodeDatasetRules(d *decoder, r *loopml.DatasetRules) error {
	return d.object(func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "name":
			r.Name, err = d.str()
		case "workspace":
			r.Workspace, err = d.str()
		case "revision":
			var n int64
			n, err = d.int64()
			r.Revision = int(n)
		case "rules":
			r.YAML, err = d.str()
		case "digest":
			r.Digest, err = d.str()
		case "created_by":
			r.CreatedBy, err = d.str()
		case "creation_timestamp":
			r.CreationTimestamp, err = d.int64()
		default:
			err = d.skip()
		}
		return err
	})
}

func respondDatasetValidation(w http.ResponseWriter, v *loopml.DatasetValidation) {
	respond(w, func(e *encoder) {
		e.objectField("validation")
		encodeDatasetValidation(e, v)
		e.endObject()
	})
}

// handleRecordDatasetValidation serves POST datasets/validations/record.
func (s *Server) handleRecordDatasetValidation(w http.ResponseWriter, r *http.Request) {
	q := new(validationRequest)
	if err := s.decode(r, q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := datasetName(q.val.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case q.val.Version <= 0:
		s.writeError(w, r, missing("version"))
		return
	case q.val.Status == "":
		s.writeError(w, r, missing("status"))
		return
	case !loopml.ValidDatasetValidationStatus(q.val.Status):
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value %q for parameter 'status' supplied: want passed, failed or error", q.val.Status))
		return
	}
	// The server fills these in; a client cannot choose them.
	q.val.ID, q.val.Workspace, q.val.CreatedBy, q.val.CreationTimestamp = 0, "", "", 0
	if err := s.validations.RecordDatasetValidation(r.Context(), &q.val); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondDatasetValidation(w, &q.val)
}

// handleListDatasetValidations serves GET datasets/validations/list.
func (s *Server) handleListDatasetValidations(w http.ResponseWriter, r *http.Request) {
	v := query(r.URL.Query())
	name := v.str("name")
	if err := datasetName(name); err != nil {
		s.writeError(w, r, err)
		return
	}
	version := 0
	if v.has("version") && v.str("version") != "0" {
		n, err := versionParam(v)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		version = n
	}
	list, err := s.validations.ListDatasetValidations(r.Context(), name, version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.arrayField("validations")
		for _, val := range list {
			e.beginObject()
			encodeDatasetValidation(e, val)
			e.endObject()
		}
		e.endArray()
	})
}

// handleLatestDatasetValidation serves GET datasets/validations/latest?ref=.
func (s *Server) handleLatestDatasetValidation(w http.ResponseWriter, r *http.Request) {
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
	val, err := s.validations.LatestDatasetValidation(r.Context(), ref)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondDatasetValidation(w, val)
}

// handleSetDatasetRules serves POST datasets/rules/set. When the Config
// has CheckDatasetRules, rules it rejects are not stored.
func (s *Server) handleSetDatasetRules(w http.ResponseWriter, r *http.Request) {
	q := new(validationRequest)
	if err := s.decode(r, q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := datasetName(q.val.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.rules == "" {
		s.writeError(w, r, missing("rules"))
		return
	}
	if s.checkRules != nil {
		if err := s.checkRules(q.val.Name, q.rules); err != nil {
			s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'rules' supplied: %s", loopml.ErrorMessage(err)))
			return
		}
	}
	rules, err := s.validations.SetDatasetRules(r.Context(), q.val.Name, q.rules)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondDatasetRules(w, rules)
}

// respondDatasetRules answers {"rules": {...}}.
func respondDatasetRules(w http.ResponseWriter, rules *loopml.DatasetRules) {
	respond(w, func(e *encoder) {
		e.objectField("rules")
		encodeDatasetRules(e, rules)
		e.endObject()
	})
}

// handleGetDatasetRules serves GET datasets/rules/get?name=.
func (s *Server) handleGetDatasetRules(w http.ResponseWriter, r *http.Request) {
	name := query(r.URL.Query()).str("name")
	if err := datasetName(name); err != nil {
		s.writeError(w, r, err)
		return
	}
	rules, err := s.validations.GetDatasetRules(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondDatasetRules(w, rules)
}

// handleListDatasetRules serves GET datasets/rules/list?name=.
func (s *Server) handleListDatasetRules(w http.ResponseWriter, r *http.Request) {
	name := query(r.URL.Query()).str("name")
	if err := datasetName(name); err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.validations.ListDatasetRules(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.arrayField("revisions")
		for _, rules := range list {
			e.beginObject()
			encodeDatasetRules(e, rules)
			e.endObject()
		}
		e.endArray()
	})
}

// handleDeleteDatasetRules serves DELETE datasets/rules/delete with the
// name in a JSON body or the query string.
func (s *Server) handleDeleteDatasetRules(w http.ResponseWriter, r *http.Request) {
	q := new(validationRequest)
	if err := s.decode(r, q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if v := query(r.URL.Query()); v.has("name") {
		q.val.Name = v.str("name")
	}
	if err := datasetName(q.val.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.validations.DeleteDatasetRules(r.Context(), q.val.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

// handleQuarantineDatasetVersion serves POST datasets/versions/quarantine.
func (s *Server) handleQuarantineDatasetVersion(w http.ResponseWriter, r *http.Request) {
	q := new(validationRequest)
	if err := s.decode(r, q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := datasetName(q.val.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.val.Version <= 0 {
		s.writeError(w, r, missing("version"))
		return
	}
	if !q.hasQuarantined {
		s.writeError(w, r, missing("quarantined"))
		return
	}
	if err := s.validations.SetDatasetVersionQuarantine(r.Context(), q.val.Name, q.val.Version, q.quarantined); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

// boolAlways writes a bool member even when false.
func (e *encoder) boolAlways(k string, v bool) {
	e.key(k)
	e.b = strconv.AppendBool(e.b, v)
}
