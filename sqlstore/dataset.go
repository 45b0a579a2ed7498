package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// The dataset registry: rows of dataset_versions keyed by (workspace, name,
// version) and tags in dataset_tags. Creation picks MAX(version)+1 inside
// the write transaction; on PostgreSQL two concurrent creates of one name
// collide on the unique key and the loser gets ECONFLICT (or, when it asked
// for no particular number, is retried).

var _ loopml.DatasetService = (*DB)(nil)

const datasetCols = `version, workspace, name, root, files, size_bytes, labels, profile_ref, schema_json, created_by, creation_timestamp, quarantined, validation`

func scanDatasetVersion(sc interface{ Scan(...any) error }) (*loopml.DatasetVersion, error) {
	var v loopml.DatasetVersion
	var labels string
	if err := sc.Scan(&v.Version, &v.Workspace, &v.Name, &v.Root, &v.Files, &v.Size, &labels, &v.ProfileRef, &v.Schema, &v.CreatedBy, &v.CreationTimestamp, &v.Quarantined, &v.Validation); err != nil {
		return nil, err
	}
	if labels != "" && labels != "{}" {
		if err := json.Unmarshal([]byte(labels), &v.Labels); err != nil {
			return nil, loopml.WrapError(loopml.EINTERNAL, err, "dataset %s v%d: corrupt labels", v.Name, v.Version)
		}
	}
	return &v, nil
}

func datasetNotFound(name string) error {
	return loopml.Errorf(loopml.ENOTFOUND, "dataset %q not found", name)
}

// validateDatasetVersion checks the fields a caller sets.
func validateDatasetVersion(v *loopml.DatasetVersion) error {
	if v == nil {
		return loopml.Errorf(loopml.EINVALID, "missing dataset version")
	}
	if err := loopml.ValidateDatasetName(v.Name); err != nil {
		return err
	}
	if !strings.HasPrefix(v.Root, "blake3:") || len(v.Root) != len("blake3:")+64 {
		return loopml.Errorf(loopml.EINVALID, "invalid root %q for dataset %s: want blake3:<64 hex digits>", v.Root, v.Name)
	}
	if v.Version < 0 || v.Files < 0 || v.Size < 0 {
		return loopml.Errorf(loopml.EINVALID, "invalid version, files or size for dataset %s: must not be negative", v.Name)
	}
	for k := range v.Labels {
		if k == "" || strings.ContainsAny(k, "=,") {
			return loopml.Errorf(loopml.EINVALID, "invalid label key %q for dataset %s: non-empty, without '=' or ','", k, v.Name)
		}
	}
	if v.Validation != "" && !loopml.ValidDatasetValidationStatus(v.Validation) {
		return loopml.Errorf(loopml.EINVALID, "invalid validation status %q for dataset %s: want passed, failed or error", v.Validation, v.Name)
	}
	if v.Schema != "" && !json.Valid([]byte(v.Schema)) {
		return loopml.Errorf(loopml.EINVALID, "invalid schema for dataset %s: not JSON", v.Name)
	}
	return nil
}

// CreateDatasetVersion implements loopml.DatasetService.
func (db *DB) CreateDatasetVersion(ctx context.Context, v *loopml.DatasetVersion) (out *loopml.DatasetVersion, created bool, err error) {
	defer db.op("CreateDatasetVersion", time.Now(), &err)
	if err := validateDatasetVersion(v); err != nil {
		return nil, false, err
	}
	labels := "{}"
	if len(v.Labels) > 0 {
		b, err := json.Marshal(v.Labels)
		if err != nil {
			return nil, false, loopml.WrapError(loopml.EINVALID, err, "invalid labels for dataset %s", v.Name)
		}
		labels = string(b)
	}
	ws, who := loopml.WorkspaceFromContext(ctx), loopml.PrincipalFromContext(ctx)
	for attempt := 0; ; attempt++ {
		err = db.writeTx(ctx, func(tx *sql.Tx) error {
			// Compared with the newest version even when it is quarantined:
			// re-adding a quarantined tree returns it, still quarantined,
			// instead of making a duplicate version.
			latest, err := db.newestDatasetVersion(ctx, tx, v.Name)
			if err != nil && loopml.ErrorCode(err) != loopml.ENOTFOUND {
				return err
			}
			if latest != nil && latest.Root == v.Root {
				out, created = latest, false
				return db.fillDatasetTags(ctx, tx, []*loopml.DatasetVersion{latest})
			}
			var next int
			if err := tx.QueryRowContext(ctx, db.q(`SELECT COALESCE(MAX(version), 0) + 1 FROM dataset_versions WHERE workspace = ? AND name = ?`),
				ws, v.Name).Scan(&next); err != nil {
				return err
			}
			if v.Version > 0 && v.Version != next {
				return loopml.Errorf(loopml.ECONFLICT, "dataset %s: version %d is taken; the next version is %d", v.Name, v.Version, next)
			}
			t := db.nowMs()
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO dataset_versions
  (workspace, name, version, root, files, size_bytes, labels, profile_ref, schema_json, created_by, creation_timestamp, quarantined, validation)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), ws, v.Name, next, v.Root, v.Files, v.Size, labels, v.ProfileRef, v.Schema, who, t, v.Quarantined, v.Validation); err != nil {
				if db.dialect.classify(err) == loopml.ECONFLICT {
					return loopml.Errorf(loopml.ECONFLICT, "dataset %s: version %d was created concurrently", v.Name, next)
				}
				return err
			}
			v.Version, v.Workspace, v.CreatedBy, v.CreationTimestamp, v.Tags = next, ws, who, t, nil
			out, created = v, true
			return nil
		})
		if err == nil || v.Version > 0 || attempt >= 3 || loopml.ErrorCode(err) != loopml.ECONFLICT {
			break
		}
	}
	if err != nil {
		return nil, false, db.fail(err, "create dataset version")
	}
	return out, created, nil
}

