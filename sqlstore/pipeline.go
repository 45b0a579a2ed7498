package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/loopml/loopml"
)

// Pipeline triggers and server-side pipeline runs. The source (path or
// spec text) is stored as JSON. Every write that looks at other runs of a
// pipeline (submit under a policy, claim) runs under a PostgreSQL advisory
// lock, so that replicas apply the policies one at a time; SQLite has a
// single writer. The partial unique index pipeline_runs_one_running is
// the last line: two running runs of one pipeline cannot exist.

var _ loopml.PipelineService = (*DB)(nil)

const pipelineLockID = 0x6c6f6f706d6c5050 // "loopmlPP"

func (db *DB) lockPipelines(ctx context.Context, tx *sql.Tx) error {
	if db.dialect.name() != "postgres" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pipelineLockID))
	return err
}

const triggerCols = `workspace, name, pipeline, source, kind, schedule, dataset, model, require_validation, policy, enabled, next_fire_at, cursor, created_by, creation_timestamp, last_updated_timestamp`

func scanTrigger(sc interface{ Scan(...any) error }) (*loopml.PipelineTrigger, error) {
	var t loopml.PipelineTrigger
	var src string
	if err := sc.Scan(&t.Workspace, &t.Name, &t.Pipeline, &src, &t.Kind, &t.Schedule, &t.Dataset, &t.Model, &t.RequireValidation,
		&t.Policy, &t.Enabled, &t.NextFireAt, &t.Cursor, &t.CreatedBy, &t.CreationTimestamp, &t.LastUpdatedTimestamp); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(src), &t.Source); err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "trigger %s: stored source is not valid JSON", t.Name)
	}
	return &t, nil
}

const pipelineRunCols = `id, workspace, pipeline, trigger_name, started_by, source, policy, status, reason, runner, lease_expires_at, cancel_requested, tracking_run_id, created_by, queued_at, start_time, end_time`

func scanPipelineRun(sc interface{ Scan(...any) error }) (*loopml.PipelineRun, error) {
	var r loopml.PipelineRun
	var src string
	if err := sc.Scan(&r.ID, &r.Workspace, &r.Pipeline, &r.Trigger, &r.StartedBy, &src, &r.Policy, &r.Status, &r.Reason, &r.Runner,
		&r.LeaseExpiresAt, &r.CancelRequested, &r.TrackingRunID, &r.CreatedBy, &r.QueuedAt, &r.StartTime, &r.EndTime); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(src), &r.Source); err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "pipeline run %s: stored source is not valid JSON", r.ID)
	}
	return &r, nil
}

func sourceJSON(s loopml.PipelineSource) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func triggerNotFound(name string) error {
	return loopml.Errorf(loopml.ENOTFOUND, "Pipeline trigger with name=%s not found", name)
}

func pipelineRunNotFound(id string) error {
	return loopml.Errorf(loopml.ENOTFOUND, "Pipeline run with id=%s not found", id)
}

