package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/sqlstore"
	"github.com/loopml/loopml/training"
)

// cliRun runs the command line with no environment and returns stdout.
func cliRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, envMap(nil), &out, &errOut)
	return out.String(), err
}

// genMovies writes a small synthetic data set with the example command
// and returns its directory.
func genMovies(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "movies")
	if _, err := cliRun(t, "example", "movies", "generate", "--out", dir, "--users", "80", "--movies", "120", "--months", "6", "--ratings-per-user", "25", "--seed", "1"); err != nil {
		t.Fatal(err)
	}
	return dir
}

var runIDRE = regexp.MustCompile(`\b[0-9a-f]{32}\b`)

// checkTrainedRun checks what `loopml train` logged, whichever backend.
func checkTrainedRun(t *testing.T, ctx context.Context, runs loopml.RunService, reg loopml.ModelRegistry, arts training.ArtifactReader, v trainView, learner string) {
	t.Helper()
	run, err := runs.GetRun(ctx, v.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != loopml.RunFinished {
		t.Errorf("run status %s, want FINISHED", run.Status)
	}
	tags := map[string]string{}
	for _, tg := range run.Tags {
		tags[tg.Key] = tg.Value
	}
	if tags["loopml.learner"] != learner || tags["mlflow.source.name"] != "loopml train" || tags["mlflow.source.type"] != "LOCAL" {
		t.Errorf("tags %v", tags)
	}
	if len(run.Params) == 0 || len(run.Params) != len(v.Params) {
		t.Errorf("params %v, want the %d effective params", run.Params, len(v.Params))
	}
	keys := map[string]bool{}
	for _, m := range run.Metrics {
		keys[m.Key] = true
	}
	for _, k := range []string{"fit_seconds", "train_rows", "train_users", "train_items"} {
		if !keys[k] {
			t.Errorf("metric %s missing from %v", k, keys)
		}
	}
	if len(run.Inputs) != 1 || run.Inputs[0].Dataset.Name != "ratings.csv" || !strings.HasPrefix(run.Inputs[0].Dataset.Digest, "blake3:") {
		t.Errorf("inputs %+v, want ratings.csv with a blake3 digest", run.Inputs)
	}
	mv, err := reg.GetModelVersion(ctx, v.RegisteredModel, v.Version)
	if err != nil {
		t.Fatal(err)
	}
	if mv.Source != run.ArtifactURI+"/model" || mv.RunID != run.ID {
		t.Errorf("version source %q run %q, want %q", mv.Source, mv.RunID, run.ArtifactURI+"/model")
	}
	fsys, err := training.StoreFS(ctx, arts, strings.TrimPrefix(mv.Source, "mlflow-artifacts:/"))
	if err != nil {
		t.Fatal(err)
	}
	m, mm, err := training.Load(ctx, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if mm.RunID != run.ID {
		t.Errorf("MLmodel run_id %q, want %q", mm.RunID, run.ID)
	}
	if _, cold := m.Predict("1", "1"); cold {
		t.Errorf("user 1 is a cold start for the loaded model")
	}
	if recs := m.Recommend("1", 5, true); len(recs) != 5 {
		t.Errorf("Recommend gave %d items, want 5", len(recs))
	}
}

func TestTrainCommandLocal(t *testing.T) {
	ctx := context.Background()
	data := genMovies(t)
	home := t.TempDir()
	out, err := cliRun(t, "train", "mf", "--data", filepath.Join(data, "ratings.csv"), "--params", "factors=4,seed=2", "--params", "min_item_count=1",
		"--experiment", "movies", "--run-name", "first", "--register", "recommender", "--home", home, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v trainView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if v.Params["factors"] != "4" || v.Params["seed"] != "2" || v.Params["min_item_count"] != "1" || v.Version != "1" {
		t.Errorf("result %+v", v)
	}
	dsn, _ := Config{Home: home}.StoreDSN()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	artDir, _ := Config{Home: home}.ArtifactsDir()
	arts, err := blobstore.NewLocal(artDir)
	if err != nil {
		t.Fatal(err)
	}
	defer arts.Close()
	checkTrainedRun(t, ctx, db, db, arts, v, "mf")

	// A second training registers version 2; the table names it.
	out, err = cliRun(t, "train", "popularity", "--data", data, "--experiment", "movies", "--register", "recommender", "--home", home)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Registered:  recommender version 2", "METRIC", "train_rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTrainCommandServer(t *testing.T) {
	ctx := context.Background()
	data := genMovies(t)
	home := t.TempDir()
	url, _, _ := startServer(t, home)
	out, err := cliRun(t, "train", "implicit-als", "--data", filepath.Join(data, "ratings.csv"), "--params", "factors=4,iterations=3",
		"--register", "recs", "--tracking-uri", url, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v trainView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	c := httpapi.NewClient(url, http.DefaultClient)
	checkTrainedRun(t, ctx, c, c, proxyArtifacts{c}, v, "implicit-als")

	// The server inspected the uploaded package: same digest as written.
	dsn, _ := Config{Home: home}.StoreDSN()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mv, err := db.GetModelVersion(ctx, "recs", v.Version)
	if err != nil {
		t.Fatal(err)
	}
	if mv.Digest != v.Digest || mv.SizeBytes != v.SizeBytes || !strings.Contains(mv.Signature, "item_id") {
		t.Errorf("server recorded digest %q size %d signature %q, want %q %d", mv.Digest, mv.SizeBytes, mv.Signature, v.Digest, v.SizeBytes)
	}

	// eval over HTTP writes its report through the artifact proxy.
	out, err = cliRun(t, "eval", "popularity", "--data", filepath.Join(data, "ratings.csv"), "--tracking-uri", url, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep training.EvalReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	run, err := c.GetRun(ctx, rep.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.DownloadArtifact(ctx, strings.TrimPrefix(run.ArtifactURI, "mlflow-artifacts:/")+"/eval/report.json", &buf); err != nil {
		t.Fatal(err)
	}
	var stored training.EvalReport
	if err := json.Unmarshal(buf.Bytes(), &stored); err != nil || stored.RunID != rep.RunID || stored.Metrics.RMSE != rep.Metrics.RMSE {
		t.Errorf("stored report %+v (%v), want the printed one", stored, err)
	}
}

func TestEvalCommandGolden(t *testing.T) {
	data := genMovies(t)
	home := t.TempDir()
	for _, tt := range []struct {
		golden string
		args   []string
	}{
		{"eval_mf", []string{"mf", "--params", "seed=1,min_item_count=1,workers=1", "--split", "user-time"}},
		{"eval_popularity", []string{"popularity", "--params", "min_count=2", "--split", "random", "--seed", "42", "--k", "5"}},
		{"eval_implicit_als", []string{"implicit-als", "--params", "factors=4,iterations=4,workers=1", "--split", "time", "--test-fraction", "0.25"}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			args := append([]string{"eval", "--workers", "1"}, tt.args...)
			out, err := cliRun(t, append(args, "--data", filepath.Join(data, "ratings.csv"), "--home", home)...)
			if err != nil {
				t.Fatal(err)
			}
			if !runIDRE.MatchString(out) {
				t.Fatalf("no run id in\n%s", out)
			}
			checkGolden(t, tt.golden, runIDRE.ReplaceAllString(out, strings.Repeat("0", 32)))
		})
	}
}

func TestTrainEvalErrors(t *testing.T) {
	data := genMovies(t)
	ratings := filepath.Join(data, "ratings.csv")
	home := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"train", "svd", "--data", ratings}, `learner "svd": want one of popularity, mf, implicit-als`},
		{[]string{"train", "mf"}, "--data is required"},
		{[]string{"train", "mf", "--data", filepath.Join(data, "nope.csv")}, "--data"},
		{[]string{"train", "mf", "--data", ratings, "--params", "factors"}, `--params "factors": want key=value`},
		{[]string{"train", "mf", "--data", ratings, "--params", "factors=many"}, "--params: mf: param factors"},
		{[]string{"train", "mf", "--data", ratings, "--params", "depth=3"}, `--params: mf: unknown param "depth"`},
		{[]string{"train", "mf", "--data", ratings, "--user-col", "uid"}, `--user-col: `},
		{[]string{"train", "mf", "--data", ratings, "--rating-col", "stars"}, `--rating-col: `},
		{[]string{"eval", "mf", "--data", ratings, "--split", "stratified"}, `--split "stratified"`},
		{[]string{"eval", "mf", "--data", ratings, "--test-fraction", "0"}, "--test-fraction 0"},
		{[]string{"eval", "mf", "--data", ratings, "--k", "0"}, "--k 0"},
		{[]string{"eval", "mf", "--data", ratings, "--workers", "-1"}, "--workers -1"},
		{[]string{"example", "movies", "generate"}, "--out is required"},
		{[]string{"example", "movies", "generate", "--out", data}, "exists (pass --force"},
		{[]string{"example", "movies", "generate", "--out", t.TempDir(), "--movies", "3"}, "--movies 3"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := cliRun(t, append(tt.args, "--home", home)...)
			if tt.args[0] == "example" {
				_, err = cliRun(t, tt.args...)
			}
			if err == nil || !strings.Contains(userMessage(err), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(home, "loopml.db")); err == nil {
		dsn, _ := Config{Home: home}.StoreDSN()
		db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		runs, _, err := db.SearchRuns(context.Background(), loopml.RunSearch{ExperimentIDs: []string{"0"}})
		if err != nil || len(runs) != 0 {
			t.Errorf("%d runs (%v): bad arguments must not create runs", len(runs), err)
		}
	}
}

func TestExampleMoviesGenerate(t *testing.T) {
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
	var outs []string
	for _, d := range dirs {
		out, err := cliRun(t, "example", "movies", "generate", "--out", d, "--users", "50", "--movies", "40", "--months", "12", "--seed", "9")
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, strings.ReplaceAll(out, d, "DIR"))
	}
	checkGolden(t, "example_movies_generate", outs[0])
	if outs[0] != outs[1] {
		t.Errorf("outputs differ: %q vs %q", outs[0], outs[1])
	}
	for _, f := range []string{"ratings.csv", "movies.csv"} {
		a, err := os.ReadFile(filepath.Join(dirs[0], f))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dirs[1], f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs with the same seed", f)
		}
	}
	d, err := learn.LoadCSVFile(context.Background(), filepath.Join(dirs[0], "ratings.csv"), learn.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Users.Len() != 50 {
		t.Errorf("%d users, want 50", d.Users.Len())
	}
}

func TestEvalMovieLens(t *testing.T) {
	if testing.Short() {
		t.Skip("MovieLens evaluation skipped under -short")
	}
	dir := learn.MovieLensDir(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(dir, "ratings.csv")); err != nil {
		t.Skipf("MovieLens data not found at %s (set %s): %v", dir, learn.EnvMovieLens, err)
	}
	home := t.TempDir()
	for _, learner := range learn.Learners() {
		out, err := cliRun(t, "eval", learner, "--data", dir, "--split", "random", "--seed", "42", "--home", home, "-o", "json")
		if err != nil {
			t.Fatalf("%s: %v", learner, err)
		}
		var rep training.EvalReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		var table bytes.Buffer
		if err := printEvalTable(&table, &rep); err != nil {
			t.Fatal(err)
		}
		t.Logf("MovieLens %s:\n%s", learner, table.String())
		if learner == learn.KindMF && !(rep.Metrics.RMSE > 0.5 && rep.Metrics.RMSE < 1.0) {
			t.Errorf("mf RMSE %v on MovieLens, want in (0.5, 1.0)", rep.Metrics.RMSE)
		}
		if rep.Metrics.RankedUsers < 500 || rep.Metrics.HitRate <= 0 {
			t.Errorf("%s: ranked users %d hit rate %v", learner, rep.Metrics.RankedUsers, rep.Metrics.HitRate)
		}
	}
}
