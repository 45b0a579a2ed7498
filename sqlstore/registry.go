package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loopml/loopml"
)

// The model registry. Models are rows of registered_models keyed by an
// integer model_id; versions, tags and aliases reference that id, so a
// rename is one UPDATE and everything follows. Every change that the event
// log records is appended to registry_events in the same transaction.
//
// Registry event log choices:
//   - events are stored with the model's id and its name at the time;
//     RegistryEvents reports the model's current name, so the history of a
//     renamed model (from before the rename) is found under its new name;
//   - events of a deleted model keep the name they were recorded with and
//     are still returned for that name (while no model of that name exists);
//   - the code never UPDATEs or DELETEs registry_events rows.
//
// All registry writes start with dialect.lockRegistry (SQLite: one writer
// anyway; PostgreSQL: a transaction-level advisory lock), so concurrent
// alias moves apply one after another, last writer wins, and event ids
// increase in commit order.

// regModel is a registered model with its surrogate key.
type regModel struct {
	id int64
	m  *loopml.RegisteredModel
}

// regVersion is a model version with its surrogate keys.
type regVersion struct {
	pk, modelID int64
	num         int64
	v           *loopml.ModelVersion
}

const modelCols = `m.model_id, m.workspace, m.name, m.description, m.creation_timestamp, m.last_updated_timestamp, m.created_by`

func scanModel(sc interface{ Scan(...any) error }) (regModel, error) {
	var rec regModel
	var m loopml.RegisteredModel
	if err := sc.Scan(&rec.id, &m.Workspace, &m.Name, &m.Description, &m.CreationTimestamp, &m.LastUpdatedTimestamp, &m.UserID); err != nil {
		return rec, err
	}
	rec.m = &m
	return rec, nil
}

const versionCols = `v.version_pk, v.model_id, m.name, v.version, v.creation_timestamp, v.last_updated_timestamp, v.created_by, v.stage,
 v.description, v.source, v.run_id, v.run_link, v.status, v.status_message, v.signature, v.size_bytes, v.digest`

const versionFrom = ` FROM model_versions v JOIN registered_models m ON m.model_id = v.model_id`

func scanVersion(sc interface{ Scan(...any) error }) (regVersion, error) {
	var rec regVersion
	var v loopml.ModelVersion
	if err := sc.Scan(&rec.pk, &rec.modelID, &v.Name, &rec.num, &v.CreationTimestamp, &v.LastUpdatedTimestamp, &v.UserID, &v.CurrentStage,
		&v.Description, &v.Source, &v.RunID, &v.RunLink, &v.Status, &v.StatusMessage, &v.Signature, &v.SizeBytes, &v.Digest); err != nil {
		return rec, err
	}
	v.Version = strconv.FormatInt(rec.num, 10)
	rec.v = &v
	return rec, nil
}

func modelNotFound(name string) error {
	return loopml.Errorf(loopml.ENOTFOUND, "Registered Model with name=%s not found", name)
}

func versionNotFound(name, version string) error {
	return loopml.Errorf(loopml.ENOTFOUND, "Model Version (name=%s, version=%s) not found", name, version)
}

func validateModelName(param, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter '%s'. Registered model names must be non-empty", param)
	case !utf8.ValidString(name):
		return loopml.Errorf(loopml.EINVALID, "Invalid value for parameter '%s': registered model name %q is not valid UTF-8", param, name)
	case utf8.RuneCountInString(name) > loopml.MaxExperimentNameLen:
		return loopml.Errorf(loopml.EINVALID, "Registered model '%s' exceeds the maximum length of %d characters", param, loopml.MaxExperimentNameLen)
	}
	return nil
}

// parseVersion parses a model version number (a positive decimal).
func parseVersion(version string) (int64, error) {
	n, err := strconv.ParseInt(version, 10, 64)
	if err != nil || n <= 0 || strings.HasPrefix(version, "+") {
		return 0, loopml.Errorf(loopml.EINVALID, "Invalid value '%s' for parameter 'version': model versions are positive integers", version)
	}
	return n, nil
}

