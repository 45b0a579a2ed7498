package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// Registry webhooks and their delivery queue (loopml.WebhookService).
//
// Queue design, safe with several servers on one PostgreSQL database:
//   - webhook_cursor holds the id of the last registry event turned into
//     deliveries. EnqueueWebhookDeliveries locks that row first (an UPDATE
//     that changes nothing), so enqueuers take turns, and inserts with ON
//     CONFLICT (webhook_id, event_id) DO NOTHING, so even a bug there could
//     not enqueue an event twice for one webhook. Registry event ids
//     increase in commit order (registry writes hold the registry lock), so
//     a cursor over ids skips nothing.
//   - a delivery is claimed by writing lease_owner and lease_until; the
//     claim only takes rows whose lease has expired, and on PostgreSQL
//     selects them FOR UPDATE SKIP LOCKED, so concurrent claimers neither
//     wait for each other nor get the same row. A crashed dispatcher's
//     claims become claimable again when their lease expires.
//   - RecordWebhookAttempt is fenced by (lease_owner, attempts): only the
//     holder of the claim of that attempt can record it.
//
// Webhooks only receive events recorded after their creation
// (after_event_id), and only while active.

const webhookCursor = "webhooks"

var _ loopml.WebhookService = (*DB)(nil)

const webhookCols = `webhook_id, workspace, name, url, secret, events, model, active, created_by, creation_timestamp, last_updated_timestamp`

func scanWebhook(sc interface{ Scan(...any) error }) (*loopml.Webhook, error) {
	var w loopml.Webhook
	var events string
	if err := sc.Scan(&w.ID, &w.Workspace, &w.Name, &w.URL, &w.Secret, &events, &w.Model, &w.Active, &w.CreatedBy,
		&w.CreationTimestamp, &w.LastUpdatedTimestamp); err != nil {
		return nil, err
	}
	w.Events = splitEvents(events)
	return &w, nil
}

