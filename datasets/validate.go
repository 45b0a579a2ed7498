package datasets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/cas"
	"github.com/loopml/loopml/profile"
	"github.com/loopml/loopml/validate"
)

// RuleWellFormed names the check a strict validation adds: no malformed
// row (ragged, invalid UTF-8, not valid CSV or JSON) and no unreadable
// file among the files checked.
const RuleWellFormed = "well_formed"

// ValidateOptions configures Validate. The zero value checks the rules
// attached to the dataset, non-strictly, without recording.
type ValidateOptions struct {
	// Rules is a YAML rules document (see package validate); "" uses the
	// rules attached to the dataset.
	Rules string
	// RulesName labels Rules in the report and in errors, e.g. the file
	// name; "" means "rules".
	RulesName string
	// Strict adds the well_formed check: malformed rows and unreadable
	// files fail the validation instead of being skipped and reported.
	Strict bool
	// Record stores the JSON report in the artifact store and records the
	// validation (the version then shows its status).
	Record bool
	// Now is the time freshness is measured from; zero means time.Now().
	Now time.Time
	// Workers bounds the profiling goroutines; ≤ 0 means GOMAXPROCS.
	Workers int

	local *localFiles // of a version being added: read instead of the store
}

// ValidationReportPath returns the artifact store path of the report of a
// validation of version v of dataset name made at t.
func ValidationReportPath(name string, v int, t time.Time) string {
	return fmt.Sprintf("datasets/%s/v%d/validations/%s.json", name, v, t.UTC().Format("20060102T150405.000000000Z"))
}

// reportDoc is the stored JSON report: the dataset version and rules
// checked, then the fields of validate.Report (absent when the checks
// could not run, and Error says why).
type reportDoc struct {
	Dataset     string `json:"dataset"`
	Version     int    `json:"version"`
	RulesDigest string `json:"rules_digest"`
	Strict      bool   `json:"strict,omitempty"`
	Error       string `json:"error,omitempty"`
	*validate.Report
}

// validations returns the validation service: Deps.Validations, else the
// Store when it implements it, else nil.
func (d Deps) validations() loopml.DatasetValidationService {
	if d.Validations != nil {
		return d.Validations
	}
	vs, _ := d.Store.(loopml.DatasetValidationService)
	return vs
}

// rulesFor returns the rules YAML to check a dataset with and its label:
// the explicit ones, else the attached ones; "" when there are none.
func rulesFor(ctx context.Context, d Deps, name, explicit, label string) (string, string, error) {
	if explicit != "" {
		if label == "" {
			label = "rules"
		}
		return explicit, label, nil
	}
	vs := d.validations()
	if vs == nil {
		return "", "", nil
	}
	r, err := vs.GetDatasetRules(ctx, name)
	switch {
	case loopml.ErrorCode(err) == loopml.ENOTFOUND:
		return "", "", nil
	case err != nil:
		return "", "", err
	}
	return r.YAML, fmt.Sprintf("%s (attached, revision %d)", name, r.Revision), nil
}

// LoadRules parses a rules document, returning EINVALID naming the line
// and key at fault.
func LoadRules(yaml, label string) (*validate.Rules, error) {
	if label == "" {
		label = "rules"
	}
	return validate.Load(strings.NewReader(yaml), label)
}

