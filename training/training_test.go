package training_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/learn/movies"
	"github.com/loopml/loopml/mlmodel"
	"github.com/loopml/loopml/sqlstore"
	"github.com/loopml/loopml/training"
)

// env is a local store and artifact store in a temp dir.
type env struct {
	db   *sqlstore.DB
	arts *blobstore.Local
	deps training.Deps
	dir  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.ToSlash(filepath.Join(dir, "loopml.db")), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	arts, err := blobstore.NewLocal(filepath.Join(dir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arts.Close(); db.Close() })
	return &env{db: db, arts: arts, dir: dir, deps: training.Deps{Experiments: db, Runs: db, Registry: db, Artifacts: arts}}
}

// synth writes a small synthetic MovieLens-shaped data set and returns the
// ratings file and the directory.
func synth(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	var r, m bytes.Buffer
	if err := movies.Generate(movies.Config{Seed: 7, Users: 60, Movies: 80, RatingsPerUser: 20}, &r, &m); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"ratings.csv": r.Bytes(), "movies.csv": m.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "ratings.csv"), dir
}

func TestTrainEndToEnd(t *testing.T) {
	ctx := context.Background()
	ratings, _ := synth(t)
	for _, learner := range learn.Learners() {
		t.Run(learner, func(t *testing.T) {
			e := newEnv(t)
			res, err := training.Train(ctx, training.TrainOptions{
				Learner: learner, Data: training.DataSource{Path: ratings},
				Params: learn.Params{"seed": "3"}, Experiment: "recs", RunName: "first", Register: "recommender",
			}, e.deps)
			if learner == learn.KindPopularity {
				// popularity has no seed parameter
				if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "seed") {
					t.Fatalf("popularity with seed: got %v, want EINVALID naming seed", err)
				}
				res, err = training.Train(ctx, training.TrainOptions{
					Learner: learner, Data: training.DataSource{Path: ratings},
					Experiment: "recs", RunName: "first", Register: "recommender",
				}, e.deps)
			}
			if err != nil {
				t.Fatal(err)
			}
			run, err := e.db.GetRun(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != loopml.RunFinished || run.EndTime == 0 || run.Name != "first" {
				t.Errorf("run status %s end %d name %q, want FINISHED, an end time, first", run.Status, run.EndTime, run.Name)
			}
			tags := map[string]string{}
			for _, tg := range run.Tags {
				tags[tg.Key] = tg.Value
			}
			for k, want := range map[string]string{"loopml.learner": learner, "mlflow.source.type": "LOCAL", "mlflow.source.name": "loopml train"} {
				if tags[k] != want {
					t.Errorf("tag %s = %q, want %q", k, tags[k], want)
				}
			}
			params := map[string]string{}
			for _, p := range run.Params {
				params[p.Key] = p.Value
			}
			if len(params) != len(res.Params) || len(params) == 0 {
				t.Errorf("params %v, want the effective %v", params, res.Params)
			}
			if learner != learn.KindPopularity && params["seed"] != "3" {
				t.Errorf("param seed = %q, want 3", params["seed"])
			}
			metrics := map[string]float64{}
			for _, m := range run.Metrics {
				metrics[m.Key] = m.Value
			}
			if metrics["train_rows"] <= 0 || metrics["fit_seconds"] <= 0 {
				t.Errorf("metrics %v: want train_rows and fit_seconds > 0", metrics)
			}
			if learner == learn.KindMF && metrics["epochs"] < 1 {
				t.Errorf("mf epochs metric %v, want >= 1", metrics["epochs"])
			}
			if len(run.Inputs) != 1 {
				t.Fatalf("inputs %+v, want one dataset", run.Inputs)
			}
			in := run.Inputs[0]
			if in.Dataset.Name != "ratings.csv" || !strings.HasPrefix(in.Dataset.Digest, "blake3:") || len(in.Dataset.Digest) != 7+64 || in.Dataset.Source == "" {
				t.Errorf("dataset %+v: want ratings.csv with a blake3 digest and a source", in.Dataset)
			}
			if len(in.Tags) != 1 || in.Tags[0].Value != "training" {
				t.Errorf("input tags %+v, want context training", in.Tags)
			}

			// The registered version points at the package in the store.
			v, err := e.db.GetModelVersion(ctx, "recommender", res.Version)
			if err != nil {
				t.Fatal(err)
			}
			if v.Digest != res.Digest || v.SizeBytes != res.SizeBytes || !strings.Contains(v.Signature, "user_id") {
				t.Errorf("version digest %q size %d signature %q, want the package's %q %d", v.Digest, v.SizeBytes, v.Signature, res.Digest, res.SizeBytes)
			}
			if v.Source != run.ArtifactURI+"/model" || v.RunID != run.ID {
				t.Errorf("version source %q run %q, want %q and %q", v.Source, v.RunID, run.ArtifactURI+"/model", run.ID)
			}
			dir := strings.TrimPrefix(v.Source, "mlflow-artifacts:/")
			for _, f := range []string{"MLmodel", "model.bin", "input_example.json"} {
				if _, err := e.arts.Stat(ctx, dir+"/"+f); err != nil {
					t.Errorf("artifact %s: %v", f, err)
				}
			}
			fsys, err := training.StoreFS(ctx, e.arts, dir)
			if err != nil {
				t.Fatal(err)
			}
			info, err := mlmodel.DigestFS(ctx, fsys)
			if err != nil {
				t.Fatal(err)
			}
			if info.Digest != res.Digest {
				t.Errorf("stored package digest %s, want %s", info.Digest, res.Digest)
			}
			m, mm, err := training.Load(ctx, fsys)
			if err != nil {
				t.Fatal(err)
			}
			if mm.RunID != run.ID || mm.Signature.Inputs.Names()[0] != "user_id" || mm.Signature.Inputs.Names()[1] != "item_id" {
				t.Errorf("MLmodel run %q inputs %v", mm.RunID, mm.Signature.Inputs.Names())
			}
			if c := mm.Signature.Inputs.Columns[0].Type.Kind; c != mlmodel.TypeLong {
				t.Errorf("user_id type %s, want long (MovieLens ids are integers)", c)
			}
			fl, _, _ := mm.LoopmlFlavor()
			if fl.Learner != learner || fl.ModelFile != "model.bin" || fl.FormatVersion != 1 {
				t.Errorf("flavor %+v", fl)
			}
			for _, pair := range [][2]string{{"1", "1"}, {"2", "5"}, {"nobody", "1"}, {"3", "nothing"}} {
				s1, c1 := res.Model.Predict(pair[0], pair[1])
				s2, c2 := m.Predict(pair[0], pair[1])
				if s1 != s2 && !(math.IsNaN(s1) && math.IsNaN(s2)) || c1 != c2 {
					t.Errorf("Predict%v: trained %v,%v loaded %v,%v", pair, s1, c1, s2, c2)
				}
			}
			r1, r2 := res.Model.Recommend("1", 5, true), m.Recommend("1", 5, true)
			if len(r1) == 0 || len(r1) != len(r2) || r1[0] != r2[0] {
				t.Errorf("Recommend: trained %v loaded %v", r1, r2)
			}
			cold := m.Recommend("nobody", 3, true)
			if len(cold) == 0 || !cold[0].ColdStart {
				t.Errorf("cold-start Recommend %v, want flagged popularity items", cold)
			}
		})
	}
}

