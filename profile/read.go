package profile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Format is a tabular file format.
type Format string

// Supported formats.
const (
	FormatCSV   Format = "csv"
	FormatTSV   Format = "tsv"
	FormatJSONL Format = "jsonl"
	// FormatParquet is Apache Parquet, read with parquet-go one row group
	// at a time.
	FormatParquet Format = "parquet"
)

// Sentinel causes of a [RowError] (test with errors.Is).
var (
	// ErrRaggedRow: a CSV/TSV row has a different number of fields than
	// the header.
	ErrRaggedRow = errors.New("ragged row")
	// ErrInvalidUTF8: a row holds bytes that are not valid UTF-8.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrMalformed: a row is not valid CSV or not a JSON object.
	ErrMalformed = errors.New("malformed row")
)

// ErrUnknownFormat is returned when no format is given and the file name
// has no known extension.
var ErrUnknownFormat = errors.New("unknown tabular format")

// RowError is a bad row: the reader skipped it and can go on.
type RowError struct {
	// File names the input.
	File string
	// Line is the 1-based line where the row starts.
	Line int64
	// Reason says what is wrong, naming the column where known.
	Reason string
	// Err is ErrRaggedRow, ErrInvalidUTF8 or ErrMalformed.
	Err error
}

// Error returns "file:line: reason".
func (e *RowError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// Unwrap returns the sentinel cause.
func (e *RowError) Unwrap() error { return e.Err }

// Issue returns the error as a profile [Issue].
func (e *RowError) Issue() Issue { return Issue{File: e.File, Line: e.Line, Reason: e.Reason} }

// FormatOf returns the format named by a file's extension (.csv, .tsv,
// .jsonl or .ndjson, optionally followed by .gz, or .parquet), or
// ErrUnknownFormat.
func FormatOf(name string) (Format, error) {
	n := strings.TrimSuffix(strings.ToLower(name), ".gz")
	switch {
	case strings.HasSuffix(n, ".parquet"):
		return FormatParquet, nil
	case strings.HasSuffix(n, ".csv"):
		return FormatCSV, nil
	case strings.HasSuffix(n, ".tsv"), strings.HasSuffix(n, ".tab"):
		return FormatTSV, nil
	case strings.HasSuffix(n, ".jsonl"), strings.HasSuffix(n, ".ndjson"):
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("%s: %w (want .csv, .tsv, .jsonl or .ndjson, optionally .gz, or .parquet)", name, ErrUnknownFormat)
}

// Reader streams the rows of a CSV, TSV, JSON Lines or Parquet input. It
// is not safe for concurrent use.
type Reader struct {
	name    string
	format  Format
	gz      *gzip.Reader
	csv     *csv.Reader
	br      *bufio.Reader
	pq      *pqReader
	line    int64 // JSON Lines: physical lines read so far
	recLine int64 // line (Parquet: row) where the last record read starts
	cols    []string
	index   map[string]int
	buf     bytes.Buffer
}

// NewReader returns a reader of r. name is used in errors and, when format
// is empty, to choose the format by extension. Gzip input is recognised by
// its magic bytes. For CSV and TSV the header row is read now: an empty
// input has no columns, and a malformed header is an error. For Parquet
// the footer is read now (a file that is not Parquet gives an error
// wrapping ErrCorrupt); r is read in place when it is an io.ReaderAt and
// io.Seeker such as *os.File, and otherwise copied to a temporary file
// first, which Close removes.
func NewReader(r io.Reader, name string, format Format) (*Reader, error) {
	if format == "" {
		f, err := FormatOf(name)
		if err != nil {
			return nil, err
		}
		format = f
	}
	rd := &Reader{name: name, format: format, index: make(map[string]int)}
	if format == FormatParquet {
		if _, _, ok := readerAt(r); ok {
			pq, err := openParquet(r, name, false)
			if err != nil {
				return nil, err
			}
			rd.setParquet(pq)
			return rd, nil
		}
	}
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		rd.gz = gz
		br = bufio.NewReaderSize(gz, 256<<10)
	}
	switch format {
	case FormatCSV, FormatTSV:
		c := csv.NewReader(br)
		c.FieldsPerRecord = -1
		if format == FormatTSV {
			c.Comma = '\t'
			c.LazyQuotes = true
		}
		rd.csv = c
		header, err := c.Read()
		if errors.Is(err, io.EOF) {
			return rd, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: header: %w", name, err)
		}
		for i, h := range header {
			if i == 0 {
				h = strings.TrimPrefix(h, "\ufeff")
			}
			if !utf8.ValidString(h) {
				return nil, fmt.Errorf("%s:1: header column %d: %w", name, i+1, ErrInvalidUTF8)
			}
			rd.addColumn(strings.TrimSpace(h))
		}
	case FormatJSONL:
		rd.br = br
	case FormatParquet:
		pq, err := openParquet(br, name, true)
		if err != nil {
			rd.Close()
			return nil, err
		}
		rd.setParquet(pq)
	default:
		return nil, fmt.Errorf("%s: %w %q", name, ErrUnknownFormat, format)
	}
	return rd, nil
}

// setParquet makes rd read pq, whose columns are fixed by the schema.
func (r *Reader) setParquet(pq *pqReader) {
	r.pq = pq
	for _, c := range pq.columnNames() {
		r.addColumn(c)
	}
}

// addColumn returns the index of a JSON key, adding it if new; for CSV
// headers it renames a duplicate name to name.1, name.2, … as pandas does.
func (r *Reader) addColumn(name string) int {
	if i, ok := r.index[name]; ok {
		if r.format == FormatJSONL {
			return i
		}
		base := name
		for k := 1; ok; k++ {
			name = fmt.Sprintf("%s.%d", base, k)
			_, ok = r.index[name]
		}
	}
	r.index[name] = len(r.cols)
	r.cols = append(r.cols, name)
	return len(r.cols) - 1
}

// Columns returns the column names known so far: the header for CSV and
// TSV; for JSON Lines, the keys seen so far in order of first appearance.
// The returned slice must not be modified; it only grows.
func (r *Reader) Columns() []string { return r.cols }

// Read returns the next row's values, aligned with Columns (a JSON Lines
// row may be shorter than later column lists; absent keys and JSON null are
// ""). It returns io.EOF at the end, a *RowError for a bad row (which is
// skipped: call Read again to go on), and any other error when the input
// cannot be read further.
func (r *Reader) Read() ([]string, error) {
	switch {
	case r.csv != nil:
		return r.readCSV()
	case r.br != nil:
		return r.readJSONL()
	case r.pq != nil:
		row, err := r.pq.read()
		if err == nil {
			r.recLine = r.pq.row
		}
		return row, err
	}
	return nil, io.EOF
}

// Line returns the 1-based physical line where the record last returned
// by Read starts, or where the bad row of the last *RowError starts: for
// CSV and TSV it counts the header, blank lines the CSV reader skipped and
// newlines inside quoted fields; for JSON Lines, blank lines too. For
// Parquet it is the 1-based row number in the file. It is 0 before the
// first Read, and keeps its value after io.EOF.
func (r *Reader) Line() int64 { return r.recLine }

func (r *Reader) readCSV() ([]string, error) {
	rec, err := r.csv.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			r.recLine = int64(pe.StartLine)
			return nil, &RowError{File: r.name, Line: int64(pe.StartLine), Reason: pe.Err.Error(), Err: ErrMalformed}
		}
		return nil, err
	}
	line, _ := r.csv.FieldPos(0)
	r.recLine = int64(line)
	if len(rec) != len(r.cols) {
		return nil, &RowError{File: r.name, Line: int64(line),
			Reason: fmt.Sprintf("ragged row: got %d fields, want %d", len(rec), len(r.cols)), Err: ErrRaggedRow}
	}
	for i, v := range rec {
		if !utf8.ValidString(v) {
			return nil, &RowError{File: r.name, Line: int64(line),
				Reason: fmt.Sprintf("invalid UTF-8 in column %q", r.cols[i]), Err: ErrInvalidUTF8}
		}
	}
	return rec, nil
}

