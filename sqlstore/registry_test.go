package sqlstore_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/sqlstore"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(ms int64) {
	c.mu.Lock()
	c.t = time.UnixMilli(ms)
	c.mu.Unlock()
}

// TestRegistryClock answers "which version was champion at time T" from
// the event log with a controlled clock, on each backend.
func TestRegistryClock(t *testing.T) {
	open := map[string]func(t *testing.T, opts sqlstore.Options) *sqlstore.DB{
		"sqlite": func(t *testing.T, opts sqlstore.Options) *sqlstore.DB {
			db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "loopml.db"), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		"postgres": func(t *testing.T, opts sqlstore.Options) *sqlstore.DB {
			db, err := sqlstore.Open(context.Background(), pgSchemaDSN(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
	for name, openDB := range open {
		t.Run(name, func(t *testing.T) {
			clock := &fakeClock{}
			db := openDB(t, sqlstore.Options{Now: clock.now})
			ctx := context.Background()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			clock.set(1_000)
			m := &loopml.RegisteredModel{Name: "m"}
			must(db.CreateRegisteredModel(ctx, m))
			if m.CreationTimestamp != 1_000 {
				t.Fatalf("creation timestamp %d, want the clock's 1000", m.CreationTimestamp)
			}
			for i := 0; i < 3; i++ {
				must(db.CreateModelVersion(ctx, &loopml.ModelVersion{Name: "m", Source: "x"}))
			}
			// champion: 1 at 2000, 2 at 3000, deleted at 4000, 3 at 5000
			// (and renamed at 4500, which does not move it).
			clock.set(2_000)
			must(db.SetAlias(ctx, "m", "champion", "1"))
			clock.set(3_000)
			must(db.SetAlias(ctx, "m", "champion", "2"))
			must(db.SetAlias(ctx, "m", "challenger", "1"))
			clock.set(4_000)
			must(db.DeleteAlias(ctx, "m", "champion"))
			clock.set(4_500)
			_, err := db.RenameRegisteredModel(ctx, "m", "m2")
			must(err)
			clock.set(5_000)
			must(db.SetAlias(ctx, "m2", "champion", "3"))

			evs, err := db.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "m2"})
			must(err)
			for _, e := range evs {
				if e.Model != "m2" {
					t.Fatalf("event %+v not reported under the current name", e)
				}
			}
			tests := []struct {
				at   int64
				want string
			}{
				{1_999, ""}, {2_000, "1"}, {2_999, "1"}, {3_000, "2"}, {3_999, "2"},
				{4_000, ""}, {4_600, ""}, {5_000, "3"}, {9_999, "3"},
			}
			for _, tc := range tests {
				if got := loopml.AliasAt(evs, "champion", tc.at); got != tc.want {
					t.Errorf("champion at %d: %q, want %q", tc.at, got, tc.want)
				}
			}
			if got := loopml.AliasAt(evs, "challenger", 9_999); got != "1" {
				t.Errorf("challenger: %q", got)
			}
			until, err := db.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "m2", Until: 3_500})
			must(err)
			for _, e := range until {
				if e.Time > 3_500 {
					t.Fatalf("event after Until: %+v", e)
				}
			}
			if got := loopml.AliasAt(until, "champion", 1<<62); got != "2" {
				t.Errorf("champion as of 3500 from a bounded query: %q", got)
			}
			v, err := db.GetModelVersion(ctx, "m2", "3")
			must(err)
			if v.CreationTimestamp != 1_000 {
				t.Errorf("version timestamp %d", v.CreationTimestamp)
			}
			got, err := db.GetRegisteredModel(ctx, "m2")
			must(err)
			if got.LastUpdatedTimestamp != 4_500 {
				t.Errorf("model last updated %d, want 4500 (the rename)", got.LastUpdatedTimestamp)
			}
		})
	}
}
