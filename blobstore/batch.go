package blobstore

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/loopml/loopml"
)

// syncWorkers is how many fsyncs a Sync issues at once; the filesystem
// journal commits concurrent fsyncs together.
const syncWorkers = 16

// writebackMin is the size from which a batched Put asks the kernel to start
// writing the file out at once (sync_file_range on Linux), so that a large
// batch's Sync waits for little more than the last files.
const writebackMin = 1 << 20

var _ loopml.ArtifactBatcher = (*Local)(nil)

// NewArtifactBatch returns a batch of Puts that skip the per-file fsync and
// become durable together at Sync; see loopml.ArtifactBatch. A batched Put
// writes a temporary file and renames it into place like Put, so readers
// and crashed processes never see a partial file.
func (l *Local) NewArtifactBatch() loopml.ArtifactBatch {
	return &localBatch{l: l, dirs: make(map[string]bool), known: make(map[string]bool)}
}

// localBatch is Local's ArtifactBatch.
type localBatch struct {
	l      *Local
	syncMu sync.Mutex // one Sync at a time, so a Sync returns only when all earlier Puts are durable
	mu     sync.Mutex
	files  []string            // written since the last Sync
	dirs   map[string]bool     // directories that gained entries since the last Sync
	known  map[string]bool     // directories checked and created by an earlier Put of the batch
	open   map[string]*os.File // descriptors of known directories (Linux fast path), closed at Sync
	stale  []*os.File          // descriptors dropped from open, closed at Sync
	fdMu   sync.RWMutex        // held for reading while a Put uses a descriptor of open, for writing to close them
}

// Put writes p like Local.Put, without fsync; see loopml.ArtifactBatch.
func (b *localBatch) Put(ctx context.Context, p string, r io.Reader) (int64, error) {
	return b.l.put(ctx, p, r, b)
}

// knownDir reports whether an earlier Put of the batch checked that
// directory d (cleaned, "." for the root) exists and is no symbolic link.
func (b *localBatch) knownDir(d string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.known[d]
}

// forget drops directory d from the directories known to exist.
func (b *localBatch) forget(d string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.known, d)
	if f, ok := b.open[d]; ok {
		b.stale = append(b.stale, f) // a Put may still use it: closed at Sync
		delete(b.open, d)
	}
}

// record notes file rel (split into segs) for Sync, with the directories
// segs[:i] for i >= lo, which gained an entry.
func (b *localBatch) record(rel string, segs []string, lo int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.files = append(b.files, rel)
	for i := len(segs) - 1; i >= lo; i-- {
		b.dirs[strings.Join(segs[:i], "/")] = true
	}
	d := strings.Join(segs[:len(segs)-1], "/")
	if d == "" {
		d = "."
	}
	b.known[d] = true
}

// Sync makes every file of the batch written before the call durable,
// with its directory entries. On error the files stay pending, so that a
// later Sync retries them.
func (b *localBatch) Sync(ctx context.Context) error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.closeDirs()
	b.mu.Lock()
	files, dirs := b.files, b.dirs
	b.files, b.dirs = nil, make(map[string]bool)
	b.mu.Unlock()
	err := ctx.Err()
	if err == nil && len(files)+len(dirs) > 0 {
		err = b.l.syncAll(ctx, files, dirs)
	}
	if err != nil {
		b.mu.Lock()
		b.files = append(b.files, files...)
		for d := range dirs {
			b.dirs[d] = true
		}
		b.mu.Unlock()
		return b.l.fsError("sync", "", err)
	}
	return nil
}

// syncAll makes files and dirs durable. On Linux one syncfs(2) flushes
// the whole filesystem: far cheaper than thousands of fsyncs (each a
// journal commit), and it also covers objects that another batch or
// process wrote and that this batch found present instead of writing, so
// whatever the caller then records refers only to durable files. Elsewhere
// it fsyncs each file, then each directory, syncWorkers at a time; a file
// deleted or replaced meanwhile is skipped.
func (l *Local) syncAll(ctx context.Context, files []string, dirs map[string]bool) error {
	if ok, err := l.syncfs(); ok {
		return err
	}
	return l.syncEach(ctx, files, dirs)
}

// syncEach fsyncs files, then dirs; a missing one is skipped.
func (l *Local) syncEach(ctx context.Context, files []string, dirs map[string]bool) error {
	if err := parallel(ctx, len(files), func(i int) error { return l.syncFile(files[i]) }); err != nil {
		return err
	}
	ds := make([]string, 0, len(dirs))
	for d := range dirs {
		ds = append(ds, d)
	}
	return parallel(ctx, len(ds), func(i int) error { return l.syncFile(ds[i]) })
}

// syncFile fsyncs the file or directory at rel; a missing one is skipped.
func (l *Local) syncFile(rel string) error {
	err := l.syncDir(rel) // opens read-only and fsyncs: works for files too
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// parallel calls fn(0..n-1) on up to syncWorkers goroutines and returns the
// first error.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if first != nil || next >= n {
			return 0, false
		}
		if err := ctx.Err(); err != nil {
			first = err
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range min(n, syncWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, ok := take(); ok; i, ok = take() {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}