// Validate checks the version ref names against rules (ValidateOptions)
// in one streaming pass over its tabular files, read from the artifact
// store, and returns the report and the validation record (with
// opts.Record, stored: the report at ReportRef and the record in the
// validation service). A failed validation is not an error: see the
// report and the record's Status. Missing or malformed rules are an
// error (EINVALID) and nothing is recorded. When the checks start but
// cannot finish (a reference version that does not resolve or has no
// profile) the record has status "error" and is returned with the error;
// with opts.Record it is recorded too.
func Validate(ctx context.Context, d Deps, ref string, opts ValidateOptions) (*validate.Report, *loopml.DatasetValidation, error) {
	v, err := Resolve(ctx, d, ref)
	if err != nil {
		return nil, nil, err
	}
	yaml, label, err := rulesFor(ctx, d, v.Name, opts.Rules, opts.RulesName)
	if err != nil {
		return nil, nil, err
	}
	if yaml == "" && !opts.Strict {
		return nil, nil, loopml.Errorf(loopml.EINVALID, "dataset %s has no rules attached: pass a rules file, or attach one with `loopml data rules set %s FILE`", v.Name, v.Name)
	}
	if opts.Record && d.validations() == nil {
		return nil, nil, loopml.Errorf(loopml.ENOTIMPLEMENTED, "this store does not record dataset validations")
	}
	rules, err := LoadRules(yaml, label)
	if err != nil {
		return nil, nil, err
	}
	m, err := Manifest(ctx, d, v)
	if err != nil {
		return nil, nil, err
	}
	rep, checkErr := checkManifest(ctx, d, v.Name, v.Version, m, rules, opts)
	if checkErr != nil && ctx.Err() != nil {
		return nil, nil, checkErr
	}
	val := newValidation(v.Name, v.Version, yaml, rep, checkErr, opts.Strict)
	if opts.Record {
		if err := recordValidation(ctx, d, val, rep, checkErr); err != nil {
			return rep, val, err
		}
	}
	return rep, val, checkErr
}

// checkManifest validates the tabular files of manifest m selected by the
// rules, as one table. version is the version being checked (math.MaxInt
// for one not created yet): drift rules without an explicit reference
// compare with the newest live, non-quarantined version below it.
func checkManifest(ctx context.Context, d Deps, name string, version int, m cas.Manifest, rules *validate.Rules, opts ValidateOptions) (*validate.Report, error) {
	ref, err := referenceProfile(ctx, d, name, version, rules)
	if err != nil {
		return nil, err
	}
	run := rules
	var unchecked []validate.ColumnRules
	if ref == nil && hasDrift(rules) {
		// No earlier version: drift cannot be measured yet. Check the rest
		// and say so rather than fail the first version of every dataset.
		cp := *rules
		cp.Columns = make([]validate.ColumnRules, len(rules.Columns))
		for i, c := range rules.Columns {
			if c.Drift != nil {
				unchecked = append(unchecked, c)
				c.Drift = nil
			}
			cp.Columns[i] = c
		}
		run = &cp
	}
	var inputs []validate.Input
	for _, e := range m.Entries {
		if e.Dir || !Tabular(e.Path) || !rules.Selects(e.Path) {
			continue
		}
		inputs = append(inputs, validate.Input{Name: e.Path, Open: func(ctx context.Context) (io.ReadCloser, error) {
			return opts.local.open(ctx, d, e)
		}})
	}
	rep, err := validate.CheckInputs(ctx, run, inputs, validate.Options{Now: opts.Now, Reference: ref, Workers: opts.Workers, Logger: d.logger()})
	if err != nil {
		return nil, err
	}
	for _, c := range unchecked {
		rep.Results = append(rep.Results, validate.Result{Rule: validate.RuleDrift, Column: c.Name, Passed: true,
			Observed: "no reference version", Expected: fmt.Sprintf("%s ≤ %g", orDefault(string(c.Drift.Method), "drift"), c.Drift.Threshold),
			Message: fmt.Sprintf("drift of column %q not checked: %s has no earlier version to compare with", c.Name, name)})
	}
	if opts.Strict {
		addWellFormed(rep)
	}
	return rep, nil
}

