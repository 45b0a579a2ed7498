package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// runRec is a run with its surrogate key.
type runRec struct {
	pk int64
	r  *loopml.Run
}

const runCols = `r.run_pk, r.run_id, r.experiment_id, r.name, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage`

func scanRun(sc interface{ Scan(...any) error }) (runRec, error) {
	var (
		rec    runRec
		r      loopml.Run
		expID  int64
		endPtr sql.NullInt64
	)
	if err := sc.Scan(&rec.pk, &r.ID, &expID, &r.Name, &r.UserID, &r.Status, &r.StartTime, &endPtr, &r.ArtifactURI, &r.LifecycleStage); err != nil {
		return rec, err
	}
	r.ExperimentID = formatExperimentID(expID)
	r.EndTime = endPtr.Int64
	rec.r = &r
	return rec, nil
}

func runNotFound(id string) error {
	return loopml.Errorf(loopml.ENOTFOUND, "Run with id=%s not found", id)
}

// CreateRun implements loopml.RunService.
func (db *DB) CreateRun(ctx context.Context, r *loopml.Run) (err error) {
	defer db.op("CreateRun", time.Now(), &err)
	if r == nil {
		return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'run'")
	}
	expID, ok := parseExperimentID(r.ExperimentID)
	if !ok {
		return loopml.Errorf(loopml.ENOTFOUND, "No Experiment with id=%s exists", r.ExperimentID)
	}
	for _, t := range r.Tags {
		if err := validateTag(t); err != nil {
			return err
		}
	}
	tags := lastTags(append([]loopml.Tag(nil), r.Tags...))
	name, user := r.Name, r.UserID
	tagIdx := func(key string) int {
		for i, t := range tags {
			if t.Key == key {
				return i
			}
		}
		return -1
	}
	if i := tagIdx(loopml.TagRunName); i >= 0 {
		switch {
		case name == "":
			name = tags[i].Value
		case name != tags[i].Value:
			return loopml.Errorf(loopml.EINVALID, "Both 'run_name' argument and '%s' tag are specified, but with different values (run_name='%s', %s='%s')", loopml.TagRunName, name, loopml.TagRunName, tags[i].Value)
		}
	}
	if name == "" {
		name = generateRunName()
	}
	if i := tagIdx(loopml.TagRunName); i >= 0 {
		tags[i].Value = name
	} else {
		tags = append(tags, loopml.Tag{Key: loopml.TagRunName, Value: name})
	}
	if i := tagIdx(loopml.TagUser); i >= 0 && user == "" {
		user = tags[i].Value
	} else if i < 0 && user != "" {
		tags = append(tags, loopml.Tag{Key: loopml.TagUser, Value: user})
	}
	if err := loopml.ValidateValue("tag", loopml.TagRunName, name, loopml.MaxTagValueLength); err != nil {
		return err
	}
	id, who := newRunID(), loopml.PrincipalFromContext(ctx)
	var uri string
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		var lifecycle, loc string
		err := tx.QueryRowContext(ctx, db.q(`SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = ?`), expID).Scan(&lifecycle, &loc)
		if errors.Is(err, sql.ErrNoRows) {
			return loopml.Errorf(loopml.ENOTFOUND, "No Experiment with id=%s exists", r.ExperimentID)
		} else if err != nil {
			return err
		}
		if lifecycle != loopml.LifecycleActive {
			return loopml.Errorf(loopml.EINVALID, "The experiment %s must be in the 'active' state. Current state is %s", r.ExperimentID, lifecycle)
		}
		uri = strings.TrimSuffix(loc, "/") + "/" + id + "/artifacts"
		var pk int64
		err = tx.QueryRowContext(ctx, db.q(`INSERT INTO runs
  (run_id, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage, created_by, updated_by)
VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?) RETURNING run_pk`),
			id, expID, name, user, loopml.RunRunning, r.StartTime, uri, loopml.LifecycleActive, who, who).Scan(&pk)
		if err != nil {
			return err
		}
		return db.upsertRunTags(ctx, tx, pk, tags)
	})
	if err != nil {
		return db.fail(err, "create run")
	}
	sortTags(tags)
	r.ID, r.Name, r.UserID = id, name, user
	r.Status = loopml.RunRunning
	r.EndTime = 0
	r.LifecycleStage = loopml.LifecycleActive
	r.ArtifactURI = uri
	r.Tags = tags
	return nil
}

