package httpapi_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const proxy = "/api/2.0/mlflow-artifacts/artifacts"

func TestArtifactProxy(t *testing.T) {
	e := newEnv(t)

	// Upload, including names with spaces and unicode (escaped per segment).
	files := map[string]string{
		"1/run/artifacts/x.txt":             "some text",
		"1/run/artifacts/dir/model.json":    `{"a":1}`,
		"1/run/artifacts/dir/my file ü.txt": "unicode",
		"1/run/artifacts/empty.bin":         "",
	}
	for p, content := range files {
		r := e.do("PUT", proxy+"/"+escapePath(p), "", "Content-Type", "application/octet-stream")
		if content != "" {
			r = e.do("PUT", proxy+"/"+escapePath(p), content)
		}
		if r.status != 200 {
			t.Fatalf("PUT %s: %d %s", p, r.status, r.body)
		}
	}

	// Download: body, Content-Type, Content-Length.
	r := e.do("GET", proxy+"/1/run/artifacts/x.txt", "")
	if r.status != 200 || string(r.body) != "some text" {
		t.Fatalf("GET x.txt = %d %q", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cl := r.header.Get("Content-Length"); cl != "9" {
		t.Errorf("Content-Length = %q", cl)
	}
	r = e.do("GET", proxy+"/"+escapePath("1/run/artifacts/dir/my file ü.txt"), "")
	if r.status != 200 || string(r.body) != "unicode" {
		t.Errorf("GET unicode = %d %q", r.status, r.body)
	}
	if ct := e.do("GET", proxy+"/1/run/artifacts/dir/model.json", "").header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("json Content-Type = %q", ct)
	}

	// Range requests work on the local store's seekable reader.
	r = e.do("GET", proxy+"/1/run/artifacts/x.txt", "", "Range", "bytes=5-8")
	if r.status != http.StatusPartialContent || string(r.body) != "text" {
		t.Errorf("range = %d %q", r.status, r.body)
	}

	// Listing: entries relative to the listed directory; missing dir is {}.
	r = e.do("GET", proxy+"?path=1/run/artifacts", "")
	golden(t, "artifact_proxy_list", r.body)
	r = e.do("GET", proxy+"?path="+url.QueryEscape("1/run/artifacts/dir"), "")
	m := r.ok(t)
	if dig(m, "files", 0, "path") != "model.json" || dig(m, "files", 1, "path") != "my file ü.txt" {
		t.Errorf("dir listing = %s", r.body)
	}
	if r = e.do("GET", proxy+"?path=nope/nothing", ""); r.status != 200 || string(r.body) != "{}" {
		t.Errorf("missing dir listing = %d %s, want {}", r.status, r.body)
	}

	// Delete, then 404.
	e.do("DELETE", proxy+"/1/run/artifacts/x.txt", "").ok(t)
	e.do("GET", proxy+"/1/run/artifacts/x.txt", "").isError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	e.do("GET", proxy+"/1/run/artifacts/dir", "").isError(t, 400, "INVALID_PARAMETER_VALUE")
	e.do("POST", proxy+"/1/run/artifacts/x.txt", "{}").isError(t, 405, "BAD_REQUEST")
	e.do("POST", proxy, "{}").isError(t, 405, "BAD_REQUEST")
}

func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func TestArtifactPathTraversal(t *testing.T) {
	e := newEnv(t)
	e.do("PUT", proxy+"/safe/file.txt", "data").ok(t)
	tests := []struct{ name, rawPath string }{
		{"dotdot", "/../../etc/passwd"},
		{"dotdot inside", "/safe/../../x"},
		{"encoded dotdot", "/%2e%2e/%2e%2e/etc/passwd"},
		{"encoded slash dotdot", "/safe%2F..%2F..%2Fx"},
		{"absolute", "//etc/passwd"},
		{"encoded absolute", "/%2Fetc%2Fpasswd"},
		{"backslash", "/safe%5C..%5Cx"},
		{"nul", "/safe/a%00b"},
		{"control", "/safe/a%0Ab"},
		{"drive letter", "/C:/x"},
		{"empty", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{"GET", "PUT", "DELETE"} {
				body := ""
				if method == "PUT" {
					body = "evil"
				}
				r := rawRequest(t, e, method, proxy+tt.rawPath, body)
				r.isError(t, 400, "INVALID_PARAMETER_VALUE")
			}
		})
	}
	// net/http itself refuses malformed escapes, with a plain 400.
	if r := rawRequest(t, e, "GET", proxy+"/safe/%zz", ""); r.status != 400 {
		t.Errorf("bad escape = %d, want 400", r.status)
	}
	for _, q := range []string{"../x", "/etc", "a%5Cb", "a%00"} {
		rawRequest(t, e, "GET", proxy+"?path="+q, "").isError(t, 400, "INVALID_PARAMETER_VALUE", "path")
	}
	// Run listing rejects traversal in its path too.
	id := e.createRun("0")
	e.get("artifacts/list?run_id="+id+"&path=../../x").isError(t, 400, "INVALID_PARAMETER_VALUE")
}

