package cas

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/loopml/loopml"
)

// MaxTreeSize bounds the encoding of one directory (tree object) that
// LoadManifest accepts: 256 MiB, about a million entries.
const MaxTreeSize = 256 << 20

// Chunk is one content-defined piece of a chunked file, stored as an
// object named by Digest.
type Chunk struct {
	Digest Digest
	Size   int64
}

// Entry is a file or directory of a version.
type Entry struct {
	Path   string      // slash-separated path relative to the version root
	Dir    bool        // a directory
	Mode   fs.FileMode // permission bits only (0o777 at most)
	Size   int64       // file size; for a directory, the total size of the files below it
	Digest Digest      // BLAKE3 of the file's content, or of a directory's tree object
	Chunks []Chunk     // a chunked file's chunks in order; nil when the file is stored whole
}

// Objects returns the content objects a file needs: its chunks, or the
// file itself when it is stored whole. It returns nil for a directory.
func (e Entry) Objects() []Chunk {
	switch {
	case e.Dir:
		return nil
	case e.Chunks != nil:
		return e.Chunks
	}
	return []Chunk{{Digest: e.Digest, Size: e.Size}}
}

// Manifest is a version: the Merkle tree of its files and directories,
// identified by Root, the digest of the root tree object.
type Manifest struct {
	Root    Digest
	Files   int64   // number of files
	Size    int64   // total bytes of the files
	Entries []Entry // every file and directory below the root, sorted by Path
}

// treeJSON is the canonical encoding of one directory.
type treeJSON struct {
	Version int             `json:"loopml_tree"`
	Entries []treeEntryJSON `json:"entries"`
}

type treeEntryJSON struct {
	Name   string      `json:"name"`
	Type   string      `json:"type"` // "file" or "dir"
	Mode   string      `json:"mode"` // four octal digits, e.g. "0644"
	Size   int64       `json:"size"`
	Digest Digest      `json:"digest"`
	Chunks []chunkJSON `json:"chunks,omitempty"`
}

type chunkJSON struct {
	Digest Digest `json:"digest"`
	Size   int64  `json:"size"`
}

// TreeEntry is one child of a directory in a tree object. Name is a single
// path segment; for a directory, Digest names its tree object.
type TreeEntry struct {
	Name   string
	Dir    bool
	Mode   fs.FileMode
	Size   int64
	Digest Digest
	Chunks []Chunk
}

// checkName reports whether name can be a path segment of a version: not
// empty, not "." or "..", valid UTF-8, without '/' or NUL.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return loopml.Errorf(loopml.EINVALID, "invalid file name %q", name)
	case !utf8.ValidString(name):
		return loopml.Errorf(loopml.EINVALID, "invalid file name %q: not valid UTF-8", name)
	case strings.ContainsAny(name, "/\x00"):
		return loopml.Errorf(loopml.EINVALID, "invalid file name %q: contains '/' or NUL", name)
	}
	return nil
}

