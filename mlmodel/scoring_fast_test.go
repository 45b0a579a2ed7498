package mlmodel

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

// fastPathBodies take the fast path; the slow path must agree on them.
var fastPathBodies = []string{
	`{"dataframe_records": [{"user_id": 1, "item_id": 5631}]}`,
	`{"dataframe_records":[{"z":1,"a":"p"},{"a":"q","m":true}]}`,
	`{"dataframe_records": [{"a": null}, {}, {"b": false}]}`,
	`{"dataframe_records": [{}]}`,
	`{"dataframe_records": [{"a": 1}, {"a": 2}, {"b": 3, "a": 4}]}`,
	" {\n\t\"dataframe_records\" :\r\n [ { \"a\" : 1 } ] } ",
	`{"dataframe_records": [{"i": 0, "n": -0, "e": 1e3, "E": 1E+3, "f": 1.0, "g": -0.5e-3, "big": 9223372036854775807, "min": -9223372036854775808, "over": 9223372036854775808, "tiny": 1e-400, "s": "", "t": "a b~` + "\x7f" + `"}]}`,
	`{"dataframe_split": {"columns": ["user_id", "item_id"], "data": [[1, 5631]]}}`,
	`{"dataframe_split": {"data": [[1, "x"], [2, null]], "columns": ["a", "b"]}}`,
	`{"dataframe_split": {"index": [0, 1], "columns": ["a"], "data": [[1], [2]]}}`,
	`{"dataframe_split": {"columns": ["a"], "data": [[1]], "index": ["r1"]}}`,
	`{"dataframe_split": {"columns": ["a"], "data": [[1]], "index": null}}`,
	`{"instances": [[1, 2], [3, 4]]}`,
	`{"instances": ["a", "b"]}`,
	`{"instances": [[1], 2, ["x"]]}`,
	`{"instances": [[], []]}`,
	`{"instances": [{"b": 1, "a": 2}, {"a": 3, "b": 4}]}`,
	`{"inputs": ["Hello"]}`,
	`{"inputs": [[1.5, 2.5]]}`,
	`{"inputs": [{"a": 1}]}`,
}

// slowPathBodies are declined by the fast path (whether or not they are
// valid requests).
var slowPathBodies = []string{
	``, `[]`, `{}`, `null`, `{"inputs": [1]} x`, `{"inputs": [1]}{}`,
	`{"dataframe_records": [{"a": 1}], "params": {"k": 1}}`,
	`{"params": {"k": 1}, "dataframe_records": [{"a": 1}]}`,
	`{"dataframe_records": [{"a": 1}], "signature_name": "x"}`,
	`{"dataframe_records": [{"a": 1}], "dataframe_records": [{"a": 1}]}`,
	`{"dataframe_records": []}`,
	`{"dataframe_records": {"a": 1}}`,
	`{"dataframe_records": [{"a": 1, "a": 2}]}`,
	`{"dataframe_records": [{"a": [1]}]}`,
	`{"dataframe_records": [{"a": {"b": 1}}]}`,
	`{"dataframe_records": [{"a": 1}, 2]}`,
	`{"dataframe_records": [{"a": "caf\u00e9"}]}`,
	`{"dataframe_records": [{"a": "café"}]}`,
	`{"dataframe_records": [{"a": "x\ty"}]}`,
	`{"dataframe_records": [{"a\"": 1}]}`,
	`{"dataframe_records": [{"a": 01}]}`,
	`{"dataframe_records": [{"a": 1.}]}`,
	`{"dataframe_records": [{"a": .5}]}`,
	`{"dataframe_records": [{"a": +1}]}`,
	`{"dataframe_records": [{"a": 1e}]}`,
	`{"dataframe_records": [{"a": 1e400}]}`,
	`{"dataframe_records": [{"a": NaN}]}`,
	`{"dataframe_records": [{"a": tru}]}`,
	`{"dataframe_records": [{"a": 1,}]}`,
	`{"dataframe_records": [{"a": 1}],}`,
	"{\"dataframe_records\": [{\"a\":\f1}]}",
	`{"dataframe_split": {"columns": ["a"], "data": [[1]], "index": [0, 1]}}`,
	`{"dataframe_split": {"columns": ["a"], "data": [[1]], "index": [[0]]}}`,
	`{"dataframe_split": {"columns": ["a"], "index": [0], "data": [[1]], "index": [0]}}`,
	`{"dataframe_split": {"data": [[1]]}}`,
	`{"dataframe_split": {"columns": null, "data": [[1]]}}`,
	`{"dataframe_split": {"columns": ["a"]}}`,
	`{"dataframe_split": {"columns": ["a"], "data": []}}`,
	`{"dataframe_split": {"columns": [], "data": [[]]}}`,
	`{"dataframe_split": {"columns": ["a"], "data": [1, 2]}}`,
	`{"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}`,
	`{"dataframe_split": {"columns": [1, "b"], "data": [[1, 2]]}}`,
	`{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}}`,
	`{"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}`,
	`{"dataframe_split": {"columns": ["a"], "columns": ["a"], "data": [[1]]}}`,
	`{"dataframe_split": {"columns": ["a"], "data": [[[1]]]}}`,
	`{"instances": []}`,
	`{"instances": [[1, 2], [3]]}`,
	`{"instances": [[[1]]]}`,
	`{"instances": [1, {"a": 1}]}`,
	`{"instances": [{"a": 1}, 1]}`,
	`{"instances": {"a": [1]}}`,
	`{"inputs": {"a": [1, 2]}}`,
	`{"inputs": "hello"}`,
	`{"inputs": null}`,
}