// latestDatasetVersion returns the newest live version of name that is not
// quarantined (what @latest means), or ENOTFOUND, saying so when every
// live version is quarantined.
func (db *DB) latestDatasetVersion(ctx context.Context, tx *sql.Tx, name string) (*loopml.DatasetVersion, error) {
	row := tx.QueryRowContext(ctx, db.q(`SELECT `+datasetCols+` FROM dataset_versions
WHERE workspace = ? AND name = ? AND deleted_timestamp = 0 AND NOT quarantined ORDER BY version DESC LIMIT 1`), loopml.WorkspaceFromContext(ctx), name)
	v, err := scanDatasetVersion(row)
	if errors.Is(err, sql.ErrNoRows) {
		newest, err := db.newestDatasetVersion(ctx, tx, name)
		if err != nil {
			return nil, err
		}
		return nil, loopml.Errorf(loopml.ENOTFOUND, "dataset %s has no version outside quarantine (v%d is quarantined; name it as %s@v%d or release it)",
			name, newest.Version, name, newest.Version)
	}
	return v, err
}

// newestDatasetVersion returns the newest live version of name, quarantined
// or not, or ENOTFOUND.
func (db *DB) newestDatasetVersion(ctx context.Context, tx *sql.Tx, name string) (*loopml.DatasetVersion, error) {
	row := tx.QueryRowContext(ctx, db.q(`SELECT `+datasetCols+` FROM dataset_versions
WHERE workspace = ? AND name = ? AND deleted_timestamp = 0 ORDER BY version DESC LIMIT 1`), loopml.WorkspaceFromContext(ctx), name)
	v, err := scanDatasetVersion(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, datasetNotFound(name)
	}
	return v, err
}

// fillDatasetTags sets the Tags of versions of one dataset.
func (db *DB) fillDatasetTags(ctx context.Context, tx *sql.Tx, vs []*loopml.DatasetVersion) error {
	if len(vs) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, db.q(`SELECT tag, version FROM dataset_tags WHERE workspace = ? AND name = ? ORDER BY tag`),
		loopml.WorkspaceFromContext(ctx), vs[0].Name)
	if err != nil {
		return err
	}
	defer rows.Close()
	byNum := make(map[int]*loopml.DatasetVersion, len(vs))
	for _, v := range vs {
		v.Tags = nil
		byNum[v.Version] = v
	}
	for rows.Next() {
		var tag string
		var n int
		if err := rows.Scan(&tag, &n); err != nil {
			return err
		}
		if v := byNum[n]; v != nil {
			v.Tags = append(v.Tags, tag)
		}
	}
	return rows.Err()
}

