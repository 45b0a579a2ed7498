package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/training"
)

// TestDataCommandsRemote runs the data commands through --tracking-uri:
// metadata over the dataset API, objects through the artifact proxy into
// the server's store, the cas index in the client's home; then trains and
// evaluates on a dataset version and finds the runs from `data show`.
func TestDataCommandsRemote(t *testing.T) {
	ctx := context.Background()
	serverHome, clientHome := t.TempDir(), t.TempDir()
	url, _, _ := startServer(t, serverHome)
	data := genMovies(t)
	// Files older than cas's racy window are recorded in the index.
	old := time.Now().Add(-time.Hour)
	for _, f := range []string{"ratings.csv", "movies.csv"} {
		if err := os.Chtimes(filepath.Join(data, f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	remote := func(args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--tracking-uri", url, "--home", clientHome)
		err := run(ctx, args, envMap(nil), &out, &errOut)
		return out.String(), err
	}
	mustRemote := func(args ...string) string {
		t.Helper()
		out, err := remote(args...)
		if err != nil {
			t.Fatalf("loopml %s: %v", strings.Join(args, " "), err)
		}
		return out
	}

	out := mustRemote("data", "add", "movies", data, "--label", "period=2024-10")
	if !strings.Contains(out, "Created movies@v1") {
		t.Fatalf("add:\n%s", out)
	}
	// The objects are in the server's store, the index in the client's home,
	// and the client opened no database of its own.
	if objs, err := os.ReadDir(filepath.Join(serverHome, "artifacts", "cas", "objects")); err != nil || len(objs) == 0 {
		t.Fatalf("no cas objects on the server: %v", err)
	}
	if _, err := os.Stat(filepath.Join(clientHome, "index")); err != nil {
		t.Errorf("no local index: %v", err)
	}
	if _, err := os.Stat(filepath.Join(clientHome, "loopml.db")); err == nil {
		t.Error("the client created a local database")
	}
	if out := mustRemote("data", "add", "movies", data); !strings.Contains(out, "Unchanged: movies@v1") || !strings.Contains(out, "Stored 0 B") {
		t.Fatalf("re-add:\n%s", out)
	}

	// A second version: more ratings.
	ratings := filepath.Join(data, "ratings.csv")
	orig, err := os.ReadFile(ratings)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ratings, append(append([]byte(nil), orig...), "1,1,4.5,1700000000\n2,1,3.0,1700000001\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustRemote("data", "add", "movies", data); !strings.Contains(out, "Created movies@v2") {
		t.Fatalf("add v2:\n%s", out)
	}
	mustRemote("data", "tag", "movies@v1", "baseline")

	var versions []struct {
		Version int      `json:"version"`
		Tags    []string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(mustRemote("data", "versions", "movies", "-o", "json")), &versions); err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[0].Version != 1 || len(versions[0].Tags) != 1 || versions[1].Version != 2 {
		t.Fatalf("versions: %+v", versions)
	}
	if out := mustRemote("data", "ls"); !strings.Contains(out, "movies") {
		t.Fatalf("ls:\n%s", out)
	}
	if out := mustRemote("data", "diff", "movies@baseline", "movies@latest"); !strings.Contains(out, "ratings.csv") {
		t.Fatalf("diff:\n%s", out)
	}
	if out := mustRemote("data", "profile", "movies@v2", "--file", "ratings.csv"); !strings.Contains(out, "rating") {
		t.Fatalf("profile:\n%s", out)
	}

	// get restores v1 byte for byte from the server.
	dest := filepath.Join(t.TempDir(), "v1")
	mustRemote("data", "get", "movies@baseline", dest)
	if got, err := os.ReadFile(filepath.Join(dest, "ratings.csv")); err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("restored ratings.csv differs from v1 (%v)", err)
	}

	// Train and evaluate on dataset versions; the runs record them.
	var tv trainView
	if err := json.Unmarshal([]byte(mustRemote("train", "popularity", "--data", "movies@baseline", "-o", "json")), &tv); err != nil {
		t.Fatal(err)
	}
	var rep training.EvalReport
	if err := json.Unmarshal([]byte(mustRemote("eval", "popularity", "--data", "movies@v2", "--data-file", "ratings.csv", "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	c := httpapi.NewClient(url, http.DefaultClient)
	for _, tc := range []struct {
		runID, ctx, uri string
	}{{tv.RunID, "training", "loopml-dataset:/movies@v1"}, {rep.RunID, "evaluation", "loopml-dataset:/movies@v2"}} {
		r, err := c.GetRun(ctx, tc.runID)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Inputs) != 1 {
			t.Fatalf("run %s inputs %+v", tc.runID, r.Inputs)
		}
		in := r.Inputs[0]
		tags := map[string]string{}
		for _, tg := range in.Tags {
			tags[tg.Key] = tg.Value
		}
		if in.Dataset.Name != "movies" || in.Dataset.SourceType != "loopml" || !strings.Contains(in.Dataset.Source, tc.uri) ||
			len(in.Dataset.Digest) != 32 || tags[loopml.TagDatasetContext] != tc.ctx || tags[training.TagDataFile] != "ratings.csv" ||
			!strings.Contains(in.Dataset.Profile, "num_rows") {
			t.Errorf("run %s input %+v tags %v, want %s in context %s", tc.runID, in.Dataset, tags, tc.uri, tc.ctx)
		}
	}
	out = mustRemote("data", "show", "movies@v1")
	if !strings.Contains(out, "Used by:") || !strings.Contains(out, tv.RunID+" (training)") || strings.Contains(out, rep.RunID) {
		t.Fatalf("show v1 should list the training run only:\n%s", out)
	}
	var shown struct {
		Version int              `json:"version"`
		UsedBy  []datasetRunView `json:"used_by_runs"`
	}
	if err := json.Unmarshal([]byte(mustRemote("data", "show", "movies@v2", "-o", "json")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Version != 2 || len(shown.UsedBy) != 1 || shown.UsedBy[0].RunID != rep.RunID || shown.UsedBy[0].Context != "evaluation" || shown.UsedBy[0].File != "ratings.csv" {
		t.Fatalf("show v2 -o json: %+v", shown)
	}

	// Errors keep their codes and name what is wrong.
	for _, tc := range []struct {
		args []string
		code string
		msg  string
	}{
		{[]string{"train", "popularity", "--data", "movies@v9"}, loopml.ENOTFOUND, "no version 9"},
		{[]string{"train", "popularity", "--data", "nope@latest"}, loopml.ENOTFOUND, `"nope" not found`},
		{[]string{"train", "popularity", "--data", "movies@v1", "--data-file", "nope.csv"}, loopml.EINVALID, "--data-file"},
		{[]string{"train", "popularity", "--data", "movies@v1", "--data-file", "movies.csv"}, loopml.EINVALID, "--"},
		{[]string{"data", "show", "movies@v9"}, loopml.ENOTFOUND, "no version 9"},
		{[]string{"data", "show", "a/b"}, loopml.EINVALID, "a/b"},
		{[]string{"data", "tag", "movies@v1", "latest"}, loopml.EINVALID, "latest"},
	} {
		_, err := remote(tc.args...)
		if loopml.ErrorCode(err) != tc.code || !strings.Contains(loopml.ErrorMessage(err), tc.msg) {
			t.Errorf("loopml %s: got %v, want %s containing %q", strings.Join(tc.args, " "), err, tc.code, tc.msg)
		}
	}

	// rm over HTTP: the version no longer resolves, its number stays used.
	mustRemote("data", "rm", "movies@v2")
	if _, err := remote("data", "show", "movies@v2"); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Fatalf("show after rm: %v", err)
	}
}

// TestTrainOnDatasetLocal trains on a dataset version of the local home
// (no server), picking the only CSV file of a version without ratings.csv.
func TestTrainOnDatasetLocal(t *testing.T) {
	home := t.TempDir()
	data := genMovies(t)
	src := t.TempDir()
	b, err := os.ReadFile(filepath.Join(data, "ratings.csv"))
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, src, map[string]string{"events/interactions.csv": string(b), "README.md": "events\n"})
	mustDataCLI(t, home, "data", "add", "events", src)
	out, err := dataCLI(t, home, "train", "popularity", "--data", "events@latest", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var tv trainView
	if err := json.Unmarshal([]byte(out), &tv); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if out := mustDataCLI(t, home, "data", "show", "events@v1"); !strings.Contains(out, tv.RunID+" (training)") {
		t.Fatalf("show does not list the run %s:\n%s", tv.RunID, out)
	}
}
