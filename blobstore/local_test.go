package blobstore_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/artifacttest"
	"github.com/loopml/loopml/blobstore"
)

func newLocal(t testing.TB, dir string) *blobstore.Local {
	t.Helper()
	l, err := blobstore.NewLocal(dir)
	if err != nil {
		t.Fatalf("NewLocal(%q): %v", dir, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLocalConformance(t *testing.T) {
	artifacttest.Run(t, func(t *testing.T) loopml.ArtifactStore {
		return newLocal(t, t.TempDir())
	})
}

func code(err error) string { return loopml.ErrorCode(err) }

func TestNewLocal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "artifacts")
	l := newLocal(t, dir)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("NewLocal did not create %q: %v", dir, err)
	}
	if l.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", l.Dir(), dir)
	}
	if _, err := blobstore.NewLocal(""); code(err) != loopml.EINVALID {
		t.Errorf("NewLocal(\"\") err = %v, want EINVALID", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := blobstore.NewLocal(file); err == nil {
		t.Error("NewLocal on a regular file succeeded")
	}
}

func TestLocalWritesUnderRoot(t *testing.T) {
	dir := t.TempDir()
	l := newLocal(t, dir)
	artifacttest.MustPut(t, l, "run1/model/MLmodel", []byte("m"))
	b, err := os.ReadFile(filepath.Join(dir, "run1", "model", "MLmodel"))
	if err != nil || string(b) != "m" {
		t.Fatalf("file on disk = %q, %v; want \"m\"", b, err)
	}
	rc, err := l.Open(context.Background(), "run1/model/MLmodel")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, ok := rc.(*os.File); !ok {
		t.Errorf("Open returned %T, want *os.File", rc)
	}
}

func TestLocalSymlinks(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l := newLocal(t, dir)
	artifacttest.MustPut(t, l, "inside/real.txt", []byte("real"))
	links := map[string]string{
		"dirlink":      outside,
		"filelink":     secret,
		"relative":     "../" + filepath.Base(outside),
		"inside/loop":  "loop",
		"inroot":       filepath.Join(dir, "inside"),
		"inside/dangl": filepath.Join(outside, "missing"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	paths := []string{
		"dirlink", "dirlink/secret.txt", "dirlink/new.txt", "filelink", "relative/secret.txt",
		"inside/loop", "inside/loop/x", "inroot/real.txt", "inside/dangl", "inside/dangl/x",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			if _, err := l.Put(ctx, p, strings.NewReader("pwned")); code(err) != loopml.EINVALID {
				t.Errorf("Put(%q) err = %v, want EINVALID", p, err)
			}
			if rc, err := l.Open(ctx, p); code(err) != loopml.EINVALID {
				if err == nil {
					rc.Close()
				}
				t.Errorf("Open(%q) err = %v, want EINVALID", p, err)
			}
			if _, err := l.Stat(ctx, p); code(err) != loopml.EINVALID {
				t.Errorf("Stat(%q) err = %v, want EINVALID", p, err)
			}
			if _, err := l.List(ctx, p); code(err) != loopml.EINVALID {
				t.Errorf("List(%q) err = %v, want EINVALID", p, err)
			}
			if strings.Contains(p, "/") && !strings.HasPrefix(p, "inside/") {
				if err := l.Delete(ctx, p); code(err) != loopml.EINVALID {
					t.Errorf("Delete(%q) err = %v, want EINVALID", p, err)
				}
			}
		})
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "secret" {
		t.Fatalf("secret = %q, %v; the store wrote outside its root", b, err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Fatalf("outside dir has %d entries, want 1", len(entries))
	}
	// Links are not listed; deleting one removes only the link.
	infos, err := l.List(ctx, "")
	if err != nil || len(infos) != 1 || infos[0].Path != "inside" {
		t.Fatalf("List(\"\") = %+v, %v; want only \"inside\"", infos, err)
	}
	for _, p := range []string{"dirlink", "filelink"} {
		if err := l.Delete(ctx, p); err != nil {
			t.Fatalf("Delete(%q): %v", p, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("link %q still exists: %v", p, err)
		}
	}
	if _, err := os.Stat(secret); err != nil {
		t.Fatalf("deleting a link removed its target: %v", err)
	}
}

func TestLocalReservedTempNames(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t, t.TempDir())
	for _, p := range []string{blobstore.TempPrefix + "x", "a/" + blobstore.TempPrefix + "y/z"} {
		if _, err := l.Put(ctx, p, strings.NewReader("x")); code(err) != loopml.EINVALID {
			t.Errorf("Put(%q) err = %v, want EINVALID", p, err)
		}
		if _, err := l.Stat(ctx, p); code(err) != loopml.EINVALID {
			t.Errorf("Stat(%q) err = %v, want EINVALID", p, err)
		}
	}
}

func TestLocalParentIsFile(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t, t.TempDir())
	artifacttest.MustPut(t, l, "a", []byte("file"))
	if _, err := l.Put(ctx, "a/b", strings.NewReader("x")); code(err) != loopml.EINVALID {
		t.Fatalf("Put under a file err = %v, want EINVALID", err)
	}
	if _, err := l.Put(ctx, "a/b/c", strings.NewReader("x")); code(err) != loopml.EINVALID {
		t.Fatalf("Put two below a file err = %v, want EINVALID", err)
	}
	if infos, err := l.List(ctx, "a"); err != nil || len(infos) != 0 {
		t.Fatalf("List(file) = %+v, %v; want empty", infos, err)
	}
	if got := artifacttest.MustRead(t, l, "a"); string(got) != "file" {
		t.Fatalf("a = %q, want \"file\"", got)
	}
}

// TestLocalCrashLeftovers simulates Puts that crashed before or after
// writing all data (the temporary file exists, the rename never happened):
// the temporary file is invisible, the old content is intact, and NewLocal
// deletes leftovers once they are stale.
func TestLocalCrashLeftovers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := newLocal(t, dir)
	artifacttest.MustPut(t, l, "run/model.bin", []byte("old"))
	old := time.Now().Add(-2 * blobstore.StaleTempAge)
	leftovers := map[string]time.Time{
		"run/" + blobstore.TempPrefix + "crashed1":         old,
		"run/" + blobstore.TempPrefix + "crashed2":         old,
		blobstore.TempPrefix + "atroot":                    old,
		"run/deep/er/" + blobstore.TempPrefix + "crashed3": old,
		"run/" + blobstore.TempPrefix + "inflight":         time.Now(),
	}
	for p, mtime := range leftovers {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("partial da"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := l.List(ctx, "run")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fi := range infos {
		got = append(got, fi.Path)
	}
	if strings.Join(got, ",") != "run/deep,run/model.bin" {
		t.Fatalf("List(run) = %q, want [run/deep run/model.bin]", got)
	}
	if b := artifacttest.MustRead(t, l, "run/model.bin"); string(b) != "old" {
		t.Fatalf("model.bin = %q, want \"old\"", b)
	}

	newLocal(t, dir) // restart
	for p, mtime := range leftovers {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p)))
		if stale := mtime.Equal(old); stale != os.IsNotExist(err) {
			t.Errorf("after restart %q: stale=%v, stat err=%v", p, stale, err)
		}
	}
	if b := artifacttest.MustRead(t, l, "run/model.bin"); string(b) != "old" {
		t.Fatalf("model.bin = %q, want \"old\"", b)
	}
}

