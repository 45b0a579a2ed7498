// Package artifacttest is the conformance suite for loopml.ArtifactStore
// implementations, in the style of lakeFS's blocktest: every backend's test
// calls Run with a constructor of empty stores, and passes the same cases.
// Run also checks loopml.NewArtifactBatch on every store: the store's own
// batch when it implements loopml.ArtifactBatcher, else the fallback.
// It imports only the root package, testing and the standard library.
package artifacttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/loopml/loopml"
)

// Run runs the suite. open must return a new, empty store for each call and
// arrange its cleanup with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) loopml.ArtifactStore) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("Seek", func(t *testing.T) { testSeek(t, open(t)) })
	t.Run("CleanPaths", func(t *testing.T) { testCleanPaths(t, open(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, open(t)) })
	t.Run("Stat", func(t *testing.T) { testStat(t, open(t)) })
	t.Run("List", func(t *testing.T) { testList(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("InvalidPaths", func(t *testing.T) { testInvalidPaths(t, open) })
	t.Run("PutOnDirectory", func(t *testing.T) { testPutOnDirectory(t, open(t)) })
	t.Run("OpenErrors", func(t *testing.T) { testOpenErrors(t, open(t)) })
	t.Run("ConcurrentPuts", func(t *testing.T) { testConcurrentPuts(t, open(t)) })
	t.Run("Large", func(t *testing.T) { testLarge(t, open(t)) })
	t.Run("CancelledPut", func(t *testing.T) { testCancelledPut(t, open(t)) })
	t.Run("FailedReader", func(t *testing.T) { testFailedReader(t, open(t)) })
	t.Run("Batch", func(t *testing.T) { runBatch(t, open) })
}

// requireCode fails unless err carries the given loopml error code.
func requireCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if got := loopml.ErrorCode(err); got != code {
		t.Fatalf("%s: error code %q (err %v), want %q", what, got, err, code)
	}
}

// MustPut writes content to p and checks the returned size.
func MustPut(t *testing.T, s loopml.ArtifactStore, p string, content []byte) {
	t.Helper()
	n, err := s.Put(context.Background(), p, bytes.NewReader(content))
	if err != nil {
		t.Fatalf("Put(%q): %v", p, err)
	}
	if n != int64(len(content)) {
		t.Fatalf("Put(%q) = %d bytes, want %d", p, n, len(content))
	}
}

// MustRead returns the content of p.
func MustRead(t *testing.T, s loopml.ArtifactStore, p string) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), p)
	if err != nil {
		t.Fatalf("Open(%q): %v", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", p, err)
	}
	return b
}

// tree lists every path below dir, depth first, as "path" for files and
// "path/" for directories.
func tree(t *testing.T, s loopml.ArtifactStore, dir string) []string {
	t.Helper()
	infos, err := s.List(context.Background(), dir)
	if err != nil {
		t.Fatalf("List(%q): %v", dir, err)
	}
	var out []string
	for _, fi := range infos {
		if fi.IsDir {
			out = append(out, fi.Path+"/")
			out = append(out, tree(t, s, fi.Path)...)
		} else {
			out = append(out, fi.Path)
		}
	}
	return out
}