// upsertRunTags writes tags (keys must be unique) in one statement.
func (db *DB) upsertRunTags(ctx context.Context, tx *sql.Tx, pk int64, tags []loopml.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(tags))
	for _, t := range tags {
		args = append(args, pk, t.Key, t.Value)
	}
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO run_tags (run_pk, key, value) VALUES `+
		strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(tags)), ", ")+`
ON CONFLICT (run_pk, key) DO UPDATE SET value = excluded.value`), args...)
	return err
}

// lookupRun returns the surrogate key, lifecycle stage and experiment of a
// run inside tx.
func (db *DB) lookupRun(ctx context.Context, tx *sql.Tx, id string) (pk int64, lifecycle string, expID int64, err error) {
	err = tx.QueryRowContext(ctx, db.q(`SELECT run_pk, lifecycle_stage, experiment_id FROM runs WHERE run_id = ?`), id).Scan(&pk, &lifecycle, &expID)
	if errors.Is(err, sql.ErrNoRows) {
		err = runNotFound(id)
	}
	return pk, lifecycle, expID, err
}

// lookupActiveRun is lookupRun that also requires the run to be active.
func (db *DB) lookupActiveRun(ctx context.Context, tx *sql.Tx, id string) (int64, int64, error) {
	pk, lifecycle, expID, err := db.lookupRun(ctx, tx, id)
	if err != nil {
		return 0, 0, err
	}
	if lifecycle != loopml.LifecycleActive {
		return 0, 0, loopml.Errorf(loopml.EINVALID, "The run %s must be in the 'active' state. Current state is %s.", id, lifecycle)
	}
	return pk, expID, nil
}

// GetRun implements loopml.RunService.
func (db *DB) GetRun(ctx context.Context, id string) (_ *loopml.Run, err error) {
	defer db.op("GetRun", time.Now(), &err)
	var r *loopml.Run
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = db.getRun(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "get run")
	}
	return r, nil
}

func (db *DB) getRun(ctx context.Context, tx *sql.Tx, id string) (*loopml.Run, error) {
	rec, err := scanRun(tx.QueryRowContext(ctx, db.q(`SELECT `+runCols+` FROM runs r WHERE r.run_id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, runNotFound(id)
	} else if err != nil {
		return nil, err
	}
	if err := db.loadRunData(ctx, tx, []runRec{rec}); err != nil {
		return nil, err
	}
	return rec.r, nil
}

// loadRunData fills in the params, tags, latest metrics and inputs of runs.
func (db *DB) loadRunData(ctx context.Context, tx *sql.Tx, runs []runRec) error {
	const chunk = 500
	for len(runs) > 0 {
		n := min(chunk, len(runs))
		if err := db.loadRunDataChunk(ctx, tx, runs[:n]); err != nil {
			return err
		}
		runs = runs[n:]
	}
	return nil
}

