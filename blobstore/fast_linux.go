package blobstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path"
	"sync/atomic"
	"time"

	"github.com/loopml/loopml"
	"golang.org/x/sys/unix"
)

// Fast paths for the calls cas makes by the hundred thousand: Stat of an
// object and a batched Put into a directory the batch already checked.
// os.Root resolves every path component by component (an open and a close
// per level, and walk does that for each prefix again), which costs tens of
// system calls per object; here one openat2 with RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS (Linux 5.6+) stats a path with the same guarantees
// (never outside the root, no symbolic link followed), and a batched Put
// works relative to an open descriptor of its directory. Anything unusual
// (a symbolic link, a kernel without openat2) falls back to the general
// path, which reports it precisely.

// noOpenat2 is set when the kernel or a seccomp filter refuses openat2.
var noOpenat2 atomic.Bool

// fastStat stats the cleaned, non-empty path rel. ok is false when the
// caller must use the general path.
func (l *Local) fastStat(rel string) (ai loopml.ArtifactInfo, ok bool, err error) {
	if l.top == nil || noOpenat2.Load() {
		return ai, false, nil
	}
	fd, err := unix.Openat2(int(l.top.Fd()), rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	})
	switch {
	case err == unix.ENOENT || err == unix.ENOTDIR:
		return ai, true, loopml.Errorf(loopml.ENOTFOUND, "artifact %q not found", rel)
	case err == unix.ENOSYS || err == unix.EPERM:
		noOpenat2.Store(true)
		return ai, false, nil
	case err != nil:
		return ai, false, nil // ELOOP (a symbolic link) and the rest: the general path decides
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return ai, false, nil
	}
	ai = loopml.ArtifactInfo{Path: rel, ModTime: time.Unix(st.Mtim.Unix())}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		ai.Size = st.Size
	case unix.S_IFDIR:
		ai.IsDir = true
	default:
		return ai, false, nil // a symbolic link or a special file
	}
	return ai, true, nil
}

// maxDirFiles bounds the directory descriptors a batch keeps open between
// Syncs.
const maxDirFiles = 4096

// dirFile returns an open descriptor of directory d (checked by an earlier
// Put), or nil.
func (b *localBatch) dirFile(d string) *os.File {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f, ok := b.open[d]; ok {
		return f
	}
	if len(b.open) >= maxDirFiles {
		return nil
	}
	f, err := b.l.root.Open(name(cleanDir(d)))
	if err != nil {
		return nil
	}
	if b.open == nil {
		b.open = make(map[string]*os.File)
	}
	b.open[d] = f
	return f
}

// closeDirs closes the directory descriptors once no Put uses them.
func (b *localBatch) closeDirs() {
	b.fdMu.Lock()
	defer b.fdMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	for d, f := range b.open {
		_ = f.Close()
		delete(b.open, d)
	}
	for _, f := range b.stale {
		_ = f.Close()
	}
	b.stale = nil
}

// cleanDir maps path.Dir's "." to "".
func cleanDir(d string) string {
	if d == "." {
		return ""
	}
	return d
}

// fastPut writes rel (whose directory dir an earlier Put of the batch
// created) relative to the directory's descriptor: fstatat, openat of the
// temporary file, write, renameat. ok is false when the caller must use the
// general path.
func (b *localBatch) fastPut(ctx context.Context, rel, dir string, segs []string, r io.Reader) (n int64, ok bool, err error) {
	b.fdMu.RLock()
	defer b.fdMu.RUnlock()
	df := b.dirFile(dir)
	if df == nil {
		return 0, false, nil
	}
	dfd := int(df.Fd())
	base := segs[len(segs)-1]
	var st unix.Stat_t
	switch err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return 0, true, loopml.Errorf(loopml.EINVALID, "invalid artifact path %q: it is a directory", rel)
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return 0, true, loopml.Errorf(loopml.EINVALID, "invalid artifact path %q: it is a symbolic link", rel)
	case err != nil && err != unix.ENOENT:
		return 0, false, nil
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:]) // never fails (crypto/rand)
	tmp := TempPrefix + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		if err == unix.ENOENT { // the directory was deleted meanwhile
			b.forget(dir)
		}
		return 0, false, nil
	}
	f := os.NewFile(uintptr(fd), path.Join(cleanDir(dir), tmp))
	n, err = copyCtx(ctx, f, r)
	if err == nil && n >= writebackMin {
		startWriteback(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err() // a cancelled Put never replaces the target
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, base)
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, tmp, 0)
		if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
			return 0, true, loopml.WrapError(loopml.EINVALID, err, "invalid artifact path %q: it is a directory", rel)
		}
		return 0, true, b.l.fsError("put", rel, err)
	}
	b.record(rel, segs, len(segs)-1)
	return n, true, nil
}
