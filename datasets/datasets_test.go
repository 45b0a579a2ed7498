package datasets_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/datasets"
	"github.com/loopml/loopml/sqlstore"
)

func newDeps(t testing.TB) datasets.Deps {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite::memory:", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	arts, err := blobstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arts.Close() })
	return datasets.Deps{Store: db, Artifacts: arts, IndexDir: t.TempDir()}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// table returns a CSV of n rows: a numeric column drawn around mean, a
// categorical column and an id.
func table(n int, mean float64, cats []string, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString("id,amount,country\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,%.3f,%s\n", i, mean+r.NormFloat64()*10, cats[r.IntN(len(cats))])
	}
	return b.String()
}

func mustAdd(t *testing.T, d datasets.Deps, name string, paths []string, opts datasets.AddOptions) *datasets.AddResult {
	t.Helper()
	res, err := datasets.Add(context.Background(), d, name, paths, opts)
	if err != nil {
		t.Fatalf("add %s %v: %v", name, paths, err)
	}
	return res
}

func TestAddGetDiff(t *testing.T) {
	ctx := context.Background()
	d := newDeps(t)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"sales.csv":       table(2000, 100, []string{"de", "fr", "it"}, 1),
		"notes/readme.md": "hello\n",
		"notes/old.txt":   "to be removed\n",
	})

	r1 := mustAdd(t, d, "sales", []string{src}, datasets.AddOptions{Labels: map[string]string{"period": "2024-10"}})
	if !r1.Created || r1.Version.Version != 1 || r1.Version.Files != 3 || r1.Version.Labels["period"] != "2024-10" {
		t.Fatalf("first add: created=%v %+v", r1.Created, r1.Version)
	}
	if r1.Version.ProfileRef != "datasets/sales/v1/profile.json" || !strings.Contains(r1.Version.Schema, `"amount"`) {
		t.Fatalf("profile ref %q, schema %s", r1.Version.ProfileRef, r1.Version.Schema)
	}

	again := mustAdd(t, d, "sales", []string{src}, datasets.AddOptions{})
	if again.Created || again.Version.Version != 1 || again.Stats.BytesUploaded != 0 || again.Stats.ObjectsUploaded != 0 {
		t.Fatalf("re-add unchanged: created=%v version %d, uploaded %d bytes in %d objects; want v1, nothing uploaded",
			again.Created, again.Version.Version, again.Stats.BytesUploaded, again.Stats.ObjectsUploaded)
	}

	// Shift the distribution of amount, change the categories, edit files.
	writeFiles(t, src, map[string]string{
		"sales.csv":       table(2000, 130, []string{"de", "es"}, 2),
		"notes/readme.md": "hello again\n",
		"notes/new.txt":   "new\n",
	})
	if err := os.Remove(filepath.Join(src, "notes", "old.txt")); err != nil {
		t.Fatal(err)
	}
	r2 := mustAdd(t, d, "sales", []string{src}, datasets.AddOptions{})
	if !r2.Created || r2.Version.Version != 2 {
		t.Fatalf("changed tree: created=%v version %d, want a new version 2", r2.Created, r2.Version.Version)
	}
	if err := d.Store.SetDatasetTag(ctx, "sales", "baseline", 1); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]int{"sales@latest": 2, "sales": 2, "sales@v1": 1, "sales@1": 1, "sales@baseline": 1} {
		v, err := datasets.Resolve(ctx, d, ref)
		if err != nil || v.Version != want {
			t.Errorf("resolve %s: got %v %v, want version %d", ref, v, err, want)
		}
	}

	// Get restores v1 byte for byte.
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := datasets.Get(ctx, d, "sales@baseline", dest); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"sales.csv", "notes/readme.md", "notes/old.txt"} {
		got, err := os.ReadFile(filepath.Join(dest, p))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"sales.csv": table(2000, 100, []string{"de", "fr", "it"}, 1), "notes/readme.md": "hello\n", "notes/old.txt": "to be removed\n"}[p]
		if string(got) != want {
			t.Errorf("restored %s differs from the added file", p)
		}
	}

	diff, err := datasets.DiffRefs(ctx, d, "sales@v1", "sales@v2")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(diff.Files.Added, []string{"notes/new.txt"}) || !slices.Equal(diff.Files.Removed, []string{"notes/old.txt"}) ||
		!slices.Equal(diff.Files.Changed, []string{"notes/readme.md", "sales.csv"}) {
		t.Fatalf("file diff: %+v", diff.Files)
	}
	if len(diff.Tables) != 1 {
		t.Fatalf("got %d table diffs, want 1 (sales.csv)", len(diff.Tables))
	}
	drifted := map[string]datasets.ColumnDrift{}
	for _, c := range diff.Tables[0].Columns {
		drifted[c.Column] = c
	}
	if c := drifted["amount"]; c.Method != "psi" || !c.Drifted || c.Value < 1 || c.KS < 0.5 {
		t.Errorf("amount shifted by 3 sd: got %+v, want PSI ≥ 1 and KS ≥ 0.5, drifted", c)
	}
	if c := drifted["country"]; c.Method != "jensenshannon" || !c.Drifted {
		t.Errorf("country changed categories: got %+v, want drifted by Jensen–Shannon", c)
	}
	if c := drifted["id"]; c.Drifted {
		t.Errorf("id is the same 0..1999 in both: got %+v, want no drift", c)
	}

	// Same version against itself: no change.
	same, err := datasets.DiffRefs(ctx, d, "sales@v2", "sales@latest")
	if err != nil {
		t.Fatal(err)
	}
	if !same.Files.Empty() || len(same.Tables) != 0 {
		t.Fatalf("diff of a version with itself: %+v", same)
	}

	// A new version with sales.csv unchanged reuses its profile.
	writeFiles(t, src, map[string]string{"notes/readme.md": "third\n"})
	r3 := mustAdd(t, d, "sales", []string{src}, datasets.AddOptions{})
	p2, err := datasets.Profiles(ctx, d, r2.Version)
	if err != nil {
		t.Fatal(err)
	}
	p3, err := datasets.Profiles(ctx, d, r3.Version)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Version.Version != 3 || p3["sales.csv"] == nil || p3["sales.csv"].Rows() != p2["sales.csv"].Rows() || r3.Version.Schema != r2.Version.Schema {
		t.Fatalf("v3 with sales.csv unchanged: version %d, profile %v", r3.Version.Version, p3["sales.csv"])
	}

	ps, err := datasets.Profiles(ctx, d, r2.Version)
	if err != nil {
		t.Fatal(err)
	}
	if p := ps["sales.csv"]; p == nil || p.Rows() != 2000 || len(ps) != 1 {
		t.Fatalf("profiles of v2: %v", datasets.SortedPaths(ps))
	}
}