func (db *DB) loadRunDataChunk(ctx context.Context, tx *sql.Tx, runs []runRec) error {
	byPK := make(map[int64]*loopml.Run, len(runs))
	args := make([]any, len(runs))
	for i, rec := range runs {
		byPK[rec.pk] = rec.r
		args[i] = rec.pk
	}
	in := "(" + placeholders(len(runs)) + ")"
	query := func(q string, scan func(rows *sql.Rows) error) error {
		rows, err := tx.QueryContext(ctx, db.q(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	var pk int64
	err := query(`SELECT run_pk, key, value FROM params WHERE run_pk IN `+in+` ORDER BY run_pk, key`, func(rows *sql.Rows) error {
		var p loopml.Param
		if err := rows.Scan(&pk, &p.Key, &p.Value); err != nil {
			return err
		}
		byPK[pk].Params = append(byPK[pk].Params, p)
		return nil
	})
	if err != nil {
		return err
	}
	err = query(`SELECT run_pk, key, value FROM run_tags WHERE run_pk IN `+in+` ORDER BY run_pk, key`, func(rows *sql.Rows) error {
		var t loopml.Tag
		if err := rows.Scan(&pk, &t.Key, &t.Value); err != nil {
			return err
		}
		byPK[pk].Tags = append(byPK[pk].Tags, t)
		return nil
	})
	if err != nil {
		return err
	}
	err = query(`SELECT lm.run_pk, k.key, lm.value, lm.ts, lm.step FROM latest_metrics lm JOIN metric_keys k ON k.key_id = lm.key_id
WHERE lm.run_pk IN `+in+` ORDER BY lm.run_pk, k.key`, func(rows *sql.Rows) error {
		var m loopml.Metric
		var v sql.NullFloat64
		if err := rows.Scan(&pk, &m.Key, &v, &m.Timestamp, &m.Step); err != nil {
			return err
		}
		m.Value = floatOrNaN(v)
		byPK[pk].Metrics = append(byPK[pk].Metrics, m)
		return nil
	})
	if err != nil {
		return err
	}
	type inputRef struct {
		r *loopml.Run
		i int
	}
	inputs := make(map[int64]inputRef)
	var inputPK int64
	err = query(`SELECT i.run_pk, i.input_pk, d.name, d.digest, d.source_type, d.source, d.schema, d.profile
FROM inputs i JOIN datasets d ON d.dataset_pk = i.dataset_pk WHERE i.run_pk IN `+in+` ORDER BY i.run_pk, i.input_pk`, func(rows *sql.Rows) error {
		var in loopml.DatasetInput
		ds := &in.Dataset
		if err := rows.Scan(&pk, &inputPK, &ds.Name, &ds.Digest, &ds.SourceType, &ds.Source, &ds.Schema, &ds.Profile); err != nil {
			return err
		}
		r := byPK[pk]
		r.Inputs = append(r.Inputs, in)
		inputs[inputPK] = inputRef{r, len(r.Inputs) - 1}
		return nil
	})
	if err != nil || len(inputs) == 0 {
		return err
	}
	return query(`SELECT it.input_pk, it.key, it.value FROM input_tags it JOIN inputs i ON i.input_pk = it.input_pk
WHERE i.run_pk IN `+in+` ORDER BY it.input_pk, it.key`, func(rows *sql.Rows) error {
		var t loopml.Tag
		if err := rows.Scan(&inputPK, &t.Key, &t.Value); err != nil {
			return err
		}
		if ref, ok := inputs[inputPK]; ok {
			in := &ref.r.Inputs[ref.i]
			in.Tags = append(in.Tags, t)
		}
		return nil
	})
}

func floatOrNaN(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}

// UpdateRun implements loopml.RunService.
func (db *DB) UpdateRun(ctx context.Context, id string, u loopml.RunUpdate) (_ *loopml.Run, err error) {
	defer db.op("UpdateRun", time.Now(), &err)
	if u.Status != nil && !loopml.IsValidRunStatus(*u.Status) {
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid value '%s' for parameter 'status': want RUNNING, SCHEDULED, FINISHED, FAILED or KILLED", *u.Status)
	}
	if u.Name != nil {
		if err := loopml.ValidateValue("tag", loopml.TagRunName, *u.Name, loopml.MaxTagValueLength); err != nil {
			return nil, err
		}
	}
	who := loopml.PrincipalFromContext(ctx)
	var r *loopml.Run
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		pk, _, err := db.lookupActiveRun(ctx, tx, id)
		if err != nil {
			return err
		}
		sets, args := []string{"updated_by = ?"}, []any{who}
		if u.Status != nil {
			sets, args = append(sets, "status = ?"), append(args, *u.Status)
		}
		if u.EndTime != nil {
			sets, args = append(sets, "end_time = ?"), append(args, *u.EndTime)
		}
		if u.Name != nil && *u.Name != "" {
			sets, args = append(sets, "name = ?"), append(args, *u.Name)
			if err := db.upsertRunTags(ctx, tx, pk, []loopml.Tag{{Key: loopml.TagRunName, Value: *u.Name}}); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE runs SET `+strings.Join(sets, ", ")+` WHERE run_pk = ?`), append(args, pk)...); err != nil {
			return err
		}
		r, err = db.getRun(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "update run")
	}
	return r, nil
}

// DeleteRun implements loopml.RunService.
func (db *DB) DeleteRun(ctx context.Context, id string) (err error) {
	defer db.op("DeleteRun", time.Now(), &err)
	return db.fail(db.setRunLifecycle(ctx, id, loopml.LifecycleDeleted), "delete run")
}

// RestoreRun implements loopml.RunService.
func (db *DB) RestoreRun(ctx context.Context, id string) (err error) {
	defer db.op("RestoreRun", time.Now(), &err)
	return db.fail(db.setRunLifecycle(ctx, id, loopml.LifecycleActive), "restore run")
}

func (db *DB) setRunLifecycle(ctx context.Context, id, stage string) error {
	who := loopml.PrincipalFromContext(ctx)
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE runs SET lifecycle_stage = ?, updated_by = ? WHERE run_id = ?`), stage, who, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return runNotFound(id)
		}
		return nil
	})
}