// registryWrite runs fn in a write transaction holding the registry lock.
func (db *DB) registryWrite(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := db.dialect.lockRegistry(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// lookupModel returns the id of the model name in the workspace of ctx.
func (db *DB) lookupModel(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT model_id FROM registered_models WHERE workspace = ? AND name = ?`),
		loopml.WorkspaceFromContext(ctx), name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, modelNotFound(name)
	}
	return id, err
}

// lookupVersion returns a version's key and stage.
func (db *DB) lookupVersion(ctx context.Context, tx *sql.Tx, name, version string) (modelID, pk, num int64, stage string, err error) {
	num, err = parseVersion(version)
	if err != nil {
		return 0, 0, 0, "", err
	}
	modelID, err = db.lookupModel(ctx, tx, name)
	if err != nil {
		return 0, 0, 0, "", err
	}
	err = tx.QueryRowContext(ctx, db.q(`SELECT version_pk, stage FROM model_versions WHERE model_id = ? AND version = ?`), modelID, num).Scan(&pk, &stage)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, 0, "", versionNotFound(name, version)
	}
	return modelID, pk, num, stage, err
}

// appendEvent appends e (of model modelID) to the registry event log; the
// workspace and principal come from ctx.
func (db *DB) appendEvent(ctx context.Context, tx *sql.Tx, modelID int64, e loopml.RegistryEvent) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO registry_events
  (event_time, workspace, principal, type, model_id, model_name, version, alias, from_version, to_version, from_stage, to_stage, reason, endpoint, detail)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.Time, loopml.WorkspaceFromContext(ctx), loopml.PrincipalFromContext(ctx), e.Type, modelID, e.Model,
		e.Version, e.Alias, e.FromVersion, e.ToVersion, e.FromStage, e.ToStage, e.Reason, e.Endpoint, e.Detail)
	return err
}

// touchModel bumps a model's last_updated_timestamp.
func (db *DB) touchModel(ctx context.Context, tx *sql.Tx, modelID, t int64) error {
	_, err := tx.ExecContext(ctx, db.q(`UPDATE registered_models SET last_updated_timestamp = ?, updated_by = ? WHERE model_id = ?`),
		t, loopml.PrincipalFromContext(ctx), modelID)
	return err
}

// CreateRegisteredModel implements loopml.ModelRegistry. The model is
// created in the workspace of ctx; m's Workspace, timestamps and UserID are
// filled in.
func (db *DB) CreateRegisteredModel(ctx context.Context, m *loopml.RegisteredModel) (err error) {
	defer db.op("CreateRegisteredModel", time.Now(), &err)
	if m == nil {
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'registered_model'")
	}
	if err := validateModelName("name", m.Name); err != nil {
		return err
	}
	for _, t := range m.Tags {
		if err := validateTag(t); err != nil {
			return err
		}
	}
	ws, who, t := loopml.WorkspaceFromContext(ctx), loopml.PrincipalFromContext(ctx), db.nowMs()
	if who == "" {
		who = m.UserID
	}
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, db.q(`INSERT INTO registered_models
  (workspace, name, description, creation_timestamp, last_updated_timestamp, created_by, updated_by)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING model_id`), ws, m.Name, m.Description, t, t, who, who).Scan(&id)
		if err != nil {
			if db.dialect.classify(err) == loopml.ECONFLICT {
				return loopml.Errorf(loopml.ECONFLICT, "Registered Model (name=%s) already exists.", m.Name)
			}
			return err
		}
		for _, tag := range lastTags(m.Tags) {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO registered_model_tags (model_id, key, value) VALUES (?, ?, ?)`), id, tag.Key, tag.Value); err != nil {
				return err
			}
		}
		return db.appendEvent(ctx, tx, id, loopml.RegistryEvent{Time: t, Type: loopml.EventModelCreated, Model: m.Name})
	})
	if err != nil {
		return db.fail(err, "create registered model")
	}
	m.Workspace = ws
	m.CreationTimestamp, m.LastUpdatedTimestamp = t, t
	m.UserID = who
	m.Tags = lastTags(m.Tags)
	m.Aliases, m.LatestVersions = nil, nil
	return nil
}

// getModel loads a model with its tags, aliases and latest versions in tx.
func (db *DB) getModel(ctx context.Context, tx *sql.Tx, name string) (*loopml.RegisteredModel, error) {
	rec, err := scanModel(tx.QueryRowContext(ctx, db.q(`SELECT `+modelCols+` FROM registered_models m WHERE m.workspace = ? AND m.name = ?`),
		loopml.WorkspaceFromContext(ctx), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, modelNotFound(name)
	} else if err != nil {
		return nil, err
	}
	if err := db.loadModelDetails(ctx, tx, []regModel{rec}); err != nil {
		return nil, err
	}
	return rec.m, nil
}

// GetRegisteredModel implements loopml.ModelRegistry.
func (db *DB) GetRegisteredModel(ctx context.Context, name string) (_ *loopml.RegisteredModel, err error) {
	defer db.op("GetRegisteredModel", time.Now(), &err)
	var m *loopml.RegisteredModel
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		m, err = db.getModel(ctx, tx, name)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "get registered model")
	}
	return m, nil
}

// RenameRegisteredModel implements loopml.ModelRegistry and records a
// model_renamed event whose Reason names the old and the new name.
func (db *DB) RenameRegisteredModel(ctx context.Context, name, newName string) (_ *loopml.RegisteredModel, err error) {
	defer db.op("RenameRegisteredModel", time.Now(), &err)
	if err := validateModelName("new_name", newName); err != nil {
		return nil, err
	}
	var m *loopml.RegisteredModel
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		id, err := db.lookupModel(ctx, tx, name)
		if err != nil {
			return err
		}
		t := db.nowMs()
		_, err = tx.ExecContext(ctx, db.q(`UPDATE registered_models SET name = ?, last_updated_timestamp = ?, updated_by = ? WHERE model_id = ?`),
			newName, t, loopml.PrincipalFromContext(ctx), id)
		if err != nil {
			if db.dialect.classify(err) == loopml.ECONFLICT {
				return loopml.Errorf(loopml.ECONFLICT, "Registered Model (name=%s) already exists.", newName)
			}
			return err
		}
		if err := db.appendEvent(ctx, tx, id, loopml.RegistryEvent{Time: t, Type: loopml.EventModelRenamed, Model: newName,
			Reason: fmt.Sprintf("renamed from '%s' to '%s'", name, newName)}); err != nil {
			return err
		}
		m, err = db.getModel(ctx, tx, newName)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "rename registered model")
	}
	return m, nil
}

