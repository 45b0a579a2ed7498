package datasets_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
	"github.com/loopml/loopml/validate"
)

const ratingRules = `files: ["ratings*.csv"]
row_count: {min: 3}
columns:
  rating:
    type: float
    not_null: true
    min: 0.5
    max: 5
`

// ratings returns a ratings CSV; bad adds a row whose rating is 7 (line 4).
func ratings(bad bool) string {
	s := "userId,rating\n1,4.5\n2,3\n"
	if bad {
		return s + "3,7\n"
	}
	return s + "3,5\n"
}

func validationsOf(t *testing.T, d datasets.Deps, name string, v int) []*loopml.DatasetValidation {
	t.Helper()
	vs, err := d.Store.(loopml.DatasetValidationService).ListDatasetValidations(context.Background(), name, v)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func resolve(t *testing.T, d datasets.Deps, ref string) *loopml.DatasetVersion {
	t.Helper()
	v, err := datasets.Resolve(context.Background(), d, ref)
	if err != nil {
		t.Fatalf("resolve %s: %v", ref, err)
	}
	return v
}

func TestAddValidation(t *testing.T) {
	ctx := context.Background()
	d := newDeps(t)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	writeFiles(t, good, map[string]string{"ratings.csv": ratings(false), "movies.csv": "movieId,title\n1,Heat\n"})
	writeFiles(t, bad, map[string]string{"ratings.csv": ratings(true), "movies.csv": "movieId,title\n1,Heat\n"})

	// Pass: explicit rules; movies.csv is not selected by files:.
	r1 := mustAdd(t, d, "movies", []string{good}, datasets.AddOptions{Rules: ratingRules, RulesName: "rules.yaml", Strict: true})
	if r1.Validation == nil || r1.Validation.Status != loopml.ValidationPassed || r1.Version.Quarantined || r1.Version.Validation != "passed" {
		t.Fatalf("passing add: validation %+v, version %+v", r1.Validation, r1.Version)
	}
	if r1.Validation.Checks != 6 || r1.Validation.Failed != 0 { // row_count, type, not_null, min, max, well_formed
		t.Errorf("checks %d failed %d, want 6 and 0", r1.Validation.Checks, r1.Validation.Failed)
	}
	if got := r1.Report.Files; len(got) != 1 || got[0] != "ratings.csv" {
		t.Errorf("files checked %v, want only ratings.csv", got)
	}

	// Fail, not strict: recorded failed, still @latest.
	r2, err := datasets.Add(ctx, d, "movies", []string{bad}, datasets.AddOptions{Rules: ratingRules})
	if err != nil {
		t.Fatalf("non-strict failing add returned %v", err)
	}
	if r2.Version.Version != 2 || r2.Version.Quarantined || r2.Validation.Status != loopml.ValidationFailed {
		t.Fatalf("non-strict failing add: %+v %+v", r2.Version, r2.Validation)
	}
	if v := resolve(t, d, "movies"); v.Version != 2 || v.Validation != loopml.ValidationFailed {
		t.Errorf("@latest after a non-strict failure: v%d %q, want v2 failed", v.Version, v.Validation)
	}
	for _, want := range []string{"1 of 5 checks failed", "max rating", "want values ≤ 5", "ratings.csv:4"} {
		if !strings.Contains(r2.Validation.Summary, want) {
			t.Errorf("summary %q lacks %q", r2.Validation.Summary, want)
		}
	}

	// Fail, strict: error, quarantined, not @latest, @v3 still resolves,
	// and the report is recorded with the offending row.
	writeFiles(t, bad, map[string]string{"extra.txt": "x"})
	r3, err := datasets.Add(ctx, d, "movies", []string{bad}, datasets.AddOptions{Rules: ratingRules, Strict: true})
	if err == nil || loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "movies@v3 failed validation and is quarantined") {
		t.Fatalf("strict failing add: got error %v", err)
	}
	if r3 == nil || r3.Version.Version != 3 || !r3.Version.Quarantined {
		t.Fatalf("strict failing add result: %+v", r3)
	}
	if v := resolve(t, d, "movies@latest"); v.Version != 2 {
		t.Errorf("@latest is v%d, want v2 (v3 quarantined)", v.Version)
	}
	if v := resolve(t, d, "movies@v3"); !v.Quarantined || v.Validation != loopml.ValidationFailed {
		t.Errorf("@v3: %+v", v)
	}
	vals := validationsOf(t, d, "movies", 3)
	if len(vals) != 1 || vals[0].Status != loopml.ValidationFailed || !vals[0].Strict {
		t.Fatalf("validations of v3: %+v", vals)
	}
	rep, err := datasets.LoadValidationReport(ctx, d, vals[0])
	if err != nil {
		t.Fatal(err)
	}
	var maxRes *validate.Result
	for i, r := range rep.Results {
		if r.Rule == validate.RuleMax {
			maxRes = &rep.Results[i]
		}
	}
	if maxRes == nil || maxRes.Passed || len(maxRes.Examples) != 1 || maxRes.Examples[0].File != "ratings.csv" || maxRes.Examples[0].Line != 4 || maxRes.Examples[0].Value != "7" {
		t.Fatalf("stored report's max result: %+v", maxRes)
	}

	// Release lifts the quarantine.
	vs := d.Store.(loopml.DatasetValidationService)
	if err := vs.SetDatasetVersionQuarantine(ctx, "movies", 3, false); err != nil {
		t.Fatal(err)
	}
	if v := resolve(t, d, "movies"); v.Version != 3 {
		t.Errorf("@latest after release: v%d, want v3", v.Version)
	}
}

