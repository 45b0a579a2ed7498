package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loopml/loopml"
)

const experimentCols = `e.experiment_id, e.workspace, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time`

func scanExperiment(sc interface{ Scan(...any) error }) (*loopml.Experiment, error) {
	var e loopml.Experiment
	var id int64
	if err := sc.Scan(&id, &e.Workspace, &e.Name, &e.ArtifactLocation, &e.LifecycleStage, &e.CreationTime, &e.LastUpdateTime); err != nil {
		return nil, err
	}
	e.ID = formatExperimentID(id)
	return &e, nil
}

func validateExperimentName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return loopml.Errorf(loopml.EINVALID, "Invalid experiment name: '%s'. The experiment 'name' must be a non-empty string", name)
	case !utf8.ValidString(name):
		return loopml.Errorf(loopml.EINVALID, "Invalid experiment name %q: 'name' is not valid UTF-8", name)
	case utf8.RuneCountInString(name) > loopml.MaxExperimentNameLen:
		return loopml.Errorf(loopml.EINVALID, "Experiment 'name' exceeds the maximum length of %d characters", loopml.MaxExperimentNameLen)
	}
	return nil
}

func validateTag(t loopml.Tag) error {
	if err := loopml.ValidateKey("tag", t.Key); err != nil {
		return err
	}
	return loopml.ValidateValue("tag", t.Key, t.Value, loopml.MaxTagValueLength)
}

// CreateExperiment implements loopml.ExperimentService.
func (db *DB) CreateExperiment(ctx context.Context, e *loopml.Experiment) (err error) {
	defer db.op("CreateExperiment", time.Now(), &err)
	if e == nil {
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'experiment'")
	}
	if err := validateExperimentName(e.Name); err != nil {
		return err
	}
	for _, t := range e.Tags {
		if err := validateTag(t); err != nil {
			return err
		}
	}
	ws, who, t := loopml.WorkspaceFromContext(ctx), loopml.PrincipalFromContext(ctx), now()
	var id int64
	loc := e.ArtifactLocation
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, db.q(`INSERT INTO experiments
  (workspace, name, artifact_location, lifecycle_stage, creation_time, last_update_time, created_by, updated_by)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING experiment_id`),
			ws, e.Name, e.ArtifactLocation, loopml.LifecycleActive, t, t, who, who).Scan(&id)
		if err != nil {
			if db.dialect.classify(err) == loopml.ECONFLICT {
				return loopml.Errorf(loopml.ECONFLICT, "Experiment(name=%s) already exists. Error: experiment 'name' must be unique", e.Name)
			}
			return err
		}
		if loc == "" {
			loc = "mlflow-artifacts:/" + formatExperimentID(id)
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?`), loc, id); err != nil {
				return err
			}
		}
		for _, tag := range lastTags(e.Tags) {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)`), id, tag.Key, tag.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return db.fail(err, "create experiment")
	}
	e.ID = formatExperimentID(id)
	e.Workspace = ws
	e.ArtifactLocation = loc
	e.LifecycleStage = loopml.LifecycleActive
	e.CreationTime, e.LastUpdateTime = t, t
	return nil
}

// lastTags removes duplicate keys, keeping the last value of each (as
// repeated set-tag calls would), in first-seen key order.
func lastTags(tags []loopml.Tag) []loopml.Tag {
	if len(tags) < 2 {
		return tags
	}
	idx := make(map[string]int, len(tags))
	out := make([]loopml.Tag, 0, len(tags))
	for _, t := range tags {
		if i, ok := idx[t.Key]; ok {
			out[i].Value = t.Value
			continue
		}
		idx[t.Key] = len(out)
		out = append(out, t)
	}
	return out
}

// GetExperiment implements loopml.ExperimentService.
func (db *DB) GetExperiment(ctx context.Context, id string) (_ *loopml.Experiment, err error) {
	defer db.op("GetExperiment", time.Now(), &err)
	n, ok := parseExperimentID(id)
	if !ok {
		return nil, loopml.Errorf(loopml.ENOTFOUND, "No Experiment with id=%s exists", id)
	}
	var e *loopml.Experiment
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = scanExperiment(tx.QueryRowContext(ctx, db.q(`SELECT `+experimentCols+` FROM experiments e WHERE e.experiment_id = ?`), n))
		if errors.Is(err, sql.ErrNoRows) {
			return loopml.Errorf(loopml.ENOTFOUND, "No Experiment with id=%s exists", id)
		} else if err != nil {
			return err
		}
		return db.loadExperimentTags(ctx, tx, []*loopml.Experiment{e})
	})
	if err != nil {
		return nil, db.fail(err, "get experiment")
	}
	return e, nil
}

