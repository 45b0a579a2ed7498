package serving

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/loopml/loopml"
)

// FuzzDecodeFeedback checks that any body either decodes into valid
// feedback (request id set, a JSON label or a finite reward, never both)
// or fails with EINVALID; never a panic.
func FuzzDecodeFeedback(f *testing.F) {
	for _, s := range []string{
		`{"request_id": "r1", "label": 4.5}`,
		`{"request_id": "r1", "reward": 1}`,
		`{"request_id": "r1", "label": {"a": [1, "x"]}}`,
		`{"feedback": [{"request_id": "a", "label": "x"}, {"request_id": "b", "reward": 0}]}`,
		`{"feedback": []}`, `{"request_id": "", "label": 1}`, `{"request_id": "r", "label": null}`,
		`{"request_id": "r", "reward": 1e999}`, `[]`, `{`, ``, `null`, `{} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fs, err := decodeFeedback(bytes.NewReader(body), "recs", 1)
		if err != nil {
			if c := loopml.ErrorCode(err); c != loopml.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			return
		}
		if len(fs) == 0 || len(fs) > MaxFeedbackBatch {
			t.Fatalf("decoded %d entries", len(fs))
		}
		for _, fb := range fs {
			if err := fb.Validate(); err != nil {
				t.Fatalf("decoded invalid feedback %+v: %v", fb, err)
			}
			if fb.HasReward == (fb.Label != "") {
				t.Fatalf("feedback %+v has both or neither of label and reward", fb)
			}
			if fb.Label != "" && !json.Valid([]byte(fb.Label)) {
				t.Fatalf("label %q is not JSON", fb.Label)
			}
			if fb.Endpoint != "recs" || fb.Timestamp != 1 || fb.RequestID == "" {
				t.Fatalf("feedback %+v", fb)
			}
		}
	})
}
