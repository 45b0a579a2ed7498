package mlmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/loopml/loopml"
)

// The request formats of MLflow's pyfunc scoring server (MLflow ≥ 2.0).
const (
	FormatDataframeSplit   = "dataframe_split"   // {"columns": [...], "data": [[...], ...], "index"?: [...]}
	FormatDataframeRecords = "dataframe_records" // [{"col": v, ...}, ...]
	FormatInstances        = "instances"         // TF-serving rows: [row, ...] or [{"name": v}, ...]
	FormatInputs           = "inputs"            // TF-serving columns: {"name": [...]} or a (nested) list
)

// scoringFormats lists the format keys in the order error messages name them.
var scoringFormats = []string{FormatDataframeSplit, FormatDataframeRecords, FormatInstances, FormatInputs}

// ScoringRequest is a decoded /invocations JSON body.
type ScoringRequest struct {
	Format string         // which of the four format keys the body used
	Frame  *Frame         // the data as a table, ready for Schema.Enforce
	Params map[string]any // the "params" object, nil when absent
}

// DecodeScoringRequest decodes a JSON /invocations body. The body must be a
// JSON object with exactly one of the keys dataframe_split,
// dataframe_records, instances and inputs, and optionally "params" (an
// object); other keys are ignored, as MLflow ignores them. Errors are
// EINVALID and name the offending key. The caller bounds the body size with
// http.MaxBytesReader; a body over the limit is ETOOLARGE.
//
// The data becomes a [Frame]:
//
//   - dataframe_split: columns and rows as given (no "columns" → unnamed);
//   - dataframe_records and lists of objects under instances or inputs:
//     one row per object, the columns in order of first appearance, null
//     where an object lacks a column;
//   - other lists under instances or inputs: one row per element, the
//     elements of a list element as its cells, unnamed columns;
//   - an object under inputs: one column per key (in order) holding the
//     key's list, or one row when no value is a list;
//   - a scalar under inputs: one row with one cell.
func DecodeScoringRequest(r io.Reader) (*ScoringRequest, error) {
	body, err := io.ReadAll(r)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, loopml.WrapError(loopml.ETOOLARGE, err, "scoring request: the body is larger than %d bytes", tooLarge.Limit)
	} else if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "scoring request: read body")
	}
	body = bytes.TrimSpace(body)
	// Most bodies are a few plain rows: decode those in one pass. The fast
	// path declines anything else, errors included, and never changes a
	// result (see FuzzScoringFastPath).
	if req, ok := fastScoringRequest(body); ok {
		return req, nil
	}
	return decodeScoringRequestSlow(body)
}

// decodeScoringRequestSlow decodes the trimmed body with encoding/json. It is
// the reference behaviour: every body that [fastScoringRequest] declines comes
// here, and so does every error.
func decodeScoringRequestSlow(body []byte) (*ScoringRequest, error) {
	if len(body) == 0 || body[0] != '{' {
		what := "an empty body"
		if len(body) > 0 {
			if v, err := decodeJSON(bytes.NewReader(body)); err != nil {
				what = "invalid JSON (" + err.Error() + ")"
			} else {
				what = jsonKind(v)
			}
		}
		return nil, loopml.Errorf(loopml.EINVALID, "scoring request: the body must be a JSON object with exactly one of the keys %s; got %s", strings.Join(scoringFormats, ", "), what)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "scoring request: invalid JSON: %v", err)
	}
	var found []string
	for _, f := range scoringFormats {
		if _, ok := top[f]; ok {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		keys := make([]string, 0, len(top))
		for k := range top {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, loopml.Errorf(loopml.EINVALID, "scoring request: the body must have exactly one of the keys %s; got keys [%s]", strings.Join(scoringFormats, ", "), strings.Join(keys, ", "))
	}
	req := &ScoringRequest{Format: found[0]}
	if raw, ok := top["params"]; ok {
		v, err := decodeJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "scoring request: key 'params': %v", err)
		}
		if v != nil {
			p, ok := v.(map[string]any)
			if !ok {
				return nil, loopml.Errorf(loopml.EINVALID, "scoring request: key 'params' must be a JSON object, got %s", jsonKind(v))
			}
			req.Params = p
		}
	}
	raw := top[req.Format]
	data, err := decodeJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "scoring request: key '%s': %v", req.Format, err)
	}
	switch req.Format {
	case FormatDataframeSplit:
		req.Frame, err = splitFrame(data)
	case FormatDataframeRecords:
		list, ok := data.([]any)
		if !ok {
			err = errAt("", "must be a list of objects, got %s", jsonKind(data))
			break
		}
		req.Frame, err = recordsFrame(list, raw)
	case FormatInstances, FormatInputs:
		req.Frame, err = tfFrame(data, raw, req.Format == FormatInputs)
	}
	if err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "scoring request: key '%s': %v", req.Format, err)
	}
	return req, nil
}

