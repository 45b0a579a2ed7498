package mlmodel

import (
	"bytes"
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
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/zeebo/blake3"
)

// TimeLayout is the layout of utc_time_created, as Python's str(datetime)
// writes it.
const TimeLayout = "2006-01-02 15:04:05.000000"

// DigestPrefix starts every digest this package computes.
const DigestPrefix = "blake3:"

// LoopmlFlavor is the configuration of loopml's own flavor, the one the Go
// runtime loads.
type LoopmlFlavor struct {
	Learner       string // learner that trained the model ("popularity", "mf", "implicit-als", ...)
	FormatVersion int    // version of the model file's encoding, ≥ 1
	ModelFile     string // path of the model file, relative to the package root
	LoopmlVersion string // loopml release that wrote the package; optional
}

// Map returns the flavor as the MLmodel file holds it.
func (f LoopmlFlavor) Map() map[string]any {
	m := map[string]any{
		"learner":        f.Learner,
		"format_version": f.FormatVersion,
		"model_file":     f.ModelFile,
	}
	if f.LoopmlVersion != "" {
		m["loopml_version"] = f.LoopmlVersion
	}
	return m
}

// LoopmlFlavor returns the loopml flavor of m. It returns false when m has
// no such flavor, and an EINVALID error naming the key when the flavor is
// malformed.
func (m *MLmodel) LoopmlFlavor() (LoopmlFlavor, bool, error) {
	cfg, ok := m.Flavors[FlavorLoopml]
	if !ok {
		return LoopmlFlavor{}, false, nil
	}
	var f LoopmlFlavor
	str := func(key string, dst *string, required bool) error {
		v, ok := cfg[key]
		if !ok || v == nil {
			if required {
				return loopml.Errorf(loopml.EINVALID, "MLmodel: key 'flavors.loopml.%s' is required", key)
			}
			return nil
		}
		s, ok := v.(string)
		if !ok || (required && s == "") {
			return loopml.Errorf(loopml.EINVALID, "MLmodel: key 'flavors.loopml.%s' must be a non-empty string", key)
		}
		*dst = s
		return nil
	}
	if err := str("learner", &f.Learner, true); err != nil {
		return f, true, err
	}
	if err := str("model_file", &f.ModelFile, true); err != nil {
		return f, true, err
	}
	if err := checkRelPath(f.ModelFile); err != nil {
		return f, true, loopml.Errorf(loopml.EINVALID, "MLmodel: key 'flavors.loopml.model_file': %v", err)
	}
	if err := str("loopml_version", &f.LoopmlVersion, false); err != nil {
		return f, true, err
	}
	switch v := cfg["format_version"].(type) {
	case int:
		f.FormatVersion = v
	case int64:
		f.FormatVersion = int(v)
	default:
		return f, true, loopml.Errorf(loopml.EINVALID, "MLmodel: key 'flavors.loopml.format_version' must be an integer, got %v", v)
	}
	if f.FormatVersion < 1 {
		return f, true, loopml.Errorf(loopml.EINVALID, "MLmodel: key 'flavors.loopml.format_version' must be ≥ 1, got %d", f.FormatVersion)
	}
	return f, true, nil
}

// checkRelPath accepts a clean, relative, slash-separated path inside a
// package.
func checkRelPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.HasPrefix(p, "/") || filepath.IsAbs(p) || strings.Contains(p, "\\"):
		return fmt.Errorf("path %q must be relative and slash-separated", p)
	case path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("path %q must be clean and stay inside the package", p)
	}
	return nil
}

// PackageInfo is what the registry records about a package directory.
type PackageInfo struct {
	Digest string       // "blake3:<hex>", see PackageDigest
	Size   int64        // total bytes of all files, MLmodel included
	Files  []FileDigest // every regular file, sorted by path
}

// FileDigest is one file of a package.
type FileDigest struct {
	Path   string // slash-separated, relative to the package root
	Size   int64
	Digest string // "blake3:<hex>" of the content
}

