package httpapi

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/loopml/loopml"
)

// This file holds the JSON reading and writing used by the server and the
// client. Request and response bodies are small, fixed-shape protobuf-JSON
// documents, so they are read by a hand-written scanner instead of
// encoding/json: no reflection on the hot path (log-batch, log-metric), and
// every error can name the offending field ("metrics[3].step") the way
// MLflow's messages do.
//
// Protobuf-JSON leniencies MLflow clients rely on are handled here: int64
// fields accept numbers or strings, doubles accept "NaN", "Infinity" and
// "-Infinity" (also as the bare tokens Python's json module reads), enums
// accept names or numbers, null means unset, and unknown fields are skipped.

// maxJSONDepth bounds the nesting of skipped values, so a body of a million
// '[' cannot exhaust the stack.
const maxJSONDepth = 256

// maxFieldPathLen truncates field paths in messages.
const maxFieldPathLen = 120

// Kinds of decodeError.
const (
	errSyntax  = iota + 1 // the body is not valid JSON
	errValue              // a field has the wrong type or an invalid value
	errMissing            // a required field is absent
)

// decodeError is an error in a request document. Field is the path of the
// offending field ("run_id", "metrics[3].step"); it is filled in as the
// error travels up through the objects and arrays that contain it.
type decodeError struct {
	kind   int
	field  string
	value  string // the offending JSON text, truncated
	reason string
	offset int
}

func (e *decodeError) Error() string {
	if len(e.field) > maxFieldPathLen {
		e.field = e.field[:maxFieldPathLen] + "..."
	}
	switch e.kind {
	case errMissing:
		return fmt.Sprintf("Missing value for parameter '%s'", e.field)
	case errValue:
		return fmt.Sprintf("Invalid value %s for parameter '%s' supplied: %s", e.value, e.field, e.reason)
	}
	if e.field != "" {
		return fmt.Sprintf("Malformed JSON request body at offset %d in parameter '%s': %s", e.offset, e.field, e.reason)
	}
	return fmt.Sprintf("Malformed JSON request body at offset %d: %s", e.offset, e.reason)
}

// in prefixes the error's field path with the name of the enclosing field.
func (e *decodeError) in(name string) *decodeError {
	switch {
	case e.field == "":
		e.field = name
	case e.field[0] == '[':
		e.field = name + e.field
	default:
		e.field = name + "." + e.field
	}
	return e
}

// asDomainError turns decoding errors into EINVALID domain errors.
func asDomainError(err error) error {
	if de, ok := err.(*decodeError); ok {
		return loopml.Errorf(loopml.EINVALID, "%s", de.Error())
	}
	return err
}

func missing(field string) error {
	return loopml.Errorf(loopml.EINVALID, "Missing value for parameter '%s'", field)
}

// decoder scans one JSON document held in memory.
type decoder struct {
	data  []byte
	pos   int
	depth int
	buf   []byte // scratch for unescaping strings

	interned map[string]string // repeated metric keys of one request
}

// maxInterned bounds the strings one request interns.
const maxInterned = 64

