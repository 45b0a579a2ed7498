-- Serving endpoints for SQLite, and the endpoint/detail columns of the
-- registry event log.
--
-- An endpoint's targets, shadow targets and rollout are JSON documents:
-- they are read and written whole, never queried by content.
-- endpoint_generations holds one counter per workspace that every endpoint
-- change increments; the endpoint row records the value of its last
-- change, so an update is a compare-and-set on that value and a poller
-- reads one row to know whether anything changed.

-- +goose Up
CREATE TABLE endpoints (
    workspace              TEXT    NOT NULL DEFAULT 'default',
    name                   TEXT    NOT NULL,
    targets                TEXT    NOT NULL,
    shadow                 TEXT    NOT NULL DEFAULT '[]',
    sticky_header          TEXT    NOT NULL DEFAULT '',
    is_default             BOOLEAN NOT NULL DEFAULT FALSE,
    rollout                TEXT    NOT NULL DEFAULT '',
    generation             INTEGER NOT NULL,
    created_by             TEXT    NOT NULL DEFAULT '',
    updated_by             TEXT    NOT NULL DEFAULT '',
    creation_timestamp     INTEGER NOT NULL,
    last_updated_timestamp INTEGER NOT NULL,
    PRIMARY KEY (workspace, name)
) WITHOUT ROWID;

CREATE TABLE endpoint_generations (
    workspace  TEXT    PRIMARY KEY,
    generation INTEGER NOT NULL
) WITHOUT ROWID;

ALTER TABLE registry_events ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
ALTER TABLE registry_events ADD COLUMN detail TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE registry_events DROP COLUMN detail;
ALTER TABLE registry_events DROP COLUMN endpoint;
DROP TABLE endpoint_generations;
DROP TABLE endpoints;
