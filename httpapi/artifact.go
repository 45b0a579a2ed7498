package httpapi

import (
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// artifactURIScheme is the scheme of run artifact URIs served by the
// artifact proxy: mlflow-artifacts:/<exp>/<run>/artifacts maps to the store
// path <exp>/<run>/artifacts.
const artifactURIScheme = "mlflow-artifacts:"

func (s *Server) registerArtifactRoutes(mux *http.ServeMux) {
	handle(mux, "GET", "artifacts/list", s.handleListArtifacts)
	// The MLflow web UI previews run artifacts through /get-artifact.
	mux.HandleFunc("GET /get-artifact", s.handleGetArtifact)
}

// runArtifactRoot returns the artifact URI of the run named in q and its
// store path; proxied is false for URIs outside the artifact proxy.
func (s *Server) runArtifactRoot(r *http.Request, q query) (uri, root string, proxied bool, err error) {
	id, err := runIDFromQuery(q)
	if err != nil {
		return "", "", false, err
	}
	run, err := s.runs.GetRun(r.Context(), id)
	if err != nil {
		return "", "", false, err
	}
	root, proxied = storePathOfURI(run.ArtifactURI)
	return run.ArtifactURI, root, proxied, nil
}

// handleGetArtifact downloads one file by run id and run-relative path.
func (s *Server) handleGetArtifact(w http.ResponseWriter, r *http.Request) {
	q := query(r.URL.Query())
	rel, err := loopml.CleanArtifactPath(q.str("path"))
	if err == nil && rel == "" {
		err = missing("path")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	uri, root, proxied, err := s.runArtifactRoot(r, q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !proxied {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "artifacts of this run live at %q, outside this server's artifact store", uri))
		return
	}
	s.handleDownload(w, r, joinPath(root, rel))
}

// storePathOfURI returns the artifact store path of an mlflow-artifacts URI
// (also in its mlflow-artifacts://host/path form), and false for URIs of
// other schemes.
func storePathOfURI(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, artifactURIScheme)
	if !ok {
		return "", false
	}
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return "", true
		}
		rest = rest[i:]
	}
	p, err := loopml.CleanArtifactPath(strings.TrimLeft(rest, "/"))
	if err != nil {
		return "", false
	}
	return p, true
}