// UpdateRegisteredModel implements loopml.ModelRegistry.
func (db *DB) UpdateRegisteredModel(ctx context.Context, name, description string) (_ *loopml.RegisteredModel, err error) {
	defer db.op("UpdateRegisteredModel", time.Now(), &err)
	var m *loopml.RegisteredModel
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		id, err := db.lookupModel(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE registered_models SET description = ?, last_updated_timestamp = ?, updated_by = ? WHERE model_id = ?`),
			description, db.nowMs(), loopml.PrincipalFromContext(ctx), id); err != nil {
			return err
		}
		m, err = db.getModel(ctx, tx, name)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "update registered model")
	}
	return m, nil
}

// DeleteRegisteredModel implements loopml.ModelRegistry. It records an
// alias_deleted event for each alias the model had, then model_deleted.
func (db *DB) DeleteRegisteredModel(ctx context.Context, name string) (err error) {
	defer db.op("DeleteRegisteredModel", time.Now(), &err)
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		id, err := db.lookupModel(ctx, tx, name)
		if err != nil {
			return err
		}
		t := db.nowMs()
		aliases, err := db.aliasesOf(ctx, tx, id, 0)
		if err != nil {
			return err
		}
		for _, a := range aliases {
			if err := db.appendEvent(ctx, tx, id, loopml.RegistryEvent{Time: t, Type: loopml.EventAliasDeleted, Model: name,
				Alias: a.Alias, FromVersion: a.Version, Reason: "registered model deleted"}); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`DELETE FROM model_aliases WHERE model_id = ?`,
			`DELETE FROM model_version_tags WHERE version_pk IN (SELECT version_pk FROM model_versions WHERE model_id = ?)`,
			`DELETE FROM model_versions WHERE model_id = ?`,
			`DELETE FROM registered_model_tags WHERE model_id = ?`,
			`DELETE FROM registered_models WHERE model_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, db.q(q), id); err != nil {
				return err
			}
		}
		return db.appendEvent(ctx, tx, id, loopml.RegistryEvent{Time: t, Type: loopml.EventModelDeleted, Model: name})
	})
	return db.fail(err, "delete registered model")
}

// aliasesOf returns the aliases of a model sorted by alias, only those
// pointing at version when version > 0.
func (db *DB) aliasesOf(ctx context.Context, tx *sql.Tx, modelID, version int64) ([]loopml.ModelAlias, error) {
	q, args := `SELECT alias, version FROM model_aliases WHERE model_id = ?`, []any{modelID}
	if version > 0 {
		q += ` AND version = ?`
		args = append(args, version)
	}
	rows, err := tx.QueryContext(ctx, db.q(q+` ORDER BY alias`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []loopml.ModelAlias
	for rows.Next() {
		var a loopml.ModelAlias
		var v int64
		if err := rows.Scan(&a.Alias, &v); err != nil {
			return nil, err
		}
		a.Version = strconv.FormatInt(v, 10)
		out = append(out, a)
	}
	return out, rows.Err()
}

// SearchRegisteredModels implements loopml.ModelRegistry. Only models of
// the workspace of ctx are searched.
func (db *DB) SearchRegisteredModels(ctx context.Context, q loopml.RegisteredModelSearch) (_ []*loopml.RegisteredModel, _ string, err error) {
	defer db.op("SearchRegisteredModels", time.Now(), &err)
	max, err := checkMaxResults(q.MaxResults, loopml.DefaultSearchModelsResults, loopml.MaxSearchModelsResults)
	if err != nil {
		return nil, "", err
	}
	offset, err := decodeOffsetToken(q.PageToken)
	if err != nil {
		return nil, "", err
	}
	filter, err := loopml.ParseRegisteredModelFilter(q.Filter)
	if err != nil {
		return nil, "", err
	}
	var w sqlParts
	w.add("m.workspace = ?", loopml.WorkspaceFromContext(ctx))
	for _, c := range filter {
		var cond string
		var args []any
		switch {
		case c.Type == loopml.SearchAttribute && c.Key == "name":
			cond, args, err = db.strCond("m.name", c)
		case c.Type == loopml.SearchTag:
			cond, args, err = db.strCond("t.value", c)
			cond = "EXISTS (SELECT 1 FROM registered_model_tags t WHERE t.model_id = m.model_id AND t.key = ? AND " + cond + ")"
			args = append([]any{c.Key}, args...)
		default:
			err = loopml.Errorf(loopml.EINVALID, "Invalid filter on %s '%s': registered models can be filtered by name and tags", c.Type, c.Key)
		}
		if err != nil {
			return nil, "", err
		}
		w.add(cond, args...)
	}
	var order []string
	byName := false
	for _, s := range q.OrderBy {
		ob, err := loopml.ParseRegisteredModelOrderBy(s)
		if err != nil {
			return nil, "", err
		}
		col := ""
		switch ob.Key {
		case "name":
			col, byName = "m.name", true
		case "creation_timestamp":
			col = "m.creation_timestamp"
		case "last_updated_timestamp":
			col = "m.last_updated_timestamp"
		default:
			return nil, "", loopml.Errorf(loopml.EINVALID, "Invalid order_by clause '%s': registered models can be ordered by name, creation_timestamp or last_updated_timestamp", s)
		}
		order = append(order, col+dir(ob.Ascending))
	}
	if !byName {
		order = append(order, "m.name ASC") // unique per workspace: a total order
	}
	query := `SELECT ` + modelCols + ` FROM registered_models m` + w.where() + ` ORDER BY ` + strings.Join(order, ", ") + ` LIMIT ? OFFSET ?`
	args := append(w.args, max+1, offset)
	var recs []regModel
	var more bool
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		if recs, more, err = queryPage(ctx, tx, db.q(query), args, max, scanModel); err != nil {
			return err
		}
		return db.loadModelDetails(ctx, tx, recs)
	})
	if err != nil {
		return nil, "", db.fail(err, "search registered models")
	}
	next := ""
	if more {
		next = encodeOffsetToken(offset + max)
	}
	out := make([]*loopml.RegisteredModel, len(recs))
	for i, r := range recs {
		out[i] = r.m
	}
	return out, next, nil
}

