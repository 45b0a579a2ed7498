package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/loopml/loopml"
)

// historyPageSize is the page size of GetMetricHistory when the caller asks
// for all points (MaxResults 0).
const historyPageSize = 100_000

// maxHistoryPage bounds the page size a caller may ask for.
const maxHistoryPage = 1_000_000

// maxGroupPoints bounds the metric points one group commit collects.
const maxGroupPoints = 16_000

// keyCache interns metric keys: key → key_id. Only committed ids enter it.
type keyCache struct {
	mu  sync.RWMutex
	ids map[string]int64
}

func (c *keyCache) get(key string) (int64, bool) {
	c.mu.RLock()
	id, ok := c.ids[key]
	c.mu.RUnlock()
	return id, ok
}

func (c *keyCache) merge(m map[string]int64) {
	if len(m) == 0 {
		return
	}
	c.mu.Lock()
	if c.ids == nil {
		c.ids = make(map[string]int64, len(m))
	}
	for k, v := range m {
		c.ids[k] = v
	}
	c.mu.Unlock()
}

// logReq is one LogBatch call waiting for a group commit.
type logReq struct {
	ctx   context.Context
	runID string
	b     loopml.Batch
	done  chan error

	pk  int64 // set by the writer
	err error
}

// groupCommitter runs the writer goroutines of LogBatch. Each collects the
// batches that arrived while the previous commit ran and writes them in one
// transaction, each batch in its own savepoint.
type groupCommitter struct {
	db   *DB
	reqs chan *logReq
	quit chan struct{}
	wg   sync.WaitGroup
}

func newGroupCommitter(db *DB, writers int) *groupCommitter {
	g := &groupCommitter{db: db, reqs: make(chan *logReq), quit: make(chan struct{})}
	for range writers {
		g.wg.Add(1)
		go g.loop()
	}
	return g
}

func (g *groupCommitter) close() {
	close(g.quit)
	g.wg.Wait()
}

// submit hands r to a writer and waits for its outcome. Once a writer has
// taken r, submit waits for the commit even if ctx ends, so that the caller
// never reports failure for data that was written.
func (g *groupCommitter) submit(ctx context.Context, r *logReq) error {
	select {
	case g.reqs <- r:
	case <-g.quit:
		return loopml.Errorf(loopml.EUNAVAILABLE, "the metadata store is closed")
	case <-ctx.Done():
		return loopml.WrapError(loopml.EUNAVAILABLE, ctx.Err(), "log batch: %v", ctx.Err())
	}
	return <-r.done
}

func (g *groupCommitter) loop() {
	defer g.wg.Done()
	for {
		var r *logReq
		select {
		case <-g.quit:
			return
		case r = <-g.reqs:
		}
		group := []*logReq{r}
		n := len(r.b.Metrics) + 1
	collect:
		for n < maxGroupPoints {
			select {
			case r := <-g.reqs:
				group = append(group, r)
				n += len(r.b.Metrics) + 1
			default:
				break collect
			}
		}
		g.commit(group)
	}
}

// commit writes a group and answers every request in it.
func (g *groupCommitter) commit(group []*logReq) {
	db := g.db
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- loopml.WrapError(loopml.EUNAVAILABLE, err, "log batch: %v", err)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// A stable order of runs makes concurrent PostgreSQL writers take row
	// locks in the same order (no deadlocks).
	sort.SliceStable(live, func(i, j int) bool { return live[i].runID < live[j].runID })
	ctx := context.WithoutCancel(live[0].ctx)
	newKeys := make(map[string]int64)
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		clear(newKeys)
		return db.applyGroup(ctx, tx, live, newKeys)
	})
	if err != nil && len(live) > 1 {
		// Something broke the shared transaction: write each batch alone so
		// that only the culprit fails.
		db.log.Warn("group commit failed; retrying batches one by one", "batches", len(live), "err", err)
		for _, r := range live {
			keys := make(map[string]int64)
			err := db.writeTx(ctx, func(tx *sql.Tx) error { return db.applyGroup(ctx, tx, []*logReq{r}, keys) })
			if err != nil {
				r.err = err
			} else {
				db.keys.merge(keys)
			}
		}
	} else if err != nil {
		live[0].err = err
	} else {
		db.keys.merge(newKeys)
	}
	for _, r := range live {
		r.done <- db.fail(r.err, "log batch")
	}
}