// DeleteTag implements loopml.RunService.
func (db *DB) DeleteTag(ctx context.Context, runID, key string) (err error) {
	defer db.op("DeleteTag", time.Now(), &err)
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		pk, _, err := db.lookupActiveRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM run_tags WHERE run_pk = ? AND key = ?`), pk, key)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return loopml.Errorf(loopml.ENOTFOUND, "No tag with name: %s in run with id %s", key, runID)
		}
		return nil
	})
	return db.fail(err, "delete tag")
}

// LogInputs implements loopml.RunService. Datasets are shared by the runs of
// an experiment: one row per (experiment, name, digest).
func (db *DB) LogInputs(ctx context.Context, runID string, inputs []loopml.DatasetInput) (err error) {
	defer db.op("LogInputs", time.Now(), &err)
	if len(inputs) > loopml.MaxDatasetInputsPerLog {
		return loopml.Errorf(loopml.EINVALID, "A log-inputs request can contain at most %d dataset inputs. Got %d", loopml.MaxDatasetInputsPerLog, len(inputs))
	}
	for i, in := range inputs {
		if in.Dataset.Name == "" {
			return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'datasets[%d].dataset.name'", i)
		}
		if in.Dataset.Digest == "" {
			return loopml.Errorf(loopml.EINVALID, "Missing value for required parameter 'datasets[%d].dataset.digest'", i)
		}
		for _, t := range in.Tags {
			if err := validateTag(t); err != nil {
				return err
			}
		}
	}
	who := loopml.PrincipalFromContext(ctx)
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		pk, expID, err := db.lookupActiveRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		for _, in := range inputs {
			ds := in.Dataset
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile, created_by)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (experiment_id, name, digest) DO NOTHING`),
				expID, ds.Name, ds.Digest, ds.SourceType, ds.Source, ds.Schema, ds.Profile, who); err != nil {
				return err
			}
			var dsPK, inputPK int64
			if err := tx.QueryRowContext(ctx, db.q(`SELECT dataset_pk FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?`), expID, ds.Name, ds.Digest).Scan(&dsPK); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO inputs (run_pk, dataset_pk) VALUES (?, ?) ON CONFLICT (run_pk, dataset_pk) DO NOTHING`), pk, dsPK); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, db.q(`SELECT input_pk FROM inputs WHERE run_pk = ? AND dataset_pk = ?`), pk, dsPK).Scan(&inputPK); err != nil {
				return err
			}
			for _, t := range lastTags(in.Tags) {
				if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO input_tags (input_pk, key, value) VALUES (?, ?, ?)
ON CONFLICT (input_pk, key) DO UPDATE SET value = excluded.value`), inputPK, t.Key, t.Value); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return db.fail(err, "log inputs")
}

