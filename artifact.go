package loopml

import (
	"context"
	"io"
	"strings"
	"time"
)

// ArtifactInfo describes a file or directory in an ArtifactStore.
type ArtifactInfo struct {
	Path    string // slash-separated, relative to the store root
	IsDir   bool
	Size    int64 // bytes; 0 for directories
	ModTime time.Time
}

// ArtifactStore keeps artifact files under slash-separated relative paths.
// Every path argument is checked with CleanArtifactPath; a bad one gives
// EINVALID. Implementations are safe for concurrent use; a reader never sees
// a partially written file, and a crash during Put leaves the previous
// content (or nothing).
type ArtifactStore interface {
	// Put streams r to path, replacing any existing file, creating parent
	// directories as needed, and returns the bytes written. Memory use does
	// not grow with the size of r. Returns EINVALID if path is a directory.
	Put(ctx context.Context, path string, r io.Reader) (int64, error)

	// Open returns the file's content. The reader also implements
	// io.Seeker when the backend supports random access. Returns ENOTFOUND
	// for a missing file, EINVALID for a directory.
	Open(ctx context.Context, path string) (io.ReadCloser, error)

	// Stat describes a file or directory. Returns ENOTFOUND.
	Stat(ctx context.Context, path string) (ArtifactInfo, error)

	// List returns the direct children of directory dir ("" is the root),
	// sorted by path, with paths relative to the store root. A missing
	// directory gives an empty list and no error.
	List(ctx context.Context, dir string) ([]ArtifactInfo, error)

	// Delete removes a file, or a directory and everything below it.
	// Deleting a missing path is not an error.
	Delete(ctx context.Context, path string) error
}

// CleanArtifactPath validates a slash-separated relative artifact path and
// returns it without redundant "./" or trailing slash ("" stays the root).
// It rejects (EINVALID, message naming the path) absolute paths, "..",
// backslashes, NUL and other control characters, drive letters and empty
// segments in the middle.
func CleanArtifactPath(p string) (string, error) {
	if p == "" || p == "." || p == "./" {
		return "", nil
	}
	if strings.HasPrefix(p, "/") {
		return "", Errorf(EINVALID, "invalid artifact path %q: must be relative", p)
	}
	if strings.ContainsRune(p, '\\') {
		return "", Errorf(EINVALID, "invalid artifact path %q: backslashes are not allowed", p)
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return "", Errorf(EINVALID, "invalid artifact path %q: control characters are not allowed", p)
		}
	}
	if len(p) >= 2 && p[1] == ':' {
		return "", Errorf(EINVALID, "invalid artifact path %q: drive letters are not allowed", p)
	}
	p = strings.TrimSuffix(p, "/")
	segs := strings.Split(p, "/")
	out := segs[:0]
	for _, s := range segs {
		switch s {
		case ".":
			continue
		case "..":
			return "", Errorf(EINVALID, "invalid artifact path %q: '..' is not allowed", p)
		case "":
			return "", Errorf(EINVALID, "invalid artifact path %q: empty path segment", p)
		}
		out = append(out, s)
	}
	return strings.Join(out, "/"), nil
}
