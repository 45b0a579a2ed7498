package datasets_test

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
)

// countingStore counts the Opens of each path of the store it wraps.
type countingStore struct {
	loopml.ArtifactStore
	mu    sync.Mutex
	opens map[string]int
}

func (s *countingStore) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	s.mu.Lock()
	s.opens[p]++
	s.mu.Unlock()
	return s.ArtifactStore.Open(ctx, p)
}

func (s *countingStore) count(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens[p]
}

// TestAddProfilesLocalFiles: an add profiles (and validates) its tabular
// files from the local files it was given, not from the stored copies it
// just uploaded, which over HTTP would be downloaded again.
func TestAddProfilesLocalFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules string
	}{
		{"profile", ""},
		{"validate", "files: [sales.csv]\nrow_count: {min: 1}\ncolumns:\n  amount: {not_null: true}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := newDeps(t)
			d.IndexDir = "" // every file is read while hashing
			cs := &countingStore{ArtifactStore: d.Artifacts, opens: map[string]int{}}
			d.Artifacts = cs
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"sales.csv": table(2000, 50, []string{"de", "fr"}, 1), "sub/more.tsv": "a\tb\n1\t2\n3\t4\n", "notes.txt": "x"})
			res := mustAdd(t, d, "sales", []string{dir}, datasets.AddOptions{Workers: 1, Rules: tc.rules})
			if tc.rules != "" && (res.Validation == nil || res.Validation.Status != loopml.ValidationPassed) {
				t.Fatalf("validation %+v", res.Validation)
			}
			m, err := datasets.Manifest(ctx, d, res.Version)
			if err != nil {
				t.Fatal(err)
			}
			tabular := 0
			for _, e := range m.Entries {
				if e.Dir || !datasets.Tabular(e.Path) {
					continue
				}
				tabular++
				if n := cs.count(e.Digest.ObjectPath()); n != 0 {
					t.Errorf("%s: its stored object was opened %d times, want 0 (the local file is read)", e.Path, n)
				}
			}
			if tabular < 2 {
				t.Fatalf("%d tabular files in the manifest, want sales.csv and sub/more.tsv", tabular)
			}
			ps, err := datasets.Profiles(ctx, d, res.Version)
			if err != nil {
				t.Fatal(err)
			}
			if p := ps["sales.csv"]; p == nil || p.Rows() != 2000 {
				t.Fatalf("profile of sales.csv: %+v", p)
			}
			if p := ps["sub/more.tsv"]; p == nil || p.Rows() != 2 {
				t.Fatalf("profile of sub/more.tsv: %+v", p)
			}
			// Reading a version back (here its profile) goes through the store.
			if cs.count(res.Version.ProfileRef) == 0 {
				t.Error("the profile was not read from the store")
			}
		})
	}
}
