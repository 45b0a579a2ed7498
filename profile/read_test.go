package profile_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loopml/loopml/profile"
)

// readAll reads every row, collecting row errors.
func readAll(t *testing.T, input, name string, format profile.Format) ([][]string, []*profile.RowError, []string) {
	t.Helper()
	r, err := profile.NewReader(strings.NewReader(input), name, format)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var rows [][]string
	var bad []*profile.RowError
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *profile.RowError
		if errors.As(err, &re) {
			bad = append(bad, re)
			continue
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		rows = append(rows, row)
	}
	return rows, bad, r.Columns()
}

func TestReaderBadRows(t *testing.T) {
	tests := []struct {
		name, file, input string
		rows              int
		lines             []int64
		causes            []error
		reasons           []string
	}{
		{
			name: "ragged csv", file: "d.csv",
			input: "a,b\n1,2\n3\n4,5,6\n7,8\n",
			rows:  2, lines: []int64{3, 4}, causes: []error{profile.ErrRaggedRow, profile.ErrRaggedRow},
			reasons: []string{"got 1 fields, want 2", "got 3 fields, want 2"},
		},
		{
			name: "invalid utf-8 csv", file: "d.csv",
			input: "a,b\n1,x\xffy\n2,ok\n",
			rows:  1, lines: []int64{2}, causes: []error{profile.ErrInvalidUTF8}, reasons: []string{`column "b"`},
		},
		{
			name: "bare quote csv", file: "d.csv",
			input: "a,b\n1,x\"y\n2,ok\n",
			rows:  1, lines: []int64{2}, causes: []error{profile.ErrMalformed}, reasons: []string{"quote"},
		},
		{
			name: "multi-line quoted field keeps line numbers", file: "d.csv",
			input: "a,b\n1,\"two\nlines\"\n3\n",
			rows:  1, lines: []int64{4}, causes: []error{profile.ErrRaggedRow}, reasons: []string{"ragged"},
		},
		{
			name: "ragged tsv", file: "d.tsv",
			input: "a\tb\n1\t2\n3\t4\t5\n",
			rows:  1, lines: []int64{3}, causes: []error{profile.ErrRaggedRow}, reasons: []string{"ragged"},
		},
		{
			name: "malformed jsonl", file: "d.jsonl",
			input: "{\"a\":1}\n\n{\"a\":\n[1,2]\n{\"a\":2} x\n{\"a\":\"\xff\"}\n{\"a\":3}\n",
			rows:  2, lines: []int64{3, 4, 5, 6},
			causes:  []error{profile.ErrMalformed, profile.ErrMalformed, profile.ErrMalformed, profile.ErrInvalidUTF8},
			reasons: []string{"malformed JSON", "not a JSON object", "after the object", "invalid UTF-8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, bad, _ := readAll(t, tt.input, tt.file, "")
			if len(rows) != tt.rows {
				t.Errorf("good rows = %d (%q), want %d", len(rows), rows, tt.rows)
			}
			if len(bad) != len(tt.lines) {
				t.Fatalf("bad rows = %v, want lines %v", bad, tt.lines)
			}
			for i, re := range bad {
				if re.File != tt.file || re.Line != tt.lines[i] || !errors.Is(re, tt.causes[i]) || !strings.Contains(re.Reason, tt.reasons[i]) {
					t.Errorf("bad row %d = %q (%v), want %s:%d %v containing %q", i, re.Error(), re.Err, tt.file, tt.lines[i], tt.causes[i], tt.reasons[i])
				}
			}
		})
	}
}

func TestReaderJSONL(t *testing.T) {
	input := `{"id": 1, "name": "a", "tags": ["x", "y"], "meta": {"k": {"z": null}}}
{"id": 2, "extra": true, "name": null}
{"name": "c", "id": 3.5}
`
	rows, bad, cols := readAll(t, input, "p.ndjson", "")
	if len(bad) != 0 {
		t.Fatalf("bad rows: %v", bad)
	}
	if want := []string{"id", "name", "tags", "meta", "extra"}; !slices.Equal(cols, want) {
		t.Errorf("columns = %v, want %v", cols, want)
	}
	want := [][]string{
		{"1", "a", `["x","y"]`, `{"k":{"z":null}}`},
		{"2", "", "", "", "true"},
		{"3.5", "c", "", "", ""},
	}
	for i := range want {
		if !slices.Equal(rows[i], want[i]) {
			t.Errorf("row %d = %q, want %q", i, rows[i], want[i])
		}
	}
}

