package mlmodel

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// Frame is a small table of JSON-decoded values: the columnar input a model
// is scored on. Columns is nil when the columns have no names (a list of
// lists, say); then a row's cells are matched to a schema by position. Each
// row has one cell per column (len(Columns), or the width of the first row
// when Columns is nil). Cells hold the values of JSON decoding (nil, bool,
// string, int64 or float64, []any, map[string]any); [Schema.Enforce]
// returns cells converted to Go types (see there).
type Frame struct {
	Columns []string
	Rows    [][]any
}

// Width returns the number of columns of f.
func (f *Frame) Width() int {
	if f.Columns != nil {
		return len(f.Columns)
	}
	if len(f.Rows) > 0 {
		return len(f.Rows[0])
	}
	return 0
}

// Column returns the cells of the named column, or false if f has no such
// column.
func (f *Frame) Column(name string) ([]any, bool) {
	for j, c := range f.Columns {
		if c == name {
			col := make([]any, len(f.Rows))
			for i, r := range f.Rows {
				col[i] = r[j]
			}
			return col, true
		}
	}
	return nil, false
}

// Enforce checks a frame against a column- or tensor-based input schema and
// returns a new frame that holds exactly the schema's columns, in schema
// order, with converted cells. It follows MLflow's _enforce_schema:
//
//   - A named required column missing from f is an EINVALID error naming it
//     (all missing columns are named at once). A missing optional column is
//     left out. Columns f has but the schema does not are dropped.
//   - An unnamed schema matches the first columns of f by position; f must
//     have at least as many columns as the schema.
//   - Conversions are safe only: an integral number to integer (int32) or
//     long (int64) within range, never a fractional one; any number to
//     double (float64), an integer only below 2^53 in magnitude; any number
//     to float (float32) within float32 range, an integer only below 2^24.
//     JSON numbers carry no width, so a number with a fraction is accepted
//     for float (MLflow, which sees float64 there, refuses double → float).
//     Booleans and strings must be JSON booleans and strings; binary is
//     base64 text ([]byte out); datetime is ISO 8601 text (time.Time out,
//     UTC when the text has no offset). Arrays, objects and maps are checked
//     element by element; any passes through.
//   - A null cell is allowed only in an optional column.
//
// For tensor-based schemas, each named tensor must be a column of f whose
// cells have the spec's shape without its first (batch) dimension; numbers
// become int64 or float64 by dtype. An unnamed tensor takes the rows of f as
// its batch (the cell of a one-column frame, or the whole row of a wider
// one) and comes back as a one-column frame, a row of the tensor per cell.
// A nil or empty schema returns f unchanged.
func (s *Schema) Enforce(f *Frame) (*Frame, error) {
	if s.Empty() {
		return f, nil
	}
	if f == nil {
		f = &Frame{}
	}
	if s.IsTensor() {
		return s.enforceTensors(f)
	}
	if !s.HasNames() {
		if f.Width() < len(s.Columns) {
			return nil, loopml.Errorf(loopml.EINVALID, "input has %d columns but the model signature declares %d unnamed inputs", f.Width(), len(s.Columns))
		}
		out := &Frame{Rows: newRows(len(f.Rows), len(s.Columns))}
		if f.Columns != nil {
			out.Columns = append([]string(nil), f.Columns[:len(s.Columns)]...)
		}
		for j, c := range s.Columns {
			if err := convertColumn(f, j, columnName{index: j}, c.Type, c.Required, out, j); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	index := map[string]int{}
	for j, c := range f.Columns {
		index[c] = j
	}
	if f.Columns == nil && len(s.Columns) == 1 && f.Width() == 1 {
		// MLflow matches a bare list to a schema's single named column.
		index[s.Columns[0].Name] = 0
	}
	var missing []string
	var present []ColSpec
	for _, c := range s.Columns {
		if _, ok := index[c.Name]; ok {
			present = append(present, c)
		} else if c.Required {
			missing = append(missing, "'"+c.Name+"'")
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("input is missing required column %s", strings.Join(missing, ", "))
		if len(missing) > 1 {
			msg = fmt.Sprintf("input is missing required columns %s", strings.Join(missing, ", "))
		}
		return nil, loopml.Errorf(loopml.EINVALID, "%s (the model signature requires it)", msg)
	}
	out := &Frame{Columns: make([]string, len(present)), Rows: newRows(len(f.Rows), len(present))}
	for k, c := range present {
		out.Columns[k] = c.Name
		if err := convertColumn(f, index[c.Name], columnName{name: c.Name, named: true}, c.Type, c.Required, out, k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func newRows(n, width int) [][]any {
	rows := make([][]any, n)
	cells := make([]any, n*width)
	for i := range rows {
		rows[i] = cells[i*width : (i+1)*width : (i+1)*width]
	}
	return rows
}

// columnName names a column in errors: by name, or by position when the
// schema's columns are unnamed. It is formatted only when an error needs it.
type columnName struct {
	name  string
	index int
	named bool
}

func (c columnName) String() string {
	if c.named {
		return "input column '" + c.name + "'"
	}
	return "input column " + strconv.Itoa(c.index)
}

func convertColumn(f *Frame, from int, what columnName, t *Type, required bool, out *Frame, to int) error {
	for i, r := range f.Rows {
		if from >= len(r) {
			return loopml.Errorf(loopml.EINVALID, "%s: row %d has %d cells", what, i, len(r))
		}
		v, err := convertValue(t, r[from], required)
		if err != nil {
			return loopml.Errorf(loopml.EINVALID, "%s, row %d: %v", what, i, err)
		}
		out.Rows[i][to] = v
	}
	return nil
}

// number reads v as a number: its float value, and its integer value when
// it is integral and fits in an int64.
func number(v any) (f float64, i int64, integral, ok bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), x, true, true
	case int:
		return float64(x), int64(x), true, true
	case int32:
		return float64(x), int64(x), true, true
	case float32:
		f = float64(x)
	case float64:
		f = x
	case json.Number:
		n, err := parseNumber(string(x))
		if err != nil {
			return 0, 0, false, false
		}
		return number(n)
	default:
		return 0, 0, false, false
	}
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return f, int64(f), true, true
	}
	return f, 0, false, true
}

// The magnitudes up to which every integer is exact in a float64 (2^53) and
// in a float32 (2^24).
const (
	exactIntFloat64 = 1 << 53
	exactIntFloat32 = 1 << 24
)

func abs64(i int64) uint64 {
	if i < 0 {
		return uint64(-(i + 1)) + 1
	}
	return uint64(i)
}

// datetimeLayouts are the ISO 8601 forms accepted for datetime values.
var datetimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
}

func parseDatetime(s string) (time.Time, bool) {
	for _, l := range datetimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// convertValue converts one JSON-decoded value to the Go value of type t:
// bool, int32, int64, float32, float64, string, []byte, time.Time,
// []any (array), map[string]any (object, map), []float64 (sparkml_vector),
// or the value itself (any).
func convertValue(t *Type, v any, required bool) (any, error) {
	if t == nil {
		t = &Type{Kind: TypeAny}
	}
	if v == nil {
		if required && t.Kind != TypeAny {
			return nil, fmt.Errorf("null value for required %s", t)
		}
		return nil, nil
	}
	switch t.Kind {
	case TypeAny:
		return v, nil
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case TypeInteger, TypeLong:
		f, i, integral, ok := number(v)
		if !ok {
			break
		}
		if !integral {
			return nil, fmt.Errorf("cannot safely convert %v to %s (it is not an integer)", f, t.Kind)
		}
		if t.Kind == TypeInteger {
			if i < math.MinInt32 || i > math.MaxInt32 {
				return nil, fmt.Errorf("%d is out of range for integer (32-bit)", i)
			}
			return int32(i), nil
		}
		return i, nil
	case TypeFloat, TypeDouble:
		f, i, _, ok := number(v)
		if !ok {
			break
		}
		if isIntType(v) {
			limit := uint64(exactIntFloat64)
			if t.Kind == TypeFloat {
				limit = exactIntFloat32
			}
			if abs64(i) > limit {
				return nil, fmt.Errorf("cannot safely convert integer %d to %s (precision loss)", i, t.Kind)
			}
		}
		if t.Kind == TypeFloat {
			if math.Abs(f) > math.MaxFloat32 {
				return nil, fmt.Errorf("%v is out of range for float (32-bit)", f)
			}
			return float32(f), nil
		}
		return f, nil
	case TypeBinary:
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			b, err := base64.StdEncoding.DecodeString(x)
			if err != nil {
				return nil, fmt.Errorf("binary value is not valid base64")
			}
			return b, nil
		}
	case TypeDatetime:
		switch x := v.(type) {
		case time.Time:
			return x, nil
		case string:
			if tm, ok := parseDatetime(x); ok {
				return tm, nil
			}
			return nil, fmt.Errorf("cannot parse %q as an ISO 8601 datetime", x)
		}
	case TypeArray:
		list, ok := v.([]any)
		if !ok {
			break
		}
		out := make([]any, len(list))
		for i, e := range list {
			c, err := convertValue(t.Items, e, true)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = c
		}
		return out, nil
	case TypeMap:
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		out := make(map[string]any, len(m))
		for _, k := range sortedKeys(m) {
			c, err := convertValue(t.Values, m[k], true)
			if err != nil {
				return nil, fmt.Errorf("[%q]: %w", k, err)
			}
			out[k] = c
		}
		return out, nil
	case TypeObject:
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		out := make(map[string]any, len(m))
		known := map[string]bool{}
		for _, p := range t.Properties {
			known[p.Name] = true
			pv, present := m[p.Name]
			if !present {
				if p.Required {
					return nil, fmt.Errorf("missing required property '%s'", p.Name)
				}
				continue
			}
			c, err := convertValue(p.Type, pv, p.Required)
			if err != nil {
				return nil, fmt.Errorf("property '%s': %w", p.Name, err)
			}
			out[p.Name] = c
		}
		for _, k := range sortedKeys(m) {
			if !known[k] {
				return nil, fmt.Errorf("property '%s' is not defined in the schema", k)
			}
		}
		return out, nil
	case TypeSparkMLVector:
		list, ok := v.([]any)
		if !ok {
			break
		}
		out := make([]float64, len(list))
		for i, e := range list {
			f, _, _, ok := number(e)
			if !ok {
				return nil, fmt.Errorf("[%d]: want a number, got %s", i, jsonKind(e))
			}
			out[i] = f
		}
		return out, nil
	}
	return nil, fmt.Errorf("want %s, got %s", t, describe(v))
}

func isIntType(v any) bool {
	switch v.(type) {
	case int, int32, int64:
		return true
	case json.Number:
		return !strings.ContainsAny(string(v.(json.Number)), ".eE")
	}
	return false
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return fmt.Sprintf("string %q", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case int64, float64, int, int32, float32, json.Number:
		return fmt.Sprintf("number %v", x)
	}
	return jsonKind(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// enforceTensors checks f against a tensor-based schema.
func (s *Schema) enforceTensors(f *Frame) (*Frame, error) {
	if !s.HasNames() {
		spec := s.Tensors[0]
		if len(f.Rows) == 0 {
			return nil, loopml.Errorf(loopml.EINVALID, "input is empty")
		}
		if err := checkBatch(spec, len(f.Rows), "input"); err != nil {
			return nil, err
		}
		var inner []int64
		if len(spec.Shape) > 0 {
			inner = spec.Shape[1:]
		}
		out := &Frame{Rows: newRows(len(f.Rows), 1)}
		for i, r := range f.Rows {
			// A one-column frame holds the tensor's rows in its cells;
			// a wider frame holds them as its rows.
			var row any = r
			if f.Width() == 1 && len(r) == 1 {
				row = r[0]
			}
			c, err := tensorValue(spec.DType, inner, row)
			if err != nil {
				return nil, loopml.Errorf(loopml.EINVALID, "input row %d: %v (the model signature expects shape %v)", i, err, spec.Shape)
			}
			out.Rows[i][0] = c
		}
		return out, nil
	}
	index := map[string]int{}
	for j, c := range f.Columns {
		index[c] = j
	}
	if f.Columns == nil && len(s.Tensors) == 1 && f.Width() == 1 {
		index[s.Tensors[0].Name] = 0
	}
	var missing []string
	for _, t := range s.Tensors {
		if _, ok := index[t.Name]; !ok {
			missing = append(missing, "'"+t.Name+"'")
		}
	}
	if len(missing) > 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "input is missing required tensor %s (the model signature requires it)", strings.Join(missing, ", "))
	}
	out := &Frame{Columns: make([]string, len(s.Tensors)), Rows: newRows(len(f.Rows), len(s.Tensors))}
	for k, t := range s.Tensors {
		out.Columns[k] = t.Name
		if err := checkBatch(t, len(f.Rows), "input tensor '"+t.Name+"'"); err != nil {
			return nil, err
		}
		var inner []int64
		if len(t.Shape) > 0 {
			inner = t.Shape[1:]
		}
		for i, r := range f.Rows {
			c, err := tensorValue(t.DType, inner, r[index[t.Name]])
			if err != nil {
				return nil, loopml.Errorf(loopml.EINVALID, "input tensor '%s', row %d: %v", t.Name, i, err)
			}
			out.Rows[i][k] = c
		}
	}
	return out, nil
}

func checkBatch(t TensorSpec, n int, what string) error {
	if len(t.Shape) > 0 && t.Shape[0] != -1 && t.Shape[0] != int64(n) {
		return loopml.Errorf(loopml.EINVALID, "%s has %d rows but the model signature expects shape %v", what, n, t.Shape)
	}
	return nil
}

// tensorValue checks that v is a nested list of the given shape (-1 matches
// any length) whose elements suit dtype, and converts its numbers.
func tensorValue(dtype string, shape []int64, v any) (any, error) {
	if len(shape) == 0 {
		return tensorScalar(dtype, v)
	}
	list, ok := v.([]any)
	if !ok {
		if dtype == "object" {
			return v, nil
		}
		return nil, fmt.Errorf("want a list of %d dimensions, got %s", len(shape), describe(v))
	}
	if shape[0] != -1 && int64(len(list)) != shape[0] {
		return nil, fmt.Errorf("dimension of length %d, want %d", len(list), shape[0])
	}
	out := make([]any, len(list))
	for i, e := range list {
		c, err := tensorValue(dtype, shape[1:], e)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = c
	}
	return out, nil
}

func tensorScalar(dtype string, v any) (any, error) {
	switch {
	case dtype == "object":
		return v, nil
	case dtype == "bool":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case dtype == "str" || dtype == "bytes" || strings.HasPrefix(dtype, "datetime64"):
		if s, ok := v.(string); ok {
			return s, nil
		}
	case strings.HasPrefix(dtype, "int") || strings.HasPrefix(dtype, "uint"):
		f, i, integral, ok := number(v)
		if !ok {
			break
		}
		if !integral {
			return nil, fmt.Errorf("cannot safely convert %v to %s", f, dtype)
		}
		if strings.HasPrefix(dtype, "uint") && i < 0 {
			return nil, fmt.Errorf("%d is out of range for %s", i, dtype)
		}
		return i, nil
	case strings.HasPrefix(dtype, "float"), strings.HasPrefix(dtype, "complex"):
		if f, _, _, ok := number(v); ok {
			return f, nil
		}
	}
	return nil, fmt.Errorf("want a %s element, got %s", dtype, describe(v))
}

// Enforce validates request params against the schema as MLflow's
// _enforce_params_schema does: params the schema does not declare are
// dropped, declared params that are absent take their default, and present
// ones are converted with the rules of [Schema.Enforce] (a param with shape
// [-1] takes a list). All invalid params are named in one EINVALID error. A
// nil or empty schema returns an empty map.
func (ps ParamSchema) Enforce(params map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(ps))
	var bad []string
	for _, p := range ps {
		v, ok := params[p.Name]
		if !ok {
			v = p.Default
		}
		c, err := p.convert(v)
		if err != nil {
			bad = append(bad, fmt.Sprintf("'%s': %v", p.Name, err))
			continue
		}
		out[p.Name] = c
	}
	if len(bad) > 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "invalid params: %s", strings.Join(bad, "; "))
	}
	return out, nil
}

// convert checks one param value against the spec.
func (p ParamSpec) convert(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if p.Shape != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want a list (shape [-1]) of %s, got %s", p.Type, describe(v))
		}
		out := make([]any, len(list))
		for i, e := range list {
			if err := scalarParam(p.Type, e); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			c, err := convertValue(p.Type, e, true)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = c
		}
		return out, nil
	}
	if err := scalarParam(p.Type, v); err != nil {
		return nil, err
	}
	return convertValue(p.Type, v, true)
}

func scalarParam(t *Type, v any) error {
	if t.Kind == TypeObject {
		return nil
	}
	switch v.(type) {
	case []any, map[string]any:
		return fmt.Errorf("want a scalar %s, got %s", t, jsonKind(v))
	}
	return nil
}
