package mlmodel_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/mlmodel"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// mustParseFile parses a fixture or fails the test.
func mustParseFile(tb testing.TB, path string) *mlmodel.MLmodel {
	tb.Helper()
	m, err := mlmodel.ParseFile(path)
	if err != nil {
		tb.Fatalf("ParseFile(%s): %v", path, err)
	}
	return m
}

func TestParseMLflowFixtures(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, m *mlmodel.MLmodel)
	}{
		{"sklearn.MLmodel", func(t *testing.T, m *mlmodel.MLmodel) {
			if m.RunID != "b703654fc8974b878735b18d133299df" || m.ArtifactPath != "model" || m.MLflowVersion != "2.14.1" {
				t.Errorf("ids: got run %q path %q version %q", m.RunID, m.ArtifactPath, m.MLflowVersion)
			}
			if m.UTCTimeCreated != "2024-06-01 10:00:00.123456" || m.ModelSizeBytes != 12845 {
				t.Errorf("got time %q size %d", m.UTCTimeCreated, m.ModelSizeBytes)
			}
			pf := m.Flavor(mlmodel.FlavorPythonFunction)
			if pf["loader_module"] != "mlflow.sklearn" || pf["predict_fn"] != "predict" {
				t.Errorf("python_function: got %v", pf)
			}
			if env, _ := pf["env"].(map[string]any); env["virtualenv"] != "python_env.yaml" {
				t.Errorf("python_function.env: got %v", pf["env"])
			}
			if v, ok := m.Flavor("sklearn")["code"]; !ok || v != nil {
				t.Errorf("sklearn.code: got %v, %v; want a kept null", v, ok)
			}
			in := m.Signature.Inputs
			if in.IsTensor() || !in.HasNames() || len(in.Columns) != 4 {
				t.Fatalf("inputs: got %+v", in)
			}
			if c := in.Columns[3]; c.Name != "petal width (cm)" || c.Type.Kind != mlmodel.TypeDouble || !c.Required {
				t.Errorf("inputs[3]: got %+v (folded YAML line must join with one space)", c)
			}
			if out := m.Signature.Outputs; out.HasNames() || out.Columns[0].Type.Kind != mlmodel.TypeLong {
				t.Errorf("outputs: got %+v", out)
			}
			if m.Signature.Params != nil {
				t.Errorf("params: got %v, want nil for 'params: null'", m.Signature.Params)
			}
			if e := m.SavedInputExampleInfo; e.ServingInputPath != "serving_input_example.json" || e.PandasOrient != "split" || e.Type != "dataframe" {
				t.Errorf("saved_input_example_info: got %+v", e)
			}
		}},
		{"pytorch.MLmodel", func(t *testing.T, m *mlmodel.MLmodel) {
			in := m.Signature.Inputs
			if !in.IsTensor() || in.HasNames() {
				t.Fatalf("inputs: got %+v", in)
			}
			if ts := in.Tensors[0]; ts.DType != "float32" || !reflect.DeepEqual(ts.Shape, []int64{-1, 1, 28, 28}) {
				t.Errorf("inputs[0]: got %+v", ts)
			}
			if m.Flavor("pytorch")["pytorch_version"] != "2.1.0+cu121" {
				t.Errorf("pytorch flavor: got %v", m.Flavor("pytorch"))
			}
		}},
		{"xgboost.MLmodel", func(t *testing.T, m *mlmodel.MLmodel) {
			// Files before MLflow 2.8 have no "required": columns default to required.
			want := []mlmodel.DataType{mlmodel.TypeLong, mlmodel.TypeDouble, mlmodel.TypeString, mlmodel.TypeDatetime, mlmodel.TypeBoolean}
			for i, c := range m.Signature.Inputs.Columns {
				if c.Type.Kind != want[i] || !c.Required {
					t.Errorf("inputs[%d]: got %+v, want required %s", i, c, want[i])
				}
			}
			if got := m.Signature.Inputs.Names(); !reflect.DeepEqual(got, []string{"age", "income", "city", "signup", "is_member"}) {
				t.Errorf("Names: got %v", got)
			}
			if m.Flavor("xgboost")["model_format"] != "xgb" {
				t.Errorf("xgboost flavor: got %v", m.Flavor("xgboost"))
			}
		}},
		{"transformers.MLmodel", func(t *testing.T, m *mlmodel.MLmodel) {
			ps := m.Signature.Params
			if len(ps) != 5 {
				t.Fatalf("params: got %d, want 5", len(ps))
			}
			if p := ps[0]; p.Name != "max_new_tokens" || p.Type.Kind != mlmodel.TypeLong || p.Default != int64(100) || p.Shape != nil {
				t.Errorf("params[0]: got %+v", p)
			}
			if p := ps[1]; p.Default != 0.7 {
				t.Errorf("params[1].default: got %v", p.Default)
			}
			if p := ps[3]; !reflect.DeepEqual(p.Shape, []int64{-1}) || !reflect.DeepEqual(p.Default, []any{"\n\n"}) {
				t.Errorf("params[3]: got %+v", p)
			}
			if p := ps[4]; p.Default != nil {
				t.Errorf("params[4].default: got %v, want nil", p.Default)
			}
			if comps, _ := m.Flavor("transformers")["components"].([]any); len(comps) != 1 || comps[0] != "tokenizer" {
				t.Errorf("transformers.components: got %v", m.Flavor("transformers")["components"])
			}
			if m.SavedInputExampleInfo.Extra["params"] != "true" {
				t.Errorf("saved_input_example_info.params: got %v", m.SavedInputExampleInfo.Extra)
			}
		}},
		{"tensorflow.MLmodel", func(t *testing.T, m *mlmodel.MLmodel) {
			in := m.Signature.Inputs
			if !in.IsTensor() || !in.HasNames() || len(in.Tensors) != 2 {
				t.Fatalf("inputs: got %+v", in)
			}
			if ts := in.Tensors[0]; ts.Name != "image" || ts.DType != "uint8" || !reflect.DeepEqual(ts.Shape, []int64{-1, 32, 32, 3}) {
				t.Errorf("inputs[0]: got %+v", ts)
			}
			if m.SavedInputExampleInfo.Format != "tf-serving" {
				t.Errorf("saved_input_example_info: got %+v", m.SavedInputExampleInfo)
			}
		}},
		{"old-no-signature.MLmodel", func(t *testing.T, m *mlmodel.MLmodel) {
			if m.Signature != nil || m.ModelUUID != "" || m.MLflowVersion != "" || m.SavedInputExampleInfo != nil {
				t.Errorf("got %+v, want no signature, uuid, version or example", m)
			}
			if m.Flavor(mlmodel.FlavorPythonFunction)["env"] != "conda.yaml" {
				t.Errorf("python_function.env: got %v", m.Flavor(mlmodel.FlavorPythonFunction)["env"])
			}
		}},
		{"mlflow3-metadata.MLmodel", func(t *testing.T, m *mlmodel.MLmodel) {
			if m.ModelID != "m-4f5e6d7c8b9a4c3d2e1f0a9b8c7d6e5f" || m.DatabricksRuntime != "15.4.x-cpu-ml-scala2.12" {
				t.Errorf("got model_id %q runtime %q", m.ModelID, m.DatabricksRuntime)
			}
			if m.Metadata["owner"] != "recsys-team" || !reflect.DeepEqual(m.Metadata["tags"], []any{"beta", "ranking"}) {
				t.Errorf("metadata: got %v", m.Metadata)
			}
			for _, k := range []string{"env_vars", "name", "prompts", "is_signature_from_type_hint", "type_hint_from_example"} {
				if _, ok := m.Extra[k]; !ok {
					t.Errorf("Extra lacks %q: %v", k, m.Extra)
				}
			}
			if r, _ := m.Resources.(map[string]any); r["api_version"] != "1" {
				t.Errorf("resources: got %v", m.Resources)
			}
			cols := m.Signature.Inputs.Columns
			if got := cols[0].Type.String(); got != "array<object{content: string, role: string}>" {
				t.Errorf("inputs[0] type: got %s", got)
			}
			if got := cols[1].Type.String(); got != "map<double>" || cols[1].Required {
				t.Errorf("inputs[1]: got %s required=%v", got, cols[1].Required)
			}
			if cols[2].Type.Kind != mlmodel.TypeAny || cols[3].Type.Kind != mlmodel.TypeBinary {
				t.Errorf("inputs[2:]: got %+v", cols[2:])
			}
			if p := m.Signature.Params[1]; p.Type.Kind != mlmodel.TypeObject || !reflect.DeepEqual(p.Default, map[string]any{"mode": "fast"}) {
				t.Errorf("params[1]: got %+v", p)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tt.check(t, mustParseFile(t, filepath.Join("testdata", "mlflow", tt.file)))
		})
	}
}

