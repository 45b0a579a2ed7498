package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/loopml/loopml"
)

// Serving endpoints. Targets, shadow targets and the rollout are stored as
// JSON. Every change increments the workspace's row of
// endpoint_generations and stamps the endpoint with the new value, so an
// update is a compare-and-set on the stamp, and EndpointsGeneration is one
// single-row read. Writes run under the registry lock because they append
// registry events (event ids must increase in commit order for the
// webhook cursor and subscribers).

var _ loopml.EndpointService = (*DB)(nil)

const endpointCols = `name, workspace, targets, shadow, sticky_header, is_default, rollout, generation, created_by, creation_timestamp, last_updated_timestamp`

func scanEndpoint(sc interface{ Scan(...any) error }) (*loopml.Endpoint, error) {
	var e loopml.Endpoint
	var targets, shadow, rollout string
	if err := sc.Scan(&e.Name, &e.Workspace, &targets, &shadow, &e.StickyHeader, &e.Default, &rollout, &e.Generation,
		&e.CreatedBy, &e.CreationTimestamp, &e.LastUpdatedTimestamp); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(targets), &e.Targets); err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "endpoint %s: stored targets are not valid JSON", e.Name)
	}
	if err := json.Unmarshal([]byte(shadow), &e.Shadow); err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "endpoint %s: stored shadow targets are not valid JSON", e.Name)
	}
	if rollout != "" {
		e.Rollout = new(loopml.Rollout)
		if err := json.Unmarshal([]byte(rollout), e.Rollout); err != nil {
			return nil, loopml.WrapError(loopml.EINTERNAL, err, "endpoint %s: stored rollout is not valid JSON", e.Name)
		}
	}
	return &e, nil
}

// endpointJSON encodes the JSON columns of e.
func endpointJSON(e *loopml.Endpoint) (targets, shadow, rollout string) {
	t, _ := json.Marshal(nonNil(e.Targets))
	s, _ := json.Marshal(nonNil(e.Shadow))
	if e.Rollout != nil {
		r, _ := json.Marshal(e.Rollout)
		rollout = string(r)
	}
	return string(t), string(s), rollout
}

func nonNil(ts []loopml.EndpointTarget) []loopml.EndpointTarget {
	if ts == nil {
		return []loopml.EndpointTarget{}
	}
	return ts
}

func endpointNotFound(name string) error {
	return loopml.Errorf(loopml.ENOTFOUND, "Endpoint with name=%s not found", name)
}

// bumpEndpointGeneration increments the workspace's endpoint generation
// and returns the new value.
func (db *DB) bumpEndpointGeneration(ctx context.Context, tx *sql.Tx) (int64, error) {
	var g int64
	err := tx.QueryRowContext(ctx, db.q(`INSERT INTO endpoint_generations (workspace, generation) VALUES (?, 1)
ON CONFLICT (workspace) DO UPDATE SET generation = endpoint_generations.generation + 1 RETURNING generation`),
		loopml.WorkspaceFromContext(ctx)).Scan(&g)
	return g, err
}

// appendEndpointEvents records one registry event per model that e (and,
// when given, its previous state) references.
func (db *DB) appendEndpointEvents(ctx context.Context, tx *sql.Tx, e, prev *loopml.Endpoint, c loopml.EndpointChange, t int64) error {
	if c.Event == "" {
		c.Event = loopml.EventEndpointUpdated
	}
	models := e.Models()
	if prev != nil {
		models = append(models, prev.Models()...)
	}
	seen := map[string]bool{}
	for _, m := range models {
		if seen[m] {
			continue
		}
		seen[m] = true
		id, err := db.lookupModel(ctx, tx, m)
		if err != nil && loopml.ErrorCode(err) != loopml.ENOTFOUND {
			return err
		}
		// A model not registered (yet) gets id 0: the event is listed
		// under its name until a model of that name exists.
		ev := loopml.RegistryEvent{Time: t, Type: c.Event, Model: m, Reason: c.Reason, Endpoint: e.Name, Detail: c.Detail}
		if err := db.appendEvent(ctx, tx, id, ev); err != nil {
			return err
		}
	}
	return nil
}

