package cas_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/cas"
)

// newStore returns a real local artifact store in a temporary directory.
func newStore(t *testing.T) *blobstore.Local {
	t.Helper()
	s, err := blobstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// writeFiles creates files (path → content) below dir with old
// modification times, so that the index may record them (see RacyWindow).
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// age sets a file's times an hour back.
func age(t *testing.T, p string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
}

func mustAdd(t *testing.T, s loopml.ArtifactStore, paths []string, opts cas.AddOptions) (cas.Manifest, cas.Stats) {
	t.Helper()
	m, st, err := cas.Add(context.Background(), s, paths, opts)
	if err != nil {
		t.Fatalf("Add(%v) = %v", paths, err)
	}
	return m, st
}

// objectCount counts the objects in the store.
func objectCount(t *testing.T, s *blobstore.Local) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(s.Dir(), "cas", "objects"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return n
}

func TestAddDedupAcrossFilesAndDatasets(t *testing.T) {
	s := newStore(t)
	d1, d2 := t.TempDir(), t.TempDir()
	writeFiles(t, d1, map[string]string{"a.csv": "same content", "sub/b.csv": "same content", "c.csv": "other"})
	writeFiles(t, d2, map[string]string{"copy.csv": "same content"})

	m1, st1 := mustAdd(t, s, []string{d1}, cas.AddOptions{})
	// Objects: 2 contents + 2 trees (root, sub).
	if st1.ObjectsUploaded != 4 || objectCount(t, s) != 4 {
		t.Fatalf("first add uploaded %d objects, store holds %d; want 4 and 4", st1.ObjectsUploaded, objectCount(t, s))
	}
	if st1.Files != 3 || st1.Dirs != 1 || m1.Files != 3 || m1.Size != int64(len("same content")*2+len("other")) {
		t.Fatalf("stats %+v, manifest files=%d size=%d", st1, m1.Files, m1.Size)
	}
	_, st2 := mustAdd(t, s, []string{d2}, cas.AddOptions{})
	if st2.ObjectsUploaded != 1 || st2.ObjectsSkipped != 1 {
		t.Fatalf("second dataset: uploaded %d, skipped %d; want 1 (its root tree) and 1 (the shared content)", st2.ObjectsUploaded, st2.ObjectsSkipped)
	}
	if got := objectCount(t, s); got != 5 {
		t.Fatalf("store holds %d objects, want 5", got)
	}
}

// chunkDigests returns the set of chunk digests of the one file in m.
func chunkSet(t *testing.T, m cas.Manifest) map[cas.Digest]bool {
	t.Helper()
	set := make(map[cas.Digest]bool)
	for _, e := range m.Entries {
		for _, c := range e.Chunks {
			set[c.Digest] = true
		}
	}
	return set
}

func TestAddLargeFileAppendStoresOnlyTail(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "big.bin")
	data := randBytes(10, 40<<20)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m1, st1 := mustAdd(t, s, []string{p}, cas.AddOptions{})
	e := m1.Entries[0]
	if e.Path != "big.bin" || len(e.Chunks) < 5 || e.Digest != cas.Sum(data) {
		t.Fatalf("entry %q has %d chunks, digest ok=%v; want big.bin, several chunks, the content digest", e.Path, len(e.Chunks), e.Digest == cas.Sum(data))
	}
	if st1.BytesUploaded < int64(len(data)) {
		t.Fatalf("first add uploaded %d bytes, want at least %d", st1.BytesUploaded, len(data))
	}

	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(randBytes(11, 1<<20)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	m2, st2 := mustAdd(t, s, []string{p}, cas.AddOptions{})
	// Only the last chunk (at most Max) and the appended MiB may change.
	if limit := int64(cas.DefaultMaxChunk + 1<<20 + 1<<16); st2.BytesUploaded > limit {
		t.Fatalf("append re-add uploaded %d bytes, want at most %d", st2.BytesUploaded, limit)
	}
	old := chunkSet(t, m1)
	var reused int
	for _, c := range m2.Entries[0].Chunks {
		if old[c.Digest] {
			reused++
		}
	}
	if reused < len(m1.Entries[0].Chunks)-1 {
		t.Fatalf("reused %d of %d old chunks, want all but the last", reused, len(m1.Entries[0].Chunks))
	}
	if m2.Root == m1.Root {
		t.Fatal("root unchanged after an append")
	}
}

func TestAddLargeFileEditInMiddle(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "big.bin")
	data := randBytes(12, 40<<20)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m1, _ := mustAdd(t, s, []string{p}, cas.AddOptions{})
	copy(data[20<<20:], "an edit in the middle of the file")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m2, st2 := mustAdd(t, s, []string{p}, cas.AddOptions{})
	if limit := int64(2*cas.DefaultMaxChunk + 1<<16); st2.BytesUploaded > limit {
		t.Fatalf("edit re-add uploaded %d bytes, want at most %d", st2.BytesUploaded, limit)
	}
	old := chunkSet(t, m1)
	var fresh int
	for _, c := range m2.Entries[0].Chunks {
		if !old[c.Digest] {
			fresh++
		}
	}
	if fresh == 0 || fresh > 2 {
		t.Fatalf("%d new chunks after an edit in one place, want 1 or 2", fresh)
	}
	if m2.Entries[0].Digest != cas.Sum(data) {
		t.Fatal("file digest is not the digest of the edited content")
	}
}

