-- Dataset registry schema for SQLite: immutable dataset versions (a
-- content-addressed tree root plus its inferred schema and profile
-- reference) and tags pointing at versions.
--
-- Version numbers are MAX(version) + 1 over every row of a name, deleted
-- ones included, so a number is never reused; deletion is soft
-- (deleted_timestamp > 0). Tags are deleted with the version they point at.

-- +goose Up
CREATE TABLE dataset_versions (
    version_pk         INTEGER PRIMARY KEY,
    workspace          TEXT    NOT NULL DEFAULT 'default',
    name               TEXT    NOT NULL,
    version            INTEGER NOT NULL,
    root               TEXT    NOT NULL,
    files              INTEGER NOT NULL DEFAULT 0,
    size_bytes         INTEGER NOT NULL DEFAULT 0,
    labels             TEXT    NOT NULL DEFAULT '{}',
    profile_ref        TEXT    NOT NULL DEFAULT '',
    schema_json        TEXT    NOT NULL DEFAULT '',
    created_by         TEXT    NOT NULL DEFAULT '',
    creation_timestamp INTEGER NOT NULL,
    deleted_timestamp  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (workspace, name, version)
);

CREATE TABLE dataset_tags (
    workspace TEXT    NOT NULL DEFAULT 'default',
    name      TEXT    NOT NULL,
    tag       TEXT    NOT NULL,
    version   INTEGER NOT NULL,
    PRIMARY KEY (workspace, name, tag)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE dataset_tags;
DROP TABLE dataset_versions;
