-- Stored pipeline triggers and server-side pipeline runs (PostgreSQL).
--
-- A trigger's state (next_fire_at for a schedule, cursor for the last
-- dataset version or registry event seen) moves by compare-and-set, so a
-- tick or a version fires once however many schedulers scan. A run is
-- claimed by an UPDATE ... WHERE status = 'queued' (compare-and-set) and
-- owned by its runner until lease_expires_at; the partial unique index
-- keeps at most one running run per pipeline (the queue policy).

-- +goose Up
CREATE TABLE pipeline_triggers (
    workspace              TEXT COLLATE "C" NOT NULL DEFAULT 'default',
    name                   TEXT COLLATE "C" NOT NULL,
    pipeline               TEXT COLLATE "C" NOT NULL DEFAULT '',
    source                 TEXT    NOT NULL,
    kind                   TEXT COLLATE "C" NOT NULL,
    schedule               TEXT    NOT NULL DEFAULT '',
    dataset                TEXT COLLATE "C" NOT NULL DEFAULT '',
    model                  TEXT COLLATE "C" NOT NULL DEFAULT '',
    require_validation     BOOLEAN NOT NULL DEFAULT FALSE,
    policy                 TEXT COLLATE "C" NOT NULL,
    enabled                BOOLEAN NOT NULL DEFAULT TRUE,
    next_fire_at           BIGINT  NOT NULL DEFAULT 0,
    cursor                 TEXT    NOT NULL DEFAULT '',
    created_by             TEXT COLLATE "C" NOT NULL DEFAULT '',
    creation_timestamp     BIGINT  NOT NULL,
    last_updated_timestamp BIGINT  NOT NULL,
    PRIMARY KEY (workspace, name)
);

CREATE TABLE pipeline_runs (
    id               TEXT COLLATE "C" PRIMARY KEY,
    workspace        TEXT COLLATE "C" NOT NULL DEFAULT 'default',
    pipeline         TEXT COLLATE "C" NOT NULL DEFAULT '',
    trigger_name     TEXT COLLATE "C" NOT NULL DEFAULT '',
    started_by       TEXT    NOT NULL DEFAULT '',
    source           TEXT    NOT NULL,
    policy           TEXT COLLATE "C" NOT NULL,
    status           TEXT COLLATE "C" NOT NULL,
    reason           TEXT    NOT NULL DEFAULT '',
    runner           TEXT COLLATE "C" NOT NULL DEFAULT '',
    lease_expires_at BIGINT  NOT NULL DEFAULT 0,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    tracking_run_id  TEXT    NOT NULL DEFAULT '',
    created_by       TEXT COLLATE "C" NOT NULL DEFAULT '',
    queued_at        BIGINT  NOT NULL,
    start_time       BIGINT  NOT NULL DEFAULT 0,
    end_time         BIGINT  NOT NULL DEFAULT 0
);

CREATE INDEX pipeline_runs_status ON pipeline_runs (status, queued_at, id);
CREATE INDEX pipeline_runs_pipeline ON pipeline_runs (workspace, pipeline, status);
CREATE UNIQUE INDEX pipeline_runs_one_running ON pipeline_runs (workspace, pipeline) WHERE status = 'running';

-- +goose Down
DROP TABLE pipeline_runs;
DROP TABLE pipeline_triggers;
