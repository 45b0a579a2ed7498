package datasets

import (
	"context"
	"errors"
	"io"
	"path"
	"sync/atomic"

	"github.com/loopml/loopml/cas"
	"github.com/loopml/loopml/profile"
)

// localFiles are the local files a version being added was read from (as
// cas.AddOptions.LocalFile reports them), so that profiling and validating
// it read them rather than download what was just uploaded: the bytes are
// the same, the digest was just computed from them. A file changed since
// is noticed by its digest (cas.OpenLocal), and the stored copy is read
// instead.
type localFiles struct {
	paths map[string]string // path in the version → local file
	// changed is set when a local file no longer had its entry's content.
	changed atomic.Bool
}

// record is the cas.AddOptions.LocalFile callback.
func (l *localFiles) record(p, local string) {
	if l.paths == nil {
		l.paths = map[string]string{}
	}
	l.paths[p] = local
}

// of returns the local file of e, "" if unknown (nil l included).
func (l *localFiles) of(e cas.Entry) string {
	if l == nil {
		return ""
	}
	return l.paths[e.Path]
}

// open opens the content of e: its local file when known and readable,
// else the stored copy. A Read of a local file that changed since the add
// fails (and marks l changed).
func (l *localFiles) open(ctx context.Context, d Deps, e cas.Entry) (io.ReadCloser, error) {
	if local := l.of(e); local != "" {
		rc, err := cas.OpenLocal(local, e)
		if err == nil {
			return &watchedReader{ReadCloser: rc, changed: &l.changed}, nil
		}
		d.logger().Debug("local copy unreadable; reading the stored one", "file", e.Path, "local", local, "err", err)
	}
	return cas.OpenFile(ctx, d.Artifacts, e)
}

// watchedReader marks changed when its local file no longer matches.
type watchedReader struct {
	io.ReadCloser
	changed *atomic.Bool
}

func (r *watchedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && errors.Is(err, cas.ErrLocalChanged) {
		r.changed.Store(true)
	}
	return n, err
}

// Close reads what the consumer left, so that the content is verified
// however much of it was used, and closes the file.
func (r *watchedReader) Close() error {
	io.Copy(io.Discard, r)
	return r.ReadCloser.Close()
}

// profileAdded profiles file e of a version being added from its local
// file when known, falling back to the stored copy when that fails for
// any reason (changed, unreadable) other than cancellation: the stored
// copy is what the version holds.
func profileAdded(ctx context.Context, d Deps, l *localFiles, e cas.Entry, opts profile.Options) (*profile.Profile, error) {
	if local := l.of(e); local != "" {
		p, err := profileLocal(ctx, e, local, opts)
		if err == nil || ctx.Err() != nil {
			return p, err
		}
		d.logger().Debug("profiling the stored copy", "file", e.Path, "local", local, "err", err)
	}
	return profileEntry(ctx, d, e, opts)
}

func profileLocal(ctx context.Context, e cas.Entry, local string, opts profile.Options) (*profile.Profile, error) {
	rc, err := cas.OpenLocal(local, e)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	p, err := profile.ProfileReader(ctx, rc, path.Base(e.Path), opts)
	if err != nil {
		return nil, err
	}
	// Read what the profiler left (a gzip trailer, say): only a read to
	// the end verifies the content.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return nil, err
	}
	return p, nil
}
