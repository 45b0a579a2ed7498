package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// Dataset validation: dataset_validations holds every result (newest =
// highest validation_id); recording one also sets the version's
// validation column, so listing versions shows their status without a
// join. dataset_rules keeps every revision of a dataset's rules; the
// newest revision is the current one, and an empty one means removed.

var _ loopml.DatasetValidationService = (*DB)(nil)

const validationCols = `validation_id, workspace, name, version, status, rules_digest, report_ref, summary, failed, checks, strict, created_by, creation_timestamp`

func scanDatasetValidation(sc interface{ Scan(...any) error }) (*loopml.DatasetValidation, error) {
	var v loopml.DatasetValidation
	err := sc.Scan(&v.ID, &v.Workspace, &v.Name, &v.Version, &v.Status, &v.RulesDigest, &v.ReportRef, &v.Summary,
		&v.Failed, &v.Checks, &v.Strict, &v.CreatedBy, &v.CreationTimestamp)
	return &v, err
}

// RecordDatasetValidation implements loopml.DatasetValidationService.
func (db *DB) RecordDatasetValidation(ctx context.Context, val *loopml.DatasetValidation) (err error) {
	defer db.op("RecordDatasetValidation", time.Now(), &err)
	if val == nil {
		return loopml.Errorf(loopml.EINVALID, "missing dataset validation")
	}
	if err := loopml.ValidateDatasetName(val.Name); err != nil {
		return err
	}
	switch {
	case val.Version <= 0:
		return loopml.Errorf(loopml.EINVALID, "invalid version %d for the validation of dataset %s: versions start at 1", val.Version, val.Name)
	case !loopml.ValidDatasetValidationStatus(val.Status):
		return loopml.Errorf(loopml.EINVALID, "invalid validation status %q for dataset %s: want passed, failed or error", val.Status, val.Name)
	case val.Failed < 0 || val.Checks < 0 || val.Failed > val.Checks:
		return loopml.Errorf(loopml.EINVALID, "invalid check counts for the validation of dataset %s: failed %d of %d", val.Name, val.Failed, val.Checks)
	}
	ws, who := loopml.WorkspaceFromContext(ctx), loopml.PrincipalFromContext(ctx)
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := db.liveDatasetVersion(ctx, tx, val.Name, val.Version); err != nil {
			return err
		}
		t := db.nowMs()
		var id int64
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO dataset_validations
  (workspace, name, version, status, rules_digest, report_ref, summary, failed, checks, strict, created_by, creation_timestamp)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING validation_id`),
			ws, val.Name, val.Version, val.Status, val.RulesDigest, val.ReportRef, val.Summary, val.Failed, val.Checks, val.Strict, who, t).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE dataset_versions SET validation = ? WHERE workspace = ? AND name = ? AND version = ?`),
			val.Status, ws, val.Name, val.Version); err != nil {
			return err
		}
		val.ID, val.Workspace, val.CreatedBy, val.CreationTimestamp = id, ws, who, t
		return nil
	})
	return db.fail(err, "record dataset validation")
}

// ListDatasetValidations implements loopml.DatasetValidationService.
func (db *DB) ListDatasetValidations(ctx context.Context, name string, version int) (out []*loopml.DatasetValidation, err error) {
	defer db.op("ListDatasetValidations", time.Now(), &err)
	if err := loopml.ValidateDatasetName(name); err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "invalid version %d of dataset %s", version, name)
	}
	ws := loopml.WorkspaceFromContext(ctx)
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.newestDatasetVersion(ctx, tx, name); err != nil {
			return err
		}
		q := `SELECT ` + validationCols + ` FROM dataset_validations WHERE workspace = ? AND name = ?`
		args := []any{ws, name}
		if version > 0 {
			q += ` AND version = ?`
			args = append(args, version)
		}
		rows, err := tx.QueryContext(ctx, db.q(q+` ORDER BY validation_id DESC`), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scanDatasetValidation(rows)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.fail(err, "list dataset validations")
	}
	return out, nil
}

// LatestDatasetValidation implements loopml.DatasetValidationService.
func (db *DB) LatestDatasetValidation(ctx context.Context, ref loopml.DatasetRef) (val *loopml.DatasetValidation, err error) {
	defer db.op("LatestDatasetValidation", time.Now(), &err)
	v, err := db.GetDatasetVersion(ctx, ref)
	if err != nil {
		return nil, err
	}
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		val, err = scanDatasetValidation(tx.QueryRowContext(ctx, db.q(`SELECT `+validationCols+` FROM dataset_validations
WHERE workspace = ? AND name = ? AND version = ? ORDER BY validation_id DESC LIMIT 1`), loopml.WorkspaceFromContext(ctx), v.Name, v.Version))
		if errors.Is(err, sql.ErrNoRows) {
			return loopml.Errorf(loopml.ENOTFOUND, "dataset %s@v%d was never validated", v.Name, v.Version)
		}
		return err
	})
	if err != nil {
		return nil, db.fail(err, "get dataset validation")
	}
	return val, nil
}

const rulesCols = `workspace, name, revision, rules, digest, created_by, creation_timestamp`

func scanDatasetRules(sc interface{ Scan(...any) error }) (*loopml.DatasetRules, error) {
	var r loopml.DatasetRules
	err := sc.Scan(&r.Workspace, &r.Name, &r.Revision, &r.YAML, &r.Digest, &r.CreatedBy, &r.CreationTimestamp)
	return &r, err
}