func TestAddUnchangedTreeWithIndex(t *testing.T) {
	s := newStore(t)
	dir, idx := t.TempDir(), t.TempDir()
	files := map[string]string{"a": "1", "b/c": "22", "b/d/e": "333", "big": string(randBytes(13, 3<<20))}
	writeFiles(t, dir, files)
	opts := cas.AddOptions{IndexDir: idx}
	m1, st1 := mustAdd(t, s, []string{dir}, opts)
	if st1.IndexHits != 0 || st1.BytesHashed == 0 {
		t.Fatalf("first add: %+v", st1)
	}
	m2, st2 := mustAdd(t, s, []string{dir}, opts)
	if m2.Root != m1.Root || !reflect.DeepEqual(m1, m2) {
		t.Fatalf("re-add gave another version: %v vs %v", m2.Root, m1.Root)
	}
	want := cas.Stats{Files: 4, Dirs: 2, IndexHits: 4, ObjectsSkipped: 1}
	st2.SyncTime = 0 // a timing, not a count
	if st2 != want {
		t.Fatalf("re-add stats = %+v, want %+v (nothing read, nothing uploaded, one Stat of the root)", st2, want)
	}

	// Without the index the files are read again, but nothing is uploaded.
	m3, st3 := mustAdd(t, s, []string{dir}, cas.AddOptions{})
	if m3.Root != m1.Root || st3.ObjectsUploaded != 0 || st3.BytesHashed != m1.Size {
		t.Fatalf("re-add without index: root %v, stats %+v", m3.Root, st3)
	}

	// A changed file is rehashed even if its size is the same.
	writeFiles(t, dir, map[string]string{"b/c": "xy"})
	m4, st4 := mustAdd(t, s, []string{dir}, opts)
	if st4.IndexHits != 3 || st4.BytesHashed != 2 || m4.Root == m1.Root {
		t.Fatalf("after editing b/c: hits %d, hashed %d, root changed %v", st4.IndexHits, st4.BytesHashed, m4.Root != m1.Root)
	}
	if d := cas.DiffManifests(m1, m4); !reflect.DeepEqual(d, cas.Diff{Changed: []string{"b/c"}}) {
		t.Fatalf("diff = %+v", d)
	}
}

func TestAddIndexedObjectsMissingFromStore(t *testing.T) {
	// The index is per machine, the store may be another one: a file known
	// from the index whose objects are missing is read and uploaded again.
	dir, idx := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{"a": "alpha", "b/c": string(randBytes(14, 100_000))})
	opts := cas.AddOptions{IndexDir: idx, Chunking: small}
	m1, _ := mustAdd(t, newStore(t), []string{dir}, opts)
	s2 := newStore(t)
	m2, st := mustAdd(t, s2, []string{dir}, opts)
	if m2.Root != m1.Root || st.IndexHits != 2 || st.ObjectsUploaded == 0 {
		t.Fatalf("second store: root equal %v, stats %+v", m2.Root == m1.Root, st)
	}
	if err := cas.Verify(context.Background(), s2, m2); err != nil {
		t.Fatal(err)
	}
}

