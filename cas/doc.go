// Package cas is the content-addressed storage behind dataset versions: it
// hashes files with BLAKE3, splits large files with content-defined
// chunking, stores every object once in a loopml.ArtifactStore, and
// describes a version as a Merkle tree whose root digest the dataset
// registry records.
//
// # Objects
//
// Every object lives at cas/objects/<first 2 hex digits>/<64 hex digits>
// in the artifact store, named by the BLAKE3-256 digest of its bytes;
// digests print as "blake3:<hex>". There are three kinds of objects, all
// in the same namespace:
//
//   - a whole file, when its content is a single chunk (every file smaller
//     than the minimum chunk size, and larger files in which the chunker
//     finds no cut);
//   - a chunk of a larger file (see Chunker: FastCDC with a gear hash,
//     512 KiB minimum, 2 MiB average, 8 MiB maximum), so that appending to
//     or editing a large file stores only the chunks near the change;
//   - a tree: the canonical JSON encoding of one directory (see
//     EncodeTree), listing its children sorted by name with their kind,
//     mode, size, digest and, for chunked files, their chunk list.
//
// A file's digest is always the BLAKE3 digest of its whole content, never
// of its chunk list; a chunked file's content is the concatenation of its
// chunks. The root tree's digest identifies a version: identical trees
// have identical roots, whatever the order files were found in.
//
// # Crash safety
//
// Add writes content objects first, then tree objects bottom-up, the root
// last. So a tree object that exists implies that everything below it
// exists, which lets Add skip whole unchanged subtrees with one Stat, and an
// interrupted Add (cancelled, killed, disk full) never leaves a root that
// refers to missing objects; running it again resumes, skipping objects
// already stored. The ArtifactStore's Put is atomic (temporary file and
// rename), so no object is ever half written. Objects are written through
// a loopml.ArtifactBatch, so a store that can defer durability (the local
// one) flushes them together: once after the content objects, then once
// per level of trees, before anything refers to them; the manifest is
// returned only after the root is durable. A power loss can thus only take
// back objects nothing durable refers to yet, and since such an object may
// reappear empty on some filesystems, Add rewrites any object whose size is
// wrong. Objects are never deleted by
// this package; a future garbage collector must delete a tree before the
// objects it refers to.
//
// # Reading
//
// Every read verifies: LoadManifest checks each tree object's digest,
// Checkout and OpenFile check every chunk and the whole file, and Verify
// checks every object a manifest refers to. A mismatch is an EINTERNAL
// error whose message names the object ("object blake3:... is corrupt
// (digest mismatch)") and the file path; corrupt content is never written
// to its destination path.
//
// # Local index
//
// With AddOptions.IndexDir set, Add keeps a file there mapping (absolute
// path, size, modification time in ns, inode, device) to the file's digest
// and chunk list, so re-adding an unchanged tree costs one stat per file and
// no reads. The index is a cache: it is written atomically (temporary file
// and rename), a corrupt or unreadable index is ignored and rebuilt, and an
// entry is used only when all five stat fields match. A file modified less
// than RacyWindow before it was hashed is not recorded, since a change
// within the filesystem's timestamp granularity could leave its stat
// unchanged. The index only ever records files whose objects are stored;
// since it may serve several stores, a file known from it is still checked
// in the store (one Stat per object) unless an existing tree object above
// it proves it present.
//
// # Concurrency and damage
//
// Several Adds may run at once on one store, in one process or many:
// objects are immutable and named by content, so writing one twice is
// harmless. An Add that finds an object another Add wrote but has not
// synced yet relies on the store's Sync to cover it (the local store's
// syncfs on Linux flushes the whole filesystem, so it does). Add trusts an existing object whose size is right; Verify
// finds damaged ones. Since Add skips subtrees whose tree object exists,
// repairing takes deleting the damaged object and the tree objects of the
// directories above it, then adding the data again.
//
// # Symbolic links
//
// Paths given to Add are followed when they are symbolic links. Symbolic
// links and special files found while walking a directory are neither
// followed nor stored: they are skipped, counted in Stats.Skipped and
// logged.
//
// The package imports the standard library, github.com/zeebo/blake3 and the
// root package loopml, and no sibling package.
package cas
