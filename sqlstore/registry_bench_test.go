package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/sqlstore"
)

const (
	benchModels   = 10_000
	benchVersions = 10 // per model
)

// loadRegistry bulk-loads benchModels models named model-00001.. with
// benchVersions versions each (the newest in Production, the one before in
// Staging), a tag per model and a champion alias on version 10. It writes
// with plain SQL on a second connection (the API would take minutes for
// 110,000 writes), then the store is reopened so nothing is cached.
func loadRegistry(b *testing.B, driver, dsn, dialect string) {
	b.Helper()
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	var stmts []string
	switch dialect {
	case "sqlite":
		stmts = []string{
			`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 10000)
INSERT INTO registered_models (model_id, workspace, name, description, creation_timestamp, last_updated_timestamp, next_version)
SELECT i, 'default', printf('model-%05d', i), 'benchmark model', 1700000000000 + i, 1700000000000 + i, 11 FROM s`,
			`WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 99999)
INSERT INTO model_versions (version_pk, model_id, version, stage, source, run_id, creation_timestamp, last_updated_timestamp)
SELECT i + 1, i / 10 + 1, i % 10 + 1, CASE i % 10 WHEN 9 THEN 'Production' WHEN 8 THEN 'Staging' ELSE 'None' END,
  printf('mlflow-artifacts:/1/%d/artifacts/model', i), printf('%032x', i), 1700000000000 + i, 1700000000000 + i FROM s`,
			`INSERT INTO registered_model_tags (model_id, key, value) SELECT model_id, 'team', 'team-' || (model_id % 7) FROM registered_models`,
			`INSERT INTO model_aliases (model_id, alias, version) SELECT model_id, 'champion', 10 FROM registered_models`,
			`ANALYZE`,
		}
	default:
		stmts = []string{
			`INSERT INTO registered_models (model_id, workspace, name, description, creation_timestamp, last_updated_timestamp, next_version)
SELECT i, 'default', 'model-' || lpad(i::text, 5, '0'), 'benchmark model', 1700000000000 + i, 1700000000000 + i, 11 FROM generate_series(1, 10000) i`,
			`INSERT INTO model_versions (version_pk, model_id, version, stage, source, run_id, creation_timestamp, last_updated_timestamp)
SELECT i + 1, i / 10 + 1, i % 10 + 1, CASE i % 10 WHEN 9 THEN 'Production' WHEN 8 THEN 'Staging' ELSE 'None' END,
  'mlflow-artifacts:/1/' || i || '/artifacts/model', lpad(to_hex(i), 32, '0'), 1700000000000 + i, 1700000000000 + i FROM generate_series(0, 99999) i`,
			`INSERT INTO registered_model_tags (model_id, key, value) SELECT model_id, 'team', 'team-' || (model_id % 7) FROM registered_models`,
			`INSERT INTO model_aliases (model_id, alias, version) SELECT model_id, 'champion', 10 FROM registered_models`,
			`ANALYZE`,
		}
	}
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			b.Fatalf("load: %v\n%s", err, s)
		}
	}
}

// p50 runs fn b.N times and reports the median latency in ms.
func p50(b *testing.B, fn func() error) {
	b.Helper()
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkRegistry measures registry reads over 10,000 models × 10
// versions: a LIKE search for 100 models (with tags, aliases and latest
// versions), the versions of one model by name, and alias resolution.
// Targets: p50 ≤ 30 ms for the searches, ≤ 1 ms for GetVersionByAlias.
func BenchmarkRegistry(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, db *sqlstore.DB) {
		b.Run("SearchModelsLike100", func(b *testing.B) {
			p50(b, func() error {
				ms, _, err := db.SearchRegisteredModels(ctx, loopml.RegisteredModelSearch{Filter: "name LIKE 'model-01%'", MaxResults: 100})
				if err == nil && (len(ms) != 100 || len(ms[0].LatestVersions) != 3) {
					err = fmt.Errorf("got %d models", len(ms))
				}
				return err
			})
		})
		i := 0
		b.Run("SearchVersionsByName", func(b *testing.B) {
			p50(b, func() error {
				i++
				vs, _, err := db.SearchModelVersions(ctx, loopml.ModelVersionSearch{Filter: fmt.Sprintf("name = 'model-%05d'", i%benchModels+1)})
				if err == nil && len(vs) != benchVersions {
					err = fmt.Errorf("got %d versions", len(vs))
				}
				return err
			})
		})
		b.Run("GetVersionByAlias", func(b *testing.B) {
			p50(b, func() error {
				i++
				v, err := db.GetVersionByAlias(ctx, fmt.Sprintf("model-%05d", i%benchModels+1), "champion")
				if err == nil && v.Version != "10" {
					err = fmt.Errorf("champion is %s", v.Version)
				}
				return err
			})
		})
	}
	b.Run("sqlite", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "reg.db")
		db, err := sqlstore.Open(ctx, "sqlite://"+path, sqlstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
		loadRegistry(b, "sqlite", "file:"+path+"?_pragma=foreign_keys(1)", "sqlite")
		db, err = sqlstore.Open(ctx, "sqlite://"+path, sqlstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		run(b, db)
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := pgSchemaDSN(b)
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		loadRegistry(b, "pgx", dsn, "postgres")
		run(b, db)
	})
}
