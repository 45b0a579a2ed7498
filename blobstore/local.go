// Package blobstore holds artifact stores: implementations of
// loopml.ArtifactStore. Local keeps artifacts in a directory of the local
// filesystem. It imports only the root package and the standard library.
package blobstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/loopml/loopml"
)

// TempPrefix starts the name of the temporary file that Put writes next to
// its target before renaming it into place. List and Stat never show such
// files, and paths with a segment starting with it are invalid.
const TempPrefix = ".loopml-tmp-"

// StaleTempAge is how long a temporary file must have gone unmodified for
// NewLocal to delete it as the leftover of a crashed Put. A Put that is
// still streaming keeps touching its file, so it is not disturbed even if
// another process shares the directory.
const StaleTempAge = time.Hour

// bufferSize is the copy buffer of Put: large enough for few system calls,
// small enough that memory stays flat with many concurrent uploads.
const bufferSize = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}

// Local is an ArtifactStore over a directory. Paths map to files below the
// directory. All access goes through an os.Root, so nothing outside the
// directory is ever read or written, and symbolic links are refused with
// EINVALID. Put is atomic and durable: data goes to a temporary file in the
// target's directory, is fsynced, renamed over the target, and the directory
// is fsynced; a crash leaves the old content or nothing. NewArtifactBatch
// gives Puts that skip the fsyncs and become durable together at Sync (see
// loopml.ArtifactBatch), for writers of many objects. Local is safe for
// concurrent use.
type Local struct {
	dir  string
	root *os.Root
	top  *os.File // the directory again, for the system calls of the fast paths (Linux); may be nil
}

var _ loopml.ArtifactStore = (*Local)(nil)

// NewLocal opens (creating it if missing) the directory root as an artifact
// store and deletes temporary files left by crashed Puts (older than
// StaleTempAge). Call Close when done.
func NewLocal(root string) (*Local, error) {
	if root == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "artifact root directory is required")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "invalid artifact root %q", root)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "create artifact root %q", abs)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "open artifact root %q", abs)
	}
	l := &Local{dir: abs, root: r}
	if err := l.removeStaleTemps(time.Now().Add(-StaleTempAge)); err != nil {
		_ = r.Close()
		return nil, err
	}
	if top, err := r.Open("."); err == nil {
		l.top = top
	}
	return l, nil
}

// Dir returns the absolute path of the store's directory.
func (l *Local) Dir() string { return l.dir }

// Close releases the directory handle. Readers returned by Open stay valid.
func (l *Local) Close() error {
	if l.top != nil {
		_ = l.top.Close()
	}
	return l.root.Close()
}

// removeStaleTemps deletes temporary files last modified before cutoff.
func (l *Local) removeStaleTemps(cutoff time.Time) error {
	err := fs.WalkDir(l.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if !strings.HasPrefix(d.Name(), TempPrefix) || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.ModTime().After(cutoff) {
			return nil
		}
		if err := l.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return loopml.WrapError(loopml.EINTERNAL, err, "clean temporary files under %q", l.dir)
	}
	return nil
}

// clean validates p and rejects the reserved temporary-file prefix.
func clean(p string) (string, error) {
	c, err := loopml.CleanArtifactPath(p)
	if err != nil {
		return "", err
	}
	for _, seg := range strings.Split(c, "/") {
		if strings.HasPrefix(seg, TempPrefix) {
			return "", loopml.Errorf(loopml.EINVALID, "invalid artifact path %q: names starting with %q are reserved", p, TempPrefix)
		}
	}
	return c, nil
}

// errParentNotDir reports that a parent component of a path is a file.
var errParentNotDir = errors.New("a parent is not a directory")

// walk checks the components of the cleaned, non-empty path rel from the
// root down, without following symbolic links. A symbolic link gives
// EINVALID (including rel itself when last is true). It returns how many
// leading components exist, and errParentNotDir when a non-final component
// is not a directory.
func (l *Local) walk(rel string, last bool) (int, error) {
	segs := strings.Split(rel, "/")
	for i := range segs {
		if i == len(segs)-1 && !last {
			return i, nil
		}
		sub := strings.Join(segs[:i+1], "/")
		fi, err := l.root.Lstat(sub)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return i, nil
		case errors.Is(err, syscall.ENOTDIR):
			return i, errParentNotDir
		case err != nil:
			return i, l.fsError("stat", rel, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return i, loopml.Errorf(loopml.EINVALID, "invalid artifact path %q: %q is a symbolic link", rel, sub)
		case i < len(segs)-1 && !fi.IsDir():
			return i, errParentNotDir
		}
	}
	return len(segs), nil
}