// errText returns the message of a loopml error, else the error's text.
func errText(err error) string {
	var le *loopml.Error
	if errors.As(err, &le) {
		return loopml.ErrorMessage(err)
	}
	return err.Error()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func hasDrift(r *validate.Rules) bool {
	for _, c := range r.Columns {
		if c.Drift != nil {
			return true
		}
	}
	return false
}

// referenceProfile returns the profile drift rules compare with: of the
// rules' reference version, or else of the newest live, non-quarantined
// version of name below version, restricted to the files the rules
// select; nil when the rules have no drift rule or there is no such
// version.
func referenceProfile(ctx context.Context, d Deps, name string, version int, rules *validate.Rules) (*profile.Profile, error) {
	if !hasDrift(rules) {
		return nil, nil
	}
	var rv *loopml.DatasetVersion
	if rules.Reference != "" {
		v, err := Resolve(ctx, d, rules.Reference)
		if err != nil {
			return nil, loopml.WrapError(loopml.ErrorCode(err), err, "reference %s of rules %s: %s", rules.Reference, rules.Name, errText(err))
		}
		rv = v
	} else {
		vs, err := d.Store.ListDatasetVersions(ctx, name)
		if err != nil && loopml.ErrorCode(err) != loopml.ENOTFOUND {
			return nil, err
		}
		for _, v := range vs {
			if v.Version < version && !v.Quarantined {
				rv = v
			}
		}
		if rv == nil {
			return nil, nil
		}
	}
	ps, err := Profiles(ctx, d, rv)
	if err != nil {
		return nil, err
	}
	var out *profile.Profile
	for _, p := range SortedPaths(ps) {
		if !rules.Selects(p) {
			continue
		}
		if out == nil {
			out = profile.New(ps[p].Config())
		}
		if err := out.Merge(ps[p]); err != nil {
			return nil, fmt.Errorf("reference %s@v%d: %w", rv.Name, rv.Version, err)
		}
	}
	if out == nil {
		return nil, loopml.Errorf(loopml.EINVALID, "reference %s@v%d has no tabular file the rules select", rv.Name, rv.Version)
	}
	return out, nil
}

// addWellFormed appends the strict well_formed result to rep.
func addWellFormed(rep *validate.Report) {
	var unreadable int64
	var ex []validate.Example
	for _, is := range rep.Issues {
		if is.Line == 0 {
			unreadable++
		}
		if len(ex) < validate.DefaultMaxExamples {
			ex = append(ex, validate.Example{File: is.File, Line: is.Line, Note: is.Reason})
		}
	}
	res := validate.Result{Rule: RuleWellFormed, Passed: rep.BadRows == 0 && unreadable == 0,
		Observed: fmt.Sprintf("%d malformed rows, %d unreadable files", rep.BadRows, unreadable),
		Expected: "no malformed rows or unreadable files"}
	res.Message = "files are well formed"
	if !res.Passed {
		res.Violations, res.Examples = rep.BadRows+unreadable, ex
		res.Message = fmt.Sprintf("%d malformed rows and %d unreadable files", rep.BadRows, unreadable)
		if len(ex) > 0 {
			res.Message += fmt.Sprintf(", first %s:%d: %s", ex[0].File, ex[0].Line, ex[0].Note)
		}
	}
	rep.Results = append(rep.Results, res)
	rep.Passed = rep.Passed && res.Passed
}

// maxSummary bounds DatasetValidation.Summary, in runes.
const maxSummary = 1000

// newValidation builds the record of a validation of name@vversion.
func newValidation(name string, version int, yaml string, rep *validate.Report, checkErr error, strict bool) *loopml.DatasetValidation {
	val := &loopml.DatasetValidation{Name: name, Version: version, RulesDigest: loopml.RulesDigest(yaml), Strict: strict}
	if checkErr != nil || rep == nil {
		val.Status = loopml.ValidationError
		val.Summary = truncate("validation could not run: " + errText(checkErr))
		return val
	}
	failed := rep.Failed()
	val.Checks, val.Failed = len(rep.Results), len(failed)
	val.Status = loopml.ValidationPassed
	var b strings.Builder
	if len(failed) == 0 {
		fmt.Fprintf(&b, "%d of %d checks passed", val.Checks, val.Checks)
	} else {
		val.Status = loopml.ValidationFailed
		fmt.Fprintf(&b, "%d of %d checks failed: ", val.Failed, val.Checks)
		for i, f := range failed {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(f.Rule)
			if f.Column != "" {
				b.WriteString(" " + f.Column)
			}
			fmt.Fprintf(&b, ": %s (want %s)", f.Observed, f.Expected)
			if len(f.Examples) > 0 {
				fmt.Fprintf(&b, ", e.g. %s:%d", f.Examples[0].File, f.Examples[0].Line)
			}
		}
	}
	if len(rep.Issues) > 0 {
		var unreadable int
		for _, is := range rep.Issues {
			if is.Line == 0 {
				unreadable++
			}
		}
		var parts []string
		if rep.BadRows > 0 {
			parts = append(parts, fmt.Sprintf("%d malformed rows", rep.BadRows))
		}
		if unreadable > 0 {
			parts = append(parts, fmt.Sprintf("%d unreadable files", unreadable))
		}
		fmt.Fprintf(&b, " (skipped %s; first %s)", strings.Join(parts, " and "), rep.Issues[0])
	}
	val.Summary = truncate(b.String())
	return val
}

func truncate(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > maxSummary {
		s = string(r[:maxSummary-1]) + "…"
	}
	return s
}

// recordValidation stores the report and records val.
func recordValidation(ctx context.Context, d Deps, val *loopml.DatasetValidation, rep *validate.Report, checkErr error) error {
	vs := d.validations()
	if vs == nil {
		return loopml.Errorf(loopml.ENOTIMPLEMENTED, "this store does not record dataset validations")
	}
	doc := reportDoc{Dataset: val.Name, Version: val.Version, RulesDigest: val.RulesDigest, Strict: val.Strict, Report: rep}
	if checkErr != nil {
		doc.Error = errText(checkErr)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return loopml.WrapError(loopml.EINTERNAL, err, "encode validation report")
	}
	p := ValidationReportPath(val.Name, val.Version, time.Now())
	if _, err := d.Artifacts.Put(ctx, p, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("store validation report of %s@v%d: %w", val.Name, val.Version, err)
	}
	val.ReportRef = p
	if err := vs.RecordDatasetValidation(ctx, val); err != nil {
		return fmt.Errorf("record validation of %s@v%d: %w", val.Name, val.Version, err)
	}
	return nil
}

// LoadValidationReport reads the stored report of a validation. The
// report of a validation that could not run has no results. ENOTFOUND
// when no report was stored.
func LoadValidationReport(ctx context.Context, d Deps, val *loopml.DatasetValidation) (*validate.Report, error) {
	if val.ReportRef == "" {
		return nil, loopml.Errorf(loopml.ENOTFOUND, "validation %d of %s@v%d has no stored report", val.ID, val.Name, val.Version)
	}
	rc, err := d.Artifacts.Open(ctx, val.ReportRef)
	if err != nil {
		return nil, fmt.Errorf("open validation report %s: %w", val.ReportRef, err)
	}
	defer rc.Close()
	var doc reportDoc
	if err := json.NewDecoder(rc).Decode(&doc); err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "validation report %s is corrupt", val.ReportRef)
	}
	if doc.Report == nil {
		return &validate.Report{Results: []validate.Result{}}, nil
	}
	return doc.Report, nil
}

