package datasets

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/cas"
	"github.com/loopml/loopml/profile"
)

// TestLocalFileChanged: a local file changed after the add is noticed by
// its digest; profiling falls back to the stored copy and a validation
// input marks the change (validateNew then checks the stored copies).
func TestLocalFileChanged(t *testing.T) {
	ctx := context.Background()
	arts, err := blobstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arts.Close() })
	d := Deps{Artifacts: arts}
	dir := t.TempDir()
	file := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(file, []byte("a,b\n1,2\n3,4\n5,6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	local := new(localFiles)
	m, _, err := cas.Add(ctx, arts, []string{dir}, cas.AddOptions{LocalFile: local.record})
	if err != nil {
		t.Fatal(err)
	}
	e := m.Entries[0]
	if local.of(e) != file {
		t.Fatalf("local file of %s: %q, want %q", e.Path, local.of(e), file)
	}
	if err := os.WriteFile(file, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := profileAdded(ctx, d, local, e, profile.Options{Workers: 1})
	if err != nil || p.Rows() != 3 {
		t.Fatalf("profile after the file changed: %v rows, %v; want the 3 stored rows", p, err)
	}
	rc, err := local.open(ctx, d, e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); err == nil {
		t.Error("reading the changed local file succeeded")
	}
	rc.Close()
	if !local.changed.Load() {
		t.Error("the change was not recorded")
	}
	// Gone: open reads the stored copy.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	rc, err = local.open(ctx, d, e)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, err := io.ReadAll(rc); err != nil || string(b) != "a,b\n1,2\n3,4\n5,6\n" {
		t.Fatalf("stored copy: %q, %v", b, err)
	}
}
