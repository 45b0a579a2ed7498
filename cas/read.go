package cas

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/loopml/loopml"
	"github.com/zeebo/blake3"
)

// ErrCorrupt is wrapped by every error reporting content that does not
// match its digest; test for it with errors.Is. Such errors have code
// EINTERNAL and a message naming the object and the file.
var ErrCorrupt = errors.New("digest mismatch")

// corrupt returns the error for object d of what failing verification.
func corrupt(d Digest, what string) error {
	return loopml.WrapError(loopml.EINTERNAL, ErrCorrupt, "object %s is corrupt (digest mismatch) in %s", d, what)
}

// fileReader streams a file's objects in order, verifying each object and
// the whole file; see OpenFile.
type fileReader struct {
	ctx    context.Context
	store  loopml.ArtifactStore
	e      Entry
	what   string
	parts  []Chunk
	i      int
	cur    io.ReadCloser
	n      int64 // bytes read from the current part
	part   *blake3.Hasher
	file   *blake3.Hasher // nil when the file is a single object
	err    error
	closed bool
}

// OpenFile returns a reader of file e's content that verifies as it reads:
// each object against its digest and size, and a chunked file's content
// against the file digest. On a mismatch the Read that reaches the end of
// the bad object returns an EINTERNAL error wrapping ErrCorrupt instead of
// io.EOF, so a consumer that checks errors never accepts corrupt content.
// A missing object gives ENOTFOUND. Close releases the open object.
func OpenFile(ctx context.Context, store loopml.ArtifactStore, e Entry) (io.ReadCloser, error) {
	if e.Dir {
		return nil, loopml.Errorf(loopml.EINVALID, "%q is a directory", e.Path)
	}
	r := &fileReader{ctx: ctx, store: store, e: e, what: fmt.Sprintf("file %q", e.Path), parts: e.Objects(), part: blake3.New()}
	if e.Chunks != nil {
		r.file = blake3.New()
	}
	return r, nil
}

// Read implements io.Reader.
func (r *fileReader) Read(p []byte) (int, error) {
	for r.err == nil {
		if r.cur == nil {
			if r.i == len(r.parts) {
				if r.file != nil && Digest(r.file.Sum(nil)) != r.e.Digest {
					r.err = corrupt(r.e.Digest, r.what+" (its chunks do not add up to it)")
					break
				}
				r.err = io.EOF
				break
			}
			d := r.parts[r.i].Digest
			rc, err := r.store.Open(r.ctx, d.ObjectPath())
			if err != nil {
				if loopml.ErrorCode(err) == loopml.ENOTFOUND {
					r.err = loopml.WrapError(loopml.ENOTFOUND, err, "object %s of %s is missing", d, r.what)
				} else {
					r.err = fmt.Errorf("read object %s of %s: %w", d, r.what, err)
				}
				break
			}
			r.cur, r.n = rc, 0
			r.part.Reset()
		}
		c := r.parts[r.i]
		if len(p) == 0 {
			return 0, nil
		}
		// Read one byte past the recorded size to notice a longer object.
		q := p
		if rest := c.Size + 1 - r.n; int64(len(q)) > rest {
			q = q[:rest]
		}
		n, err := r.cur.Read(q)
		r.n += int64(n)
		r.part.Write(q[:n])
		if r.file != nil {
			r.file.Write(q[:n])
		}
		if r.n > c.Size {
			r.err = corrupt(c.Digest, r.what)
			return 0, r.err
		}
		if err == io.EOF {
			_ = r.cur.Close()
			r.cur = nil
			if r.n != c.Size || Digest(r.part.Sum(nil)) != c.Digest {
				r.err = corrupt(c.Digest, r.what)
				return 0, r.err
			}
			r.i++
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			r.err = fmt.Errorf("read object %s of %s: %w", c.Digest, r.what, err)
			return 0, r.err
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, r.err
}

// Close implements io.Closer.
func (r *fileReader) Close() error {
	if r.cur != nil {
		err := r.cur.Close()
		r.cur = nil
		return err
	}
	return nil
}

// workers returns n, or the default number of parallel workers: 32, as
// the work on small files is mostly waiting on the store's durable writes.
func workers(n int) int {
	if n > 0 {
		return n
	}
	return 32
}

// forEach runs fn on items 0..n-1 with k goroutines and returns the first
// error (by index order of failure discovery); it stops handing out work
// after an error or when ctx is done.
func forEach(ctx context.Context, n, k int, fn func(i int) error) error {
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(k, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if first != nil || next == n {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if err := ctx.Err(); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// checkPath validates a manifest entry path for use below a directory.
func checkPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") {
		return loopml.Errorf(loopml.EINVALID, "invalid manifest path %q", p)
	}
	for _, s := range strings.Split(p, "/") {
		if err := checkName(s); err != nil {
			return loopml.Errorf(loopml.EINVALID, "invalid manifest path %q: %s", p, loopml.ErrorMessage(err))
		}
	}
	return nil
}

// Checkout restores the files and directories of m below dest, creating
// dest if needed, with the recorded permission bits. Files are restored in
// parallel, each through a temporary file renamed into place only after
// every object and the whole content verified, so a corrupt object (an
// EINTERNAL error wrapping ErrCorrupt naming the object and the path) or a
// missing one (ENOTFOUND) never leaves bad content at a destination path.
// Existing files at the same paths are replaced; other files in dest are
// left alone. All access goes through an os.Root, so symbolic links in
// dest cannot redirect writes outside it.
func Checkout(ctx context.Context, store loopml.ArtifactStore, m Manifest, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "create checkout directory %q", dest)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "open checkout directory %q", dest)
	}
	defer root.Close()
	entries := sortedEntries(m.Entries)
	var files, dirs []Entry
	for _, e := range entries {
		if err := checkPath(e.Path); err != nil {
			return err
		}
		if e.Dir {
			dirs = append(dirs, e)
			// Writable while files are restored; final mode set below.
			if err := root.MkdirAll(e.Path, 0o700); err != nil {
				return loopml.WrapError(loopml.EINVALID, err, "create directory %q in %q", e.Path, dest)
			}
			if err := root.Chmod(e.Path, 0o700|e.Mode.Perm()); err != nil {
				return loopml.WrapError(loopml.EINVALID, err, "create directory %q in %q", e.Path, dest)
			}
		} else {
			files = append(files, e)
		}
	}
	for _, e := range files {
		if d := path.Dir(e.Path); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return loopml.WrapError(loopml.EINVALID, err, "create directory %q in %q", d, dest)
			}
		}
	}
	err = forEach(ctx, len(files), workers(0), func(i int) error {
		return restore(ctx, store, root, files[i])
	})
	if err != nil {
		return err
	}
	// Deepest directories first, so a read-only parent is set last.
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].Path > dirs[j].Path })
	for _, e := range dirs {
		if err := root.Chmod(e.Path, e.Mode.Perm()); err != nil {
			return loopml.WrapError(loopml.EINTERNAL, err, "set mode of directory %q in %q", e.Path, dest)
		}
	}
	return nil
}