func TestTrainMovieLensDirectory(t *testing.T) {
	_, dir := synth(t)
	e := newEnv(t)
	res, err := training.Train(context.Background(), training.TrainOptions{Learner: "popularity", Data: training.DataSource{Path: dir}}, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.db.GetRun(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.ExperimentID != "0" || run.Inputs[0].Dataset.Name != filepath.Base(dir) {
		t.Errorf("experiment %s dataset %q, want the default experiment and the directory name", run.ExperimentID, run.Inputs[0].Dataset.Name)
	}
}

func TestTrainErrors(t *testing.T) {
	ratings, _ := synth(t)
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    training.TrainOptions
		want string
	}{
		{"columns for a directory", training.TrainOptions{Learner: "mf", Data: training.DataSource{Path: filepath.Dir(ratings), CSV: learn.CSVOptions{UserColumn: "u"}}}, "column mapping applies only to a CSV file"},
		{"unknown learner", training.TrainOptions{Learner: "svd", Data: training.DataSource{Path: ratings}}, `learner "svd"`},
		{"missing file", training.TrainOptions{Learner: "mf", Data: training.DataSource{Path: "/no/such.csv"}}, "no such file"},
		{"dataset reference", training.TrainOptions{Learner: "mf", Data: training.DataSource{Path: "ratings@3"}}, "dataset references"},
		{"no path", training.TrainOptions{Learner: "mf"}, "path is required"},
		{"bad param value", training.TrainOptions{Learner: "mf", Data: training.DataSource{Path: ratings}, Params: learn.Params{"factors": "many"}}, "factors"},
		{"unknown param", training.TrainOptions{Learner: "mf", Data: training.DataSource{Path: ratings}, Params: learn.Params{"depth": "3"}}, "depth"},
		{"unknown column", training.TrainOptions{Learner: "mf", Data: training.DataSource{Path: ratings, CSV: learn.CSVOptions{UserColumn: "uid"}}}, `"uid"`},
		{"unrecognised header", training.TrainOptions{Learner: "mf", Data: training.DataSource{Path: bad}}, "no user column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := training.Train(context.Background(), tt.o, e.deps)
			if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.want) {
				t.Fatalf("got %v (%s), want EINVALID containing %q", err, loopml.ErrorCode(err), tt.want)
			}
			runs, _, err := e.db.SearchRuns(context.Background(), loopml.RunSearch{ExperimentIDs: []string{"0"}})
			if err != nil || len(runs) != 0 {
				t.Errorf("runs %d (%v): bad options must not create a run", len(runs), err)
			}
		})
	}
}