func dir(asc bool) string {
	if asc {
		return " ASC"
	}
	return " DESC"
}

// loadModelDetails fills in tags, aliases and latest versions.
func (db *DB) loadModelDetails(ctx context.Context, tx *sql.Tx, recs []regModel) error {
	if len(recs) == 0 {
		return nil
	}
	byID := make(map[int64]*loopml.RegisteredModel, len(recs))
	ids := make([]int64, len(recs))
	for i, r := range recs {
		byID[r.id] = r.m
		ids[i] = r.id
		r.m.Tags, r.m.Aliases, r.m.LatestVersions = nil, nil, nil
	}
	err := inChunks(ids, func(ph string, args []any) error {
		rows, err := tx.QueryContext(ctx, db.q(`SELECT model_id, key, value FROM registered_model_tags WHERE model_id IN (`+ph+`) ORDER BY model_id, key`), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var t loopml.Tag
			if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
				return err
			}
			byID[id].Tags = append(byID[id].Tags, t)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		rows, err = tx.QueryContext(ctx, db.q(`SELECT model_id, alias, version FROM model_aliases WHERE model_id IN (`+ph+`) ORDER BY model_id, alias`), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, v int64
			var a loopml.ModelAlias
			if err := rows.Scan(&id, &a.Alias, &v); err != nil {
				return err
			}
			a.Version = strconv.FormatInt(v, 10)
			byID[id].Aliases = append(byID[id].Aliases, a)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	latest, err := db.latestVersions(ctx, tx, ids, nil)
	if err != nil {
		return err
	}
	for _, v := range latest {
		m := byID[v.modelID]
		m.LatestVersions = append(m.LatestVersions, v.v)
	}
	return nil
}

// stageOrder sorts latest versions: None, Staging, Production, Archived.
var stageOrder = map[string]int{loopml.StageNone: 0, loopml.StageStaging: 1, loopml.StageProduction: 2, loopml.StageArchived: 3}

// latestVersions returns the newest version per stage of each model (only
// of the given stages when any), with tags and aliases, ordered by model
// and stage.
func (db *DB) latestVersions(ctx context.Context, tx *sql.Tx, modelIDs []int64, stages []string) ([]regVersion, error) {
	var out []regVersion
	err := inChunks(modelIDs, func(ph string, args []any) error {
		q := `SELECT ` + versionCols + versionFrom + ` WHERE v.model_id IN (` + ph + `)
  AND v.version = (SELECT MAX(v2.version) FROM model_versions v2 WHERE v2.model_id = v.model_id AND v2.stage = v.stage)`
		if len(stages) > 0 {
			q += ` AND v.stage IN (` + placeholders(len(stages)) + `)`
			for _, s := range stages {
				args = append(args, s)
			}
		}
		rows, err := tx.QueryContext(ctx, db.q(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			rec, err := scanVersion(rows)
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].modelID != out[j].modelID {
			return out[i].modelID < out[j].modelID
		}
		return stageOrder[out[i].v.CurrentStage] < stageOrder[out[j].v.CurrentStage]
	})
	return out, db.loadVersionDetails(ctx, tx, out)
}

// loadVersionDetails fills in tags and aliases of versions.
func (db *DB) loadVersionDetails(ctx context.Context, tx *sql.Tx, recs []regVersion) error {
	if len(recs) == 0 {
		return nil
	}
	byPK := make(map[int64]*loopml.ModelVersion, len(recs))
	type key struct{ model, num int64 }
	byNum := make(map[key]*loopml.ModelVersion, len(recs))
	pks := make([]int64, len(recs))
	var models []int64
	seen := make(map[int64]bool)
	for i, r := range recs {
		byPK[r.pk] = r.v
		byNum[key{r.modelID, r.num}] = r.v
		pks[i] = r.pk
		r.v.Tags, r.v.Aliases = nil, nil
		if !seen[r.modelID] {
			seen[r.modelID] = true
			models = append(models, r.modelID)
		}
	}
	err := inChunks(pks, func(ph string, args []any) error {
		rows, err := tx.QueryContext(ctx, db.q(`SELECT version_pk, key, value FROM model_version_tags WHERE version_pk IN (`+ph+`) ORDER BY version_pk, key`), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var pk int64
			var t loopml.Tag
			if err := rows.Scan(&pk, &t.Key, &t.Value); err != nil {
				return err
			}
			byPK[pk].Tags = append(byPK[pk].Tags, t)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	return inChunks(models, func(ph string, args []any) error {
		rows, err := tx.QueryContext(ctx, db.q(`SELECT model_id, version, alias FROM model_aliases WHERE model_id IN (`+ph+`) ORDER BY model_id, alias`), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k key
			var alias string
			if err := rows.Scan(&k.model, &k.num, &alias); err != nil {
				return err
			}
			if v := byNum[k]; v != nil {
				v.Aliases = append(v.Aliases, alias)
			}
		}
		return rows.Err()
	})
}

// inChunks calls fn with "?, ?, ..." and the ids as arguments, at most 500
// ids at a time.
func inChunks(ids []int64, fn func(ph string, args []any) error) error {
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		if err := fn(placeholders(len(part)), args); err != nil {
			return err
		}
	}
	return nil
}

// canonicalStage checks a stage name, matched case-insensitively.
func canonicalStage(stage string) (string, error) {
	st, ok := loopml.CanonicalStage(stage)
	if !ok {
		return "", loopml.Errorf(loopml.EINVALID, "Invalid Model Version stage: %s. Value must be one of %s, %s, %s, %s.",
			stage, loopml.StageNone, loopml.StageStaging, loopml.StageProduction, loopml.StageArchived)
	}
	return st, nil
}

// GetLatestVersions implements loopml.ModelRegistry. Versions come in stage
// order: None, Staging, Production, Archived.
func (db *DB) GetLatestVersions(ctx context.Context, name string, stages []string) (_ []*loopml.ModelVersion, err error) {
	defer db.op("GetLatestVersions", time.Now(), &err)
	canon := make([]string, 0, len(stages))
	for _, s := range stages {
		st, err := canonicalStage(s)
		if err != nil {
			return nil, err
		}
		canon = append(canon, st)
	}
	var recs []regVersion
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		id, err := db.lookupModel(ctx, tx, name)
		if err != nil {
			return err
		}
		recs, err = db.latestVersions(ctx, tx, []int64{id}, canon)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "get latest versions")
	}
	out := make([]*loopml.ModelVersion, len(recs))
	for i, r := range recs {
		out[i] = r.v
	}
	return out, nil
}

// SetRegisteredModelTag implements loopml.ModelRegistry.
func (db *DB) SetRegisteredModelTag(ctx context.Context, name string, tag loopml.Tag) (err error) {
	defer db.op("SetRegisteredModelTag", time.Now(), &err)
	if err := validateTag(tag); err != nil {
		return err
	}
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		id, err := db.lookupModel(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO registered_model_tags (model_id, key, value) VALUES (?, ?, ?)
ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value`), id, tag.Key, tag.Value); err != nil {
			return err
		}
		return db.touchModel(ctx, tx, id, db.nowMs())
	})
	return db.fail(err, "set registered model tag")
}

// DeleteRegisteredModelTag implements loopml.ModelRegistry. Deleting a tag
// that does not exist is not an error (as MLflow); an unknown model is.
func (db *DB) DeleteRegisteredModelTag(ctx context.Context, name, key string) (err error) {
	defer db.op("DeleteRegisteredModelTag", time.Now(), &err)
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		id, err := db.lookupModel(ctx, tx, name)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`DELETE FROM registered_model_tags WHERE model_id = ? AND key = ?`), id, key)
		return err
	})
	return db.fail(err, "delete registered model tag")
}

// SetAlias implements loopml.ModelRegistry. Every call records an
// alias_set event (FromVersion is "" for a new alias).
func (db *DB) SetAlias(ctx context.Context, name, alias, version string) (err error) {
	defer db.op("SetAlias", time.Now(), &err)
	if err := loopml.ValidateAlias(alias); err != nil {
		return err
	}
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		id, _, num, _, err := db.lookupVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		from := ""
		var cur int64
		switch err := tx.QueryRowContext(ctx, db.q(`SELECT version FROM model_aliases WHERE model_id = ? AND alias = ?`), id, alias).Scan(&cur); {
		case err == nil:
			from = strconv.FormatInt(cur, 10)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO model_aliases (model_id, alias, version) VALUES (?, ?, ?)
ON CONFLICT (model_id, alias) DO UPDATE SET version = excluded.version`), id, alias, num); err != nil {
			return err
		}
		return db.appendEvent(ctx, tx, id, loopml.RegistryEvent{Time: db.nowMs(), Type: loopml.EventAliasSet, Model: name,
			Alias: alias, FromVersion: from, ToVersion: strconv.FormatInt(num, 10)})
	})
	return db.fail(err, "set registered model alias")
}

func aliasNotFound(name, alias string) error {
	return loopml.Errorf(loopml.ENOTFOUND, "Registered model alias %s not found. (Registered Model name=%s)", alias, name)
}

// DeleteAlias implements loopml.ModelRegistry.
func (db *DB) DeleteAlias(ctx context.Context, name, alias string) (err error) {
	defer db.op("DeleteAlias", time.Now(), &err)
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		id, err := db.lookupModel(ctx, tx, name)
		if err != nil {
			return err
		}
		var cur int64
		err = tx.QueryRowContext(ctx, db.q(`SELECT version FROM model_aliases WHERE model_id = ? AND alias = ?`), id, alias).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return aliasNotFound(name, alias)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM model_aliases WHERE model_id = ? AND alias = ?`), id, alias); err != nil {
			return err
		}
		return db.appendEvent(ctx, tx, id, loopml.RegistryEvent{Time: db.nowMs(), Type: loopml.EventAliasDeleted, Model: name,
			Alias: alias, FromVersion: strconv.FormatInt(cur, 10)})
	})
	return db.fail(err, "delete registered model alias")
}

// GetVersionByAlias implements loopml.ModelRegistry.
func (db *DB) GetVersionByAlias(ctx context.Context, name, alias string) (_ *loopml.ModelVersion, err error) {
	defer db.op("GetVersionByAlias", time.Now(), &err)
	var v *loopml.ModelVersion
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		rec, err := scanVersion(tx.QueryRowContext(ctx, db.q(`SELECT `+versionCols+versionFrom+`
  JOIN model_aliases a ON a.model_id = v.model_id AND a.version = v.version
WHERE m.workspace = ? AND m.name = ? AND a.alias = ?`), loopml.WorkspaceFromContext(ctx), name, alias))
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := db.lookupModel(ctx, tx, name); err != nil {
				return err
			}
			return aliasNotFound(name, alias)
		} else if err != nil {
			return err
		}
		v = rec.v
		return db.loadVersionDetails(ctx, tx, []regVersion{rec})
	})
	if err != nil {
		return nil, db.fail(err, "get model version by alias")
	}
	return v, nil
}

// CreateModelVersion implements loopml.ModelRegistry. v.Name and v.Source
// are required; Source is stored as given (runs:/, mlflow-artifacts:/,
// models:/ URIs or a plain path). v's Version, timestamps, UserID, stage
// and status are filled in.
func (db *DB) CreateModelVersion(ctx context.Context, v *loopml.ModelVersion) (err error) {
	defer db.op("CreateModelVersion", time.Now(), &err)
	switch {
	case v == nil:
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'model_version'")
	case v.Name == "":
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'name'")
	case v.Source == "":
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'source'")
	case v.SizeBytes < 0:
		return loopml.Errorf(loopml.EINVALID, "Invalid value %d for 'size_bytes': must not be negative", v.SizeBytes)
	}
	for _, t := range v.Tags {
		if err := validateTag(t); err != nil {
			return err
		}
	}
	who, t := loopml.PrincipalFromContext(ctx), db.nowMs()
	if who == "" {
		who = v.UserID
	}
	tags := lastTags(v.Tags)
	var num int64
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		id, err := db.lookupModel(ctx, tx, v.Name)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, db.q(`UPDATE registered_models SET next_version = next_version + 1, last_updated_timestamp = ?, updated_by = ?
WHERE model_id = ? RETURNING next_version - 1`), t, who, id).Scan(&num); err != nil {
			return err
		}
		var pk int64
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO model_versions
  (model_id, version, stage, source, run_id, run_link, status, status_message, description, signature, size_bytes, digest,
   creation_timestamp, last_updated_timestamp, created_by, updated_by)
VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING version_pk`),
			id, num, loopml.StageNone, v.Source, v.RunID, v.RunLink, loopml.VersionReady, v.Description, v.Signature, v.SizeBytes, v.Digest,
			t, t, who, who).Scan(&pk); err != nil {
			return err
		}
		for _, tag := range tags {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO model_version_tags (version_pk, key, value) VALUES (?, ?, ?)`), pk, tag.Key, tag.Value); err != nil {
				return err
			}
		}
		return db.appendEvent(ctx, tx, id, loopml.RegistryEvent{Time: t, Type: loopml.EventVersionCreated, Model: v.Name,
			Version: strconv.FormatInt(num, 10), ToStage: loopml.StageNone})
	})
	if err != nil {
		return db.fail(err, "create model version")
	}
	v.Version = strconv.FormatInt(num, 10)
	v.CreationTimestamp, v.LastUpdatedTimestamp = t, t
	v.UserID = who
	v.CurrentStage = loopml.StageNone
	v.Status, v.StatusMessage = loopml.VersionReady, ""
	v.Tags, v.Aliases = tags, nil
	return nil
}

// getVersion loads one version with tags and aliases in tx.
func (db *DB) getVersion(ctx context.Context, tx *sql.Tx, name, version string) (*loopml.ModelVersion, error) {
	num, err := parseVersion(version)
	if err != nil {
		return nil, err
	}
	rec, err := scanVersion(tx.QueryRowContext(ctx, db.q(`SELECT `+versionCols+versionFrom+` WHERE m.workspace = ? AND m.name = ? AND v.version = ?`),
		loopml.WorkspaceFromContext(ctx), name, num))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := db.lookupModel(ctx, tx, name); err != nil {
			return nil, err
		}
		return nil, versionNotFound(name, version)
	} else if err != nil {
		return nil, err
	}
	return rec.v, db.loadVersionDetails(ctx, tx, []regVersion{rec})
}

// GetModelVersion implements loopml.ModelRegistry. ENOTFOUND for an unknown
// model or version, EINVALID for a version that is not a positive integer.
func (db *DB) GetModelVersion(ctx context.Context, name, version string) (_ *loopml.ModelVersion, err error) {
	defer db.op("GetModelVersion", time.Now(), &err)
	var v *loopml.ModelVersion
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		v, err = db.getVersion(ctx, tx, name, version)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "get model version")
	}
	return v, nil
}

// UpdateModelVersion implements loopml.ModelRegistry: it sets the
// description.
func (db *DB) UpdateModelVersion(ctx context.Context, name, version, description string) (_ *loopml.ModelVersion, err error) {
	defer db.op("UpdateModelVersion", time.Now(), &err)
	var v *loopml.ModelVersion
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		_, pk, _, _, err := db.lookupVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE model_versions SET description = ?, last_updated_timestamp = ?, updated_by = ? WHERE version_pk = ?`),
			description, db.nowMs(), loopml.PrincipalFromContext(ctx), pk); err != nil {
			return err
		}
		v, err = db.getVersion(ctx, tx, name, version)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "update model version")
	}
	return v, nil
}