// internStr reads a string like str, returning one shared copy for values
// seen before in this document (metric keys repeat across a batch).
func (d *decoder) internStr() (string, error) {
	if d.peek() != '"' {
		return d.str()
	}
	b, err := d.rawString(false)
	if err != nil {
		return "", err
	}
	if s, ok := d.interned[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	if d.interned == nil {
		d.interned = make(map[string]string, 8)
	}
	if len(d.interned) < maxInterned {
		d.interned[s] = s
	}
	return s, nil
}

func (d *decoder) syntaxErr(reason string) *decodeError {
	return &decodeError{kind: errSyntax, reason: reason, offset: d.pos}
}

func (d *decoder) valueErr(start int, reason string) *decodeError {
	v := d.data[start:d.pos]
	if len(v) > 100 {
		v = append(v[:100:100], "..."...)
	}
	return &decodeError{kind: errValue, value: string(v), reason: reason, offset: start}
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end of the input.
func (d *decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

// atEOF skips spaces and reports whether the input is exhausted.
func (d *decoder) atEOF() bool {
	d.ws()
	return d.pos >= len(d.data)
}

// literal consumes the literal word (true, false, null) at pos.
func (d *decoder) literal(word string) bool {
	if len(d.data)-d.pos >= len(word) && string(d.data[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return true
	}
	return false
}

// null consumes a null and reports whether there was one.
func (d *decoder) null() bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	return false
}

// document decodes a whole body as one object; an empty body is an empty
// object.
func (d *decoder) document(field func(d *decoder, key []byte) error) error {
	if d.atEOF() {
		return nil
	}
	if err := d.object(field); err != nil {
		return err
	}
	if !d.atEOF() {
		return d.syntaxErr("unexpected data after the top-level value")
	}
	return nil
}

// object decodes an object (or null), calling field for each member. field
// must consume the member's value, with d.skip() for unknown keys. Errors
// from field are attributed to the member's key.
func (d *decoder) object(field func(d *decoder, key []byte) error) error {
	if d.null() {
		return nil
	}
	if d.peek() != '{' {
		start := d.pos
		if err := d.skip(); err != nil {
			return err
		}
		return d.valueErr(start, "expected an object")
	}
	d.pos++
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.syntaxErr("expected a string object key")
		}
		key, err := d.rawString(true)
		if err != nil {
			return err
		}
		if d.peek() != ':' {
			return d.syntaxErr("expected ':' after object key")
		}
		d.pos++
		d.ws()
		if err := field(d, key); err != nil {
			if de, ok := err.(*decodeError); ok {
				return de.in(string(key))
			}
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.syntaxErr("expected ',' or '}' after object member")
		}
	}
}

// array decodes an array (or null), calling elem for each element, which
// must consume it. Errors are attributed to the element's index.
func (d *decoder) array(elem func(d *decoder, i int) error) error {
	if d.null() {
		return nil
	}
	if d.peek() != '[' {
		start := d.pos
		if err := d.skip(); err != nil {
			return err
		}
		return d.valueErr(start, "expected an array")
	}
	d.pos++
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		d.ws()
		if err := elem(d, i); err != nil {
			if de, ok := err.(*decodeError); ok {
				return de.in("[" + strconv.Itoa(i) + "]")
			}
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.syntaxErr("expected ',' or ']' after array element")
		}
	}
}

// rawString reads a string at pos and returns its unescaped bytes. The
// result aliases the input when there are no escapes; otherwise it is a
// fresh slice (stable) when stable is set, or the decoder's scratch buffer.
func (d *decoder) rawString(stable bool) ([]byte, error) {
	d.pos++ // opening quote
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			s := d.data[start:d.pos]
			d.pos++
			return s, nil
		case c == '\\' || c >= utf8.RuneSelf:
			return d.slowString(start, stable)
		case c < 0x20:
			return nil, d.syntaxErr("control character in string")
		}
		d.pos++
	}
	return nil, d.syntaxErr("unterminated string")
}

func (d *decoder) slowString(start int, stable bool) ([]byte, error) {
	out := append(d.buf[:0], d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			d.buf = out[:0]
			if stable {
				return append([]byte(nil), out...), nil
			}
			return out, nil
		case c < 0x20:
			return nil, d.syntaxErr("control character in string")
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return nil, d.syntaxErr("unterminated string")
			}
			e := d.data[d.pos+1]
			d.pos += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return nil, d.syntaxErr("invalid \\u escape in string")
				}
				if r >= 0xD800 && r < 0xDC00 {
					// A high surrogate must be followed by a low one.
					if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
						save := d.pos
						d.pos += 2
						r2, ok := d.hex4()
						if ok && r2 >= 0xDC00 && r2 < 0xE000 {
							r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
						} else {
							d.pos = save
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				} else if r >= 0xDC00 && r < 0xE000 {
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				d.pos--
				return nil, d.syntaxErr("invalid escape in string")
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, d.syntaxErr("invalid UTF-8 in string")
			}
			out = append(out, d.data[d.pos:d.pos+size]...)
			d.pos += size
		default:
			out = append(out, c)
			d.pos++
		}
	}
	return nil, d.syntaxErr("unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}

// number reads a JSON number at pos and returns its text.
func (d *decoder) number() ([]byte, error) {
	start := d.pos
	p := d.pos
	if p < len(d.data) && d.data[p] == '-' {
		p++
	}
	switch {
	case p < len(d.data) && d.data[p] == '0':
		p++
	case p < len(d.data) && d.data[p] >= '1' && d.data[p] <= '9':
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
		}
	default:
		d.pos = p
		return nil, d.syntaxErr("invalid number")
	}
	if p < len(d.data) && d.data[p] == '.' {
		p++
		if p >= len(d.data) || d.data[p] < '0' || d.data[p] > '9' {
			d.pos = p
			return nil, d.syntaxErr("invalid number")
		}
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
		}
	}
	if p < len(d.data) && (d.data[p] == 'e' || d.data[p] == 'E') {
		p++
		if p < len(d.data) && (d.data[p] == '+' || d.data[p] == '-') {
			p++
		}
		if p >= len(d.data) || d.data[p] < '0' || d.data[p] > '9' {
			d.pos = p
			return nil, d.syntaxErr("invalid number")
		}
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
		}
	}
	d.pos = p
	return d.data[start:p], nil
}

