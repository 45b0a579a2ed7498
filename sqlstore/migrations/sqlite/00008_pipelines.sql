-- Stored pipeline triggers and server-side pipeline runs (SQLite).
--
-- A trigger's state (next_fire_at for a schedule, cursor for the last
-- dataset version or registry event seen) moves by compare-and-set, so a
-- tick or a version fires once however many schedulers scan. A run is
-- claimed by an UPDATE ... WHERE status = 'queued' (compare-and-set) and
-- owned by its runner until lease_expires_at; the partial unique index
-- keeps at most one running run per pipeline (the queue policy).

-- +goose Up
CREATE TABLE pipeline_triggers (
    workspace              TEXT    NOT NULL DEFAULT 'default',
    name                   TEXT    NOT NULL,
    pipeline               TEXT    NOT NULL DEFAULT '',
    source                 TEXT    NOT NULL,
    kind                   TEXT    NOT NULL,
    schedule               TEXT    NOT NULL DEFAULT '',
    dataset                TEXT    NOT NULL DEFAULT '',
    model                  TEXT    NOT NULL DEFAULT '',
    require_validation     BOOLEAN NOT NULL DEFAULT FALSE,
    policy                 TEXT    NOT NULL,
    enabled                BOOLEAN NOT NULL DEFAULT TRUE,
    next_fire_at           INTEGER NOT NULL DEFAULT 0,
    cursor                 TEXT    NOT NULL DEFAULT '',
    created_by             TEXT    NOT NULL DEFAULT '',
    creation_timestamp     INTEGER NOT NULL,
    last_updated_timestamp INTEGER NOT NULL,
    PRIMARY KEY (workspace, name)
) WITHOUT ROWID;

CREATE TABLE pipeline_runs (
    id               TEXT    PRIMARY KEY,
    workspace        TEXT    NOT NULL DEFAULT 'default',
    pipeline         TEXT    NOT NULL DEFAULT '',
    trigger_name     TEXT    NOT NULL DEFAULT '',
    started_by       TEXT    NOT NULL DEFAULT '',
    source           TEXT    NOT NULL,
    policy           TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    reason           TEXT    NOT NULL DEFAULT '',
    runner           TEXT    NOT NULL DEFAULT '',
    lease_expires_at INTEGER NOT NULL DEFAULT 0,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    tracking_run_id  TEXT    NOT NULL DEFAULT '',
    created_by       TEXT    NOT NULL DEFAULT '',
    queued_at        INTEGER NOT NULL,
    start_time       INTEGER NOT NULL DEFAULT 0,
    end_time         INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX pipeline_runs_status ON pipeline_runs (status, queued_at, id);
CREATE INDEX pipeline_runs_pipeline ON pipeline_runs (workspace, pipeline, status);
CREATE UNIQUE INDEX pipeline_runs_one_running ON pipeline_runs (workspace, pipeline) WHERE status = 'running';

-- +goose Down
DROP TABLE pipeline_runs;
DROP TABLE pipeline_triggers;
