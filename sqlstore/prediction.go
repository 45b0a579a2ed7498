package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loopml/loopml"
)

var _ loopml.PredictionLog = (*DB)(nil)

// dayMs is the length of a day in epoch milliseconds: predictions and
// feedback carry the epoch day of their timestamp (ts / dayMs).
const dayMs = 24 * 60 * 60 * 1000

// maxPredictionPage bounds ListPredictions pages.
const maxPredictionPage = 10_000

func epochDay(ts int64) int64 {
	if ts < 0 {
		return (ts - dayMs + 1) / dayMs
	}
	return ts / dayMs
}

// cleanText makes s storable in a TEXT column of both backends: invalid
// UTF-8 becomes U+FFFD and NUL bytes (refused by PostgreSQL) are dropped.
// Valid text is returned as is, without copying.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// predictionRow is a validated prediction ready to insert.
type predictionRow struct {
	p         *loopml.Prediction
	workspace string
	slot      string
	ts        int64
}

// LogPredictions stores a batch of predictions in one transaction; a
// prediction whose (endpoint, request id, slot) is already stored is
// ignored. The slot is "" for the answer returned to the client and the
// target for a shadow copy, so a shadow prediction never hides the
// primary one. EINVALID (naming the index) when a prediction has no
// request id or no endpoint; nothing is stored then.
func (db *DB) LogPredictions(ctx context.Context, ps []*loopml.Prediction) (err error) {
	defer db.op("LogPredictions", time.Now(), &err)
	if len(ps) == 0 {
		return nil
	}
	ws := loopml.WorkspaceFromContext(ctx)
	now := db.nowMs()
	rows := make([]predictionRow, 0, len(ps))
	for i, p := range ps {
		if p == nil {
			continue
		}
		if p.RequestID == "" {
			return loopml.Errorf(loopml.EINVALID, "predictions[%d]: request_id is required", i)
		}
		if p.Endpoint == "" {
			return loopml.Errorf(loopml.EINVALID, "predictions[%d]: endpoint is required", i)
		}
		r := predictionRow{p: p, workspace: p.Workspace, ts: p.Timestamp}
		if r.workspace == "" {
			r.workspace = ws
		}
		if r.ts == 0 {
			r.ts = now
		}
		if p.Shadow {
			r.slot = p.Target
			if r.slot == "" {
				r.slot = "shadow"
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error { return db.dialect.writePredictions(ctx, tx, rows) })
	return db.fail(err, "log predictions")
}

const predictionColumns = `workspace, endpoint, request_id, slot, day, ts, target, model, version, protocol, status, error, inputs, outputs, truncated, latency_us`

// predictionChunks are the row counts of the multi-row INSERTs of
// predictions that SQLite prepares at Open (sqliteDialect.prepare), so
// that parsing a statement of 2,000 parameters happens once per store, not
// once per batch; a batch is split greedily into them.
var predictionChunks = []int{128, 16, 1}

// insertPredictionsSQL is the INSERT of n predictions that ignores those
// already stored.
func insertPredictionsSQL(n int) string {
	return "INSERT INTO predictions (" + predictionColumns + ") VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ") + " ON CONFLICT DO NOTHING"
}

func (d *sqliteDialect) writePredictions(ctx context.Context, tx *sql.Tx, rows []predictionRow) error {
	return insertPredictionsSQLite(ctx, tx, d.predStmts, rows)
}

func (postgresDialect) writePredictions(ctx context.Context, tx *sql.Tx, rows []predictionRow) error {
	return insertPredictionsPG(ctx, tx, rows)
}

func insertPredictionsSQLite(ctx context.Context, tx *sql.Tx, stmts map[int]*sql.Stmt, rows []predictionRow) error {
	args := make([]any, 0, 16*predictionChunks[0])
	for len(rows) > 0 {
		n := 1
		for _, c := range predictionChunks {
			if c <= len(rows) {
				n = c
				break
			}
		}
		args = args[:0]
		for _, r := range rows[:n] {
			p := r.p
			args = append(args, r.workspace, p.Endpoint, p.RequestID, r.slot, epochDay(r.ts), r.ts, p.Target, p.Model, p.Version,
				p.Protocol, p.Status, cleanText(p.Error), cleanText(p.Inputs), cleanText(p.Outputs), p.Truncated, p.LatencyUs)
		}
		if _, err := tx.StmtContext(ctx, stmts[n]).ExecContext(ctx, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// insertPredictionsPG inserts the whole batch in one statement from
// arrays (one round trip, no statement size limit).
func insertPredictionsPG(ctx context.Context, tx *sql.Tx, rows []predictionRow) error {
	n := len(rows)
	ws, ep, rid, slot, target, model, version, proto, errs, in, out :=
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	day, ts, status, lat := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	trunc := make([]bool, n)
	for i, r := range rows {
		p := r.p
		ws[i], ep[i], rid[i], slot[i] = r.workspace, p.Endpoint, p.RequestID, r.slot
		target[i], model[i], version[i], proto[i] = cleanText(p.Target), cleanText(p.Model), cleanText(p.Version), cleanText(p.Protocol)
		errs[i], in[i], out[i] = cleanText(p.Error), cleanText(p.Inputs), cleanText(p.Outputs)
		day[i], ts[i], status[i], lat[i], trunc[i] = epochDay(r.ts), r.ts, int64(p.Status), p.LatencyUs, p.Truncated
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO predictions (`+predictionColumns+`)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::text[], $8::text[],
  $9::text[], $10::text[], $11::int[], $12::text[], $13::text[], $14::text[], $15::bool[], $16::bigint[])
ON CONFLICT DO NOTHING`, ws, ep, rid, slot, day, ts, target, model, version, proto, status, errs, in, out, trunc, lat)
	return err
}

// LogFeedback stores feedback: per (endpoint, request id), the feedback
// with the latest Timestamp wins (on a tie, the one stored last), whatever
// the order of arrival. Feedback may precede its prediction. EINVALID
// (naming the index and field) for a missing request id or endpoint, a
// label that is not JSON, or neither label nor reward.
func (db *DB) LogFeedback(ctx context.Context, fs []*loopml.Feedback) (err error) {
	defer db.op("LogFeedback", time.Now(), &err)
	ws := loopml.WorkspaceFromContext(ctx)
	now := db.nowMs()
	type key struct{ ws, ep, id string }
	latest := make(map[key]int, len(fs))
	var rows []loopml.Feedback
	for i, f := range fs {
		if f == nil {
			continue
		}
		if err := f.Validate(); err != nil {
			return loopml.Errorf(loopml.EINVALID, "feedback[%d]: %s", i, loopml.ErrorMessage(err))
		}
		r := *f
		if r.Workspace == "" {
			r.Workspace = ws
		}
		if r.Timestamp == 0 {
			r.Timestamp = now
		}
		if r.HasReward {
			r.Label = ""
		}
		k := key{r.Workspace, r.Endpoint, r.RequestID}
		if j, ok := latest[k]; ok {
			// Duplicates inside one batch: keep the latest (one upsert may
			// touch a row only once on PostgreSQL).
			if r.Timestamp >= rows[j].Timestamp {
				rows[j] = r
			}
			continue
		}
		latest[k] = len(rows)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		args := make([]any, 0, 8*min(len(rows), 500))
		for start := 0; start < len(rows); start += 500 {
			chunk := rows[start:min(start+500, len(rows))]
			args = args[:0]
			for _, f := range chunk {
				args = append(args, f.Workspace, f.Endpoint, f.RequestID, epochDay(f.Timestamp), f.Timestamp, cleanText(f.Label), f.Reward, f.HasReward)
			}
			q := `INSERT INTO prediction_feedback (workspace, endpoint, request_id, day, ts, label, reward, has_reward) VALUES ` +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", len(chunk)), ", ") + `
ON CONFLICT (workspace, endpoint, request_id) DO UPDATE SET day = excluded.day, ts = excluded.ts,
  label = excluded.label, reward = excluded.reward, has_reward = excluded.has_reward
WHERE excluded.ts >= prediction_feedback.ts`
			if _, err := tx.ExecContext(ctx, db.q(q), args...); err != nil {
				return err
			}
		}
		return nil
	})
	return db.fail(err, "log feedback")
}

const selectPrediction = `SELECT p.workspace, p.endpoint, p.request_id, p.slot, p.ts, p.target, p.model, p.version, p.protocol,
  p.status, p.error, p.inputs, p.outputs, p.truncated, p.latency_us,
  f.ts, f.label, f.reward, f.has_reward
FROM predictions p LEFT JOIN prediction_feedback f
  ON f.workspace = p.workspace AND f.endpoint = p.endpoint AND f.request_id = p.request_id`

func scanPrediction(s interface{ Scan(...any) error }) (*loopml.LabeledPrediction, error) {
	var (
		lp    loopml.LabeledPrediction
		slot  string
		fts   sql.NullInt64
		label sql.NullString
		rew   sql.NullFloat64
		hasR  sql.NullBool
	)
	p := &lp.Prediction
	if err := s.Scan(&p.Workspace, &p.Endpoint, &p.RequestID, &slot, &p.Timestamp, &p.Target, &p.Model, &p.Version, &p.Protocol,
		&p.Status, &p.Error, &p.Inputs, &p.Outputs, &p.Truncated, &p.LatencyUs, &fts, &label, &rew, &hasR); err != nil {
		return nil, err
	}
	p.Shadow = slot != ""
	if fts.Valid {
		lp.Feedback = &loopml.Feedback{RequestID: p.RequestID, Workspace: p.Workspace, Endpoint: p.Endpoint,
			Label: label.String, Reward: rew.Float64, HasReward: hasR.Bool, Timestamp: fts.Int64}
	}
	return &lp, nil
}

// GetPrediction returns the prediction answered for requestID on
// endpoint (the primary one when shadow copies exist) with its feedback;
// ENOTFOUND when none is logged.
func (db *DB) GetPrediction(ctx context.Context, endpoint, requestID string) (_ *loopml.LabeledPrediction, err error) {
	defer db.op("GetPrediction", time.Now(), &err)
	ws := loopml.WorkspaceFromContext(ctx)
	row := db.rdb.QueryRowContext(ctx, db.q(selectPrediction+`
WHERE p.workspace = ? AND p.endpoint = ? AND p.request_id = ? ORDER BY p.slot LIMIT 1`), ws, endpoint, requestID)
	lp, err := scanPrediction(row)
	if err == sql.ErrNoRows {
		return nil, loopml.Errorf(loopml.ENOTFOUND, "no prediction with request id %q is logged for endpoint %q", requestID, endpoint)
	}
	if err != nil {
		return nil, db.fail(err, "get prediction")
	}
	return lp, nil
}

// predictionToken is the keyset page token of ListPredictions: the sort
// key of the last prediction returned.
type predictionToken struct {
	TS   int64  `json:"ts"`
	ID   string `json:"id"`
	Slot string `json:"slot"`
}

// ListPredictions pages through the predictions of q.Endpoint (shadow
// copies included) in (Timestamp, RequestID) order, with their feedback.
// EINVALID for a missing endpoint or a malformed page token.
func (db *DB) ListPredictions(ctx context.Context, q loopml.PredictionQuery) (_ []*loopml.LabeledPrediction, next string, err error) {
	defer db.op("ListPredictions", time.Now(), &err)
	if q.Endpoint == "" {
		return nil, "", loopml.Errorf(loopml.EINVALID, "endpoint is required")
	}
	max := q.MaxResults
	if max <= 0 {
		max = 1000
	}
	if max > maxPredictionPage {
		return nil, "", loopml.Errorf(loopml.EINVALID, "max_results must be at most %d, got %d", maxPredictionPage, max)
	}
	var cond strings.Builder
	args := []any{loopml.WorkspaceFromContext(ctx), q.Endpoint}
	cond.WriteString(" WHERE p.workspace = ? AND p.endpoint = ?")
	if q.Since > 0 {
		cond.WriteString(" AND p.day >= ? AND p.ts >= ?")
		args = append(args, epochDay(q.Since), q.Since)
	}
	if q.Until > 0 {
		cond.WriteString(" AND p.day <= ? AND p.ts < ?")
		args = append(args, epochDay(q.Until), q.Until)
	}
	if q.Target != "" {
		cond.WriteString(" AND p.target = ?")
		args = append(args, q.Target)
	}
	if q.PageToken != "" {
		var tok predictionToken
		raw, derr := base64.RawURLEncoding.DecodeString(q.PageToken)
		if derr != nil || json.Unmarshal(raw, &tok) != nil {
			return nil, "", loopml.Errorf(loopml.EINVALID, "invalid page_token %q", q.PageToken)
		}
		cond.WriteString(" AND p.day >= ? AND (p.ts > ? OR (p.ts = ? AND (p.request_id > ? OR (p.request_id = ? AND p.slot > ?))))")
		args = append(args, epochDay(tok.TS), tok.TS, tok.TS, tok.ID, tok.ID, tok.Slot)
	}
	args = append(args, max+1)
	var out []*loopml.LabeledPrediction
	var more bool
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, more, err = queryPage(ctx, tx, db.q(selectPrediction+cond.String()+" ORDER BY p.day, p.ts, p.request_id, p.slot LIMIT ?"), args, max,
			func(s interface{ Scan(...any) error }) (*loopml.LabeledPrediction, error) { return scanPrediction(s) })
		return err
	})
	if err != nil {
		return nil, "", db.fail(err, "list predictions")
	}
	if more {
		last := out[len(out)-1]
		slot := ""
		if last.Shadow {
			slot = last.Target
			if slot == "" {
				slot = "shadow"
			}
		}
		b, _ := json.Marshal(predictionToken{TS: last.Timestamp, ID: last.RequestID, Slot: slot})
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	return out, next, nil
}

// TargetStats summarises the non-shadow predictions of endpoint in
// [since, until) per target: request and error counts, the version that
// answered most, nearest-rank latency quantiles and, over predictions with
// feedback, RMSE/MAE of numeric outputs against numeric labels and the
// mean reward. Targets are sorted by name.
func (db *DB) TargetStats(ctx context.Context, endpoint string, since, until int64) (_ []loopml.TargetStats, err error) {
	defer db.op("TargetStats", time.Now(), &err)
	if endpoint == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "endpoint is required")
	}
	if until <= 0 {
		until = db.nowMs() + 1
	}
	ws := loopml.WorkspaceFromContext(ctx)
	where := ` WHERE p.workspace = ? AND p.endpoint = ? AND p.slot = '' AND p.day >= ? AND p.day <= ? AND p.ts >= ? AND p.ts < ?`
	wargs := []any{ws, endpoint, epochDay(since), epochDay(until), since, until}
	byTarget := map[string]*loopml.TargetStats{}
	get := func(t string) *loopml.TargetStats {
		s, ok := byTarget[t]
		if !ok {
			s = &loopml.TargetStats{Target: t}
			byTarget[t] = s
		}
		return s
	}
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		// Counts per target and version.
		rows, err := tx.QueryContext(ctx, db.q(`SELECT p.target, p.version, COUNT(*), SUM(CASE WHEN p.status >= 500 THEN 1 ELSE 0 END)
FROM predictions p`+where+` GROUP BY p.target, p.version`), wargs...)
		if err != nil {
			return err
		}
		best := map[string]int64{}
		for rows.Next() {
			var t, v string
			var n, e int64
			if err := rows.Scan(&t, &v, &n, &e); err != nil {
				rows.Close()
				return err
			}
			s := get(t)
			s.Requests += n
			s.Errors += e
			if n > best[t] || (n == best[t] && v > s.Version) {
				best[t], s.Version = n, v
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := db.latencyQuantiles(ctx, tx, where, wargs, get); err != nil {
			return err
		}
		// Feedback joined to the window's predictions.
		rows, err = tx.QueryContext(ctx, db.q(`SELECT p.target, p.outputs, p.truncated, f.label, f.reward, f.has_reward
FROM predictions p JOIN prediction_feedback f
  ON f.workspace = p.workspace AND f.endpoint = p.endpoint AND f.request_id = p.request_id`+where), wargs...)
		if err != nil {
			return err
		}
		type acc struct {
			se, ae, reward float64
			scored, nrew   int64
		}
		accs := map[string]*acc{}
		for rows.Next() {
			var t, out, label string
			var trunc, hasR bool
			var rew float64
			if err := rows.Scan(&t, &out, &trunc, &label, &rew, &hasR); err != nil {
				rows.Close()
				return err
			}
			s := get(t)
			s.Labeled++
			a := accs[t]
			if a == nil {
				a = &acc{}
				accs[t] = a
			}
			if hasR {
				a.reward += rew
				a.nrew++
				continue
			}
			if trunc {
				continue
			}
			y, ok1 := numericLabel(label)
			yhat, ok2 := numericOutput(out)
			if ok1 && ok2 {
				d := yhat - y
				a.se += d * d
				a.ae += math.Abs(d)
				a.scored++
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for t, a := range accs {
			s := get(t)
			if a.scored > 0 {
				s.RMSE = math.Sqrt(a.se / float64(a.scored))
				s.MAE = a.ae / float64(a.scored)
			}
			if a.nrew > 0 {
				s.MeanReward = a.reward / float64(a.nrew)
			}
		}
		return nil
	})
	if err != nil {
		return nil, db.fail(err, "target stats")
	}
	out := make([]loopml.TargetStats, 0, len(byTarget))
	for _, s := range byTarget {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b loopml.TargetStats) int { return strings.Compare(a.Target, b.Target) })
	return out, nil
}

// latencyQuantiles sets the p50 and p99 latencies per target: in SQL on
// PostgreSQL (percentile_disc), from the sorted latencies on SQLite.
func (db *DB) latencyQuantiles(ctx context.Context, tx *sql.Tx, where string, args []any, get func(string) *loopml.TargetStats) error {
	if db.dialect.name() == "postgres" {
		rows, err := tx.QueryContext(ctx, db.q(`SELECT p.target,
  percentile_disc(0.5) WITHIN GROUP (ORDER BY p.latency_us), percentile_disc(0.99) WITHIN GROUP (ORDER BY p.latency_us)
FROM predictions p`+where+` GROUP BY p.target`), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t string
			var p50, p99 float64
			if err := rows.Scan(&t, &p50, &p99); err != nil {
				return err
			}
			s := get(t)
			s.LatencyP50Us, s.LatencyP99Us = p50, p99
		}
		return rows.Close()
	}
	// SQLite has no percentile function: stream the latencies in order and
	// keep the two nearest-rank values, knowing each target's count from
	// the counts query (one same-snapshot transaction), so that memory does
	// not grow with the window.
	rows, err := tx.QueryContext(ctx, db.q(`SELECT p.target, p.latency_us FROM predictions p`+where+` ORDER BY p.target, p.latency_us`), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		cur         string
		s           *loopml.TargetStats
		i, r50, r99 int64
	)
	for rows.Next() {
		var t string
		var l int64
		if err := rows.Scan(&t, &l); err != nil {
			return err
		}
		if s == nil || t != cur {
			cur, s, i = t, get(t), 0
			r50, r99 = nearestRankIndex(s.Requests, 0.5), nearestRankIndex(s.Requests, 0.99)
		}
		if i == r50 {
			s.LatencyP50Us = float64(l)
		}
		if i == r99 {
			s.LatencyP99Us = float64(l)
		}
		i++
	}
	return rows.Close()
}

// nearestRank is the q-quantile of sorted values by the nearest-rank
// method (PostgreSQL's percentile_disc).
// nearestRankIndex is the 0-based index of the nearest-rank q-quantile
// among n sorted values.
func nearestRankIndex(n int64, q float64) int64 {
	i := int64(math.Ceil(q*float64(n))) - 1
	return max(0, min(i, n-1))
}

// numericLabel parses a feedback label as one number: a JSON number, a
// string holding a number, or a one-element array of either.
func numericLabel(label string) (float64, bool) {
	var v any
	if err := json.Unmarshal([]byte(label), &v); err != nil {
		return 0, false
	}
	return oneNumber(v)
}

// numericOutput parses a logged output as one number: a JSON number, a
// one-element array, {"predictions": x or [x]} (MLflow scoring) or
// {"outputs": [{"data": [x]}]} (Open Inference Protocol).
func numericOutput(out string) (float64, bool) {
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return 0, false
	}
	if m, ok := v.(map[string]any); ok {
		if p, ok := m["predictions"]; ok {
			return oneNumber(p)
		}
		if o, ok := m["outputs"].([]any); ok && len(o) == 1 {
			if t, ok := o[0].(map[string]any); ok {
				return oneNumber(t["data"])
			}
		}
		return 0, false
	}
	return oneNumber(v)
}

func oneNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	case []any:
		if len(x) == 1 {
			if _, nested := x[0].([]any); !nested {
				return oneNumber(x[0])
			}
		}
	}
	return 0, false
}

// DeletePredictions deletes the predictions of endpoint ("" = every
// endpoint of the workspace) with Timestamp < before, the feedback joined
// to them and feedback older than before that never met a prediction. It
// deletes by the day index, so dropping whole days is a range delete, and
// it is idempotent: several replicas may run it concurrently. It returns
// the number of predictions deleted.
func (db *DB) DeletePredictions(ctx context.Context, endpoint string, before int64) (n int64, err error) {
	defer db.op("DeletePredictions", time.Now(), &err)
	if before <= 0 {
		return 0, loopml.Errorf(loopml.EINVALID, "before must be a positive epoch-millisecond timestamp")
	}
	ws := loopml.WorkspaceFromContext(ctx)
	day := epochDay(before)
	epCond, epArgs := "", []any{}
	if endpoint != "" {
		epCond, epArgs = " AND endpoint = ?", []any{endpoint}
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		args := append(append([]any{ws}, epArgs...), day, before, before)
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM prediction_feedback WHERE workspace = ?`+epCond+` AND (
  EXISTS (SELECT 1 FROM predictions p WHERE p.workspace = prediction_feedback.workspace AND p.endpoint = prediction_feedback.endpoint
          AND p.request_id = prediction_feedback.request_id AND p.slot = '' AND p.day <= ? AND p.ts < ?)
  OR (prediction_feedback.ts < ? AND NOT EXISTS (SELECT 1 FROM predictions p WHERE p.workspace = prediction_feedback.workspace
          AND p.endpoint = prediction_feedback.endpoint AND p.request_id = prediction_feedback.request_id)))`), args...); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM predictions WHERE workspace = ?`+epCond+` AND day <= ? AND ts < ?`),
			append(append([]any{ws}, epArgs...), day, before)...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, db.fail(err, "delete predictions")
	}
	return n, nil
}
