package mlmodel_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/mlmodel"
)

// FuzzParse checks that Parse never panics, fails only with EINVALID or
// ETOOLARGE, and that whatever it accepts writes out and parses back to the
// same file (Write is a fixed point after one round).
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"mlflow", "malformed"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.MLmodel"))
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("flavors: {a: &x {b: *x}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := mlmodel.Parse(bytes.NewReader(data))
		if err != nil {
			if c := loopml.ErrorCode(err); c != loopml.EINVALID && c != loopml.ETOOLARGE {
				t.Fatalf("error code %s: %v", c, err)
			}
			return
		}
		var first bytes.Buffer
		if err := m.Write(&first); err != nil {
			t.Fatalf("Write after Parse: %v", err)
		}
		again, err := mlmodel.Parse(bytes.NewReader(first.Bytes()))
		if err != nil {
			t.Fatalf("Parse(Write(m)): %v\n%s", err, first.String())
		}
		var second bytes.Buffer
		if err := again.Write(&second); err != nil {
			t.Fatalf("second Write: %v", err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("Write is not stable:\n%s\n---\n%s", first.String(), second.String())
		}
	})
}

// FuzzDecodeScoringRequest checks that the decoder never panics, fails only
// with EINVALID, returns rectangular frames, and that enforcing a signature
// on the result never panics either.
func FuzzDecodeScoringRequest(f *testing.F) {
	for _, s := range []string{
		`{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3, "x"]]}}`,
		`{"dataframe_records": [{"a": 1}, {"b": [1, {"c": null}]}], "params": {"k": 1}}`,
		`{"instances": [[1, 2], [3, 4]]}`,
		`{"instances": [{"a": 1}]}`,
		`{"inputs": {"a": [1, 2], "b": ["x", "y"]}}`,
		`{"inputs": [[[1]]]}`,
		`{"inputs": "text"}`,
		`[1]`, `{}`, `{"inputs": 1e400}`,
	} {
		f.Add([]byte(s))
	}
	sig := mustSignature(f,
		`inputs: '[{"name": "a", "type": "long"}, {"name": "b", "type": "string", "required": false}, {"name": "c", "type": "array", "items": {"type": "double"}, "required": false}]'`,
		`params: '[{"name": "k", "type": "long", "default": 1, "shape": null}]'`)
	tensor := mustSignature(f, `inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]'`)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := mlmodel.DecodeScoringRequest(bytes.NewReader(body))
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("error code %s: %v", loopml.ErrorCode(err), err)
			}
			return
		}
		w := req.Frame.Width()
		for i, r := range req.Frame.Rows {
			if len(r) != w {
				t.Fatalf("row %d has %d cells, frame width %d", i, len(r), w)
			}
		}
		for _, s := range []*mlmodel.Schema{sig.Inputs, tensor.Inputs} {
			if out, err := s.Enforce(req.Frame); err == nil {
				if len(out.Rows) != len(req.Frame.Rows) {
					t.Fatalf("Enforce changed the row count: %d → %d", len(req.Frame.Rows), len(out.Rows))
				}
			} else if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(err.Error(), "input") {
				t.Fatalf("Enforce: %v", err)
			}
		}
		if _, err := sig.Params.Enforce(req.Params); err != nil && loopml.ErrorCode(err) != loopml.EINVALID {
			t.Fatalf("params: %v", err)
		}
	})
}
