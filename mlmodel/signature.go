package mlmodel

import (
	"fmt"
	"sort"
	"strings"
)

// DataType names a type in an MLflow signature: one of the scalar types
// (boolean, integer, long, float, double, string, binary, datetime) or one of
// the composite kinds (array, object, map, any, sparkml_vector).
type DataType string

// The scalar types of MLflow's DataType enum (mlflow/types/schema.py).
const (
	TypeBoolean  DataType = "boolean"  // JSON true/false
	TypeInteger  DataType = "integer"  // 32-bit signed integer
	TypeLong     DataType = "long"     // 64-bit signed integer
	TypeFloat    DataType = "float"    // 32-bit floating point
	TypeDouble   DataType = "double"   // 64-bit floating point
	TypeString   DataType = "string"   // text
	TypeBinary   DataType = "binary"   // bytes, base64 in JSON
	TypeDatetime DataType = "datetime" // timestamp, ISO 8601 in JSON
)

// The composite kinds added in MLflow 2.10 and later.
const (
	TypeArray         DataType = "array"          // Type.Items holds the element type
	TypeObject        DataType = "object"         // Type.Properties holds the fields
	TypeMap           DataType = "map"            // string keys; Type.Values holds the value type
	TypeAny           DataType = "any"            // anything JSON, including null
	TypeSparkMLVector DataType = "sparkml_vector" // a Spark ML vector of doubles
)

// typeTensor is the "type" of a tensor spec in a signature.
const typeTensor = "tensor"

// IsScalar reports whether t is one of the eight scalar types.
func (t DataType) IsScalar() bool {
	switch t {
	case TypeBoolean, TypeInteger, TypeLong, TypeFloat, TypeDouble, TypeString, TypeBinary, TypeDatetime:
		return true
	}
	return false
}

// Type is the type of a column, an array element, an object property or a
// map value. Kind says which; the other fields are set only for the
// composite kinds. A nil *Type is treated as TypeAny.
type Type struct {
	Kind       DataType
	Items      *Type      // element type, for TypeArray
	Properties []Property // fields sorted by name, for TypeObject
	Values     *Type      // value type, for TypeMap
}

// Property is one field of an object type.
type Property struct {
	Name     string
	Type     *Type
	Required bool
}

// String renders t compactly: "long", "array<double>", "map<string>",
// "object{a: long, b?: string}".
func (t *Type) String() string {
	if t == nil {
		return "<nil>"
	}
	switch t.Kind {
	case TypeArray:
		return "array<" + t.Items.String() + ">"
	case TypeMap:
		return "map<" + t.Values.String() + ">"
	case TypeObject:
		parts := make([]string, len(t.Properties))
		for i, p := range t.Properties {
			opt := ""
			if !p.Required {
				opt = "?"
			}
			parts[i] = p.Name + opt + ": " + p.Type.String()
		}
		return "object{" + strings.Join(parts, ", ") + "}"
	}
	return string(t.Kind)
}

// ColSpec is one column of a column-based schema. Name is empty for the
// columns of an unnamed schema.
type ColSpec struct {
	Name     string
	Type     *Type
	Required bool
}

// TensorSpec is one input or output of a tensor-based schema. DType is a
// numpy dtype name ("float32", "int64", "object", ...); in Shape, -1 marks a
// variable dimension.
type TensorSpec struct {
	Name  string
	DType string
	Shape []int64
}

// Schema is the inputs or the outputs of a signature: either a list of
// columns or a list of tensors, never both.
type Schema struct {
	Columns []ColSpec
	Tensors []TensorSpec
}

// Empty reports whether s declares no input at all (MLflow refuses such a
// schema; Write leaves it out).
func (s *Schema) Empty() bool { return s == nil || len(s.Columns)+len(s.Tensors) == 0 }

// IsTensor reports whether s is tensor-based.
func (s *Schema) IsTensor() bool { return len(s.Tensors) > 0 }

// HasNames reports whether the inputs of s are named.
func (s *Schema) HasNames() bool {
	if s.IsTensor() {
		return s.Tensors[0].Name != ""
	}
	return len(s.Columns) > 0 && s.Columns[0].Name != ""
}