// GetExperimentByName implements loopml.ExperimentService. The name is
// looked up in the workspace of ctx.
func (db *DB) GetExperimentByName(ctx context.Context, name string) (_ *loopml.Experiment, err error) {
	defer db.op("GetExperimentByName", time.Now(), &err)
	var e *loopml.Experiment
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = scanExperiment(tx.QueryRowContext(ctx, db.q(`SELECT `+experimentCols+` FROM experiments e WHERE e.workspace = ? AND e.name = ?`),
			loopml.WorkspaceFromContext(ctx), name))
		if errors.Is(err, sql.ErrNoRows) {
			return loopml.Errorf(loopml.ENOTFOUND, "Could not find experiment with name '%s'", name)
		} else if err != nil {
			return err
		}
		return db.loadExperimentTags(ctx, tx, []*loopml.Experiment{e})
	})
	if err != nil {
		return nil, db.fail(err, "get experiment by name")
	}
	return e, nil
}

func (db *DB) loadExperimentTags(ctx context.Context, tx *sql.Tx, exps []*loopml.Experiment) error {
	if len(exps) == 0 {
		return nil
	}
	byID := make(map[string]*loopml.Experiment, len(exps))
	args := make([]any, 0, len(exps))
	for _, e := range exps {
		byID[e.ID] = e
		n, _ := parseExperimentID(e.ID)
		args = append(args, n)
	}
	rows, err := tx.QueryContext(ctx, db.q(`SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN (`+placeholders(len(args))+`) ORDER BY experiment_id, key`), args...)
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
		if e := byID[formatExperimentID(id)]; e != nil {
			e.Tags = append(e.Tags, t)
		}
	}
	return rows.Err()
}

// SearchExperiments implements loopml.ExperimentService. Only experiments
// of the workspace of ctx are searched.
func (db *DB) SearchExperiments(ctx context.Context, q loopml.ExperimentSearch) (_ []*loopml.Experiment, _ string, err error) {
	defer db.op("SearchExperiments", time.Now(), &err)
	max, err := checkMaxResults(q.MaxResults, loopml.DefaultSearchExperimentsResults, loopml.MaxSearchExperimentsResults)
	if err != nil {
		return nil, "", err
	}
	offset, err := decodeOffsetToken(q.PageToken)
	if err != nil {
		return nil, "", err
	}
	filter, err := loopml.ParseExperimentFilter(q.Filter)
	if err != nil {
		return nil, "", err
	}
	var w sqlParts
	w.add("e.workspace = ?", loopml.WorkspaceFromContext(ctx))
	cond, args, err := viewCond("e.lifecycle_stage", q.ViewType)
	if err != nil {
		return nil, "", err
	}
	w.add(cond, args...)
	for _, c := range filter {
		cond, args, err := db.experimentCond(c)
		if err != nil {
			return nil, "", err
		}
		w.add(cond, args...)
	}
	var order []string
	for _, s := range q.OrderBy {
		ob, err := loopml.ParseExperimentOrderBy(s)
		if err != nil {
			return nil, "", err
		}
		var col string
		switch {
		case ob.Type == loopml.SearchAttribute && ob.Key == "name":
			col = "e.name"
		case ob.Type == loopml.SearchAttribute && ob.Key == "creation_time":
			col = "e.creation_time"
		case ob.Type == loopml.SearchAttribute && ob.Key == "last_update_time":
			col = "e.last_update_time"
		case ob.Type == loopml.SearchAttribute && (ob.Key == "experiment_id" || ob.Key == "id"):
			col = "e.experiment_id"
		default:
			return nil, "", loopml.Errorf(loopml.EINVALID, "Invalid order_by clause '%s': experiments can be ordered by name, creation_time, last_update_time or experiment_id", s)
		}
		order = append(order, orderTerm(col, ob.Ascending))
	}
	if len(order) == 0 {
		order = append(order, "e.creation_time DESC")
	}
	order = append(order, "e.experiment_id ASC")
	query := `SELECT ` + experimentCols + ` FROM experiments e` + w.where() + ` ORDER BY ` + strings.Join(order, ", ") + ` LIMIT ? OFFSET ?`
	args = append(w.args, max+1, offset)
	var exps []*loopml.Experiment
	var more bool
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		if exps, more, err = queryPage(ctx, tx, db.q(query), args, max, scanExperiment); err != nil {
			return err
		}
		return db.loadExperimentTags(ctx, tx, exps)
	})
	if err != nil {
		return nil, "", db.fail(err, "search experiments")
	}
	next := ""
	if more {
		next = encodeOffsetToken(offset + max)
	}
	return exps, next, nil
}

func (db *DB) experimentCond(c loopml.Comparison) (string, []any, error) {
	switch c.Type {
	case loopml.SearchAttribute:
		switch c.Key {
		case "name":
			return db.strCond("e.name", c)
		case "creation_time":
			return numCond("e.creation_time", c, true)
		case "last_update_time":
			return numCond("e.last_update_time", c, true)
		}
	case loopml.SearchTag:
		cond, args, err := db.strCond("t.value", c)
		if err != nil {
			return "", nil, err
		}
		return "EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = ? AND " + cond + ")",
			append([]any{c.Key}, args...), nil
	}
	return "", nil, loopml.Errorf(loopml.EINVALID, "Invalid filter on %s '%s': experiments can be filtered by name, creation_time, last_update_time and tags", c.Type, c.Key)
}

