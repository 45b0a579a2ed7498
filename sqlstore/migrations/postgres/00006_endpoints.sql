-- Serving endpoints for PostgreSQL, and the endpoint/detail columns of the
-- registry event log.
--
-- An endpoint's targets, shadow targets and rollout are JSON documents
-- (TEXT: read and written whole, never queried by content).
-- endpoint_generations holds one counter per workspace that every endpoint
-- change increments (its row lock also serialises endpoint writes of a
-- workspace); the endpoint row records the value of its last change, so an
-- update is a compare-and-set on that value and a poller reads one row to
-- know whether anything changed.

-- +goose Up
CREATE TABLE endpoints (
    workspace              TEXT COLLATE "C" NOT NULL DEFAULT 'default',
    name                   TEXT COLLATE "C" NOT NULL,
    targets                TEXT    NOT NULL,
    shadow                 TEXT    NOT NULL DEFAULT '[]',
    sticky_header          TEXT COLLATE "C" NOT NULL DEFAULT '',
    is_default             BOOLEAN NOT NULL DEFAULT FALSE,
    rollout                TEXT    NOT NULL DEFAULT '',
    generation             BIGINT  NOT NULL,
    created_by             TEXT COLLATE "C" NOT NULL DEFAULT '',
    updated_by             TEXT COLLATE "C" NOT NULL DEFAULT '',
    creation_timestamp     BIGINT  NOT NULL,
    last_updated_timestamp BIGINT  NOT NULL,
    PRIMARY KEY (workspace, name)
);

CREATE TABLE endpoint_generations (
    workspace  TEXT COLLATE "C" PRIMARY KEY,
    generation BIGINT NOT NULL
);

ALTER TABLE registry_events ADD COLUMN endpoint TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE registry_events ADD COLUMN detail TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE registry_events DROP COLUMN detail;
ALTER TABLE registry_events DROP COLUMN endpoint;
DROP TABLE endpoint_generations;
DROP TABLE endpoints;