func binary() []byte {
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func testRoundTrip(t *testing.T, s loopml.ArtifactStore) {
	tests := []struct {
		name, path string
		content    []byte
	}{
		{"empty", "empty.txt", nil},
		{"text", "model/MLmodel", []byte("artifact_path: model\nflavors: {}\n")},
		{"binary", "model/weights.bin", binary()},
		{"unicode", "unicode/ünïcödé ✓ 模型.txt", []byte("héllo")},
		{"spaces", "with space/a b.txt", []byte("spaces")},
		{"nested", "deep/a/b/c/d/e/f.json", []byte("{}")},
		{"hidden", "dots/.hidden", []byte("h")},
		{"dots in names", "dots/a..b/c...txt", []byte("d")},
		{"no extension", "README", []byte("r")},
		{"NUL byte content", "nul.bin", []byte{0, 0, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			MustPut(t, s, tt.path, tt.content)
			if got := MustRead(t, s, tt.path); !bytes.Equal(got, tt.content) {
				t.Fatalf("Open(%q) read %d bytes %q, want %d bytes", tt.path, len(got), trunc(got), len(tt.content))
			}
			fi, err := s.Stat(context.Background(), tt.path)
			if err != nil {
				t.Fatalf("Stat(%q): %v", tt.path, err)
			}
			if fi.Path != tt.path || fi.IsDir || fi.Size != int64(len(tt.content)) {
				t.Fatalf("Stat(%q) = %+v, want file of %d bytes", tt.path, fi, len(tt.content))
			}
			if fi.ModTime.IsZero() {
				t.Errorf("Stat(%q).ModTime is zero", tt.path)
			}
		})
	}
}

func trunc(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

func testSeek(t *testing.T, s loopml.ArtifactStore) {
	MustPut(t, s, "seek.txt", []byte("0123456789"))
	rc, err := s.Open(context.Background(), "seek.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sk, ok := rc.(io.Seeker)
	if !ok {
		t.Skip("reader does not implement io.Seeker (allowed by the contract)")
	}
	if _, err := sk.Seek(6, io.SeekStart); err != nil {
		t.Fatalf("Seek: %v", err)
	}
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "6789" {
		t.Fatalf("after Seek(6) read %q, %v; want \"6789\"", b, err)
	}
}

func testCleanPaths(t *testing.T, s loopml.ArtifactStore) {
	MustPut(t, s, "./a/./b.txt", []byte("x"))
	if got := MustRead(t, s, "a/b.txt"); string(got) != "x" {
		t.Fatalf("read %q, want x", got)
	}
	fi, err := s.Stat(context.Background(), "a/")
	if err != nil || fi.Path != "a" || !fi.IsDir {
		t.Fatalf("Stat(\"a/\") = %+v, %v; want directory \"a\"", fi, err)
	}
	infos, err := s.List(context.Background(), "./a/")
	if err != nil || len(infos) != 1 || infos[0].Path != "a/b.txt" {
		t.Fatalf("List(\"./a/\") = %+v, %v; want [a/b.txt]", infos, err)
	}
}

func testOverwrite(t *testing.T, s loopml.ArtifactStore) {
	MustPut(t, s, "f.txt", []byte("version one, long"))
	MustPut(t, s, "f.txt", []byte("v2"))
	if got := MustRead(t, s, "f.txt"); string(got) != "v2" {
		t.Fatalf("after overwrite read %q, want \"v2\"", got)
	}
	MustPut(t, s, "f.txt", nil)
	if got := MustRead(t, s, "f.txt"); len(got) != 0 {
		t.Fatalf("after overwrite with empty read %q, want empty", got)
	}
	if got := tree(t, s, ""); strings.Join(got, ",") != "f.txt" {
		t.Fatalf("tree = %q, want [f.txt]", got)
	}
}

func testStat(t *testing.T, s loopml.ArtifactStore) {
	ctx := context.Background()
	MustPut(t, s, "dir/sub/file.txt", []byte("12345"))
	tests := []struct {
		path  string
		want  loopml.ArtifactInfo
		code  string
		label string
	}{
		{path: "dir/sub/file.txt", want: loopml.ArtifactInfo{Path: "dir/sub/file.txt", Size: 5}},
		{path: "dir", want: loopml.ArtifactInfo{Path: "dir", IsDir: true}},
		{path: "dir/sub", want: loopml.ArtifactInfo{Path: "dir/sub", IsDir: true}},
		{path: "", want: loopml.ArtifactInfo{Path: "", IsDir: true}},
		{path: "missing", code: loopml.ENOTFOUND},
		{path: "dir/missing.txt", code: loopml.ENOTFOUND},
		{path: "dir/sub/file.txt/below", code: loopml.ENOTFOUND},
		{path: "dir/sub/file", code: loopml.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			fi, err := s.Stat(ctx, tt.path)
			if tt.code != "" {
				requireCode(t, err, tt.code, fmt.Sprintf("Stat(%q)", tt.path))
				return
			}
			if err != nil {
				t.Fatalf("Stat(%q): %v", tt.path, err)
			}
			fi.ModTime = tt.want.ModTime
			if fi != tt.want {
				t.Fatalf("Stat(%q) = %+v, want %+v", tt.path, fi, tt.want)
			}
		})
	}
}

func testList(t *testing.T, s loopml.ArtifactStore) {
	ctx := context.Background()
	for _, p := range []string{"b.txt", "a.txt", "C.txt", "a b.txt", "a-b.txt", "dir/x.txt", "dir/sub/y.txt", "dir/a.txt", "z/1"} {
		MustPut(t, s, p, []byte(p))
	}
	tests := []struct {
		dir  string
		want []string // "path" or "path/" for directories
	}{
		{"", []string{"C.txt", "a b.txt", "a-b.txt", "a.txt", "b.txt", "dir/", "z/"}},
		{"dir", []string{"dir/a.txt", "dir/sub/", "dir/x.txt"}},
		{"dir/sub", []string{"dir/sub/y.txt"}},
		{"missing", nil},
		{"dir/missing/deeper", nil},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			infos, err := s.List(ctx, tt.dir)
			if err != nil {
				t.Fatalf("List(%q): %v", tt.dir, err)
			}
			var got []string
			for _, fi := range infos {
				p := fi.Path
				if fi.IsDir {
					p += "/"
					if fi.Size != 0 {
						t.Errorf("List(%q): directory %q has size %d", tt.dir, fi.Path, fi.Size)
					}
				} else if fi.Size != int64(len(fi.Path)) {
					t.Errorf("List(%q): %q has size %d, want %d", tt.dir, fi.Path, fi.Size, len(fi.Path))
				}
				got = append(got, p)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("List(%q) = %q, want %q", tt.dir, got, tt.want)
			}
		})
	}
}