// DeleteModelVersion implements loopml.ModelRegistry. Each alias that
// pointed at the version is removed with an alias_deleted event whose Reason
// says so, then version_deleted is recorded. Version numbers are not reused.
func (db *DB) DeleteModelVersion(ctx context.Context, name, version string) (err error) {
	defer db.op("DeleteModelVersion", time.Now(), &err)
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		id, _, num, stage, err := db.lookupVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		t := db.nowMs()
		vs := strconv.FormatInt(num, 10)
		aliases, err := db.aliasesOf(ctx, tx, id, num)
		if err != nil {
			return err
		}
		for _, a := range aliases {
			if err := db.appendEvent(ctx, tx, id, loopml.RegistryEvent{Time: t, Type: loopml.EventAliasDeleted, Model: name,
				Alias: a.Alias, FromVersion: vs, Reason: fmt.Sprintf("deleted version %s held the alias", vs)}); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`DELETE FROM model_aliases WHERE model_id = ? AND version = ?`,
			`DELETE FROM model_version_tags WHERE version_pk IN (SELECT version_pk FROM model_versions WHERE model_id = ? AND version = ?)`,
			`DELETE FROM model_versions WHERE model_id = ? AND version = ?`,
		} {
			if _, err := tx.ExecContext(ctx, db.q(q), id, num); err != nil {
				return err
			}
		}
		if err := db.touchModel(ctx, tx, id, t); err != nil {
			return err
		}
		return db.appendEvent(ctx, tx, id, loopml.RegistryEvent{Time: t, Type: loopml.EventVersionDeleted, Model: name,
			Version: vs, FromStage: stage})
	})
	return db.fail(err, "delete model version")
}