// restore writes file e below root through a verified temporary file.
func restore(ctx context.Context, store loopml.ArtifactStore, root *os.Root, e Entry) error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(path.Dir(e.Path), ".loopml-checkout-"+hex.EncodeToString(rnd[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return loopml.WrapError(loopml.EINTERNAL, err, "restore %q", e.Path)
	}
	r, err := OpenFile(ctx, store, e)
	if err == nil {
		_, err = io.Copy(f, readerCtx{ctx, r})
		r.Close()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = loopml.WrapError(loopml.EINTERNAL, cerr, "restore %q", e.Path)
	}
	if err == nil {
		if err = root.Chmod(tmp, e.Mode.Perm()); err != nil {
			err = loopml.WrapError(loopml.EINTERNAL, err, "restore %q", e.Path)
		}
	}
	if err == nil {
		if err = root.Rename(tmp, e.Path); err != nil {
			err = loopml.WrapError(loopml.EINTERNAL, err, "restore %q", e.Path)
		}
	}
	if err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

// readerCtx stops reading when ctx is done.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// Verify checks that every object of version m is present and intact: it
// reloads the tree from m.Root (verifying each tree object), then reads
// every distinct file, checking each object and each whole file against
// its digest. It returns nil, or one error per problem joined with
// errors.Join; each is ENOTFOUND (missing object) or EINTERNAL wrapping
// ErrCorrupt, and names the object and the file.
func Verify(ctx context.Context, store loopml.ArtifactStore, m Manifest) error {
	loaded, err := LoadManifest(ctx, store, m.Root)
	if err != nil {
		return err
	}
	seen := make(map[Digest]bool)
	var files []Entry
	for _, e := range loaded.Entries {
		if !e.Dir && !seen[e.Digest] {
			seen[e.Digest] = true
			files = append(files, e)
		}
	}
	var (
		mu   sync.Mutex
		errs []error
	)
	err = forEach(ctx, len(files), workers(0), func(i int) error {
		r, err := OpenFile(ctx, store, files[i])
		if err == nil {
			_, err = io.Copy(io.Discard, readerCtx{ctx, r})
			r.Close()
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}
