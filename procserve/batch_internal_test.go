package procserve

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseRows(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		rows       int    // 0: not mergeable
		key        string // a substring of the key
	}{
		{"split", `{"dataframe_split": {"columns": ["x", "y"], "data": [[1, 2], [3, 4]]}}`, 2, `["x","y"]`},
		{"split no columns", `{"dataframe_split": {"data": [[1, 2]]}}`, 1, "dataframe_split"},
		{"split with index", `{"dataframe_split": {"index": [7], "columns": ["x"], "data": [[1]]}}`, 0, ""},
		{"split ragged", `{"dataframe_split": {"columns": ["x", "y"], "data": [[1, 2], [3]]}}`, 0, ""},
		{"split empty", `{"dataframe_split": {"columns": ["x"], "data": []}}`, 0, ""},
		{"split rows not lists", `{"dataframe_split": {"columns": ["x"], "data": [1]}}`, 0, ""},
		{"records", `{"dataframe_records": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]}`, 2, `{"x","y",`},
		{"records differ", `{"dataframe_records": [{"x": 1, "y": 2}, {"y": 4, "x": 3}]}`, 0, ""},
		{"records not objects", `{"dataframe_records": [[1, 2]]}`, 0, ""},
		{"instances rows", `{"instances": [[1, 2], [3, 4]]}`, 2, "[2:0"},
		{"inputs records", `{"inputs": [{"x": 1}]}`, 1, `{"x",`},
		{"inputs scalars", `{"inputs": [1, 2, 3]}`, 3, "inputs\x000"},
		{"inputs mixed", `{"inputs": [1, "a"]}`, 0, ""},
		{"inputs columnar", `{"inputs": {"x": [1, 2]}}`, 0, ""},
		{"params", `{"dataframe_records": [{"x": 1}], "params": {"k": 1}}`, 0, ""},
		{"two formats", `{"dataframe_records": [{"x": 1}], "inputs": [1]}`, 0, ""},
		{"unknown", `{"rows": [1]}`, 0, ""},
		{"not json", `{"inputs": [1,`, 0, ""},
		{"array", `[1]`, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr, ok := parseRows("application/json; charset=utf-8", []byte(tc.body))
			if tc.rows == 0 {
				if ok {
					t.Fatalf("mergeable: %+v", rr)
				}
				return
			}
			if !ok || len(rr.rows) != tc.rows || !strings.Contains(rr.key, tc.key) {
				t.Fatalf("ok=%v %+v, want %d rows, key with %q", ok, rr, tc.rows, tc.key)
			}
		})
	}
	if _, ok := parseRows("text/csv", []byte(`{"inputs": [1]}`)); ok {
		t.Error("CSV is mergeable")
	}
}

func TestMergeAndSplit(t *testing.T) {
	var items []*pending
	for _, body := range []string{
		`{"dataframe_split": {"columns": ["x", "y"], "data": [[1, 2]]}}`,
		`{"dataframe_split": {"columns": ["x","y"], "data": [[3, 4], [5, 6]]}}`,
	} {
		rr, ok := parseRows("application/json", []byte(body))
		if !ok {
			t.Fatal(body)
		}
		items = append(items, &pending{rr: rr})
	}
	if items[0].rr.key != items[1].rr.key {
		t.Fatalf("keys differ: %q %q", items[0].rr.key, items[1].rr.key)
	}
	if got, want := string(mergeRows(items)), `{"dataframe_split":{"columns":["x","y"],"data":[[1, 2],[3, 4],[5, 6]]}}`; got != want {
		t.Errorf("merged %s, want %s", got, want)
	}
	parts, ok := splitPredictions([]byte(`{"predictions": [{"a": 1}, 2, [3]]}`), items)
	if !ok || string(parts[0]) != "{\"predictions\":[{\"a\": 1}]}\n" || string(parts[1]) != "{\"predictions\":[2,[3]]}\n" {
		t.Errorf("split: %q %v", parts, ok)
	}
	for _, bad := range []string{`{"predictions": [1, 2]}`, `{"predictions": {"a": [1, 2, 3]}}`, `[1, 2, 3]`, `nope`} {
		if _, ok := splitPredictions([]byte(bad), items); ok {
			t.Errorf("split %s: ok", bad)
		}
	}
}

// FuzzParseRows: whatever the body, parseRows does not panic, and a
// mergeable body merged with itself is valid JSON with twice the rows.
func FuzzParseRows(f *testing.F) {
	for _, s := range []string{
		`{"dataframe_split": {"columns": ["x", "y"], "data": [[1, 2], [3, 4]]}}`,
		`{"dataframe_records": [{"x": 1, "y": 2}]}`,
		`{"instances": [[1, [2]], [3, [4]]]}`,
		`{"inputs": [1, 2.5e3, -0]}`,
		`{"inputs": [{"a": {"b": [1]}}]}`,
		`{"dataframe_split": {"data": [[null]]}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rr, ok := parseRows("application/json", []byte(body))
		if !ok {
			return
		}
		p := &pending{rr: rr}
		merged := mergeRows([]*pending{p, p})
		if !json.Valid(merged) {
			t.Fatalf("merged body is not JSON: %s", merged)
		}
		again, ok := parseRows("application/json", merged)
		if !ok || len(again.rows) != 2*len(rr.rows) || again.key != rr.key {
			t.Fatalf("merged %s: ok=%v rows %d, key %q vs %q", merged, ok, len(again.rows), again.key, rr.key)
		}
	})
}