// applyGroup writes the batches of a group inside tx. Errors of one batch
// are stored in its request (its savepoint is rolled back); the returned
// error means the transaction itself failed.
func (db *DB) applyGroup(ctx context.Context, tx *sql.Tx, reqs []*logReq, newKeys map[string]int64) error {
	for _, r := range reqs {
		r.err, r.pk = nil, 0
	}
	// Resolve runs.
	ids := make([]any, 0, len(reqs))
	seen := make(map[string]bool, len(reqs))
	for _, r := range reqs {
		if !seen[r.runID] {
			seen[r.runID] = true
			ids = append(ids, r.runID)
		}
	}
	type runState struct {
		pk        int64
		lifecycle string
	}
	runs := make(map[string]runState, len(ids))
	rows, err := tx.QueryContext(ctx, db.q(`SELECT run_id, run_pk, lifecycle_stage FROM runs WHERE run_id IN (`+placeholders(len(ids))+`)`), ids...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var st runState
		if err := rows.Scan(&id, &st.pk, &st.lifecycle); err != nil {
			rows.Close()
			return err
		}
		runs[id] = st
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	rows.Close()
	points := 0
	var missing []string
	for _, r := range reqs {
		st, ok := runs[r.runID]
		switch {
		case !ok:
			r.err = runNotFound(r.runID)
			continue
		case st.lifecycle != loopml.LifecycleActive:
			r.err = loopml.Errorf(loopml.EINVALID, "The run %s must be in the 'active' state. Current state is %s.", r.runID, st.lifecycle)
			continue
		}
		r.pk = st.pk
		points += len(r.b.Metrics)
		for _, m := range r.b.Metrics {
			if _, ok := db.keys.get(m.Key); !ok {
				if _, ok := newKeys[m.Key]; !ok {
					newKeys[m.Key] = 0
					missing = append(missing, m.Key)
				}
			}
		}
	}
	if err := db.internKeys(ctx, tx, missing, newKeys); err != nil {
		return err
	}
	keyID := func(k string) int64 {
		if id, ok := db.keys.get(k); ok {
			return id
		}
		return newKeys[k]
	}
	var seq int64
	if points > 0 {
		if seq, err = db.dialect.reserveSeq(ctx, tx, points); err != nil {
			return err
		}
	}
	if len(reqs) == 1 {
		// Alone in the transaction: no savepoint needed; an error rolls
		// the whole transaction back (and is retried when transient).
		r := reqs[0]
		if r.err != nil {
			return r.err
		}
		r.err = db.applyBatch(ctx, tx, r, keyID, &seq)
		return r.err
	}
	for _, r := range reqs {
		if r.err != nil {
			continue
		}
		if len(r.b.Params) == 0 {
			// Without write-once params a batch can only fail with a
			// database error, and such an error fails the transaction
			// anyway (PostgreSQL aborts it), so a savepoint buys nothing:
			// return the error and commit retries the batches one by one.
			// This saves two round trips per batch on the hot path of
			// log-metric and metrics-only log-batch.
			if r.err = db.applyBatch(ctx, tx, r, keyID, &seq); r.err != nil {
				return r.err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT batch"); err != nil {
			return err
		}
		for attempt := 0; ; attempt++ {
			r.err = db.applyBatch(ctx, tx, r, keyID, &seq)
			if r.err == nil {
				break
			}
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT batch"); err != nil {
				return err
			}
			if attempt >= 2 || !db.dialect.retryable(r.err) {
				break
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT batch"); err != nil {
			return err
		}
	}
	return nil
}

// internKeys gives ids to metric keys not yet in the cache (keys must be
// fresh, sorted for a stable lock order) and records them in ids.
func (db *DB) internKeys(ctx context.Context, tx *sql.Tx, keys []string, ids map[string]int64) error {
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	for start := 0; start < len(keys); start += 500 {
		chunk := keys[start:min(start+500, len(keys))]
		args := make([]any, len(chunk))
		for i, k := range chunk {
			args[i] = k
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO metric_keys (key) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?), ", len(chunk)), ", ")+` ON CONFLICT (key) DO NOTHING`), args...); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT key, key_id FROM metric_keys WHERE key IN (`+placeholders(len(chunk))+`)`), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k string
			var id int64
			if err := rows.Scan(&k, &id); err != nil {
				rows.Close()
				return err
			}
			ids[k] = id
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	for _, k := range keys {
		if ids[k] == 0 {
			return fmt.Errorf("metric key %q was not interned", k)
		}
	}
	return nil
}

// applyBatch writes one batch of an active run inside the current savepoint.
func (db *DB) applyBatch(ctx context.Context, tx *sql.Tx, r *logReq, keyID func(string) int64, seq *int64) error {
	if err := db.writeParams(ctx, tx, r); err != nil {
		return err
	}
	if len(r.b.Tags) > 0 {
		tags := lastTags(r.b.Tags)
		if err := db.upsertRunTags(ctx, tx, r.pk, tags); err != nil {
			return err
		}
		for _, t := range tags {
			if t.Key == loopml.TagRunName {
				if _, err := tx.ExecContext(ctx, db.q(`UPDATE runs SET name = ? WHERE run_pk = ?`), t.Value, r.pk); err != nil {
					return err
				}
			}
		}
	}
	if len(r.b.Metrics) == 0 {
		return nil
	}
	rows := make([]metricRow, len(r.b.Metrics))
	type latest struct {
		keyID int64
		m     loopml.Metric
	}
	latestByKey := make(map[int64]int, 8)
	var latests []latest
	for i, m := range r.b.Metrics {
		id := keyID(m.Key)
		rows[i] = metricRow{keyID: id, step: m.Step, ts: m.Timestamp, seq: *seq, value: m.Value}
		*seq++
		if j, ok := latestByKey[id]; !ok {
			latestByKey[id] = len(latests)
			latests = append(latests, latest{id, m})
		} else if m.Latest(latests[j].m) {
			latests[j].m = m
		}
	}
	sort.Slice(latests, func(i, j int) bool { return latests[i].keyID < latests[j].keyID })
	latestRows := make([]metricRow, len(latests))
	for i, l := range latests {
		latestRows[i] = metricRow{keyID: l.keyID, step: l.m.Step, ts: l.m.Timestamp, value: l.m.Value}
	}
	return db.dialect.writeMetrics(ctx, tx, r.pk, rows, latestRows)
}

// writeParams inserts the batch's params, failing if one was logged before
// with another value.
func (db *DB) writeParams(ctx context.Context, tx *sql.Tx, r *logReq) error {
	if len(r.b.Params) == 0 {
		return nil
	}
	want := make(map[string]string, len(r.b.Params))
	var keys []string
	for _, p := range r.b.Params {
		if _, ok := want[p.Key]; !ok {
			keys = append(keys, p.Key)
		}
		want[p.Key] = p.Value
	}
	sort.Strings(keys)
	check := func() (fresh []string, err error) {
		args := make([]any, 0, len(keys)+1)
		args = append(args, r.pk)
		for _, k := range keys {
			args = append(args, k)
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT key, value FROM params WHERE run_pk = ? AND key IN (`+placeholders(len(keys))+`)`), args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		have := make(map[string]bool, len(keys))
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				return nil, err
			}
			if v != want[k] {
				return nil, loopml.Errorf(loopml.EINVALID, "Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for run ID='%s'. Attempted logging new value '%s'.", k, v, r.runID, want[k])
			}
			have[k] = true
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for _, k := range keys {
			if !have[k] {
				fresh = append(fresh, k)
			}
		}
		return fresh, nil
	}
	fresh, err := check()
	if err != nil || len(fresh) == 0 {
		return err
	}
	args := make([]any, 0, 3*len(fresh))
	for _, k := range fresh {
		args = append(args, r.pk, k, want[k])
	}
	res, err := tx.ExecContext(ctx, db.q(`INSERT INTO params (run_pk, key, value) VALUES `+
		strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(fresh)), ", ")+` ON CONFLICT (run_pk, key) DO NOTHING`), args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if int(n) != len(fresh) {
		// A concurrent writer logged some of these params first.
		_, err := check()
		return err
	}
	return nil
}

// LogBatch implements loopml.RunService. Concurrent calls are committed
// together (group commit); each call's data is all-or-nothing.
func (db *DB) LogBatch(ctx context.Context, runID string, b loopml.Batch) (err error) {
	defer db.op("LogBatch", time.Now(), &err)
	if err := b.Validate(); err != nil {
		return err
	}
	if runID == "" {
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'run_id'")
	}
	return db.gc.submit(ctx, &logReq{ctx: ctx, runID: runID, b: b, done: make(chan error, 1)})
}

// historyToken is the position after the last point of a page: the step
// and timestamp of that point and how many points with exactly that step
// and timestamp were returned so far (they come in logging order, so the
// next page skips them).
type historyToken struct {
	Step      int64 `json:"step"`
	Timestamp int64 `json:"timestamp"`
	Skip      int64 `json:"skip"`
}

func decodeHistoryToken(tok string) (*historyToken, error) {
	if tok == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid page token %q: not base64", tok)
	}
	var t struct {
		Step      *int64 `json:"step"`
		Timestamp *int64 `json:"timestamp"`
		Skip      *int64 `json:"skip"`
	}
	if err := json.Unmarshal(raw, &t); err != nil || t.Step == nil || t.Timestamp == nil || t.Skip == nil || *t.Skip < 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid page token %q: not a metric history token", tok)
	}
	return &historyToken{*t.Step, *t.Timestamp, *t.Skip}, nil
}

// GetMetricHistory implements loopml.RunService. Pages are keyset-based, so
// each one is a single index range scan.
func (db *DB) GetMetricHistory(ctx context.Context, q loopml.MetricHistoryQuery) (_ []loopml.Metric, _ string, err error) {
	defer db.op("GetMetricHistory", time.Now(), &err)
	if q.RunID == "" {
		return nil, "", loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'run_id'")
	}
	if q.Key == "" {
		return nil, "", loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'metric_key'")
	}
	limit := q.MaxResults
	switch {
	case limit < 0:
		return nil, "", loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'max_results': must not be negative", limit)
	case limit == 0:
		limit = historyPageSize
	case limit > maxHistoryPage:
		limit = maxHistoryPage // larger requests get a token for the rest
	}
	tok, err := decodeHistoryToken(q.PageToken)
	if err != nil {
		return nil, "", err
	}
	var out []loopml.Metric
	var next string
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var pk int64
		err := tx.QueryRowContext(ctx, db.q(`SELECT run_pk FROM runs WHERE run_id = ?`), q.RunID).Scan(&pk)
		if errors.Is(err, sql.ErrNoRows) {
			return runNotFound(q.RunID)
		} else if err != nil {
			return err
		}
		var keyID int64
		err = tx.QueryRowContext(ctx, db.q(`SELECT key_id FROM metric_keys WHERE key = ?`), q.Key).Scan(&keyID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		// Keyset paging: one index range scan from the token's position.
		query := `SELECT step, ts, value FROM metrics WHERE run_pk = ? AND key_id = ?`
		args := []any{pk, keyID}
		skip := int64(0)
		if tok != nil {
			query += ` AND (step > ? OR (step = ? AND ts >= ?))`
			args = append(args, tok.Step, tok.Step, tok.Timestamp)
			skip = tok.Skip
		}
		query += ` ORDER BY step, ts, seq LIMIT ? OFFSET ?`
		args = append(args, limit+1, skip)
		rows, err := tx.QueryContext(ctx, db.q(query), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = make([]loopml.Metric, 0, min(limit+1, 4096))
		// Scanning into any avoids database/sql's reflection per column.
		var step, ts, val any
		for rows.Next() {
			if err := rows.Scan(&step, &ts, &val); err != nil {
				return err
			}
			m := loopml.Metric{Key: q.Key}
			var ok1, ok2 bool
			m.Step, ok1 = step.(int64)
			m.Timestamp, ok2 = ts.(int64)
			if !ok1 || !ok2 {
				return fmt.Errorf("metric history: unexpected column types %T, %T", step, ts)
			}
			switch v := val.(type) {
			case float64:
				m.Value = v
			case nil:
				m.Value = math.NaN()
			case int64: // SQLite may return integral REALs as integers
				m.Value = float64(v)
			default:
				return fmt.Errorf("metric history: unexpected value type %T", val)
			}
			if len(out) == limit {
				// There is more: point the token after the last point.
				last := out[len(out)-1]
				n := int64(0)
				for i := len(out) - 1; i >= 0 && out[i].Step == last.Step && out[i].Timestamp == last.Timestamp; i-- {
					n++
				}
				if n == int64(len(out)) && tok != nil && tok.Step == last.Step && tok.Timestamp == last.Timestamp {
					n += tok.Skip // the group started on an earlier page
				}
				b, _ := json.Marshal(historyToken{last.Step, last.Timestamp, n})
				next = base64.StdEncoding.EncodeToString(b)
				break
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", db.fail(err, "get metric history")
	}
	return out, next, nil
}

// GetMetricHistoryBulkInterval implements loopml.RunService. The steps in
// range are collected over all the runs, sampled evenly down to MaxResults
// (first and last kept), and each run's points at those steps are returned,
// runs in id order, points by step, timestamp and logging order.
func (db *DB) GetMetricHistoryBulkInterval(ctx context.Context, q loopml.MetricBulkIntervalQuery) (_ []loopml.RunMetric, err error) {
	defer db.op("GetMetricHistoryBulkInterval", time.Now(), &err)
	switch {
	case len(q.RunIDs) == 0:
		return nil, loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'run_ids'")
	case len(q.RunIDs) > loopml.MaxBulkIntervalRuns:
		return nil, loopml.Errorf(loopml.EINVALID, "GetMetricHistoryBulkInterval request must specify at most %d run_ids. Received %d run_ids.", loopml.MaxBulkIntervalRuns, len(q.RunIDs))
	case q.Key == "":
		return nil, loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'metric_key'")
	case q.MaxResults < 0 || q.MaxResults > loopml.MaxBulkIntervalResults:
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'max_results': must be between 1 and %d", q.MaxResults, loopml.MaxBulkIntervalResults)
	case q.StartStep != nil && q.EndStep != nil && *q.StartStep > *q.EndStep:
		return nil, loopml.Errorf(loopml.EINVALID, "end_step (%d) must be greater than or equal to start_step (%d)", *q.EndStep, *q.StartStep)
	}
	max := q.MaxResults
	if max == 0 {
		max = loopml.DefaultBulkIntervalResults
	}
	ids := append([]string(nil), q.RunIDs...)
	sort.Strings(ids)
	ids = compactStrings(ids)
	var out []loopml.RunMetric
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		pks := make([]int64, len(ids))
		for i, id := range ids {
			err := tx.QueryRowContext(ctx, db.q(`SELECT run_pk FROM runs WHERE run_id = ?`), id).Scan(&pks[i])
			if errors.Is(err, sql.ErrNoRows) {
				return runNotFound(id)
			} else if err != nil {
				return err
			}
		}
		var keyID int64
		err := tx.QueryRowContext(ctx, db.q(`SELECT key_id FROM metric_keys WHERE key = ?`), q.Key).Scan(&keyID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		rangeCond, rangeArgs := "", []any{}
		if q.StartStep != nil {
			rangeCond += " AND step >= ?"
			rangeArgs = append(rangeArgs, *q.StartStep)
		}
		if q.EndStep != nil {
			rangeCond += " AND step <= ?"
			rangeArgs = append(rangeArgs, *q.EndStep)
		}
		stepSet := make(map[int64]struct{})
		for _, pk := range pks {
			rows, err := tx.QueryContext(ctx, db.q(`SELECT DISTINCT step FROM metrics WHERE run_pk = ? AND key_id = ?`+rangeCond), append([]any{pk, keyID}, rangeArgs...)...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var s int64
				if err := rows.Scan(&s); err != nil {
					rows.Close()
					return err
				}
				stepSet[s] = struct{}{}
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return err
			}
		}
		steps := sampleSteps(stepSet, max)
		if len(steps) == 0 {
			return nil
		}
		lo, hi := steps[0], steps[len(steps)-1]
		want := make(map[int64]struct{}, len(steps))
		for _, s := range steps {
			want[s] = struct{}{}
		}
		for i, pk := range pks {
			rows, err := tx.QueryContext(ctx, db.q(`SELECT step, ts, value FROM metrics WHERE run_pk = ? AND key_id = ? AND step >= ? AND step <= ? ORDER BY step, ts, seq`), pk, keyID, lo, hi)
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				var m loopml.RunMetric
				var v sql.NullFloat64
				if err := rows.Scan(&m.Step, &m.Timestamp, &v); err != nil {
					rows.Close()
					return err
				}
				if _, ok := want[m.Step]; !ok {
					continue
				}
				m.RunID, m.Key, m.Value = ids[i], q.Key, floatOrNaN(v)
				out = append(out, m)
				if n++; n >= max {
					break
				}
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, db.fail(err, "get metric history bulk interval")
	}
	return out, nil
}

// sampleSteps returns at most max steps of set, sorted, evenly spread and
// always including the smallest and the largest.
func sampleSteps(set map[int64]struct{}, max int) []int64 {
	steps := make([]int64, 0, len(set))
	for s := range set {
		steps = append(steps, s)
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i] < steps[j] })
	if len(steps) <= max {
		return steps
	}
	if max == 1 {
		return steps[:1]
	}
	out := make([]int64, 0, max)
	n := len(steps)
	for i := 0; i < max; i++ {
		idx := int(int64(i) * int64(n-1) / int64(max-1))
		if len(out) == 0 || out[len(out)-1] != steps[idx] {
			out = append(out, steps[idx])
		}
	}
	return out
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
