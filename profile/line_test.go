package profile_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/loopml/loopml/profile"
)

// TestReaderLine checks that Line is the physical line where each record
// (or bad row) starts: quoted newlines, blank lines, CRLF, a BOM and gzip
// do not throw it off.
func TestReaderLine(t *testing.T) {
	tests := []struct {
		name, file, input string
		want              []int64 // Line after each Read until io.EOF
	}{
		{"csv plain", "a.csv", "a,b\n1,2\n3,4\n", []int64{2, 3}},
		{"csv quoted newlines", "a.csv", "a,b\n\"x\ny\",1\n\"p\n\nq\",2\n3,4\n", []int64{2, 4, 7}},
		{"csv blank lines skipped", "a.csv", "a,b\n\n1,2\n\n\n3,4\n", []int64{3, 6}},
		{"csv CRLF and BOM", "a.csv", "\ufeffa,b\r\n1,2\r\n\r\n3,4\r\n", []int64{2, 4}},
		{"csv ragged row", "a.csv", "a,b\n1,2\n1\n5,6\n", []int64{2, 3, 4}},
		{"csv bad quote", "a.csv", "a,b\n1,2\n\"x\"y,1\n5,6\n", []int64{2, 3, 4}},
		{"tsv", "a.tsv", "a\tb\n\n1\t2\n3\t4\n", []int64{3, 4}},
		{"jsonl blank lines", "a.jsonl", "{\"a\":1}\n\n  \n{\"a\":2}\n{bad\n{\"a\":3}", []int64{1, 4, 5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := profile.NewReader(strings.NewReader(tt.input), tt.file, "")
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			if rd.Line() != 0 {
				t.Fatalf("Line() before the first Read = %d, want 0", rd.Line())
			}
			var got []int64
			for {
				_, err := rd.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				var re *profile.RowError
				if err != nil && !errors.As(err, &re) {
					t.Fatal(err)
				}
				if re != nil && re.Line != rd.Line() {
					t.Errorf("RowError.Line %d != Line() %d", re.Line, rd.Line())
				}
				got = append(got, rd.Line())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("lines %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("lines %v, want %v", got, tt.want)
				}
			}
			if last := tt.want[len(tt.want)-1]; rd.Line() != last {
				t.Errorf("Line() after io.EOF = %d, want %d", rd.Line(), last)
			}
		})
	}
}
