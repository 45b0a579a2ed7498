package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/loopml/loopml"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds every difference between SQLite and PostgreSQL that the rest
// of the package must not know about.
type dialect interface {
	name() string
	// rebind rewrites ? placeholders into the dialect's form.
	rebind(query string) string
	goose() goose.Dialect
	migrationsDir() string
	// writers is the number of group-commit writer goroutines.
	writers() int
	// classify returns loopml.ECONFLICT for a unique violation,
	// loopml.EUNAVAILABLE when the database is busy or unreachable, and ""
	// otherwise.
	classify(err error) string
	// retryable reports whether a failed transaction may simply be retried.
	retryable(err error) bool
	// like returns a case-sensitive (or, with fold, case-insensitive) LIKE
	// condition on col with one placeholder, and the argument to bind.
	like(col string, fold bool, pattern string) (string, any)
	// reserveSeq reserves n metric sequence numbers in tx and returns the
	// first one (PostgreSQL assigns them itself and returns 0).
	reserveSeq(ctx context.Context, tx *sql.Tx, n int) (int64, error)
	// writeMetrics appends points of one run and upserts its latest values
	// (one row per key, sorted by key id; seq unused) with the Latest rule.
	writeMetrics(ctx context.Context, tx *sql.Tx, runPK int64, pts, latest []metricRow) error
	// writePredictions inserts logged predictions, ignoring those already
	// stored (see prediction.go).
	writePredictions(ctx context.Context, tx *sql.Tx, rows []predictionRow) error
	// lockRegistry serialises model registry writes: it is called first in
	// every registry write transaction and holds until its end, so that
	// concurrent alias moves are applied one after the other and registry
	// event ids increase in commit order. SQLite has a single writer
	// already.
	lockRegistry(ctx context.Context, tx *sql.Tx) error
	// prepare runs once after the migrations.
	prepare(ctx context.Context) error
	close() error
}

// metricRow is one point to insert: the interned key and the sequence
// number (logging order) replace the key string.
type metricRow struct {
	keyID int64
	step  int64
	ts    int64
	seq   int64
	value float64
}

// nullableFloat maps NaN to NULL: both backends store NaN as NULL so that
// comparisons and ordering agree (SQLite cannot store NaN at all).
func nullableFloat(v float64) any {
	if math.IsNaN(v) {
		return nil
	}
	return v
}

// ---- SQLite ----

type sqliteDialect struct {
	mu    sync.Mutex
	stmts map[int]*sql.Stmt // multi-row metric INSERTs by row count
	// predStmts are the multi-row prediction INSERTs by row count.
	predStmts map[int]*sql.Stmt
	wdb       *sql.DB
}

func (*sqliteDialect) name() string                { return "sqlite" }
func (*sqliteDialect) rebind(q string) string      { return q }
func (*sqliteDialect) goose() goose.Dialect        { return goose.DialectSQLite3 }
func (*sqliteDialect) migrationsDir() string       { return "migrations/sqlite" }
func (*sqliteDialect) writers() int                { return 1 }
func (*sqliteDialect) retryable(err error) bool    { return false }
func (d *sqliteDialect) classify(err error) string { return sqliteClassify(err) }

func sqliteClassify(err error) string {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return ""
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return loopml.ECONFLICT
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return loopml.EUNAVAILABLE
	}
	return ""
}

// like: SQLite's LIKE ignores ASCII case, so case-sensitive LIKE becomes a
// GLOB with the pattern translated (% → *, _ → ?, GLOB metacharacters
// quoted).
func (*sqliteDialect) like(col string, fold bool, pattern string) (string, any) {
	if fold {
		return "lower(" + col + ") LIKE lower(?)", pattern
	}
	var b strings.Builder
	for _, c := range pattern {
		switch c {
		case '%':
			b.WriteByte('*')
		case '_':
			b.WriteByte('?')
		case '*', '?', '[':
			b.WriteByte('[')
			b.WriteRune(c)
			b.WriteByte(']')
		default:
			b.WriteRune(c)
		}
	}
	return col + " GLOB ?", b.String()
}

func (*sqliteDialect) lockRegistry(context.Context, *sql.Tx) error { return nil }

func (*sqliteDialect) reserveSeq(ctx context.Context, tx *sql.Tx, n int) (int64, error) {
	var last int64
	err := tx.QueryRowContext(ctx, `UPDATE counters SET value = value + ? WHERE name = 'metric_seq' RETURNING value`, n).Scan(&last)
	return last - int64(n) + 1, err
}

// metricChunks are the row counts of the prepared multi-row INSERTs; a batch
// is split greedily into them.
var metricChunks = []int{256, 64, 16, 4, 1}

// prepare prepares the multi-row INSERTs on the writer connection. It runs
// at Open, before any transaction holds the single writer connection
// (preparing on the pool later would wait for that connection forever).
func (d *sqliteDialect) prepare(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stmts = make(map[int]*sql.Stmt, len(metricChunks))
	for _, n := range metricChunks {
		q := "INSERT INTO metrics (run_pk, key_id, step, ts, seq, value) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", n), ", ")
		st, err := d.wdb.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		d.stmts[n] = st
	}
	d.predStmts = make(map[int]*sql.Stmt, len(predictionChunks))
	for _, n := range predictionChunks {
		st, err := d.wdb.PrepareContext(ctx, insertPredictionsSQL(n))
		if err != nil {
			return err
		}
		d.predStmts[n] = st
	}
	return nil
}