// Names returns the input names in order (empty strings when unnamed).
func (s *Schema) Names() []string {
	var names []string
	for _, c := range s.Columns {
		names = append(names, c.Name)
	}
	for _, t := range s.Tensors {
		names = append(names, t.Name)
	}
	return names
}

// ParamSpec is one inference parameter: its type (a scalar type other than
// binary, or an object type), its default, and its shape (nil for a scalar,
// [-1] for a one-dimensional list).
type ParamSpec struct {
	Name    string
	Type    *Type
	Default any
	Shape   []int64
}

// ParamSchema is the params part of a signature.
type ParamSchema []ParamSpec

// Signature describes what a model takes and returns. Any of its parts may be
// nil. Extra keeps keys under "signature" that this package does not know,
// so that they survive a parse → write round trip.
type Signature struct {
	Inputs  *Schema
	Outputs *Schema
	Params  ParamSchema
	Extra   map[string]any
}

// pathError is an error at a location inside a JSON value.
type pathError struct {
	path string
	msg  string
}

func (e *pathError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

func errAt(path, format string, args ...any) error {
	return &pathError{path: path, msg: fmt.Sprintf(format, args...)}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case int64, float64, int, int32, float32:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// parseSchemaJSON parses the JSON text MLflow stores under signature.inputs
// or signature.outputs.
func parseSchemaJSON(text string) (*Schema, error) {
	v, err := decodeJSON(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	return schemaFromValue(v)
}

func schemaFromValue(v any) (*Schema, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, errAt("", "must be a JSON array of column or tensor specs, got %s", jsonKind(v))
	}
	if len(list) == 0 {
		return nil, errAt("", "must not be empty")
	}
	s := &Schema{}
	seen := map[string]bool{}
	for i, e := range list {
		p := fmt.Sprintf("[%d]", i)
		m, ok := e.(map[string]any)
		if !ok {
			return nil, errAt(p, "must be an object, got %s", jsonKind(e))
		}
		name, err := optString(m, "name", p)
		if err != nil {
			return nil, err
		}
		if name != "" {
			if seen[name] {
				return nil, errAt(p, "duplicate input name %q", name)
			}
			seen[name] = true
		}
		if m["type"] == typeTensor {
			ts, err := tensorFromValue(m, p)
			if err != nil {
				return nil, err
			}
			ts.Name = name
			s.Tensors = append(s.Tensors, ts)
			continue
		}
		t, err := typeFromValue(m, p)
		if err != nil {
			return nil, err
		}
		req, err := optBool(m, "required", p, true)
		if err != nil {
			return nil, err
		}
		s.Columns = append(s.Columns, ColSpec{Name: name, Type: t, Required: req})
	}
	if len(s.Columns) > 0 && len(s.Tensors) > 0 {
		return nil, errAt("", "mixes column specs and tensor specs")
	}
	if len(seen) != 0 && len(seen) != len(list) {
		return nil, errAt("", "mixes named and unnamed inputs")
	}
	if len(seen) == 0 {
		for i, c := range s.Columns {
			if !c.Required {
				return nil, errAt(fmt.Sprintf("[%d]", i), "an unnamed input cannot be optional")
			}
		}
		if len(s.Tensors) > 1 {
			return nil, errAt("", "several unnamed tensor specs; name each of them")
		}
	}
	return s, nil
}

func optString(m map[string]any, key, path string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", errAt(join(path, key), "must be a string, got %s", jsonKind(v))
	}
	return s, nil
}

func optBool(m map[string]any, key, path string, def bool) (bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, errAt(join(path, key), "must be a boolean, got %s", jsonKind(v))
	}
	return b, nil
}

