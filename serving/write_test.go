package serving

import (
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/loopml/loopml/mlmodel"
)

// TestWritePredictions checks that the hand-written /invocations answer is
// byte for byte what encoding/json writes, and that a score that is not a
// number becomes null instead of an empty body.
func TestWritePredictions(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := [][]float64{{}, {0}, {math.Copysign(0, -1)}, {1}, {-1.5}, {3.75, 4.1}, {1e-6, 9.99e-7, 1e-7, 1.5e-9},
		{1e20, 1e21, 1.2345e22, -1e300}, {math.SmallestNonzeroFloat64, math.MaxFloat64}, {0.1, 0.2, 0.30000000000000004}}
	for range 2000 {
		n := r.IntN(4)
		c := make([]float64, n)
		for i := range c {
			c[i] = math.Float64frombits(r.Uint64())
			if math.IsNaN(c[i]) || math.IsInf(c[i], 0) {
				c[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
			}
		}
		cases = append(cases, c)
	}
	for _, scores := range cases {
		want := httptest.NewRecorder()
		writeJSON(want, 200, map[string]any{"predictions": scores})
		got := httptest.NewRecorder()
		writePredictions(got, scores)
		if got.Body.String() != want.Body.String() || got.Code != 200 || got.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("scores %v: got %d %q, want %q", scores, got.Code, got.Body.String(), want.Body.String())
		}
	}
	got := httptest.NewRecorder()
	writePredictions(got, []float64{1, math.NaN(), math.Inf(-1)})
	if got.Body.String() != "{\"predictions\":[1,null,null]}\n" {
		t.Fatalf("non-finite scores: %q", got.Body.String())
	}
}

// TestExampleBody checks how each kind of saved input example becomes an
// /invocations body.
func TestExampleBody(t *testing.T) {
	fsys := fstest.MapFS{
		"split.json":   {Data: []byte(`{"columns": ["a"], "data": [[1]]}`)},
		"records.json": {Data: []byte(`[{"a": 1}]`)},
		"nd.json":      {Data: []byte(`[[1, 2]]`)},
		"tf.json":      {Data: []byte(`{"inputs": [[1, 2]]}`)},
		"serve.json":   {Data: []byte(`{"dataframe_split": {"columns": ["a"], "data": [[2]]}, "params": {"k": 1}}`)},
	}
	tests := []struct {
		info *mlmodel.InputExampleInfo
		want string // "" for no body; "error" for an error
	}{
		{nil, ""},
		{&mlmodel.InputExampleInfo{ArtifactPath: "split.json", Type: "dataframe", PandasOrient: "split"}, `{"dataframe_split":{"columns":["a"],"data":[[1]]}}`},
		{&mlmodel.InputExampleInfo{ArtifactPath: "records.json", Type: "dataframe", PandasOrient: "records"}, `{"dataframe_records":[{"a":1}]}`},
		{&mlmodel.InputExampleInfo{ArtifactPath: "nd.json", Type: "ndarray"}, `{"inputs":[[1,2]]}`},
		{&mlmodel.InputExampleInfo{ArtifactPath: "tf.json", Type: "ndarray", Format: "tf-serving"}, `{"inputs": [[1, 2]]}`},
		{&mlmodel.InputExampleInfo{ArtifactPath: "split.json", Type: "dataframe", ServingInputPath: "serve.json"}, `{"dataframe_split": {"columns": ["a"], "data": [[2]]}, "params": {"k": 1}}`},
		{&mlmodel.InputExampleInfo{ArtifactPath: "x.npz", Type: "sparse_matrix_csr"}, ""},
		{&mlmodel.InputExampleInfo{ArtifactPath: "missing.json", Type: "dataframe", PandasOrient: "split"}, "error"},
	}
	for i, tt := range tests {
		got, err := exampleBody(fsys, &mlmodel.MLmodel{SavedInputExampleInfo: tt.info})
		switch {
		case tt.want == "error":
			if err == nil || !strings.Contains(err.Error(), "missing.json") {
				t.Errorf("%d: got %q, %v; want an error naming the file", i, got, err)
			}
		case err != nil || string(got) != tt.want:
			t.Errorf("%d: got %q, %v; want %q", i, got, err, tt.want)
		}
	}
}
