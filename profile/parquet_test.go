package profile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml/profile"
	"github.com/parquet-go/parquet-go"
)

// pqRecord covers the Parquet types the reader maps: plain numbers and
// booleans, optional (null) strings, DATE, TIMESTAMP, DECIMAL, UUID,
// unsigned integers, enums and a repeated (LIST) column.
type pqRecord struct {
	ID      int64      `parquet:"id"`
	Name    *string    `parquet:"name,optional"`
	Score   float64    `parquet:"score"`
	Ratio   float32    `parquet:"ratio"`
	Active  bool       `parquet:"active"`
	Day     int32      `parquet:"day,date"`
	Seen    int64      `parquet:"seen,timestamp(millisecond)"`
	Price   int64      `parquet:"price,decimal(2:18)"`
	Key     [16]byte   `parquet:"key,uuid"`
	Count   uint32     `parquet:"count"`
	Kind    string     `parquet:"kind,enum"`
	Tags    []string   `parquet:"tags,list"`
	Comment *string    `parquet:"comment,optional"`
	When    *time.Time `parquet:"when,optional,timestamp(microsecond)"`
}

func ptr[T any](v T) *T { return &v }

// pqRecords returns n deterministic records.
func pqRecords(n int) []pqRecord {
	names := []string{"ada", "bob", "cy"}
	var out []pqRecord
	for i := range n {
		r := pqRecord{
			ID: int64(i + 1), Score: float64(i) * 1.5, Ratio: float32(i%4) / 4, Active: i%2 == 0,
			Day: int32(19000 + i), Seen: 1_700_000_000_000 + int64(i)*1000, Price: int64(1999 + 100*i),
			Count: uint32(4_000_000_000 + i), Kind: []string{"a", "b"}[i%2], Tags: []string{"x", fmt.Sprint(i)},
		}
		r.Key[15] = byte(i)
		if i%3 != 2 {
			r.Name = ptr(names[i%3])
		}
		if i == 0 {
			r.Comment = ptr("first, \"quoted\"")
			r.When = ptr(time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC))
		}
		out = append(out, r)
	}
	return out
}

// writeParquet writes records to a file with rows per row group.
func writeParquet(t *testing.T, path string, recs []pqRecord, rowsPerGroup int64) {
	t.Helper()
	f, err := os.Create(path)
	must(t, err)
	w := parquet.NewGenericWriter[pqRecord](f, parquet.MaxRowsPerRowGroup(rowsPerGroup))
	for lo := 0; lo < len(recs); lo += int(rowsPerGroup) {
		hi := min(lo+int(rowsPerGroup), len(recs))
		if _, err := w.Write(recs[lo:hi]); err != nil {
			t.Fatal(err)
		}
		must(t, w.Flush())
	}
	must(t, w.Close())
	must(t, f.Close())
}

func TestParquetReaderValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recs.parquet")
	writeParquet(t, path, pqRecords(3), 2)
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	rd, err := profile.NewReader(f, path, "")
	must(t, err)
	defer rd.Close()
	wantCols := []string{"id", "name", "score", "ratio", "active", "day", "seen", "price", "key", "count", "kind", "tags", "comment", "when"}
	if got := rd.Columns(); !reflect.DeepEqual(got, wantCols) {
		t.Fatalf("columns %q, want %q", got, wantCols)
	}
	want := [][]string{
		{"1", "ada", "0", "0", "true", "2022-01-08", "2023-11-14T22:13:20Z", "19.99", "00000000-0000-0000-0000-000000000000",
			"4000000000", "a", `["x","0"]`, `first, "quoted"`, "2024-05-06T07:08:09.123456Z"},
		{"2", "bob", "1.5", "0.25", "false", "2022-01-09", "2023-11-14T22:13:21Z", "20.99", "00000000-0000-0000-0000-000000000001",
			"4000000001", "b", `["x","1"]`, "", ""},
		{"3", "", "3", "0.5", "true", "2022-01-10", "2023-11-14T22:13:22Z", "21.99", "00000000-0000-0000-0000-000000000002",
			"4000000002", "a", `["x","2"]`, "", ""},
	}
	for i, w := range want {
		got, err := rd.Read()
		if err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("row %d:\n got %q\nwant %q", i+1, got, w)
		}
		if rd.Line() != int64(i+1) {
			t.Errorf("row %d: Line() = %d", i+1, rd.Line())
		}
	}
	if _, err := rd.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last row: %v, want io.EOF", err)
	}
}