// rawRequest sends a request whose path is used exactly as written (no
// client-side cleaning).
func rawRequest(t *testing.T, e *env, method, rawPath, body string) response {
	t.Helper()
	u, _ := url.Parse(e.srv.URL)
	req := &http.Request{
		Method: method,
		URL:    &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: rawPath},
		Header: http.Header{},
		Host:   u.Host,
	}
	if body != "" {
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestRunArtifactList(t *testing.T) {
	e := newEnv(t)
	exp := e.createExperiment("arts")
	id := e.createRun(exp)
	root := exp + "/" + id + "/artifacts"
	e.do("PUT", proxy+"/"+root+"/model/MLmodel", "flavors: {}").ok(t)
	e.do("PUT", proxy+"/"+root+"/metrics.csv", "a,b\n1,2\n").ok(t)

	m := e.get("artifacts/list?run_id=" + id).ok(t)
	if m["root_uri"] != "mlflow-artifacts:/"+root {
		t.Errorf("root_uri = %v", m["root_uri"])
	}
	if dig(m, "files", 0, "path") != "metrics.csv" || dig(m, "files", 0, "file_size") != 8.0 ||
		dig(m, "files", 1, "path") != "model" || dig(m, "files", 1, "is_dir") != true {
		t.Errorf("root listing = %v", m)
	}
	if _, has := dig(m, "files", 1).(map[string]any)["file_size"]; has {
		t.Errorf("directory has file_size: %v", m)
	}
	m = e.get("artifacts/list?run_uuid=" + id + "&path=model").ok(t)
	if dig(m, "files", 0, "path") != "model/MLmodel" {
		t.Errorf("run-relative sub listing = %v", m)
	}
	// The web UI's /get-artifact downloads by run and run-relative path.
	r := e.do("GET", "/get-artifact?path=metrics.csv&run_uuid="+id, "")
	if r.status != 200 || string(r.body) != "a,b\n1,2\n" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Errorf("get-artifact = %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	e.do("GET", "/get-artifact?path=../../x&run_id="+id, "").isError(t, 400, "INVALID_PARAMETER_VALUE")
	e.do("GET", "/get-artifact?run_id="+id, "").isError(t, 400, "INVALID_PARAMETER_VALUE", "'path'")
	e.do("GET", "/get-artifact?path=nope.txt&run_id="+id, "").isError(t, 404, "RESOURCE_DOES_NOT_EXIST")

	m = e.get("artifacts/list?run_id=" + id + "&path=missing").ok(t)
	if _, has := m["files"]; has || m["root_uri"] == nil {
		t.Errorf("missing dir listing = %v", m)
	}
	e.get("artifacts/list?run_id="+strings.Repeat("a", 32)).isError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	e.get("artifacts/list").isError(t, 400, "INVALID_PARAMETER_VALUE", "'run_id'")
}

// TestArtifactUploadStreams uploads a body larger than the JSON body limit:
// artifact uploads are not limited, and arrive intact.
func TestArtifactUploadStreams(t *testing.T) {
	e := newEnv(t, withMaxBody(1024))
	// Server-wide timeouts shorter than the transfer must not cut it.
	e.srv.Close()
	e.srv = httptest.NewUnstartedServer(e.srv.Config.Handler)
	e.srv.Config.ReadTimeout = 300 * time.Millisecond
	e.srv.Config.WriteTimeout = 300 * time.Millisecond
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	data := make([]byte, 3<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", e.srv.URL+proxy+"/big/blob.bin", &slowReader{r: bytes.NewReader(data), chunk: 1 << 20, delay: 200 * time.Millisecond})
	req.ContentLength = int64(len(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload status %d", resp.StatusCode)
	}
	resp, err = http.Get(e.srv.URL + proxy + "/big/blob.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	var got bytes.Buffer
	if _, err := io.Copy(&got, &slowReader{r: resp.Body, chunk: 1 << 20, delay: 200 * time.Millisecond}); err != nil {
		t.Fatalf("slow download: %v", err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Errorf("downloaded %d bytes differ from the %d uploaded", got.Len(), len(data))
	}
}

// slowReader sleeps delay before each chunk bytes it passes on.
type slowReader struct {
	r     io.Reader
	chunk int
	delay time.Duration
	left  int // bytes before the next sleep
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		time.Sleep(s.delay)
		s.left = s.chunk
	}
	if len(p) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= n
	return n, err
}