func TestAddAttachedRules(t *testing.T) {
	ctx := context.Background()
	d := newDeps(t)
	vs := d.Store.(loopml.DatasetValidationService)
	if _, err := vs.SetDatasetRules(ctx, "ratings", ratingRules); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, filepath.Join(dir, "a"), map[string]string{"ratings.csv": ratings(false)})
	writeFiles(t, filepath.Join(dir, "b"), map[string]string{"ratings.csv": ratings(true)})

	r1 := mustAdd(t, d, "ratings", []string{filepath.Join(dir, "a")}, datasets.AddOptions{})
	if r1.Validation == nil || r1.Validation.Status != loopml.ValidationPassed || r1.Validation.RulesDigest != loopml.RulesDigest(ratingRules) {
		t.Fatalf("attached rules not applied: %+v", r1.Validation)
	}
	_, err := datasets.Add(ctx, d, "ratings", []string{filepath.Join(dir, "b")}, datasets.AddOptions{Strict: true})
	if loopml.ErrorCode(err) != loopml.EINVALID {
		t.Fatalf("strict add against attached rules: %v", err)
	}
	if v := resolve(t, d, "ratings"); v.Version != 1 {
		t.Fatalf("@latest v%d, want v1", v.Version)
	}

	// Re-adding the quarantined tree returns v2; after the rules are
	// relaxed it passes and the quarantine is lifted.
	again, err := datasets.Add(ctx, d, "ratings", []string{filepath.Join(dir, "b")}, datasets.AddOptions{Strict: true})
	if err == nil || again == nil || again.Created || again.Version.Version != 2 || !again.Version.Quarantined {
		t.Fatalf("re-add of quarantined tree: %+v, %v", again, err)
	}
	if _, err := vs.SetDatasetRules(ctx, "ratings", strings.Replace(ratingRules, "max: 5", "max: 10", 1)); err != nil {
		t.Fatal(err)
	}
	fixed := mustAdd(t, d, "ratings", []string{filepath.Join(dir, "b")}, datasets.AddOptions{Strict: true})
	if fixed.Created || fixed.Version.Version != 2 || fixed.Version.Quarantined || fixed.Validation.Status != loopml.ValidationPassed {
		t.Fatalf("re-add after fixing the rules: %+v %+v", fixed.Version, fixed.Validation)
	}
	if v := resolve(t, d, "ratings"); v.Version != 2 {
		t.Errorf("@latest v%d after the quarantine was lifted, want v2", v.Version)
	}
	if n := len(validationsOf(t, d, "ratings", 2)); n != 3 {
		t.Errorf("v2 has %d validations, want 3", n)
	}

	// Invalid explicit rules are rejected before anything is stored.
	_, err = datasets.Add(ctx, d, "ratings", []string{filepath.Join(dir, "a")}, datasets.AddOptions{Rules: "columns: {rating: {maxx: 1}}", RulesName: "r.yaml"})
	if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "r.yaml:1") {
		t.Fatalf("invalid rules: %v", err)
	}
}

