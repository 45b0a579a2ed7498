package mlmodel

import (
	"math"
	"strconv"
)

// fastScoringRequest decodes the common, simple scoring bodies in one pass
// over the bytes, without encoding/json: the slow path parses a body two or
// three times (the top-level object, the value under the format key, and the
// key order of records), which made decoding a one-row request a large part
// of the serving gateway's CPU time.
//
// It accepts only a top-level object whose single member is
// dataframe_records (a non-empty list of objects of scalars),
// dataframe_split (non-empty "columns" of distinct strings, non-empty
// "data" of lists of scalars, and optionally "index": null or a list of
// scalars, one per row), or instances or inputs (a
// non-empty list of objects of scalars, or of scalars and lists of scalars).
// Strings must be ASCII without escapes or control characters. For anything
// else (params, other keys, duplicate keys, nested values, other whitespace,
// odd numbers, errors of any kind) it returns ok = false and the caller runs
// [decodeScoringRequestSlow], so that path alone produces every error.
//
// When it returns ok, the result is the one decodeScoringRequestSlow returns
// for the same body, down to nil versus empty slices; FuzzScoringFastPath
// checks that.
func fastScoringRequest(body []byte) (req *ScoringRequest, ok bool) {
	s := fastScanner{b: body}
	if !s.eat('{') {
		return nil, false
	}
	key, ok := s.str()
	if !ok || !s.eat(':') {
		return nil, false
	}
	var format string
	switch string(key) {
	case FormatDataframeSplit:
		format = FormatDataframeSplit
	case FormatDataframeRecords:
		format = FormatDataframeRecords
	case FormatInstances:
		format = FormatInstances
	case FormatInputs:
		format = FormatInputs
	default:
		return nil, false
	}
	// One allocation for the request and its frame.
	out := &struct {
		req ScoringRequest
		f   Frame
	}{}
	switch format {
	case FormatDataframeSplit:
		ok = s.split(&out.f)
	case FormatDataframeRecords:
		ok = s.records(&out.f)
	default:
		ok = s.tfList(&out.f)
	}
	// The format key must be the only member, and nothing may follow the
	// object.
	if !ok || !s.eat('}') {
		return nil, false
	}
	if s.ws(); s.i != len(s.b) {
		return nil, false
	}
	out.req = ScoringRequest{Format: format, Frame: &out.f}
	return &out.req, true
}

// fastScanner reads JSON from b at offset i. Its methods report false for
// any input they do not handle, valid JSON or not.
type fastScanner struct {
	b []byte
	i int
}

// ws skips JSON whitespace.
func (s *fastScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat skips whitespace and then the byte c, if c is next.
func (s *fastScanner) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// peek skips whitespace and returns the next byte, 0 at the end.
func (s *fastScanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string made of printable ASCII without escapes and returns its
// contents, which alias b.
func (s *fastScanner) str() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		if c == '"' {
			s.i++
			return s.b[start : s.i-1], true
		}
		if c < 0x20 || c >= 0x80 || c == '\\' {
			return nil, false
		}
	}
	return nil, false
}

// scalar reads a string, a number, true, false or null, as decodeJSON
// would decode it.
func (s *fastScanner) scalar() (any, bool) {
	switch s.peek() {
	case '"':
		b, ok := s.str()
		if !ok {
			return nil, false
		}
		return string(b), true
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return nil, s.literal("null")
	default:
		return s.number()
	}
}

func (s *fastScanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// number reads a number that follows the JSON grammar and converts it like
// parseNumber: int64 when written without a fraction or an exponent and in
// range, float64 otherwise; out of range is not handled.
func (s *fastScanner) number() (any, bool) {
	b, start := s.b, s.i
	i := start
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	digits := i
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		return nil, false
	}
	intDigits := i - digits
	isInt := true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		d := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == d {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == d {
			return nil, false
		}
	}
	s.i = i
	lit := b[start:i]
	if isInt {
		if intDigits <= 18 {
			// Cannot overflow: at most 10^18-1.
			var n int64
			for _, c := range b[digits:i] {
				n = n*10 + int64(c-'0')
			}
			if neg {
				n = -n
			}
			return n, true
		}
		if n, err := strconv.ParseInt(string(lit), 10, 64); err == nil {
			return n, true
		}
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, false
	}
	return f, true
}

// fastCell is one cell of a records frame while the columns are not all
// known yet.
type fastCell struct {
	row, col int
	v        any
}

// records reads a non-empty list of objects of scalars into f like
// recordsFrame: columns in order of first appearance, nil where an object
// lacks a column. A key twice in one object is not handled.
func (s *fastScanner) records(f *Frame) bool {
	if !s.eat('[') || s.peek() == ']' {
		return false
	}
	var (
		colBuf   [16]string
		stampBuf [16]int
		cellBuf  [64]fastCell
	)
	cols := colBuf[:0]
	stamp := stampBuf[:0] // stamp[j] is 1 + the last row that set column j
	cells := cellBuf[:0]
	var index map[string]int // column positions, once there are many
	n := 0
	for ; ; n++ {
		if !s.eat('{') {
			return false
		}
		if !s.eat('}') {
			for k := 0; ; k++ {
				key, ok := s.str()
				if !ok || !s.eat(':') {
					return false
				}
				// Objects usually list the same keys in the same order.
				j := -1
				if k < len(cols) && cols[k] == string(key) {
					j = k
				} else if index != nil {
					if p, ok := index[string(key)]; ok {
						j = p
					}
				} else {
					for p, c := range cols {
						if c == string(key) {
							j = p
							break
						}
					}
				}
				if j < 0 {
					j = len(cols)
					cols = append(cols, string(key))
					stamp = append(stamp, 0)
					if index != nil {
						index[cols[j]] = j
					} else if len(cols) > 16 {
						index = make(map[string]int, 2*len(cols))
						for p, c := range cols {
							index[c] = p
						}
					}
				}
				if stamp[j] == n+1 {
					return false
				}
				stamp[j] = n + 1
				v, ok := s.scalar()
				if !ok {
					return false
				}
				cells = append(cells, fastCell{n, j, v})
				if s.eat(',') {
					continue
				}
				if s.eat('}') {
					break
				}
				return false
			}
		}
		if s.eat(',') {
			continue
		}
		if s.eat(']') {
			break
		}
		return false
	}
	n++
	f.Columns = make([]string, len(cols)) // never nil, as dedupe's result
	copy(f.Columns, cols)
	f.Rows = newRows(n, len(cols))
	for _, c := range cells {
		f.Rows[c.row][c.col] = c.v
	}
	return true
}

