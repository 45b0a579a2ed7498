package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/artifacttest"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/sqlstore"
	"github.com/loopml/loopml/storetest"
)

// newDatasetEnv is newEnv with the SQLite store also serving datasets.
func newDatasetEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, func(c *httpapi.Config) { c.Datasets = c.Experiments.(loopml.DatasetService) })
}

// TestDatasetConformanceOverHTTP runs storetest's Dataset group against the
// Client talking to a server backed by SQLite; the workspace travels in the
// X-Loopml-Workspace header.
func TestDatasetConformanceOverHTTP(t *testing.T) {
	storetest.RunDatasets(t, func(t *testing.T) loopml.DatasetService {
		return httpapi.NewClient(newDatasetEnv(t).srv.URL, nil)
	})
}

// TestArtifactProxyConformance runs the ArtifactStore suite against the
// server's artifact store reached through the proxy.
func TestArtifactProxyConformance(t *testing.T) {
	artifacttest.Run(t, func(t *testing.T) loopml.ArtifactStore {
		return httpapi.NewClient(newEnv(t).srv.URL, nil).Artifacts()
	})
}

const blake3A = "blake3:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
const blake3B = "blake3:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func TestDatasetEndpoints(t *testing.T) {
	e := newDatasetEnv(t)

	r := e.lm("POST", "datasets/versions/create", `{"name":"movies","root":"`+blake3A+`","files":2,"size":10,
		"labels":{"period":"2024-10","quote\"d":"x"},"profile_ref":"datasets/movies/v1/profile.json","schema":"{\"a\":1}"}`)
	webhookGolden(t, "dataset_version_create", r.body)
	m := r.ok(t)
	if dig(m, "created") != true || dig(m, "dataset_version", "version") != 1.0 || dig(m, "dataset_version", "workspace") != "default" ||
		dig(m, "dataset_version", "labels", "quote\"d") != "x" || dig(m, "dataset_version", "schema") != `{"a":1}` {
		t.Fatalf("create v1: %v", m)
	}
	// The same root again creates nothing; the mirror path works.
	m = e.do("POST", "/ajax-api/2.0/loopml/datasets/versions/create", `{"name":"movies","root":"`+blake3A+`"}`).ok(t)
	if dig(m, "created") != false || dig(m, "dataset_version", "version") != 1.0 || dig(m, "dataset_version", "files") != 2.0 {
		t.Fatalf("re-create: %v", m)
	}
	e.lm("POST", "datasets/versions/create", `{"name":"movies","root":"`+blake3B+`","version":"2"}`).ok(t)
	e.lm("POST", "datasets/tags/set", `{"name":"movies","tag":"prod","version":1}`).ok(t)

	for ref, want := range map[string]float64{"movies": 2, "movies@latest": 2, "movies@v1": 1, "movies@2": 2, "movies@prod": 1} {
		m = e.lm("GET", "datasets/versions/get?ref="+ref, "").ok(t)
		if got := dig(m, "dataset_version", "version"); got != want {
			t.Errorf("get %s: version %v, want %v", ref, got, want)
		}
	}
	if tags := dig(e.lm("GET", "datasets/versions/get?ref=movies@v1", "").ok(t), "dataset_version", "tags"); len(tags.([]any)) != 1 {
		t.Errorf("tags of v1: %v", tags)
	}
	r = e.lm("GET", "datasets/get?name=movies", "")
	webhookGolden(t, "dataset_get", r.body)
	m = r.ok(t)
	if dig(m, "dataset", "versions") != 2.0 || dig(m, "dataset", "latest") != 2.0 || dig(m, "dataset", "next_version") != 3.0 || dig(m, "dataset", "tags", "prod") != 1.0 {
		t.Fatalf("summary: %v", m)
	}
	m = e.lm("GET", "datasets/list", "").ok(t)
	if list := dig(m, "datasets").([]any); len(list) != 1 || dig(list, 0, "name") != "movies" {
		t.Fatalf("list: %v", m)
	}
	m = e.lm("GET", "datasets/versions/list?name=movies", "").ok(t)
	if vs := dig(m, "dataset_versions").([]any); len(vs) != 2 || dig(vs, 0, "version") != 1.0 {
		t.Fatalf("versions: %v", m)
	}
	e.lm("DELETE", "datasets/tags/delete?name=movies&tag=prod", "").ok(t)
	e.lm("DELETE", "datasets/versions/delete", `{"name":"movies","version":2}`).ok(t)
	if got := dig(e.lm("GET", "datasets/versions/get?ref=movies", "").ok(t), "dataset_version", "version"); got != 1.0 {
		t.Fatalf("latest after deleting v2: %v", got)
	}

	// Error paths: 400 naming the field, 404 for what does not exist.
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
		msg                []string
	}{
		{"POST", "datasets/versions/create", `{"root":"` + blake3A + `"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'name'"}},
		{"POST", "datasets/versions/create", `{"name":"a/b","root":"` + blake3A + `"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'name'", "a/b"}},
		{"POST", "datasets/versions/create", `{"name":"d"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'root'"}},
		{"POST", "datasets/versions/create", `{"name":"d","root":"sha256:00"}`, 400, "INVALID_PARAMETER_VALUE", []string{"root"}},
		{"POST", "datasets/versions/create", `{"name":"d","root":"` + blake3A + `","version":-1}`, 400, "INVALID_PARAMETER_VALUE", []string{"'version'"}},
		{"POST", "datasets/versions/create", `{"name":"d","root":"` + blake3A + `","labels":[1]}`, 400, "INVALID_PARAMETER_VALUE", []string{"'labels'"}},
		{"POST", "datasets/versions/create", `{"name":"movies","root":"` + blake3B + `","version":2}`, 400, "RESOURCE_ALREADY_EXISTS", []string{"movies"}},
		{"POST", "datasets/versions/create", `{"name":`, 400, "INVALID_PARAMETER_VALUE", []string{"Malformed JSON"}},
		{"GET", "datasets/versions/get", "", 400, "INVALID_PARAMETER_VALUE", []string{"'ref'"}},
		{"GET", "datasets/versions/get?ref=movies@", "", 400, "INVALID_PARAMETER_VALUE", []string{"'ref'", "empty version"}},
		{"GET", "datasets/versions/get?ref=../x", "", 400, "INVALID_PARAMETER_VALUE", []string{"'ref'", "../x"}},
		{"GET", "datasets/versions/get?ref=nope", "", 404, "RESOURCE_DOES_NOT_EXIST", []string{"nope"}},
		{"GET", "datasets/versions/get?ref=movies@v9", "", 404, "RESOURCE_DOES_NOT_EXIST", []string{"no version 9"}},
		{"GET", "datasets/versions/get?ref=movies@v2", "", 404, "RESOURCE_DOES_NOT_EXIST", []string{"movies"}},
		{"GET", "datasets/get", "", 400, "INVALID_PARAMETER_VALUE", []string{"'name'"}},
		{"GET", "datasets/get?name=nope", "", 404, "RESOURCE_DOES_NOT_EXIST", []string{"nope"}},
		{"GET", "datasets/versions/list?name=-x", "", 400, "INVALID_PARAMETER_VALUE", []string{"'name'"}},
		{"GET", "datasets/versions/list?name=nope", "", 404, "RESOURCE_DOES_NOT_EXIST", []string{"nope"}},
		{"POST", "datasets/tags/set", `{"name":"movies","tag":"latest","version":1}`, 400, "INVALID_PARAMETER_VALUE", []string{"'tag'", "latest"}},
		{"POST", "datasets/tags/set", `{"name":"movies","version":1}`, 400, "INVALID_PARAMETER_VALUE", []string{"'tag'"}},
		{"POST", "datasets/tags/set", `{"name":"movies","tag":"prod"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'version'"}},
		{"POST", "datasets/tags/set", `{"name":"movies","tag":"prod","version":7}`, 404, "RESOURCE_DOES_NOT_EXIST", []string{"no version 7"}},
		{"DELETE", "datasets/tags/delete", `{"name":"movies","tag":"gone"}`, 404, "RESOURCE_DOES_NOT_EXIST", []string{"gone"}},
		{"DELETE", "datasets/versions/delete?name=movies&version=x", "", 400, "INVALID_PARAMETER_VALUE", []string{"'version'"}},
		{"DELETE", "datasets/versions/delete?name=movies", "", 400, "INVALID_PARAMETER_VALUE", []string{"'version'"}},
		{"DELETE", "datasets/versions/delete?name=movies&version=2", "", 404, "RESOURCE_DOES_NOT_EXIST", []string{"deleted"}},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.body, func(t *testing.T) {
			e.lm(tc.method, tc.path, tc.body).isError(t, tc.status, tc.code, tc.msg...)
		})
	}
}

// TestDatasetEndpointsUnconfigured: without a DatasetService every dataset
// route answers 501.
func TestDatasetEndpointsUnconfigured(t *testing.T) {
	e := newEnv(t)
	e.lm("GET", "datasets/list", "").isError(t, http.StatusNotImplemented, "NOT_IMPLEMENTED")
	e.lm("POST", "datasets/versions/create", `{"name":"d","root":"`+blake3A+`"}`).isError(t, http.StatusNotImplemented, "NOT_IMPLEMENTED")
	_, err := httpapi.NewClient(e.srv.URL, nil).ListDatasets(context.Background())
	errCode(t, err, loopml.ENOTIMPLEMENTED, "no store")
}

// TestArtifactProxyClient checks what the conformance suite does not: a
// directory's Stat, errors with their codes, and a server that cuts a
// download short.
func TestArtifactProxyClient(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a := httpapi.NewClient(e.srv.URL, nil).Artifacts()
	if n, err := a.Put(ctx, "cas/objects/ab/abcd", strings.NewReader("hello")); err != nil || n != 5 {
		t.Fatalf("Put: %d, %v", n, err)
	}
	fi, err := a.Stat(ctx, "cas/objects/ab/abcd")
	if err != nil || fi.IsDir || fi.Size != 5 || fi.Path != "cas/objects/ab/abcd" {
		t.Fatalf("Stat file: %+v, %v", fi, err)
	}
	for _, dir := range []string{"cas", "cas/objects/ab", ""} {
		if fi, err := a.Stat(ctx, dir); err != nil || !fi.IsDir {
			t.Errorf("Stat %q: %+v, %v; want a directory", dir, fi, err)
		}
	}
	_, err = a.Stat(ctx, "cas/objects/cd/missing")
	errCode(t, err, loopml.ENOTFOUND, "")
	_, err = a.Open(ctx, "cas/objects/cd/missing")
	errCode(t, err, loopml.ENOTFOUND, "")
	_, err = a.Stat(ctx, "../etc")
	errCode(t, err, loopml.EINVALID, "..")

	// A server that promises more bytes than it sends.
	short := newHTTPTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("12345"))
	}))
	rc, err := httpapi.NewClient(short.URL, nil).Artifacts().Open(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if !bytes.Equal(b, []byte("12345")) || loopml.ErrorCode(err) != loopml.EUNAVAILABLE {
		t.Fatalf("short body: read %q, %v; want EUNAVAILABLE", b, err)
	}
}