// EncodeTree returns the canonical encoding of a directory with the given
// children, and its digest. The encoding is compact JSON with fields in a
// fixed order:
//
//	{"loopml_tree":1,"entries":[{"name":"a.csv","type":"file","mode":"0644",
//	"size":12,"digest":"blake3:…"},{"name":"big","type":"file",…,
//	"chunks":[{"digest":"blake3:…","size":524301},…]},{"name":"sub",
//	"type":"dir","mode":"0755","size":…,"digest":"blake3:<tree digest>"}]}
//
// Entries are sorted by name (byte order); "chunks" appears only for
// chunked files. The children's order in the argument does not matter.
// Returns EINVALID for a bad or duplicate name, a mode beyond 0o777, a
// negative size, or chunks that do not add up to the file's size.
func EncodeTree(children []TreeEntry) ([]byte, Digest, error) {
	sorted := make([]TreeEntry, len(children))
	copy(sorted, children)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	t := treeJSON{Version: 1, Entries: make([]treeEntryJSON, len(sorted))}
	for i, c := range sorted {
		if err := checkName(c.Name); err != nil {
			return nil, Digest{}, err
		}
		if i > 0 && sorted[i-1].Name == c.Name {
			return nil, Digest{}, loopml.Errorf(loopml.EINVALID, "invalid tree: name %q appears twice", c.Name)
		}
		if c.Mode&^0o777 != 0 {
			return nil, Digest{}, loopml.Errorf(loopml.EINVALID, "invalid tree: mode %o of %q has bits beyond 0777", uint32(c.Mode), c.Name)
		}
		if c.Size < 0 {
			return nil, Digest{}, loopml.Errorf(loopml.EINVALID, "invalid tree: negative size of %q", c.Name)
		}
		e := treeEntryJSON{Name: c.Name, Type: "file", Mode: fmt.Sprintf("%04o", uint32(c.Mode)), Size: c.Size, Digest: c.Digest}
		if c.Dir {
			e.Type = "dir"
			if c.Chunks != nil {
				return nil, Digest{}, loopml.Errorf(loopml.EINVALID, "invalid tree: directory %q has chunks", c.Name)
			}
		}
		if c.Chunks != nil {
			if len(c.Chunks) < 2 {
				return nil, Digest{}, loopml.Errorf(loopml.EINVALID, "invalid tree: chunked file %q needs at least two chunks", c.Name)
			}
			var sum int64
			e.Chunks = make([]chunkJSON, len(c.Chunks))
			for k, ch := range c.Chunks {
				if ch.Size <= 0 {
					return nil, Digest{}, loopml.Errorf(loopml.EINVALID, "invalid tree: empty chunk in %q", c.Name)
				}
				sum += ch.Size
				e.Chunks[k] = chunkJSON(ch)
			}
			if sum != c.Size {
				return nil, Digest{}, loopml.Errorf(loopml.EINVALID, "invalid tree: chunks of %q add up to %d bytes, not %d", c.Name, sum, c.Size)
			}
		}
		t.Entries[i] = e
	}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, Digest{}, loopml.WrapError(loopml.EINTERNAL, err, "encode tree")
	}
	return b, Sum(b), nil
}

// DecodeTree parses a tree object. It accepts only the canonical encoding
// that EncodeTree produces, so one directory has exactly one digest; any
// other input gives EINVALID.
func DecodeTree(b []byte) ([]TreeEntry, error) {
	var t treeJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "invalid tree object: %v", err)
	}
	if t.Version != 1 {
		return nil, loopml.Errorf(loopml.EINVALID, "invalid tree object: unsupported loopml_tree version %d", t.Version)
	}
	out := make([]TreeEntry, len(t.Entries))
	for i, e := range t.Entries {
		m, err := strconv.ParseUint(e.Mode, 8, 32)
		if err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "invalid tree object: mode %q of %q", e.Mode, e.Name)
		}
		te := TreeEntry{Name: e.Name, Mode: fs.FileMode(m), Size: e.Size, Digest: e.Digest}
		switch e.Type {
		case "file":
		case "dir":
			te.Dir = true
		default:
			return nil, loopml.Errorf(loopml.EINVALID, "invalid tree object: type %q of %q", e.Type, e.Name)
		}
		if e.Chunks != nil {
			te.Chunks = make([]Chunk, len(e.Chunks))
			for k, c := range e.Chunks {
				te.Chunks[k] = Chunk(c)
			}
		}
		out[i] = te
	}
	canon, _, err := EncodeTree(out)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, b) {
		return nil, loopml.Errorf(loopml.EINVALID, "invalid tree object: not in canonical form")
	}
	return out, nil
}

