package training_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/learn/delivery"
	"github.com/loopml/loopml/mlmodel"
	"github.com/loopml/loopml/training"
)

func deliveries(t *testing.T, rows int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := delivery.Generate(delivery.Config{Seed: 1, Rows: rows}, &buf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "deliveries.csv")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrainTabularEndToEnd(t *testing.T) {
	ctx := context.Background()
	data := deliveries(t, 3000)
	for _, tc := range []struct {
		learner, target string
		exclude         []string
		metric          string
		outputs         []string
	}{
		{learn.KindLinear, "delivery_minutes", []string{"late"}, "training_r2", []string{"prediction"}},
		{learn.KindLogistic, "late", []string{"delivery_minutes"}, "training_auc", []string{"prediction", "probability"}},
	} {
		t.Run(tc.learner, func(t *testing.T) {
			e := newEnv(t)
			res, err := training.Train(ctx, training.TrainOptions{
				Learner: tc.learner, Data: training.DataSource{Path: data}, Target: tc.target, Exclude: tc.exclude,
				Experiment: "delivery", Register: "eta",
			}, e.deps)
			if err != nil {
				t.Fatal(err)
			}
			if res.Tabular == nil || res.Model != nil || res.Version != "1" {
				t.Fatalf("result %+v", res)
			}
			if res.Metrics[tc.metric] < 0.65 {
				t.Errorf("%s = %v", tc.metric, res.Metrics[tc.metric])
			}
			run, err := e.db.GetRun(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != loopml.RunFinished {
				t.Errorf("run status %s", run.Status)
			}
			params := map[string]string{}
			for _, p := range run.Params {
				params[p.Key] = p.Value
			}
			if params["target"] != tc.target || params["l2"] == "" || strings.Contains(params["features"], tc.exclude[0]) || !strings.Contains(params["features"], "weather") {
				t.Errorf("params %v", params)
			}
			v, err := e.db.GetModelVersion(ctx, "eta", "1")
			if err != nil {
				t.Fatal(err)
			}
			dir := strings.TrimPrefix(v.Source, "mlflow-artifacts:/")
			fsys, err := training.StoreFS(ctx, e.arts, dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := training.Load(ctx, fsys); loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "LoadTabular") {
				t.Errorf("Load(tabular package) error %v, want EINVALID pointing at LoadTabular", err)
			}
			m, mm, err := training.LoadTabular(ctx, fsys)
			if err != nil {
				t.Fatal(err)
			}
			types := map[string]mlmodel.DataType{}
			for _, c := range mm.Signature.Inputs.Columns {
				types[c.Name] = c.Type.Kind
			}
			want := map[string]mlmodel.DataType{"distance_km": mlmodel.TypeDouble, "items": mlmodel.TypeLong, "hour": mlmodel.TypeLong, "weekday": mlmodel.TypeString, "weather": mlmodel.TypeString, "courier": mlmodel.TypeString, "prep_minutes": mlmodel.TypeDouble}
			if len(types) != len(want) {
				t.Errorf("signature inputs %v, want %v", types, want)
			}
			for k, w := range want {
				if types[k] != w {
					t.Errorf("input %s type %s, want %s", k, types[k], w)
				}
			}
			if got := mm.Signature.Outputs.Names(); strings.Join(got, ",") != strings.Join(tc.outputs, ",") {
				t.Errorf("outputs %v, want %v", got, tc.outputs)
			}
			if !strings.Contains(v.Signature, "prediction") {
				t.Errorf("registered signature %q", v.Signature)
			}
			// The package predicts like the trained model.
			row := []any{2.0, int64(3), int64(12), "sat", "snow", "bike", 15.0}
			a, _ := res.Tabular.PredictRow(row)
			b, err := m.PredictRow(row)
			if err != nil || a != b {
				t.Errorf("loaded model predicts %v (%v), trained %v", b, err, a)
			}
		})
	}
}

func TestTrainTabularCategoricalNumbers(t *testing.T) {
	ctx := context.Background()
	res, err := training.Train(ctx, training.TrainOptions{
		Learner: learn.KindLinear, Data: training.DataSource{Path: deliveries(t, 3000)}, Target: "delivery_minutes",
		Exclude: []string{"late"}, Categorical: []string{"hour"},
	}, newEnv(t).deps)
	if err != nil {
		t.Fatal(err)
	}
	sig := training.TabularSignature(res.Tabular)
	for _, c := range sig.Inputs.Columns {
		if c.Name == "hour" && c.Type.Kind != mlmodel.TypeString {
			t.Errorf("hour is %s, want string (one-hot)", c.Type.Kind)
		}
	}
	// One-hot hours capture the rush-hour bump a linear hour cannot.
	if r2 := res.Metrics["training_r2"]; r2 < 0.8 {
		t.Errorf("training R² %v with categorical hours, want > 0.8", r2)
	}
	c := res.Tabular.(*learn.LinearModel).Coefficients()
	if d := c["hour=19"] - c["hour=15"]; math.Abs(d-delivery.RushBoost) > 1 {
		t.Errorf("hour 19 − 15 = %.2f, planted %v", d, delivery.RushBoost)
	}
}

func TestTrainLogsOneMetricPointPerEpoch(t *testing.T) {
	ctx := context.Background()
	ratings, _ := synth(t)
	for _, tc := range []struct {
		learner string
		params  learn.Params
		data    string
		target  string
		key     string
		points  int // 0: the model's iteration count
	}{
		{learn.KindMF, learn.Params{"epochs": "7", "early_stopping": "false"}, ratings, "", "train_rmse", 7},
		{learn.KindImplicitALS, learn.Params{"iterations": "4"}, ratings, "", "loss", 4},
		{learn.KindLogistic, nil, deliveries(t, 2000), "late", "log_loss", 0},
	} {
		e := newEnv(t)
		res, err := training.Train(ctx, training.TrainOptions{
			Learner: tc.learner, Data: training.DataSource{Path: tc.data}, Params: tc.params, Target: tc.target,
			Exclude: map[bool][]string{true: {"delivery_minutes"}}[tc.target != ""],
		}, e.deps)
		if err != nil {
			t.Fatal(err)
		}
		want := tc.points
		if want == 0 {
			want = int(res.Metrics["iterations"])
		}
		h, _, err := e.db.GetMetricHistory(ctx, loopml.MetricHistoryQuery{RunID: res.RunID, Key: tc.key})
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != want || want < 2 {
			t.Fatalf("%s: %d points of %s, want %d", tc.learner, len(h), tc.key, want)
		}
		for i, p := range h {
			if p.Step != int64(i+1) || math.IsNaN(p.Value) {
				t.Errorf("%s: point %d: step %d value %v", tc.learner, i, p.Step, p.Value)
			}
		}
	}
}

func TestEvaluateTabular(t *testing.T) {
	ctx := context.Background()
	data := deliveries(t, 4000)
	e := newEnv(t)
	rep, err := training.Evaluate(ctx, training.EvalOptions{
		Learner: learn.KindLinear, Data: training.DataSource{Path: data}, Target: "delivery_minutes", Exclude: []string{"late"},
		Split: learn.SplitOptions{TestFraction: 0.25, Seed: 42},
	}, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Tabular
	if r == nil || r.TestRows != 1000 || r.TrainRows != 3000 || r.Metrics["r2"] < 0.65 || r.Metrics["rmse"] > 7 {
		t.Fatalf("report %+v", r)
	}
	run, err := e.db.GetRun(ctx, rep.RunID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, m := range run.Metrics {
		got[m.Key] = m.Value
	}
	for _, k := range []string{"rmse", "mae", "r2", "test_rows"} {
		if _, ok := got[k]; !ok {
			t.Errorf("run lacks metric %s: %v", k, got)
		}
	}
	rc, err := e.arts.Open(ctx, strings.TrimPrefix(run.ArtifactURI, "mlflow-artifacts:/")+"/eval/report.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	var back training.EvalReport
	if err := json.Unmarshal(b, &back); err != nil || back.Tabular == nil || back.Tabular.Metrics["r2"] != r.Metrics["r2"] {
		t.Errorf("report.json %s (%v)", b, err)
	}
}

func TestTabularBadOptions(t *testing.T) {
	ctx := context.Background()
	data := deliveries(t, 200)
	for _, tc := range []struct {
		name string
		o    training.TrainOptions
		msg  string
	}{
		{"no target", training.TrainOptions{Learner: "linear", Data: training.DataSource{Path: data}}, "target"},
		{"unknown target", training.TrainOptions{Learner: "linear", Data: training.DataSource{Path: data}, Target: "eta"}, `target: column "eta"`},
		{"unknown feature", training.TrainOptions{Learner: "linear", Data: training.DataSource{Path: data}, Target: "late", Features: []string{"distance", "items"}}, `features: feature column "distance"`},
		{"unknown exclude", training.TrainOptions{Learner: "linear", Data: training.DataSource{Path: data}, Target: "late", Exclude: []string{"x"}}, `exclude: excluded column "x"`},
		{"non-numeric target", training.TrainOptions{Learner: "linear", Data: training.DataSource{Path: data}, Target: "weather"}, "holds text"},
		{"bad param", training.TrainOptions{Learner: "logistic", Data: training.DataSource{Path: data}, Target: "late", Params: learn.Params{"threshold": "2"}}, "params"},
		{"unknown categorical", training.TrainOptions{Learner: "linear", Data: training.DataSource{Path: data}, Target: "late", Categorical: []string{"zone"}}, `categorical: `},
		{"directory", training.TrainOptions{Learner: "linear", Data: training.DataSource{Path: t.TempDir()}, Target: "late"}, "directory"},
		{"missing file", training.TrainOptions{Learner: "linear", Data: training.DataSource{Path: "nope.csv"}, Target: "late"}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := training.Train(ctx, tc.o, newEnv(t).deps)
			if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tc.msg) {
				t.Errorf("error %v, want EINVALID containing %q", err, tc.msg)
			}
		})
	}
	_, err := training.Evaluate(ctx, training.EvalOptions{Learner: "linear", Data: training.DataSource{Path: data}, Target: "late", Split: learn.SplitOptions{Method: learn.SplitUserTime}}, newEnv(t).deps)
	if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "random") {
		t.Errorf("user-time split: %v", err)
	}
}

// oneFileResolver resolves any reference to a version holding one file.
type oneFileResolver struct{ name, content string }

func (r oneFileResolver) ResolveDataset(_ context.Context, ref string) (*training.ResolvedDataset, error) {
	return &training.ResolvedDataset{
		Version: &loopml.DatasetVersion{Name: "orders", Version: 2},
		Input:   loopml.Dataset{Name: "orders", Digest: "abc", SourceType: "loopml", Source: ref},
		Files:   []string{r.name},
		Open: func(context.Context, string) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(r.content)), nil
		},
	}, nil
}

func TestTrainTabularOnDatasetRef(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile(deliveries(t, 500))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	res, err := training.Train(ctx, training.TrainOptions{
		Learner: learn.KindLinear, Target: "delivery_minutes", Exclude: []string{"late"},
		Data: training.DataSource{Path: "orders@v2", Datasets: oneFileResolver{"deliveries.tsv", strings.ReplaceAll(string(b), ",", "\t")}},
	}, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.db.GetRun(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Inputs) != 1 || run.Inputs[0].Dataset.Name != "orders" {
		t.Fatalf("inputs %+v", run.Inputs)
	}
	tags := map[string]string{}
	for _, tg := range run.Inputs[0].Tags {
		tags[tg.Key] = tg.Value
	}
	if tags[training.TagDataFile] != "deliveries.tsv" || tags[loopml.TagDatasetContext] != "training" {
		t.Errorf("input tags %v", tags)
	}
}