// CreatePipelineTrigger implements loopml.PipelineService.
func (db *DB) CreatePipelineTrigger(ctx context.Context, t *loopml.PipelineTrigger) (err error) {
	defer db.op("CreatePipelineTrigger", time.Now(), &err)
	if err := loopml.ValidatePipelineTrigger(t); err != nil {
		return err
	}
	ws, who, now := loopml.WorkspaceFromContext(ctx), loopml.PrincipalFromContext(ctx), db.nowMs()
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO pipeline_triggers (`+triggerCols+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), ws, t.Name, t.Pipeline, sourceJSON(t.Source), t.Kind, t.Schedule, t.Dataset, t.Model,
			t.RequireValidation, t.Policy, t.Enabled, t.NextFireAt, t.Cursor, who, now, now)
		return err
	})
	if err != nil {
		if db.dialect.classify(err) == loopml.ECONFLICT {
			return loopml.Errorf(loopml.ECONFLICT, "Pipeline trigger (name=%s) already exists.", t.Name)
		}
		return db.fail(err, "create pipeline trigger")
	}
	t.Workspace, t.CreatedBy, t.CreationTimestamp, t.LastUpdatedTimestamp = ws, who, now, now
	return nil
}

// GetPipelineTrigger implements loopml.PipelineService.
func (db *DB) GetPipelineTrigger(ctx context.Context, name string) (_ *loopml.PipelineTrigger, err error) {
	defer db.op("GetPipelineTrigger", time.Now(), &err)
	if name == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'name'")
	}
	t, err := scanTrigger(db.rdb.QueryRowContext(ctx, db.q(`SELECT `+triggerCols+` FROM pipeline_triggers WHERE workspace = ? AND name = ?`),
		loopml.WorkspaceFromContext(ctx), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, triggerNotFound(name)
	}
	if err != nil {
		return nil, db.fail(err, "get pipeline trigger")
	}
	return t, nil
}

func (db *DB) listTriggers(ctx context.Context, where string, args ...any) ([]*loopml.PipelineTrigger, error) {
	rows, err := db.rdb.QueryContext(ctx, db.q(`SELECT `+triggerCols+` FROM pipeline_triggers WHERE `+where+` ORDER BY workspace, name`), args...)
	if err != nil {
		return nil, db.fail(err, "list pipeline triggers")
	}
	defer rows.Close()
	var out []*loopml.PipelineTrigger
	for rows.Next() {
		t, err := scanTrigger(rows)
		if err != nil {
			return nil, db.fail(err, "list pipeline triggers")
		}
		out = append(out, t)
	}
	return out, db.fail(rows.Err(), "list pipeline triggers")
}

// ListPipelineTriggers implements loopml.PipelineService.
func (db *DB) ListPipelineTriggers(ctx context.Context) (_ []*loopml.PipelineTrigger, err error) {
	defer db.op("ListPipelineTriggers", time.Now(), &err)
	return db.listTriggers(ctx, `workspace = ?`, loopml.WorkspaceFromContext(ctx))
}

// ScanPipelineTriggers implements loopml.PipelineService.
func (db *DB) ScanPipelineTriggers(ctx context.Context) (_ []*loopml.PipelineTrigger, err error) {
	defer db.op("ScanPipelineTriggers", time.Now(), &err)
	return db.listTriggers(ctx, `enabled`)
}

// DeletePipelineTrigger implements loopml.PipelineService. Runs it started
// keep its name.
func (db *DB) DeletePipelineTrigger(ctx context.Context, name string) (err error) {
	defer db.op("DeletePipelineTrigger", time.Now(), &err)
	if name == "" {
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'name'")
	}
	var n int64
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM pipeline_triggers WHERE workspace = ? AND name = ?`), loopml.WorkspaceFromContext(ctx), name)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return db.fail(err, "delete pipeline trigger")
	}
	if n == 0 {
		return triggerNotFound(name)
	}
	return nil
}