// TestRoundTrip checks parse → write against golden files, and that parsing
// the written file gives back the same value (nothing lost).
func TestRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "mlflow", "*.MLmodel"))
	if err != nil || len(files) < 7 {
		t.Fatalf("fixtures: %v, %v", files, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			m := mustParseFile(t, f)
			var buf bytes.Buffer
			if err := m.Write(&buf); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("Write output differs from %s (go test -update to accept):\n%s", golden, buf.String())
			}
			again, err := mlmodel.Parse(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatalf("Parse(Write(m)): %v", err)
			}
			if !reflect.DeepEqual(again, m) {
				t.Errorf("Parse(Write(m)) != m:\n got %#v\nwant %#v", again, m)
			}
			var buf2 bytes.Buffer
			if err := again.Write(&buf2); err != nil || !bytes.Equal(buf2.Bytes(), buf.Bytes()) {
				t.Errorf("second Write differs (err %v)", err)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		file string
		want string // substring of the error message
	}{
		{"bad-yaml.MLmodel", "invalid YAML: yaml: line 4"},
		{"signature-not-json.MLmodel", "key 'signature.inputs' (line 6): not valid JSON"},
		{"unknown-type.MLmodel", `key 'signature.inputs' (line 5): [1].type: unknown type "int"`},
		{"flavors-not-map.MLmodel", "key 'flavors' (line 3): must be a mapping"},
		{"flavor-not-map.MLmodel", "key 'flavors.python_function' (line 2): must be a mapping"},
		{"size-not-int.MLmodel", "key 'model_size_bytes' (line 2): must be an integer"},
		{"signature-not-map.MLmodel", "key 'signature' (line 2): must be a mapping"},
		{"inputs-not-string.MLmodel", "key 'signature.inputs' (line 4): must be a JSON string"},
		{"top-level-list.MLmodel", "line 1: the top level must be a mapping"},
		{"mixed-names.MLmodel", "key 'signature.inputs' (line 3): mixes named and unnamed inputs"},
		{"param-bad-default.MLmodel", `key 'signature.params' (line 3): [0].default: want long, got string "ten"`},
		{"duplicate-key.MLmodel", "key 'run_id' (line 3): duplicate key"},
		{"tensor-bad-dtype.MLmodel", `[0].tensor-spec.dtype: unknown numpy dtype "floaty"`},
		{"empty.MLmodel", "file is empty"},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "malformed", "*.MLmodel"))
	if len(files) != len(tests) {
		t.Errorf("testdata/malformed has %d files, the table %d: keep them in step", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := mlmodel.ParseFile(filepath.Join("testdata", "malformed", tt.file))
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("got %v, want an EINVALID error", err)
			}
			if msg := loopml.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("got %q, want it to contain %q", msg, tt.want)
			}
		})
	}
}