// updateExperiment runs fn on an existing experiment inside a write
// transaction and bumps its last_update_time.
func (db *DB) updateExperiment(ctx context.Context, id string, fn func(tx *sql.Tx, n int64, lifecycle string) error) error {
	n, ok := parseExperimentID(id)
	if !ok {
		return loopml.Errorf(loopml.ENOTFOUND, "No Experiment with id=%s exists", id)
	}
	who := loopml.PrincipalFromContext(ctx)
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		var lifecycle string
		err := tx.QueryRowContext(ctx, db.q(`SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?`), n).Scan(&lifecycle)
		if errors.Is(err, sql.ErrNoRows) {
			return loopml.Errorf(loopml.ENOTFOUND, "No Experiment with id=%s exists", id)
		} else if err != nil {
			return err
		}
		if err := fn(tx, n, lifecycle); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE experiments SET last_update_time = ?, updated_by = ? WHERE experiment_id = ?`), now(), who, n)
		return err
	})
}

// RenameExperiment implements loopml.ExperimentService.
func (db *DB) RenameExperiment(ctx context.Context, id, newName string) (err error) {
	defer db.op("RenameExperiment", time.Now(), &err)
	if err := validateExperimentName(newName); err != nil {
		return err
	}
	err = db.updateExperiment(ctx, id, func(tx *sql.Tx, n int64, lifecycle string) error {
		if lifecycle != loopml.LifecycleActive {
			return loopml.Errorf(loopml.EINVALID, "Cannot rename a non-active experiment %s", id)
		}
		_, err := tx.ExecContext(ctx, db.q(`UPDATE experiments SET name = ? WHERE experiment_id = ?`), newName, n)
		if err != nil && db.dialect.classify(err) == loopml.ECONFLICT {
			return loopml.Errorf(loopml.ECONFLICT, "Experiment(name=%s) already exists. Error: experiment 'name' must be unique", newName)
		}
		return err
	})
	return db.fail(err, "rename experiment")
}

// DeleteExperiment implements loopml.ExperimentService. The experiment's
// runs are marked deleted too.
func (db *DB) DeleteExperiment(ctx context.Context, id string) (err error) {
	defer db.op("DeleteExperiment", time.Now(), &err)
	if id == loopml.DefaultExperimentID {
		return loopml.Errorf(loopml.EINVALID, "Cannot delete the default experiment '%s'. This is an internally reserved experiment", id)
	}
	err = db.setExperimentLifecycle(ctx, id, loopml.LifecycleDeleted)
	return db.fail(err, "delete experiment")
}

// RestoreExperiment implements loopml.ExperimentService. The experiment's
// runs are restored too.
func (db *DB) RestoreExperiment(ctx context.Context, id string) (err error) {
	defer db.op("RestoreExperiment", time.Now(), &err)
	err = db.setExperimentLifecycle(ctx, id, loopml.LifecycleActive)
	return db.fail(err, "restore experiment")
}

func (db *DB) setExperimentLifecycle(ctx context.Context, id, stage string) error {
	who := loopml.PrincipalFromContext(ctx)
	return db.updateExperiment(ctx, id, func(tx *sql.Tx, n int64, lifecycle string) error {
		if lifecycle == stage {
			if stage == loopml.LifecycleDeleted {
				return loopml.Errorf(loopml.EINVALID, "Cannot delete an already deleted experiment: %s", id)
			}
			return loopml.Errorf(loopml.EINVALID, "Cannot restore an active experiment: %s", id)
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE experiments SET lifecycle_stage = ? WHERE experiment_id = ?`), stage, n); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`UPDATE runs SET lifecycle_stage = ?, updated_by = ? WHERE experiment_id = ? AND lifecycle_stage <> ?`), stage, who, n, stage)
		return err
	})
}

// SetExperimentTag implements loopml.ExperimentService.
func (db *DB) SetExperimentTag(ctx context.Context, id string, tag loopml.Tag) (err error) {
	defer db.op("SetExperimentTag", time.Now(), &err)
	if err := validateTag(tag); err != nil {
		return err
	}
	err = db.updateExperiment(ctx, id, func(tx *sql.Tx, n int64, lifecycle string) error {
		if lifecycle != loopml.LifecycleActive {
			return loopml.Errorf(loopml.EINVALID, "The experiment %s must be in the 'active' state. Current state is %s", id, lifecycle)
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)
ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value`), n, tag.Key, tag.Value)
		return err
	})
	return db.fail(err, "set experiment tag")
}

// sortTags orders tags by key.
func sortTags(tags []loopml.Tag) {
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
}
