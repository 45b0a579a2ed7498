package serving_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/learn/delivery"
	"github.com/loopml/loopml/serving"
	"github.com/loopml/loopml/training"
)

// TestServeTabularModels trains linear and logistic delivery models,
// serves them and scores them through /invocations (dataframe_split,
// dataframe_records, CSV) and OIP /infer.
func TestServeTabularModels(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	data := deliveryData(t, 1500)
	deps := training.Deps{Experiments: e.db, Runs: e.db, Registry: e.db, Artifacts: e.arts}
	models := map[string]learn.TabularModel{}
	for name, o := range map[string]training.TrainOptions{
		"eta":  {Learner: learn.KindLinear, Target: "delivery_minutes", Exclude: []string{"late"}},
		"late": {Learner: learn.KindLogistic, Target: "late", Exclude: []string{"delivery_minutes"}},
	} {
		o.Data, o.Register = training.DataSource{Path: data}, name
		res, err := training.Train(ctx, o, deps)
		if err != nil {
			t.Fatal(err)
		}
		models[name] = res.Tabular
	}
	_, srv, err := e.gateway(t,
		serving.EndpointSpec{Name: "eta", Targets: []serving.TargetSpec{{Model: "models:/eta/1"}}, Default: true},
		serving.EndpointSpec{Name: "late", Targets: []serving.TargetSpec{{Model: "models:/late/1"}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	rowA := []any{2.5, int64(3), int64(19), "sat", "snow", "bike", 12.0}
	rowB := []any{1.0, int64(1), int64(11), "tue", "hail", "car", nil} // unseen weather, missing prep
	want := func(model string, row []any) float64 {
		p, err := models[model].PredictRow(row)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const cols = `"columns": ["distance_km", "items", "hour", "weekday", "weather", "courier", "prep_minutes"]`
	closeTo := func(what string, got any, w float64) {
		t.Helper()
		f, ok := got.(float64)
		if !ok || math.Abs(f-w) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, got, w)
		}
	}

	// MLflow scoring: dataframe_split, dataframe_records and CSV.
	for _, tc := range []struct{ name, ct, body string }{
		{"split", "application/json", `{"dataframe_split": {` + cols + `, "data": [[2.5, 3, 19, "sat", "snow", "bike", 12.0], [1, 1, 11, "tue", "hail", "car", null]]}}`},
		{"records", "application/json", `{"dataframe_records": [{"distance_km": 2.5, "items": 3, "hour": 19, "weekday": "sat", "weather": "snow", "courier": "bike", "prep_minutes": 12},
			{"distance_km": 1, "items": 1, "hour": 11, "weekday": "tue", "weather": "hail", "courier": "car"}]}`},
		{"csv", "text/csv", "distance_km,items,hour,weekday,weather,courier,prep_minutes\n2.5,3,19,sat,snow,bike,12\n1,1,11,tue,hail,car,\n"},
	} {
		resp, out := do(t, "POST", srv.URL+"/invocations", tc.ct, tc.body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get(serving.HeaderModel) != "eta" {
			t.Fatalf("%s: %d %v", tc.name, resp.StatusCode, out)
		}
		preds, _ := out["predictions"].([]any)
		if len(preds) != 2 {
			t.Fatalf("%s: predictions %v", tc.name, out)
		}
		closeTo(tc.name+" row 0", preds[0], want("eta", rowA))
		closeTo(tc.name+" row 1", preds[1], want("eta", rowB))
	}

	// Logistic: records of prediction (class) and probability.
	resp, out := do(t, "POST", srv.URL+"/endpoints/late/invocations", "application/json",
		`{"dataframe_split": {`+cols+`, "data": [[2.5, 3, 19, "sat", "snow", "bike", 12.0]]}}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("late: %d %v", resp.StatusCode, out)
	}
	recs, _ := out["predictions"].([]any)
	rec, _ := recs[0].(map[string]any)
	p := want("late", rowA)
	closeTo("late probability", rec["probability"], p)
	if wantClass := map[bool]float64{true: 1, false: 0}[p >= 0.5]; rec["prediction"] != wantClass {
		t.Errorf("late prediction %v, want %v (p=%v)", rec["prediction"], wantClass, p)
	}

	// OIP v2: metadata and inference with one tensor per feature.
	resp, out = do(t, "GET", srv.URL+"/v2/models/eta", "", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(strings.ReplaceAll(toJSON(out["inputs"]), " ", ""), `{"datatype":"INT64","name":"hour","shape":[-1]}`) {
		t.Errorf("metadata %d %v", resp.StatusCode, out)
	}
	infer := `{"id": "q1", "inputs": [
		{"name": "distance_km", "datatype": "FP64", "shape": [2], "data": [2.5, 1.0]},
		{"name": "items", "datatype": "INT64", "shape": [2, 1], "data": [[3], [1]]},
		{"name": "hour", "datatype": "INT64", "shape": [2], "data": [19, 11]},
		{"name": "weekday", "datatype": "BYTES", "shape": [2], "data": ["sat", "tue"]},
		{"name": "weather", "datatype": "BYTES", "shape": [2], "data": ["snow", "hail"]},
		{"name": "courier", "datatype": "BYTES", "shape": [2], "data": ["bike", "car"]},
		{"name": "prep_minutes", "datatype": "FP64", "shape": [2], "data": [12, null]}]}`
	for _, model := range []string{"eta", "late"} {
		resp, out = do(t, "POST", srv.URL+"/v2/models/"+model+"/infer", "application/json", infer)
		if resp.StatusCode != http.StatusOK || out["id"] != "q1" {
			t.Fatalf("%s infer: %d %v", model, resp.StatusCode, out)
		}
		outputs, _ := out["outputs"].([]any)
		last, _ := outputs[len(outputs)-1].(map[string]any)
		vals, _ := last["data"].([]any)
		if len(vals) != 2 {
			t.Fatalf("%s outputs %v", model, outputs)
		}
		closeTo(model+" infer row 0", vals[0], want(model, rowA))
		closeTo(model+" infer row 1", vals[1], want(model, rowB))
		if model == "late" && (len(outputs) != 2 || outputs[0].(map[string]any)["datatype"] != "INT64") {
			t.Errorf("late outputs %v", outputs)
		}
	}

	// Bad input: 400 naming the column; no recommendations.
	for _, tc := range []struct{ path, ct, body, msg string }{
		{"/invocations", "application/json", `{"dataframe_records": [{"distance_km": 2.5}]}`, "'items'"},
		{"/invocations", "application/json", `{"dataframe_records": [{"distance_km": "far", "items": 3, "hour": 19, "weekday": "sat", "weather": "snow", "courier": "bike"}]}`, "distance_km"},
		{"/v2/models/eta/infer", "application/json", strings.Replace(infer, `"FP64", "shape": [2], "data": [2.5, 1.0]`, `"BYTES", "shape": [2], "data": ["far", "near"]`, 1), "distance_km"},
		{"/v2/models/eta/infer", "application/json", `{"inputs": [{"name": "items", "datatype": "INT64", "shape": [2], "data": [1]}]}`, "shape"},
		{"/endpoints/eta/recommend", "application/json", `{"user_id": 1}`, "not a recommender"},
	} {
		resp, out := do(t, "POST", srv.URL+tc.path, tc.ct, tc.body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(toJSON(out), tc.msg) {
			t.Errorf("%s %s: %d %v, want 400 containing %q", tc.path, tc.body, resp.StatusCode, out, tc.msg)
		}
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// deliveryData writes rows of the synthetic delivery data set to a CSV
// file and returns its path.
func deliveryData(t *testing.T, rows int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := delivery.Generate(delivery.Config{Seed: 3, Rows: rows}, &buf); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "deliveries.csv")
	if err := os.WriteFile(data, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}
