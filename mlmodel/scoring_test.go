package mlmodel_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/mlmodel"
)

func TestDecodeScoringRequest(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantFormat string
		wantFrame  *mlmodel.Frame
		wantParams map[string]any
		wantErr    string
	}{
		{
			name:       "dataframe_split",
			body:       `{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3, "x"]], "index": [0, 1]}}`,
			wantFormat: mlmodel.FormatDataframeSplit,
			wantFrame:  &mlmodel.Frame{Columns: []string{"a", "b"}, Rows: [][]any{{int64(1), 2.5}, {int64(3), "x"}}},
		},
		{
			name:       "dataframe_split without columns",
			body:       `{"dataframe_split": {"data": [[1, 2], [3, 4]]}}`,
			wantFormat: mlmodel.FormatDataframeSplit,
			wantFrame:  &mlmodel.Frame{Rows: [][]any{{int64(1), int64(2)}, {int64(3), int64(4)}}},
		},
		{
			name:       "dataframe_records keeps first-appearance column order",
			body:       `{"dataframe_records": [{"z": 1, "a": "p"}, {"a": "q", "m": true}], "params": {"k": 3}}`,
			wantFormat: mlmodel.FormatDataframeRecords,
			wantFrame:  &mlmodel.Frame{Columns: []string{"z", "a", "m"}, Rows: [][]any{{int64(1), "p", nil}, {nil, "q", true}}},
			wantParams: map[string]any{"k": int64(3)},
		},
		{
			name:       "instances as rows",
			body:       `{"instances": [[1, 2], [3, 4]]}`,
			wantFormat: mlmodel.FormatInstances,
			wantFrame:  &mlmodel.Frame{Rows: [][]any{{int64(1), int64(2)}, {int64(3), int64(4)}}},
		},
		{
			name:       "instances as scalars",
			body:       `{"instances": ["a", "b"]}`,
			wantFormat: mlmodel.FormatInstances,
			wantFrame:  &mlmodel.Frame{Rows: [][]any{{"a"}, {"b"}}},
		},
		{
			name:       "instances as records",
			body:       `{"instances": [{"b": 1, "a": 2}, {"a": 3, "b": 4}]}`,
			wantFormat: mlmodel.FormatInstances,
			wantFrame:  &mlmodel.Frame{Columns: []string{"b", "a"}, Rows: [][]any{{int64(1), int64(2)}, {int64(4), int64(3)}}},
		},
		{
			name:       "inputs columnar",
			body:       `{"inputs": {"y": [1, 2, 3], "x": ["a", "b", "c"]}, "params": null}`,
			wantFormat: mlmodel.FormatInputs,
			wantFrame:  &mlmodel.Frame{Columns: []string{"y", "x"}, Rows: [][]any{{int64(1), "a"}, {int64(2), "b"}, {int64(3), "c"}}},
		},
		{
			name:       "inputs object of scalars is one row",
			body:       `{"inputs": {"prompt": "hello", "n": 2}}`,
			wantFormat: mlmodel.FormatInputs,
			wantFrame:  &mlmodel.Frame{Columns: []string{"prompt", "n"}, Rows: [][]any{{"hello", int64(2)}}},
		},
		{
			name:       "inputs nested list",
			body:       `{"inputs": [[[1, 2]], [[3, 4]]]}`,
			wantFormat: mlmodel.FormatInputs,
			wantFrame:  &mlmodel.Frame{Rows: [][]any{{[]any{int64(1), int64(2)}}, {[]any{int64(3), int64(4)}}}},
		},
		{
			name:       "inputs scalar",
			body:       `{"inputs": "hello"}`,
			wantFormat: mlmodel.FormatInputs,
			wantFrame:  &mlmodel.Frame{Rows: [][]any{{"hello"}}},
		},
		{
			name:       "other keys ignored",
			body:       `{"inputs": [1], "signature_name": "x"}`,
			wantFormat: mlmodel.FormatInputs,
			wantFrame:  &mlmodel.Frame{Rows: [][]any{{int64(1)}}},
		},
		{name: "two formats", body: `{"inputs": [1], "instances": [1]}`, wantErr: "exactly one of the keys dataframe_split, dataframe_records, instances, inputs; got keys [inputs, instances]"},
		{name: "no format", body: `{"data": [1]}`, wantErr: "got keys [data]"},
		{name: "a list", body: `[1, 2]`, wantErr: "must be a JSON object with exactly one of the keys dataframe_split, dataframe_records, instances, inputs; got an array"},
		{name: "empty", body: ``, wantErr: "got an empty body"},
		{name: "not JSON", body: `{"inputs": `, wantErr: "invalid JSON"},
		{name: "params not an object", body: `{"inputs": [1], "params": [1]}`, wantErr: "key 'params' must be a JSON object, got an array"},
		{name: "split row width", body: `{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}}`, wantErr: "key 'dataframe_split': data[1]: has 1 values, want 2"},
		{name: "split unknown key", body: `{"dataframe_split": {"cols": ["a"], "data": []}}`, wantErr: `unexpected key "cols"`},
		{name: "split missing data", body: `{"dataframe_split": {"columns": ["a"]}}`, wantErr: `missing key "data"`},
		{name: "split duplicate column", body: `{"dataframe_split": {"columns": ["a", "a"], "data": []}}`, wantErr: `columns[1]: duplicate column "a"`},
		{name: "records not objects", body: `{"dataframe_records": [{"a": 1}, 2]}`, wantErr: "key 'dataframe_records': [1]: must be an object"},
		{name: "records not a list", body: `{"dataframe_records": {"a": 1}}`, wantErr: "key 'dataframe_records': must be a list of objects"},
		{name: "instances ragged", body: `{"instances": [[1, 2], [3]]}`, wantErr: "key 'instances': [1]: has 1 values, want 2"},
		{name: "instances object", body: `{"instances": {"a": [1]}}`, wantErr: "key 'instances': must be a list, got an object"},
		{name: "inputs ragged columns", body: `{"inputs": {"a": [1, 2], "b": [1]}}`, wantErr: "key 'inputs': b: has 1 values, want 2"},
		{name: "inputs mixed column", body: `{"inputs": {"a": [1, 2], "b": 3}}`, wantErr: "key 'inputs': b: must be a list like the other inputs"},
		{name: "inputs null", body: `{"inputs": null}`, wantErr: "key 'inputs': must not be null"},
		{name: "trailing data", body: `{"inputs": [1]} {}`, wantErr: "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := mlmodel.DecodeScoringRequest(strings.NewReader(tt.body))
			if tt.wantErr != "" {
				if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("got %v, want EINVALID containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Format != tt.wantFormat {
				t.Errorf("Format: got %q, want %q", req.Format, tt.wantFormat)
			}
			if !reflect.DeepEqual(req.Frame, tt.wantFrame) {
				t.Errorf("Frame: got %#v, want %#v", req.Frame, tt.wantFrame)
			}
			if !reflect.DeepEqual(req.Params, tt.wantParams) {
				t.Errorf("Params: got %#v, want %#v", req.Params, tt.wantParams)
			}
		})
	}
}

