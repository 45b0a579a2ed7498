package profile

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// ErrCorrupt is the cause of errors about a file that is not a readable
// Parquet file: a bad footer or magic number, or a row group whose pages
// cannot be decoded. Such errors end the stream (they are not a
// [*RowError]).
var ErrCorrupt = errors.New("corrupt file")

// parquetBatch is how many rows the Parquet reader decodes at a time.
const parquetBatch = 256

// pqColumn is one leaf column of a Parquet file.
type pqColumn struct {
	name     string
	repeated bool // has repeated ancestors: a row holds a list of values
	format   func(parquet.Value) string
}

// pqReader streams the rows of a Parquet file, one row group at a time,
// so that memory holds one row group's pages in flight, not the file.
type pqReader struct {
	name   string
	file   *parquet.File
	cols   []pqColumn
	groups []parquet.RowGroup
	group  int // index of the row group being read; len(groups) at the end
	rows   parquet.Rows
	buf    []parquet.Row
	n, i   int        // rows decoded in buf, next to return
	row    int64      // 1-based number of the last row returned
	lists  [][]string // values of the repeated columns in the current row
	reps   []int      // indexes of the repeated columns
	temp   *os.File   // spooled copy of a non-seekable input, removed on close
}

// openParquet opens r as a Parquet file. A reader that is an io.ReaderAt
// and an io.Seeker (an *os.File, a *bytes.Reader) is read in place; any
// other input, or gzip-compressed input, is first copied to a temporary
// file, since Parquet's footer is at the end.
func openParquet(r io.Reader, name string, gz bool) (*pqReader, error) {
	pr := &pqReader{name: name}
	ra, size, ok := readerAt(r)
	if !ok || gz {
		f, err := os.CreateTemp("", "loopml-parquet-*")
		if err != nil {
			return nil, fmt.Errorf("%s: spool Parquet input: %w", name, err)
		}
		pr.temp = f
		n, err := io.Copy(f, r)
		if err != nil {
			pr.close()
			return nil, fmt.Errorf("%s: spool Parquet input: %w", name, err)
		}
		ra, size = f, n
	}
	pf, err := openFile(ra, size)
	if err != nil {
		pr.close()
		return nil, fmt.Errorf("%s: %w: not a readable Parquet file: %v", name, ErrCorrupt, err)
	}
	pr.file = pf
	pr.groups = pf.RowGroups()
	if err := pr.loadSchema(); err != nil {
		pr.close()
		return nil, fmt.Errorf("%s: %w: %v", name, ErrCorrupt, err)
	}
	if err := pr.checkMetadata(size); err != nil {
		pr.close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pr.lists = make([][]string, len(pr.cols))
	for i, c := range pr.cols {
		if c.repeated {
			pr.reps = append(pr.reps, i)
		}
	}
	return pr, nil
}

// loadSchema sets pr.cols from the file's leaf columns, turning a panic of
// parquet-go on a malformed schema into an error.
func (pr *pqReader) loadSchema() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed schema: %v", p)
		}
	}()
	schema := pr.file.Schema()
	for _, path := range schema.Columns() {
		leaf, ok := schema.Lookup(path...)
		if !ok || !leaf.Node.Leaf() {
			return fmt.Errorf("malformed schema: column %q", strings.Join(path, "."))
		}
		pr.cols = append(pr.cols, pqColumn{
			name:     columnName(path),
			repeated: leaf.MaxRepetitionLevel > 0,
			format:   formatter(leaf.Node.Type()),
		})
	}
	return nil
}

