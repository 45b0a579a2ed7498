package mlmodel_test

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/mlmodel"
)

// mustSignature parses a signature given as the YAML lines under
// "signature:" (inputs, outputs, params as JSON strings).
func mustSignature(tb testing.TB, lines ...string) *mlmodel.Signature {
	tb.Helper()
	doc := "flavors: {}\nsignature:\n"
	for _, l := range lines {
		doc += "  " + l + "\n"
	}
	m, err := mlmodel.Parse(strings.NewReader(doc))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return m.Signature
}

func TestSchemaEnforceColumns(t *testing.T) {
	sig := mustSignature(t, `inputs: '[{"name": "a", "type": "long"}, {"name": "b", "type": "double"}, {"name": "c", "type": "string", "required": false}]'`)
	tests := []struct {
		name    string
		in      mlmodel.Frame
		want    *mlmodel.Frame
		wantErr string
	}{
		{
			name: "reorders to schema order and drops extra columns",
			in:   mlmodel.Frame{Columns: []string{"extra", "b", "a"}, Rows: [][]any{{"x", 1.5, int64(2)}, {"y", int64(3), int64(4)}}},
			want: &mlmodel.Frame{Columns: []string{"a", "b"}, Rows: [][]any{{int64(2), 1.5}, {int64(4), 3.0}}},
		},
		{
			name: "optional column kept when supplied",
			in:   mlmodel.Frame{Columns: []string{"a", "b", "c"}, Rows: [][]any{{int64(1), 2.0, "z"}, {int64(1), 2.0, nil}}},
			want: &mlmodel.Frame{Columns: []string{"a", "b", "c"}, Rows: [][]any{{int64(1), 2.0, "z"}, {int64(1), 2.0, nil}}},
		},
		{
			name:    "missing required column named",
			in:      mlmodel.Frame{Columns: []string{"a", "c"}, Rows: [][]any{{int64(1), "z"}}},
			wantErr: "input is missing required column 'b'",
		},
		{
			name:    "all missing columns named",
			in:      mlmodel.Frame{Columns: []string{"c"}, Rows: [][]any{{"z"}}},
			wantErr: "missing required columns 'a', 'b'",
		},
		{
			name:    "double to long refused",
			in:      mlmodel.Frame{Columns: []string{"a", "b"}, Rows: [][]any{{int64(1), 1.0}, {2.5, 1.0}}},
			wantErr: "input column 'a', row 1: cannot safely convert 2.5 to long",
		},
		{
			name: "integral float to long accepted",
			in:   mlmodel.Frame{Columns: []string{"a", "b"}, Rows: [][]any{{3.0, 1.0}}},
			want: &mlmodel.Frame{Columns: []string{"a", "b"}, Rows: [][]any{{int64(3), 1.0}}},
		},
		{
			name:    "string to double refused",
			in:      mlmodel.Frame{Columns: []string{"a", "b"}, Rows: [][]any{{int64(1), "1.5"}}},
			wantErr: `input column 'b', row 0: want double, got string "1.5"`,
		},
		{
			name:    "long too large for exact double",
			in:      mlmodel.Frame{Columns: []string{"a", "b"}, Rows: [][]any{{int64(1), int64(1<<53 + 1)}}},
			wantErr: "precision loss",
		},
		{
			name:    "null in required column",
			in:      mlmodel.Frame{Columns: []string{"a", "b"}, Rows: [][]any{{nil, 1.0}}},
			wantErr: "input column 'a', row 0: null value for required long",
		},
		{
			name:    "number for optional string refused",
			in:      mlmodel.Frame{Columns: []string{"a", "b", "c"}, Rows: [][]any{{int64(1), 1.0, int64(7)}}},
			wantErr: "input column 'c', row 0: want string, got number 7",
		},
		{
			name:    "unnamed frame against a named schema",
			in:      mlmodel.Frame{Rows: [][]any{{int64(1), 2.0}}},
			wantErr: "missing required columns 'a', 'b'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sig.Inputs.Enforce(&tt.in)
			if tt.wantErr != "" {
				if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("got %v, want EINVALID containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestConvertScalarTypes(t *testing.T) {
	ts := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		typ     string
		in      any
		want    any
		wantErr string
	}{
		{"boolean", true, true, ""},
		{"boolean", int64(1), nil, "want boolean, got number 1"},
		{"boolean", "true", nil, `want boolean, got string "true"`},
		{"integer", int64(7), int32(7), ""},
		{"integer", int64(math.MaxInt32 + 1), nil, "out of range for integer"},
		{"integer", 7.0, int32(7), ""},
		{"integer", 7.5, nil, "cannot safely convert 7.5 to integer"},
		{"long", int64(math.MinInt64), int64(math.MinInt64), ""},
		{"long", 1e300, nil, "cannot safely convert"},
		{"float", int64(1 << 24), float32(1 << 24), ""},
		{"float", int64(1<<24 + 1), nil, "precision loss"},
		{"float", 0.25, float32(0.25), ""},
		{"float", 1e300, nil, "out of range for float"},
		{"double", int64(-42), -42.0, ""},
		{"double", 0.1, 0.1, ""},
		{"double", true, nil, "want double, got boolean true"},
		{"string", "hi", "hi", ""},
		{"string", 3.5, nil, "want string, got number 3.5"},
		{"binary", "aGVsbG8=", []byte("hello"), ""},
		{"binary", "not base64!", nil, "not valid base64"},
		{"datetime", "2024-06-01T10:00:00Z", ts, ""},
		{"datetime", "2024-06-01T12:00:00+02:00", ts, ""},
		{"datetime", "2024-06-01 10:00:00", ts, ""},
		{"datetime", "2024-06-01T10:00:00.000", ts, ""},
		{"datetime", "2024-06-01", time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), ""},
		{"datetime", "yesterday", nil, `cannot parse "yesterday"`},
		{"datetime", int64(1717236000), nil, "want datetime, got number"},
		{"long", json.Number("12"), int64(12), ""},
		{"double", json.Number("1.5"), 1.5, ""},
		{"integer", json.Number("1.5"), nil, "cannot safely convert 1.5 to integer"},
		{"long", int(5), int64(5), ""},
		{"double", float32(0.5), 0.5, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%T(%v)", tt.typ, tt.in, tt.in), func(t *testing.T) {
			sig := mustSignature(t, `inputs: '[{"name": "x", "type": "`+tt.typ+`"}]'`)
			got, err := sig.Inputs.Enforce(&mlmodel.Frame{Columns: []string{"x"}, Rows: [][]any{{tt.in}}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := got.Rows[0][0]; !reflect.DeepEqual(g, tt.want) {
				if gt, ok := g.(time.Time); !ok || !gt.Equal(tt.want.(time.Time)) {
					t.Errorf("got %#v, want %#v", g, tt.want)
				}
			}
		})
	}
}

func TestSchemaEnforceComposite(t *testing.T) {
	sig := mustSignature(t, `inputs: '[{"name": "messages", "type": "array", "items": {"type": "object", "properties": {"role": {"type": "string"}, "content": {"type": "string"}, "score": {"type": "double", "required": false}}}}, {"name": "weights", "type": "map", "values": {"type": "long"}, "required": false}, {"name": "ctx", "type": "any", "required": false}]'`)
	tests := []struct {
		name    string
		row     []any
		want    []any
		wantErr string
	}{
		{
			name: "valid",
			row:  []any{[]any{map[string]any{"role": "user", "content": "hi", "score": int64(1)}}, map[string]any{"a": int64(1)}, map[string]any{"free": []any{nil}}},
			want: []any{[]any{map[string]any{"role": "user", "content": "hi", "score": 1.0}}, map[string]any{"a": int64(1)}, map[string]any{"free": []any{nil}}},
		},
		{
			name:    "missing required property",
			row:     []any{[]any{map[string]any{"role": "user"}}, nil, nil},
			wantErr: "input column 'messages', row 0: [0]: missing required property 'content'",
		},
		{
			name:    "undeclared property",
			row:     []any{[]any{map[string]any{"role": "user", "content": "x", "extra": true}}, nil, nil},
			wantErr: "property 'extra' is not defined in the schema",
		},
		{
			name:    "map value type",
			row:     []any{[]any{}, map[string]any{"a": 0.5}, nil},
			wantErr: `input column 'weights', row 0: ["a"]: cannot safely convert 0.5 to long`,
		},
		{
			name:    "array wanted",
			row:     []any{"hello", nil, nil},
			wantErr: `want array<object{content: string, role: string, score?: double}>, got string "hello"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sig.Inputs.Enforce(&mlmodel.Frame{Columns: []string{"messages", "weights", "ctx"}, Rows: [][]any{tt.row}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Rows[0], tt.want) {
				t.Errorf("got %#v, want %#v", got.Rows[0], tt.want)
			}
		})
	}
}

func TestSchemaEnforceUnnamed(t *testing.T) {
	sig := mustSignature(t, `inputs: '[{"type": "double"}, {"type": "long"}]'`)
	got, err := sig.Inputs.Enforce(&mlmodel.Frame{Rows: [][]any{{int64(1), int64(2), "ignored"}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]any{{1.0, int64(2)}}; !reflect.DeepEqual(got.Rows, want) {
		t.Errorf("got %#v, want %#v", got.Rows, want)
	}
	_, err = sig.Inputs.Enforce(&mlmodel.Frame{Rows: [][]any{{int64(1)}}})
	if err == nil || !strings.Contains(loopml.ErrorMessage(err), "input has 1 columns but the model signature declares 2 unnamed inputs") {
		t.Errorf("got %v", err)
	}
}

func TestSchemaEnforceSingleNamedColumnFromList(t *testing.T) {
	sig := mustSignature(t, `inputs: '[{"name": "text", "type": "string"}]'`)
	got, err := sig.Inputs.Enforce(&mlmodel.Frame{Rows: [][]any{{"a"}, {"b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Columns, []string{"text"}) || len(got.Rows) != 2 {
		t.Errorf("got %#v", got)
	}
}

func TestSchemaEnforceTensors(t *testing.T) {
	named := mustSignature(t, `inputs: '[{"name": "image", "type": "tensor", "tensor-spec": {"dtype": "uint8", "shape": [-1, 2, 2]}}, {"name": "scale", "type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'`)
	unnamed := mustSignature(t, `inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]'`)
	img := []any{[]any{int64(1), int64(2)}, []any{int64(3), int64(4)}}
	tests := []struct {
		name    string
		schema  *mlmodel.Schema
		in      mlmodel.Frame
		want    [][]any
		wantErr string
	}{
		{
			name:   "named tensors",
			schema: named.Inputs,
			in:     mlmodel.Frame{Columns: []string{"scale", "image"}, Rows: [][]any{{0.5, img}}},
			want:   [][]any{{img, 0.5}},
		},
		{
			name:    "named tensor missing",
			schema:  named.Inputs,
			in:      mlmodel.Frame{Columns: []string{"image"}, Rows: [][]any{{img}}},
			wantErr: "missing required tensor 'scale'",
		},
		{
			name:    "wrong inner dimension",
			schema:  named.Inputs,
			in:      mlmodel.Frame{Columns: []string{"image", "scale"}, Rows: [][]any{{[]any{[]any{int64(1)}, []any{int64(3), int64(4)}}, 1.0}}},
			wantErr: "input tensor 'image', row 0: [0]: dimension of length 1, want 2",
		},
		{
			name:    "negative uint",
			schema:  named.Inputs,
			in:      mlmodel.Frame{Columns: []string{"image", "scale"}, Rows: [][]any{{[]any{[]any{int64(-1), int64(2)}, []any{int64(3), int64(4)}}, 1.0}}},
			wantErr: "-1 is out of range for uint8",
		},
		{
			name:   "unnamed tensor from wide rows",
			schema: unnamed.Inputs,
			in:     mlmodel.Frame{Rows: [][]any{{int64(1), 2.5, int64(3)}}},
			want:   [][]any{{[]any{1.0, 2.5, 3.0}}},
		},
		{
			name:   "unnamed tensor from one column of lists",
			schema: unnamed.Inputs,
			in:     mlmodel.Frame{Rows: [][]any{{[]any{int64(1), int64(2), int64(3)}}}},
			want:   [][]any{{[]any{1.0, 2.0, 3.0}}},
		},
		{
			name:    "unnamed tensor wrong width",
			schema:  unnamed.Inputs,
			in:      mlmodel.Frame{Rows: [][]any{{int64(1), int64(2)}}},
			wantErr: "dimension of length 2, want 3",
		},
		{
			name:    "unnamed tensor strings",
			schema:  unnamed.Inputs,
			in:      mlmodel.Frame{Rows: [][]any{{"a", "b", "c"}}},
			wantErr: `want a float32 element, got string "a"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.schema.Enforce(&tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Rows, tt.want) {
				t.Errorf("got %#v, want %#v", got.Rows, tt.want)
			}
		})
	}
}

func TestParamSchemaEnforce(t *testing.T) {
	sig := mustSignature(t, `params: '[{"name": "max_new_tokens", "type": "long", "default": 100, "shape": null}, {"name": "temperature", "type": "float", "default": 0.7, "shape": null}, {"name": "stop", "type": "string", "default": ["\n"], "shape": [-1]}, {"name": "opts", "type": "object", "properties": {"mode": {"type": "string"}}, "default": {"mode": "fast"}, "shape": null}, {"name": "prefix", "type": "string", "default": null, "shape": null}]'`)
	defaults := map[string]any{"max_new_tokens": int64(100), "temperature": float32(0.7), "stop": []any{"\n"}, "opts": map[string]any{"mode": "fast"}, "prefix": nil}
	tests := []struct {
		name    string
		in      map[string]any
		want    map[string]any
		wantErr string
	}{
		{name: "defaults applied", in: nil, want: defaults},
		{
			name: "given values converted, unknown dropped",
			in:   map[string]any{"max_new_tokens": int64(5), "temperature": int64(1), "stop": []any{"a", "b"}, "unknown": true},
			want: map[string]any{"max_new_tokens": int64(5), "temperature": float32(1), "stop": []any{"a", "b"}, "opts": map[string]any{"mode": "fast"}, "prefix": nil},
		},
		{name: "double to long refused", in: map[string]any{"max_new_tokens": 1.5}, wantErr: "'max_new_tokens': cannot safely convert 1.5 to long"},
		{name: "list wanted", in: map[string]any{"stop": "x"}, wantErr: `'stop': want a list (shape [-1]) of string, got string "x"`},
		{name: "scalar wanted", in: map[string]any{"prefix": []any{"x"}}, wantErr: "'prefix': want a scalar string, got an array"},
		{name: "object checked", in: map[string]any{"opts": map[string]any{"speed": "x"}}, wantErr: "'opts': missing required property 'mode'"},
		{
			name:    "all invalid params named",
			in:      map[string]any{"max_new_tokens": "ten", "temperature": "hot"},
			wantErr: `invalid params: 'max_new_tokens': want long, got string "ten"; 'temperature': want float, got string "hot"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sig.Params.Enforce(tt.in)
			if tt.wantErr != "" {
				if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("got %v, want EINVALID containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
	var none mlmodel.ParamSchema
	if got, err := none.Enforce(map[string]any{"x": 1}); err != nil || len(got) != 0 {
		t.Errorf("nil schema: got %v, %v; want an empty map (params ignored)", got, err)
	}
}

func TestNilSchemaEnforceIsIdentity(t *testing.T) {
	var s *mlmodel.Schema
	f := &mlmodel.Frame{Columns: []string{"a"}, Rows: [][]any{{"x"}}}
	if got, err := s.Enforce(f); err != nil || got != f {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestFrameColumn(t *testing.T) {
	f := &mlmodel.Frame{Columns: []string{"a", "b"}, Rows: [][]any{{int64(1), "x"}, {int64(2), "y"}}}
	if got, ok := f.Column("b"); !ok || !reflect.DeepEqual(got, []any{"x", "y"}) {
		t.Errorf("Column(b): got %v, %v", got, ok)
	}
	if _, ok := f.Column("c"); ok {
		t.Errorf("Column(c): got ok for a missing column")
	}
	if f.Width() != 2 || (&mlmodel.Frame{Rows: [][]any{{1, 2, 3}}}).Width() != 3 || (&mlmodel.Frame{}).Width() != 0 {
		t.Errorf("Width: wrong")
	}
}
