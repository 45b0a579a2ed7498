package validate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/profile"
	"github.com/loopml/loopml/validate"
)

// now is the fixed check time of the tests.
var now = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

// base is a small table every rule passes with the "pass" rules below.
const base = `id,name,rating,ts,genre
1,ann,4.5,2026-11-20T10:00:00Z,comedy
2,bob,3.0,2026-11-21T10:00:00Z,drama
3,cy,5,2026-11-21T12:00:00Z,comedy
`

func mustLoad(tb testing.TB, src string) *validate.Rules {
	tb.Helper()
	r, err := validate.Load(strings.NewReader(src), "rules.yaml")
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return r
}

func writeFile(tb testing.TB, name, data string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func checkString(tb testing.TB, rules, name, data string, opts validate.Options) *validate.Report {
	tb.Helper()
	if opts.Now.IsZero() {
		opts.Now = now
	}
	rep, err := validate.CheckFiles(context.Background(), mustLoad(tb, rules), []string{writeFile(tb, name, data)}, opts)
	if err != nil {
		tb.Fatalf("CheckFiles: %v", err)
	}
	return rep
}

func find(rep *validate.Report, rule, column string) (validate.Result, bool) {
	for _, r := range rep.Results {
		if r.Rule == rule && r.Column == column {
			return r, true
		}
	}
	return validate.Result{}, false
}

func exampleLines(r validate.Result) []int64 {
	var out []int64
	for _, e := range r.Examples {
		out = append(out, e.Line)
	}
	return out
}

// TestRules gives every rule a passing and a failing case; failing cases
// check the result names the column, the observed value and the example
// rows by line.
func TestRules(t *testing.T) {
	tests := []struct {
		name     string
		rules    string
		data     string // CSV; base if empty
		rule     string
		column   string
		pass     bool
		observed string  // substring of Observed
		lines    []int64 // example lines of a failure
	}{
		{"row_count/pass", "row_count: {min: 1, max: 3}", "", "row_count", "", true, "3 rows", nil},
		{"row_count/fail", "row_count: {min: 4}", "", "row_count", "", false, "3 rows", nil},
		{"required/pass", "required_columns: [id, rating]", "", "required_columns", "rating", true, "present", nil},
		{"required/fail", "required_columns: [id, user]", "", "required_columns", "user", false, "absent", nil},
		{"freshness/pass", "freshness: {column: ts, max_age: 2d}", "", "freshness", "ts", true, "newest 2026-11-21T12:00:00Z, 12h0m0s old", nil},
		{"freshness/fail", "freshness: {column: ts, max_age: 1h}", "", "freshness", "ts", false, "12h0m0s old", nil},
		{"freshness/not timestamp", "freshness: {column: name, max_age: 1h}", "", "freshness", "name", false, "not a timestamp", nil},
		{"type/pass", "columns: {rating: {type: float}, id: {type: integer}}", "", "type", "rating", true, "float", nil},
		{"type/integer fits float", "columns: {id: {type: float}}", "", "type", "id", true, "integer", nil},
		{"type/epoch as timestamp", "columns: {created_at: {type: timestamp}}", "id,created_at\n1,1700000000\n", "type", "created_at", true, "timestamp (epoch_s)", nil},
		{"type/epoch as integer", "columns: {created_at: {type: integer}}", "id,created_at\n1,1700000000\n", "type", "created_at", true, "timestamp (epoch_s)", nil},
		{"type/epoch not boolean", "columns: {created_at: {type: boolean}}", "id,created_at\n1,1700000000\n", "type", "created_at", false, "timestamp (epoch_s)", []int64{2}},
		{"type/fail", "columns: {rating: {type: float}}", "id,rating\n1,4.5\n2,x\n3,2\n", "type", "rating", false, "string", []int64{3}},
		{"not_null/pass", "columns: {rating: {not_null: true}}", "", "not_null", "rating", true, "0 missing", nil},
		{"not_null/fail", "columns: {rating: {not_null: true}}", "id,rating\n1,4.5\n2,\n3,NA\n4,1\n", "not_null", "rating", false, "2 missing", []int64{3, 4}},
		{"min/pass", "columns: {rating: {min: 0.5}}", "", "min", "rating", true, "min 3, max 5", nil},
		{"min/fail", "columns: {rating: {min: 4}}", "", "min", "rating", false, "min 3, max 5", []int64{3}},
		{"min/not numeric", "columns: {rating: {min: 0}}", "id,rating\n1,4.5\n2,high\n", "min", "rating", false, "1 values not numeric", []int64{3}},
		{"max/pass", "columns: {rating: {max: 5}}", "", "max", "rating", true, "max 5", nil},
		{"max/fail", "columns: {rating: {max: 4.9}}", "", "max", "rating", false, "max 5", []int64{4}},
		{"step/pass", "columns: {rating: {min: 0.5, step: 0.5}}", "", "step", "rating", true, "0 values", nil},
		{"step/fail", "columns: {rating: {min: 0.5, step: 0.5}}", "id,rating\n1,4.5\n2,4.25\n3,1\n", "step", "rating", false, "1 values off", []int64{3}},
		{"allowed/pass", "columns: {genre: {allowed: [comedy, drama]}}", "", "allowed", "genre", true, "0 values", nil},
		{"allowed/fail", "columns: {genre: {allowed: [comedy]}}", "", "allowed", "genre", false, "1 values not allowed", []int64{3}},
		{"allowed/numeric", "columns: {rating: {allowed: [3, 4.5, 5]}}", "", "allowed", "rating", true, "0 values", nil},
		{"unique/pass", "columns: {id: {unique: true}}", "", "unique", "id", true, "0 duplicate", nil},
		{"unique/fail", "columns: {id: {unique: true}}", "id,v\n1,a\n2,b\n1,c\n2,d\n2,e\n", "unique", "id", false, "3 duplicate", []int64{4, 5, 6}},
		{"max_missing_fraction/pass", "columns: {rating: {max_missing_fraction: 0.5}}", "id,rating\n1,4.5\n2,\n3,1\n", "max_missing_fraction", "rating", true, "0.3333 (1 of 3 rows)", nil},
		{"max_missing_fraction/fail", "columns: {rating: {max_missing_fraction: 0.1}}", "id,rating\n1,4.5\n2,\n3,1\n", "max_missing_fraction", "rating", false, "0.3333 (1 of 3 rows)", []int64{3}},
		{"column/absent", "columns: {nope: {not_null: true}}", "", "column", "nope", false, "absent", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if data == "" {
				data = base
			}
			rep := checkString(t, tt.rules, "data.csv", data, validate.Options{})
			res, ok := find(rep, tt.rule, tt.column)
			if !ok {
				t.Fatalf("no result for rule %s column %q in %+v", tt.rule, tt.column, rep.Results)
			}
			if res.Passed != tt.pass || rep.Passed != tt.pass {
				t.Errorf("passed = %v (report %v), want %v: %+v", res.Passed, rep.Passed, tt.pass, res)
			}
			if !strings.Contains(res.Observed, tt.observed) {
				t.Errorf("observed = %q, want it to contain %q", res.Observed, tt.observed)
			}
			if res.Expected == "" || res.Message == "" {
				t.Errorf("empty expected or message: %+v", res)
			}
			if got := exampleLines(res); !slices.Equal(got, tt.lines) {
				t.Errorf("example lines = %v, want %v", got, tt.lines)
			}
			if !tt.pass && tt.column != "" && !strings.Contains(res.Message, tt.column) {
				t.Errorf("message %q does not name column %q", res.Message, tt.column)
			}
			for _, e := range res.Examples {
				if e.File == "" || e.Values == nil || e.Values[tt.column] != e.Value {
					t.Errorf("example %+v does not carry file, row values and the offending value", e)
				}
			}
			if err := rep.Err(); (err == nil) != tt.pass {
				t.Errorf("Err() = %v, want nil: %v", err, tt.pass)
			}
		})
	}
}