// zeroReader yields n zero bytes without allocating.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.n))
	clear(p[:n])
	z.n -= int64(n)
	return n, nil
}

// TestLocalPutMemoryFlat checks that Put's allocations do not grow with the
// size of the content.
func TestLocalPutMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	l := newLocal(t, t.TempDir())
	ctx := context.Background()
	put := func(size int64) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := l.Put(ctx, "mem.bin", &zeroReader{n: size}); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	put(1 << 20) // warm the buffer pool
	small := put(1 << 20)
	large := put(128 << 20)
	// TotalAlloc counts the whole process: leave slack for other tests'
	// allocations and a buffer-pool refill after a GC, far below 128 MiB.
	if large > small+(16<<20) {
		t.Fatalf("Put of 128 MiB allocated %d bytes, 1 MiB allocated %d: memory grows with size", large, small)
	}
}

func benchmarkPutOpen(b *testing.B, size int64) {
	l := newLocal(b, b.TempDir())
	ctx := context.Background()
	b.Run("Put", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Put(ctx, "bench.bin", &zeroReader{n: size}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		if _, err := l.Put(ctx, "bench.bin", &zeroReader{n: size}); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			rc, err := l.Open(ctx, "bench.bin")
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf)
			rc.Close()
			if err != nil || n != size {
				b.Fatalf("read %d, %v", n, err)
			}
		}
	})
}