func (r *Reader) readJSONL() ([]string, error) {
	for {
		line, err := r.br.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			return nil, err
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		r.line++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		r.recLine = r.line
		return r.parseObject(line)
	}
}

func (r *Reader) rowError(reason string, cause error) *RowError {
	return &RowError{File: r.name, Line: r.line, Reason: reason, Err: cause}
}

// parseObject parses one JSON Lines row.
func (r *Reader) parseObject(line []byte) ([]string, error) {
	if !utf8.Valid(line) {
		return nil, r.rowError("invalid UTF-8", ErrInvalidUTF8)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, r.rowError("malformed JSON: "+err.Error(), ErrMalformed)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, r.rowError("not a JSON object", ErrMalformed)
	}
	type kv struct {
		k, v string
	}
	var vals []kv
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, r.rowError("malformed JSON: "+err.Error(), ErrMalformed)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, r.rowError(fmt.Sprintf("malformed JSON in key %q: %v", key, err), ErrMalformed)
		}
		v, err := r.jsonValue(raw)
		if err != nil {
			return nil, r.rowError(fmt.Sprintf("malformed JSON in key %q: %v", key, err), ErrMalformed)
		}
		vals = append(vals, kv{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, r.rowError("malformed JSON: "+err.Error(), ErrMalformed)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, r.rowError("malformed JSON: data after the object", ErrMalformed)
	}
	idx := make([]int, len(vals))
	for i, x := range vals {
		idx[i] = r.addColumn(x.k)
	}
	row := make([]string, len(r.cols))
	for i, x := range vals {
		row[idx[i]] = x.v
	}
	return row, nil
}

// jsonValue returns a JSON value's cell text: strings unquoted, null as
// "", nested values as compact JSON, numbers and booleans as written.
func (r *Reader) jsonValue(raw json.RawMessage) (string, error) {
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 'n':
		return "", nil
	case '{', '[':
		r.buf.Reset()
		if err := json.Compact(&r.buf, raw); err != nil {
			return "", err
		}
		return r.buf.String(), nil
	}
	return string(raw), nil
}

// Close releases the gzip decompressor and the Parquet reader, if any,
// and removes a temporary copy of Parquet input; it does not close the
// underlying reader.
func (r *Reader) Close() error {
	var err error
	if r.pq != nil {
		err = r.pq.close()
	}
	if r.gz != nil {
		if gerr := r.gz.Close(); err == nil {
			err = gerr
		}
	}
	return err
}