// TestParquetProfileMatchesCSV profiles the same table written as Parquet
// (several row groups) and as CSV: the profiles must be identical, which
// makes the CSV profile the golden one.
func TestParquetProfileMatchesCSV(t *testing.T) {
	dir := t.TempDir()
	recs := pqRecords(500)
	pq := filepath.Join(dir, "t.parquet")
	writeParquet(t, pq, recs, 128)

	// The CSV twin, from the Parquet reader's own cells, checked above.
	f, err := os.Open(pq)
	must(t, err)
	rd, err := profile.NewReader(f, pq, "")
	must(t, err)
	var csvText strings.Builder
	csvText.WriteString(strings.Join(rd.Columns(), ",") + "\n")
	rows := 0
	for {
		row, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		for i, v := range row {
			if i > 0 {
				csvText.WriteByte(',')
			}
			csvText.WriteString(`"` + strings.ReplaceAll(v, `"`, `""`) + `"`)
		}
		csvText.WriteByte('\n')
		rows++
	}
	rd.Close()
	f.Close()
	if rows != len(recs) {
		t.Fatalf("read %d rows, want %d", rows, len(recs))
	}
	cf := filepath.Join(dir, "t.csv")
	must(t, os.WriteFile(cf, []byte(csvText.String()), 0o644))

	ctx := context.Background()
	pp, err := profile.ProfileFile(ctx, pq, profile.Options{Workers: 1})
	must(t, err)
	cp, err := profile.ProfileFile(ctx, cf, profile.Options{Workers: 1})
	must(t, err)
	var a, b bytes.Buffer
	must(t, profile.WriteText(&a, pp))
	must(t, profile.WriteText(&b, cp))
	if a.String() != b.String() {
		t.Fatalf("Parquet profile differs from the CSV one:\n%s\n--- CSV:\n%s", a.String(), b.String())
	}
	if pp.Rows() != int64(len(recs)) {
		t.Errorf("rows %d, want %d", pp.Rows(), len(recs))
	}
	types := map[string]profile.Type{}
	for _, c := range pp.Schema().Fields {
		types[c.Name] = c.Type
	}
	for col, typ := range map[string]profile.Type{"id": "integer", "score": "float", "active": "boolean", "day": "timestamp",
		"seen": "timestamp", "price": "float", "name": "string", "count": "integer"} {
		if types[col] != typ {
			t.Errorf("column %s: type %q, want %q", col, types[col], typ)
		}
	}

	// Read through a plain io.Reader (not seekable): spooled, same result.
	raw, err := os.ReadFile(pq)
	must(t, err)
	sp, err := profile.ProfileReader(ctx, io.MultiReader(bytes.NewReader(raw)), "t.parquet", profile.Options{Workers: 1})
	must(t, err)
	var c bytes.Buffer
	must(t, profile.WriteText(&c, sp))
	if c.String() != a.String() {
		t.Fatalf("profile of the spooled stream differs:\n%s", c.String())
	}
}

// TestParquetCorrupt checks that broken files give a clear error naming
// the file (and the row group when the footer is intact), never a panic.
func TestParquetCorrupt(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeParquet(t, good, pqRecords(300), 100)
	data, err := os.ReadFile(good)
	must(t, err)

	// Damage the middle of the first row group's data pages, keeping the
	// footer: reading reaches the damage.
	pages := bytes.Clone(data)
	for i := 4; i < len(pages)/3; i++ {
		pages[i] ^= 0x5a
	}
	garbageFooter := bytes.Clone(data)
	copy(garbageFooter[len(garbageFooter)-40:], bytes.Repeat([]byte{0xff}, 32))

	tests := []struct {
		name     string
		content  []byte
		wantText string
	}{
		{"truncated", data[:len(data)/2], "not a readable Parquet file"},
		{"garbage footer", garbageFooter, "not a readable Parquet file"},
		{"empty", nil, "not a readable Parquet file"},
		{"not parquet", []byte("id,name\n1,a\n"), "not a readable Parquet file"},
		{"damaged pages", pages, "row group 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".parquet")
			must(t, os.WriteFile(p, tt.content, 0o644))
			_, err := profile.ProfileFile(context.Background(), p, profile.Options{Workers: 1})
			if err == nil {
				t.Fatal("profiling a broken file succeeded")
			}
			if !errors.Is(err, profile.ErrCorrupt) || !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q: want ErrCorrupt, naming %s and %q", err, p, tt.wantText)
			}
		})
	}
}

func TestFormatOfParquet(t *testing.T) {
	for _, n := range []string{"a.parquet", "DIR/B.PARQUET"} {
		if f, err := profile.FormatOf(n); err != nil || f != profile.FormatParquet {
			t.Errorf("FormatOf(%q) = %q, %v", n, f, err)
		}
	}
}

// FuzzParquet feeds arbitrary bytes (seeded with a valid file and damaged
// copies) to the Parquet reader: it must return rows or an error, never
// panic, hang or allocate more than 256 MiB.
func FuzzParquet(f *testing.F) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[pqRecord](&buf)
	if _, err := w.Write(pqRecords(20)); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	valid := buf.Bytes()
	f.Add(valid)
	f.Add(valid[:len(valid)-9])
	mid := bytes.Clone(valid)
	mid[len(mid)/2] ^= 0xff
	f.Add(mid)
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// A small damaged file must not make the reader allocate much:
		// "PAR1PAR1" once made parquet-go allocate 789 MiB for the
		// footer length it claims.
		var m0 runtime.MemStats
		runtime.ReadMemStats(&m0)
		defer func() {
			var m1 runtime.MemStats
			runtime.ReadMemStats(&m1)
			if d := m1.TotalAlloc - m0.TotalAlloc; d > 256<<20 {
				t.Fatalf("a %d-byte input made the reader allocate %d MiB", len(data), d>>20)
			}
		}()
		rd, err := profile.NewReader(bytes.NewReader(data), "fuzz.parquet", "")
		if err != nil {
			return
		}
		defer rd.Close()
		for range 10_000 {
			row, err := rd.Read()
			if err != nil {
				return
			}
			if len(row) != len(rd.Columns()) {
				t.Fatalf("row of %d cells, %d columns", len(row), len(rd.Columns()))
			}
		}
	})
}