func TestReaderHeaderAndFormats(t *testing.T) {
	_, _, cols := readAll(t, "\ufeffa, b ,a\n1,2,3\n", "x.CSV", "")
	if want := []string{"a", "b", "a.1"}; !slices.Equal(cols, want) {
		t.Errorf("columns = %v, want %v", cols, want)
	}
	if _, err := profile.NewReader(strings.NewReader("a\n"), "x.parquet", ""); !errors.Is(err, profile.ErrCorrupt) {
		t.Errorf("CSV text named .parquet: err = %v, want ErrCorrupt", err)
	}
	if _, err := profile.NewReader(strings.NewReader("a\n"), "x.xlsx", ""); !errors.Is(err, profile.ErrUnknownFormat) {
		t.Errorf("xlsx: err = %v, want ErrUnknownFormat", err)
	}
	for name, want := range map[string]profile.Format{"a.tsv.gz": profile.FormatTSV, "b.jsonl": profile.FormatJSONL, "c.csv.gz": profile.FormatCSV} {
		if got, err := profile.FormatOf(name); err != nil || got != want {
			t.Errorf("FormatOf(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	rows, _, cols := readAll(t, "", "empty.csv", "")
	if len(rows) != 0 || len(cols) != 0 {
		t.Errorf("empty csv: rows %v, columns %v", rows, cols)
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestProfileFilesIssuesAndStrict(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv.gz")
	bad := filepath.Join(dir, "bad.csv")
	broken := filepath.Join(dir, "broken.csv.gz")
	missing := filepath.Join(dir, "missing.csv")
	must(t, os.WriteFile(good, gzipped(t, "x,y\n1,a\n2,b\n"), 0o600))
	must(t, os.WriteFile(bad, []byte("x,y\n3,c\n4\n5,d\n"), 0o600))
	must(t, os.WriteFile(broken, []byte{0x1f, 0x8b, 0, 1, 2}, 0o600))
	ctx := context.Background()

	p, err := profile.ProfileFiles(ctx, []string{good, bad, broken, missing}, profile.Options{Workers: 2, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p.Rows() != 4 || p.BadRows != 1 {
		t.Errorf("rows %d, bad rows %d; want 4, 1", p.Rows(), p.BadRows)
	}
	if len(p.Issues) != 3 {
		t.Fatalf("issues = %v, want 3", p.Issues)
	}
	if is := p.Issues[0]; is.File != bad || is.Line != 3 || !strings.Contains(is.Reason, "ragged") {
		t.Errorf("issue 0 = %v, want %s:3 ragged", is, bad)
	}
	for i, f := range []string{broken, missing} {
		if is := p.Issues[i+1]; is.File != f || is.Line != 0 {
			t.Errorf("issue %d = %v, want file-level issue for %s", i+1, is, f)
		}
	}
	x, _ := p.Column("x")
	if x.Numeric == nil || x.Numeric.Min != 1 || x.Numeric.Max != 5 || x.Count != 4 {
		t.Errorf("x = %+v", x)
	}

	_, err = profile.ProfileFiles(ctx, []string{good, bad}, profile.Options{Strict: true})
	var re *profile.RowError
	if !errors.As(err, &re) || re.File != bad || re.Line != 3 {
		t.Errorf("strict: err = %v, want row error at %s:3", err, bad)
	}
}

func TestProfileReaderCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var b strings.Builder
	b.WriteString("a\n")
	for range 100000 {
		b.WriteString("1\n")
	}
	_, err := profile.ProfileReader(ctx, strings.NewReader(b.String()), "x.csv", profile.Options{Workers: 1, BatchSize: 10})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestProfileHeaderOnlyAndEmpty(t *testing.T) {
	for in, want := range map[string][]profile.Field{
		"a,b\n": {{Name: "a", Type: profile.TypeNull, Kind: profile.KindNone}, {Name: "b", Type: profile.TypeNull, Kind: profile.KindNone}},
		"":      {},
	} {
		p, err := profile.ProfileReader(context.Background(), strings.NewReader(in), "h.csv", profile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Schema().Fields; p.Rows() != 0 || !slices.Equal(got, want) {
			t.Errorf("%q: rows %d, fields %+v; want 0, %+v", in, p.Rows(), got, want)
		}
		var sb strings.Builder
		must(t, profile.WriteText(&sb, p))
		must(t, profile.WriteHTML(&sb, p, "h"))
	}
}