// BenchmarkLocal64MiB measures Put (with fsync) and Open of a 64 MiB file.
func BenchmarkLocal64MiB(b *testing.B) { benchmarkPutOpen(b, 64<<20) }

// BenchmarkLocal1GiB measures a 1 GiB file; run it alone:
// go test -run '^$' -bench Local1GiB -benchtime 1x ./blobstore
func BenchmarkLocal1GiB(b *testing.B) { benchmarkPutOpen(b, 1<<30) }

// TestLocalBatch checks Local's own batch beyond the conformance suite:
// Local implements loopml.ArtifactBatcher; Sync leaves every object
// complete; and a directory deleted between two Puts of a batch is created
// again.
func TestLocalBatch(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{3, 300} {
		t.Run(fmt.Sprintf("%d files", n), func(t *testing.T) {
			l := newLocal(t, t.TempDir())
			var s loopml.ArtifactStore = l
			if _, ok := s.(loopml.ArtifactBatcher); !ok {
				t.Fatal("Local does not implement loopml.ArtifactBatcher")
			}
			b := loopml.NewArtifactBatch(l)
			for i := range n {
				p := fmt.Sprintf("cas/objects/%02x/%d", i%5, i)
				if _, err := b.Put(ctx, p, strings.NewReader(strings.Repeat("x", i))); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				p := fmt.Sprintf("cas/objects/%02x/%d", i%5, i)
				if got := artifacttest.MustRead(t, l, p); len(got) != i {
					t.Fatalf("%s holds %d bytes, want %d", p, len(got), i)
				}
			}
		})
	}
	t.Run("directory deleted meanwhile", func(t *testing.T) {
		l := newLocal(t, t.TempDir())
		b := l.NewArtifactBatch()
		if _, err := b.Put(ctx, "d/e/one", strings.NewReader("1")); err != nil {
			t.Fatal(err)
		}
		if err := l.Delete(ctx, "d"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Put(ctx, "d/e/two", strings.NewReader("2")); err != nil {
			t.Fatalf("Put after its directory was deleted: %v", err)
		}
		if err := b.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if got := artifacttest.MustRead(t, l, "d/e/two"); string(got) != "2" {
			t.Fatalf("d/e/two = %q", got)
		}
	})
	t.Run("symbolic link target", func(t *testing.T) {
		dir := t.TempDir()
		l := newLocal(t, dir)
		b := l.NewArtifactBatch()
		if _, err := b.Put(ctx, "d/one", strings.NewReader("1")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(dir, "d", "one"), filepath.Join(dir, "d", "link")); err != nil {
			t.Skip(err)
		}
		_, err := b.Put(ctx, "d/link", strings.NewReader("2"))
		if code(err) != loopml.EINVALID {
			t.Fatalf("batch Put over a symbolic link = %v, want EINVALID", err)
		}
	})
}
