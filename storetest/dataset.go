package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/loopml/loopml"
)

var datasetTests = []test{
	{"CreateIdempotent", testDatasetCreateIdempotent},
	{"Resolve", testDatasetResolve},
	{"Tags", testDatasetTags},
	{"Delete", testDatasetDelete},
	{"Invalid", testDatasetInvalid},
	{"Workspaces", testDatasetWorkspaces},
	{"ConcurrentCreate", testDatasetConcurrentCreate},
}

// datasetStore returns s as a DatasetService, skipping stores without one.
func datasetStore(t *testing.T, s Store) loopml.DatasetService {
	t.Helper()
	ds, ok := s.(loopml.DatasetService)
	if !ok {
		t.Skip("store does not implement loopml.DatasetService")
	}
	return ds
}

// root returns a valid root digest made of the hex digit c.
func root(c byte) string { return "blake3:" + strings.Repeat(string(c), 64) }

func mustCreateDataset(t *testing.T, ds loopml.DatasetService, v loopml.DatasetVersion) (*loopml.DatasetVersion, bool) {
	t.Helper()
	out, created, err := ds.CreateDatasetVersion(ctx, &v)
	if err != nil {
		t.Fatalf("create dataset version %s (%s): %v", v.Name, v.Root, err)
	}
	return out, created
}

func mustResolve(t *testing.T, ds loopml.DatasetService, ref string) *loopml.DatasetVersion {
	t.Helper()
	r, err := loopml.ParseDatasetRef(ref)
	must(t, err)
	v, err := ds.GetDatasetVersion(ctx, r)
	if err != nil {
		t.Fatalf("get %s: %v", ref, err)
	}
	return v
}

func testDatasetCreateIdempotent(t *testing.T, s Store) {
	ds := datasetStore(t, s)
	v1, created := mustCreateDataset(t, ds, loopml.DatasetVersion{
		Name: "movies", Root: root('a'), Files: 2, Size: 10,
		Labels: map[string]string{"period": "2024-10"}, ProfileRef: "datasets/movies/v1/profile.json", Schema: `{"a":1}`,
	})
	if !created || v1.Version != 1 || v1.Workspace != loopml.WorkspaceFromContext(ctx) || v1.CreationTimestamp == 0 || v1.CreatedBy == "" {
		t.Fatalf("first version: created=%v %+v", created, v1)
	}
	again, created := mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "movies", Root: root('a')})
	if created || again.Version != 1 || again.Files != 2 || again.Labels["period"] != "2024-10" {
		t.Fatalf("re-adding the same root: created=%v, got %+v, want version 1 unchanged", created, again)
	}
	v2, created := mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "movies", Root: root('b')})
	if !created || v2.Version != 2 {
		t.Fatalf("second root: created=%v version %d, want 2", created, v2.Version)
	}
	// Returning to an older root makes a new version: only the latest is compared.
	v3, created := mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "movies", Root: root('a')})
	if !created || v3.Version != 3 {
		t.Fatalf("old root again: created=%v version %d, want 3", created, v3.Version)
	}
	got := mustResolve(t, ds, "movies@v1")
	want := *v1
	want.Tags = nil
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("get movies@v1:\ngot  %+v\nwant %+v", *got, want)
	}
	// Asking for a number that is not the next one is a conflict.
	_, _, err := ds.CreateDatasetVersion(ctx, &loopml.DatasetVersion{Name: "movies", Root: root('c'), Version: 2})
	wantErr(t, err, loopml.ECONFLICT, "movies", "4")
	v4, _ := mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "movies", Root: root('c'), Version: 4})
	if v4.Version != 4 {
		t.Fatalf("requested version 4, got %d", v4.Version)
	}
	vs, err := ds.ListDatasetVersions(ctx, "movies")
	must(t, err)
	if len(vs) != 4 || vs[0].Version != 1 || vs[3].Version != 4 {
		t.Fatalf("ListDatasetVersions: got %d versions, want 1..4 oldest first", len(vs))
	}
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "books", Root: root('d')})
	all, err := ds.ListDatasets(ctx)
	must(t, err)
	if len(all) != 2 || all[0].Name != "books" || all[1].Name != "movies" || all[1].Versions != 4 || all[1].Latest != 4 || all[1].NextVersion != 5 {
		t.Fatalf("ListDatasets: got %+v %+v", all[0], all[len(all)-1])
	}
}