// TestScoringThroughSignature runs the serving path end to end: decode a
// body, enforce the inputs and params of an MLflow-written signature.
func TestScoringThroughSignature(t *testing.T) {
	m := mustParseFile(t, "testdata/mlflow/xgboost.MLmodel")
	body := `{"dataframe_records": [{"age": 31, "income": 52000, "city": "Lyon", "signup": "2023-01-05T10:00:00Z", "is_member": true, "noise": [1]}]}`
	req, err := mlmodel.DecodeScoringRequest(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.Signature.Inputs.Enforce(req.Frame)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"age", "income", "city", "signup", "is_member"}; !reflect.DeepEqual(f.Columns, want) {
		t.Errorf("columns: got %v, want %v", f.Columns, want)
	}
	if f.Rows[0][0] != int64(31) || f.Rows[0][1] != 52000.0 {
		t.Errorf("row: got %#v", f.Rows[0])
	}

	body = `{"dataframe_split": {"columns": ["age", "income", "city", "signup"], "data": [[31, 1.0, "Lyon", "2023-01-05"]]}}`
	req, err = mlmodel.DecodeScoringRequest(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Signature.Inputs.Enforce(req.Frame)
	if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "'is_member'") {
		t.Errorf("got %v, want EINVALID naming is_member", err)
	}

	llm := mustParseFile(t, "testdata/mlflow/transformers.MLmodel")
	req, err = mlmodel.DecodeScoringRequest(strings.NewReader(`{"inputs": ["Hello"], "params": {"max_new_tokens": 20, "top_p": 0.9}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := llm.Signature.Inputs.Enforce(req.Frame); err != nil {
		t.Errorf("inputs: %v", err)
	}
	params, err := llm.Signature.Params.Enforce(req.Params)
	if err != nil {
		t.Fatal(err)
	}
	if params["max_new_tokens"] != int64(20) || params["temperature"] != 0.7 || params["do_sample"] != true {
		t.Errorf("params: got %#v", params)
	}
	if _, ok := params["top_p"]; ok {
		t.Errorf("params: undeclared top_p kept: %#v", params)
	}
}

func TestDecodeScoringRequestTooLarge(t *testing.T) {
	body := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(`{"inputs": [1, 2, 3, 4, 5, 6, 7, 8]}`)), 10)
	_, err := mlmodel.DecodeScoringRequest(body)
	if loopml.ErrorCode(err) != loopml.ETOOLARGE {
		t.Errorf("got %v, want ETOOLARGE", err)
	}
}