// checkMetadata rejects footers whose row groups cannot be right, before
// any page is decoded: negative counts, column chunks outside the file, a
// non-repeated column whose value count differs from the row count (one
// value or null per row), or row counts that do not add up. It bounds what
// a damaged footer can make the decoder attempt.
func (pr *pqReader) checkMetadata(size int64) error {
	md := pr.file.Metadata()
	var rows int64
	for g, rg := range md.RowGroups {
		if rg.NumRows < 0 {
			return fmt.Errorf("row group %d: %w: negative row count", g, ErrCorrupt)
		}
		rows += rg.NumRows
		if len(rg.Columns) != len(pr.cols) {
			return fmt.Errorf("row group %d: %w: %d column chunks for %d columns", g, ErrCorrupt, len(rg.Columns), len(pr.cols))
		}
		for c, cc := range rg.Columns {
			m := cc.MetaData
			switch {
			case m.NumValues < 0, m.TotalCompressedSize < 0, m.TotalUncompressedSize < 0:
				return fmt.Errorf("row group %d: column %q: %w: negative size or count", g, pr.cols[c].name, ErrCorrupt)
			case m.DataPageOffset < 0, m.DataPageOffset >= size, m.TotalCompressedSize > size:
				return fmt.Errorf("row group %d: column %q: %w: data outside the file", g, pr.cols[c].name, ErrCorrupt)
			case !pr.cols[c].repeated && m.NumValues != rg.NumRows:
				return fmt.Errorf("row group %d: column %q: %w: %d values for %d rows", g, pr.cols[c].name, ErrCorrupt, m.NumValues, rg.NumRows)
			}
		}
	}
	if rows != md.NumRows {
		return fmt.Errorf("%w: row groups hold %d rows, the footer says %d", ErrCorrupt, rows, md.NumRows)
	}
	return nil
}

// openFile opens the Parquet footer, turning a panic of parquet-go on a
// malformed footer into an error. The magic bytes and the footer length
// are checked first: parquet-go allocates the length the file claims, so
// an 8-byte file could make it allocate 800 MB.
func openFile(ra io.ReaderAt, size int64) (f *parquet.File, err error) {
	if size < 12 {
		return nil, fmt.Errorf("%d bytes is too short for a Parquet file", size)
	}
	var head, tail [8]byte
	if _, err := ra.ReadAt(head[:4], 0); err != nil {
		return nil, err
	}
	if _, err := ra.ReadAt(tail[:], size-8); err != nil {
		return nil, err
	}
	if string(head[:4]) != "PAR1" || string(tail[4:]) != "PAR1" {
		return nil, errors.New("no PAR1 magic at both ends")
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-12 {
		return nil, fmt.Errorf("the footer claims %d bytes in a %d-byte file", n, size)
	}
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("decoder failed: %v", p)
		}
	}()
	return parquet.OpenFile(ra, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
}

// readerAt returns r as an io.ReaderAt with its size, if it is one and
// can seek.
func readerAt(r io.Reader) (io.ReaderAt, int64, bool) {
	ra, ok := r.(io.ReaderAt)
	sk, ok2 := r.(io.Seeker)
	if !ok || !ok2 {
		return nil, 0, false
	}
	size, err := sk.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, false
	}
	return ra, size, true
}

// columnName joins a leaf column's path with dots, dropping the
// "list"/"element" levels of the standard LIST encoding, so that a list
// column is named after its field ("tags", not "tags.list.element").
func columnName(path []string) string {
	var out []string
	for i := 0; i < len(path); i++ {
		if path[i] == "list" && i+1 < len(path) && (path[i+1] == "element" || path[i+1] == "item") && i > 0 {
			i++
			continue
		}
		out = append(out, path[i])
	}
	return strings.Join(out, ".")
}

// columnNames returns the leaf column names.
func (pr *pqReader) columnNames() []string {
	names := make([]string, len(pr.cols))
	for i, c := range pr.cols {
		names[i] = c.name
	}
	return names
}

// read returns the next row's cells: null is "", a repeated column's
// values are a JSON array of their text.
func (pr *pqReader) read() (cells []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			cells, err = nil, fmt.Errorf("%s: row group %d: %w: decoder failed: %v", pr.name, pr.group, ErrCorrupt, p)
		}
	}()
	for pr.i == pr.n {
		if err := pr.fill(); err != nil {
			return nil, err
		}
	}
	row := pr.buf[pr.i]
	pr.i++
	pr.row++
	out := make([]string, len(pr.cols))
	for _, v := range row {
		c := v.Column()
		switch {
		case c < 0 || c >= len(pr.cols):
			return nil, fmt.Errorf("%s: row group %d: %w: value of unknown column %d", pr.name, pr.group, ErrCorrupt, c)
		case v.IsNull():
		case pr.cols[c].repeated:
			pr.lists[c] = append(pr.lists[c], pr.cols[c].format(v))
		default:
			out[c] = pr.cols[c].format(v)
		}
	}
	for _, c := range pr.reps {
		if l := pr.lists[c]; len(l) > 0 {
			b, _ := json.Marshal(l) // strings only: cannot fail
			out[c] = string(b)
			pr.lists[c] = l[:0]
		}
	}
	return out, nil
}