func testDelete(t *testing.T, s loopml.ArtifactStore) {
	ctx := context.Background()
	for _, p := range []string{"keep.txt", "f.txt", "d/a.txt", "d/e/b.txt", "dd/c.txt"} {
		MustPut(t, s, p, []byte("x"))
	}
	if err := s.Delete(ctx, "f.txt"); err != nil {
		t.Fatalf("Delete(file): %v", err)
	}
	_, err := s.Stat(ctx, "f.txt")
	requireCode(t, err, loopml.ENOTFOUND, "Stat after Delete")
	if err := s.Delete(ctx, "d"); err != nil {
		t.Fatalf("Delete(dir): %v", err)
	}
	for _, p := range []string{"d", "d/a.txt", "d/e/b.txt"} {
		_, err := s.Stat(ctx, p)
		requireCode(t, err, loopml.ENOTFOUND, fmt.Sprintf("Stat(%q) after deleting d", p))
	}
	for _, p := range []string{"missing", "d", "missing/deeper/x", "keep.txt/below"} {
		if err := s.Delete(ctx, p); err != nil {
			t.Fatalf("Delete(%q) of a missing path: %v, want nil", p, err)
		}
	}
	if got := strings.Join(tree(t, s, ""), ","); got != "dd/,dd/c.txt,keep.txt" {
		t.Fatalf("after deletes tree = %q, want dd/,dd/c.txt,keep.txt", got)
	}
	// A deleted path can be written again, as a file or a directory.
	MustPut(t, s, "d", []byte("now a file"))
	MustPut(t, s, "f.txt/now-a-dir", []byte("y"))
	if got := MustRead(t, s, "f.txt/now-a-dir"); string(got) != "y" {
		t.Fatalf("read %q, want y", got)
	}
}

// InvalidPaths is the path table every store must reject with EINVALID.
var InvalidPaths = []string{
	"..", "../x", "a/../b", "a/..", "/abs", "/", `a\b`, `..\x`, "a\x00b", "C:x", "c:/x",
	"a\x01b", "a\nb", "tab\there", "a\x7fb", "a//b", "a/./../b",
}

func testInvalidPaths(t *testing.T, open func(t *testing.T) loopml.ArtifactStore) {
	ctx := context.Background()
	s := open(t)
	for _, p := range InvalidPaths {
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
			_, err := s.Put(ctx, p, strings.NewReader("x"))
			requireCode(t, err, loopml.EINVALID, fmt.Sprintf("Put(%q)", p))
			_, err = s.Open(ctx, p)
			requireCode(t, err, loopml.EINVALID, fmt.Sprintf("Open(%q)", p))
			_, err = s.Stat(ctx, p)
			requireCode(t, err, loopml.EINVALID, fmt.Sprintf("Stat(%q)", p))
			_, err = s.List(ctx, p)
			requireCode(t, err, loopml.EINVALID, fmt.Sprintf("List(%q)", p))
			err = s.Delete(ctx, p)
			requireCode(t, err, loopml.EINVALID, fmt.Sprintf("Delete(%q)", p))
		})
	}
	if got := tree(t, s, ""); len(got) != 0 {
		t.Fatalf("invalid paths wrote %q", got)
	}
}

