package registrycache_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/registrycache"
	"github.com/loopml/loopml/sqlstore"
)

func newRegistry(t testing.TB) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "loopml.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func seed(t testing.TB, reg loopml.ModelRegistry, name string, versions int) {
	t.Helper()
	ctx := context.Background()
	if err := reg.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: name}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < versions; i++ {
		if err := reg.CreateModelVersion(ctx, &loopml.ModelVersion{Name: name, Source: "mlflow-artifacts:/m"}); err != nil {
			t.Fatal(err)
		}
	}
}

func mustResolve(t *testing.T, c *registrycache.Cache, uri string) string {
	t.Helper()
	u, err := loopml.ParseModelURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Resolve(context.Background(), u)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", uri, err)
	}
	return v.Version
}

func TestCacheInvalidation(t *testing.T) {
	ctx := context.Background()
	db := newRegistry(t)
	seed(t, db, "recs", 2)
	seed(t, db, "other", 1)
	if err := db.SetAlias(ctx, "recs", "champion", "1"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetAlias(ctx, "other", "champion", "1"); err != nil {
		t.Fatal(err)
	}
	c := &registrycache.Cache{Registry: db}
	if got := mustResolve(t, c, "models:/recs@champion"); got != "1" {
		t.Fatalf("champion = %s, want 1", got)
	}
	mustResolve(t, c, "models:/other@champion")
	if err := db.SetAlias(ctx, "recs", "champion", "2"); err != nil {
		t.Fatal(err)
	}
	// Served from memory until an event says otherwise.
	if got := mustResolve(t, c, "models:/recs@champion"); got != "1" {
		t.Fatalf("cached champion = %s, want 1 (no event yet)", got)
	}
	events, err := db.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "recs", Alias: "champion"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan loopml.RegistryEvent, 1)
	ch <- events[len(events)-1]
	close(ch)
	c.Watch(ctx, ch)
	if got := mustResolve(t, c, "models:/recs@champion"); got != "2" {
		t.Fatalf("champion after the alias event = %s, want 2", got)
	}
	// Other models' entries survive; a rename clears everything.
	if err := db.SetAlias(ctx, "other", "champion", "1"); err != nil {
		t.Fatal(err)
	}
	c.Invalidate(loopml.RegistryEvent{Type: loopml.EventModelRenamed, Model: "recs2"})
	if _, err := db.RenameRegisteredModel(ctx, "recs", "recs2"); err != nil {
		t.Fatal(err)
	}
	u, _ := loopml.ParseModelURI("models:/recs@champion")
	if _, err := c.Resolve(ctx, u); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Fatalf("old name after rename: error %v, want ENOTFOUND", err)
	}
	// Errors are not cached.
	seed(t, db, "recs", 1)
	if got := mustResolve(t, c, "models:/recs/latest"); got != "1" {
		t.Fatalf("recreated model latest = %s, want 1", got)
	}
}

func TestCacheTTL(t *testing.T) {
	ctx := context.Background()
	db := newRegistry(t)
	seed(t, db, "recs", 2)
	now := time.Unix(1000, 0)
	c := &registrycache.Cache{Registry: db, TTL: time.Minute, Now: func() time.Time { return now }}
	if got := mustResolve(t, c, "models:/recs/latest"); got != "2" {
		t.Fatalf("latest = %s, want 2", got)
	}
	if err := db.CreateModelVersion(ctx, &loopml.ModelVersion{Name: "recs", Source: "s"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(59 * time.Second)
	if got := mustResolve(t, c, "models:/recs/latest"); got != "2" {
		t.Fatalf("latest within the TTL = %s, want the cached 2", got)
	}
	now = now.Add(2 * time.Second)
	if got := mustResolve(t, c, "models:/recs/latest"); got != "3" {
		t.Fatalf("latest after the TTL = %s, want 3", got)
	}
	off := &registrycache.Cache{Registry: db, TTL: -1}
	mustResolve(t, off, "models:/recs/latest")
	if err := db.CreateModelVersion(ctx, &loopml.ModelVersion{Name: "recs", Source: "s"}); err != nil {
		t.Fatal(err)
	}
	if got := mustResolve(t, off, "models:/recs/latest"); got != "4" {
		t.Fatalf("uncached latest = %s, want 4", got)
	}
}

func TestCacheConcurrent(t *testing.T) {
	db := newRegistry(t)
	seed(t, db, "recs", 3)
	c := &registrycache.Cache{Registry: db}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if g%4 == 0 {
					c.Invalidate(loopml.RegistryEvent{Type: loopml.EventAliasSet, Model: "recs"})
					continue
				}
				mustResolve(t, c, "models:/recs/"+[]string{"1", "2", "3", "latest"}[i%4])
			}
		}()
	}
	wg.Wait()
}

// BenchmarkResolve measures alias resolution on the serving hot path:
// cached (the steady state) and through the SQLite store.
func BenchmarkResolve(b *testing.B) {
	ctx := context.Background()
	db := newRegistry(b)
	seed(b, db, "recs", 10)
	if err := db.SetAlias(ctx, "recs", "champion", "7"); err != nil {
		b.Fatal(err)
	}
	u, _ := loopml.ParseModelURI("models:/recs@champion")
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", 0}, {"store", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			c := &registrycache.Cache{Registry: db, TTL: bc.ttl}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Resolve(ctx, u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