// fsError translates a filesystem error once, at the boundary.
func (l *Local) fsError(op, p string, err error) error {
	var le *loopml.Error
	switch {
	case errors.As(err, &le):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s artifact %q: %w", op, p, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return loopml.WrapError(loopml.ENOTFOUND, err, "artifact %q not found", p)
	case errors.Is(err, syscall.EISDIR):
		return loopml.WrapError(loopml.EINVALID, err, "artifact %q is a directory", p)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return loopml.WrapError(loopml.EUNAVAILABLE, err, "%s artifact %q: no space left in the artifact store", op, p)
	case errors.Is(err, syscall.ELOOP), strings.Contains(err.Error(), "escapes"):
		// os.Root refused to leave the directory; its error is not exported.
		return loopml.WrapError(loopml.EINVALID, err, "invalid artifact path %q: it leaves the artifact root", p)
	}
	return loopml.WrapError(loopml.EINTERNAL, err, "%s artifact %q", op, p)
}

// name turns a cleaned path into a name for os.Root ("" is the root).
func name(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// Put streams r into path atomically; see loopml.ArtifactStore.
func (l *Local) Put(ctx context.Context, p string, r io.Reader) (int64, error) {
	return l.put(ctx, p, r, nil)
}

// put writes path through a temporary file and a rename. Without a batch
// it fsyncs the file and the directories that gained entries before
// returning; with one it records them for the batch's Sync instead.
func (l *Local) put(ctx context.Context, p string, r io.Reader, b *localBatch) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, l.fsError("put", p, err)
	}
	rel, err := clean(p)
	if err != nil {
		return 0, err
	}
	if rel == "" {
		return 0, loopml.Errorf(loopml.EINVALID, "invalid artifact path %q: cannot write to the root directory", p)
	}
	dir := path.Dir(rel)
	segs := strings.Split(rel, "/")
	existing := len(segs) - 1 // components that existed before: all parents, when known
	known := b != nil && b.knownDir(dir)
	if !known {
		existing, err = l.walk(rel, true)
		if errors.Is(err, errParentNotDir) {
			return 0, loopml.Errorf(loopml.EINVALID, "invalid artifact path %q: a parent is a file", rel)
		} else if err != nil {
			return 0, err
		}
		if dir != "." {
			if err := l.root.MkdirAll(dir, 0o755); err != nil {
				if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
					return 0, loopml.WrapError(loopml.EINVALID, err, "invalid artifact path %q: a parent is a file", rel)
				}
				return 0, l.fsError("put", rel, err)
			}
		}
	}
	if known {
		if n, ok, err := b.fastPut(ctx, rel, dir, segs, r); ok {
			return n, err
		}
	}
	if fi, err := l.root.Lstat(rel); err == nil && fi.IsDir() {
		return 0, loopml.Errorf(loopml.EINVALID, "invalid artifact path %q: it is a directory", rel)
	} else if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return 0, loopml.Errorf(loopml.EINVALID, "invalid artifact path %q: it is a symbolic link", rel)
	}

	var rnd [8]byte
	_, _ = rand.Read(rnd[:]) // never fails (crypto/rand)
	tmp := path.Join(dir, TempPrefix+hex.EncodeToString(rnd[:]))
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if known && errors.Is(err, fs.ErrNotExist) {
		b.forget(dir) // deleted since the batch created it: check again
		return l.put(ctx, p, r, b)
	}
	if err != nil {
		return 0, l.fsError("put", rel, err)
	}
	n, err := copyCtx(ctx, f, r)
	if err == nil {
		if b == nil {
			err = f.Sync()
		} else if n >= writebackMin {
			startWriteback(f) // so that Sync finds most of it on disk already
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err() // a cancelled Put never replaces the target
	}
	if err == nil {
		err = l.root.Rename(tmp, rel)
	}
	if err != nil {
		_ = l.root.Remove(tmp) // best effort; NewLocal removes it later otherwise
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, fs.ErrExist) {
			return 0, loopml.WrapError(loopml.EINVALID, err, "invalid artifact path %q: it is a directory", rel)
		}
		return 0, l.fsError("put", rel, err)
	}
	// Make the rename, and any directories MkdirAll created, durable.
	// Directory segs[:i] gained an entry for every i from the target's
	// directory up to the parent of the first directory MkdirAll created.
	lo := min(existing, len(segs)-1)
	if b != nil {
		b.record(rel, segs, lo)
		return n, nil
	}
	for i := len(segs) - 1; i >= lo; i-- {
		if err := l.syncDir(strings.Join(segs[:i], "/")); err != nil {
			return 0, l.fsError("put", rel, err)
		}
	}
	return n, nil
}