func testPutOnDirectory(t *testing.T, s loopml.ArtifactStore) {
	ctx := context.Background()
	MustPut(t, s, "dir/file.txt", []byte("x"))
	_, err := s.Put(ctx, "dir", strings.NewReader("clobber"))
	requireCode(t, err, loopml.EINVALID, "Put onto a directory")
	_, err = s.Put(ctx, "", strings.NewReader("root"))
	requireCode(t, err, loopml.EINVALID, "Put onto the root")
	if got := strings.Join(tree(t, s, ""), ","); got != "dir/,dir/file.txt" {
		t.Fatalf("tree = %q, want dir/,dir/file.txt", got)
	}
	if got := MustRead(t, s, "dir/file.txt"); string(got) != "x" {
		t.Fatalf("read %q, want x", got)
	}
}

func testOpenErrors(t *testing.T, s loopml.ArtifactStore) {
	ctx := context.Background()
	MustPut(t, s, "dir/file.txt", []byte("x"))
	_, err := s.Open(ctx, "missing.txt")
	requireCode(t, err, loopml.ENOTFOUND, "Open(missing)")
	_, err = s.Open(ctx, "dir/missing/deeper.txt")
	requireCode(t, err, loopml.ENOTFOUND, "Open(missing nested)")
	_, err = s.Open(ctx, "dir")
	requireCode(t, err, loopml.EINVALID, "Open(directory)")
	_, err = s.Open(ctx, "")
	requireCode(t, err, loopml.EINVALID, "Open(root)")
}

// chunkReader yields its content in small pieces, widening the window in
// which a concurrent reader could observe a partial file.
type chunkReader struct {
	b     []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.b))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

func testConcurrentPuts(t *testing.T, s loopml.ArtifactStore) {
	ctx := context.Background()
	const (
		writers = 6
		rounds  = 4
		size    = 256 << 10
	)
	MustPut(t, s, "shared.bin", bytes.Repeat([]byte{0xff}, size))
	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
		errs = make(chan error, writers+2)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				content := bytes.Repeat([]byte{byte(w)}, size)
				if _, err := s.Put(ctx, "shared.bin", &chunkReader{b: content, chunk: 4096}); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		}()
	}
	var rwg sync.WaitGroup
	for range 2 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				rc, err := s.Open(ctx, "shared.bin")
				if err != nil {
					errs <- fmt.Errorf("reader: Open: %w", err)
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					errs <- fmt.Errorf("reader: read: %w", err)
					return
				}
				if len(b) != size || !bytes.Equal(b, bytes.Repeat(b[:1], size)) {
					errs <- fmt.Errorf("reader saw a partial or mixed file: %d bytes", len(b))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := tree(t, s, ""); strings.Join(got, ",") != "shared.bin" {
		t.Fatalf("tree after concurrent puts = %q, want [shared.bin]", got)
	}
	if b := MustRead(t, s, "shared.bin"); len(b) != size || int(b[0]) >= writers {
		t.Fatalf("final content: %d bytes starting %#x; want %d bytes of one writer", len(b), b[0], size)
	}
}

// genReader produces n pseudo-random bytes quickly: a random 1 MiB block
// with a block counter stamped into each copy.
type genReader struct {
	block []byte
	n     int64 // remaining
	off   int64 // produced
}

func newGenReader(n int64, seed uint64) *genReader {
	block := make([]byte, 1<<20)
	rng := rand.NewChaCha8([32]byte{byte(seed)})
	rng.Read(block)
	return &genReader{block: block, n: n}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.n == 0 {
		return 0, io.EOF
	}
	total := 0
	for len(p) > 0 && g.n > 0 {
		i := g.off % int64(len(g.block))
		n := copy(p, g.block[i:])
		n = int(min(int64(n), g.n))
		if i == 0 && n >= 8 {
			c := uint64(g.off / int64(len(g.block)))
			for k := range 8 {
				p[k] ^= byte(c >> (8 * k))
			}
		}
		p = p[n:]
		g.n -= int64(n)
		g.off += int64(n)
		total += n
	}
	return total, nil
}