// typeFromValue reads the type described by m["type"] (and "items",
// "properties" or "values" for the composite kinds).
func typeFromValue(m map[string]any, path string) (*Type, error) {
	raw, ok := m["type"]
	if !ok {
		return nil, errAt(path, "missing key \"type\"")
	}
	name, ok := raw.(string)
	if !ok {
		return nil, errAt(join(path, "type"), "must be a string, got %s", jsonKind(raw))
	}
	k := DataType(name)
	switch {
	case k.IsScalar(), k == TypeAny, k == TypeSparkMLVector:
		return &Type{Kind: k}, nil
	case k == TypeArray:
		items, err := subObject(m, "items", path)
		if err != nil {
			return nil, err
		}
		it, err := typeFromValue(items, join(path, "items"))
		if err != nil {
			return nil, err
		}
		return &Type{Kind: k, Items: it}, nil
	case k == TypeMap:
		values, err := subObject(m, "values", path)
		if err != nil {
			return nil, err
		}
		vt, err := typeFromValue(values, join(path, "values"))
		if err != nil {
			return nil, err
		}
		return &Type{Kind: k, Values: vt}, nil
	case k == TypeObject:
		props, err := subObject(m, "properties", path)
		if err != nil {
			return nil, err
		}
		if len(props) == 0 {
			return nil, errAt(join(path, "properties"), "must not be empty")
		}
		t := &Type{Kind: k}
		for pname, pv := range props {
			pp := join(join(path, "properties"), pname)
			pm, ok := pv.(map[string]any)
			if !ok {
				return nil, errAt(pp, "must be an object, got %s", jsonKind(pv))
			}
			pt, err := typeFromValue(pm, pp)
			if err != nil {
				return nil, err
			}
			req, err := optBool(pm, "required", pp, true)
			if err != nil {
				return nil, err
			}
			t.Properties = append(t.Properties, Property{Name: pname, Type: pt, Required: req})
		}
		sort.Slice(t.Properties, func(i, j int) bool { return t.Properties[i].Name < t.Properties[j].Name })
		return t, nil
	}
	return nil, errAt(join(path, "type"), "unknown type %q (want one of boolean, integer, long, float, double, string, binary, datetime, array, object, map, any, tensor)", name)
}

func subObject(m map[string]any, key, path string) (map[string]any, error) {
	v, ok := m[key]
	if !ok {
		return nil, errAt(path, "missing key %q", key)
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, errAt(join(path, key), "must be an object, got %s", jsonKind(v))
	}
	return o, nil
}

// knownDTypes are the numpy dtype names a tensor spec may carry.
var knownDTypes = map[string]bool{
	"bool": true, "int8": true, "int16": true, "int32": true, "int64": true,
	"uint8": true, "uint16": true, "uint32": true, "uint64": true,
	"float16": true, "float32": true, "float64": true, "float128": true,
	"complex64": true, "complex128": true, "object": true, "str": true, "bytes": true,
}

func tensorFromValue(m map[string]any, path string) (TensorSpec, error) {
	spec, err := subObject(m, "tensor-spec", path)
	if err != nil {
		return TensorSpec{}, err
	}
	sp := join(path, "tensor-spec")
	dt, ok := spec["dtype"].(string)
	if !ok {
		return TensorSpec{}, errAt(join(sp, "dtype"), "must be a numpy dtype name, got %s", jsonKind(spec["dtype"]))
	}
	if !knownDTypes[dt] && !strings.HasPrefix(dt, "datetime64") && !strings.HasPrefix(dt, "timedelta64") {
		return TensorSpec{}, errAt(join(sp, "dtype"), "unknown numpy dtype %q", dt)
	}
	shape, err := shapeFromValue(spec["shape"], join(sp, "shape"), false)
	if err != nil {
		return TensorSpec{}, err
	}
	if shape == nil {
		shape = []int64{}
	}
	return TensorSpec{DType: dt, Shape: shape}, nil
}

// shapeFromValue reads a list of dimensions; null is allowed only when
// nullable is set (param specs), and gives a nil shape.
func shapeFromValue(v any, path string, nullable bool) ([]int64, error) {
	if v == nil && nullable {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errAt(path, "must be a list of integers, got %s", jsonKind(v))
	}
	shape := make([]int64, len(list))
	for i, d := range list {
		n, ok := d.(int64)
		if !ok || n < -1 {
			return nil, errAt(fmt.Sprintf("%s[%d]", path, i), "must be an integer ≥ -1")
		}
		shape[i] = n
	}
	return shape, nil
}