// fill decodes the next rows, moving to the next row group as needed.
func (pr *pqReader) fill() error {
	for {
		if pr.group >= len(pr.groups) {
			return io.EOF
		}
		if pr.rows == nil {
			if err := pr.openGroup(); err != nil {
				return fmt.Errorf("%s: row group %d: %w: %v", pr.name, pr.group, ErrCorrupt, err)
			}
			if pr.buf == nil {
				pr.buf = make([]parquet.Row, parquetBatch)
			}
		}
		n, err := pr.readRows()
		pr.n, pr.i = n, 0
		if n > 0 && (err == nil || errors.Is(err, io.EOF)) {
			if errors.Is(err, io.EOF) {
				pr.nextGroup()
			}
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: row group %d: %w: %v", pr.name, pr.group, ErrCorrupt, err)
		}
		pr.nextGroup()
	}
}

// openGroup opens the current row group's rows, turning a panic of the
// decoder into an error.
func (pr *pqReader) openGroup() (err error) {
	defer func() {
		if p := recover(); p != nil {
			pr.rows, err = nil, fmt.Errorf("decoder failed: %v", p)
		}
	}()
	pr.rows = pr.groups[pr.group].Rows()
	return nil
}

// readRows reads into pr.buf, turning a panic of the decoder on malformed
// input into an error.
func (pr *pqReader) readRows() (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("decoder failed: %v", p)
		}
	}()
	return pr.rows.ReadRows(pr.buf)
}

// nextGroup closes the current row group's reader and moves to the next.
func (pr *pqReader) nextGroup() {
	pr.closeRows()
	pr.group++
}

// closeRows closes the current row group's reader, ignoring a panic of
// the decoder over a damaged group.
func (pr *pqReader) closeRows() {
	defer func() { _ = recover() }()
	if pr.rows != nil {
		rows := pr.rows
		pr.rows = nil
		_ = rows.Close()
	}
}

// close releases the row reader and removes the spooled copy.
func (pr *pqReader) close() error {
	pr.closeRows()
	if pr.temp != nil {
		pr.temp.Close()
		err := os.Remove(pr.temp.Name())
		pr.temp = nil
		return err
	}
	return nil
}