func TestAddErrors(t *testing.T) {
	ctx := context.Background()
	d := newDeps(t)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a.txt": "a"})
	for _, tc := range []struct {
		name  string
		paths []string
		code  string
		msg   string
	}{
		{"bad/name", []string{src}, loopml.EINVALID, "bad/name"},
		{"", []string{src}, loopml.EINVALID, "dataset name"},
		{"ok", nil, loopml.EINVALID, "no path"},
		{"ok", []string{filepath.Join(src, "missing.csv")}, loopml.ENOTFOUND, "missing.csv"},
		{"ok", []string{filepath.Join(src, "*.parquet")}, loopml.ENOTFOUND, "*.parquet"},
	} {
		_, err := datasets.Add(ctx, d, tc.name, tc.paths, datasets.AddOptions{})
		if loopml.ErrorCode(err) != tc.code || !strings.Contains(loopml.ErrorMessage(err), tc.msg) {
			t.Errorf("Add(%q, %v): got %v, want %s naming %q", tc.name, tc.paths, err, tc.code, tc.msg)
		}
	}
	for ref, code := range map[string]string{"nope": loopml.ENOTFOUND, "x@": loopml.EINVALID, "x@v0": loopml.EINVALID, "@v1": loopml.EINVALID} {
		if _, err := datasets.Get(ctx, d, ref, t.TempDir()); loopml.ErrorCode(err) != code {
			t.Errorf("Get(%q): got %v, want %s", ref, err, code)
		}
	}
	// A glob adds the matching files only; no tabular file means no profile.
	r := mustAdd(t, d, "texts", []string{filepath.Join(src, "*.txt")}, datasets.AddOptions{})
	if r.Version.Files != 1 || r.Version.ProfileRef != "" || r.Version.Schema != "" {
		t.Fatalf("glob add: %+v", r.Version)
	}
}