// checkDefault refuses a second default endpoint in the workspace.
func (db *DB) checkDefault(ctx context.Context, tx *sql.Tx, e *loopml.Endpoint) error {
	if !e.Default {
		return nil
	}
	var other string
	err := tx.QueryRowContext(ctx, db.q(`SELECT name FROM endpoints WHERE workspace = ? AND is_default AND name <> ? LIMIT 1`),
		loopml.WorkspaceFromContext(ctx), e.Name).Scan(&other)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'default': endpoint %s is already the default endpoint (unset it first)", other)
}

// CreateEndpoint implements loopml.EndpointService.
func (db *DB) CreateEndpoint(ctx context.Context, e *loopml.Endpoint) (err error) {
	defer db.op("CreateEndpoint", time.Now(), &err)
	if err := loopml.ValidateEndpoint(e); err != nil {
		return err
	}
	ws, who, t := loopml.WorkspaceFromContext(ctx), loopml.PrincipalFromContext(ctx), db.nowMs()
	targets, shadow, rollout := endpointJSON(e)
	var gen int64
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM endpoints WHERE workspace = ? AND name = ?`), ws, e.Name).Scan(&one)
		if err == nil {
			return loopml.Errorf(loopml.ECONFLICT, "Endpoint (name=%s) already exists.", e.Name)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := db.checkDefault(ctx, tx, e); err != nil {
			return err
		}
		if gen, err = db.bumpEndpointGeneration(ctx, tx); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO endpoints
  (workspace, name, targets, shadow, sticky_header, is_default, rollout, generation, created_by, updated_by, creation_timestamp, last_updated_timestamp)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), ws, e.Name, targets, shadow, e.StickyHeader, e.Default, rollout, gen, who, who, t, t)
		if err != nil {
			if db.dialect.classify(err) == loopml.ECONFLICT {
				return loopml.Errorf(loopml.ECONFLICT, "Endpoint (name=%s) already exists.", e.Name)
			}
			return err
		}
		return db.appendEndpointEvents(ctx, tx, e, nil, loopml.EndpointChange{Event: loopml.EventEndpointCreated, Detail: targetsDetail(e)}, t)
	})
	if err != nil {
		return db.fail(err, "create endpoint")
	}
	e.Workspace, e.Generation, e.CreatedBy, e.CreationTimestamp, e.LastUpdatedTimestamp = ws, gen, who, t, t
	return nil
}

// targetsDetail is the JSON detail of a plain endpoint event: its targets.
func targetsDetail(e *loopml.Endpoint) string {
	b, _ := json.Marshal(struct {
		Targets []loopml.EndpointTarget `json:"targets"`
		Shadow  []loopml.EndpointTarget `json:"shadow,omitempty"`
	}{nonNil(e.Targets), e.Shadow})
	return string(b)
}

func (db *DB) getEndpoint(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) (*loopml.Endpoint, error) {
	e, err := scanEndpoint(q.QueryRowContext(ctx, db.q(`SELECT `+endpointCols+` FROM endpoints WHERE workspace = ? AND name = ?`),
		loopml.WorkspaceFromContext(ctx), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, endpointNotFound(name)
	}
	return e, err
}

// GetEndpoint implements loopml.EndpointService.
func (db *DB) GetEndpoint(ctx context.Context, name string) (_ *loopml.Endpoint, err error) {
	defer db.op("GetEndpoint", time.Now(), &err)
	if name == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'name'")
	}
	e, err := db.getEndpoint(ctx, db.rdb, name)
	if err != nil {
		return nil, db.fail(err, "get endpoint")
	}
	return e, nil
}

// ListEndpoints implements loopml.EndpointService.
func (db *DB) ListEndpoints(ctx context.Context) (_ []*loopml.Endpoint, err error) {
	defer db.op("ListEndpoints", time.Now(), &err)
	rows, err := db.rdb.QueryContext(ctx, db.q(`SELECT `+endpointCols+` FROM endpoints WHERE workspace = ? ORDER BY name`), loopml.WorkspaceFromContext(ctx))
	if err != nil {
		return nil, db.fail(err, "list endpoints")
	}
	defer rows.Close()
	var out []*loopml.Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, db.fail(err, "list endpoints")
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail(err, "list endpoints")
	}
	return out, nil
}

// UpdateEndpoint implements loopml.EndpointService.
func (db *DB) UpdateEndpoint(ctx context.Context, e *loopml.Endpoint, c loopml.EndpointChange) (err error) {
	defer db.op("UpdateEndpoint", time.Now(), &err)
	if err := loopml.ValidateEndpoint(e); err != nil {
		return err
	}
	if c.Event != "" && !slices.Contains(loopml.EndpointEventTypes, c.Event) {
		return loopml.Errorf(loopml.EINVALID, "Invalid endpoint event type %q", c.Event)
	}
	if c.Detail == "" {
		c.Detail = targetsDetail(e)
	}
	who, t := loopml.PrincipalFromContext(ctx), db.nowMs()
	targets, shadow, rollout := endpointJSON(e)
	var gen int64
	var prev *loopml.Endpoint
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		var err error
		if prev, err = db.getEndpoint(ctx, tx, e.Name); err != nil {
			return err
		}
		if prev.Generation != e.Generation {
			return loopml.Errorf(loopml.ECONFLICT, "Endpoint %s changed: its generation is %d, not %d (re-read it and retry)", e.Name, prev.Generation, e.Generation)
		}
		if err := db.checkDefault(ctx, tx, e); err != nil {
			return err
		}
		if gen, err = db.bumpEndpointGeneration(ctx, tx); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE endpoints SET targets = ?, shadow = ?, sticky_header = ?, is_default = ?, rollout = ?,
  generation = ?, updated_by = ?, last_updated_timestamp = ? WHERE workspace = ? AND name = ? AND generation = ?`),
			targets, shadow, e.StickyHeader, e.Default, rollout, gen, who, t, loopml.WorkspaceFromContext(ctx), e.Name, e.Generation)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return loopml.Errorf(loopml.ECONFLICT, "Endpoint %s changed concurrently (re-read it and retry)", e.Name)
		}
		return db.appendEndpointEvents(ctx, tx, e, prev, c, t)
	})
	if err != nil {
		return db.fail(err, "update endpoint")
	}
	e.Workspace, e.Generation, e.LastUpdatedTimestamp = prev.Workspace, gen, t
	e.CreatedBy, e.CreationTimestamp = prev.CreatedBy, prev.CreationTimestamp
	return nil
}