func TestIndexCorruptIsIgnored(t *testing.T) {
	s := newStore(t)
	dir, idx := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{"a": "alpha", "b": "beta"})
	opts := cas.AddOptions{IndexDir: idx}
	m1, _ := mustAdd(t, s, []string{dir}, opts)
	ip := filepath.Join(idx, cas.IndexFile)
	b, err := os.ReadFile(ip)
	if err != nil {
		t.Fatalf("index not written: %v", err)
	}
	for _, bad := range [][]byte{[]byte("garbage"), append(append([]byte(nil), b[:len(b)/2]...), b[len(b)/2+1:]...), flip(b, len(b)/2)} {
		if err := os.WriteFile(ip, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		m2, st := mustAdd(t, s, []string{dir}, opts)
		if m2.Root != m1.Root || st.IndexHits != 0 || st.BytesHashed != m1.Size {
			t.Fatalf("with a corrupt index: root equal %v, stats %+v; want a full rehash", m2.Root == m1.Root, st)
		}
		if _, st := mustAdd(t, s, []string{dir}, opts); st.IndexHits != 2 {
			t.Fatalf("index not rebuilt: %+v", st)
		}
	}
}

// flip returns a copy of b with byte i inverted.
func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0xff
	return c
}

// failingStore fails every Put after the first n, optionally cancelling.
type failingStore struct {
	loopml.ArtifactStore
	n      int64
	puts   atomic.Int64
	cancel context.CancelFunc
}

func (f *failingStore) Put(ctx context.Context, p string, r io.Reader) (int64, error) {
	if f.puts.Add(1) > f.n {
		if f.cancel != nil {
			f.cancel()
			return 0, ctx.Err()
		}
		return 0, loopml.Errorf(loopml.EUNAVAILABLE, "no space left in the artifact store")
	}
	return f.ArtifactStore.Put(ctx, p, r)
}

func TestAddInterruptedThenResumed(t *testing.T) {
	for _, mode := range []string{"store error", "cancel"} {
		t.Run(mode, func(t *testing.T) {
			s := newStore(t)
			dir := t.TempDir()
			files := map[string]string{}
			for i := range 40 {
				files[filepath.Join("d"+string(rune('a'+i%4)), "f"+string(rune('a'+i)))] = string(randBytes(uint64(100+i), 1000+i))
			}
			writeFiles(t, dir, files)
			want, _ := mustAdd(t, newStore(t), []string{dir}, cas.AddOptions{}) // the root to expect

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			fs := &failingStore{ArtifactStore: s, n: 20}
			if mode == "cancel" {
				fs.cancel = cancel
			}
			_, st, err := cas.Add(ctx, fs, []string{dir}, cas.AddOptions{Workers: 3})
			if err == nil {
				t.Fatal("interrupted Add succeeded")
			}
			if _, err := s.Stat(context.Background(), want.Root.ObjectPath()); loopml.ErrorCode(err) != loopml.ENOTFOUND {
				t.Fatalf("root tree present after an interrupted add (err %v)", err)
			}
			if st.ObjectsUploaded > 20 {
				t.Fatalf("stats count %d uploads, only 20 succeeded", st.ObjectsUploaded)
			}
			stored := objectCount(t, s)
			if stored == 0 || stored > 20 {
				t.Fatalf("store holds %d objects after the interruption, want 1..20", stored)
			}

			m, st2 := mustAdd(t, s, []string{dir}, cas.AddOptions{})
			if m.Root != want.Root {
				t.Fatal("resumed add gave another root")
			}
			if st2.ObjectsSkipped != int64(stored) {
				t.Fatalf("resumed add skipped %d objects, want the %d already stored", st2.ObjectsSkipped, stored)
			}
			if err := cas.Verify(context.Background(), s, m); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerifyAndCheckoutDetectCorruption(t *testing.T) {
	for _, kind := range []string{"whole file", "chunk"} {
		t.Run(kind, func(t *testing.T) {
			s := newStore(t)
			dir := t.TempDir()
			content := "small file content"
			if kind == "chunk" {
				content = string(randBytes(20, 200_000))
			}
			writeFiles(t, dir, map[string]string{"data/x.bin": content, "ok.txt": "fine"})
			m, _ := mustAdd(t, s, []string{dir}, cas.AddOptions{Chunking: small})
			var e cas.Entry
			for _, x := range m.Entries {
				if x.Path == "data/x.bin" {
					e = x
				}
			}
			obj := e.Objects()[len(e.Objects())/2].Digest
			if (kind == "chunk") != (len(e.Chunks) > 1) {
				t.Fatalf("entry has %d chunks", len(e.Chunks))
			}
			p := filepath.Join(s.Dir(), filepath.FromSlash(obj.ObjectPath()))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, flip(b, len(b)/3), 0o644); err != nil {
				t.Fatal(err)
			}

			checkErr := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, cas.ErrCorrupt) || loopml.ErrorCode(err) != loopml.EINTERNAL {
					t.Fatalf("%s error = %v, want EINTERNAL wrapping ErrCorrupt", what, err)
				}
				msg := loopml.ErrorMessage(err)
				if !strings.Contains(msg, "object "+obj.String()+" is corrupt (digest mismatch)") || !strings.Contains(msg, "data/x.bin") {
					t.Fatalf("%s message %q does not name the object and the path", what, msg)
				}
			}
			checkErr("Verify", cas.Verify(context.Background(), s, m))
			dest := t.TempDir()
			checkErr("Checkout", cas.Checkout(context.Background(), s, m, dest))
			if _, err := os.Stat(filepath.Join(dest, "data", "x.bin")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("corrupt file written to the destination (stat err %v)", err)
			}
			leftovers, _ := os.ReadDir(filepath.Join(dest, "data"))
			if len(leftovers) != 0 {
				t.Fatalf("checkout left %v behind", leftovers)
			}
			r, err := cas.OpenFile(context.Background(), s, e)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(io.Discard, r)
			r.Close()
			checkErr("OpenFile", err)

			// A missing object is ENOTFOUND, naming it too.
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			err = cas.Verify(context.Background(), s, m)
			if loopml.ErrorCode(err) != loopml.ENOTFOUND || !strings.Contains(loopml.ErrorMessage(err), obj.String()) {
				t.Fatalf("Verify with a missing object = %v", err)
			}
		})
	}
}

func TestCorruptTreeObject(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"sub/a": "a"})
	m, _ := mustAdd(t, s, []string{dir}, cas.AddOptions{})
	var sub cas.Digest
	for _, e := range m.Entries {
		if e.Path == "sub" {
			sub = e.Digest
		}
	}
	p := filepath.Join(s.Dir(), filepath.FromSlash(sub.ObjectPath()))
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, flip(b, 5), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := cas.LoadManifest(context.Background(), s, m.Root)
	if !errors.Is(err, cas.ErrCorrupt) || !strings.Contains(loopml.ErrorMessage(err), sub.String()) {
		t.Fatalf("LoadManifest with a corrupt tree = %v", err)
	}
	if err := cas.Verify(context.Background(), s, m); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("Verify with a corrupt tree = %v", err)
	}
}

