package serving_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/learn/movies"
	"github.com/loopml/loopml/serving"
	"github.com/loopml/loopml/sqlstore"
	"github.com/loopml/loopml/training"
)

// env is a SQLite registry and a local artifact store holding model "recs"
// with two versions: 1 (popularity) and 2 (mf), alias champion → 1 and
// challenger → 2.
type env struct {
	db     *sqlstore.DB
	arts   *blobstore.Local
	models map[string]learn.Model // by version
	users  []string               // user ids of the training data
	items  []string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlstore.Open(ctx, "sqlite://"+filepath.ToSlash(filepath.Join(dir, "loopml.db")), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	arts, err := blobstore.NewLocal(filepath.Join(dir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arts.Close(); db.Close() })
	var r, m bytes.Buffer
	if err := movies.Generate(movies.Config{Seed: 7, Users: 40, Movies: 60, RatingsPerUser: 15}, &r, &m); err != nil {
		t.Fatal(err)
	}
	ratings := filepath.Join(dir, "ratings.csv")
	if err := os.WriteFile(ratings, r.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, arts: arts, models: map[string]learn.Model{}}
	deps := training.Deps{Experiments: db, Runs: db, Registry: db, Artifacts: arts}
	for _, learner := range []string{learn.KindPopularity, learn.KindMF} {
		var p learn.Params
		if learner == learn.KindMF {
			p = learn.Params{"seed": "1"}
		}
		res, err := training.Train(ctx, training.TrainOptions{
			Learner: learner, Data: training.DataSource{Path: ratings}, Params: p,
			Experiment: "recs", Register: "recs", TempDir: dir,
		}, deps)
		if err != nil {
			t.Fatal(err)
		}
		e.models[res.Version] = res.Model
	}
	for alias, v := range map[string]string{"champion": "1", "challenger": "2"} {
		if err := db.SetAlias(ctx, "recs", alias, v); err != nil {
			t.Fatal(err)
		}
	}
	d, err := learn.LoadCSV(ctx, bytes.NewReader(r.Bytes()), learn.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.users, e.items = d.Users.IDs(), d.Items.IDs()
	return e
}

// seededRand is a deterministic, concurrency-safe Gateway.Rand.
func seededRand(seed uint64) func() float64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed+1))
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Float64()
	}
}

// gateway loads specs into a new gateway (no background poll) and returns
// it with a test server of its handler.
func (e *env) gateway(t testing.TB, specs ...serving.EndpointSpec) (*serving.Gateway, *httptest.Server, error) {
	t.Helper()
	g := &serving.Gateway{Registry: e.db, Artifacts: e.arts, PollInterval: -1, Rand: seededRand(1)}
	err := g.Load(context.Background(), specs)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() { srv.Close(); g.Close() })
	return g, srv, err
}

func champion(name string) serving.EndpointSpec {
	return serving.EndpointSpec{Name: name, Targets: []serving.TargetSpec{{Model: "models:/recs@champion"}}, Default: true}
}

// do sends a request and decodes a JSON response.
func do(t testing.TB, method, url, contentType, body string, hdr ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 && json.Unmarshal(b, &out) != nil {
		t.Fatalf("%s %s: response %d is not a JSON object: %s", method, url, resp.StatusCode, b)
	}
	return resp, out
}

// putPackage writes an MLmodel (and files) under dir in the store and
// registers it as a new version of recs.
func (e *env) putPackage(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	ctx := context.Background()
	for name, content := range files {
		if _, err := e.arts.Put(ctx, dir+"/"+name, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	v := &loopml.ModelVersion{Name: "recs", Source: "mlflow-artifacts:/" + dir}
	if err := e.db.CreateModelVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	return v.Version
}