// GetDatasetVersion implements loopml.DatasetService.
func (db *DB) GetDatasetVersion(ctx context.Context, ref loopml.DatasetRef) (v *loopml.DatasetVersion, err error) {
	defer db.op("GetDatasetVersion", time.Now(), &err)
	if err := loopml.ValidateDatasetName(ref.Name); err != nil {
		return nil, err
	}
	ws := loopml.WorkspaceFromContext(ctx)
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		num := ref.Version
		if ref.Tag != "" {
			err := tx.QueryRowContext(ctx, db.q(`SELECT version FROM dataset_tags WHERE workspace = ? AND name = ? AND tag = ?`),
				ws, ref.Name, ref.Tag).Scan(&num)
			if errors.Is(err, sql.ErrNoRows) {
				if _, err := db.newestDatasetVersion(ctx, tx, ref.Name); err != nil {
					return err
				}
				return loopml.Errorf(loopml.ENOTFOUND, "dataset %s has no tag %q", ref.Name, ref.Tag)
			} else if err != nil {
				return err
			}
		}
		if num == 0 {
			v, err = db.latestDatasetVersion(ctx, tx, ref.Name)
		} else {
			v, err = scanDatasetVersion(tx.QueryRowContext(ctx, db.q(`SELECT `+datasetCols+` FROM dataset_versions
WHERE workspace = ? AND name = ? AND version = ? AND deleted_timestamp = 0`), ws, ref.Name, num))
			if errors.Is(err, sql.ErrNoRows) {
				if _, err := db.newestDatasetVersion(ctx, tx, ref.Name); err != nil {
					return err
				}
				return loopml.Errorf(loopml.ENOTFOUND, "dataset %s has no version %d", ref.Name, num)
			}
		}
		if err != nil {
			return err
		}
		return db.fillDatasetTags(ctx, tx, []*loopml.DatasetVersion{v})
	})
	if err != nil {
		return nil, db.fail(err, "get dataset version")
	}
	return v, nil
}

// datasetSummaries returns the summaries of the datasets of the workspace,
// or of the one named (name != "").
func (db *DB) datasetSummaries(ctx context.Context, tx *sql.Tx, name string) ([]*loopml.DatasetSummary, error) {
	ws := loopml.WorkspaceFromContext(ctx)
	// Latest skips quarantined versions (0 when every one is).
	q := `SELECT name, COUNT(*), COALESCE(MAX(CASE WHEN quarantined THEN NULL ELSE version END), 0), MIN(creation_timestamp), MAX(creation_timestamp) FROM dataset_versions
WHERE workspace = ? AND deleted_timestamp = 0`
	args := []any{ws}
	if name != "" {
		q += ` AND name = ?`
		args = append(args, name)
	}
	rows, err := tx.QueryContext(ctx, db.q(q+` GROUP BY name ORDER BY name`), args...)
	if err != nil {
		return nil, err
	}
	var out []*loopml.DatasetSummary
	byName := map[string]*loopml.DatasetSummary{}
	for rows.Next() {
		s := &loopml.DatasetSummary{Tags: map[string]int{}}
		if err := rows.Scan(&s.Name, &s.Versions, &s.Latest, &s.CreationTimestamp, &s.LastUpdatedTimestamp); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, s)
		byName[s.Name] = s
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// NextVersion counts deleted versions too.
	q = `SELECT name, MAX(version) FROM dataset_versions WHERE workspace = ?`
	if name != "" {
		q += ` AND name = ?`
	}
	rows, err = tx.QueryContext(ctx, db.q(q+` GROUP BY name`), args...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var n string
		var max int
		if err := rows.Scan(&n, &max); err != nil {
			rows.Close()
			return nil, err
		}
		if s := byName[n]; s != nil {
			s.NextVersion = max + 1
		} else if name != "" {
			// Every version deleted: the dataset still exists, empty.
			s := &loopml.DatasetSummary{Name: n, NextVersion: max + 1, Tags: map[string]int{}}
			out = append(out, s)
			byName[n] = s
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	q = `SELECT name, tag, version FROM dataset_tags WHERE workspace = ?`
	if name != "" {
		q += ` AND name = ?`
	}
	rows, err = tx.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var n, tag string
		var num int
		if err := rows.Scan(&n, &tag, &num); err != nil {
			return nil, err
		}
		if s := byName[n]; s != nil {
			s.Tags[tag] = num
		}
	}
	return out, rows.Err()
}

// GetDataset implements loopml.DatasetService.
func (db *DB) GetDataset(ctx context.Context, name string) (s *loopml.DatasetSummary, err error) {
	defer db.op("GetDataset", time.Now(), &err)
	if err := loopml.ValidateDatasetName(name); err != nil {
		return nil, err
	}
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		ss, err := db.datasetSummaries(ctx, tx, name)
		if err != nil {
			return err
		}
		if len(ss) == 0 {
			return datasetNotFound(name)
		}
		s = ss[0]
		return nil
	})
	if err != nil {
		return nil, db.fail(err, "get dataset")
	}
	return s, nil
}