func gz(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestAddMalformed: a ragged row and a broken gzip file are reported with
// file and line; the add goes on without --strict and fails with it.
func TestAddMalformed(t *testing.T) {
	ctx := context.Background()
	d := newDeps(t)
	dir := t.TempDir()
	broken := gz(t, ratings(false))
	broken = broken[:len(broken)/2] // truncated gzip stream
	writeFiles(t, dir, map[string]string{
		"ratings.csv":      "userId,rating\n1,4.5\n2,3,extra\n3,5\n",
		"ratings-2.csv.gz": broken,
	})
	res, err := datasets.Add(ctx, d, "r", []string{dir}, datasets.AddOptions{Rules: strings.Replace(ratingRules, `"ratings*.csv"`, `"ratings*"`, 1)})
	if err != nil {
		t.Fatalf("non-strict add with malformed files: %v", err)
	}
	if res.Validation.Status != loopml.ValidationFailed { // row_count min 3: only 2 good rows
		t.Errorf("status %q, want failed (2 rows)", res.Validation.Status)
	}
	for _, want := range []string{"skipped 1 malformed rows and 1 unreadable files; first ratings-2.csv.gz: unexpected EOF"} {
		if !strings.Contains(res.Validation.Summary, want) {
			t.Errorf("summary %q lacks %q", res.Validation.Summary, want)
		}
	}
	var unreadable bool
	for _, is := range res.Report.Issues {
		if is.File == "ratings-2.csv.gz" && is.Line == 0 {
			unreadable = true
		}
	}
	if !unreadable {
		t.Errorf("issues %v do not report the broken gzip file", res.Report.Issues)
	}
	ps, err := datasets.Profiles(ctx, d, res.Version)
	if err != nil {
		t.Fatal(err)
	}
	if ps["ratings.csv"] == nil || ps["ratings-2.csv.gz"] != nil {
		t.Errorf("profiles %v: want ratings.csv only", datasets.SortedPaths(ps))
	}

	// Strict, no rules: only well_formed, which fails naming file:line.
	writeFiles(t, dir, map[string]string{"more.csv": "a\n1\n"})
	res, err = datasets.Add(ctx, d, "r", []string{dir}, datasets.AddOptions{Strict: true})
	if loopml.ErrorCode(err) != loopml.EINVALID || res == nil || !res.Version.Quarantined {
		t.Fatalf("strict add with malformed files: %+v %v", res, err)
	}
	var wf *validate.Result
	for i := range res.Report.Results {
		if res.Report.Results[i].Rule == datasets.RuleWellFormed {
			wf = &res.Report.Results[i]
		}
	}
	if wf == nil || wf.Passed || wf.Violations != 2 || len(wf.Examples) != 2 {
		t.Fatalf("well_formed result: %+v", wf)
	}
	// Files are read in path order: ratings-2.csv.gz, then ratings.csv.
	if e := wf.Examples[0]; e.File != "ratings-2.csv.gz" || e.Line != 0 || !strings.Contains(e.Note, "EOF") {
		t.Errorf("first well_formed example %+v, want the truncated gzip file", e)
	}
	if e := wf.Examples[1]; e.File != "ratings.csv" || e.Line != 3 || !strings.Contains(e.Note, "fields") {
		t.Errorf("second example %+v, want ratings.csv:3 ragged", e)
	}
}

func TestValidate(t *testing.T) {
	ctx := context.Background()
	d := newDeps(t)
	dir := t.TempDir()
	writeFiles(t, filepath.Join(dir, "1"), map[string]string{"ratings.csv": ratings(false)})
	writeFiles(t, filepath.Join(dir, "2"), map[string]string{"ratings.csv": ratings(true)})
	mustAdd(t, d, "r", []string{filepath.Join(dir, "1")}, datasets.AddOptions{})
	mustAdd(t, d, "r", []string{filepath.Join(dir, "2")}, datasets.AddOptions{})

	// No rules anywhere.
	_, _, err := datasets.Validate(ctx, d, "r", datasets.ValidateOptions{})
	if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "no rules attached") {
		t.Fatalf("validate without rules: %v", err)
	}
	// Without Record nothing is stored.
	rep, val, err := datasets.Validate(ctx, d, "r@v2", datasets.ValidateOptions{Rules: ratingRules})
	if err != nil || rep.Passed || val.Status != loopml.ValidationFailed || val.ID != 0 {
		t.Fatalf("validate v2: %+v %+v %v", rep, val, err)
	}
	if n := len(validationsOf(t, d, "r", 0)); n != 0 {
		t.Fatalf("%d validations recorded without Record", n)
	}
	_, val, err = datasets.Validate(ctx, d, "r@v1", datasets.ValidateOptions{Rules: ratingRules, Record: true})
	if err != nil || val.ID == 0 || val.ReportRef == "" || val.Status != loopml.ValidationPassed {
		t.Fatalf("recorded validation of v1: %+v %v", val, err)
	}
	rc, err := d.Artifacts.Open(ctx, val.ReportRef)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var doc map[string]any
	if err := json.NewDecoder(rc).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc["dataset"] != "r" || doc["version"] != 1.0 || doc["passed"] != true || doc["results"] == nil {
		t.Errorf("stored report: %v", doc)
	}

	// Drift: v2 against v1 by default; the first version has nothing to
	// compare with, which passes with a note.
	drift := "columns:\n  rating:\n    drift: {max_psi: 0.0001}\n"
	rep, _, err = datasets.Validate(ctx, d, "r@v1", datasets.ValidateOptions{Rules: drift})
	if err != nil || !rep.Passed || !strings.Contains(rep.Results[0].Message, "no earlier version") {
		t.Fatalf("drift on v1: %+v %v", rep, err)
	}
	rep, _, err = datasets.Validate(ctx, d, "r@v2", datasets.ValidateOptions{Rules: drift})
	if err != nil || rep.Passed || rep.Results[0].Rule != validate.RuleDrift {
		t.Fatalf("drift of v2 against v1: %+v %v", rep, err)
	}
	// An explicit reference that does not resolve: status error, recorded.
	_, val, err = datasets.Validate(ctx, d, "r@v2", datasets.ValidateOptions{Rules: "reference: r@v9\n" + drift, Record: true})
	if loopml.ErrorCode(err) != loopml.ENOTFOUND || val == nil || val.Status != loopml.ValidationError || !strings.Contains(val.Summary, "r@v9") {
		t.Fatalf("bad reference: %+v %v", val, err)
	}
	if v := resolve(t, d, "r@v2"); v.Validation != loopml.ValidationError {
		t.Errorf("v2 status %q, want error", v.Validation)
	}
}

