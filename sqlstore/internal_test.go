package sqlstore

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"testing"

	"github.com/loopml/loopml"
)

func TestOffsetToken(t *testing.T) {
	tests := []struct {
		tok    string
		want   int
		code   string
		reason string
	}{
		{"", 0, "", "no token"},
		{encodeOffsetToken(0), 0, "", "zero"},
		{encodeOffsetToken(1234), 1234, "", "round trip"},
		{"eyJvZmZzZXQiOiAxfQ==", 1, "", "MLflow's own encoding"},
		{"eyJvZmZzZXQiOiAxfQ", 1, loopml.EINVALID, "missing padding"},
		{"!!", 0, loopml.EINVALID, "not base64"},
		{base64.StdEncoding.EncodeToString([]byte(`{"offset": -1}`)), 0, loopml.EINVALID, "negative"},
		{base64.StdEncoding.EncodeToString([]byte(`{}`)), 0, loopml.EINVALID, "no offset"},
		{base64.StdEncoding.EncodeToString([]byte(`{"offset": "3"}`)), 0, loopml.EINVALID, "string offset"},
		{base64.StdEncoding.EncodeToString([]byte(`[1]`)), 0, loopml.EINVALID, "not an object"},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			got, err := decodeOffsetToken(tc.tok)
			if loopml.ErrorCode(err) != tc.code {
				t.Fatalf("decode(%q) error %v, want code %q", tc.tok, err, tc.code)
			}
			if err == nil && got != tc.want {
				t.Fatalf("decode(%q) = %d, want %d", tc.tok, got, tc.want)
			}
		})
	}
}

func FuzzOffsetToken(f *testing.F) {
	for _, s := range []string{"", "eyJvZmZzZXQiOiAxfQ==", "e30=", "!!", encodeOffsetToken(99)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		n, err := decodeOffsetToken(tok)
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("decode(%q): error code %q, want EINVALID", tok, loopml.ErrorCode(err))
			}
			return
		}
		if n < 0 {
			t.Fatalf("decode(%q) = %d, negative", tok, n)
		}
		if m, err := decodeOffsetToken(encodeOffsetToken(n)); err != nil || m != n {
			t.Fatalf("re-encoding %d gave %d, %v", n, m, err)
		}
	})
}

func FuzzHistoryToken(f *testing.F) {
	good, _ := json.Marshal(historyToken{Step: 5, Timestamp: 7, Skip: 2})
	for _, s := range []string{"", base64.StdEncoding.EncodeToString(good), "e30=", "%%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		h, err := decodeHistoryToken(tok)
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("decode(%q): error code %q, want EINVALID", tok, loopml.ErrorCode(err))
			}
			return
		}
		if tok == "" && h != nil || tok != "" && (h == nil || h.Skip < 0) {
			t.Fatalf("decode(%q) = %+v", tok, h)
		}
	})
}

func TestSampleSteps(t *testing.T) {
	set := func(steps ...int64) map[int64]struct{} {
		m := map[int64]struct{}{}
		for _, s := range steps {
			m[s] = struct{}{}
		}
		return m
	}
	rangeSet := func(n int) map[int64]struct{} {
		m := map[int64]struct{}{}
		for i := range n {
			m[int64(i)] = struct{}{}
		}
		return m
	}
	tests := []struct {
		name string
		in   map[int64]struct{}
		max  int
		want []int64
	}{
		{"empty", set(), 10, []int64{}},
		{"fewer than max", set(5, 1, 3), 10, []int64{1, 3, 5}},
		{"exactly max", set(1, 2, 3), 3, []int64{1, 2, 3}},
		{"one", rangeSet(10), 1, []int64{0}},
		{"two keeps ends", rangeSet(10), 2, []int64{0, 9}},
		{"even spread", rangeSet(11), 6, []int64{0, 2, 4, 6, 8, 10}},
		{"negative steps", set(-10, -5, 0, 5, 10), 3, []int64{-10, 0, 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sampleSteps(tc.in, tc.max)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestNumCondInteger(t *testing.T) {
	tests := []struct {
		op   string
		n    float64
		sql  string
		args []any
	}{
		{">", 5, "c > ?", []any{int64(5)}},
		{">", 5.5, "c >= ?", []any{int64(6)}},
		{"<=", 5.5, "c <= ?", []any{int64(5)}},
		{"=", 5.5, "1 = 0", nil},
		{"!=", 5.5, "c IS NOT NULL", nil},
		{"<", math.Inf(1), "c IS NOT NULL", nil},
		{">", math.Inf(1), "1 = 0", nil},
		{">=", math.Inf(-1), "c IS NOT NULL", nil},
		{"=", math.NaN(), "1 = 0", nil},
		{"!=", 3, "c <> ?", []any{int64(3)}},
	}
	for _, tc := range tests {
		got, args, err := numCond("c", loopml.Comparison{Type: loopml.SearchAttribute, Key: "start_time", Op: tc.op, Number: tc.n}, true)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.sql || len(args) != len(tc.args) || len(args) == 1 && args[0] != tc.args[0] {
			t.Fatalf("%s %v: got %q %v, want %q %v", tc.op, tc.n, got, args, tc.sql, tc.args)
		}
	}
	if _, _, err := numCond("c", loopml.Comparison{Type: loopml.SearchMetric, Key: "m", Op: "LIKE"}, false); loopml.ErrorCode(err) != loopml.EINVALID {
		t.Fatalf("LIKE on a number: got %v, want EINVALID", err)
	}
}

func TestDialectLike(t *testing.T) {
	tests := []struct {
		pattern string
		glob    string
	}{
		{"abc%", "abc*"},
		{"a_c", "a?c"},
		{"a*b?c[d]", "a[*]b[?]c[[]d]"},
		{"100%", "100*"},
	}
	d := &sqliteDialect{}
	for _, tc := range tests {
		cond, arg := d.like("col", false, tc.pattern)
		if cond != "col GLOB ?" || arg != tc.glob {
			t.Fatalf("like(%q) = %q %v, want col GLOB ? %q", tc.pattern, cond, arg, tc.glob)
		}
	}
	if cond, _ := (postgresDialect{}).like("col", true, "x"); cond != "col ILIKE ? ESCAPE ''" {
		t.Fatalf("postgres ILIKE: %q", cond)
	}
}

func TestRebind(t *testing.T) {
	got := postgresDialect{}.rebind("SELECT a FROM t WHERE x = ? AND y IN (?, ?)")
	if want := "SELECT a FROM t WHERE x = $1 AND y IN ($2, $3)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := (&sqliteDialect{}).rebind("x = ?"); got != "x = ?" {
		t.Fatalf("sqlite rebind changed the query: %q", got)
	}
}

func TestSQLitePath(t *testing.T) {
	tests := []struct {
		dsn    string
		path   string
		memory bool
		bad    bool
	}{
		{"sqlite:///abs/x.db", "/abs/x.db", false, false},
		{"sqlite://rel/x.db", "rel/x.db", false, false},
		{"sqlite::memory:", "", true, false},
		{"/bare/path.db", "/bare/path.db", false, false},
		{"file.db", "file.db", false, false},
		{"mysql://h/db", "", false, true},
		{"sqlite://", "", false, true},
	}
	for _, tc := range tests {
		path, memory, err := sqlitePath(tc.dsn)
		if (err != nil) != tc.bad || path != tc.path || memory != tc.memory {
			t.Fatalf("sqlitePath(%q) = %q, %v, %v", tc.dsn, path, memory, err)
		}
	}
}