// FirePipelineTrigger implements loopml.PipelineService.
func (db *DB) FirePipelineTrigger(ctx context.Context, f loopml.PipelineFire) (_ *loopml.PipelineRun, err error) {
	defer db.op("FirePipelineTrigger", time.Now(), &err)
	if f.Trigger == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'trigger'")
	}
	ws := loopml.WorkspaceFromContext(ctx)
	var run *loopml.PipelineRun
	var skipped error
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		run, skipped = nil, nil
		if err := db.lockPipelines(ctx, tx); err != nil {
			return err
		}
		t, err := scanTrigger(tx.QueryRowContext(ctx, db.q(`SELECT `+triggerCols+` FROM pipeline_triggers WHERE workspace = ? AND name = ?`), ws, f.Trigger))
		if errors.Is(err, sql.ErrNoRows) {
			return triggerNotFound(f.Trigger)
		}
		if err != nil {
			return err
		}
		if f.Check {
			res, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_triggers SET next_fire_at = ?, cursor = ?, last_updated_timestamp = ?
WHERE workspace = ? AND name = ? AND next_fire_at = ? AND cursor = ?`),
				f.To.NextFireAt, f.To.Cursor, db.nowMs(), ws, f.Trigger, f.From.NextFireAt, f.From.Cursor)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return err // another scheduler fired it
			}
			if !f.Start {
				return nil
			}
		}
		r := &loopml.PipelineRun{Pipeline: t.Pipeline, Trigger: t.Name, StartedBy: f.StartedBy, Source: t.Source, Policy: t.Policy}
		if err := db.submit(ctx, tx, r); err != nil {
			if loopml.ErrorCode(err) == loopml.ECONFLICT {
				skipped = err // the state still moves
				return nil
			}
			return err
		}
		run = r
		return nil
	})
	if err != nil {
		return nil, db.fail(err, "fire pipeline trigger")
	}
	if skipped != nil {
		return nil, skipped
	}
	return run, nil
}

// SubmitPipelineRun implements loopml.PipelineService.
func (db *DB) SubmitPipelineRun(ctx context.Context, r *loopml.PipelineRun) (err error) {
	defer db.op("SubmitPipelineRun", time.Now(), &err)
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockPipelines(ctx, tx); err != nil {
			return err
		}
		return db.submit(ctx, tx, r)
	})
	return db.fail(err, "submit pipeline run")
}

// submit applies r's policy and queues it, in tx.
func (db *DB) submit(ctx context.Context, tx *sql.Tx, r *loopml.PipelineRun) error {
	if err := r.Source.Validate(); err != nil {
		return err
	}
	if r.Policy == "" {
		r.Policy = loopml.PipelinePolicyQueue
	}
	if err := loopml.ValidatePipelinePolicy(r.Policy); err != nil {
		return err
	}
	ws, who, now := loopml.WorkspaceFromContext(ctx), loopml.PrincipalFromContext(ctx), db.nowMs()
	if r.StartedBy == "" {
		r.StartedBy = "user " + who
	}
	switch r.Policy {
	case loopml.PipelinePolicySkip:
		var id string
		err := tx.QueryRowContext(ctx, db.q(`SELECT id FROM pipeline_runs WHERE workspace = ? AND pipeline = ? AND status IN ('queued', 'running') LIMIT 1`),
			ws, r.Pipeline).Scan(&id)
		if err == nil {
			return loopml.Errorf(loopml.ECONFLICT, "pipeline %s: run %s is already queued or running (policy skip)", r.Pipeline, id)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	case loopml.PipelinePolicyReplace:
		r.ID = newRunID() // known before, for the reasons
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET status = 'cancelled', reason = ?, end_time = ?
WHERE workspace = ? AND pipeline = ? AND status = 'queued'`), "replaced by run "+r.ID, now, ws, r.Pipeline); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET cancel_requested = TRUE, reason = ?
WHERE workspace = ? AND pipeline = ? AND status = 'running'`), "replaced by run "+r.ID, ws, r.Pipeline); err != nil {
			return err
		}
	}
	if r.ID == "" {
		r.ID = newRunID()
	}
	r.Workspace, r.CreatedBy, r.QueuedAt, r.Status = ws, who, now, loopml.PipelineQueued
	r.Runner, r.LeaseExpiresAt, r.CancelRequested, r.TrackingRunID, r.Reason, r.StartTime, r.EndTime = "", 0, false, "", "", 0, 0
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO pipeline_runs (id, workspace, pipeline, trigger_name, started_by, source, policy, status, created_by, queued_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), r.ID, ws, r.Pipeline, r.Trigger, r.StartedBy, sourceJSON(r.Source), r.Policy, r.Status, who, now)
	return err
}

func (db *DB) getPipelineRun(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, ws, id string) (*loopml.PipelineRun, error) {
	r, err := scanPipelineRun(q.QueryRowContext(ctx, db.q(`SELECT `+pipelineRunCols+` FROM pipeline_runs WHERE id = ? AND workspace = ?`), id, ws))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pipelineRunNotFound(id)
	}
	return r, err
}

// GetPipelineRun implements loopml.PipelineService.
func (db *DB) GetPipelineRun(ctx context.Context, id string) (_ *loopml.PipelineRun, err error) {
	defer db.op("GetPipelineRun", time.Now(), &err)
	if id == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'id'")
	}
	r, err := db.getPipelineRun(ctx, db.rdb, loopml.WorkspaceFromContext(ctx), id)
	if err != nil {
		return nil, db.fail(err, "get pipeline run")
	}
	return r, nil
}

// ListPipelineRuns implements loopml.PipelineService.
func (db *DB) ListPipelineRuns(ctx context.Context, q loopml.PipelineRunQuery) (_ []*loopml.PipelineRun, err error) {
	defer db.op("ListPipelineRuns", time.Now(), &err)
	where, args := `workspace = ?`, []any{loopml.WorkspaceFromContext(ctx)}
	for _, f := range []struct{ col, v string }{{"pipeline", q.Pipeline}, {"trigger_name", q.Trigger}, {"status", q.Status}} {
		if f.v != "" {
			where += ` AND ` + f.col + ` = ?`
			args = append(args, f.v)
		}
	}
	max := q.MaxResults
	if max <= 0 {
		max = 100
	}
	if max > 10000 {
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'max_results': %d, at most 10000", max)
	}
	rows, err := db.rdb.QueryContext(ctx, db.q(`SELECT `+pipelineRunCols+` FROM pipeline_runs WHERE `+where+
		fmt.Sprintf(` ORDER BY queued_at DESC, id DESC LIMIT %d`, max)), args...)
	if err != nil {
		return nil, db.fail(err, "list pipeline runs")
	}
	defer rows.Close()
	var out []*loopml.PipelineRun
	for rows.Next() {
		r, err := scanPipelineRun(rows)
		if err != nil {
			return nil, db.fail(err, "list pipeline runs")
		}
		out = append(out, r)
	}
	return out, db.fail(rows.Err(), "list pipeline runs")
}

// CancelPipelineRun implements loopml.PipelineService.
func (db *DB) CancelPipelineRun(ctx context.Context, id, reason string) (_ *loopml.PipelineRun, err error) {
	defer db.op("CancelPipelineRun", time.Now(), &err)
	if id == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'id'")
	}
	if reason == "" {
		reason = "cancelled by " + loopml.PrincipalFromContext(ctx)
	}
	ws := loopml.WorkspaceFromContext(ctx)
	var r *loopml.PipelineRun
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET status = 'cancelled', reason = ?, end_time = ? WHERE id = ? AND workspace = ? AND status = 'queued'`),
			reason, db.nowMs(), id, ws); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET cancel_requested = TRUE, reason = ? WHERE id = ? AND workspace = ? AND status = 'running'`),
			reason, id, ws); err != nil {
			return err
		}
		var err error
		r, err = db.getPipelineRun(ctx, tx, ws, id)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "cancel pipeline run")
	}
	return r, nil
}

// ClaimPipelineRun implements loopml.PipelineService.
func (db *DB) ClaimPipelineRun(ctx context.Context, runner string, lease time.Duration) (_ *loopml.PipelineRun, err error) {
	defer db.op("ClaimPipelineRun", time.Now(), &err)
	if runner == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'runner'")
	}
	if lease <= 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'lease': %s, want > 0", lease)
	}
	var r *loopml.PipelineRun
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		r = nil
		if err := db.lockPipelines(ctx, tx); err != nil {
			return err
		}
		var id, ws string
		err := tx.QueryRowContext(ctx, `SELECT q.id, q.workspace FROM pipeline_runs q WHERE q.status = 'queued'