func (d *sqliteDialect) writeMetrics(ctx context.Context, tx *sql.Tx, runPK int64, pts, latest []metricRow) error {
	args := make([]any, 0, 6*metricChunks[0])
	for len(pts) > 0 {
		n := metricChunks[len(metricChunks)-1]
		for _, c := range metricChunks {
			if c <= len(pts) {
				n = c
				break
			}
		}
		st := d.stmts[n]
		args = args[:0]
		for _, p := range pts[:n] {
			args = append(args, runPK, p.keyID, p.step, p.ts, p.seq, nullableFloat(p.value))
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...); err != nil {
			return err
		}
		pts = pts[n:]
	}
	for start := 0; start < len(latest); start += 200 {
		chunk := latest[start:min(start+200, len(latest))]
		args = args[:0]
		for _, l := range chunk {
			args = append(args, runPK, l.keyID, nullableFloat(l.value), l.step, l.ts)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO latest_metrics (run_pk, key_id, value, step, ts) VALUES "+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", len(chunk)), ", ")+latestConflict, args...); err != nil {
			return err
		}
	}
	return nil
}

func (d *sqliteDialect) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	for _, st := range d.stmts {
		err = errors.Join(err, st.Close())
	}
	for _, st := range d.predStmts {
		err = errors.Join(err, st.Close())
	}
	d.stmts, d.predStmts = nil, nil
	return err
}

// ---- PostgreSQL ----

type postgresDialect struct{}

func (postgresDialect) name() string          { return "postgres" }
func (postgresDialect) goose() goose.Dialect  { return goose.DialectPostgres }
func (postgresDialect) migrationsDir() string { return "migrations/postgres" }
func (postgresDialect) writers() int          { return 4 }
func (postgresDialect) close() error          { return nil }

func (postgresDialect) prepare(context.Context) error { return nil }

var rebindCache sync.Map // query → rebound query

// rebind turns ? into $1, $2, ... (queries here never contain a literal ?).
func (postgresDialect) rebind(q string) string {
	if v, ok := rebindCache.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	out := b.String()
	if len(q) < 4096 {
		rebindCache.Store(q, out)
	}
	return out
}

func (postgresDialect) classify(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return loopml.ECONFLICT
		case strings.HasPrefix(pe.Code, "08"), pe.Code == "57P01", pe.Code == "53300":
			return loopml.EUNAVAILABLE
		}
		return ""
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) {
		return loopml.EUNAVAILABLE
	}
	return ""
}

func (postgresDialect) retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// like: PostgreSQL's LIKE is case-sensitive; ESCAPE ” makes backslash an
// ordinary character, as on SQLite.
func (postgresDialect) like(col string, fold bool, pattern string) (string, any) {
	if fold {
		return col + " ILIKE ? ESCAPE ''", pattern
	}
	return col + " LIKE ? ESCAPE ''", pattern
}

// registryLockID is the key of the transaction-level advisory lock that
// serialises registry writes on PostgreSQL.
const registryLockID = 0x6c6f6f706d6c5247 // "loopmlRG"

// lockRegistry takes a transaction-scoped advisory lock, released at commit
// or rollback.
func (postgresDialect) lockRegistry(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(registryLockID))
	return err
}

func (postgresDialect) reserveSeq(context.Context, *sql.Tx, int) (int64, error) { return 0, nil }

// writeMetrics inserts all points and upserts the latest values in one
// statement (one round trip) from arrays, which is as fast as COPY for
// batches of this size and runs inside the transaction's savepoint; seq
// comes from the column default, in array order.
func (postgresDialect) writeMetrics(ctx context.Context, tx *sql.Tx, runPK int64, pts, latest []metricRow) error {
	cols := func(rows []metricRow) (keys, steps, tss []int64, vals []float64) {
		keys, steps, tss, vals = make([]int64, len(rows)), make([]int64, len(rows)), make([]int64, len(rows)), make([]float64, len(rows))
		for i, p := range rows {
			keys[i], steps[i], tss[i], vals[i] = p.keyID, p.step, p.ts, p.value
		}
		return
	}
	k1, s1, t1, v1 := cols(pts)
	k2, s2, t2, v2 := cols(latest)
	_, err := tx.ExecContext(ctx, `WITH ins AS (
  INSERT INTO metrics (run_pk, key_id, step, ts, value)
  SELECT $1, k, s, t, NULLIF(v, 'NaN'::float8)
  FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::float8[]) AS u(k, s, t, v)
)
INSERT INTO latest_metrics (run_pk, key_id, value, step, ts)
SELECT $1, k, NULLIF(v, 'NaN'::float8), s, t
FROM unnest($6::int[], $7::bigint[], $8::bigint[], $9::float8[]) AS u(k, s, t, v)`+latestConflict,
		runPK, k1, s1, t1, v1, k2, s2, t2, v2)
	return err
}

// ---- shared SQL ----

// latestConflict ends an INSERT into latest_metrics: a stored row is
// replaced only when the new one is later by loopml.Metric.Latest (higher
// step, then later timestamp, then larger value; NULL = NaN is largest).
const latestConflict = `
ON CONFLICT (run_pk, key_id) DO UPDATE SET value = excluded.value, step = excluded.step, ts = excluded.ts
WHERE excluded.step > latest_metrics.step
   OR (excluded.step = latest_metrics.step AND (excluded.ts > latest_metrics.ts
   OR (excluded.ts = latest_metrics.ts AND ((excluded.value IS NULL AND latest_metrics.value IS NOT NULL)
       OR excluded.value > latest_metrics.value))))`