// SearchRuns implements loopml.RunService. Only experiments of the
// workspace of ctx are searched.
func (db *DB) SearchRuns(ctx context.Context, q loopml.RunSearch) (_ []*loopml.Run, _ string, err error) {
	defer db.op("SearchRuns", time.Now(), &err)
	max, err := checkMaxResults(q.MaxResults, loopml.DefaultSearchRunsResults, loopml.MaxSearchRunsResults)
	if err != nil {
		return nil, "", err
	}
	offset, err := decodeOffsetToken(q.PageToken)
	if err != nil {
		return nil, "", err
	}
	filter, err := loopml.ParseRunFilter(q.Filter)
	if err != nil {
		return nil, "", err
	}
	orders := make([]loopml.OrderBy, 0, len(q.OrderBy))
	for _, s := range q.OrderBy {
		ob, err := loopml.ParseRunOrderBy(s)
		if err != nil {
			return nil, "", err
		}
		orders = append(orders, ob)
	}
	expIDs := make([]any, 0, len(q.ExperimentIDs)+1)
	expIDs = append(expIDs, loopml.WorkspaceFromContext(ctx))
	for _, id := range q.ExperimentIDs {
		n, ok := parseExperimentID(id)
		if !ok {
			return nil, "", loopml.Errorf(loopml.EINVALID, "Invalid experiment id '%s' in 'experiment_ids': must be a decimal integer", id)
		}
		expIDs = append(expIDs, n)
	}
	if len(expIDs) == 1 {
		return nil, "", nil
	}

	// Metric keys are resolved to their interned ids first, so that the
	// query joins latest_metrics on constants (and can drive a filter from
	// the (key_id, value) index).
	var metricKeys []string
	for _, c := range filter {
		if c.Type == loopml.SearchMetric {
			metricKeys = append(metricKeys, c.Key)
		}
	}
	for _, ob := range orders {
		if ob.Type == loopml.SearchMetric {
			metricKeys = append(metricKeys, ob.Key)
		}
	}
	keyIDs, err := db.metricKeyIDs(ctx, metricKeys)
	if err != nil {
		return nil, "", db.fail(err, "search runs")
	}

	var joins []string
	var joinArgs []any
	var order []string
	for i, c := range filter {
		if c.Type != loopml.SearchMetric {
			continue
		}
		alias := "f" + strconv.Itoa(i)
		cond, args, err := numCond(alias+".value", c, false)
		if err != nil {
			return nil, "", err
		}
		id, ok := keyIDs[c.Key]
		if !ok {
			return nil, "", nil // no run has this metric
		}
		joins = append(joins, "JOIN latest_metrics "+alias+" ON "+alias+".run_pk = r.run_pk AND "+alias+".key_id = ? AND "+cond)
		joinArgs = append(append(joinArgs, id), args...)
	}
	for i, ob := range orders {
		alias := "o" + strconv.Itoa(i)
		switch ob.Type {
		case loopml.SearchMetric:
			id, ok := keyIDs[ob.Key]
			if !ok {
				id = -1 // no run has it: every run sorts as missing
			}
			joins = append(joins, "LEFT JOIN latest_metrics "+alias+" ON "+alias+".run_pk = r.run_pk AND "+alias+".key_id = ?")
			joinArgs = append(joinArgs, id)
			nanDir, dir := " ASC", " ASC"
			if !ob.Ascending {
				nanDir, dir = " DESC", " DESC"
			}
			order = append(order, "("+alias+".run_pk IS NULL) ASC", "("+alias+".value IS NULL)"+nanDir, alias+".value"+dir)
		case loopml.SearchParam, loopml.SearchTag:
			table := "params"
			if ob.Type == loopml.SearchTag {
				table = "run_tags"
			}
			joins = append(joins, "LEFT JOIN "+table+" "+alias+" ON "+alias+".run_pk = r.run_pk AND "+alias+".key = ?")
			joinArgs = append(joinArgs, ob.Key)
			order = append(order, orderTerm(alias+".value", ob.Ascending))
		case loopml.SearchAttribute:
			col, ok := runAttrCols[ob.Key]
			if !ok {
				return nil, "", loopml.Errorf(loopml.EINVALID, "Invalid order_by attribute '%s': runs can be ordered by start_time, end_time, run_name, status, user_id, artifact_uri, run_id or experiment_id", ob.Key)
			}
			order = append(order, orderTerm(col, ob.Ascending))
		default:
			return nil, "", loopml.Errorf(loopml.EINVALID, "Invalid order_by entity '%s' for key '%s'", ob.Type, ob.Key)
		}
	}
	order = append(order, "r.start_time DESC", "r.run_id ASC")

	var w sqlParts
	w.add("r.experiment_id IN (SELECT experiment_id FROM experiments WHERE workspace = ? AND experiment_id IN ("+placeholders(len(expIDs)-1)+"))", expIDs...)
	cond, args, err := viewCond("r.lifecycle_stage", q.ViewType)
	if err != nil {
		return nil, "", err
	}
	w.add(cond, args...)
	for _, c := range filter {
		if c.Type == loopml.SearchMetric {
			continue // joined above
		}
		cond, args, err := db.runCond(c)
		if err != nil {
			return nil, "", err
		}
		w.add(cond, args...)
	}
	query := "SELECT r.run_pk FROM runs r " + strings.Join(joins, " ") + w.where() +
		" ORDER BY " + strings.Join(order, ", ") + " LIMIT ? OFFSET ?"
	allArgs := append(append(joinArgs, w.args...), max+1, offset)

	var runs []*loopml.Run
	more := false
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, db.q(query), allArgs...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var pks []int64
		for rows.Next() {
			var pk int64
			if err := rows.Scan(&pk); err != nil {
				return err
			}
			pks = append(pks, pk)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(pks) > max {
			pks, more = pks[:max], true
		}
		recs, err := db.loadRuns(ctx, tx, pks)
		if err != nil {
			return err
		}
		if err := db.loadRunData(ctx, tx, recs); err != nil {
			return err
		}
		runs = make([]*loopml.Run, len(recs))
		for i, rec := range recs {
			runs[i] = rec.r
		}
		return nil
	})
	if err != nil {
		return nil, "", db.fail(err, "search runs")
	}
	next := ""
	if more {
		next = encodeOffsetToken(offset + max)
	}
	return runs, next, nil
}