// splitFrame reads the pandas split orient.
func splitFrame(v any) (*Frame, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errAt("", "must be an object with columns and data, got %s", jsonKind(v))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) { // sorted: the same error every time
		if k != "columns" && k != "data" && k != "index" {
			return nil, errAt("", "unexpected key %q (want columns, data, index)", k)
		}
	}
	f := &Frame{}
	if cv, ok := m["columns"]; ok && cv != nil {
		cols, ok := cv.([]any)
		if !ok {
			return nil, errAt("columns", "must be a list, got %s", jsonKind(cv))
		}
		f.Columns = make([]string, len(cols))
		seen := map[string]bool{}
		for i, c := range cols {
			switch x := c.(type) {
			case string:
				f.Columns[i] = x
			case int64, float64:
				f.Columns[i] = fmt.Sprint(x)
			default:
				return nil, errAt(fmt.Sprintf("columns[%d]", i), "must be a string, got %s", jsonKind(c))
			}
			if seen[f.Columns[i]] {
				return nil, errAt(fmt.Sprintf("columns[%d]", i), "duplicate column %q", f.Columns[i])
			}
			seen[f.Columns[i]] = true
		}
	}
	dv, ok := m["data"]
	if !ok {
		return nil, errAt("", "missing key \"data\"")
	}
	data, ok := dv.([]any)
	if !ok {
		return nil, errAt("data", "must be a list of rows, got %s", jsonKind(dv))
	}
	width := -1
	if f.Columns != nil {
		width = len(f.Columns)
	}
	for i, rv := range data {
		row, ok := rv.([]any)
		if !ok {
			if width == 1 || (width == -1 && f.Columns == nil) {
				row = []any{rv}
			} else {
				return nil, errAt(fmt.Sprintf("data[%d]", i), "must be a list of %d values, got %s", width, jsonKind(rv))
			}
		}
		if width == -1 {
			width = len(row)
		}
		if len(row) != width {
			return nil, errAt(fmt.Sprintf("data[%d]", i), "has %d values, want %d", len(row), width)
		}
		f.Rows = append(f.Rows, row)
	}
	if iv, ok := m["index"]; ok && iv != nil {
		idx, ok := iv.([]any)
		if !ok || len(idx) != len(f.Rows) {
			return nil, errAt("index", "must be a list with one entry per row")
		}
	}
	return f, nil
}

// recordsFrame reads a list of objects, one row each. raw is the JSON text of
// the list, read again for the order of the keys.
func recordsFrame(list []any, raw json.RawMessage) (*Frame, error) {
	order, err := recordKeyOrder(raw)
	if err != nil {
		return nil, err
	}
	f := &Frame{Columns: order, Rows: newRows(len(list), len(order))}
	pos := map[string]int{}
	for j, c := range order {
		pos[c] = j
	}
	for i, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, errAt(fmt.Sprintf("[%d]", i), "must be an object, got %s", jsonKind(e))
		}
		for k, v := range obj {
			j, ok := pos[k]
			if !ok {
				return nil, errAt(fmt.Sprintf("[%d]", i), "cannot place key %q", k)
			}
			f.Rows[i][j] = v
		}
	}
	return f, nil
}

// tfFrame reads the TF-serving formats.
func tfFrame(v any, raw json.RawMessage, columnar bool) (*Frame, error) {
	switch x := v.(type) {
	case []any:
		if len(x) > 0 {
			if _, ok := x[0].(map[string]any); ok {
				return recordsFrame(x, raw)
			}
		}
		f := &Frame{}
		width := -1
		for i, e := range x {
			row, isList := e.([]any)
			if !isList {
				row = []any{e}
			}
			if _, isObj := e.(map[string]any); isObj {
				return nil, errAt(fmt.Sprintf("[%d]", i), "mixes objects and other values")
			}
			if width == -1 {
				width = len(row)
			} else if len(row) != width {
				return nil, errAt(fmt.Sprintf("[%d]", i), "has %d values, want %d like the first row", len(row), width)
			}
			f.Rows = append(f.Rows, row)
		}
		return f, nil
	case map[string]any:
		if !columnar {
			return nil, errAt("", "must be a list, got an object")
		}
		order, err := objectKeyOrder(raw)
		if err != nil {
			return nil, err
		}
		f := &Frame{Columns: order}
		anyList := false
		for _, k := range order {
			if _, ok := x[k].([]any); ok {
				anyList = true
			}
		}
		if !anyList {
			row := make([]any, len(order))
			for j, k := range order {
				row[j] = x[k]
			}
			f.Rows = [][]any{row}
			return f, nil
		}
		n := -1
		for _, k := range order {
			col, ok := x[k].([]any)
			if !ok {
				return nil, errAt(k, "must be a list like the other inputs, got %s", jsonKind(x[k]))
			}
			if n == -1 {
				n = len(col)
				f.Rows = newRows(n, len(order))
			} else if len(col) != n {
				return nil, errAt(k, "has %d values, want %d like the other inputs", len(col), n)
			}
		}
		for j, k := range order {
			for i, e := range x[k].([]any) {
				f.Rows[i][j] = e
			}
		}
		return f, nil
	case nil:
		return nil, errAt("", "must not be null")
	default:
		if !columnar {
			return nil, errAt("", "must be a list, got %s", jsonKind(v))
		}
		return &Frame{Rows: [][]any{{x}}}, nil
	}
}

// objectKeyOrder returns the keys of the JSON object raw in document order.
func objectKeyOrder(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	keys, err := readObjectKeys(dec)
	if err != nil {
		return nil, err
	}
	return dedupe(keys), nil
}

// recordKeyOrder returns the union of the keys of the objects in the JSON
// list raw, in order of first appearance.
func recordKeyOrder(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, errors.New("must be a list of objects")
	}
	var keys []string
	for dec.More() {
		k, err := readObjectKeys(dec)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	return dedupe(keys), nil
}

// readObjectKeys reads one JSON value from dec; if it is an object, it
// returns the object's keys in order.
func readObjectKeys(dec *json.Decoder) ([]string, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if t == json.Delim('[') {
		// Not an object: skip the rest of the list.
		for depth := 1; depth > 0; {
			t, err := dec.Token()
			if err != nil {
				return nil, err
			}
			switch t {
			case json.Delim('['), json.Delim('{'):
				depth++
			case json.Delim(']'), json.Delim('}'):
				depth--
			}
		}
		return nil, nil
	}
	if t != json.Delim('{') {
		return nil, nil
	}
	var keys []string
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := kt.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return keys, nil
}

func dedupe(keys []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