// ListDatasets implements loopml.DatasetService.
func (db *DB) ListDatasets(ctx context.Context) (out []*loopml.DatasetSummary, err error) {
	defer db.op("ListDatasets", time.Now(), &err)
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		out, err = db.datasetSummaries(ctx, tx, "")
		return err
	})
	if err != nil {
		return nil, db.fail(err, "list datasets")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ListDatasetVersions implements loopml.DatasetService.
func (db *DB) ListDatasetVersions(ctx context.Context, name string) (out []*loopml.DatasetVersion, err error) {
	defer db.op("ListDatasetVersions", time.Now(), &err)
	if err := loopml.ValidateDatasetName(name); err != nil {
		return nil, err
	}
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		var any int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM dataset_versions WHERE workspace = ? AND name = ?`),
			loopml.WorkspaceFromContext(ctx), name).Scan(&any); err != nil {
			return err
		}
		if any == 0 {
			return datasetNotFound(name)
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT `+datasetCols+` FROM dataset_versions
WHERE workspace = ? AND name = ? AND deleted_timestamp = 0 ORDER BY version`), loopml.WorkspaceFromContext(ctx), name)
		if err != nil {
			return err
		}
		for rows.Next() {
			v, err := scanDatasetVersion(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return db.fillDatasetTags(ctx, tx, out)
	})
	if err != nil {
		return nil, db.fail(err, "list dataset versions")
	}
	return out, nil
}

// liveDatasetVersion checks that version num of name exists and is live.
func (db *DB) liveDatasetVersion(ctx context.Context, tx *sql.Tx, name string, num int) error {
	var deleted int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT deleted_timestamp FROM dataset_versions WHERE workspace = ? AND name = ? AND version = ?`),
		loopml.WorkspaceFromContext(ctx), name, num).Scan(&deleted)
	if errors.Is(err, sql.ErrNoRows) || err == nil && deleted != 0 {
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM dataset_versions WHERE workspace = ? AND name = ?`),
			loopml.WorkspaceFromContext(ctx), name).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return datasetNotFound(name)
		}
		if deleted != 0 {
			return loopml.Errorf(loopml.ENOTFOUND, "dataset %s version %d was deleted", name, num)
		}
		return loopml.Errorf(loopml.ENOTFOUND, "dataset %s has no version %d", name, num)
	}
	return err
}

// SetDatasetTag implements loopml.DatasetService.
func (db *DB) SetDatasetTag(ctx context.Context, name, tag string, version int) (err error) {
	defer db.op("SetDatasetTag", time.Now(), &err)
	if err := loopml.ValidateDatasetName(name); err != nil {
		return err
	}
	if err := loopml.ValidateDatasetTag(tag); err != nil {
		return err
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := db.liveDatasetVersion(ctx, tx, name, version); err != nil {
			return err
		}
		ws := loopml.WorkspaceFromContext(ctx)
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM dataset_tags WHERE workspace = ? AND name = ? AND tag = ?`), ws, name, tag); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO dataset_tags (workspace, name, tag, version) VALUES (?, ?, ?, ?)`), ws, name, tag, version)
		return err
	})
	return db.fail(err, "set dataset tag")
}

// DeleteDatasetTag implements loopml.DatasetService.
func (db *DB) DeleteDatasetTag(ctx context.Context, name, tag string) (err error) {
	defer db.op("DeleteDatasetTag", time.Now(), &err)
	if err := loopml.ValidateDatasetName(name); err != nil {
		return err
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM dataset_tags WHERE workspace = ? AND name = ? AND tag = ?`),
			loopml.WorkspaceFromContext(ctx), name, tag)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return loopml.Errorf(loopml.ENOTFOUND, "dataset %s has no tag %q", name, tag)
		}
		return nil
	})
	return db.fail(err, "delete dataset tag")
}

// DeleteDatasetVersion implements loopml.DatasetService.
func (db *DB) DeleteDatasetVersion(ctx context.Context, name string, version int) (err error) {
	defer db.op("DeleteDatasetVersion", time.Now(), &err)
	if err := loopml.ValidateDatasetName(name); err != nil {
		return err
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := db.liveDatasetVersion(ctx, tx, name, version); err != nil {
			return err
		}
		ws := loopml.WorkspaceFromContext(ctx)
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE dataset_versions SET deleted_timestamp = ? WHERE workspace = ? AND name = ? AND version = ?`),
			max(db.nowMs(), 1), ws, name, version); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM dataset_tags WHERE workspace = ? AND name = ? AND version = ?`), ws, name, version)
		return err
	})
	return db.fail(err, "delete dataset version")
}
