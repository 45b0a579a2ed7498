-- Dataset validation for SQLite: quarantine and the latest validation
-- status on dataset_versions, every validation result, and the rules
-- attached to datasets.
--
-- A quarantined version (quarantined = 1) is skipped when resolving
-- @latest. validation is the status of the version's newest validation
-- ('' when never validated). dataset_rules keeps every revision; a
-- revision with empty rules records their removal.

-- +goose Up
ALTER TABLE dataset_versions ADD COLUMN quarantined BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE dataset_versions ADD COLUMN validation TEXT NOT NULL DEFAULT '';

CREATE TABLE dataset_validations (
    validation_id      INTEGER PRIMARY KEY,
    workspace          TEXT    NOT NULL DEFAULT 'default',
    name               TEXT    NOT NULL,
    version            INTEGER NOT NULL,
    status             TEXT    NOT NULL,
    rules_digest       TEXT    NOT NULL DEFAULT '',
    report_ref         TEXT    NOT NULL DEFAULT '',
    summary            TEXT    NOT NULL DEFAULT '',
    failed             INTEGER NOT NULL DEFAULT 0,
    checks             INTEGER NOT NULL DEFAULT 0,
    strict             BOOLEAN NOT NULL DEFAULT FALSE,
    created_by         TEXT    NOT NULL DEFAULT '',
    creation_timestamp INTEGER NOT NULL
);
CREATE INDEX dataset_validations_version ON dataset_validations (workspace, name, version, validation_id);

CREATE TABLE dataset_rules (
    workspace          TEXT    NOT NULL DEFAULT 'default',
    name               TEXT    NOT NULL,
    revision           INTEGER NOT NULL,
    rules              TEXT    NOT NULL DEFAULT '',
    digest             TEXT    NOT NULL DEFAULT '',
    created_by         TEXT    NOT NULL DEFAULT '',
    creation_timestamp INTEGER NOT NULL,
    PRIMARY KEY (workspace, name, revision)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE dataset_rules;
DROP TABLE dataset_validations;
ALTER TABLE dataset_versions DROP COLUMN validation;
ALTER TABLE dataset_versions DROP COLUMN quarantined;