// parseParamsJSON parses the JSON text MLflow stores under signature.params.
func parseParamsJSON(text string) (ParamSchema, error) {
	v, err := decodeJSON(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errAt("", "must be a JSON array of param specs, got %s", jsonKind(v))
	}
	ps := make(ParamSchema, 0, len(list))
	seen := map[string]bool{}
	for i, e := range list {
		p := fmt.Sprintf("[%d]", i)
		m, ok := e.(map[string]any)
		if !ok {
			return nil, errAt(p, "must be an object, got %s", jsonKind(e))
		}
		var name string
		switch n := m["name"].(type) {
		case string:
			name = n
		case int64:
			name = fmt.Sprint(n)
		default:
			return nil, errAt(join(p, "name"), "must be a string, got %s", jsonKind(m["name"]))
		}
		if seen[name] {
			return nil, errAt(p, "duplicate param %q", name)
		}
		seen[name] = true
		tm := m
		if _, ok := m["type"]; !ok {
			// MLflow also accepts "dtype" for backward compatibility.
			if d, ok := m["dtype"]; ok {
				tm = map[string]any{"type": d, "properties": m["properties"]}
			}
		}
		t, err := typeFromValue(tm, p)
		if err != nil {
			return nil, err
		}
		if !t.Kind.IsScalar() && t.Kind != TypeObject {
			return nil, errAt(join(p, "type"), "type %s is not allowed for a param", t.Kind)
		}
		if t.Kind == TypeBinary {
			return nil, errAt(join(p, "type"), "binary is not allowed for a param")
		}
		def, ok := m["default"]
		if !ok {
			return nil, errAt(p, "missing key \"default\"")
		}
		shape, err := shapeFromValue(m["shape"], join(p, "shape"), true)
		if err != nil {
			return nil, err
		}
		if shape != nil && (len(shape) != 1 || shape[0] != -1) {
			return nil, errAt(join(p, "shape"), "must be null or [-1]")
		}
		spec := ParamSpec{Name: name, Type: t, Shape: shape}
		if def != nil {
			if _, err := spec.convert(def); err != nil {
				return nil, errAt(join(p, "default"), "%v", err)
			}
		}
		// The default is kept as written (a JSON value), so that the file
		// round-trips; Enforce converts it when it applies it.
		spec.Default = def
		ps = append(ps, spec)
	}
	return ps, nil
}

// typeValue renders t as the JSON object MLflow writes for it, followed by
// the members in tail.
func typeValue(t *Type, tail ...kv) object {
	if t == nil {
		// A nil type constrains nothing, like MLflow's AnyType.
		return append(object{{"type", string(TypeAny)}}, tail...)
	}
	o := object{{"type", string(t.Kind)}}
	switch t.Kind {
	case TypeArray:
		o = append(o, kv{"items", typeValue(t.Items)})
	case TypeMap:
		o = append(o, kv{"values", typeValue(t.Values)})
	case TypeObject:
		props := make(object, len(t.Properties))
		for i, p := range t.Properties {
			props[i] = kv{p.Name, typeValue(p.Type, kv{"required", p.Required})}
		}
		o = append(o, kv{"properties", props})
	}
	return append(o, tail...)
}

// JSON returns the schema as the JSON text MLflow stores in an MLmodel file.
func (s *Schema) JSON() string {
	list := make([]any, 0, len(s.Columns)+len(s.Tensors))
	for _, c := range s.Columns {
		var tail []kv
		if c.Name != "" {
			tail = append(tail, kv{"name", c.Name})
		}
		tail = append(tail, kv{"required", c.Required})
		list = append(list, typeValue(c.Type, tail...))
	}
	for _, t := range s.Tensors {
		var o object
		if t.Name != "" {
			o = append(o, kv{"name", t.Name})
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		o = append(o, kv{"type", typeTensor}, kv{"tensor-spec", object{{"dtype", t.DType}, {"shape", shape}}})
		list = append(list, o)
	}
	return pyJSON(list)
}

// JSON returns the param schema as the JSON text MLflow stores in an MLmodel
// file.
func (ps ParamSchema) JSON() string {
	list := make([]any, 0, len(ps))
	for _, p := range ps {
		var shape any
		if p.Shape != nil {
			shape = p.Shape
		}
		o := object{{"name", p.Name}, {"default", p.Default}, {"shape", shape}}
		o = append(o, typeValue(p.Type)...)
		list = append(list, o)
	}
	return pyJSON(list)
}