// SearchModelVersions implements loopml.ModelRegistry. Only versions of
// models in the workspace of ctx are searched.
func (db *DB) SearchModelVersions(ctx context.Context, q loopml.ModelVersionSearch) (_ []*loopml.ModelVersion, _ string, err error) {
	defer db.op("SearchModelVersions", time.Now(), &err)
	max, err := checkMaxResults(q.MaxResults, loopml.DefaultSearchVersionsResults, loopml.MaxSearchVersionsResults)
	if err != nil {
		return nil, "", err
	}
	offset, err := decodeOffsetToken(q.PageToken)
	if err != nil {
		return nil, "", err
	}
	filter, err := loopml.ParseModelVersionFilter(q.Filter)
	if err != nil {
		return nil, "", err
	}
	var w sqlParts
	w.add("m.workspace = ?", loopml.WorkspaceFromContext(ctx))
	for _, c := range filter {
		cond, args, err := db.versionCond(c)
		if err != nil {
			return nil, "", err
		}
		w.add(cond, args...)
	}
	var order []string
	for _, s := range q.OrderBy {
		ob, err := loopml.ParseModelVersionOrderBy(s)
		if err != nil {
			return nil, "", err
		}
		col := ""
		switch ob.Key {
		case "name":
			col = "m.name"
		case "version_number":
			col = "v.version"
		case "creation_timestamp":
			col = "v.creation_timestamp"
		case "last_updated_timestamp":
			col = "v.last_updated_timestamp"
		default:
			return nil, "", loopml.Errorf(loopml.EINVALID, "Invalid order_by clause '%s': model versions can be ordered by name, version_number, creation_timestamp or last_updated_timestamp", s)
		}
		order = append(order, col+dir(ob.Ascending))
	}
	// Default and tie-break: name ASC, version_number DESC (a total order).
	order = append(order, "m.name ASC", "v.version DESC")
	query := `SELECT ` + versionCols + versionFrom + w.where() + ` ORDER BY ` + strings.Join(order, ", ") + ` LIMIT ? OFFSET ?`
	args := append(w.args, max+1, offset)
	var recs []regVersion
	var more bool
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		if recs, more, err = queryPage(ctx, tx, db.q(query), args, max, scanVersion); err != nil {
			return err
		}
		return db.loadVersionDetails(ctx, tx, recs)
	})
	if err != nil {
		return nil, "", db.fail(err, "search model versions")
	}
	next := ""
	if more {
		next = encodeOffsetToken(offset + max)
	}
	out := make([]*loopml.ModelVersion, len(recs))
	for i, r := range recs {
		out[i] = r.v
	}
	return out, next, nil
}