func splitEvents(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func webhookNotFound(id string) error {
	return loopml.Errorf(loopml.ENOTFOUND, "Webhook with id=%s not found", id)
}

func webhookNameConflict(name string) error {
	return loopml.Errorf(loopml.ECONFLICT, "Webhook (name=%s) already exists.", name)
}

// skipLocked is the row-locking clause of the claim query: PostgreSQL skips
// rows another claimer has locked; SQLite has a single writer and needs none.
func (db *DB) skipLocked() string {
	if db.dialect.name() == "postgres" {
		return " FOR UPDATE OF d SKIP LOCKED"
	}
	return ""
}

// CreateWebhook implements loopml.WebhookService.
func (db *DB) CreateWebhook(ctx context.Context, w *loopml.Webhook) (err error) {
	defer db.op("CreateWebhook", time.Now(), &err)
	if w == nil {
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'webhook'")
	}
	if err := loopml.ValidateWebhook(w); err != nil {
		return err
	}
	if w.Secret == "" {
		w.Secret = loopml.NewWebhookSecret()
	}
	id, ws, who, t := newRunID(), loopml.WorkspaceFromContext(ctx), loopml.PrincipalFromContext(ctx), db.nowMs()
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO webhooks
  (webhook_id, workspace, name, url, secret, events, model, active, after_event_id, created_by, creation_timestamp, last_updated_timestamp)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(MAX(event_id), 0), ?, ?, ? FROM registry_events`),
			id, ws, w.Name, w.URL, w.Secret, strings.Join(w.Events, ","), w.Model, w.Active, who, t, t)
		if err != nil && db.dialect.classify(err) == loopml.ECONFLICT {
			return webhookNameConflict(w.Name)
		}
		return err
	})
	if err != nil {
		return db.fail(err, "create webhook")
	}
	w.ID, w.Workspace, w.CreatedBy = id, ws, who
	w.CreationTimestamp, w.LastUpdatedTimestamp = t, t
	return nil
}

func (db *DB) getWebhook(ctx context.Context, tx *sql.Tx, id string) (*loopml.Webhook, error) {
	w, err := scanWebhook(tx.QueryRowContext(ctx, db.q(`SELECT `+webhookCols+` FROM webhooks WHERE webhook_id = ? AND workspace = ?`),
		id, loopml.WorkspaceFromContext(ctx)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, webhookNotFound(id)
	}
	return w, err
}

// GetWebhook implements loopml.WebhookService.
func (db *DB) GetWebhook(ctx context.Context, id string) (_ *loopml.Webhook, err error) {
	defer db.op("GetWebhook", time.Now(), &err)
	var w *loopml.Webhook
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		w, err = db.getWebhook(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "get webhook")
	}
	w.Secret = ""
	return w, nil
}

// ListWebhooks implements loopml.WebhookService.
func (db *DB) ListWebhooks(ctx context.Context) (_ []*loopml.Webhook, err error) {
	defer db.op("ListWebhooks", time.Now(), &err)
	var out []*loopml.Webhook
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, db.q(`SELECT `+webhookCols+` FROM webhooks WHERE workspace = ? ORDER BY name`), loopml.WorkspaceFromContext(ctx))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			w, err := scanWebhook(rows)
			if err != nil {
				return err
			}
			w.Secret = ""
			out = append(out, w)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.fail(err, "list webhooks")
	}
	return out, nil
}

// UpdateWebhook implements loopml.WebhookService.
func (db *DB) UpdateWebhook(ctx context.Context, id string, u loopml.WebhookUpdate) (_ *loopml.Webhook, err error) {
	defer db.op("UpdateWebhook", time.Now(), &err)
	var w *loopml.Webhook
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		w, err = db.getWebhook(ctx, tx, id)
		if err != nil {
			return err
		}
		if u.Name != nil {
			w.Name = *u.Name
		}
		if u.URL != nil {
			w.URL = *u.URL
		}
		if u.Secret != nil {
			w.Secret = *u.Secret
		}
		if u.Events != nil {
			w.Events = slices.Clone(*u.Events)
		}
		if u.Model != nil {
			w.Model = *u.Model
		}
		if u.Active != nil {
			w.Active = *u.Active
		}
		if err := loopml.ValidateWebhook(w); err != nil {
			return err
		}
		if w.Secret == "" {
			w.Secret = loopml.NewWebhookSecret()
		}
		w.LastUpdatedTimestamp = db.nowMs()
		_, err := tx.ExecContext(ctx, db.q(`UPDATE webhooks SET name = ?, url = ?, secret = ?, events = ?, model = ?, active = ?, last_updated_timestamp = ?
WHERE webhook_id = ?`), w.Name, w.URL, w.Secret, strings.Join(w.Events, ","), w.Model, w.Active, w.LastUpdatedTimestamp, id)
		if err != nil && db.dialect.classify(err) == loopml.ECONFLICT {
			return webhookNameConflict(w.Name)
		}
		return err
	})
	if err != nil {
		return nil, db.fail(err, "update webhook")
	}
	if u.Secret == nil {
		w.Secret = ""
	}
	return w, nil
}

// DeleteWebhook implements loopml.WebhookService.
func (db *DB) DeleteWebhook(ctx context.Context, id string) (err error) {
	defer db.op("DeleteWebhook", time.Now(), &err)
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM webhooks WHERE webhook_id = ? AND workspace = ?`), id, loopml.WorkspaceFromContext(ctx))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return webhookNotFound(id)
		}
		return nil
	})
	return db.fail(err, "delete webhook")
}

const deliveryCols = `d.delivery_id, d.webhook_id, d.event_id, d.event_type, d.attempts, d.status, d.response_code, d.error,
 d.next_attempt_at, d.creation_timestamp, d.last_updated_timestamp`

