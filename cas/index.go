package cas

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/loopml/loopml"
	"github.com/zeebo/blake3"
)

// IndexFile is the name of the local index file in AddOptions.IndexDir.
const IndexFile = "cas-index-v1.bin"

// indexMagic starts an index file.
const indexMagic = "LOOPMLIX"

// statKey is what must match for an index entry to be trusted.
type statKey struct {
	size, mtime int64 // bytes, modification time in ns since the epoch
	ino, dev    uint64
}

// keyOf returns the statKey of fi.
func keyOf(fi fs.FileInfo) statKey {
	ino, dev := inode(fi)
	return statKey{size: fi.Size(), mtime: fi.ModTime().UnixNano(), ino: ino, dev: dev}
}

// indexEntry is what the index knows about one file.
type indexEntry struct {
	key    statKey
	digest Digest
	chunks []Chunk
}

// index maps absolute paths to the digests of the files as they were when
// last hashed. Safe for concurrent use.
//
// File format (all integers little-endian or varints):
//
//	"LOOPMLIX" | uint32 version=1 | uint32 Min | uint32 Avg | uint32 Max |
//	uvarint count | count × entry | 32-byte BLAKE3 of everything before
//	entry = uvarint len | path | varint size | varint mtime_ns |
//	        uvarint ino | uvarint dev | 32-byte digest |
//	        uvarint nchunks | nchunks × (32-byte digest | uvarint size)
//
// A file with another version, other chunk parameters, a bad checksum or
// any parse error is ignored, and the index starts empty.
type index struct {
	mu      sync.Mutex
	dir     string
	params  ChunkParams
	entries map[string]indexEntry
	dirty   bool
}

// loadIndex reads the index in dir; dir "" gives a disabled index.
func loadIndex(dir string, p ChunkParams, log *slog.Logger) *index {
	ix := &index{dir: dir, params: p, entries: make(map[string]indexEntry)}
	if dir == "" {
		return ix
	}
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if errors.Is(err, fs.ErrNotExist) {
		return ix
	}
	if err == nil {
		err = ix.decode(b)
	}
	if err != nil {
		log.Warn("ignoring unreadable cas index; it will be rebuilt", "dir", dir, "err", err)
		ix.entries = make(map[string]indexEntry)
		ix.dirty = true
	}
	return ix
}

var errBadIndex = errors.New("corrupt index file")

// decode parses an index file into ix.entries.
func (ix *index) decode(b []byte) error {
	if len(b) < len(indexMagic)+16+32 || string(b[:len(indexMagic)]) != indexMagic {
		return errBadIndex
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	if s := blake3.Sum256(body); !bytes.Equal(s[:], sum) {
		return errBadIndex
	}
	r := bytes.NewReader(body[len(indexMagic):])
	var hdr [4]uint32
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
		return errBadIndex
	}
	if hdr[0] != 1 || int(hdr[1]) != ix.params.Min || int(hdr[2]) != ix.params.Avg || int(hdr[3]) != ix.params.Max {
		return errors.New("index written by another version or with other chunk parameters")
	}
	count, err := binary.ReadUvarint(r)
	if err != nil || count > uint64(r.Len()) {
		return errBadIndex
	}
	uv := func() uint64 {
		v, e := binary.ReadUvarint(r)
		if e != nil {
			err = errBadIndex
		}
		return v
	}
	sv := func() int64 {
		v, e := binary.ReadVarint(r)
		if e != nil {
			err = errBadIndex
		}
		return v
	}
	dg := func() (d Digest) {
		if _, e := io.ReadFull(r, d[:]); e != nil {
			err = errBadIndex
		}
		return d
	}
	for range count {
		n := uv()
		if err != nil || n > uint64(r.Len()) {
			return errBadIndex
		}
		p := make([]byte, n)
		_, _ = io.ReadFull(r, p)
		var e indexEntry
		e.key.size, e.key.mtime = sv(), sv()
		e.key.ino, e.key.dev = uv(), uv()
		e.digest = dg()
		nc := uv()
		if err != nil || nc > uint64(r.Len()) {
			return errBadIndex
		}
		if nc > 0 {
			e.chunks = make([]Chunk, nc)
			for k := range e.chunks {
				e.chunks[k].Digest = dg()
				e.chunks[k].Size = int64(uv())
			}
		}
		if err != nil {
			return err
		}
		ix.entries[string(p)] = e
	}
	if r.Len() != 0 {
		return errBadIndex
	}
	return nil
}

// lookup returns the entry for abs if its stat key matches k exactly.
func (ix *index) lookup(abs string, k statKey) (indexEntry, bool) {
	if ix.dir == "" {
		return indexEntry{}, false
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e, ok := ix.entries[abs]
	if !ok || e.key != k {
		return indexEntry{}, false
	}
	return e, true
}

// put records e for abs.
func (ix *index) put(abs string, e indexEntry) {
	if ix.dir == "" {
		return
	}
	ix.mu.Lock()
	ix.entries[abs] = e
	ix.dirty = true
	ix.mu.Unlock()
}

// prune forgets the entries below directory root (absolute) whose path is
// not in keep: files deleted since they were indexed.
func (ix *index) prune(root string, keep map[string]bool) {
	if ix.dir == "" {
		return
	}
	prefix := strings.TrimSuffix(root, string(filepath.Separator)) + string(filepath.Separator)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for p := range ix.entries {
		if strings.HasPrefix(p, prefix) && !keep[p] {
			delete(ix.entries, p)
			ix.dirty = true
		}
	}
}

// save writes the index atomically (temporary file, fsync, rename) if it
// changed.
func (ix *index) save() error {
	if ix.dir == "" {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.dirty {
		return nil
	}
	if err := os.MkdirAll(ix.dir, 0o755); err != nil {
		return loopml.WrapError(loopml.EINTERNAL, err, "create index directory %q", ix.dir)
	}
	f, err := os.CreateTemp(ix.dir, ".cas-index-*")
	if err != nil {
		return loopml.WrapError(loopml.EINTERNAL, err, "write index in %q", ix.dir)
	}
	tmp := f.Name()
	err = ix.write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(ix.dir, IndexFile))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return loopml.WrapError(loopml.EINTERNAL, err, "write index in %q", ix.dir)
	}
	ix.dirty = false
	return nil
}

// write encodes the index to w, paths sorted so equal indexes are equal
// files.
func (ix *index) write(w io.Writer) error {
	h := blake3.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 1<<20)
	paths := make([]string, 0, len(ix.entries))
	for p := range ix.entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf []byte
	buf = append(buf, indexMagic...)
	for _, v := range []uint32{1, uint32(ix.params.Min), uint32(ix.params.Avg), uint32(ix.params.Max)} {
		buf = binary.LittleEndian.AppendUint32(buf, v)
	}
	buf = binary.AppendUvarint(buf, uint64(len(paths)))
	for _, p := range paths {
		e := ix.entries[p]
		buf = binary.AppendUvarint(buf, uint64(len(p)))
		buf = append(buf, p...)
		buf = binary.AppendVarint(buf, e.key.size)
		buf = binary.AppendVarint(buf, e.key.mtime)
		buf = binary.AppendUvarint(buf, e.key.ino)
		buf = binary.AppendUvarint(buf, e.key.dev)
		buf = append(buf, e.digest[:]...)
		buf = binary.AppendUvarint(buf, uint64(len(e.chunks)))
		for _, c := range e.chunks {
			buf = append(buf, c.Digest[:]...)
			buf = binary.AppendUvarint(buf, uint64(c.Size))
		}
		if len(buf) > 64<<10 {
			if _, err := bw.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(h.Sum(nil))
	return err
}