func TestUniqueDuplicateNote(t *testing.T) {
	rep := checkString(t, "columns: {id: {unique: true}}", "d.csv", "id\n7\n8\n7\n", validate.Options{})
	res, _ := find(rep, "unique", "id")
	if len(res.Examples) != 1 || !strings.HasSuffix(res.Examples[0].Note, "d.csv:2") {
		t.Fatalf("examples = %+v, want one noting the first occurrence at line 2", res.Examples)
	}
}

func TestUniqueLimit(t *testing.T) {
	rep := checkString(t, "columns: {id: {unique: true}}", "d.csv", "id\n1\n2\n3\n4\n", validate.Options{UniqueLimit: 2})
	res, _ := find(rep, "unique", "id")
	if res.Passed || !strings.Contains(res.Message, "not checked") {
		t.Fatalf("result %+v, want a failure saying uniqueness was not checked", res)
	}
}

func TestMaxExamples(t *testing.T) {
	var b strings.Builder
	b.WriteString("v\n")
	for range 20 {
		b.WriteString("-1\n")
	}
	for _, tt := range []struct{ max, want int }{{0, 5}, {2, 2}, {-1, 0}} {
		rep := checkString(t, "columns: {v: {min: 0}}", "d.csv", b.String(), validate.Options{MaxExamples: tt.max})
		res, _ := find(rep, "min", "v")
		if res.Violations != 20 || len(res.Examples) != tt.want {
			t.Errorf("MaxExamples %d: %d violations, %d examples; want 20, %d", tt.max, res.Violations, len(res.Examples), tt.want)
		}
	}
}

