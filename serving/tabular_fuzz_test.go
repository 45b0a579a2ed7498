package serving

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/training"
)

// FuzzTabularInfer checks that any OIP body for a tabular model either
// predicts one value per row or fails with EINVALID; never a panic.
func FuzzTabularInfer(f *testing.F) {
	tab, err := learn.ReadTable(context.Background(), strings.NewReader("x,c,y\n1,a,2\n2,b,4\n3,a,7\n4,,9\n"), learn.TableOptions{})
	if err != nil {
		f.Fatal(err)
	}
	tab.Target = "y"
	m, err := learn.Linear{}.Fit(context.Background(), tab, nil)
	if err != nil {
		f.Fatal(err)
	}
	l := (&loaded{version: &loopml.ModelVersion{Name: "m", Version: "1"}, model: tabularStub{}, tab: m, sig: training.TabularSignature(m)}).withHeaders()
	for _, s := range []string{
		`{"id": "1", "inputs": [{"name": "x", "shape": [2], "datatype": "INT64", "data": [1, 2]}, {"name": "c", "shape": [2], "datatype": "BYTES", "data": ["a", null]}]}`,
		`{"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [[2.5]]}, {"name": "c", "shape": [1], "datatype": "BYTES", "data": ["zz"]}]}`,
		`{"inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", "data": [true]}]}`,
		`{"outputs": [{"name": "prediction"}], "inputs": []}`, `[]`, `{`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v2/models/m/infer", bytes.NewReader(body))
		_, frame, err := decodeTabularInfer(r, l)
		var preds []float64
		if err == nil {
			preds, err = tabularPredict(l, frame)
		}
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			return
		}
		if len(preds) != len(frame.Rows) {
			t.Fatalf("%d predictions for %d rows", len(preds), len(frame.Rows))
		}
	})
}
