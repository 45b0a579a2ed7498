package loopml

import (
	"context"
	"io"
)

// ArtifactBatch writes many artifacts and makes them durable together, so
// that a writer of many objects (a dataset version of 200,000 small files,
// the chunks of a large file) pays for one flush instead of one per file.
//
// Put has ArtifactStore.Put's contract (atomic replacement through a
// temporary file and a rename, so a reader or a crashed process never
// leaves a partially written file, EINVALID for bad paths, cancellation)
// except durability: the file is visible when Put returns but may not
// survive a power loss or kernel crash until Sync returns. Sync makes every
// file of the batch whose Put returned before Sync was called durable, with
// its directory entries; call it before recording anything that refers to
// those files (a manifest, a version row). After a power loss before Sync,
// a file of the batch may be missing, or, depending on the filesystem,
// present but empty; it is never present with other content than was put
// on filesystems that order data before metadata (ext4 in its default
// data=ordered mode, XFS, btrfs). A writer that must be safe against that
// checks sizes or digests before trusting such files, as cas does.
//
// A batch is safe for concurrent use; Sync may be called several times.
type ArtifactBatch interface {
	// Put streams r to path; see ArtifactStore.Put and the durability
	// rule above.
	Put(ctx context.Context, path string, r io.Reader) (int64, error)
	// Sync makes the files of the batch durable. It returns an error if
	// any could not be flushed; the caller must then not rely on them.
	Sync(ctx context.Context) error
}

// ArtifactBatcher is implemented by artifact stores that can defer
// durability across many writes (blobstore.Local does). It is optional:
// NewArtifactBatch falls back to durable Puts for stores without it.
type ArtifactBatcher interface {
	// NewArtifactBatch returns an empty batch writing to the store.
	NewArtifactBatch() ArtifactBatch
}

// NewArtifactBatch returns a batch writing to s: s's own batch when s
// implements ArtifactBatcher, otherwise one whose Put is s.Put (durable on
// return, as ArtifactStore promises) and whose Sync only checks ctx.
func NewArtifactBatch(s ArtifactStore) ArtifactBatch {
	if b, ok := s.(ArtifactBatcher); ok {
		return b.NewArtifactBatch()
	}
	return durableBatch{s}
}

// durableBatch is the fallback ArtifactBatch: every Put is already durable.
type durableBatch struct{ s ArtifactStore }

func (b durableBatch) Put(ctx context.Context, path string, r io.Reader) (int64, error) {
	return b.s.Put(ctx, path, r)
}

func (b durableBatch) Sync(ctx context.Context) error { return ctx.Err() }