// LargeSize is the size of the streamed file in the Large case.
const LargeSize = 64 << 20

func testLarge(t *testing.T, s loopml.ArtifactStore) {
	if testing.Short() {
		t.Skip("large file skipped in -short mode")
	}
	want := sha256.New()
	if _, err := io.Copy(want, newGenReader(LargeSize, 1)); err != nil {
		t.Fatal(err)
	}
	n, err := s.Put(context.Background(), "big/large.bin", newGenReader(LargeSize, 1))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n != LargeSize {
		t.Fatalf("Put wrote %d bytes, want %d", n, LargeSize)
	}
	rc, err := s.Open(context.Background(), "big/large.bin")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	got := sha256.New()
	m, err := io.Copy(got, rc)
	if err != nil || m != LargeSize {
		t.Fatalf("read %d bytes, %v; want %d", m, err, LargeSize)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("digest of the read content differs from what was written")
	}
	fi, err := s.Stat(context.Background(), "big/large.bin")
	if err != nil || fi.Size != LargeSize {
		t.Fatalf("Stat = %+v, %v; want size %d", fi, err, LargeSize)
	}
}

// cancelReader cancels its context after yielding some data, then keeps
// yielding.
type cancelReader struct {
	cancel context.CancelFunc
	after  int
	sent   int
}

func (r *cancelReader) Read(p []byte) (int, error) {
	if r.sent >= r.after {
		r.cancel()
	}
	n := min(len(p), 64<<10)
	for i := range p[:n] {
		p[i] = 'c'
	}
	r.sent += n
	if r.sent > 64<<20 {
		return n, io.EOF // a store that ignores ctx still terminates
	}
	return n, nil
}

func testCancelledPut(t *testing.T, s loopml.ArtifactStore) {
	for _, tt := range []struct {
		name, path string
		old        []byte
	}{
		{"new file", "cancel-new/x.bin", nil},
		{"existing file", "cancel-old/x.bin", []byte("old content")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.old != nil {
				MustPut(t, s, tt.path, tt.old)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := s.Put(ctx, tt.path, &cancelReader{cancel: cancel, after: 3 << 20})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Put with a cancelled context = %v, want context.Canceled", err)
			}
			checkUnchanged(t, s, tt.path, tt.old)
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Put(ctx, "cancel-early/x.bin", strings.NewReader("x")); err == nil {
			t.Fatal("Put with a cancelled context succeeded")
		}
		checkUnchanged(t, s, "cancel-early/x.bin", nil)
	})
}

// checkUnchanged verifies that p holds old (nil: does not exist) and that
// nothing else is visible in its directory, which the caller keeps for p
// alone.
func checkUnchanged(t *testing.T, s loopml.ArtifactStore, p string, old []byte) {
	t.Helper()
	ctx := context.Background()
	if old == nil {
		_, err := s.Stat(ctx, p)
		requireCode(t, err, loopml.ENOTFOUND, fmt.Sprintf("Stat(%q) after a failed Put", p))
	} else if got := MustRead(t, s, p); !bytes.Equal(got, old) {
		t.Fatalf("after a failed Put %q holds %q, want %q", p, trunc(got), old)
	}
	dir := p[:max(strings.LastIndex(p, "/"), 0)]
	want := ""
	if old != nil {
		want = p
	}
	if got := strings.Join(tree(t, s, dir), ","); got != want {
		t.Fatalf("after a failed Put, %q contains %q, want %q", dir, got, want)
	}
}

// errReader fails after some data.
type errReader struct{ n int }

var errBoom = errors.New("boom: upstream connection reset")

func (r *errReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errBoom
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func testFailedReader(t *testing.T, s loopml.ArtifactStore) {
	MustPut(t, s, "fail-old/x.bin", []byte("old content"))
	for _, p := range []string{"fail-old/x.bin", "fail-new/x.bin"} {
		_, err := s.Put(context.Background(), p, &errReader{n: 2 << 20})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Put(%q) from a failing reader = %v, want the reader's error wrapped", p, err)
		}
	}
	checkUnchanged(t, s, "fail-old/x.bin", []byte("old content"))
	checkUnchanged(t, s, "fail-new/x.bin", nil)
}