// formatter returns the function turning a non-null value of a column of
// type t into the cell text the profile classifies: integers and floats in
// decimal, booleans as true/false, DATE as YYYY-MM-DD, TIMESTAMP and INT96
// as RFC 3339 in UTC, DECIMAL scaled, UUID in its 8-4-4-4-12 form, strings
// as is, other binary values in base64.
func formatter(t parquet.Type) func(parquet.Value) string {
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch l := lt.Value.(type) {
		case *format.StringType, *format.EnumType, *format.JsonType:
			return func(v parquet.Value) string { return text(v.ByteArray()) }
		case *format.DateType:
			return func(v parquet.Value) string { return formatDate(int64(v.Int32())) }
		case *format.TimestampType:
			return timestampFormatter(l.Unit.Value, t.Kind())
		case *format.DecimalType:
			return decimalFormatter(int(l.Scale), t.Kind())
		case *format.UUIDType:
			return func(v parquet.Value) string { return formatUUID(v.ByteArray()) }
		case *format.IntType:
			if !l.IsSigned {
				if t.Kind() == parquet.Int32 {
					return func(v parquet.Value) string { return strconv.FormatUint(uint64(uint32(v.Int32())), 10) }
				}
				return func(v parquet.Value) string { return strconv.FormatUint(uint64(v.Int64()), 10) }
			}
		case *format.Float16Type:
			return func(v parquet.Value) string { return formatFloat16(v.ByteArray()) }
		}
	} else if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.UTF8, deprecated.Enum, deprecated.Json:
			return func(v parquet.Value) string { return text(v.ByteArray()) }
		case deprecated.Date:
			return func(v parquet.Value) string { return formatDate(int64(v.Int32())) }
		case deprecated.TimestampMillis:
			return timestampFormatter(&format.MilliSeconds{}, t.Kind())
		case deprecated.TimestampMicros:
			return timestampFormatter(&format.MicroSeconds{}, t.Kind())
		case deprecated.Uint32, deprecated.Uint16, deprecated.Uint8:
			return func(v parquet.Value) string { return strconv.FormatUint(uint64(uint32(v.Int32())), 10) }
		case deprecated.Uint64:
			return func(v parquet.Value) string { return strconv.FormatUint(uint64(v.Int64()), 10) }
		}
	}
	switch t.Kind() {
	case parquet.Boolean:
		return func(v parquet.Value) string { return strconv.FormatBool(v.Boolean()) }
	case parquet.Int32:
		return func(v parquet.Value) string { return strconv.FormatInt(int64(v.Int32()), 10) }
	case parquet.Int64:
		return func(v parquet.Value) string { return strconv.FormatInt(v.Int64(), 10) }
	case parquet.Int96:
		return func(v parquet.Value) string { return formatInt96(v.Int96()) }
	case parquet.Float:
		return func(v parquet.Value) string { return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32) }
	case parquet.Double:
		return func(v parquet.Value) string { return strconv.FormatFloat(v.Double(), 'g', -1, 64) }
	}
	// BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY without annotation: many writers
	// store text so; anything else is binary.
	return func(v parquet.Value) string {
		b := v.ByteArray()
		if utf8.Valid(b) {
			return string(b)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
}

// text returns annotated string bytes, base64 if they are not UTF-8.
func text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// formatDate formats days since the Unix epoch as YYYY-MM-DD.
func formatDate(days int64) string {
	return time.Unix(days*86400, 0).UTC().Format(time.DateOnly)
}

// timestampFormatter formats INT64 (or INT96) timestamps of a unit.
func timestampFormatter(unit format.TimeUnitValue, kind parquet.Kind) func(parquet.Value) string {
	if kind == parquet.Int96 {
		return func(v parquet.Value) string { return formatInt96(v.Int96()) }
	}
	var scale int64 = 1e3 // nanoseconds per unit; microseconds unless told
	switch unit.(type) {
	case *format.MilliSeconds:
		scale = 1e6
	case *format.MicroSeconds:
		scale = 1e3
	case *format.NanoSeconds:
		scale = 1
	}
	return func(v parquet.Value) string {
		n := v.Int64()
		if kind == parquet.Int32 {
			n = int64(v.Int32())
		}
		var t time.Time
		if scale == 1 {
			t = time.Unix(0, n)
		} else {
			per := 1e9 / scale // units per second
			t = time.Unix(n/per, (n%per)*scale)
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
}

// formatInt96 formats the legacy INT96 timestamp: nanoseconds of the day
// (the first 8 bytes, little endian) and the Julian day (the last 4).
func formatInt96(i deprecated.Int96) string {
	nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
	days := int64(i[2]) - 2440588 // Julian day of 1970-01-01
	return time.Unix(days*86400, nanos).UTC().Format(time.RFC3339Nano)
}

// decimalFormatter formats DECIMAL values stored as INT32, INT64 or
// big-endian two's-complement bytes, with scale digits after the point.
func decimalFormatter(scale int, kind parquet.Kind) func(parquet.Value) string {
	return func(v parquet.Value) string {
		var n big.Int
		switch kind {
		case parquet.Int32:
			n.SetInt64(int64(v.Int32()))
		case parquet.Int64:
			n.SetInt64(v.Int64())
		default:
			b := v.ByteArray()
			n.SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 { // negative: subtract 2^(8·len)
				n.Sub(&n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
		}
		s := n.String()
		if scale <= 0 {
			return s
		}
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
		if neg {
			s = "-" + s
		}
		return s
	}
}

// formatUUID formats 16 bytes as a UUID; anything else in hex.
func formatUUID(b []byte) string {
	if len(b) != 16 {
		return hex.EncodeToString(b)
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// formatFloat16 formats an IEEE half-precision float (2 bytes, little
// endian).
func formatFloat16(b []byte) string {
	if len(b) != 2 {
		return hex.EncodeToString(b)
	}
	h := binary.LittleEndian.Uint16(b)
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	var f float32
	switch {
	case exp == 0x1f && frac == 0:
		f = float32(math.Inf(1))
		if sign != 0 {
			f = float32(math.Inf(-1))
		}
	case exp == 0x1f:
		f = float32(math.NaN())
	case exp == 0:
		f = float32(math.Ldexp(float64(frac), -24))
		if sign != 0 {
			f = -f
		}
	default:
		f = math.Float32frombits(sign | uint32(exp-15+127)<<23 | frac<<13)
	}
	return strconv.FormatFloat(float64(f), 'g', -1, 32)
}