// TestJSONL checks a JSON Lines file: a key absent from a row is missing,
// and examples carry the line of the row.
func TestJSONL(t *testing.T) {
	data := `{"id": 1, "rating": 4.5, "genre": "comedy"}
{"id": 2, "genre": "drama"}
{"id": 3, "rating": 9, "genre": "horror", "extra": true}
{"id": 4, "rating": null, "genre": "comedy"}
`
	rules := `
row_count: {min: 4, max: 4}
columns:
  rating: {not_null: true, max: 5}
  genre: {allowed: [comedy, drama]}
  id: {type: integer, unique: true}
`
	rep := checkString(t, rules, "d.jsonl", data, validate.Options{})
	want := map[string][]int64{"not_null rating": {2, 4}, "max rating": {3}, "allowed genre": {3}}
	for _, r := range rep.Results {
		key := r.Rule + " " + r.Column
		if lines, bad := want[key]; bad {
			if r.Passed || !slices.Equal(exampleLines(r), lines) {
				t.Errorf("%s: passed %v, lines %v; want failure at %v", key, r.Passed, exampleLines(r), lines)
			}
			if key == "allowed genre" && r.Examples[0].Values["extra"] != "true" {
				t.Errorf("example values %v lack the row's other keys", r.Examples[0].Values)
			}
		} else if !r.Passed {
			t.Errorf("%s failed: %+v", key, r)
		}
	}
}

