package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/sqlstore"
)

// modelFixture is the CLI fixture plus a model "churn" registered from the
// baseline run (v1, with a dataset input, code tags and model files) and
// the tuned run (v2), with champion moved 1 -> 2 and challenger set and
// deleted; moves holds the event time of each champion move.
type modelFixture struct {
	*fixture
	moves    []int64
	registry *strings.Replacer
}

// modelFiles are the files of the baseline run's logged model.
var modelFiles = map[string]string{
	"MLmodel":          "artifact_path: model\nflavors: {}\n",
	"data/weights.bin": "\x00\x01weights",
}

func newModelFixture(t *testing.T) *modelFixture {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t)
	mf := &modelFixture{fixture: f}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	dsn, err := Config{Home: f.home}.StoreDSN()
	must(err)
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	must(err)
	defer db.Close()
	base := f.runs["baseline"]
	must(db.LogInputs(ctx, base, []loopml.DatasetInput{{
		Dataset: loopml.Dataset{Name: "customers", Digest: "d1g3st", SourceType: "local", Source: `{"uri":"/data/customers.csv"}`},
		Tags:    []loopml.Tag{{Key: loopml.TagDatasetContext, Value: "training"}},
	}}))
	must(db.LogBatch(ctx, base, loopml.Batch{Tags: []loopml.Tag{
		{Key: "mlflow.source.git.commit", Value: "0123abc"}, {Key: "mlflow.source.name", Value: "train.py"},
		{Key: "mlflow.source.type", Value: "LOCAL"}, {Key: "loopml.git.dirty", Value: "true"},
	}}))
	run, err := db.GetRun(ctx, base)
	must(err)
	artDir, err := Config{Home: f.home}.ArtifactsDir()
	must(err)
	arts, err := blobstore.NewLocal(artDir)
	must(err)
	root := strings.TrimPrefix(run.ArtifactURI, "mlflow-artifacts:/")
	for p, content := range modelFiles {
		_, err := arts.Put(ctx, root+"/model/"+p, strings.NewReader(content))
		must(err)
	}
	arts.Close()

	// Register through the CLI, then move aliases with distinct times.
	for _, args := range [][]string{
		{"models", "register", "churn", "runs:/" + base + "/model", "--description", "first"},
		{"models", "register", "churn", "mlflow-artifacts:/1/" + f.runs["tuned"] + "/artifacts/model", "--run-id", f.runs["tuned"]},
	} {
		if _, err := f.cli(t, args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	// Version 1 of "single" is one file of the baseline model.
	if _, err := f.cli(t, "models", "register", "single", "runs:/"+base+"/model/MLmodel"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"models", "alias", "set", "churn", "champion", "1"},
		{"models", "alias", "set", "churn", "challenger", "2"},
		{"models", "alias", "set", "churn", "champion", "2"},
		{"models", "alias", "delete", "churn", "challenger"},
	} {
		time.Sleep(3 * time.Millisecond)
		if _, err := f.cli(t, args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}

	// Registry clocks are the store's: map them to fixed values.
	var pairs []string
	addTime := func(ms int64) {
		pairs = append(pairs, fmtTime(ms), "2000-01-01 00:00:00", strconv.FormatInt(ms, 10), "946684800000")
	}
	evs, err := db.RegistryEvents(ctx, loopml.RegistryEventQuery{})
	must(err)
	for _, e := range evs {
		addTime(e.Time)
		if e.Model == "churn" && e.Alias == "champion" {
			mf.moves = append(mf.moves, e.Time)
		}
	}
	models, _, err := db.SearchRegisteredModels(ctx, loopml.RegisteredModelSearch{})
	must(err)
	for _, m := range models {
		addTime(m.CreationTimestamp)
		addTime(m.LastUpdatedTimestamp)
		vs, err := allVersions(ctx, db, m.Name)
		must(err)
		for _, mv := range vs {
			addTime(mv.CreationTimestamp)
			addTime(mv.LastUpdatedTimestamp)
		}
	}
	mf.registry = strings.NewReplacer(pairs...)
	return mf
}

// cli runs the command line and normalises ids and registry times.
func (mf *modelFixture) cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := mf.fixture.cli(t, args...)
	return mf.registry.Replace(out), err
}