func testDatasetResolve(t *testing.T, s Store) {
	ds := datasetStore(t, s)
	for _, c := range []byte("abc") {
		mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "d", Root: root(c)})
	}
	must(t, ds.SetDatasetTag(ctx, "d", "prod", 2))
	for _, tc := range []struct {
		ref  string
		want int
	}{{"d", 3}, {"d@latest", 3}, {"d@v1", 1}, {"d@2", 2}, {"d@prod", 2}} {
		if got := mustResolve(t, ds, tc.ref).Version; got != tc.want {
			t.Errorf("%s: got version %d, want %d", tc.ref, got, tc.want)
		}
	}
	for _, tc := range []struct{ ref, msg string }{
		{"d@v9", "no version 9"},
		{"d@staging", `no tag "staging"`},
		{"nope", `dataset "nope" not found`},
		{"nope@v1", `dataset "nope" not found`},
		{"nope@prod", `dataset "nope" not found`},
	} {
		r, err := loopml.ParseDatasetRef(tc.ref)
		must(t, err)
		_, err = ds.GetDatasetVersion(ctx, r)
		wantErr(t, err, loopml.ENOTFOUND, tc.msg)
	}
	if _, err := ds.GetDataset(ctx, "nope"); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Fatalf("GetDataset(nope): got %v, want ENOTFOUND", err)
	}
	if _, err := ds.ListDatasetVersions(ctx, "nope"); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Fatalf("ListDatasetVersions(nope): got %v, want ENOTFOUND", err)
	}
}

func testDatasetTags(t *testing.T, s Store) {
	ds := datasetStore(t, s)
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "d", Root: root('a')})
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "d", Root: root('b')})
	must(t, ds.SetDatasetTag(ctx, "d", "prod", 1))
	must(t, ds.SetDatasetTag(ctx, "d", "golden", 1))
	if got := mustResolve(t, ds, "d@v1").Tags; !reflect.DeepEqual(got, []string{"golden", "prod"}) {
		t.Fatalf("tags of v1: got %v, want [golden prod]", got)
	}
	must(t, ds.SetDatasetTag(ctx, "d", "prod", 2)) // moving is allowed
	if got := mustResolve(t, ds, "d@prod").Version; got != 2 {
		t.Fatalf("moved tag resolves to %d, want 2", got)
	}
	if got := mustResolve(t, ds, "d@v1").Tags; !reflect.DeepEqual(got, []string{"golden"}) {
		t.Fatalf("tags of v1 after the move: got %v, want [golden]", got)
	}
	sum, err := ds.GetDataset(ctx, "d")
	must(t, err)
	if !reflect.DeepEqual(sum.Tags, map[string]int{"golden": 1, "prod": 2}) {
		t.Fatalf("summary tags: got %v", sum.Tags)
	}
	wantErr(t, ds.SetDatasetTag(ctx, "d", "prod", 7), loopml.ENOTFOUND, "no version 7")
	wantErr(t, ds.SetDatasetTag(ctx, "x", "prod", 1), loopml.ENOTFOUND, `"x" not found`)
	for _, bad := range []string{"latest", "v3", "12", "", "a b", "-x"} {
		wantErr(t, ds.SetDatasetTag(ctx, "d", bad, 1), loopml.EINVALID, "tag")
	}
	must(t, ds.DeleteDatasetTag(ctx, "d", "golden"))
	wantErr(t, ds.DeleteDatasetTag(ctx, "d", "golden"), loopml.ENOTFOUND, "golden")
}