// DeleteEndpoint implements loopml.EndpointService.
func (db *DB) DeleteEndpoint(ctx context.Context, name string) (err error) {
	defer db.op("DeleteEndpoint", time.Now(), &err)
	if name == "" {
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'name'")
	}
	t := db.nowMs()
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		prev, err := db.getEndpoint(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := db.bumpEndpointGeneration(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM endpoints WHERE workspace = ? AND name = ?`), loopml.WorkspaceFromContext(ctx), name); err != nil {
			return err
		}
		return db.appendEndpointEvents(ctx, tx, prev, nil, loopml.EndpointChange{Event: loopml.EventEndpointDeleted, Detail: targetsDetail(prev)}, t)
	})
	return db.fail(err, "delete endpoint")
}

// EndpointsGeneration implements loopml.EndpointService.
func (db *DB) EndpointsGeneration(ctx context.Context) (_ int64, err error) {
	defer db.op("EndpointsGeneration", time.Now(), &err)
	var g int64
	err = db.rdb.QueryRowContext(ctx, db.q(`SELECT generation FROM endpoint_generations WHERE workspace = ?`), loopml.WorkspaceFromContext(ctx)).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, db.fail(err, "read endpoints generation")
	}
	return g, nil
}

// LatestRegistryEventID returns the id of the newest registry event (of
// any workspace), 0 when the log is empty: where a subscriber that wants
// only new events starts.
func (db *DB) LatestRegistryEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := db.rdb.QueryRowContext(ctx, `SELECT COALESCE(MAX(event_id), 0) FROM registry_events`).Scan(&id); err != nil {
		return 0, db.fail(err, "read the latest registry event id")
	}
	return id, nil
}
