// Package sqlstore is loopml's metadata store on database/sql: experiments,
// runs, params, tags, metrics and dataset inputs, on an embedded SQLite file
// (the default, via the pure-Go modernc.org/sqlite driver) or on PostgreSQL
// for scale-out servers (via pgx).
//
// It implements loopml.ExperimentService, loopml.RunService and
// loopml.ModelRegistry (registry.go) and passes the storetest conformance
// suite on both backends. It imports the root package and its drivers,
// never a sibling package.
//
// Design for speed:
//   - integer surrogate keys for runs and an interned metric-key table, so a
//     stored metric point is ~40 bytes of integers and one float;
//   - the metrics table is clustered by (run, key, step, timestamp, seq):
//     history is one range scan and there is no secondary index to update;
//   - a latest_metrics table (upserted once per key per batch) with an index
//     by (key, value) serves run search filters and ordering by metric;
//   - LogBatch uses group commit: writer goroutines collect concurrent
//     batches and commit them in one transaction, each batch inside its own
//     SAVEPOINT so that a failing batch is rolled back alone;
//   - on SQLite, all writes go through one connection (so concurrent writers
//     never see SQLITE_BUSY) and reads through a separate pool (WAL mode lets
//     them run while the writer commits).
//
// Dialect differences live in dialect.go only.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/loopml/loopml"
)

// Options configures a DB. The zero value is a valid configuration.
type Options struct {
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Observe, when set, is called after each public store operation with
	// the operation name (the method name, e.g. "LogBatch"), its duration
	// and its error. cmd wires it to Prometheus.
	Observe func(op string, d time.Duration, err error)
	// SQLiteSynchronous is the SQLite synchronous pragma: "" means NORMAL
	// (durable against a process crash in WAL mode); "FULL" also survives
	// power loss. Ignored on PostgreSQL.
	SQLiteSynchronous string
	// Now, when set, is the clock of the model registry (timestamps and
	// registry event times); nil means time.Now. Tests use it to control
	// time.
	Now func() time.Time
}

// DB is a metadata store. It is safe for concurrent use. Close it when done.
type DB struct {
	dialect dialect
	rdb     *sql.DB // reads
	wdb     *sql.DB // writes; on SQLite a pool of one connection
	log     *slog.Logger
	observe func(op string, d time.Duration, err error)
	clock   func() time.Time

	keys keyCache
	gc   *groupCommitter

	closeOnce sync.Once
	closeErr  error
}

var (
	_ loopml.ExperimentService = (*DB)(nil)
	_ loopml.RunService        = (*DB)(nil)
	_ loopml.ModelRegistry     = (*DB)(nil)
)

// Open opens (creating if needed) the metadata store at dsn and applies the
// migrations it lacks. dsn is one of:
//
//	sqlite:///abs/path/loopml.db   an absolute SQLite file path
//	sqlite://relative/path.db      a relative SQLite file path
//	sqlite::memory:                a private in-memory SQLite database (tests)
//	/any/bare/path.db              a SQLite file path
//	postgres://... postgresql://... a PostgreSQL connection URL (pgx syntax;
//	                               e.g. ?search_path=myschema selects a schema)
//
// The parent directory of a SQLite file is created when missing.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	db := &DB{log: log, observe: opts.Observe, clock: opts.Now}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		err = db.openPostgres(ctx, dsn)
	default:
		err = db.openSQLite(ctx, dsn, opts.SQLiteSynchronous)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.closeDBs()
		return nil, err
	}
	if err := db.dialect.prepare(ctx); err != nil {
		db.closeDBs()
		return nil, db.fail(err, "prepare statements")
	}
	db.gc = newGroupCommitter(db, db.dialect.writers())
	log.Debug("metadata store open", "dialect", db.dialect.name())
	return db, nil
}

// sqlitePath turns a sqlite DSN into a file path ("" for in-memory).
func sqlitePath(dsn string) (path string, memory bool, err error) {
	switch {
	case dsn == "sqlite::memory:" || dsn == ":memory:" || dsn == "sqlite://:memory:":
		return "", true, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		path = strings.TrimPrefix(dsn, "sqlite://")
	case strings.HasPrefix(dsn, "sqlite:"):
		path = strings.TrimPrefix(dsn, "sqlite:")
	case strings.Contains(dsn, "://"):
		return "", false, loopml.Errorf(loopml.EINVALID, "unsupported database URL scheme in %q: want sqlite://, postgres:// or a file path", redactDSN(dsn))
	default:
		path = dsn
	}
	if path == "" {
		return "", false, loopml.Errorf(loopml.EINVALID, "invalid database DSN %q: missing SQLite file path", dsn)
	}
	return path, false, nil
}

func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "***" + dsn[i:]
		}
	}
	return dsn
}