func (db *DB) versionCond(c loopml.Comparison) (string, []any, error) {
	switch c.Type {
	case loopml.SearchAttribute:
		switch c.Key {
		case "name":
			return db.strCond("m.name", c)
		case "run_id":
			return db.strCond("v.run_id", c)
		case "source_path":
			return db.strCond("v.source", c)
		case "version_number":
			return numCond("v.version", c, true)
		}
	case loopml.SearchTag:
		cond, args, err := db.strCond("t.value", c)
		if err != nil {
			return "", nil, err
		}
		return "EXISTS (SELECT 1 FROM model_version_tags t WHERE t.version_pk = v.version_pk AND t.key = ? AND " + cond + ")",
			append([]any{c.Key}, args...), nil
	}
	return "", nil, loopml.Errorf(loopml.EINVALID, "Invalid filter on %s '%s': model versions can be filtered by name, version_number, run_id, source_path and tags", c.Type, c.Key)
}

// SetModelVersionTag implements loopml.ModelRegistry.
func (db *DB) SetModelVersionTag(ctx context.Context, name, version string, tag loopml.Tag) (err error) {
	defer db.op("SetModelVersionTag", time.Now(), &err)
	if err := validateTag(tag); err != nil {
		return err
	}
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		_, pk, _, _, err := db.lookupVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO model_version_tags (version_pk, key, value) VALUES (?, ?, ?)
ON CONFLICT (version_pk, key) DO UPDATE SET value = excluded.value`), pk, tag.Key, tag.Value)
		return err
	})
	return db.fail(err, "set model version tag")
}

// DeleteModelVersionTag implements loopml.ModelRegistry. Deleting a tag
// that does not exist is not an error (as MLflow); an unknown version is.
func (db *DB) DeleteModelVersionTag(ctx context.Context, name, version, key string) (err error) {
	defer db.op("DeleteModelVersionTag", time.Now(), &err)
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		_, pk, _, _, err := db.lookupVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`DELETE FROM model_version_tags WHERE version_pk = ? AND key = ?`), pk, key)
		return err
	})
	return db.fail(err, "delete model version tag")
}

// TransitionModelVersionStage implements loopml.ModelRegistry. Each version
// that changes stage gets a stage_transition event; versions archived by
// archiveExisting carry a Reason naming the version that took their stage.
// archiveExisting is only valid for Staging and Production (EINVALID
// otherwise, as MLflow).
func (db *DB) TransitionModelVersionStage(ctx context.Context, name, version, stage string, archiveExisting bool) (_ *loopml.ModelVersion, err error) {
	defer db.op("TransitionModelVersionStage", time.Now(), &err)
	st, err := canonicalStage(stage)
	if err != nil {
		return nil, err
	}
	if archiveExisting && st != loopml.StageStaging && st != loopml.StageProduction {
		return nil, loopml.Errorf(loopml.EINVALID, "Model version transition cannot archive existing model versions because '%s' is not an Active stage. Valid stages are %s, %s",
			st, loopml.StageStaging, loopml.StageProduction)
	}
	var v *loopml.ModelVersion
	err = db.registryWrite(ctx, func(tx *sql.Tx) error {
		id, pk, num, from, err := db.lookupVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		t, who := db.nowMs(), loopml.PrincipalFromContext(ctx)
		vs := strconv.FormatInt(num, 10)
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE model_versions SET stage = ?, last_updated_timestamp = ?, updated_by = ? WHERE version_pk = ?`),
			st, t, who, pk); err != nil {
			return err
		}
		if err := db.appendEvent(ctx, tx, id, loopml.RegistryEvent{Time: t, Type: loopml.EventStageTransition, Model: name,
			Version: vs, FromStage: from, ToStage: st}); err != nil {
			return err
		}
		if archiveExisting {
			rows, err := tx.QueryContext(ctx, db.q(`SELECT version FROM model_versions WHERE model_id = ? AND stage = ? AND version <> ? ORDER BY version`), id, st, num)
			if err != nil {
				return err
			}
			var others []int64
			for rows.Next() {
				var n int64
				if err := rows.Scan(&n); err != nil {
					rows.Close()
					return err
				}
				others = append(others, n)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, n := range others {
				if _, err := tx.ExecContext(ctx, db.q(`UPDATE model_versions SET stage = ?, last_updated_timestamp = ?, updated_by = ? WHERE model_id = ? AND version = ?`),
					loopml.StageArchived, t, who, id, n); err != nil {
					return err
				}
				if err := db.appendEvent(ctx, tx, id, loopml.RegistryEvent{Time: t, Type: loopml.EventStageTransition, Model: name,
					Version: strconv.FormatInt(n, 10), FromStage: st, ToStage: loopml.StageArchived,
					Reason: fmt.Sprintf("archived because version %s moved to %s with archive_existing_versions", vs, st)}); err != nil {
					return err
				}
			}
		}
		if err := db.touchModel(ctx, tx, id, t); err != nil {
			return err
		}
		v, err = db.getVersion(ctx, tx, name, version)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "transition model version stage")
	}
	return v, nil
}