func TestFastScoringRequest(t *testing.T) {
	for _, body := range fastPathBodies {
		b := bytes.TrimSpace([]byte(body))
		fast, ok := fastScoringRequest(b)
		if !ok {
			t.Errorf("%s: fast path not taken", body)
			continue
		}
		slow, err := decodeScoringRequestSlow(b)
		if err != nil {
			t.Errorf("%s: slow path: %v", body, err)
			continue
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s:\nfast %#v\nslow %#v", body, fast.Frame, slow.Frame)
		}
	}
	for _, body := range slowPathBodies {
		if req, ok := fastScoringRequest(bytes.TrimSpace([]byte(body))); ok {
			t.Errorf("%s: fast path taken: %#v", body, req.Frame)
		}
	}
}

// TestFastScoringRequestLarge covers the column index and buffer growth of
// wide and long requests.
func TestFastScoringRequestLarge(t *testing.T) {
	var names, cells []string
	for j := range 40 {
		names = append(names, fmt.Sprintf(`"c%d"`, j))
		cells = append(cells, fmt.Sprintf(`"c%d": %d`, j, j))
	}
	var records, rows []string
	for i := range 50 {
		// Rotate the keys so that most lookups miss the positional guess.
		k := i % len(cells)
		records = append(records, "{"+strings.Join(append(append([]string{}, cells[k:]...), cells[:k]...), ", ")+"}")
		rows = append(rows, "["+strings.Repeat(fmt.Sprintf("%d.5, ", i), 39)+`"x"]`)
	}
	for _, body := range []string{
		`{"dataframe_records": [` + strings.Join(records, ", ") + `]}`,
		`{"dataframe_split": {"columns": [` + strings.Join(names, ", ") + `], "data": [` + strings.Join(rows, ", ") + `]}}`,
		`{"instances": [` + strings.Join(rows, ", ") + `]}`,
	} {
		fast, ok := fastScoringRequest([]byte(body))
		if !ok {
			t.Fatalf("fast path not taken for %.60s…", body)
		}
		slow, err := decodeScoringRequestSlow([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%.60s…: fast and slow paths differ", body)
		}
	}
	dup := `{"dataframe_split": {"columns": [` + strings.Join(names, ", ") + `, "c3"], "data": [[1]]}}`
	if _, ok := fastScoringRequest([]byte(dup)); ok {
		t.Error("duplicate among many columns: fast path taken")
	}
	dup = `{"dataframe_records": [{` + strings.Join(cells, ", ") + `, "c39": 1}]}`
	if _, ok := fastScoringRequest([]byte(dup)); ok {
		t.Error("duplicate among many keys: fast path taken")
	}
}

// TestFastScoringRequestRandom generates many bodies close to the shapes
// the fast path handles (byte-level fuzzing rarely builds whole rows) and
// checks each as FuzzScoringFastPath does.
func TestFastScoringRequestRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	sp := func() string { return pick("", "", " ", "\n  ", "\t", "\r\n") }
	scalar := func() string {
		return pick(`0`, `-0`, `7`, `-12`, `255`, `256`, `5631`, `1.0`, `-0.0`, `1e3`, `2E-2`, `0.1e+1`,
			`123456789012345678`, `1234567890123456789`, `9223372036854775807`, `9223372036854775808`,
			`-9223372036854775808`, `-9223372036854775809`, `1e400`, `1e-400`, `01`, `1.`,
			`""`, `"x"`, `"a b"`, `"\u00e9"`, `"\n"`, `"é"`, `true`, `false`, `null`, `[1]`, `{"a": 1}`)
	}
	key := func() string { return pick(`"a"`, `"b"`, `"c"`, `"user_id"`, `"item_id"`, `""`, `"\u0061"`) }
	list := func(n int, elem func() string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = sp() + elem() + sp()
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	object := func() string {
		parts := make([]string, r.IntN(4))
		for i := range parts {
			parts[i] = sp() + key() + sp() + ":" + sp() + scalar()
		}
		return "{" + strings.Join(parts, ",") + sp() + "}"
	}
	row := func(w int) func() string {
		return func() string {
			if r.IntN(20) == 0 {
				return scalar()
			}
			if r.IntN(20) == 0 {
				w = r.IntN(3)
			}
			return list(w, scalar)
		}
	}
	fast := 0
	const n = 20000
	for range n {
		w, rows := 1+r.IntN(3), r.IntN(4)
		var value string
		format := pick(FormatDataframeRecords, FormatDataframeSplit, FormatInstances, FormatInputs)
		switch format {
		case FormatDataframeRecords:
			value = list(rows, object)
		case FormatDataframeSplit:
			cols := list(w, key)
			if r.IntN(10) == 0 {
				cols = list(w, scalar)
			}
			members := []string{`"columns":` + sp() + cols, `"data":` + sp() + list(rows, row(w))}
			if r.IntN(10) == 0 {
				members = append(members, `"index":`+list(rows, scalar))
			}
			r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
			value = "{" + sp() + strings.Join(members, ","+sp()) + "}"
		default:
			if r.IntN(2) == 0 {
				value = list(rows, object)
			} else {
				value = list(rows, row(w))
			}
		}
		body := "{" + sp() + `"` + format + `"` + sp() + ":" + sp() + value + sp()
		if r.IntN(10) == 0 {
			body += `, "params": {"k": 1}`
		}
		body += "}" + sp()
		b := bytes.TrimSpace([]byte(body))
		got, ok := fastScoringRequest(b)
		want, err := decodeScoringRequestSlow(b)
		if !ok {
			continue
		}
		fast++
		if err != nil {
			t.Fatalf("%s: fast path accepted a body the slow path rejects: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\nfast %#v\nslow %#v", body, got.Frame, want.Frame)
		}
	}
	if fast < n/10 {
		t.Errorf("only %d of %d bodies took the fast path", fast, n)
	}
	t.Logf("%d of %d bodies took the fast path", fast, n)
}

// FuzzScoringFastPath checks that the fast path never changes a result:
// whenever fastScoringRequest accepts a body, decodeScoringRequestSlow
// accepts it too and returns a deeply equal request; and DecodeScoringRequest
// as a whole behaves as the slow path alone.
func FuzzScoringFastPath(f *testing.F) {
	for _, s := range fastPathBodies {
		f.Add([]byte(s))
	}
	for _, s := range slowPathBodies {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"dataframe_records": [{"a": "\u00e9\n\"\\"}]}`,
		`{"dataframe_records": [{"a": "日本"}]}`,
		`{"dataframe_records": [{"a": -0.0, "b": 0e0, "c": 123456789012345678, "d": 1234567890123456789, "e": -9223372036854775809}]}`,
		`{"dataframe_records": [{"a": 1e308, "b": 1e309, "c": 4.9e-324, "d": 2.5e-324}]}`,
		"{\"dataframe_records\": [{\"a\": 1}]}\n",
		"\v{\"inputs\": [1]}\u00a0",
		`{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3, "x"]], "index": [0, 1]}}`,
		`{"dataframe_split": {"columns": ["a"], "data": [1, [2]]}}`,
		`{"dataframe_split": {"columns": ["1", 1], "data": [[1, 2]]}}`,
		`{"instances": [[1, 2], [3, 4]], "params": null}`,
		`{"instances": [[1, {"a": 2}]]}`,
		`{"inputs": {"a": [1, 2], "b": ["x", "y"]}}`,
		`{"inputs": [[[1]]]}`,
		`{"Inputs": [1]}`,
		`{"inp\u0075ts": [1]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		body := bytes.TrimSpace(data)
		fast, ok := fastScoringRequest(body)
		slow, slowErr := decodeScoringRequestSlow(body)
		if ok {
			if slowErr != nil {
				t.Fatalf("fast path accepted a body the slow path rejects: %v", slowErr)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fast and slow paths differ:\nfast %#v %#v\nslow %#v %#v", fast, fast.Frame, slow, slow.Frame)
			}
		}
		// Error messages are not compared: the slow path names the first
		// offending key of a map in iteration order, which varies.
		got, err := DecodeScoringRequest(bytes.NewReader(data))
		if (err == nil) != (slowErr == nil) || loopml.ErrorCode(err) != loopml.ErrorCode(slowErr) {
			t.Fatalf("DecodeScoringRequest: error %v, slow path %v", err, slowErr)
		}
		if !reflect.DeepEqual(got, slow) {
			t.Fatalf("DecodeScoringRequest differs from the slow path:\ngot  %#v\nslow %#v", got, slow)
		}
	})
}