AND NOT EXISTS (SELECT 1 FROM pipeline_runs o WHERE o.workspace = q.workspace AND o.pipeline = q.pipeline AND o.status = 'running')
ORDER BY q.queued_at, q.id LIMIT 1`).Scan(&id, &ws)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		now, err := db.leaseNowMs(ctx, tx)
		if err != nil {
			return err
		}
		// The compare-and-set: only a run still queued is claimed.
		res, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET status = 'running', runner = ?, lease_expires_at = ?, start_time = ?
WHERE id = ? AND status = 'queued'`), runner, now+lease.Milliseconds(), now, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		r, err = db.getPipelineRun(ctx, tx, ws, id)
		return err
	})
	if err != nil {
		if db.dialect.classify(err) == loopml.ECONFLICT {
			return nil, nil // another runner started a run of that pipeline first
		}
		return nil, db.fail(err, "claim pipeline run")
	}
	return r, nil
}

// HeartbeatPipelineRun implements loopml.PipelineService.
func (db *DB) HeartbeatPipelineRun(ctx context.Context, h loopml.PipelineHeartbeat) (_ *loopml.PipelineRun, err error) {
	defer db.op("HeartbeatPipelineRun", time.Now(), &err)
	if h.ID == "" || h.Runner == "" || h.Lease <= 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "heartbeat needs 'id', 'runner' and a positive 'lease'")
	}
	var r *loopml.PipelineRun
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		now, err := db.leaseNowMs(ctx, tx)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET lease_expires_at = ?,
  tracking_run_id = CASE WHEN ? = '' THEN tracking_run_id ELSE ? END