func TestParseSignatureErrors(t *testing.T) {
	tests := []struct {
		name, sig, want string
	}{
		{"inputs not a list", `inputs: '{"type": "double"}'`, "key 'signature.inputs' (line 3): must be a JSON array"},
		{"empty inputs", `inputs: '[]'`, "must not be empty"},
		{"missing type", `inputs: '[{"name": "x"}]'`, `[0]: missing key "type"`},
		{"mixed tensor and column", `inputs: '[{"name": "a", "type": "double"}, {"name": "b", "type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'`, "mixes column specs and tensor specs"},
		{"duplicate names", `inputs: '[{"name": "a", "type": "double"}, {"name": "a", "type": "long"}]'`, `[1]: duplicate input name "a"`},
		{"optional unnamed", `inputs: '[{"type": "double", "required": false}]'`, "[0]: an unnamed input cannot be optional"},
		{"array without items", `inputs: '[{"name": "a", "type": "array"}]'`, `[0]: missing key "items"`},
		{"bad nested type", `inputs: '[{"name": "a", "type": "array", "items": {"type": "array", "items": {"type": "decimal"}}}]'`, `[0].items.items.type: unknown type "decimal"`},
		{"empty object", `inputs: '[{"name": "a", "type": "object", "properties": {}}]'`, "[0].properties: must not be empty"},
		{"required not bool", `outputs: '[{"type": "double", "required": "yes"}]'`, "key 'signature.outputs' (line 3): [0].required: must be a boolean"},
		{"tensor without shape", `inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64"}}]'`, "[0].tensor-spec.shape: must be a list of integers"},
		{"two unnamed tensors", `inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}, {"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'`, "several unnamed tensor specs"},
		{"binary param", `params: '[{"name": "p", "type": "binary", "default": null, "shape": null}]'`, "[0].type: binary is not allowed"},
		{"param without default", `params: '[{"name": "p", "type": "long", "shape": null}]'`, `[0]: missing key "default"`},
		{"param bad shape", `params: '[{"name": "p", "type": "long", "default": [1], "shape": [2]}]'`, "[0].shape: must be null or [-1]"},
		{"param list default for scalar", `params: '[{"name": "p", "type": "long", "default": [1], "shape": null}]'`, "[0].default: want a scalar long"},
		{"duplicate param", `params: '[{"name": "p", "type": "long", "default": 1}, {"name": "p", "type": "long", "default": 2}]'`, `[1]: duplicate param "p"`},
		{"trailing JSON", `inputs: '[{"type": "double"}] []'`, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "flavors: {}\nsignature:\n  " + tt.sig + "\n"
			_, err := mlmodel.Parse(strings.NewReader(doc))
			if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.want) {
				t.Errorf("got %v, want EINVALID containing %q", err, tt.want)
			}
		})
	}
}