func testDatasetDelete(t *testing.T, s Store) {
	ds := datasetStore(t, s)
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "d", Root: root('a')})
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "d", Root: root('b')})
	must(t, ds.SetDatasetTag(ctx, "d", "prod", 2))
	must(t, ds.DeleteDatasetVersion(ctx, "d", 2))
	wantErr(t, ds.DeleteDatasetVersion(ctx, "d", 2), loopml.ENOTFOUND, "deleted")
	wantErr(t, ds.DeleteDatasetVersion(ctx, "d", 5), loopml.ENOTFOUND, "no version 5")
	if got := mustResolve(t, ds, "d@latest").Version; got != 1 {
		t.Fatalf("latest after deleting v2: got %d, want 1", got)
	}
	r, _ := loopml.ParseDatasetRef("d@prod")
	_, err := ds.GetDatasetVersion(ctx, r)
	wantErr(t, err, loopml.ENOTFOUND, "prod")
	wantErr(t, ds.SetDatasetTag(ctx, "d", "prod", 2), loopml.ENOTFOUND, "deleted")
	// The number of a deleted version is not reused, even for the same root.
	v, created := mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "d", Root: root('b')})
	if !created || v.Version != 3 {
		t.Fatalf("after deleting v2: created=%v version %d, want a new version 3", created, v.Version)
	}
	vs, err := ds.ListDatasetVersions(ctx, "d")
	must(t, err)
	if len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 3 {
		t.Fatalf("live versions: got %d, want v1 and v3", len(vs))
	}
}

func testDatasetInvalid(t *testing.T, s Store) {
	ds := datasetStore(t, s)
	for _, tc := range []struct {
		v   loopml.DatasetVersion
		msg string
	}{
		{loopml.DatasetVersion{Root: root('a')}, "dataset name"},
		{loopml.DatasetVersion{Name: "a/b", Root: root('a')}, "a/b"},
		{loopml.DatasetVersion{Name: "d", Root: "sha256:00"}, "root"},
		{loopml.DatasetVersion{Name: "d", Root: root('a'), Labels: map[string]string{"a=b": "c"}}, "label"},
		{loopml.DatasetVersion{Name: "d", Root: root('a'), Schema: "{"}, "schema"},
	} {
		_, _, err := ds.CreateDatasetVersion(ctx, &tc.v)
		wantErr(t, err, loopml.EINVALID, tc.msg)
	}
	_, err := ds.GetDatasetVersion(ctx, loopml.DatasetRef{Name: "../x"})
	wantErr(t, err, loopml.EINVALID, "../x")
}

func testDatasetWorkspaces(t *testing.T, s Store) {
	ds := datasetStore(t, s)
	a := loopml.NewContextWithWorkspace(ctx, "team-a")
	b := loopml.NewContextWithWorkspace(ctx, "team-b")
	if _, _, err := ds.CreateDatasetVersion(a, &loopml.DatasetVersion{Name: "d", Root: root('a')}); err != nil {
		t.Fatal(err)
	}
	v, created, err := ds.CreateDatasetVersion(b, &loopml.DatasetVersion{Name: "d", Root: root('a')})
	must(t, err)
	if !created || v.Version != 1 || v.Workspace != "team-b" {
		t.Fatalf("same name in another workspace: created=%v %+v", created, v)
	}
	list, err := ds.ListDatasets(ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("default workspace lists %d datasets, want 0", len(list))
	}
}

func testDatasetConcurrentCreate(t *testing.T, s Store) {
	ds := datasetStore(t, s)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = ds.CreateDatasetVersion(ctx, &loopml.DatasetVersion{Name: "c", Root: root("0123456789abcdef"[i])})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if loopml.ErrorCode(err) != loopml.ECONFLICT {
			t.Fatalf("concurrent create: %v", err)
		}
	}
	vs, err := ds.ListDatasetVersions(ctx, "c")
	must(t, err)
	if len(vs) != ok {
		t.Fatalf("%d creates succeeded but %d versions exist", ok, len(vs))
	}
	for i, v := range vs {
		if v.Version != i+1 {
			t.Fatalf("versions are not 1..%d: %s", ok, fmt.Sprint(v.Version))
		}
	}
}