// raw consumes one value of any type, checking its syntax, and returns its
// JSON text (a copy).
func (d *decoder) raw() ([]byte, error) {
	d.peek() // skip leading white space
	start := d.pos
	if err := d.skip(); err != nil {
		return nil, err
	}
	return append([]byte(nil), d.data[start:d.pos]...), nil
}

// skip consumes one value of any type, checking its syntax.
func (d *decoder) skip() error {
	switch c := d.peek(); {
	case c == '"':
		_, err := d.rawString(false)
		return err
	case c == '{' || c == '[':
		d.depth++
		defer func() { d.depth-- }()
		if d.depth > maxJSONDepth {
			return d.syntaxErr("nesting too deep")
		}
		if c == '{' {
			return d.object(func(d *decoder, _ []byte) error { return d.skip() })
		}
		return d.array(func(d *decoder, _ int) error { return d.skip() })
	case c == 't':
		if d.literal("true") {
			return nil
		}
	case c == 'f':
		if d.literal("false") {
			return nil
		}
	case c == 'n':
		if d.literal("null") {
			return nil
		}
	case c == '-' || (c >= '0' && c <= '9') || c == 'N' || c == 'I':
		if _, ok := d.bareNonFinite(); ok {
			return nil
		}
		_, err := d.number()
		return err
	case d.pos >= len(d.data):
		return d.syntaxErr("unexpected end of input")
	}
	return d.syntaxErr(fmt.Sprintf("invalid character %q", d.data[d.pos]))
}

