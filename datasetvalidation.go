package loopml

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
)

// Validation statuses of a dataset version ([DatasetValidation.Status] and
// [DatasetVersion.Validation]).
const (
	// ValidationPassed: every check passed.
	ValidationPassed = "passed"
	// ValidationFailed: at least one check failed; the report names them.
	ValidationFailed = "failed"
	// ValidationError: the checks could not run (unreadable rules, a
	// missing reference version, an internal error); Summary says why.
	ValidationError = "error"
)

// ValidDatasetValidationStatus reports whether s is one of the validation
// statuses.
func ValidDatasetValidationStatus(s string) bool {
	return s == ValidationPassed || s == ValidationFailed || s == ValidationError
}

// DatasetValidation is the recorded result of checking one dataset version
// against a set of rules (expectations). The full report (every rule, the
// observed and expected values, example offending rows with file and line)
// is a JSON artifact at ReportRef; the record holds what gates need.
type DatasetValidation struct {
	// ID is assigned by the store, increasing in recording order.
	ID        int64
	Name      string
	Version   int
	Workspace string
	// Status is ValidationPassed, ValidationFailed or ValidationError.
	Status string
	// RulesDigest identifies the rules checked: RulesDigest(yaml).
	RulesDigest string
	// ReportRef is the artifact store path of the JSON report, "" if none
	// was stored (a validation that could not run).
	ReportRef string
	// Summary is one line, e.g. "2 of 14 checks failed: ratings.csv rating
	// max: 3 values above 5; ...".
	Summary string
	// Failed and Checks count the failed and all checks.
	Failed int
	Checks int
	// Strict records that malformed rows or files counted as failures.
	Strict            bool
	CreatedBy         string
	CreationTimestamp int64 // epoch ms
}

// DatasetRules are the validation rules (YAML expectations, see package
// validate) attached to a dataset: every new version is checked against
// them when it is added. Each change is kept as a new revision.
type DatasetRules struct {
	Name      string
	Workspace string
	// Revision numbers the changes of a dataset's rules from 1.
	Revision int
	// YAML is the rules document as given.
	YAML string
	// Digest is RulesDigest(YAML).
	Digest            string
	CreatedBy         string
	CreationTimestamp int64 // epoch ms
}

// RulesDigest returns the digest that identifies a rules document:
// "sha256:<hex>" of its bytes.
func RulesDigest(yaml string) string {
	sum := sha256.Sum256([]byte(yaml))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// MaxDatasetRulesSize bounds a stored rules document.
const MaxDatasetRulesSize = 1 << 20

// DatasetValidationService records validation results of dataset versions,
// the rules attached to datasets, and quarantine. Every method works in the
// workspace of ctx and is safe for concurrent use.
//
// A quarantined version is kept out of @latest: NAME and NAME@latest
// resolve to the highest live version that is not quarantined, while
// NAME@vN and NAME@tag still resolve a quarantined version.
type DatasetValidationService interface {
	// RecordDatasetValidation records val for the live version val.Name
	// @ val.Version and makes val.Status that version's Validation status.
	// It fills in val's ID, Workspace, CreatedBy and CreationTimestamp.
	// Returns EINVALID for a bad name, version or status, ENOTFOUND if the
	// version does not exist or was deleted.
	RecordDatasetValidation(ctx context.Context, val *DatasetValidation) error
	// ListDatasetValidations returns the validations of a dataset's
	// version (or of all its versions when version is 0), newest first.
	// Returns ENOTFOUND if the dataset never had a version.
	ListDatasetValidations(ctx context.Context, name string, version int) ([]*DatasetValidation, error)
	// LatestDatasetValidation returns the newest validation of the version
	// ref resolves to; ENOTFOUND if the reference does not resolve or the
	// version was never validated.
	LatestDatasetValidation(ctx context.Context, ref DatasetRef) (*DatasetValidation, error)
	// SetDatasetRules attaches rules to dataset name (which need not have
	// a version yet) as a new revision, and returns it. The store does not
	// parse the YAML: callers check it first. EINVALID for a bad name or
	// empty or oversized rules.
	SetDatasetRules(ctx context.Context, name, yaml string) (*DatasetRules, error)
	// GetDatasetRules returns the rules attached to name; ENOTFOUND if
	// none are (never set, or removed).
	GetDatasetRules(ctx context.Context, name string) (*DatasetRules, error)
	// ListDatasetRules returns every rules revision of name, newest first,
	// including removals (revisions with empty YAML and Digest); empty if
	// rules were never set. EINVALID for a bad name.
	ListDatasetRules(ctx context.Context, name string) ([]*DatasetRules, error)
	// DeleteDatasetRules detaches the rules of name (recorded as a
	// revision without rules); ENOTFOUND if none are attached.
	DeleteDatasetRules(ctx context.Context, name string) error
	// SetDatasetVersionQuarantine puts a live version into quarantine or
	// releases it. Returns ENOTFOUND for an unknown or deleted version.
	SetDatasetVersionQuarantine(ctx context.Context, name string, version int, quarantined bool) error
}