func TestParseFileNotFound(t *testing.T) {
	_, err := mlmodel.ParseFile(t.TempDir())
	if loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Errorf("got %v, want ENOTFOUND", err)
	}
}

func TestParseTooLarge(t *testing.T) {
	big := "flavors: {}\nmetadata:\n  blob: '" + strings.Repeat("x", mlmodel.MaxFileSize) + "'\n"
	_, err := mlmodel.Parse(strings.NewReader(big))
	if loopml.ErrorCode(err) != loopml.ETOOLARGE {
		t.Errorf("got %v, want ETOOLARGE", err)
	}
}

func TestParseKeepsAliasesAndNonStringKeys(t *testing.T) {
	doc := "flavors:\n  python_function: &pf\n    loader_module: mlflow.sklearn\n  copy: *pf\nmetadata:\n  1: one\n  nested: {2: two}\n"
	m, err := mlmodel.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if m.Flavor("copy")["loader_module"] != "mlflow.sklearn" {
		t.Errorf("alias: got %v", m.Flavors)
	}
	if m.Metadata["1"] != "one" || m.Metadata["nested"].(map[string]any)["2"] != "two" {
		t.Errorf("metadata: got %#v", m.Metadata)
	}
}

func TestSignatureJSONPythonStyle(t *testing.T) {
	s := &mlmodel.Schema{Columns: []mlmodel.ColSpec{
		{Name: "café \"x\"", Type: &mlmodel.Type{Kind: mlmodel.TypeDouble}, Required: true},
		{Name: "tags", Type: &mlmodel.Type{Kind: mlmodel.TypeArray, Items: &mlmodel.Type{Kind: mlmodel.TypeString}}, Required: false},
	}}
	want := `[{"type": "double", "name": "caf\u00e9 \"x\"", "required": true}, {"type": "array", "items": {"type": "string"}, "name": "tags", "required": false}]`
	if got := s.JSON(); got != want {
		t.Errorf("Schema.JSON:\n got %s\nwant %s", got, want)
	}
	ts := &mlmodel.Schema{Tensors: []mlmodel.TensorSpec{{Name: "x", DType: "float32", Shape: []int64{-1, 3}}}}
	if got, want := ts.JSON(), `[{"name": "x", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]`; got != want {
		t.Errorf("tensor Schema.JSON:\n got %s\nwant %s", got, want)
	}
	ps := mlmodel.ParamSchema{
		{Name: "a", Type: &mlmodel.Type{Kind: mlmodel.TypeDouble}, Default: 1.0},
		{Name: "b", Type: &mlmodel.Type{Kind: mlmodel.TypeDouble}, Default: 1e-7},
		{Name: "c", Type: &mlmodel.Type{Kind: mlmodel.TypeLong}, Default: int64(3), Shape: []int64{-1}},
		{Name: "d", Type: &mlmodel.Type{Kind: mlmodel.TypeString}, Default: "😀"},
	}
	want = `[{"name": "a", "default": 1.0, "shape": null, "type": "double"}, {"name": "b", "default": 1e-07, "shape": null, "type": "double"}, {"name": "c", "default": 3, "shape": [-1], "type": "long"}, {"name": "d", "default": "\ud83d\ude00", "shape": null, "type": "string"}]`
	if got := ps.JSON(); got != want {
		t.Errorf("ParamSchema.JSON:\n got %s\nwant %s", got, want)
	}
}