// syncDir fsyncs a directory so that entries created or renamed in it
// survive a crash.
func (l *Local) syncDir(d string) error {
	f, err := l.root.Open(name(d))
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyCtx copies r to w through a pooled 1 MiB buffer, stopping when ctx is
// done.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr, rerr := io.ReadFull(r, buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return n, nil
		case rerr != nil:
			return n, fmt.Errorf("read artifact content: %w", rerr)
		}
	}
}

// Open returns the file at path as an *os.File (an io.ReadSeeker); see
// loopml.ArtifactStore.
func (l *Local) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, l.fsError("open", p, err)
	}
	rel, err := clean(p)
	if err != nil {
		return nil, err
	}
	if rel == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "artifact %q is a directory", p)
	}
	if _, err := l.walk(rel, true); errors.Is(err, errParentNotDir) {
		return nil, loopml.Errorf(loopml.ENOTFOUND, "artifact %q not found", rel)
	} else if err != nil {
		return nil, err
	}
	f, err := l.root.Open(rel)
	if err != nil {
		return nil, l.fsError("open", rel, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, l.fsError("open", rel, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, loopml.Errorf(loopml.EINVALID, "artifact %q is a directory", rel)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, loopml.Errorf(loopml.EINVALID, "artifact %q is not a regular file", rel)
	}
	return f, nil
}

// Stat describes the file or directory at path; see loopml.ArtifactStore.
func (l *Local) Stat(ctx context.Context, p string) (loopml.ArtifactInfo, error) {
	if err := ctx.Err(); err != nil {
		return loopml.ArtifactInfo{}, l.fsError("stat", p, err)
	}
	rel, err := clean(p)
	if err != nil {
		return loopml.ArtifactInfo{}, err
	}
	if rel != "" {
		if ai, ok, err := l.fastStat(rel); ok {
			return ai, err
		}
		if _, err := l.walk(rel, true); errors.Is(err, errParentNotDir) {
			return loopml.ArtifactInfo{}, loopml.Errorf(loopml.ENOTFOUND, "artifact %q not found", rel)
		} else if err != nil {
			return loopml.ArtifactInfo{}, err
		}
	}
	fi, err := l.root.Lstat(name(rel))
	if err != nil {
		return loopml.ArtifactInfo{}, l.fsError("stat", rel, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return loopml.ArtifactInfo{}, loopml.Errorf(loopml.EINVALID, "invalid artifact path %q: it is a symbolic link", rel)
	}
	return info(rel, fi), nil
}

func info(rel string, fi fs.FileInfo) loopml.ArtifactInfo {
	ai := loopml.ArtifactInfo{Path: rel, IsDir: fi.IsDir(), ModTime: fi.ModTime()}
	if !ai.IsDir {
		ai.Size = fi.Size()
	}
	return ai
}

// List returns the direct children of dir, sorted by path; see
// loopml.ArtifactStore. Temporary files, symbolic links and special files
// are not listed. Listing a file gives an empty list.
func (l *Local) List(ctx context.Context, dir string) ([]loopml.ArtifactInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, l.fsError("list", dir, err)
	}
	rel, err := clean(dir)
	if err != nil {
		return nil, err
	}
	if rel != "" {
		if n, err := l.walk(rel, true); errors.Is(err, errParentNotDir) {
			return nil, nil
		} else if err != nil {
			return nil, err
		} else if n < strings.Count(rel, "/")+1 {
			return nil, nil // missing
		}
	}
	f, err := l.root.Open(name(rel))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	} else if err != nil {
		return nil, l.fsError("list", rel, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, l.fsError("list", rel, err)
	} else if !fi.IsDir() {
		return nil, nil
	}
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, l.fsError("list", rel, err)
	}
	out := make([]loopml.ArtifactInfo, 0, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TempPrefix) || !(e.Type().IsRegular() || e.IsDir()) {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile
		} else if err != nil {
			return nil, l.fsError("list", rel, err)
		}
		out = append(out, info(path.Join(rel, e.Name()), fi))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Delete removes a file or a directory tree; see loopml.ArtifactStore.
// Deleting the root is refused with EINVALID. A symbolic link is removed
// itself, never what it points to.
func (l *Local) Delete(ctx context.Context, p string) error {
	if err := ctx.Err(); err != nil {
		return l.fsError("delete", p, err)
	}
	rel, err := clean(p)
	if err != nil {
		return err
	}
	if rel == "" {
		return loopml.Errorf(loopml.EINVALID, "invalid artifact path %q: cannot delete the root directory", p)
	}
	if n, err := l.walk(rel, false); errors.Is(err, errParentNotDir) {
		return nil
	} else if err != nil {
		return err
	} else if n < strings.Count(rel, "/") {
		return nil // a parent is missing
	}
	if err := l.root.RemoveAll(rel); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return l.fsError("delete", rel, err)
	}
	if err := l.syncDir(path.Dir(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return l.fsError("delete", rel, err)
	}
	return nil
}