// RegistryEvents implements loopml.ModelRegistry. Only events of the
// workspace of ctx are returned. With q.Model set, the events of the model
// of that name are returned (including those recorded before a rename,
// reported under the current name); when no model has that name, the events
// recorded under it (e.g. of a deleted model) are returned, and ENOTFOUND
// when there are none. MaxResults is at most 100000.
func (db *DB) RegistryEvents(ctx context.Context, q loopml.RegistryEventQuery) (_ []loopml.RegistryEvent, err error) {
	defer db.op("RegistryEvents", time.Now(), &err)
	max, err := checkMaxResults(q.MaxResults, 1000, 100000)
	if err != nil {
		return nil, err
	}
	if q.AfterID < 0 || q.Until < 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid registry event query: 'after_id' and 'until' must not be negative")
	}
	var out []loopml.RegistryEvent
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var w sqlParts
		w.add("e.workspace = ?", loopml.WorkspaceFromContext(ctx))
		if q.Model != "" {
			id, err := db.lookupModel(ctx, tx, q.Model)
			switch {
			case err == nil:
				w.add("e.model_id = ?", id)
			case loopml.ErrorCode(err) == loopml.ENOTFOUND:
				// No such model now: the events recorded under that name
				// by models that no longer exist.
				var one int
				err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM registry_events e LEFT JOIN registered_models m ON m.model_id = e.model_id
WHERE e.workspace = ? AND e.model_name = ? AND m.model_id IS NULL LIMIT 1`), loopml.WorkspaceFromContext(ctx), q.Model).Scan(&one)
				if errors.Is(err, sql.ErrNoRows) {
					return modelNotFound(q.Model)
				} else if err != nil {
					return err
				}
				w.add("e.model_name = ? AND m.model_id IS NULL", q.Model)
			default:
				return err
			}
		}
		if q.Alias != "" {
			w.add("e.alias = ?", q.Alias)
		}
		if q.AfterID > 0 {
			w.add("e.event_id > ?", q.AfterID)
		}
		if q.Until > 0 {
			w.add("e.event_time <= ?", q.Until)
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT e.event_id, e.event_time, e.workspace, e.principal, e.type, COALESCE(m.name, e.model_name),
  e.version, e.alias, e.from_version, e.to_version, e.from_stage, e.to_stage, e.reason, e.endpoint, e.detail
FROM registry_events e LEFT JOIN registered_models m ON m.model_id = e.model_id`+w.where()+` ORDER BY e.event_id LIMIT ?`), append(w.args, max)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e loopml.RegistryEvent
			if err := rows.Scan(&e.ID, &e.Time, &e.Workspace, &e.Principal, &e.Type, &e.Model,
				&e.Version, &e.Alias, &e.FromVersion, &e.ToVersion, &e.FromStage, &e.ToStage, &e.Reason, &e.Endpoint, &e.Detail); err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.fail(err, "list registry events")
	}
	return out, nil
}
