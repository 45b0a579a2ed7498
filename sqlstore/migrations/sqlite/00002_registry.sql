-- Model registry schema for SQLite: registered models, versions, tags,
-- aliases and the append-only registry event log.
--
-- Versions and aliases reference their model by integer id, so a rename is
-- one UPDATE of registered_models.name. Version numbers come from
-- registered_models.next_version and are never reused after a deletion.
-- registry_events has no foreign key: the log outlives the models it
-- describes, and the code never updates or deletes its rows.

-- +goose Up
CREATE TABLE registered_models (
    model_id               INTEGER PRIMARY KEY,
    workspace              TEXT    NOT NULL DEFAULT 'default',
    name                   TEXT    NOT NULL,
    description            TEXT    NOT NULL DEFAULT '',
    creation_timestamp     INTEGER NOT NULL,
    last_updated_timestamp INTEGER NOT NULL,
    next_version           INTEGER NOT NULL DEFAULT 1,
    created_by             TEXT    NOT NULL DEFAULT '',
    updated_by             TEXT    NOT NULL DEFAULT '',
    UNIQUE (workspace, name)
);
CREATE INDEX registered_models_ws_created ON registered_models (workspace, creation_timestamp);
CREATE INDEX registered_models_ws_updated ON registered_models (workspace, last_updated_timestamp);

CREATE TABLE registered_model_tags (
    model_id INTEGER NOT NULL REFERENCES registered_models (model_id) ON DELETE CASCADE,
    key      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

CREATE TABLE model_versions (
    version_pk             INTEGER PRIMARY KEY,
    model_id               INTEGER NOT NULL REFERENCES registered_models (model_id) ON DELETE CASCADE,
    version                INTEGER NOT NULL,
    stage                  TEXT    NOT NULL DEFAULT 'None',
    source                 TEXT    NOT NULL DEFAULT '',
    run_id                 TEXT    NOT NULL DEFAULT '',
    run_link               TEXT    NOT NULL DEFAULT '',
    status                 TEXT    NOT NULL DEFAULT 'READY',
    status_message         TEXT    NOT NULL DEFAULT '',
    description            TEXT    NOT NULL DEFAULT '',
    signature              TEXT    NOT NULL DEFAULT '',
    size_bytes             INTEGER NOT NULL DEFAULT 0,
    digest                 TEXT    NOT NULL DEFAULT '',
    creation_timestamp     INTEGER NOT NULL,
    last_updated_timestamp INTEGER NOT NULL,
    created_by             TEXT    NOT NULL DEFAULT '',
    updated_by             TEXT    NOT NULL DEFAULT '',
    UNIQUE (model_id, version)
);
CREATE INDEX model_versions_stage ON model_versions (model_id, stage, version);
CREATE INDEX model_versions_run ON model_versions (run_id);

CREATE TABLE model_version_tags (
    version_pk INTEGER NOT NULL REFERENCES model_versions (version_pk) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    PRIMARY KEY (version_pk, key)
) WITHOUT ROWID;

CREATE TABLE model_aliases (
    model_id INTEGER NOT NULL REFERENCES registered_models (model_id) ON DELETE CASCADE,
    alias    TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    PRIMARY KEY (model_id, alias),
    FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version)
) WITHOUT ROWID;

CREATE TABLE registry_events (
    event_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    event_time   INTEGER NOT NULL,
    workspace    TEXT    NOT NULL,
    principal    TEXT    NOT NULL DEFAULT '',
    type         TEXT    NOT NULL,
    model_id     INTEGER NOT NULL,
    model_name   TEXT    NOT NULL,
    version      TEXT    NOT NULL DEFAULT '',
    alias        TEXT    NOT NULL DEFAULT '',
    from_version TEXT    NOT NULL DEFAULT '',
    to_version   TEXT    NOT NULL DEFAULT '',
    from_stage   TEXT    NOT NULL DEFAULT '',
    to_stage     TEXT    NOT NULL DEFAULT '',
    reason       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX registry_events_model ON registry_events (model_id, event_id);
CREATE INDEX registry_events_ws ON registry_events (workspace, model_name, event_id);

-- +goose Down
DROP TABLE registry_events;
DROP TABLE model_aliases;
DROP TABLE model_version_tags;
DROP TABLE model_versions;
DROP TABLE registered_model_tags;
DROP TABLE registered_models;