// validateNew checks a version about to be created (manifest m) against
// the rules of an Add. The error is the reason the checks could not run
// (the record then has status error).
// The files are read from local when it knows them; if one changed since
// the add, the checks run again on the stored copies.
func validateNew(ctx context.Context, d Deps, name string, m cas.Manifest, yaml string, rules *validate.Rules, opts AddOptions, local *localFiles) (*validate.Report, *loopml.DatasetValidation, error) {
	vo := ValidateOptions{Strict: opts.Strict, Now: opts.Now, Workers: opts.Workers, local: local}
	rep, err := checkManifest(ctx, d, name, math.MaxInt, m, rules, vo)
	if local != nil && local.changed.Load() && ctx.Err() == nil {
		d.logger().Warn("a file changed while it was being added; validating the stored copies", "dataset", name)
		vo.local = nil
		rep, err = checkManifest(ctx, d, name, math.MaxInt, m, rules, vo)
	}
	return rep, newValidation(name, 0, yaml, rep, err, opts.Strict), err
}

// withProfiles returns prev with the profiles ps (by path, as a validation
// of manifest m computed them) as known profiles of m's files, so that
// profileManifest reuses them.
func withProfiles(prev profileDoc, m cas.Manifest, ps map[string]*profile.Profile) profileDoc {
	if len(ps) == 0 {
		return prev
	}
	out := profileDoc{Files: map[string]*profile.Profile{}, Digests: map[string]cas.Digest{}}
	for p, f := range prev.Files {
		out.Files[p], out.Digests[p] = f, prev.Digests[p]
	}
	for _, e := range m.Entries {
		if f := ps[e.Path]; f != nil && !e.Dir {
			out.Files[e.Path], out.Digests[e.Path] = f, e.Digest
		}
	}
	return out
}
