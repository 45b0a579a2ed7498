-- Registry webhooks for SQLite: webhooks, the shared cursor over
-- registry_events, the delivery queue and the delivery log.
--
-- webhook_cursor has one row ('webhooks'): the id of the last registry
-- event turned into deliveries. SQLite has one writer at a time, so the
-- enqueue and claim transactions never interleave; UNIQUE (webhook_id,
-- event_id) backs that up. A delivery is claimed by setting
-- lease_owner/lease_until and a live lease is never claimed again.

-- +goose Up
CREATE TABLE webhooks (
    webhook_id             TEXT    PRIMARY KEY,
    workspace              TEXT    NOT NULL DEFAULT 'default',
    name                   TEXT    NOT NULL,
    url                    TEXT    NOT NULL,
    secret                 TEXT    NOT NULL,
    events                 TEXT    NOT NULL DEFAULT '',
    model                  TEXT    NOT NULL DEFAULT '',
    active                 BOOLEAN NOT NULL DEFAULT TRUE,
    after_event_id         INTEGER NOT NULL DEFAULT 0,
    created_by             TEXT    NOT NULL DEFAULT '',
    creation_timestamp     INTEGER NOT NULL,
    last_updated_timestamp INTEGER NOT NULL,
    UNIQUE (workspace, name)
) WITHOUT ROWID;

CREATE TABLE webhook_cursor (
    name     TEXT    PRIMARY KEY,
    event_id INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO webhook_cursor (name, event_id) SELECT 'webhooks', COALESCE(MAX(event_id), 0) FROM registry_events;

CREATE TABLE webhook_deliveries (
    delivery_id            INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id             TEXT    NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,
    event_id               INTEGER NOT NULL,
    event_type             TEXT    NOT NULL,
    status                 TEXT    NOT NULL DEFAULT 'pending',
    attempts               INTEGER NOT NULL DEFAULT 0,
    response_code          INTEGER NOT NULL DEFAULT 0,
    error                  TEXT    NOT NULL DEFAULT '',
    next_attempt_at        INTEGER NOT NULL,
    lease_owner            TEXT    NOT NULL DEFAULT '',
    lease_until            INTEGER NOT NULL DEFAULT 0,
    creation_timestamp     INTEGER NOT NULL,
    last_updated_timestamp INTEGER NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, delivery_id);

CREATE TABLE webhook_attempts (
    delivery_id   INTEGER NOT NULL REFERENCES webhook_deliveries (delivery_id) ON DELETE CASCADE,
    attempt       INTEGER NOT NULL,
    attempt_time  INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    response_code INTEGER NOT NULL DEFAULT 0,
    error         TEXT    NOT NULL DEFAULT '',
    owner         TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_cursor;
DROP TABLE webhooks;