func TestDeterministicRoot(t *testing.T) {
	s := newStore(t)
	files := map[string]string{"z": "last", "a/b": "1", "a/c": "2", "m/n/o": "deep"}
	d1, d2 := t.TempDir(), t.TempDir()
	writeFiles(t, d1, files)
	// Create the second tree in another order, with other file times.
	for _, p := range []string{"m/n/o", "a/c", "z", "a/b"} {
		full := filepath.Join(d2, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m1, _ := mustAdd(t, s, []string{d1}, cas.AddOptions{Workers: 1})
	m2, _ := mustAdd(t, newStore(t), []string{d2}, cas.AddOptions{Workers: 8})
	if m1.Root != m2.Root {
		t.Fatalf("same tree, different roots: %v, %v", m1.Root, m2.Root)
	}
	// The mode is part of the version.
	if err := os.Chmod(filepath.Join(d2, "z"), 0o755); err != nil {
		t.Fatal(err)
	}
	m3, _ := mustAdd(t, s, []string{d2}, cas.AddOptions{})
	if m3.Root == m1.Root {
		t.Fatal("a mode change did not change the root")
	}
	if d := cas.DiffManifests(m1, m3); !reflect.DeepEqual(d.Changed, []string{"z"}) {
		t.Fatalf("diff = %+v", d)
	}
}

func TestCheckoutRoundTrip(t *testing.T) {
	s := newStore(t)
	src := t.TempDir()
	files := map[string]string{
		"empty":                   "",
		"données/日本語.csv":         "unicode,names\n",
		"emoji 🎉.txt":             "party",
		"nested/deep/chunked.bin": string(randBytes(30, 300_000)),
		"nested/dup.bin":          string(randBytes(30, 300_000)),
	}
	writeFiles(t, src, files)
	for _, d := range []string{"empty-dir", "nested/empty"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "emoji 🎉.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, _ := mustAdd(t, s, []string{src}, cas.AddOptions{Chunking: small})

	loaded, err := cas.LoadManifest(context.Background(), s, m.Root)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, m) {
		t.Fatalf("LoadManifest differs from Add's manifest:\n%+v\n%+v", loaded, m)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if err := cas.Checkout(context.Background(), s, loaded, dest); err != nil {
		t.Fatal(err)
	}
	for p, c := range files {
		b, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(p)))
		if err != nil || string(b) != c {
			t.Fatalf("checked-out %q: err %v, content equal %v", p, err, string(b) == c)
		}
	}
	for _, d := range []string{"empty-dir", "nested/empty"} {
		if fi, err := os.Stat(filepath.Join(dest, d)); err != nil || !fi.IsDir() {
			t.Fatalf("empty directory %q not restored: %v", d, err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dest, "emoji 🎉.txt")); fi.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v, want 0755", fi.Mode().Perm())
	}
	// Adding the checkout gives the same version.
	m2, _ := mustAdd(t, s, []string{dest}, cas.AddOptions{Chunking: small})
	if m2.Root != m.Root {
		t.Fatal("re-adding a checkout gives another root")
	}
}

func TestAddSymlinks(t *testing.T) {
	s := newStore(t)
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	writeFiles(t, dir, map[string]string{"real.txt": "real"})
	if err := os.Symlink("real.txt", filepath.Join(dir, "link.txt")); err != nil {
		t.Skipf("symlinks not supported: %v", err)
	}
	if err := os.Symlink(base, filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}
	m, st := mustAdd(t, s, []string{dir}, cas.AddOptions{})
	if st.Skipped != 2 || st.Files != 1 || len(m.Entries) != 1 || m.Entries[0].Path != "real.txt" {
		t.Fatalf("stats %+v, entries %+v; want the links skipped", st, m.Entries)
	}
	// A symbolic link given as an argument is followed.
	alias := filepath.Join(base, "alias")
	if err := os.Symlink(dir, alias); err != nil {
		t.Fatal(err)
	}
	m2, _ := mustAdd(t, s, []string{alias}, cas.AddOptions{})
	if m2.Root != m.Root {
		t.Fatal("adding through a linked directory gives another root")
	}
}

func TestAddArguments(t *testing.T) {
	base := t.TempDir()
	writeFiles(t, base, map[string]string{"d/a.csv": "a", "d/b.csv": "b", "d/c.txt": "c", "d/sub/x.csv": "x", "e/a.csv": "other a"})
	j := func(p string) string { return filepath.Join(base, filepath.FromSlash(p)) }
	paths := func(m cas.Manifest) []string {
		var out []string
		for _, e := range m.Entries {
			out = append(out, e.Path)
		}
		return out
	}
	tests := []struct {
		name string
		args []string
		want []string
		code string
	}{
		{"directory contributes its contents", []string{j("d")}, []string{"a.csv", "b.csv", "c.txt", "sub", "sub/x.csv"}, ""},
		{"file under its base name", []string{j("d/sub/x.csv")}, []string{"x.csv"}, ""},
		{"glob", []string{j("d/*.csv")}, []string{"a.csv", "b.csv"}, ""},
		{"glob matching a directory", []string{j("d/s*")}, []string{"sub", "sub/x.csv"}, ""},
		{"several", []string{j("d/c.txt"), j("d/sub")}, []string{"c.txt", "x.csv"}, ""},
		{"no match", []string{j("d/*.parquet")}, nil, loopml.ENOTFOUND},
		{"missing", []string{j("nope")}, nil, loopml.ENOTFOUND},
		{"same path twice", []string{j("d/a.csv"), j("e/a.csv")}, nil, loopml.EINVALID},
		{"no paths", nil, nil, loopml.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, err := cas.Add(context.Background(), newStore(t), tt.args, cas.AddOptions{})
			if tt.code != "" {
				if loopml.ErrorCode(err) != tt.code {
					t.Fatalf("Add error = %v, want code %q", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := paths(m); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("paths = %v, want %v", got, tt.want)
			}
		})
	}
	// "d" and "d/*" are the same version.
	s := newStore(t)
	m1, _ := mustAdd(t, s, []string{j("d")}, cas.AddOptions{})
	m2, _ := mustAdd(t, s, []string{j("d/*")}, cas.AddOptions{})
	if m1.Root != m2.Root {
		t.Fatal(`"d" and "d/*" give different roots`)
	}
}

func TestCheckoutRejectsUnsafePaths(t *testing.T) {
	s := newStore(t)
	for _, p := range []string{"../escape", "/abs", "a/../../b", ""} {
		m := cas.Manifest{Entries: []cas.Entry{{Path: p, Digest: cas.Sum(nil)}}}
		if err := cas.Checkout(context.Background(), s, m, t.TempDir()); loopml.ErrorCode(err) != loopml.EINVALID {
			t.Errorf("Checkout of path %q = %v, want EINVALID", p, err)
		}
	}
}