WHERE id = ? AND runner = ? AND status = 'running'`), now+h.Lease.Milliseconds(), h.TrackingRunID, h.TrackingRunID, h.ID, h.Runner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return loopml.Errorf(loopml.ECONFLICT, "pipeline run %s: runner %s no longer owns it (its lease expired or the run ended)", h.ID, h.Runner)
		}
		r, err = scanPipelineRun(tx.QueryRowContext(ctx, db.q(`SELECT `+pipelineRunCols+` FROM pipeline_runs WHERE id = ?`), h.ID))
		return err
	})
	if err != nil {
		return nil, db.fail(err, "heartbeat pipeline run")
	}
	return r, nil
}

// FinishPipelineRun implements loopml.PipelineService.
func (db *DB) FinishPipelineRun(ctx context.Context, id, runner, status, reason, trackingRunID string) (err error) {
	defer db.op("FinishPipelineRun", time.Now(), &err)
	switch status {
	case loopml.PipelineSucceeded, loopml.PipelineFailed, loopml.PipelineCancelled:
	default:
		return loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'status': %q, want succeeded, failed or cancelled", status)
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		// A cancelled run keeps the reason recorded by the cancellation.
		res, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET status = ?, end_time = ?,
  reason = CASE WHEN ? = 'cancelled' AND reason <> '' THEN reason ELSE ? END,
  tracking_run_id = CASE WHEN ? = '' THEN tracking_run_id ELSE ? END
WHERE id = ? AND runner = ? AND status = 'running'`), status, db.nowMs(), status, reason, trackingRunID, trackingRunID, id, runner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return loopml.Errorf(loopml.ECONFLICT, "pipeline run %s: runner %s no longer owns it (its lease expired or the run ended)", id, runner)
		}
		return nil
	})
	return db.fail(err, "finish pipeline run")
}

// ExpirePipelineLeases implements loopml.PipelineService.
func (db *DB) ExpirePipelineLeases(ctx context.Context) (_ []*loopml.PipelineRun, err error) {
	defer db.op("ExpirePipelineLeases", time.Now(), &err)
	now, err := db.leaseNowMs(ctx, db.rdb)
	if err != nil {
		return nil, db.fail(err, "expire pipeline leases")
	}
	rows, err := db.rdb.QueryContext(ctx, db.q(`SELECT `+pipelineRunCols+` FROM pipeline_runs WHERE status = 'running' AND lease_expires_at < ?`), now)
	if err != nil {
		return nil, db.fail(err, "expire pipeline leases")
	}
	var cands []*loopml.PipelineRun
	for rows.Next() {
		r, err := scanPipelineRun(rows)
		if err != nil {
			rows.Close()
			return nil, db.fail(err, "expire pipeline leases")
		}
		cands = append(cands, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, db.fail(err, "expire pipeline leases")
	}
	var out []*loopml.PipelineRun
	for _, r := range cands {
		reason := fmt.Sprintf("runner %s lost its lease at %s", r.Runner, time.UnixMilli(r.LeaseExpiresAt).UTC().Format(time.RFC3339Nano))
		var n int64
		err := db.writeTx(ctx, func(tx *sql.Tx) error {
			// Compare-and-set on the lease read: a heartbeat in between wins.
			res, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET status = 'failed', reason = ?, end_time = ?
WHERE id = ? AND status = 'running' AND runner = ? AND lease_expires_at = ?`), reason, now, r.ID, r.Runner, r.LeaseExpiresAt)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return out, db.fail(err, "expire pipeline leases")
		}
		if n == 1 {
			r.Status, r.Reason, r.EndTime = loopml.PipelineFailed, reason, now
			out = append(out, r)
		}
	}
	return out, nil
}