func (db *DB) openSQLite(ctx context.Context, dsn, synchronous string) error {
	path, memory, err := sqlitePath(dsn)
	if err != nil {
		return err
	}
	switch strings.ToUpper(synchronous) {
	case "":
		synchronous = "NORMAL"
	case "OFF", "NORMAL", "FULL", "EXTRA":
		synchronous = strings.ToUpper(synchronous)
	default:
		return loopml.Errorf(loopml.EINVALID, "invalid SQLiteSynchronous %q: want NORMAL, FULL, EXTRA or OFF", synchronous)
	}
	d := &sqliteDialect{}
	db.dialect = d
	if memory {
		// One connection serves reads and writes: each connection to
		// ":memory:" would be a different database.
		c, err := sql.Open("sqlite", sqliteDSN(":memory:", synchronous, false))
		if err != nil {
			return loopml.WrapError(loopml.EINTERNAL, err, "open in-memory SQLite database")
		}
		c.SetMaxOpenConns(1)
		c.SetMaxIdleConns(1)
		c.SetConnMaxLifetime(0)
		c.SetConnMaxIdleTime(0)
		db.rdb, db.wdb = c, c
	} else {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return loopml.WrapError(loopml.EINVALID, err, "create directory for SQLite database %q", path)
			}
		}
		w, err := sql.Open("sqlite", sqliteDSN(path, synchronous, true))
		if err != nil {
			return loopml.WrapError(loopml.EINTERNAL, err, "open SQLite database %q", path)
		}
		// One writer connection: SQLite allows one writer at a time, and
		// serialising in Go (not in SQLite's busy handler) means concurrent
		// callers queue fairly and never see SQLITE_BUSY.
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		r, err := sql.Open("sqlite", sqliteDSN(path, synchronous, false))
		if err != nil {
			w.Close()
			return loopml.WrapError(loopml.EINTERNAL, err, "open SQLite database %q", path)
		}
		r.SetMaxOpenConns(4)
		r.SetMaxIdleConns(4)
		db.rdb, db.wdb = r, w
	}
	d.wdb = db.wdb
	// The writer creates the file and switches it to WAL before readers
	// connect.
	if err := db.wdb.PingContext(ctx); err != nil {
		db.closeDBs()
		return loopml.WrapError(loopml.EUNAVAILABLE, err, "open SQLite database %q", path)
	}
	return nil
}

// sqliteDSN builds a modernc.org/sqlite DSN with the pragmas every
// connection needs:
//   - journal_mode(WAL): readers do not block the writer nor the writer them;
//   - busy_timeout: waits instead of failing when another process holds the
//     write lock (within this process writes are serialised in Go);
//   - foreign_keys(1): enforce REFERENCES clauses;
//   - synchronous: NORMAL is durable against a process crash in WAL mode;
//   - cache_size: 32 MiB page cache per connection keeps the hot B-tree
//     pages of the metrics table in memory;
//   - temp_store(MEMORY): savepoint sub-journals and sort scratch stay in
//     memory instead of doubling the bytes written to disk;
//   - _txlock=immediate on the writer: take the write lock at BEGIN, so a
//     transaction never has to upgrade a read lock (which could fail).
func sqliteDSN(path, synchronous string, writer bool) string {
	var b strings.Builder
	b.WriteString("file:")
	b.WriteString(strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path))
	b.WriteString("?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=cache_size(-32000)&_pragma=temp_store(MEMORY)")
	if path != ":memory:" {
		b.WriteString("&_pragma=journal_mode(WAL)")
	}
	b.WriteString("&_pragma=synchronous(" + synchronous + ")")
	if writer {
		b.WriteString("&_txlock=immediate")
	}
	return b.String()
}

// Close stops the writers (waiting for batches in flight) and closes the
// database. It is safe to call more than once.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if db.gc != nil {
			db.gc.close()
		}
		db.closeErr = db.closeDBs()
	})
	return db.closeErr
}

func (db *DB) closeDBs() error {
	var err error
	if db.dialect != nil {
		err = db.dialect.close()
	}
	if db.rdb != nil && db.rdb != db.wdb {
		err = errors.Join(err, db.rdb.Close())
	}
	if db.wdb != nil {
		err = errors.Join(err, db.wdb.Close())
	}
	return err
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.name() }

// op records the duration and outcome of a public operation:
//
//	defer db.op("GetRun", time.Now(), &err)
func (db *DB) op(name string, start time.Time, errp *error) {
	err := *errp
	if err != nil && loopml.ErrorCode(err) == loopml.EINTERNAL {
		db.log.Error("store operation failed", "op", name, "err", err)
	}
	if db.observe != nil {
		db.observe(name, time.Since(start), err)
	}
}

// q rewrites a query written with ? placeholders for the dialect.
func (db *DB) q(query string) string { return db.dialect.rebind(query) }

