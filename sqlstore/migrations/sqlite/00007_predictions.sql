-- The serving gateway's prediction log and the feedback joined to it.
--
-- predictions: one row per logged request of an endpoint; slot is '' for
-- the answer that was returned and the shadow target's model reference for
-- a mirrored copy, so (workspace, endpoint, request_id, slot) is unique and
-- re-logging the same request is a no-op. day (epoch day of ts) leads the
-- time index: window queries and retention (whole days) are range scans
-- of one index. The rowid table appends in arrival order.
--
-- prediction_feedback: the latest label or reward per request, kept even
-- when the prediction has not arrived (yet): the join happens at read time.

-- +goose Up
CREATE TABLE predictions (
    workspace  TEXT    NOT NULL,
    endpoint   TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    slot       TEXT    NOT NULL DEFAULT '',
    day        INTEGER NOT NULL,
    ts         INTEGER NOT NULL,
    target     TEXT    NOT NULL DEFAULT '',
    model      TEXT    NOT NULL DEFAULT '',
    version    TEXT    NOT NULL DEFAULT '',
    protocol   TEXT    NOT NULL DEFAULT '',
    status     INTEGER NOT NULL,
    error      TEXT    NOT NULL DEFAULT '',
    inputs     TEXT    NOT NULL DEFAULT '',
    outputs    TEXT    NOT NULL DEFAULT '',
    truncated  BOOLEAN NOT NULL DEFAULT FALSE,
    latency_us INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX predictions_request ON predictions (workspace, endpoint, request_id, slot);
CREATE INDEX predictions_time ON predictions (workspace, endpoint, day, ts);

CREATE TABLE prediction_feedback (
    workspace  TEXT    NOT NULL,
    endpoint   TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    day        INTEGER NOT NULL,
    ts         INTEGER NOT NULL,
    label      TEXT    NOT NULL DEFAULT '',
    reward     REAL    NOT NULL DEFAULT 0,
    has_reward BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (workspace, endpoint, request_id)
) WITHOUT ROWID;
CREATE INDEX prediction_feedback_day ON prediction_feedback (workspace, endpoint, day);

-- +goose Down
DROP TABLE prediction_feedback;
DROP TABLE predictions;