// TestAddValidationReusesProfiles: the profiles Add stores after a
// validation pass (which profiled the files it read) equal those of an add
// without rules.
func TestAddValidationReusesProfiles(t *testing.T) {
	ctx := context.Background()
	d := newDeps(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"ratings.csv": table(3000, 3, []string{"a", "b"}, 7), "movies.csv": "movieId,title\n1,Heat\n"})
	plain := mustAdd(t, d, "plain", []string{dir}, datasets.AddOptions{Workers: 1})
	checked := mustAdd(t, d, "checked", []string{dir}, datasets.AddOptions{Workers: 1, Rules: "files: [ratings.csv]\nrow_count: {min: 1}\n"})
	if checked.Validation.Status != loopml.ValidationPassed || plain.Version.Schema != checked.Version.Schema {
		t.Fatalf("validation %+v; schemas\n%s\n%s", checked.Validation, plain.Version.Schema, checked.Version.Schema)
	}
	read := func(v *loopml.DatasetVersion) string {
		rc, err := d.Artifacts.Open(ctx, v.ProfileRef)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if a, b := read(plain.Version), read(checked.Version); a != b {
		t.Errorf("stored profiles differ:\n%s\n%s", a, b)
	}
}

// BenchmarkAddValidated adds a 200,000-row CSV as a new dataset each
// iteration: without rules, with a dataset-level rule only (the validation
// pass also yields the stored profile, so it should cost about the same)
// and with five column rules (unique, not_null, type, min/max, allowed).
func BenchmarkAddValidated(b *testing.B) {
	dir := b.TempDir()
	data := table(200_000, 100, []string{"de", "fr", "it"}, 3)
	if err := os.WriteFile(filepath.Join(dir, "sales.csv"), []byte(data), 0o644); err != nil {
		b.Fatal(err)
	}
	rules := "row_count: {min: 1}\ncolumns:\n  id: {unique: true, not_null: true}\n  amount: {type: float, min: -1000, max: 1000}\n  country: {allowed: [de, fr, it]}\n"
	for _, bc := range []struct{ name, rules string }{{"rules=none", ""}, {"rules=row_count", "row_count: {min: 1}\n"}, {"rules=5", rules}} {
		b.Run(bc.name, func(b *testing.B) {
			d := newDeps(b)
			b.SetBytes(int64(len(data)))
			i := 0
			for b.Loop() {
				i++
				if _, err := datasets.Add(context.Background(), d, fmt.Sprintf("s%d", i), []string{dir}, datasets.AddOptions{Rules: bc.rules}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAddBrokenParquet: a file that is not Parquet is reported as
// unreadable and fails a strict add, when the profile package reads
// Parquet.
func TestAddBrokenParquet(t *testing.T) {
	if !datasets.Tabular("x.parquet") {
		t.Skip("the profile package does not read Parquet")
	}
	ctx := context.Background()
	d := newDeps(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"ratings.csv": ratings(false), "part-0.parquet": "PAR1 this is not parquet"})
	res, err := datasets.Add(ctx, d, "p", []string{dir}, datasets.AddOptions{})
	if err != nil || res.Version.Quarantined {
		t.Fatalf("non-strict add with a broken Parquet file: %v", err)
	}
	res, err = datasets.Add(ctx, d, "q", []string{dir}, datasets.AddOptions{Strict: true})
	if loopml.ErrorCode(err) != loopml.EINVALID || res == nil || !res.Version.Quarantined {
		t.Fatalf("strict add with a broken Parquet file: %+v %v", res, err)
	}
	if len(res.Report.Issues) != 1 || res.Report.Issues[0].File != "part-0.parquet" || res.Report.Issues[0].Line != 0 {
		t.Errorf("issues %v, want part-0.parquet unreadable", res.Report.Issues)
	}
}
