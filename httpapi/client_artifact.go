package httpapi

import (
	"context"
	"io"
	"net/http"
	"path"

	"github.com/loopml/loopml"
)

// ArtifactProxy is a loopml.ArtifactStore backed by a server's artifact
// proxy (/api/2.0/mlflow-artifacts/artifacts): paths are relative to the
// server's artifact store root, so code written against the interface
// (package cas, the dataset engine) works on a remote store. Get one with
// Client.Artifacts. Put and Open stream; Stat is a HEAD request (and, for
// a directory, a listing of its parent). Readers returned by Open do not
// seek. It is safe for concurrent use.
type ArtifactProxy struct{ c *Client }

var _ loopml.ArtifactStore = ArtifactProxy{}

// Artifacts returns the server's artifact store as a loopml.ArtifactStore.
func (c *Client) Artifacts() ArtifactProxy { return ArtifactProxy{c} }

// Put streams r to path and returns the bytes sent.
func (p ArtifactProxy) Put(ctx context.Context, path string, r io.Reader) (int64, error) {
	cr := &countingReader{r: r}
	err := p.c.UploadArtifact(ctx, path, cr)
	if err != nil {
		return cr.n, err
	}
	return cr.n, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// request sends one bodiless request to the proxy path of p and returns the
// response when its status is 2xx; other answers become *loopml.Error.
func (p ArtifactProxy) request(ctx context.Context, method, path string) (*http.Response, error) {
	u, err := p.c.artifactURL(path)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "build %s request for %q", method, path)
	}
	if id := loopml.RequestIDFromContext(ctx); validRequestID(id) {
		req.Header.Set(requestIDHeader, id)
	}
	resp, err := p.c.hc.Do(req)
	if err != nil {
		return nil, p.c.transportError(ctx, method, artifactProxyPath, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp, nil
}

// Open returns the content of the file at path, streamed from the server.
// A missing file gives ENOTFOUND, a directory EINVALID; a body cut short
// gives EUNAVAILABLE from Read instead of io.EOF.
func (p ArtifactProxy) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	resp, err := p.request(ctx, http.MethodGet, path)
	if err != nil {
		return nil, err
	}
	return &proxyBody{ctx: ctx, path: path, body: resp.Body, want: resp.ContentLength}, nil
}

// proxyBody is a download's body that reports transport failures and short
// bodies as errors with loopml codes.
type proxyBody struct {
	ctx  context.Context
	path string
	body io.ReadCloser
	want int64 // -1: unknown
	n    int64
}

func (b *proxyBody) Read(buf []byte) (int, error) {
	n, err := b.body.Read(buf)
	b.n += int64(n)
	switch {
	case err == io.EOF && b.want >= 0 && b.n != b.want:
		return n, loopml.Errorf(loopml.EUNAVAILABLE, "download %q: got %d of %d bytes", b.path, b.n, b.want)
	case err != nil && err != io.EOF:
		if b.ctx.Err() != nil {
			return n, b.ctx.Err()
		}
		return n, loopml.WrapError(loopml.EUNAVAILABLE, err, "download %q", b.path)
	}
	return n, err
}

func (b *proxyBody) Close() error { return b.body.Close() }

// Stat describes a file (HEAD gives its size, and Last-Modified its
// ModTime, to the second; zero when the server sends none) or a directory
// (found in its parent's listing). A missing path gives ENOTFOUND.
func (p ArtifactProxy) Stat(ctx context.Context, name string) (loopml.ArtifactInfo, error) {
	clean, err := loopml.CleanArtifactPath(name)
	if err != nil {
		return loopml.ArtifactInfo{}, err
	}
	if clean == "" {
		return loopml.ArtifactInfo{IsDir: true}, nil
	}
	resp, err := p.request(ctx, http.MethodHead, clean)
	if err == nil {
		resp.Body.Close()
		if resp.ContentLength < 0 {
			return loopml.ArtifactInfo{}, loopml.Errorf(loopml.EUNAVAILABLE, "stat %q: the server sent no Content-Length", clean)
		}
		info := loopml.ArtifactInfo{Path: clean, Size: resp.ContentLength}
		if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
			info.ModTime = t
		}
		return info, nil
	}
	if loopml.ErrorCode(err) != loopml.EINVALID {
		return loopml.ArtifactInfo{}, err
	}
	// The server refuses to download a directory: look for one.
	parent := path.Dir(clean)
	if parent == "." {
		parent = ""
	}
	list, lerr := p.List(ctx, parent)
	if lerr != nil {
		return loopml.ArtifactInfo{}, lerr
	}
	for _, f := range list {
		if f.Path == clean && f.IsDir {
			return f, nil
		}
	}
	return loopml.ArtifactInfo{}, err
}

// List returns the direct children of dir, with paths relative to the
// store root; a missing directory gives an empty list.
func (p ArtifactProxy) List(ctx context.Context, dir string) ([]loopml.ArtifactInfo, error) {
	return p.c.ListStoreArtifacts(ctx, dir)
}

// Delete removes a file, or a directory and everything below it.
func (p ArtifactProxy) Delete(ctx context.Context, path string) error {
	resp, err := p.request(ctx, http.MethodDelete, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}
