package pipeline_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/pipeline"
	"github.com/loopml/loopml/sqlstore"
)

// env is a real tracking store, artifact store and loopback tracking
// server in a temporary directory, plus a pipeline directory.
type env struct {
	t    *testing.T
	db   *sqlstore.DB
	arts *blobstore.Local
	dir  string // the pipeline's directory
	deps pipeline.Deps
	out  *syncBuffer
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

func newEnv(t *testing.T) *env {
	t.Helper()
	home := t.TempDir()
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.ToSlash(filepath.Join(home, "loopml.db")), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	arts, err := blobstore.NewLocal(filepath.Join(home, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arts.Close() })
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{Experiments: db, Runs: db, Registry: db, Artifacts: arts}).Handler())
	t.Cleanup(srv.Close)
	e := &env{t: t, db: db, arts: arts, dir: t.TempDir(), out: &syncBuffer{}}
	e.deps = pipeline.Deps{Experiments: db, Runs: db, Registry: db, Artifacts: arts,
		Cache:    &pipeline.Cache{Store: arts, IndexDir: filepath.Join(home, "index")},
		Datasets: db, DatasetArtifacts: arts, TrackingURI: srv.URL,
		Executor: pipeline.LocalExecutor{Grace: 500 * time.Millisecond}}
	return e
}

// write creates files below the pipeline directory.
func (e *env) write(files map[string]string) {
	e.t.Helper()
	for name, content := range files {
		p := filepath.Join(e.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) read(name string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, name))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *env) parse(spec string, sets ...string) *pipeline.Spec {
	e.t.Helper()
	e.write(map[string]string{"loopml.yaml": spec})
	s, err := pipeline.ParseFile(filepath.Join(e.dir, "loopml.yaml"), pipeline.ParseOptions{Set: sets})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) run(ctx context.Context, s *pipeline.Spec, o pipeline.Options) (*pipeline.Result, error) {
	e.t.Helper()
	o.Progress, o.Output = e.out, e.out
	return pipeline.Run(ctx, s, e.deps, o)
}

// statuses maps stage names to statuses.
func statuses(r *pipeline.Result) map[string]string {
	out := map[string]string{}
	for _, s := range r.Stages {
		out[s.Name] = s.Status
	}
	return out
}

func (e *env) runStatus(id string) string {
	e.t.Helper()
	r, err := e.db.GetRun(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Status
}

func tag(r *loopml.Run, key string) string {
	for _, t := range r.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

func metric(r *loopml.Run, key string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Key == key {
			return m.Value, true
		}
	}
	return 0, false
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