// failingUploader fails every upload.
type failingUploader struct{}

func (failingUploader) Put(context.Context, string, io.Reader) (int64, error) {
	return 0, loopml.Errorf(loopml.EUNAVAILABLE, "artifact store is down")
}

func TestTrainFailureMarksRunFailed(t *testing.T) {
	ratings, _ := synth(t)
	e := newEnv(t)
	e.deps.Artifacts = failingUploader{}
	res, err := training.Train(context.Background(), training.TrainOptions{Learner: "popularity", Data: training.DataSource{Path: ratings}}, e.deps)
	if loopml.ErrorCode(err) != loopml.EUNAVAILABLE {
		t.Fatalf("got %v, want EUNAVAILABLE", err)
	}
	run, err := e.db.GetRun(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var tag string
	for _, tg := range run.Tags {
		if tg.Key == training.TagError {
			tag = tg.Value
		}
	}
	if run.Status != loopml.RunFailed || !strings.Contains(tag, "artifact store is down") {
		t.Errorf("status %s error tag %q, want FAILED with the error", run.Status, tag)
	}
}

func TestEvaluate(t *testing.T) {
	ratings, _ := synth(t)
	e := newEnv(t)
	e.deps.Now = func() time.Time { return time.UnixMilli(1767225600000) }
	o := training.EvalOptions{
		Learner: "mf", Data: training.DataSource{Path: ratings}, Params: learn.Params{"seed": "1", "min_item_count": "1"},
		Split: learn.SplitOptions{Method: learn.SplitUserTime, TestFraction: 0.2}, Eval: learn.EvalOptions{K: 5},
	}
	rep, err := training.Evaluate(context.Background(), o, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.db.GetRun(context.Background(), rep.RunID)
	if err != nil {
		t.Fatal(err)
	}
	metrics := map[string]float64{}
	for _, m := range run.Metrics {
		metrics[m.Key] = m.Value
	}
	for k, want := range map[string]float64{"rmse": rep.Metrics.RMSE, "ndcg_at_5": rep.Metrics.NDCG, "coverage_at_5": rep.Metrics.Coverage, "test_rows": float64(rep.Metrics.TestRows)} {
		if got, ok := metrics[k]; !ok || got != want {
			t.Errorf("metric %s = %v (%v), want %v", k, got, ok, want)
		}
	}
	if rep.Metrics.RMSE <= 0 || rep.Metrics.RMSE > 2 || rep.Metrics.RankedUsers == 0 {
		t.Errorf("report %+v: want a plausible RMSE and ranked users", rep.Metrics)
	}
	rc, err := e.arts.Open(context.Background(), strings.TrimPrefix(run.ArtifactURI, "mlflow-artifacts:/")+"/eval/report.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got training.EvalReport
	if err := json.NewDecoder(rc).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.RunID != rep.RunID || got.Metrics.NDCG != rep.Metrics.NDCG || got.Split.Method != learn.SplitUserTime {
		t.Errorf("report.json %+v, want the returned report", got)
	}

	// The same seeds give the same metrics.
	rep2, err := training.Evaluate(context.Background(), o, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Metrics.RMSE != rep.Metrics.RMSE || math.Abs(rep2.Metrics.NDCG-rep.Metrics.NDCG) > 1e-12 {
		t.Errorf("second evaluation rmse %v ndcg %v, want %v %v", rep2.Metrics.RMSE, rep2.Metrics.NDCG, rep.Metrics.RMSE, rep.Metrics.NDCG)
	}

	_, err = training.Evaluate(context.Background(), training.EvalOptions{Learner: "mf", Data: training.DataSource{Path: ratings}, Split: learn.SplitOptions{Method: "stratified"}}, e.deps)
	if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "stratified") {
		t.Errorf("bad split: got %v, want EINVALID naming it", err)
	}
}

func TestParseParams(t *testing.T) {
	tests := []struct {
		in      []string
		want    learn.Params
		wantErr string
	}{
		{nil, learn.Params{}, ""},
		{[]string{"factors=16", " lambda = 0.1"}, learn.Params{"factors": "16", "lambda": "0.1"}, ""},
		{[]string{"a=b=c"}, learn.Params{"a": "b=c"}, ""},
		{[]string{"factors"}, nil, `"factors": want key=value`},
		{[]string{"=3"}, nil, "want key=value"},
		{[]string{"k=1", "k=2"}, nil, "given twice"},
	}
	for _, tt := range tests {
		got, err := training.ParseParams(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseParams(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("ParseParams(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("ParseParams(%q)[%s] = %q, want %q", tt.in, k, got[k], v)
			}
		}
	}
}

func TestLoadRejects(t *testing.T) {
	ctx := context.Background()
	good := func() map[string][]byte {
		return map[string][]byte{
			"MLmodel":   []byte("artifact_path: model\nflavors:\n  loopml:\n    learner: popularity\n    format_version: 1\n    model_file: model.bin\n"),
			"model.bin": []byte("garbage"),
		}
	}
	tests := []struct {
		name   string
		mutate func(map[string][]byte)
		code   string
		want   string
	}{
		{"no MLmodel", func(f map[string][]byte) { delete(f, "MLmodel") }, loopml.ENOTFOUND, "MLmodel"},
		{"no flavor", func(f map[string][]byte) { f["MLmodel"] = []byte("flavors:\n  python_function: {}\n") }, loopml.EINVALID, "loopml"},
		{"format version", func(f map[string][]byte) {
			f["MLmodel"] = bytes.Replace(f["MLmodel"], []byte("format_version: 1"), []byte("format_version: 2"), 1)
		}, loopml.EINVALID, "format_version 2"},
		{"missing model file", func(f map[string][]byte) { delete(f, "model.bin") }, loopml.ENOTFOUND, "model.bin"},
		{"bad model bytes", func(map[string][]byte) {}, loopml.EINVALID, "model.bin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := good()
			tt.mutate(files)
			dir := t.TempDir()
			for name, b := range files {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := training.Load(ctx, os.DirFS(dir))
			if loopml.ErrorCode(err) != tt.code || !strings.Contains(loopml.ErrorMessage(err), tt.want) {
				t.Errorf("got %v (%s), want %s containing %q", err, loopml.ErrorCode(err), tt.code, tt.want)
			}
		})
	}
}

// cancellingUploader cancels the training's context on the first upload.
type cancellingUploader struct{ cancel context.CancelFunc }

func (u cancellingUploader) Put(ctx context.Context, _ string, _ io.Reader) (int64, error) {
	u.cancel()
	<-ctx.Done()
	return 0, ctx.Err()
}

func TestTrainCancelledRunIsKilled(t *testing.T) {
	ratings, _ := synth(t)
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.deps.Artifacts = cancellingUploader{cancel}
	res, err := training.Train(ctx, training.TrainOptions{Learner: "popularity", Data: training.DataSource{Path: ratings}}, e.deps)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	run, err := e.db.GetRun(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != loopml.RunKilled || run.EndTime == 0 {
		t.Errorf("status %s end %d, want KILLED with an end time", run.Status, run.EndTime)
	}
}

func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"factors=16", "a=b=c", "=1", "k", " lambda = 0.1 ", "k=1\x00k=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pairs := strings.Split(s, "\x00")
		p, err := training.ParseParams(pairs)
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("ParseParams(%q): code %s, want EINVALID", pairs, loopml.ErrorCode(err))
			}
			return
		}
		if len(p) != len(pairs) {
			t.Fatalf("ParseParams(%q) = %v: want one entry per pair", pairs, p)
		}
		for k := range p {
			if k == "" || strings.TrimSpace(k) != k {
				t.Fatalf("ParseParams(%q): key %q not trimmed or empty", pairs, k)
			}
		}
		// Whatever parses is either accepted or refused with EINVALID.
		for _, l := range learn.Learners() {
			if _, err := training.EffectiveParams(l, p); err != nil && loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("EffectiveParams(%s, %v): code %s, want EINVALID", l, p, loopml.ErrorCode(err))
			}
		}
	})
}