// WritePackage writes a model package into dir (created if needed): the
// given files (path relative to dir → content) and then the MLmodel file
// for m. It fills in m.UTCTimeCreated and m.ModelUUID when they are empty
// and sets m.ModelSizeBytes to the total size of the files (MLmodel
// excluded), as MLflow does. Paths must be clean, relative and
// slash-separated and must not name the MLmodel file (EINVALID). A dir that
// already holds an MLmodel file is ECONFLICT. It returns the package's size
// and digest.
func WritePackage(ctx context.Context, dir string, m *MLmodel, files map[string][]byte) (PackageInfo, error) {
	names := make([]string, 0, len(files))
	var size int64
	for p, data := range files {
		if err := checkRelPath(p); err != nil {
			return PackageInfo{}, loopml.Errorf(loopml.EINVALID, "model package: file %v", err)
		}
		if p == FileName {
			return PackageInfo{}, loopml.Errorf(loopml.EINVALID, "model package: file %q is written from the MLmodel value", p)
		}
		names = append(names, p)
		size += int64(len(data))
	}
	sort.Strings(names)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return PackageInfo{}, loopml.WrapError(loopml.EINTERNAL, err, "model package: create %s", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
		return PackageInfo{}, loopml.Errorf(loopml.ECONFLICT, "model package: %s already holds an MLmodel file", dir)
	}
	for _, p := range names {
		if err := ctx.Err(); err != nil {
			return PackageInfo{}, err
		}
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return PackageInfo{}, loopml.WrapError(loopml.EINTERNAL, err, "model package: create directory for %s", p)
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return PackageInfo{}, loopml.WrapError(loopml.EINTERNAL, err, "model package: write %s", p)
		}
	}
	if m.UTCTimeCreated == "" {
		m.UTCTimeCreated = time.Now().UTC().Format(TimeLayout)
	}
	if m.ModelUUID == "" {
		m.ModelUUID = NewModelUUID()
	}
	m.ModelSizeBytes = size
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		return PackageInfo{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), buf.Bytes(), 0o644); err != nil {
		return PackageInfo{}, loopml.WrapError(loopml.EINTERNAL, err, "model package: write MLmodel")
	}
	return DigestDir(ctx, dir)
}

// NewModelUUID returns a random 32-hex-digit id, the form of MLflow's
// model_uuid (uuid4().hex).
func NewModelUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("mlmodel: crypto/rand: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return hex.EncodeToString(b[:])
}

// DigestDir computes the size and digest of the package directory dir. See
// DigestFS.
func DigestDir(ctx context.Context, dir string) (PackageInfo, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return PackageInfo{}, loopml.WrapError(loopml.ENOTFOUND, err, "model package: no directory %s", dir)
	} else if err != nil {
		return PackageInfo{}, loopml.WrapError(loopml.EINTERNAL, err, "model package: stat %s", dir)
	} else if !st.IsDir() {
		return PackageInfo{}, loopml.Errorf(loopml.EINVALID, "model package: %s is not a directory", dir)
	}
	return DigestFS(ctx, os.DirFS(dir))
}

// DigestFS computes the size and digest of the package rooted at fsys: the
// BLAKE3 digest of every regular file, and the package digest over them
// (see PackageDigest). A symbolic link or other non-regular file is
// EINVALID, since a package must be self-contained. The result does not
// depend on file modes or times, only on paths and contents.
func DigestFS(ctx context.Context, fsys fs.FS) (PackageInfo, error) {
	var info PackageInfo
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return loopml.Errorf(loopml.EINVALID, "model package: %s is not a regular file", p)
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := blake3.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		info.Files = append(info.Files, FileDigest{Path: p, Size: n, Digest: DigestPrefix + hex.EncodeToString(h.Sum(nil))})
		info.Size += n
		return nil
	})
	if err != nil {
		if loopml.ErrorCode(err) != loopml.EINTERNAL || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return PackageInfo{}, err
		}
		return PackageInfo{}, loopml.WrapError(loopml.EINTERNAL, err, "model package: digest")
	}
	info.Digest = PackageDigest(info.Files)
	return info, nil
}

// PackageDigest returns the digest of a package given its files:
// "blake3:" and the hex BLAKE3 hash of one line per file, sorted by path,
//
//	<len(path)>:<path> <size> <file digest>\n
//
// (the length prefix keeps paths with spaces or newlines unambiguous). The
// registry can recompute it from a file listing with digests, without the
// contents. files is not modified.
func PackageDigest(files []FileDigest) string {
	sorted := append([]FileDigest(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	h := blake3.New()
	var line []byte
	for _, f := range sorted {
		line = line[:0]
		line = strconv.AppendInt(line, int64(len(f.Path)), 10)
		line = append(line, ':')
		line = append(line, f.Path...)
		line = append(line, ' ')
		line = strconv.AppendInt(line, f.Size, 10)
		line = append(line, ' ')
		line = append(line, f.Digest...)
		line = append(line, '\n')
		_, _ = h.Write(line)
	}
	return DigestPrefix + hex.EncodeToString(h.Sum(nil))
}