func scanDelivery(sc interface{ Scan(...any) error }, extra ...any) (*loopml.WebhookDelivery, error) {
	var d loopml.WebhookDelivery
	dest := append([]any{&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &d.Attempt, &d.Status, &d.ResponseCode, &d.Error,
		&d.NextAttemptAt, &d.CreationTimestamp, &d.LastUpdatedTimestamp}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	return &d, nil
}

// ListWebhookDeliveries implements loopml.WebhookService.
func (db *DB) ListWebhookDeliveries(ctx context.Context, q loopml.WebhookDeliveryQuery) (_ []*loopml.WebhookDelivery, err error) {
	defer db.op("ListWebhookDeliveries", time.Now(), &err)
	max, err := checkMaxResults(q.MaxResults, 100, 1000)
	if err != nil {
		return nil, err
	}
	switch q.Status {
	case "", loopml.DeliveryPending, loopml.DeliverySucceeded, loopml.DeliveryFailed:
	default:
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid value %q for parameter 'status': want pending, succeeded or failed", q.Status)
	}
	var out []*loopml.WebhookDelivery
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.getWebhook(ctx, tx, q.WebhookID); err != nil {
			return err
		}
		var w sqlParts
		w.add("d.webhook_id = ?", q.WebhookID)
		if q.Status != "" {
			w.add("d.status = ?", q.Status)
		}
		if q.BeforeID > 0 {
			w.add("d.delivery_id < ?", q.BeforeID)
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT `+deliveryCols+` FROM webhook_deliveries d`+w.where()+` ORDER BY d.delivery_id DESC LIMIT ?`), append(w.args, max)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.fail(err, "list webhook deliveries")
	}
	return out, nil
}

// WebhookAttempts implements loopml.WebhookService.
func (db *DB) WebhookAttempts(ctx context.Context, deliveryID int64) (_ []loopml.WebhookAttempt, err error) {
	defer db.op("WebhookAttempts", time.Now(), &err)
	var out []loopml.WebhookAttempt
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM webhook_deliveries d JOIN webhooks w ON w.webhook_id = d.webhook_id
WHERE d.delivery_id = ? AND w.workspace = ?`), deliveryID, loopml.WorkspaceFromContext(ctx)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return loopml.Errorf(loopml.ENOTFOUND, "Webhook delivery with id=%d not found", deliveryID)
		} else if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT delivery_id, attempt, attempt_time, duration_ms, response_code, error, owner
FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt`), deliveryID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a loopml.WebhookAttempt
			if err := rows.Scan(&a.DeliveryID, &a.Attempt, &a.Time, &a.DurationMs, &a.ResponseCode, &a.Error, &a.Owner); err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.fail(err, "list webhook attempts")
	}
	return out, nil
}

// hookFilter is what enqueueing needs of a webhook.
type hookFilter struct {
	w     loopml.Webhook
	after int64
}

const eventCols = `e.event_id, e.event_time, e.workspace, e.principal, e.type, e.model_name, e.version, e.alias,
 e.from_version, e.to_version, e.from_stage, e.to_stage, e.reason, e.endpoint, e.detail`

func eventDest(e *loopml.RegistryEvent) []any {
	return []any{&e.ID, &e.Time, &e.Workspace, &e.Principal, &e.Type, &e.Model, &e.Version, &e.Alias,
		&e.FromVersion, &e.ToVersion, &e.FromStage, &e.ToStage, &e.Reason, &e.Endpoint, &e.Detail}
}

// EnqueueWebhookDeliveries implements loopml.WebhookService. max 0 means
// 500; it is at most 10000.
func (db *DB) EnqueueWebhookDeliveries(ctx context.Context, max int) (_ int, err error) {
	defer db.op("EnqueueWebhookDeliveries", time.Now(), &err)
	max, err = checkMaxResults(max, 500, 10000)
	if err != nil {
		return 0, err
	}
	// Idle fast path, read-only: unless the event log has grown past the
	// cursor there is nothing to enqueue, so a polling dispatcher on an
	// idle server writes nothing.
	var seen, last int64
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, db.q(`SELECT COALESCE((SELECT event_id FROM webhook_cursor WHERE name = ?), 0),
       COALESCE((SELECT MAX(event_id) FROM registry_events), 0)`), webhookCursor).Scan(&seen, &last)
	})
	if err != nil {
		return 0, db.fail(err, "enqueue webhook deliveries")
	}
	if last <= seen {
		return 0, nil
	}
	var n int
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		n = 0
		var cur int64
		// Lock the cursor row: concurrent enqueuers wait here, then see
		// the cursor as advanced by the one before them.
		err := tx.QueryRowContext(ctx, db.q(`UPDATE webhook_cursor SET event_id = event_id WHERE name = ? RETURNING event_id`), webhookCursor).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			_, err = tx.ExecContext(ctx, db.q(`INSERT INTO webhook_cursor (name, event_id) VALUES (?, 0)`), webhookCursor)
		}
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT `+eventCols+` FROM registry_events e WHERE e.event_id > ? ORDER BY e.event_id LIMIT ?`), cur, max)
		if err != nil {
			return err
		}
		var events []loopml.RegistryEvent
		for rows.Next() {
			var e loopml.RegistryEvent
			if err := rows.Scan(eventDest(&e)...); err != nil {
				rows.Close()
				return err
			}
			events = append(events, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		hooks, err := db.activeHooks(ctx, tx)
		if err != nil {
			return err
		}
		t, err := db.leaseNowMs(ctx, tx) // due now on the clock claims read
		if err != nil {
			return err
		}
		for _, e := range events {
			for _, h := range hooks {
				if e.ID <= h.after || !h.w.Matches(e) {
					continue
				}
				if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO webhook_deliveries
  (webhook_id, event_id, event_type, status, next_attempt_at, creation_timestamp, last_updated_timestamp)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (webhook_id, event_id) DO NOTHING`),
					h.w.ID, e.ID, e.Type, loopml.DeliveryPending, t, t, t); err != nil {
					return err
				}
			}
		}
		n = len(events)
		_, err = tx.ExecContext(ctx, db.q(`UPDATE webhook_cursor SET event_id = ? WHERE name = ?`), events[len(events)-1].ID, webhookCursor)
		return err
	})
	if err != nil {
		return 0, db.fail(err, "enqueue webhook deliveries")
	}
	return n, nil
}

func (db *DB) activeHooks(ctx context.Context, tx *sql.Tx) ([]hookFilter, error) {
	rows, err := tx.QueryContext(ctx, db.q(`SELECT webhook_id, workspace, events, model, after_event_id FROM webhooks WHERE active = ?`), true)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []hookFilter
	for rows.Next() {
		var h hookFilter
		var events string
		if err := rows.Scan(&h.w.ID, &h.w.Workspace, &events, &h.w.Model, &h.after); err != nil {
			return nil, err
		}
		h.w.Events = splitEvents(events)
		out = append(out, h)
	}
	return out, rows.Err()
}

// ClaimWebhookDeliveries implements loopml.WebhookService. max is 1 to
// 1000; lease must be positive.
func (db *DB) ClaimWebhookDeliveries(ctx context.Context, owner string, max int, lease time.Duration) (_ []loopml.WebhookTask, err error) {
	defer db.op("ClaimWebhookDeliveries", time.Now(), &err)
	switch {
	case owner == "":
		return nil, loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'owner'")
	case max <= 0 || max > 1000:
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'max': want 1 to 1000", max)
	case lease < time.Millisecond:
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid value %s for parameter 'lease': want at least 1ms", lease)
	}
	var out []loopml.WebhookTask
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		t, err := db.leaseNowMs(ctx, tx) // the database's clock: leases span replicas
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.q(`UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?
WHERE delivery_id IN (
  SELECT d.delivery_id FROM webhook_deliveries d JOIN webhooks w ON w.webhook_id = d.webhook_id
  WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND d.lease_until <= ? AND w.active = ?
  ORDER BY d.next_attempt_at, d.delivery_id LIMIT ?`+db.skipLocked()+`)
AND status = 'pending' AND lease_until <= ?
RETURNING delivery_id`), owner, t+lease.Milliseconds(), t, t, true, max, t)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return inChunks(ids, func(ph string, args []any) error {
			rows, err := tx.QueryContext(ctx, db.q(`SELECT `+deliveryCols+`, `+eventCols+`,
 w.workspace, w.name, w.url, w.secret, w.events, w.model, w.active, w.created_by, w.creation_timestamp, w.last_updated_timestamp
FROM webhook_deliveries d JOIN webhooks w ON w.webhook_id = d.webhook_id JOIN registry_events e ON e.event_id = d.event_id
WHERE d.delivery_id IN (`+ph+`)`), args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var task loopml.WebhookTask
				var events string
				w := &task.Webhook
				dest := append(eventDest(&task.Event), &w.Workspace, &w.Name, &w.URL, &w.Secret, &events, &w.Model, &w.Active,
					&w.CreatedBy, &w.CreationTimestamp, &w.LastUpdatedTimestamp)
				d, err := scanDelivery(rows, dest...)
				if err != nil {
					return err
				}
				w.ID, w.Events = d.WebhookID, splitEvents(events)
				task.Delivery, task.Attempt = *d, d.Attempt+1
				out = append(out, task)
			}
			return rows.Err()
		})
	})
	if err != nil {
		return nil, db.fail(err, "claim webhook deliveries")
	}
	slices.SortFunc(out, func(a, b loopml.WebhookTask) int {
		return cmp.Or(cmp.Compare(a.Delivery.NextAttemptAt, b.Delivery.NextAttemptAt), cmp.Compare(a.Delivery.ID, b.Delivery.ID))
	})
	return out, nil
}

// RecordWebhookAttempt implements loopml.WebhookService.
func (db *DB) RecordWebhookAttempt(ctx context.Context, r loopml.WebhookAttemptResult) (err error) {
	defer db.op("RecordWebhookAttempt", time.Now(), &err)
	switch {
	case r.Attempt < 1:
		return loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'attempt': attempts count from 1", r.Attempt)
	case r.Status != loopml.DeliveryPending && r.Status != loopml.DeliverySucceeded && r.Status != loopml.DeliveryFailed:
		return loopml.Errorf(loopml.EINVALID, "Invalid value %q for parameter 'status': want pending, succeeded or failed", r.Status)
	case r.RetryIn < 0:
		return loopml.Errorf(loopml.EINVALID, "Invalid value %s for parameter 'retry_in': must not be negative", r.RetryIn)
	}
	msg := r.Error
	if len(msg) > 4000 {
		msg = msg[:4000]
	}
	msg = strings.ToValidUTF8(msg, "")
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		t, err := db.leaseNowMs(ctx, tx) // retries are due on the clock claims read
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE webhook_deliveries
SET status = ?, attempts = ?, response_code = ?, error = ?, next_attempt_at = ?, lease_owner = '', lease_until = 0, last_updated_timestamp = ?
WHERE delivery_id = ? AND lease_owner = ? AND attempts = ? AND status = ?`),
			r.Status, r.Attempt, r.ResponseCode, msg, t+r.RetryIn.Milliseconds(), t,
			r.DeliveryID, r.Owner, r.Attempt-1, loopml.DeliveryPending)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM webhook_deliveries WHERE delivery_id = ?`), r.DeliveryID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return loopml.Errorf(loopml.ENOTFOUND, "Webhook delivery with id=%d not found", r.DeliveryID)
			} else if err != nil {
				return err
			}
			return loopml.Errorf(loopml.ECONFLICT, "Webhook delivery %d attempt %d is not claimed by %q", r.DeliveryID, r.Attempt, r.Owner)
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO webhook_attempts (delivery_id, attempt, attempt_time, duration_ms, response_code, error, owner)
VALUES (?, ?, ?, ?, ?, ?, ?)`), r.DeliveryID, r.Attempt, t, r.Duration.Milliseconds(), r.ResponseCode, msg, r.Owner)
		return err
	})
	return db.fail(err, "record webhook attempt")
}