func TestModelsCLIGolden(t *testing.T) {
	f := newModelFixture(t)
	tests := []struct {
		golden string
		args   []string
	}{
		{"models_list", []string{"models", "list"}},
		{"models_list_json", []string{"models", "list", "--filter", "name LIKE 'ch%'", "-o", "json"}},
		{"models_show", []string{"models", "show", "churn"}},
		{"models_versions", []string{"models", "versions", "churn"}},
		{"models_versions_json", []string{"models", "versions", "churn", "-o", "json"}},
		{"models_history", []string{"models", "history", "churn"}},
		{"models_history_alias_json", []string{"models", "history", "churn", "--alias", "champion", "-o", "json"}},
		{"models_lineage", []string{"models", "lineage", "churn@champion"}},
		{"models_lineage_v1", []string{"models", "lineage", "models:/churn/1"}},
		{"models_lineage_json", []string{"models", "lineage", "models:/churn/1", "-o", "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := f.cli(t, tt.args...)
			if err != nil {
				t.Fatalf("%v: %v", tt.args, err)
			}
			checkGolden(t, tt.golden, got)
		})
	}
}

func TestModelsHistoryAt(t *testing.T) {
	f := newModelFixture(t)
	if len(f.moves) != 2 {
		t.Fatalf("champion moves = %v", f.moves)
	}
	tests := []struct {
		at   string
		want string
	}{
		{strconv.FormatInt(f.moves[0]-1, 10), "pointed at no version"},
		{strconv.FormatInt(f.moves[0], 10), "pointed at version 1"},
		{time.UnixMilli(f.moves[1] - 1).UTC().Format(time.RFC3339Nano), "pointed at version 1"},
		{time.UnixMilli(f.moves[1]).UTC().Format(time.RFC3339Nano), "pointed at version 2"},
		{"2999-01-01T00:00:00Z", "pointed at version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			got, err := f.cli(t, "models", "history", "churn", "--alias", "champion", "--at", tt.at)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("output %q does not contain %q", got, tt.want)
			}
		})
	}
	got, err := f.cli(t, "models", "history", "churn", "--alias", "champion", "--at", strconv.FormatInt(f.moves[0], 10), "-o", "json")
	if err != nil || !strings.Contains(got, `"version": "1"`) {
		t.Errorf("json --at: %v\n%s", err, got)
	}
}

