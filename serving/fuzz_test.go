package serving

import (
	"bytes"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

// FuzzDecodeInfer checks that any body either decodes into pairs whose
// count matches every id tensor, or fails with EINVALID; never a panic.
func FuzzDecodeInfer(f *testing.F) {
	for _, s := range []string{
		`{"id": "1", "inputs": [{"name": "user_id", "shape": [2], "datatype": "INT64", "data": [1, 2]}, {"name": "item_id", "shape": [2], "datatype": "INT64", "data": [3, 4]}]}`,
		`{"inputs": [{"name": "user_id", "shape": [1, 1], "datatype": "BYTES", "data": [["a"]]}, {"name": "item_id", "shape": [1, 1], "datatype": "FP64", "data": [[2.0]]}]}`,
		`{"inputs": [{"name": "user_id", "shape": [-1], "datatype": "INT64", "data": []}]}`,
		`{"inputs": [{"name": "user_id", "shape": [2], "datatype": "UINT64", "data": [18446744073709551615, 1]}]}`,
		`{"outputs": [{"name": "x"}]}`, `[]`, `{`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeInfer(bytes.NewReader(body))
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			return
		}
		for _, p := range req.Pairs {
			_ = p[0] + p[1]
		}
	})
}

// FuzzDecodeRecommend checks that any body decodes into a request with k in
// range, or fails with EINVALID.
func FuzzDecodeRecommend(f *testing.F) {
	for _, s := range []string{
		`{"user_id": "42", "k": 5, "exclude_seen": false}`, `{"user_id": 42}`, `{"user_id": 1e3}`,
		`{"user_id": "1", "k": 1001}`, `{"k": 3}`, `{"user_id": null}`, `[]`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRecommend(bytes.NewReader(body))
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			return
		}
		if req.K < 1 || req.K > MaxRecommendK {
			t.Fatalf("k %d out of range", req.K)
		}
		if !strings.Contains(string(body), "user_id") {
			t.Fatalf("decoded %+v from a body without user_id", req)
		}
	})
}