// TestLines checks example line numbers across quoted multi-line cells and
// malformed rows, and across several files.
func TestLines(t *testing.T) {
	data := "id,note,v\n1,\"two\nlines\",1\n2,ok,-1\n3,x\n4,ok,-2\n"
	path := writeFile(t, "a.csv", data)
	path2 := writeFile(t, "b.csv", "id,note,v\n5,ok,-3\n")
	rep, err := validate.CheckFiles(context.Background(), mustLoad(t, "columns: {v: {min: 0}}"), []string{path, path2}, validate.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := find(rep, "min", "v")
	var got []string
	for _, e := range res.Examples {
		got = append(got, filepath.Base(e.File)+":"+itoa(e.Line))
	}
	if want := []string{"a.csv:4", "a.csv:6", "b.csv:2"}; !slices.Equal(got, want) {
		t.Errorf("examples at %v, want %v", got, want)
	}
	if rep.BadRows != 1 || rep.Rows != 4 || len(rep.Files) != 2 {
		t.Errorf("rows %d, bad rows %d, files %v; want 4, 1, 2 files", rep.Rows, rep.BadRows, rep.Files)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestCheckSource checks a row source that is not a file.
func TestCheckSource(t *testing.T) {
	rd, err := profile.NewReader(strings.NewReader(base), "mem.csv", "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := validate.Check(context.Background(), mustLoad(t, "columns: {rating: {max: 4}}"), rd, "mem.csv", validate.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := find(rep, "max", "rating")
	if res.Passed || len(res.Examples) != 2 || res.Examples[0].File != "mem.csv" || res.Examples[1].Line != 4 {
		t.Fatalf("result %+v, want failures at mem.csv lines 2 and 4", res)
	}
	if rep.Profile == nil || rep.Profile.Rows() != 3 {
		t.Errorf("report profile missing or wrong")
	}
}

func TestCheckErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := validate.CheckFiles(ctx, nil, []string{filepath.Join(t.TempDir(), "nope.csv")}, validate.Options{}); loopml.ErrorCode(err) != loopml.EINVALID {
		t.Errorf("missing file: err %v, want EINVALID", err)
	}
	_, err := validate.CheckFiles(ctx, mustLoad(t, "columns: {v: {drift: {max_psi: 0.2}}}"), nil, validate.Options{})
	if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(err.Error(), "reference") {
		t.Errorf("drift without reference: err %v, want EINVALID naming the reference", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := validate.CheckFiles(cctx, nil, []string{writeFile(t, "d.csv", base)}, validate.Options{}); err == nil {
		t.Errorf("cancelled context: no error")
	}
}

// TestReportOutput checks the text table, Err and the JSON form.
func TestReportOutput(t *testing.T) {
	rules := "row_count: {min: 1}\ncolumns: {rating: {min: 4}}\n"
	rep := checkString(t, rules, "data.csv", base, validate.Options{})
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"validation FAILED", "STATUS", "ok      row_count", "FAIL    min", "rating", "min 3, max 5", "values ≥ 4", "data.csv:3:", `rating="3.0"`} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	err := rep.Err()
	if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), `column "rating" has 1 values below 4`) {
		t.Errorf("Err() = %v", err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Passed  *bool
		Rows    int64
		Results []map[string]any
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Passed == nil || *doc.Passed || doc.Rows != 3 || len(doc.Results) != 2 {
		t.Fatalf("JSON %s", b)
	}
	failed := doc.Results[1]
	for _, k := range []string{"rule", "column", "passed", "observed", "expected", "violations", "message", "examples"} {
		if _, ok := failed[k]; !ok {
			t.Errorf("JSON result lacks %q: %v", k, failed)
		}
	}
	ex := failed["examples"].([]any)[0].(map[string]any)
	for _, k := range []string{"file", "line", "row", "value", "values"} {
		if _, ok := ex[k]; !ok {
			t.Errorf("JSON example lacks %q: %v", k, ex)
		}
	}
	if _, ok := doc.Results[0]["examples"]; ok {
		t.Errorf("passed result has examples: %v", doc.Results[0])
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestWriteTextError(t *testing.T) {
	rep := checkString(t, "columns: {rating: {min: 4}}", "d.csv", base, validate.Options{})
	if err := rep.WriteText(failWriter{}); err == nil {
		t.Error("WriteText to a failing writer: no error")
	}
	if err := checkString(t, "row_count: {min: 1}", "d.csv", base, validate.Options{}).Err(); err != nil {
		t.Errorf("Err() of a passed report = %v", err)
	}
}