func TestModelsDownload(t *testing.T) {
	f := newModelFixture(t)
	dest := t.TempDir()
	if got, err := f.cli(t, "models", "download", "single/latest", dest); err != nil || !strings.Contains(got, "Downloaded 1 files") {
		t.Errorf("single-file download: %v, %q", err, got)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "MLmodel")); err != nil || string(b) != modelFiles["MLmodel"] {
		t.Errorf("single-file download wrote %q, %v", b, err)
	}
	for _, uri := range []string{"models:/churn/1", "churn@champion"} {
		dest := t.TempDir()
		got, err := f.cli(t, "models", "download", uri, dest)
		if uri == "churn@champion" {
			// Version 2's source has no files in the store.
			if loopml.ErrorCode(err) != loopml.ENOTFOUND || !strings.Contains(userMessage(err), "no artifacts at") {
				t.Errorf("download of an empty source: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, "Downloaded 2 files") {
			t.Errorf("output = %q", got)
		}
		checkTree(t, dest)
	}
}

// checkTree asserts dest holds exactly modelFiles.
func checkTree(t *testing.T, dest string) {
	t.Helper()
	for p, want := range modelFiles {
		b, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(p)))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	n := 0
	_ = filepath.WalkDir(dest, func(_ string, d os.DirEntry, _ error) error {
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if n != len(modelFiles) {
		t.Errorf("%d files downloaded, want %d", n, len(modelFiles))
	}
}

// TestModelsOverHTTP runs the models commands against `loopml server` and
// checks they print what they print on the local store.
func TestModelsOverHTTP(t *testing.T) {
	f := newModelFixture(t)
	url, _, stop := startServer(t, f.home)
	remote := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(args, "--tracking-uri", url), envMap(nil), &out, &errOut)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return f.registry.Replace(f.replacer.Replace(out.String()))
	}
	for _, args := range [][]string{
		{"models", "list"},
		{"models", "show", "churn", "-o", "json"},
		{"models", "versions", "churn"},
		{"models", "history", "churn"},
		{"models", "history", "churn", "--alias", "champion", "--at", strconv.FormatInt(f.moves[0], 10)},
		{"models", "lineage", "churn/1", "-o", "json"},
		{"models", "lineage", "churn@champion"},
	} {
		local, err := f.cli(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if got := remote(args...); got != local {
			t.Errorf("%v over HTTP:\n%s\nlocally:\n%s", args, got, local)
		}
	}
	dest := t.TempDir()
	if got := remote("models", "download", "models:/churn/1", dest); !strings.Contains(got, "Downloaded 2 files") {
		t.Errorf("download over HTTP: %q", got)
	}
	checkTree(t, dest)
	dest = t.TempDir()
	if got := remote("models", "download", "single/1", dest); !strings.Contains(got, "Downloaded 1 files") {
		t.Errorf("single-file download over HTTP: %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "MLmodel")); err != nil || string(b) != modelFiles["MLmodel"] {
		t.Errorf("single-file download over HTTP wrote %q, %v", b, err)
	}
	// Registering over HTTP: the server resolves nothing the CLI did not.
	if got := remote("models", "register", "fresh", "runs:/"+f.runs["other"]+"/m"); !strings.Contains(got, "Registered model fresh version 1") {
		t.Errorf("register over HTTP: %q", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestModelsCLIErrors(t *testing.T) {
	f := newModelFixture(t)
	tests := []struct {
		name string
		args []string
		code string
		want string
	}{
		{"unknown model", []string{"models", "show", "nope"}, loopml.ENOTFOUND, "nope"},
		{"versions of unknown model", []string{"models", "versions", "nope"}, loopml.ENOTFOUND, "nope"},
		{"reserved alias", []string{"models", "alias", "set", "churn", "latest", "1"}, loopml.EINVALID, "latest"},
		{"unknown version", []string{"models", "alias", "set", "churn", "x", "9"}, loopml.ENOTFOUND, ""},
		{"unknown alias", []string{"models", "alias", "delete", "churn", "nope"}, loopml.ENOTFOUND, "nope"},
		{"at without alias", []string{"models", "history", "churn", "--at", "1"}, loopml.EINVALID, "--at needs --alias"},
		{"bad time", []string{"models", "history", "churn", "--alias", "champion", "--at", "noon"}, loopml.EINVALID, "RFC 3339"},
		{"bad uri", []string{"models", "lineage", "models:/churn/Bogus"}, loopml.EINVALID, "Bogus"},
		{"unknown run source", []string{"models", "register", "churn", "runs:/" + strings.Repeat("0", 32) + "/m"}, loopml.ENOTFOUND, ""},
		{"foreign source", []string{"models", "download", "churn/2", t.TempDir()}, loopml.ENOTFOUND, "no artifacts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.cli(t, tt.args...)
			if loopml.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want code %s", err, tt.code)
			}
			if !strings.Contains(userMessage(err), tt.want) {
				t.Errorf("message %q does not contain %q", userMessage(err), tt.want)
			}
		})
	}
	// Registering into a missing model creates it.
	got, err := f.cli(t, "models", "register", "brand-new", "s3://bucket/model", "-o", "json")
	if err != nil || !strings.Contains(got, `"version": "1"`) || !strings.Contains(got, `"source": "s3://bucket/model"`) {
		t.Errorf("register new model: %v\n%s", err, got)
	}
	if _, err := f.cli(t, "models", "download", "brand-new/1", t.TempDir()); loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(userMessage(err), "outside loopml's artifact store") {
		t.Errorf("download of an s3 source: %v", err)
	}
}