// tfList reads a non-empty list under instances or inputs into f like
// tfFrame: a list of objects as records, else one row per element, a list
// element giving its cells and a scalar one cell, all rows of one width.
func (s *fastScanner) tfList(f *Frame) bool {
	if s.peek() != '[' {
		return false
	}
	start := s.i
	s.i++
	next := s.peek()
	s.i = start
	if next == '{' {
		return s.records(f)
	}
	rows, ok := s.rows(false)
	f.Rows = rows
	return ok
}

// rows reads a non-empty list of rows of scalars, all of one width. A row is
// a list of scalars or, unless listsOnly, a single scalar.
func (s *fastScanner) rows(listsOnly bool) ([][]any, bool) {
	if !s.eat('[') || s.peek() == ']' {
		return nil, false
	}
	var flatBuf [32]any
	flat := flatBuf[:0]
	width, n := -1, 0
	for ; ; n++ {
		before := len(flat)
		if s.eat('[') {
			if !s.eat(']') {
				for {
					v, ok := s.scalar()
					if !ok {
						return nil, false
					}
					flat = append(flat, v)
					if s.eat(',') {
						continue
					}
					if s.eat(']') {
						break
					}
					return nil, false
				}
			}
		} else {
			if listsOnly {
				return nil, false
			}
			v, ok := s.scalar()
			if !ok {
				return nil, false
			}
			flat = append(flat, v)
		}
		if w := len(flat) - before; width == -1 {
			width = w
		} else if w != width {
			return nil, false
		}
		if s.eat(',') {
			continue
		}
		if s.eat(']') {
			break
		}
		return nil, false
	}
	n++
	// Rows of width 0 are empty lists, not nil: cells is never nil.
	cells := make([]any, len(flat))
	copy(cells, flat)
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = cells[i*width : (i+1)*width : (i+1)*width]
	}
	return rows, true
}

// split reads a dataframe_split object with non-empty "columns" of distinct
// strings and non-empty "data" of lists of len(columns) scalars, in either
// order, into f like splitFrame.
func (s *fastScanner) split(f *Frame) bool {
	if !s.eat('{') {
		return false
	}
	var cols []string
	var rows [][]any
	index, seenIndex := -1, false // entries of "index", -1 when null or absent
	for {
		key, ok := s.str()
		if !ok || !s.eat(':') {
			return false
		}
		switch string(key) {
		case "index": // pandas' orient="split" writes it; only its length matters
			if seenIndex {
				return false
			}
			seenIndex = true
			if index, ok = s.indexLen(); !ok {
				return false
			}
		case "columns":
			if cols != nil {
				return false
			}
			if cols, ok = s.columns(); !ok {
				return false
			}
		case "data":
			if rows != nil {
				return false
			}
			if rows, ok = s.rows(true); !ok {
				return false
			}
		default:
			return false
		}
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			break
		}
		return false
	}
	if cols == nil || rows == nil || len(rows[0]) != len(cols) || index >= 0 && index != len(rows) {
		return false
	}
	f.Columns, f.Rows = cols, rows
	return true
}

// indexLen reads a dataframe_split "index": null (-1) or a list of scalars
// (its length).
func (s *fastScanner) indexLen() (int, bool) {
	if s.peek() == 'n' {
		return -1, s.literal("null")
	}
	if !s.eat('[') {
		return 0, false
	}
	if s.eat(']') {
		return 0, true
	}
	for n := 1; ; n++ {
		if _, ok := s.scalar(); !ok {
			return 0, false
		}
		if s.eat(']') {
			return n, true
		}
		if !s.eat(',') {
			return 0, false
		}
	}
}

// columns reads a non-empty list of distinct strings.
func (s *fastScanner) columns() ([]string, bool) {
	if !s.eat('[') || s.peek() == ']' {
		return nil, false
	}
	var buf [16]string
	cols := buf[:0]
	var seen map[string]bool // once there are many columns
	for {
		b, ok := s.str()
		if !ok {
			return nil, false
		}
		if seen != nil {
			if seen[string(b)] {
				return nil, false
			}
		} else {
			for _, c := range cols {
				if c == string(b) {
					return nil, false
				}
			}
		}
		cols = append(cols, string(b))
		if seen != nil {
			seen[cols[len(cols)-1]] = true
		} else if len(cols) > 16 {
			seen = make(map[string]bool, 2*len(cols))
			for _, c := range cols {
				seen[c] = true
			}
		}
		if s.eat(',') {
			continue
		}
		if s.eat(']') {
			out := make([]string, len(cols))
			copy(out, cols)
			return out, true
		}
		return nil, false
	}
}