func TestDatasetConformanceOverHTTPPostgres(t *testing.T) {
	storetest.RunDatasets(t, func(t *testing.T) loopml.DatasetService {
		e := newEnvDSN(t, postgresDSN(t), func(c *httpapi.Config) { c.Datasets = c.Experiments.(loopml.DatasetService) })
		return httpapi.NewClient(e.srv.URL, nil)
	})
}

// FuzzDatasetRequests sends arbitrary bodies and references to the dataset
// endpoints of a server over a real store: every answer is a 200 or an
// MLflow error body with a 4xx status, never a 500, and a created version
// reads back through the Client as it was answered.
func FuzzDatasetRequests(f *testing.F) {
	for _, s := range []struct{ body, ref string }{
		{`{"name":"movies","root":"` + blake3A + `","files":2,"size":10,"labels":{"period":"2024-10"},"schema":"{}"}`, "movies@v1"},
		{`{"name":"movies","root":"` + blake3B + `","version":1,"tag":"prod"}`, "movies@prod"},
		{`{"name":"a/b","root":"x","labels":{"a=b":"c"}}`, "a/b"},
		{`{"name":"d","root":"` + blake3A + `","schema":"{"}`, "d@"},
		{`{"name":"d","root":"` + blake3A + `","labels":{"\u00e9\ud800":"\u0000"},"version":"9"}`, "d@v0"},
		{`{"name":null,"version":-3,"files":"x"}`, "@latest"},
		{`[]`, ""}, {`{"name":`, "d@9999999999999999999"}, {``, "d@latest"},
	} {
		f.Add(s.body, s.ref)
	}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(f.TempDir(), "loopml.db"), sqlstore.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	h := httpapi.NewServer(httpapi.Config{Datasets: db}).Handler()
	call := func(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/api/2.0/loopml/"+path, strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("%s %s %q: status %d: %s", method, path, body, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s %q: invalid JSON answer %s", method, path, body, rec.Body)
		}
		return rec
	}
	f.Fuzz(func(t *testing.T, body, ref string) {
		if rec := call(t, "POST", "datasets/versions/create", body); rec.Code == http.StatusOK {
			var got struct {
				Version struct {
					Name    string `json:"name"`
					Version int    `json:"version"`
					Root    string `json:"root"`
				} `json:"dataset_version"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Version.Version < 1 || got.Version.Name == "" {
				t.Fatalf("create answered %s", rec.Body)
			}
			back := call(t, "GET", "datasets/versions/get?ref="+url.QueryEscape(got.Version.Name+"@v"+strconv.Itoa(got.Version.Version)), "")
			if back.Code != http.StatusOK || !strings.Contains(back.Body.String(), got.Version.Root) {
				t.Fatalf("created version does not read back: %s", back.Body)
			}
		}
		call(t, "POST", "datasets/tags/set", body)
		call(t, "DELETE", "datasets/tags/delete", body)
		call(t, "DELETE", "datasets/versions/delete", body)
		call(t, "GET", "datasets/versions/get?ref="+url.QueryEscape(ref), "")
		call(t, "GET", "datasets/get?name="+url.QueryEscape(ref), "")
		call(t, "GET", "datasets/versions/list?name="+url.QueryEscape(ref), "")
		call(t, "GET", "datasets/list", "")
	})
}
