package cas

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/loopml/loopml"
	"github.com/zeebo/blake3"
)

// ErrLocalChanged is wrapped by the error of a reader from OpenLocal whose
// file no longer has the content of its entry; test for it with errors.Is.
var ErrLocalChanged = errors.New("local file changed since it was added")

// OpenLocal returns a reader of the local file name as the content of file
// entry e (name is typically what AddOptions.LocalFile reported for it),
// so that a caller can read a file it just added without fetching it from
// the store. The reader hashes what it reads: when the file is longer or
// shorter than e or its digest differs (it was changed since it was
// added), the Read that reaches the end returns an ECONFLICT error
// wrapping ErrLocalChanged instead of io.EOF; the caller then reads the
// stored copy (OpenFile). A file that cannot be opened gives its os error.
func OpenLocal(name string, e Entry) (io.ReadCloser, error) {
	if e.Dir {
		return nil, loopml.Errorf(loopml.EINVALID, "%q is a directory", e.Path)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return &localReader{f: f, e: e, h: blake3.New()}, nil
}

// localReader verifies a local file against its entry; see OpenLocal.
type localReader struct {
	f   *os.File
	e   Entry
	h   *blake3.Hasher
	n   int64
	err error
}

// Read implements io.Reader.
func (r *localReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.f.Read(p)
	r.n += int64(n)
	r.h.Write(p[:n])
	switch {
	case r.n > r.e.Size:
		r.err = r.changed()
		return n, r.err
	case errors.Is(err, io.EOF):
		if r.n != r.e.Size || Digest(r.h.Sum(nil)) != r.e.Digest {
			r.err = r.changed()
		} else {
			r.err = io.EOF
		}
		return n, r.err
	case err != nil:
		r.err = fmt.Errorf("read %s: %w", r.f.Name(), err)
		return n, r.err
	}
	return n, nil
}

func (r *localReader) changed() error {
	return loopml.WrapError(loopml.ECONFLICT, ErrLocalChanged, "local file %s no longer has the content of %q as added", r.f.Name(), r.e.Path)
}

// Close closes the file.
func (r *localReader) Close() error { return r.f.Close() }