// str reads a string field; null is "".
func (d *decoder) str() (string, error) {
	if d.null() {
		return "", nil
	}
	if d.peek() != '"' {
		start := d.pos
		if err := d.skip(); err != nil {
			return "", err
		}
		return "", d.valueErr(start, "expected a string")
	}
	b, err := d.rawString(false)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// id reads an id field: a string, or an integer number (some clients send
// experiment ids as numbers); null is "".
func (d *decoder) id() (string, error) {
	if c := d.peek(); c == '-' || (c >= '0' && c <= '9') {
		start := d.pos
		b, err := d.number()
		if err != nil {
			return "", err
		}
		if _, err := strconv.ParseInt(string(b), 10, 64); err != nil {
			return "", d.valueErr(start, "expected a string id")
		}
		return string(b), nil
	}
	return d.str()
}

// idList reads an array of ids.
func (d *decoder) idList(dst *[]string) error {
	return d.array(func(d *decoder, _ int) error {
		s, err := d.id()
		if err != nil {
			return err
		}
		*dst = append(*dst, s)
		return nil
	})
}

// strList reads an array of strings.
func (d *decoder) strList(dst *[]string) error {
	return d.array(func(d *decoder, _ int) error {
		s, err := d.str()
		if err != nil {
			return err
		}
		*dst = append(*dst, s)
		return nil
	})
}

// int64 reads an integer given as a JSON number or a string; null is 0.
func (d *decoder) int64() (int64, error) {
	if d.null() {
		return 0, nil
	}
	start := d.pos
	var text []byte
	switch c := d.peek(); {
	case c == '"':
		b, err := d.rawString(false)
		if err != nil {
			return 0, err
		}
		text = b
	case c == '-' || (c >= '0' && c <= '9'):
		b, err := d.number()
		if err != nil {
			return 0, err
		}
		text = b
	default:
		if err := d.skip(); err != nil {
			return 0, err
		}
		return 0, d.valueErr(start, "expected an integer")
	}
	n, ok := parseInt64(text)
	if !ok {
		return 0, d.valueErr(start, "expected a 64-bit integer")
	}
	return n, nil
}

// parseInt64 parses a decimal integer, also written with a zero fraction
// or an exponent (1.0, 1e3), as protobuf-JSON parsers accept.
func parseInt64(b []byte) (int64, bool) {
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return n, true
	}
	if !isJSONNumber(b) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// float reads a double: a number, or a string holding a number, "NaN",
// "Infinity" or "-Infinity"; null is 0.
func (d *decoder) float() (float64, error) {
	if d.null() {
		return 0, nil
	}
	start := d.pos
	if f, ok := d.bareNonFinite(); ok {
		return f, nil
	}
	switch c := d.peek(); {
	case c == '"':
		b, err := d.rawString(false)
		if err != nil {
			return 0, err
		}
		if f, ok := parseFloatString(b); ok {
			return f, nil
		}
		return 0, d.valueErr(start, "expected a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
	case c == '-' || (c >= '0' && c <= '9'):
		b, err := d.number()
		if err != nil {
			return 0, err
		}
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil && !math.IsInf(f, 0) {
			return 0, d.valueErr(start, "expected a number")
		}
		return f, nil
	default:
		if err := d.skip(); err != nil {
			return 0, err
		}
		return 0, d.valueErr(start, "expected a number")
	}
}

// bareNonFinite consumes the non-standard bare tokens NaN, Infinity and
// -Infinity, which Python's json module (and so MLflow's server) accepts.
func (d *decoder) bareNonFinite() (float64, bool) {
	switch d.peek() {
	case 'N':
		if d.literal("NaN") {
			return math.NaN(), true
		}
	case 'I':
		if d.literal("Infinity") {
			return math.Inf(1), true
		}
	case '-':
		if d.literal("-Infinity") {
			return math.Inf(-1), true
		}
	}
	return 0, false
}

// parseFloatString parses the string forms of a double.
func parseFloatString(b []byte) (float64, bool) {
	switch string(b) {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		return math.Inf(1), true
	case "-Infinity":
		return math.Inf(-1), true
	}
	if !isJSONNumber(b) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// isJSONNumber reports whether b is exactly one JSON number.
func isJSONNumber(b []byte) bool {
	d := decoder{data: b}
	_, err := d.number()
	return err == nil && d.pos == len(b) && len(b) > 0
}

// boolean reads true/false (or the strings "true"/"false"); null is false.
func (d *decoder) boolean() (bool, error) {
	if d.null() {
		return false, nil
	}
	start := d.pos
	switch {
	case d.literal("true"), d.literal(`"true"`):
		return true, nil
	case d.literal("false"), d.literal(`"false"`):
		return false, nil
	}
	if err := d.skip(); err != nil {
		return false, err
	}
	return false, d.valueErr(start, "expected a boolean")
}

// enum reads an enum given by name or number; names[i] has number i (""
// marks unused numbers). null is 0.
func (d *decoder) enum(names []string) (int, error) {
	if d.null() {
		return 0, nil
	}
	start := d.pos
	if d.peek() == '"' {
		b, err := d.rawString(false)
		if err != nil {
			return 0, err
		}
		if n, ok := enumValue(names, string(b)); ok {
			return n, nil
		}
		return 0, d.valueErr(start, "expected one of "+enumNames(names))
	}
	n, err := d.int64()
	if err != nil {
		if de, ok := err.(*decodeError); ok && de.kind == errValue {
			de.reason = "expected one of " + enumNames(names)
		}
		return 0, err
	}
	if n <= 0 || n >= int64(len(names)) || names[n] == "" {
		return 0, d.valueErr(start, "expected one of "+enumNames(names))
	}
	return int(n), nil
}

// enumValue looks an enum up by name or decimal number.
func enumValue(names []string, s string) (int, bool) {
	for i, n := range names {
		if n != "" && n == s {
			return i, true
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < len(names) && names[n] != "" {
		return n, true
	}
	return 0, false
}

func enumNames(names []string) string {
	var b []byte
	for _, n := range names {
		if n == "" {
			continue
		}
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = append(b, n...)
	}
	return string(b)
}

// Enum tables (MLflow ViewType and RunStatus), indexed by proto number.
var (
	viewTypeNames  = []string{"", "ACTIVE_ONLY", "DELETED_ONLY", "ALL"}
	runStatusNames = []string{"", loopml.RunRunning, loopml.RunScheduled, loopml.RunFinished, loopml.RunFailed, loopml.RunKilled}
)

// viewTypeFromProto maps an MLflow ViewType number (0 = unset) to the
// domain's.
func viewTypeFromProto(n int) loopml.ViewType {
	switch n {
	case 2:
		return loopml.DeletedOnly
	case 3:
		return loopml.AllView
	}
	return loopml.ActiveOnly
}

func viewTypeName(v loopml.ViewType) string {
	switch v {
	case loopml.DeletedOnly:
		return "DELETED_ONLY"
	case loopml.AllView:
		return "ALL"
	}
	return "ACTIVE_ONLY"
}

// query reads GET parameters with the same leniency and messages as the
// JSON decoder.
type query url.Values

func (q query) str(name string) string {
	if v := q[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (q query) has(name string) bool {
	v, ok := q[name]
	return ok && len(v) > 0 && v[0] != ""
}

func (q query) list(name string) []string { return q[name] }

func (q query) int64(name string) (int64, error) {
	s := q.str(name)
	if s == "" {
		return 0, nil
	}
	n, ok := parseInt64([]byte(s))
	if !ok {
		return 0, loopml.Errorf(loopml.EINVALID, "Invalid value %q for parameter '%s' supplied: expected a 64-bit integer", s, name)
	}
	return n, nil
}

func (q query) enum(name string, names []string) (int, error) {
	s := q.str(name)
	if s == "" {
		return 0, nil
	}
	n, ok := enumValue(names, s)
	if !ok {
		return 0, loopml.Errorf(loopml.EINVALID, "Invalid value %q for parameter '%s' supplied: expected one of %s", s, name, enumNames(names))
	}
	return n, nil
}

// bufPool recycles request and response buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBuf keeps huge buffers out of the pool.
const maxPooledBuf = 1 << 20

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// readBody reads at most limit bytes of r into *buf. A longer body gives
// ETOOLARGE.
func readBody(body io.Reader, limit int64, buf *[]byte) error {
	b := (*buf)[:0]
	var read int64
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		read += int64(n)
		if read > limit {
			*buf = b
			return loopml.Errorf(loopml.ETOOLARGE, "request body is larger than the limit of %d bytes", limit)
		}
		if err == io.EOF {
			*buf = b
			return nil
		}
		if err != nil {
			*buf = b
			if _, ok := err.(*http.MaxBytesError); ok {
				return loopml.Errorf(loopml.ETOOLARGE, "request body is larger than the limit of %d bytes", limit)
			}
			return loopml.WrapError(loopml.EINVALID, err, "could not read the request body")
		}
	}
}

// encoder appends one JSON document to b. Members and elements get their
// separating comma automatically: a comma is written unless the previous
// byte opened an object or array.
type encoder struct {
	b []byte
}

func (e *encoder) sep() {
	if n := len(e.b); n > 0 {
		if c := e.b[n-1]; c != '{' && c != '[' && c != ':' {
			e.b = append(e.b, ',')
		}
	}
}

// key writes `"k":` (keys are plain ASCII, never escaped).
func (e *encoder) key(k string) {
	e.sep()
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

func (e *encoder) beginObject() { e.sep(); e.b = append(e.b, '{') }
func (e *encoder) endObject()   { e.b = append(e.b, '}') }
func (e *encoder) beginArray()  { e.sep(); e.b = append(e.b, '[') }
func (e *encoder) endArray()    { e.b = append(e.b, ']') }

// objectField opens a member holding an object.
func (e *encoder) objectField(k string) { e.key(k); e.b = append(e.b, '{') }

// arrayField opens a member holding an array.
func (e *encoder) arrayField(k string) { e.key(k); e.b = append(e.b, '[') }

// str writes a string member, omitted when empty.
func (e *encoder) str(k, v string) {
	if v != "" {
		e.key(k)
		e.b = appendString(e.b, v)
	}
}

// strAlways writes a string member even when empty.
func (e *encoder) strAlways(k, v string) {
	e.key(k)
	e.b = appendString(e.b, v)
}

// strElem writes a string array element.
func (e *encoder) strElem(v string) {
	e.sep()
	e.b = appendString(e.b, v)
}

// int writes an integer member.
func (e *encoder) int(k string, v int64) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, v, 10)
}

// intNZ writes an integer member, omitted when zero.
func (e *encoder) intNZ(k string, v int64) {
	if v != 0 {
		e.int(k, v)
	}
}

// float writes a double member.
func (e *encoder) float(k string, v float64) {
	e.key(k)
	e.b = appendFloat(e.b, v)
}

// boolean writes a bool member, omitted when false.
func (e *encoder) boolean(k string, v bool) {
	if v {
		e.key(k)
		e.b = append(e.b, "true"...)
	}
}

// appendFloat writes a double as protobuf-JSON does: a number, or the
// strings "NaN", "Infinity", "-Infinity".
func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
