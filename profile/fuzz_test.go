package profile_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/loopml/loopml/profile"
)

// fuzzRead reads every row of input, checking the reader's contracts:
// rows are aligned with the columns, hold valid UTF-8, row errors carry a
// line, and profiling what was read never panics and stays consistent.
func fuzzRead(t *testing.T, input []byte, name string) {
	r, err := profile.NewReader(bytes.NewReader(input), name, "")
	if err != nil {
		return
	}
	p := profile.New(profile.Config{ExactLimit: 8, Counters: 4})
	for range 10000 {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *profile.RowError
		if errors.As(err, &re) {
			if re.Line < 1 || re.File != name {
				t.Fatalf("row error without position: %v", re)
			}
			continue
		}
		if err != nil {
			break
		}
		cols := r.Columns()
		if len(row) > len(cols) {
			t.Fatalf("row of %d values for %d columns", len(row), len(cols))
		}
		for _, v := range row {
			if !utf8.ValidString(v) {
				t.Fatalf("invalid UTF-8 value %q", v)
			}
		}
		p.SetColumns(cols)
		p.Add(row)
	}
	for _, s := range p.Summaries() {
		if s.Count+s.Missing != p.Rows() || s.Count < 0 {
			t.Fatalf("column %q: count %d + missing %d != rows %d", s.Name, s.Count, s.Missing, p.Rows())
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q profile.Profile
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatalf("restoring a marshalled profile: %v", err)
	}
}

func FuzzCSVReader(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n3,4\n",
		"a,b\n1\n1,2,3\n",
		"a,b\n\"x\ny\",2\n",
		"a\n\xff\n",
		"a,b\n1,x\"y\n",
		"\ufeffa;b\n2024-01-01,true\n",
		"t\n1e308\n-0\n.5\n+7\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) { fuzzRead(t, input, "f.csv") })
}

func FuzzJSONLReader(f *testing.F) {
	for _, s := range []string{
		"{\"a\":1,\"b\":\"x\"}\n{\"b\":null,\"c\":[1,{}]}\n",
		"{\"a\":\n",
		"[1]\n{}\n",
		"{\"a\":1} 2\n",
		"{\"a\":\"\xff\"}\n",
		"{\"a\":1,\"a\":2}\n\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) { fuzzRead(t, input, "f.jsonl") })
}

// FuzzUnmarshal checks that decoding arbitrary (mutated) profile JSON
// never panics, and that whatever decodes can be used and re-encoded.
func FuzzUnmarshal(f *testing.F) {
	p := profile.New(profile.Config{ExactLimit: 4, Counters: 2})
	p.SetColumns([]string{"x", "s"})
	for i, v := range strings.Fields("1 2 3 4 5 6 7 8 9 10 2.5 x") {
		p.Add([]string{v, string(rune('a' + i%6))})
	}
	b, err := json.Marshal(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"format":"loopml.profile/v1","rows":1,"columns":[{"name":"x","state":{"present":1,"types":{"string":1},"hll":"","tdigest":""}}]}`))
	f.Fuzz(func(t *testing.T, input []byte) {
		var q profile.Profile
		if err := json.Unmarshal(input, &q); err != nil {
			return
		}
		_ = q.Summaries()
		if err := q.Merge(p); err != nil {
			return
		}
		if _, err := json.Marshal(&q); err != nil {
			t.Fatalf("re-encoding a decoded profile: %v", err)
		}
		var sb strings.Builder
		if err := profile.WriteText(&sb, &q); err != nil {
			t.Fatal(err)
		}
	})
}