func (s *Server) handleListArtifacts(w http.ResponseWriter, r *http.Request) {
	q := query(r.URL.Query())
	if _, err := runIDFromQuery(q); err != nil {
		s.writeError(w, r, err)
		return
	}
	rel, err := loopml.CleanArtifactPath(q.str("path"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	uri, root, ok, err := s.runArtifactRoot(r, q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var files []loopml.ArtifactInfo
	if ok {
		dir := joinPath(root, rel)
		if files, err = s.artifacts.List(r.Context(), dir); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	// For artifact URIs outside the proxy (another scheme) the server has no
	// way to list: answer like MLflow for an empty directory.
	respond(w, func(e *encoder) {
		e.str("root_uri", uri)
		if len(files) == 0 {
			return
		}
		e.arrayField("files")
		for _, f := range files {
			p := strings.TrimPrefix(f.Path, root+"/")
			if root == "" {
				p = f.Path
			}
			e.beginObject()
			encodeFileInfo(e, p, f)
			e.endObject()
		}
		e.endArray()
	})
}

func joinPath(dir, rel string) string {
	switch {
	case dir == "":
		return rel
	case rel == "":
		return dir
	}
	return dir + "/" + rel
}

func encodeFileInfo(e *encoder, p string, f loopml.ArtifactInfo) {
	e.str("path", p)
	// MLflow's FileInfo.to_proto always sets is_dir, so clients see
	// "is_dir": false for files; match it rather than omitting the field.
	e.key("is_dir")
	e.b = strconv.AppendBool(e.b, f.IsDir)
	if !f.IsDir {
		e.intNZ("file_size", f.Size)
	}
}

// artifactProxyRest reports whether u is under the artifact proxy and
// returns the still-escaped rest of the path after it ("" for the listing
// endpoint itself).
func artifactProxyRest(u *url.URL) (string, bool) {
	p := u.EscapedPath()
	for _, prefix := range [...]string{artifactProxyPath, ajaxArtifactProxy} {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			if rest == "" {
				return "", true
			}
			if rest[0] == '/' {
				return rest[1:], true
			}
		}
	}
	return "", false
}

// serveArtifactProxy serves MLflow's artifact proxy: GET on the bare prefix
// lists a directory (?path=), and PUT, GET and DELETE on prefix/<path>
// upload, download and delete one file.
func (s *Server) serveArtifactProxy(w http.ResponseWriter, r *http.Request, escaped string) {
	if escaped == "" && !strings.HasSuffix(r.URL.EscapedPath(), "/") {
		r.Pattern = "GET " + artifactListRoute
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeErrorBody(w, http.StatusMethodNotAllowed, "BAD_REQUEST", "method "+r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		s.handleProxyList(w, r)
		return
	}
	r.Pattern = r.Method + " " + artifactProxyRoute
	raw, err := url.PathUnescape(escaped)
	if err != nil {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "invalid artifact path %q: %v", escaped, err))
		return
	}
	p, err := loopml.CleanArtifactPath(raw)
	if err == nil && p == "" {
		err = loopml.Errorf(loopml.EINVALID, "Missing value for parameter 'path': an artifact path is required")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch r.Method {
	case http.MethodPut:
		s.handleUpload(w, r, p)
	case http.MethodGet, http.MethodHead:
		s.handleDownload(w, r, p)
	case http.MethodDelete:
		if err := s.artifacts.Delete(r.Context(), p); err != nil {
			s.writeError(w, r, err)
			return
		}
		respondEmpty(w)
	default:
		r.Pattern = ""
		w.Header().Set("Allow", "DELETE, GET, HEAD, PUT")
		writeErrorBody(w, http.StatusMethodNotAllowed, "BAD_REQUEST", "method "+r.Method+" is not allowed on "+r.URL.Path)
	}
}

// handleProxyList lists one directory; entries are relative to it. A
// missing directory gives {}.
func (s *Server) handleProxyList(w http.ResponseWriter, r *http.Request) {
	dir, err := loopml.CleanArtifactPath(r.URL.Query().Get("path"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	files, err := s.artifacts.List(r.Context(), dir)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		if len(files) == 0 {
			return
		}
		e.arrayField("files")
		for _, f := range files {
			p := f.Path
			if dir != "" {
				p = strings.TrimPrefix(p, dir+"/")
			}
			e.beginObject()
			encodeFileInfo(e, p, f)
			e.endObject()
		}
		e.endArray()
	})
}

// handleUpload streams the raw request body into the store; memory use does
// not depend on the file size.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, p string) {
	liftDeadlines(w)
	if _, err := s.artifacts.Put(r.Context(), p, r.Body); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

// handleDownload streams one file. When the store's reader can seek,
// http.ServeContent answers Range and conditional requests.
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request, p string) {
	rc, err := s.artifacts.Open(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer rc.Close()
	liftDeadlines(w)
	name := path.Base(p)
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	if rs, ok := rc.(io.ReadSeeker); ok {
		// A file's modification time becomes Last-Modified, which
		// ArtifactProxy.Stat reports as ArtifactInfo.ModTime.
		var mod time.Time
		if st, ok := rc.(interface{ Stat() (fs.FileInfo, error) }); ok {
			if fi, err := st.Stat(); err == nil {
				mod = fi.ModTime()
			}
		}
		http.ServeContent(w, r, name, mod, rs)
		return
	}
	if info, err := s.artifacts.Stat(r.Context(), p); err == nil && !info.IsDir {
		h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.Copy(w, rc)
}

// liftDeadlines clears the connection's read and write deadlines (the
// http.Server's ReadTimeout and WriteTimeout) for an artifact transfer,
// whose duration grows with the file; clients bound it with their own
// timeouts. Writers that cannot do this are left alone.
func liftDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}