// readObject reads the object d whole (at most limit bytes) and checks its
// digest. A missing object gives ENOTFOUND, a mismatch an EINTERNAL error
// wrapping ErrCorrupt; both messages name the object and what.
func readObject(ctx context.Context, store loopml.ArtifactStore, d Digest, limit int64, what string) ([]byte, error) {
	rc, err := store.Open(ctx, d.ObjectPath())
	if err != nil {
		if loopml.ErrorCode(err) == loopml.ENOTFOUND {
			return nil, loopml.WrapError(loopml.ENOTFOUND, err, "object %s of %s is missing", d, what)
		}
		return nil, fmt.Errorf("read object %s of %s: %w", d, what, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read object %s of %s: %w", d, what, err)
	}
	if int64(len(b)) > limit || Sum(b) != d {
		return nil, corrupt(d, what)
	}
	return b, nil
}

// LoadManifest reads the version whose root tree is root, verifying the
// digest of every tree object and the sizes it records. It returns
// ENOTFOUND if a tree object is missing, and EINTERNAL wrapping ErrCorrupt
// if one does not match its digest.
func LoadManifest(ctx context.Context, store loopml.ArtifactStore, root Digest) (Manifest, error) {
	m := Manifest{Root: root}
	size, err := loadTree(ctx, store, root, "", &m)
	if err != nil {
		return Manifest{}, err
	}
	m.Size = size
	sort.Slice(m.Entries, func(i, j int) bool { return m.Entries[i].Path < m.Entries[j].Path })
	return m, nil
}

// loadTree appends the entries below dir (tree d) to m and returns their
// total size.
func loadTree(ctx context.Context, store loopml.ArtifactStore, d Digest, dir string, m *Manifest) (int64, error) {
	what := "the version root"
	if dir != "" {
		what = fmt.Sprintf("directory %q", dir)
	}
	b, err := readObject(ctx, store, d, MaxTreeSize, what)
	if err != nil {
		return 0, err
	}
	children, err := DecodeTree(b)
	if err != nil {
		return 0, loopml.WrapError(loopml.EINTERNAL, err, "tree object %s of %s: %s", d, what, loopml.ErrorMessage(err))
	}
	var total int64
	for _, c := range children {
		p := path.Join(dir, c.Name)
		e := Entry{Path: p, Dir: c.Dir, Mode: c.Mode, Size: c.Size, Digest: c.Digest, Chunks: c.Chunks}
		if c.Dir {
			sub, err := loadTree(ctx, store, c.Digest, p, m)
			if err != nil {
				return 0, err
			}
			if sub != c.Size {
				return 0, loopml.Errorf(loopml.EINTERNAL, "tree object %s of %s records size %d for %q, its tree holds %d", d, what, c.Size, p, sub)
			}
		} else {
			m.Files++
		}
		total += c.Size
		m.Entries = append(m.Entries, e)
	}
	return total, nil
}

// Diff lists how version b differs from version a. Paths are relative to
// the version roots; directories end with "/". Each list is sorted.
type Diff struct {
	Added   []string // in b only
	Removed []string // in a only
	Changed []string // files in both whose content or mode differ, or a file replaced by a directory or back
}

// Empty reports whether the versions hold the same files and directories.
func (d Diff) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }

// DiffManifests compares two versions entry by entry. A directory appears
// in Added or Removed when the directory itself is new or gone (its files
// are listed too); content changes are reported on files only.
func DiffManifests(a, b Manifest) Diff {
	name := func(e Entry) string {
		if e.Dir {
			return e.Path + "/"
		}
		return e.Path
	}
	ea, eb := sortedEntries(a.Entries), sortedEntries(b.Entries)
	var d Diff
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		switch {
		case j == len(eb) || i < len(ea) && ea[i].Path < eb[j].Path:
			d.Removed = append(d.Removed, name(ea[i]))
			i++
		case i == len(ea) || eb[j].Path < ea[i].Path:
			d.Added = append(d.Added, name(eb[j]))
			j++
		default:
			x, y := ea[i], eb[j]
			switch {
			case x.Dir != y.Dir:
				d.Changed = append(d.Changed, x.Path)
			case !x.Dir && (x.Digest != y.Digest || x.Mode != y.Mode):
				d.Changed = append(d.Changed, x.Path)
			}
			i++
			j++
		}
	}
	sort.Strings(d.Added)
	sort.Strings(d.Removed)
	sort.Strings(d.Changed)
	return d
}

// sortedEntries returns es sorted by Path, copying only if needed.
func sortedEntries(es []Entry) []Entry {
	if sort.SliceIsSorted(es, func(i, j int) bool { return es[i].Path < es[j].Path }) {
		return es
	}
	c := append([]Entry(nil), es...)
	sort.Slice(c, func(i, j int) bool { return c[i].Path < c[j].Path })
	return c
}