// currentDatasetRules returns the newest rules revision of name (possibly
// a removal, with empty YAML) and false when there is none.
func (db *DB) currentDatasetRules(ctx context.Context, tx *sql.Tx, name string) (*loopml.DatasetRules, bool, error) {
	r, err := scanDatasetRules(tx.QueryRowContext(ctx, db.q(`SELECT `+rulesCols+` FROM dataset_rules
WHERE workspace = ? AND name = ? ORDER BY revision DESC LIMIT 1`), loopml.WorkspaceFromContext(ctx), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// appendDatasetRules writes the next revision of name's rules.
func (db *DB) appendDatasetRules(ctx context.Context, tx *sql.Tx, name, yaml string) (*loopml.DatasetRules, error) {
	cur, ok, err := db.currentDatasetRules(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	r := &loopml.DatasetRules{Name: name, Workspace: loopml.WorkspaceFromContext(ctx), Revision: 1, YAML: yaml,
		CreatedBy: loopml.PrincipalFromContext(ctx), CreationTimestamp: db.nowMs()}
	if ok {
		r.Revision = cur.Revision + 1
	}
	if yaml != "" {
		r.Digest = loopml.RulesDigest(yaml)
	}
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO dataset_rules (workspace, name, revision, rules, digest, created_by, creation_timestamp)
VALUES (?, ?, ?, ?, ?, ?, ?)`), r.Workspace, name, r.Revision, yaml, r.Digest, r.CreatedBy, r.CreationTimestamp); err != nil {
		if db.dialect.classify(err) == loopml.ECONFLICT {
			return nil, loopml.Errorf(loopml.ECONFLICT, "rules of dataset %s were changed concurrently; try again", name)
		}
		return nil, err
	}
	return r, nil
}

// rulesTx runs a rules change in a write transaction, again when a
// concurrent change took the same revision number (PostgreSQL; SQLite has
// one writer).
func (db *DB) rulesTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := db.writeTx(ctx, fn)
		if err == nil || attempt >= 20 || loopml.ErrorCode(err) != loopml.ECONFLICT {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * time.Millisecond)
	}
}

// SetDatasetRules implements loopml.DatasetValidationService.
func (db *DB) SetDatasetRules(ctx context.Context, name, yaml string) (r *loopml.DatasetRules, err error) {
	defer db.op("SetDatasetRules", time.Now(), &err)
	if err := loopml.ValidateDatasetName(name); err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(yaml) == "":
		return nil, loopml.Errorf(loopml.EINVALID, "rules of dataset %s are empty", name)
	case len(yaml) > loopml.MaxDatasetRulesSize:
		return nil, loopml.Errorf(loopml.EINVALID, "rules of dataset %s exceed %d bytes", name, loopml.MaxDatasetRulesSize)
	}
	err = db.rulesTx(ctx, func(tx *sql.Tx) error {
		r, err = db.appendDatasetRules(ctx, tx, name, yaml)
		return err
	})
	if err != nil {
		return nil, db.fail(err, "set dataset rules")
	}
	return r, nil
}

// GetDatasetRules implements loopml.DatasetValidationService.
func (db *DB) GetDatasetRules(ctx context.Context, name string) (r *loopml.DatasetRules, err error) {
	defer db.op("GetDatasetRules", time.Now(), &err)
	if err := loopml.ValidateDatasetName(name); err != nil {
		return nil, err
	}
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		cur, ok, err := db.currentDatasetRules(ctx, tx, name)
		if err != nil {
			return err
		}
		if !ok || cur.YAML == "" {
			return loopml.Errorf(loopml.ENOTFOUND, "dataset %s has no rules attached", name)
		}
		r = cur
		return nil
	})
	if err != nil {
		return nil, db.fail(err, "get dataset rules")
	}
	return r, nil
}

// ListDatasetRules implements loopml.DatasetValidationService.
func (db *DB) ListDatasetRules(ctx context.Context, name string) (out []*loopml.DatasetRules, err error) {
	defer db.op("ListDatasetRules", time.Now(), &err)
	if err := loopml.ValidateDatasetName(name); err != nil {
		return nil, err
	}
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, db.q(`SELECT `+rulesCols+` FROM dataset_rules
WHERE workspace = ? AND name = ? ORDER BY revision DESC`), loopml.WorkspaceFromContext(ctx), name)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanDatasetRules(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.fail(err, "list dataset rules")
	}
	return out, nil
}

// DeleteDatasetRules implements loopml.DatasetValidationService.
func (db *DB) DeleteDatasetRules(ctx context.Context, name string) (err error) {
	defer db.op("DeleteDatasetRules", time.Now(), &err)
	if err := loopml.ValidateDatasetName(name); err != nil {
		return err
	}
	err = db.rulesTx(ctx, func(tx *sql.Tx) error {
		cur, ok, err := db.currentDatasetRules(ctx, tx, name)
		if err != nil {
			return err
		}
		if !ok || cur.YAML == "" {
			return loopml.Errorf(loopml.ENOTFOUND, "dataset %s has no rules attached", name)
		}
		_, err = db.appendDatasetRules(ctx, tx, name, "")
		return err
	})
	return db.fail(err, "delete dataset rules")
}

// SetDatasetVersionQuarantine implements loopml.DatasetValidationService.
func (db *DB) SetDatasetVersionQuarantine(ctx context.Context, name string, version int, quarantined bool) (err error) {
	defer db.op("SetDatasetVersionQuarantine", time.Now(), &err)
	if err := loopml.ValidateDatasetName(name); err != nil {
		return err
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := db.liveDatasetVersion(ctx, tx, name, version); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`UPDATE dataset_versions SET quarantined = ? WHERE workspace = ? AND name = ? AND version = ?`),
			quarantined, loopml.WorkspaceFromContext(ctx), name, version)
		return err
	})
	return db.fail(err, "set dataset version quarantine")
}
