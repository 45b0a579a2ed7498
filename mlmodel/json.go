package mlmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeJSON decodes one JSON value from r into the value model this package
// uses everywhere: nil, bool, string, int64 (a number written without a
// fraction or exponent that fits in 64 bits), float64 (any other number),
// []any and map[string]any. Trailing data after the value is an error.
func decodeJSON(r io.Reader) (any, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty JSON document")
		}
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return normalizeJSON(v)
}

// normalizeJSON replaces every json.Number in v by an int64 or a float64.
func normalizeJSON(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return parseNumber(string(x))
	case []any:
		for i, e := range x {
			n, err := normalizeJSON(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) { // sorted: the same error every time
			n, err := normalizeJSON(x[k])
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	}
	return v, nil
}

func parseNumber(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %s is out of range", s)
	}
	return f, nil
}

// kv is one member of an object written in a fixed order by pyJSON.
type kv struct {
	k string
	v any
}

// object is a JSON object whose members are written in order.
type object []kv

// pyJSON renders v the way Python's json.dumps does with default settings
// (", " and ": " separators, non-ASCII escaped, floats always with a point
// or an exponent), which is how MLflow embeds signatures in MLmodel files.
func pyJSON(v any) string {
	var b bytes.Buffer
	writePyJSON(&b, v)
	return b.String()
}

func writePyJSON(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		writePyString(b, x)
	case int:
		b.WriteString(strconv.Itoa(x))
	case int32:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float32:
		b.WriteString(pyFloat(float64(x)))
	case float64:
		b.WriteString(pyFloat(x))
	case []int64:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatInt(e, 10))
		}
		b.WriteByte(']')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyJSON(b, e)
		}
		b.WriteByte(']')
	case object:
		b.WriteByte('{')
		for i, m := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyString(b, m.k)
			b.WriteString(": ")
			writePyJSON(b, m.v)
		}
		b.WriteByte('}')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := make(object, 0, len(keys))
		for _, k := range keys {
			o = append(o, kv{k, x[k]})
		}
		writePyJSON(b, o)
	default:
		// Values of other types (time.Time, []byte, ...) go through
		// encoding/json; they do not occur in parsed signatures.
		data, err := json.Marshal(x)
		if err != nil {
			b.WriteString("null")
			return
		}
		b.Write(data)
	}
}

// pyFloat formats f like Python's repr(float).
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	a := math.Abs(f)
	if a == 0 || (a >= 1e-4 && a < 1e16) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	return strconv.FormatFloat(f, 'e', -1, 64)
}

func writePyString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r > 0x7e:
			if r == utf8.RuneError {
				r = 0xfffd
			}
			write16 := func(u rune) {
				b.WriteString(`\u`)
				b.WriteByte(hex[u>>12&0xf])
				b.WriteByte(hex[u>>8&0xf])
				b.WriteByte(hex[u>>4&0xf])
				b.WriteByte(hex[u&0xf])
			}
			if r > 0xffff {
				r -= 0x10000
				write16(0xd800 + (r >> 10))
				write16(0xdc00 + (r & 0x3ff))
			} else {
				write16(r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
