package blobstore

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestSyncEach covers the fsync-by-file path that Sync uses where syncfs
// is not available: files and directories are synced, a file deleted
// meanwhile is skipped, and a cancelled context stops it.
func TestSyncEach(t *testing.T) {
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	b := l.NewArtifactBatch().(*localBatch)
	var files []string
	for _, p := range []string{"a/x", "a/y", "b/c/z", "gone/f"} {
		if _, err := b.Put(ctx, p, strings.NewReader(p)); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	if err := l.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if len(b.files) != 4 || !b.dirs["a"] || !b.dirs["b/c"] || !b.dirs[""] {
		t.Fatalf("recorded files %v, dirs %v", b.files, b.dirs)
	}
	if err := l.syncEach(ctx, files, b.dirs); err != nil {
		t.Fatalf("syncEach: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.syncEach(cctx, files, b.dirs); !errors.Is(err, context.Canceled) {
		t.Fatalf("syncEach with a cancelled context = %v", err)
	}
}