// fail translates a driver error into a domain error (once, here), keeping
// domain errors as they are. what describes the operation for logs.
func (db *DB) fail(err error, what string) error {
	if err == nil {
		return nil
	}
	var le *loopml.Error
	if errors.As(err, &le) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return loopml.WrapError(loopml.EUNAVAILABLE, err, "%s: %v", what, err)
	}
	code := db.dialect.classify(err)
	switch code {
	case loopml.ECONFLICT:
		return loopml.WrapError(code, err, "%s: already exists", what)
	case loopml.EUNAVAILABLE:
		return loopml.WrapError(code, err, "%s: database unavailable", what)
	}
	return loopml.WrapError(loopml.EINTERNAL, err, "%s", what)
}

// readTx runs fn in a read transaction (one snapshot).
func (db *DB) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.rdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read-only; the error does not matter
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// writeTx runs fn in a write transaction and commits it, retrying when the
// database reports a transient conflict (PostgreSQL deadlock/serialisation).
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := db.writeTxOnce(ctx, fn)
		if err == nil || attempt >= 3 || !db.dialect.retryable(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
}

func (db *DB) writeTxOnce(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback() //nolint:errcheck // the original error matters
		return err
	}
	return tx.Commit()
}

// now returns the current time in epoch milliseconds.
func now() int64 { return time.Now().UnixMilli() }

// nowMs returns the current time of the store's clock (Options.Now) in
// epoch milliseconds.
func (db *DB) nowMs() int64 {
	if db.clock != nil {
		return db.clock().UnixMilli()
	}
	return time.Now().UnixMilli()
}

// pageToken is MLflow's opaque search page token: base64 of {"offset": N}.
type pageToken struct {
	Offset int `json:"offset"`
}

func encodeOffsetToken(offset int) string {
	b, _ := json.Marshal(pageToken{Offset: offset})
	return base64.StdEncoding.EncodeToString(b)
}

func decodeOffsetToken(tok string) (int, error) {
	if tok == "" {
		return 0, nil
	}
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		raw, err = base64.URLEncoding.DecodeString(tok)
	}
	if err != nil {
		return 0, loopml.Errorf(loopml.EINVALID, "Invalid page token %q: not base64", tok)
	}
	var t struct {
		Offset *int `json:"offset"`
	}
	if err := json.Unmarshal(raw, &t); err != nil || t.Offset == nil {
		return 0, loopml.Errorf(loopml.EINVALID, "Invalid page token %q: could not decode the offset", tok)
	}
	if *t.Offset < 0 {
		return 0, loopml.Errorf(loopml.EINVALID, "Invalid page token %q: negative offset", tok)
	}
	return *t.Offset, nil
}

// placeholders returns "?, ?, ?" with n placeholders.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// parseExperimentID parses a decimal experiment id.
func parseExperimentID(id string) (int64, bool) {
	if id == "" || len(id) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range id {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func formatExperimentID(id int64) string { return fmt.Sprintf("%d", id) }

func (db *DB) openPostgres(ctx context.Context, dsn string) error {
	c, err := sql.Open("pgx", dsn)
	if err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "invalid PostgreSQL DSN %q", redactDSN(dsn))
	}
	c.SetMaxOpenConns(32)
	c.SetMaxIdleConns(16)
	c.SetConnMaxIdleTime(5 * time.Minute)
	db.dialect = postgresDialect{}
	db.rdb, db.wdb = c, c
	if err := c.PingContext(ctx); err != nil {
		c.Close()
		return loopml.WrapError(loopml.EUNAVAILABLE, err, "connect to PostgreSQL at %q", redactDSN(dsn))
	}
	return nil
}

// queryPage runs a search query in tx whose LIMIT asks for max+1 rows and
// scans them; more reports whether a row beyond max exists, i.e. whether
// there is a next page. The rows are closed before it returns, so the
// caller may run further queries in tx.
func queryPage[T any](ctx context.Context, tx *sql.Tx, query string, args []any, max int, scan func(interface{ Scan(...any) error }) (T, error)) (out []T, more bool, err error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if len(out) > max {
		out, more = out[:max], true
	}
	return out, more, rows.Close()
}

// leaseNowMs is the time leases (pipeline runs, webhook deliveries) are
// granted and expired by: the database server's clock on PostgreSQL (even
// for a store opened with Options.Now),
// so that replicas whose clocks disagree still agree on whether a lease
// has run out (a fast clock would otherwise take over a live run); SQLite
// lives on one host, whose clock (or Options.Now) it uses.
func (db *DB) leaseNowMs(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int64, error) {
	if db.dialect.name() != "postgres" {
		return db.nowMs(), nil
	}
	var ms int64
	err := q.QueryRowContext(ctx, `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint`).Scan(&ms)
	return ms, err
}