// runAttrCols maps run attribute names to columns.
var runAttrCols = map[string]string{
	"run_id":          "r.run_id",
	"run_name":        "r.name",
	"status":          "r.status",
	"user_id":         "r.user_id",
	"artifact_uri":    "r.artifact_uri",
	"lifecycle_stage": "r.lifecycle_stage",
	"start_time":      "r.start_time",
	"end_time":        "r.end_time",
	"experiment_id":   "r.experiment_id",
}

// loadRuns reads the runs with the given keys, in that order.
func (db *DB) loadRuns(ctx context.Context, tx *sql.Tx, pks []int64) ([]runRec, error) {
	byPK := make(map[int64]runRec, len(pks))
	for start := 0; start < len(pks); start += 500 {
		chunk := pks[start:min(start+500, len(pks))]
		args := make([]any, len(chunk))
		for i, pk := range chunk {
			args[i] = pk
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT `+runCols+` FROM runs r WHERE r.run_pk IN (`+placeholders(len(chunk))+`)`), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			rec, err := scanRun(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			byPK[rec.pk] = rec
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	out := make([]runRec, 0, len(pks))
	for _, pk := range pks {
		if rec, ok := byPK[pk]; ok {
			out = append(out, rec)
		}
	}
	return out, nil
}

// metricKeyIDs returns the interned ids of the keys that exist.
func (db *DB) metricKeyIDs(ctx context.Context, keys []string) (map[string]int64, error) {
	ids := make(map[string]int64, len(keys))
	var missing []any
	for _, k := range keys {
		if id, ok := db.keys.get(k); ok {
			ids[k] = id
		} else if _, dup := ids[k]; !dup {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return ids, nil
	}
	rows, err := db.rdb.QueryContext(ctx, db.q(`SELECT key, key_id FROM metric_keys WHERE key IN (`+placeholders(len(missing))+`)`), missing...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[string]int64)
	for rows.Next() {
		var k string
		var id int64
		if err := rows.Scan(&k, &id); err != nil {
			return nil, err
		}
		ids[k], found[k] = id, id
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	db.keys.merge(found)
	return ids, nil
}

// runCond translates one filter clause (not on metrics) into SQL over runs r.
func (db *DB) runCond(c loopml.Comparison) (string, []any, error) {
	switch c.Type {
	case loopml.SearchParam, loopml.SearchTag:
		table := "params"
		if c.Type == loopml.SearchTag {
			table = "run_tags"
		}
		cond, args, err := db.strCond("p.value", c)
		if err != nil {
			return "", nil, err
		}
		return "EXISTS (SELECT 1 FROM " + table + " p WHERE p.run_pk = r.run_pk AND p.key = ? AND " + cond + ")",
			append([]any{c.Key}, args...), nil
	case loopml.SearchAttribute:
		switch c.Key {
		case "start_time", "end_time":
			return numCond(runAttrCols[c.Key], c, true)
		case "run_id", "run_name", "status", "user_id", "artifact_uri", "lifecycle_stage":
			return db.strCond(runAttrCols[c.Key], c)
		}
	case loopml.SearchDataset:
		switch c.Key {
		case "name", "digest":
			cond, args, err := db.strCond("d."+c.Key, c)
			if err != nil {
				return "", nil, err
			}
			return "EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_pk = i.dataset_pk WHERE i.run_pk = r.run_pk AND " + cond + ")", args, nil
		case "context":
			cond, args, err := db.strCond("it.value", c)
			if err != nil {
				return "", nil, err
			}
			return "EXISTS (SELECT 1 FROM inputs i JOIN input_tags it ON it.input_pk = i.input_pk WHERE i.run_pk = r.run_pk AND it.key = ? AND " + cond + ")",
				append([]any{loopml.TagDatasetContext}, args...), nil
		}
	}
	return "", nil, loopml.Errorf(loopml.EINVALID, "Invalid filter on %s '%s'", c.Type, c.Key)
}
