-- Initial loopml metadata schema for SQLite.
--
-- Design notes (see sqlstore/doc.go): integer surrogate keys everywhere, an
-- interned metric-key table so that the metrics table stores small integers,
-- and WITHOUT ROWID tables clustered by their natural access path so that a
-- metric history is one range scan and appends touch few pages.

-- +goose Up
CREATE TABLE experiments (
    experiment_id     INTEGER PRIMARY KEY,
    workspace         TEXT    NOT NULL DEFAULT 'default',
    name              TEXT    NOT NULL,
    artifact_location TEXT    NOT NULL DEFAULT '',
    lifecycle_stage   TEXT    NOT NULL DEFAULT 'active',
    creation_time     INTEGER NOT NULL,
    last_update_time  INTEGER NOT NULL,
    created_by        TEXT    NOT NULL DEFAULT '',
    updated_by        TEXT    NOT NULL DEFAULT '',
    UNIQUE (workspace, name)
);

INSERT INTO experiments (experiment_id, workspace, name, artifact_location, lifecycle_stage,
                         creation_time, last_update_time, created_by, updated_by)
VALUES (0, 'default', 'Default', 'mlflow-artifacts:/0', 'active',
        CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000,
        'system', 'system');

CREATE TABLE experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    key           TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;

CREATE TABLE runs (
    run_pk          INTEGER PRIMARY KEY,
    run_id          TEXT    NOT NULL UNIQUE,
    experiment_id   INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name            TEXT    NOT NULL DEFAULT '',
    user_id         TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    start_time      INTEGER NOT NULL,
    end_time        INTEGER,
    artifact_uri    TEXT    NOT NULL,
    lifecycle_stage TEXT    NOT NULL DEFAULT 'active',
    created_by      TEXT    NOT NULL DEFAULT '',
    updated_by      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX runs_experiment_start ON runs (experiment_id, start_time);

CREATE TABLE params (
    run_pk INTEGER NOT NULL REFERENCES runs (run_pk),
    key    TEXT    NOT NULL,
    value  TEXT    NOT NULL,
    PRIMARY KEY (run_pk, key)
) WITHOUT ROWID;

CREATE TABLE run_tags (
    run_pk INTEGER NOT NULL REFERENCES runs (run_pk),
    key    TEXT    NOT NULL,
    value  TEXT    NOT NULL,
    PRIMARY KEY (run_pk, key)
) WITHOUT ROWID;

CREATE TABLE metric_keys (
    key_id INTEGER PRIMARY KEY,
    key    TEXT NOT NULL UNIQUE
);

-- Every logged point. No foreign keys (runs are never hard-deleted and the
-- writer checks the run), no secondary index: the primary key serves
-- history as a range scan. value NULL means NaN (SQLite stores NaN as NULL).
CREATE TABLE metrics (
    run_pk INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    step   INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    value  REAL,
    PRIMARY KEY (run_pk, key_id, step, ts, seq)
) WITHOUT ROWID;

-- The latest value of each (run, key): highest step, then latest timestamp,
-- then largest value (NaN = NULL counts as largest).
CREATE TABLE latest_metrics (
    run_pk INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    value  REAL,
    step   INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    PRIMARY KEY (run_pk, key_id)
) WITHOUT ROWID;
CREATE INDEX latest_metrics_key_value ON latest_metrics (key_id, value);

-- Counters kept by the writer (metric_seq: logging order of metric points).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('metric_seq', 0);

CREATE TABLE datasets (
    dataset_pk    INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name          TEXT    NOT NULL,
    digest        TEXT    NOT NULL,
    source_type   TEXT    NOT NULL DEFAULT '',
    source        TEXT    NOT NULL DEFAULT '',
    schema        TEXT    NOT NULL DEFAULT '',
    profile       TEXT    NOT NULL DEFAULT '',
    created_by    TEXT    NOT NULL DEFAULT '',
    UNIQUE (experiment_id, name, digest)
);

CREATE TABLE inputs (
    input_pk   INTEGER PRIMARY KEY,
    run_pk     INTEGER NOT NULL REFERENCES runs (run_pk),
    dataset_pk INTEGER NOT NULL REFERENCES datasets (dataset_pk),
    UNIQUE (run_pk, dataset_pk)
);

CREATE TABLE input_tags (
    input_pk INTEGER NOT NULL REFERENCES inputs (input_pk),
    key      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (input_pk, key)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE input_tags;
DROP TABLE inputs;
DROP TABLE datasets;
DROP TABLE counters;
DROP TABLE latest_metrics;
DROP TABLE metrics;
DROP TABLE metric_keys;
DROP TABLE run_tags;
DROP TABLE params;
DROP TABLE runs;
DROP TABLE experiment_tags;
DROP TABLE experiments;
