package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver for schema setup
	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// env is a server over a real SQLite store and a real local artifact store.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	db    *sqlstore.DB
	blobs *blobstore.Local
	logs  *syncBuffer
	reg   *prometheus.Registry
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newEnv starts a server; modify may change the Config before it is used.
func newEnv(t *testing.T, modify ...func(*httpapi.Config)) *env {
	t.Helper()
	return newEnvDSN(t, "", modify...)
}

// newEnvDSN is newEnv on the metadata store at dsn ("" is a new SQLite file).
func newEnvDSN(t *testing.T, dsn string, modify ...func(*httpapi.Config)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if dsn == "" {
		dsn = "sqlite://" + filepath.Join(dir, "loopml.db")
	}
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatalf("open sqlstore: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := blobstore.NewLocal(filepath.Join(dir, "artifacts"))
	if err != nil {
		t.Fatalf("open blobstore: %v", err)
	}
	t.Cleanup(func() { blobs.Close() })
	e := &env{t: t, db: db, blobs: blobs, logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	cfg := httpapi.Config{
		Experiments: db,
		Runs:        db,
		Artifacts:   blobs,
		Logger:      slog.New(slog.NewJSONHandler(e.logs, nil)),
		Metrics:     e.reg,
	}
	for _, m := range modify {
		m(&cfg)
	}
	e.srv = httptest.NewServer(httpapi.NewServer(cfg).Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; body "" sends none.
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) post(path, body string) response { return e.do("POST", "/api/2.0/mlflow/"+path, body) }
func (e *env) get(path string) response        { return e.do("GET", "/api/2.0/mlflow/"+path, "") }

// ok asserts a 200 and decodes the body into a generic map.
func (r response) ok(t *testing.T) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// isError asserts an MLflow error answer whose message contains every
// string of msgParts.
func (r response) isError(t *testing.T, status int, code string, msgParts ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, r.body)
	}
	if body.ErrorCode != code {
		t.Errorf("error_code %q, want %q (message %q)", body.ErrorCode, code, body.Message)
	}
	for _, p := range msgParts {
		if !strings.Contains(body.Message, p) {
			t.Errorf("message %q does not contain %q", body.Message, p)
		}
	}
}

// createExperiment returns the id of a new experiment.
func (e *env) createExperiment(name string) string {
	e.t.Helper()
	m := e.post("experiments/create", `{"name":`+quote(name)+`}`).ok(e.t)
	id, _ := m["experiment_id"].(string)
	if id == "" {
		e.t.Fatalf("no experiment_id in %v", m)
	}
	return id
}

// createRun returns the id of a new run.
func (e *env) createRun(expID string) string {
	e.t.Helper()
	m := e.post("runs/create", `{"experiment_id":`+quote(expID)+`,"start_time":1000}`).ok(e.t)
	id := dig(m, "run", "info", "run_id").(string)
	if len(id) != 32 {
		e.t.Fatalf("bad run id %q", id)
	}
	return id
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// dig walks a decoded JSON value by keys and indexes.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

var (
	runIDPattern = regexp.MustCompile(`[0-9a-f]{32}`)
	timePattern  = regexp.MustCompile(`"(creation_time|last_update_time)": ?\d+`)
)

// golden compares got (normalised: run ids and wall-clock times replaced)
// with testdata/<name>.golden, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var indented bytes.Buffer
	if err := json.Indent(&indented, got, "", "  "); err != nil {
		t.Fatalf("%s: invalid JSON: %v: %s", name, err, got)
	}
	norm := runIDPattern.ReplaceAll(indented.Bytes(), []byte("RUN_ID"))
	norm = timePattern.ReplaceAll(norm, []byte(`"$1": 0`))
	norm = append(norm, '\n')
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, norm, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(norm, want) {
		t.Errorf("%s differs from %s:\ngot:\n%s\nwant:\n%s", name, path, norm, want)
	}
}

// errCode is a shorthand for asserting domain error codes from the client.
func errCode(t *testing.T, err error, code string, msgPart string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %s", code)
	}
	if got := loopml.ErrorCode(err); got != code {
		t.Errorf("code %q, want %q (%v)", got, code, err)
	}
	if !strings.Contains(loopml.ErrorMessage(err), msgPart) {
		t.Errorf("message %q does not contain %q", loopml.ErrorMessage(err), msgPart)
	}
}

func newHTTPTestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// postgresDSN creates a fresh schema on the server named by
// LOOPML_TEST_POSTGRES_DSN and returns a DSN using it (dropped at the end of
// the test), or skips the test when the variable is unset.
func postgresDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv("LOOPML_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("set LOOPML_TEST_POSTGRES_DSN to run against PostgreSQL")
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "httpapi_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}
