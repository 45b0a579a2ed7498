package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/loopml/loopml"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationsFS embed.FS

// migrate applies the embedded migrations of the dialect that the database
// lacks. On PostgreSQL a session advisory lock (one per database and schema)
// makes concurrent start-ups of several servers safe: one migrates, the
// others wait and then find nothing to do.
func (db *DB) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrationsFS, db.dialect.migrationsDir())
	if err != nil {
		return loopml.WrapError(loopml.EINTERNAL, err, "load migrations")
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if db.dialect.name() == "postgres" {
		id, err := db.lockID(ctx)
		if err != nil {
			return db.fail(err, "migrate: find schema")
		}
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
		if err != nil {
			return loopml.WrapError(loopml.EINTERNAL, err, "migrate: create lock")
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(db.dialect.goose(), db.wdb, sub, opts...)
	if err != nil {
		return loopml.WrapError(loopml.EINTERNAL, err, "migrate: load migrations")
	}
	start := time.Now()
	res, err := p.Up(ctx)
	if err != nil {
		return db.fail(err, "migrate database schema")
	}
	for _, r := range res {
		db.log.Info("applied migration", "dialect", db.dialect.name(), "version", r.Source.Version, "duration", r.Duration)
	}
	if len(res) > 0 {
		db.log.Info("database schema up to date", "migrations", len(res), "duration", time.Since(start))
	}
	return nil
}

// lockID derives the advisory lock id from the database and schema, so that
// servers sharing a schema serialise their migrations while servers (or
// tests) using other schemas do not wait for each other.
func (db *DB) lockID(ctx context.Context) (int64, error) {
	var dbName, schema sql.NullString
	if err := db.wdb.QueryRowContext(ctx, `SELECT current_database(), current_schema()`).Scan(&dbName, &schema); err != nil {
		return 0, err
	}
	h := fnv.New64a()
	h.Write([]byte("loopml-migrate\x00" + dbName.String + "\x00" + schema.String))
	return int64(h.Sum64() &^ (1 << 63)), nil
}
