package training_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/training"
)

// memResolver is a dataset registry in memory: name -> version -> files.
type memResolver map[string]map[string]string

func (m memResolver) ResolveDataset(_ context.Context, ref string) (*training.ResolvedDataset, error) {
	r, err := loopml.ParseDatasetRef(ref)
	if err != nil {
		return nil, err
	}
	if r.Version == 0 {
		r.Version = 1
	}
	files, ok := m[r.Name]
	if !ok || r.Version != 1 {
		return nil, loopml.Errorf(loopml.ENOTFOUND, "dataset %q not found", r.Name)
	}
	v := &loopml.DatasetVersion{Name: r.Name, Version: 1, Root: "blake3:" + strings.Repeat("ab", 32)}
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	return &training.ResolvedDataset{
		Version: v, Files: paths,
		Input: loopml.Dataset{Name: r.Name, Digest: strings.Repeat("ab", 16), SourceType: "loopml", Source: `{"uri":"loopml-dataset:/` + r.Name + `@v1"}`},
		Open: func(_ context.Context, p string) (io.ReadCloser, error) {
			s, ok := files[p]
			if !ok {
				return nil, loopml.Errorf(loopml.ENOTFOUND, "no file %q", p)
			}
			return io.NopCloser(strings.NewReader(s)), nil
		},
	}, nil
}

func gz(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestLoadDataFromDatasetRef(t *testing.T) {
	ctx := context.Background()
	const csv = "user_id,item_id,rating\nu1,i1,4\nu2,i1,3\nu2,i2,5\n"
	tsv := strings.ReplaceAll(csv, ",", "\t")
	reg := memResolver{
		"ml":      {"ml/ratings.csv": csv, "ml/movies.csv": "movieId,title,genres\n", "nested/deeper/ratings.csv": "bad"},
		"one":     {"data/events.tsv.gz": gz(t, tsv), "README.md": "x"},
		"two":     {"a.csv": csv, "b.csv": csv},
		"none":    {"README.md": "x"},
		"badgz":   {"x.csv.gz": "not gzip"},
		"twinsml": {"a/ratings.csv": csv, "b/ratings.csv": csv},
	}
	for _, tc := range []struct {
		name     string
		src      training.DataSource
		wantFile string
		wantCode string
		wantMsg  string
	}{
		{"shallowest ratings.csv", training.DataSource{Ref: "ml@v1"}, "ml/ratings.csv", "", ""},
		{"path read as a reference", training.DataSource{Path: "ml@latest"}, "ml/ratings.csv", "", ""},
		{"only table, gzipped TSV", training.DataSource{Ref: "one"}, "data/events.tsv.gz", "", ""},
		{"chosen file", training.DataSource{Ref: "two@v1", File: "b.csv"}, "b.csv", "", ""},
		{"chosen file, leading ./", training.DataSource{Ref: "two@v1", File: "./a.csv"}, "a.csv", "", ""},
		{"several tables", training.DataSource{Ref: "two@v1"}, "", loopml.EINVALID, "2 CSV/TSV files (a.csv, b.csv)"},
		{"several ratings.csv", training.DataSource{Ref: "twinsml@v1"}, "", loopml.EINVALID, "several ratings.csv"},
		{"no table", training.DataSource{Ref: "none@v1"}, "", loopml.EINVALID, "no CSV or TSV"},
		{"missing file", training.DataSource{Ref: "two@v1", File: "c.csv"}, "", loopml.EINVALID, `data-file "c.csv" is not in two@v1`},
		{"not a table", training.DataSource{Ref: "one@v1", File: "README.md"}, "", loopml.EINVALID, "neither CSV nor TSV"},
		{"bad gzip", training.DataSource{Ref: "badgz@v1"}, "", loopml.EINVALID, "not gzip"},
		{"bad data", training.DataSource{Ref: "ml@v1", File: "nested/deeper/ratings.csv"}, "", loopml.EINVALID, "nested/deeper/ratings.csv"},
		{"unknown dataset", training.DataSource{Ref: "nope@v1"}, "", loopml.ENOTFOUND, "nope"},
		{"unknown version", training.DataSource{Ref: "ml@v2"}, "", loopml.ENOTFOUND, "ml"},
		{"bad reference", training.DataSource{Ref: "ml@"}, "", loopml.EINVALID, "empty version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.src.Datasets = reg
			ds, err := training.LoadData(ctx, tc.src)
			if tc.wantCode != "" {
				if loopml.ErrorCode(err) != tc.wantCode || !strings.Contains(loopml.ErrorMessage(err), tc.wantMsg) {
					t.Fatalf("got %v, want %s containing %q", err, tc.wantCode, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ds.Data.Len() != 3 || ds.Data.Users.Len() != 2 {
				t.Errorf("loaded %d rows of %d users, want 3 of 2", ds.Data.Len(), ds.Data.Users.Len())
			}
			in := ds.Input
			if in.Dataset.SourceType != "loopml" || len(in.Dataset.Digest) != 32 || !strings.Contains(in.Dataset.Profile, `"num_rows":3`) ||
				len(in.Tags) != 1 || in.Tags[0].Key != training.TagDataFile || in.Tags[0].Value != tc.wantFile {
				t.Errorf("input %+v, want the registry's dataset with file %s", in, tc.wantFile)
			}
		})
	}
}

// TestLoadDataRefWithoutRegistry: a reference needs a resolver, and a file
// named like a reference is read as a file.
func TestLoadDataRefWithoutRegistry(t *testing.T) {
	ctx := context.Background()
	_, err := training.LoadData(ctx, training.DataSource{Path: "ratings@3"})
	if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "dataset references") {
		t.Fatalf("got %v, want EINVALID about dataset references", err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "ml@v1")
	if err := os.WriteFile(p, []byte("user_id,item_id\nu,i\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := training.LoadData(ctx, training.DataSource{Path: p, Datasets: memResolver{}})
	if err != nil || ds.Input.Dataset.SourceType != "local" {
		t.Fatalf("file named like a reference: %+v, %v", ds, err)
	}
}

// TestTrainOnDatasetRef: the run's input is the registry's dataset, with
// both the context and the file tags.
func TestTrainOnDatasetRef(t *testing.T) {
	ctx := context.Background()
	ratings, _ := synth(t)
	b, err := os.ReadFile(ratings)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	res, err := training.Train(ctx, training.TrainOptions{
		Learner: "popularity", Data: training.DataSource{Ref: "ml@v1", Datasets: memResolver{"ml": {"ratings.csv": string(b)}}},
	}, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.db.GetRun(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Inputs) != 1 {
		t.Fatalf("inputs %+v", run.Inputs)
	}
	tags := map[string]string{}
	for _, tg := range run.Inputs[0].Tags {
		tags[tg.Key] = tg.Value
	}
	if run.Inputs[0].Dataset.Name != "ml" || tags[loopml.TagDatasetContext] != "training" || tags[training.TagDataFile] != "ratings.csv" {
		t.Fatalf("input %+v tags %v", run.Inputs[0].Dataset, tags)
	}
}
