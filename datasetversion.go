package loopml

import (
	"context"
	"regexp"
	"strconv"
	"strings"
)

// DatasetVersion is one immutable version of a registered dataset: a
// content-addressed file tree (see package cas) with the schema and profile
// inferred from its tabular files. Versions are numbered per dataset from 1
// and numbers are never reused, even after a version is deleted.
type DatasetVersion struct {
	Name      string
	Version   int
	Workspace string
	// Root is the digest of the version's root tree ("blake3:<hex>").
	Root  string
	Files int64 // number of files
	Size  int64 // total bytes of the files
	// Labels are free key/value labels set at creation, e.g. the time
	// partition period=2024-10.
	Labels map[string]string
	// Tags are the names of the tags pointing at this version, sorted.
	Tags []string
	// ProfileRef is the artifact store path of the stored profile JSON, ""
	// when the version has no tabular file.
	ProfileRef string
	// Schema is the inferred schema of the tabular files as JSON, "" if none.
	Schema string
	// Quarantined keeps the version out of @latest (see
	// DatasetValidationService); @vN and tags still resolve it.
	Quarantined bool
	// Validation is the status of the version's latest validation
	// (ValidationPassed, ValidationFailed, ValidationError), "" if never
	// validated.
	Validation        string
	CreatedBy         string
	CreationTimestamp int64 // epoch ms
}

// DatasetSummary describes a registered dataset: the live versions of one
// name in a workspace.
type DatasetSummary struct {
	Name string
	// Versions is the number of live (not deleted) versions.
	Versions int
	// Latest is the highest live version number that is not quarantined,
	// 0 if none.
	Latest int
	// NextVersion is the number the next created version gets.
	NextVersion int
	// Tags maps each tag to the version it points at.
	Tags                 map[string]int
	CreationTimestamp    int64 // of version 1, epoch ms
	LastUpdatedTimestamp int64 // of the latest version, epoch ms
}

// DatasetRef names a dataset version: NAME, NAME@latest, NAME@v3, NAME@3 or
// NAME@tag. Version 0 and Tag "" mean the latest live version.
type DatasetRef struct {
	Name    string
	Version int
	Tag     string
}

// String formats r as ParseDatasetRef accepts it.
func (r DatasetRef) String() string {
	switch {
	case r.Version > 0:
		return r.Name + "@v" + strconv.Itoa(r.Version)
	case r.Tag != "":
		return r.Name + "@" + r.Tag
	}
	return r.Name + "@latest"
}

// MaxDatasetNameLen bounds dataset names and tag names.
const MaxDatasetNameLen = 200

var datasetNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidateDatasetName returns EINVALID unless name is a valid dataset name:
// letters, digits, '.', '_' and '-', starting with a letter or digit, at
// most MaxDatasetNameLen characters. Names are path segments of the
// artifact store, hence the restriction.
func ValidateDatasetName(name string) error {
	switch {
	case name == "":
		return Errorf(EINVALID, "missing dataset name")
	case len(name) > MaxDatasetNameLen:
		return Errorf(EINVALID, "dataset name %q exceeds %d characters", name, MaxDatasetNameLen)
	case !datasetNameRE.MatchString(name):
		return Errorf(EINVALID, "invalid dataset name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// ValidateDatasetTag returns EINVALID unless tag is a valid tag name: like
// a dataset name, and neither "latest" nor a version ("3", "v3").
func ValidateDatasetTag(tag string) error {
	switch {
	case tag == "":
		return Errorf(EINVALID, "missing dataset tag")
	case len(tag) > MaxDatasetNameLen:
		return Errorf(EINVALID, "dataset tag %q exceeds %d characters", tag, MaxDatasetNameLen)
	case !datasetNameRE.MatchString(tag):
		return Errorf(EINVALID, "invalid dataset tag %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", tag)
	case tag == "latest":
		return Errorf(EINVALID, "invalid dataset tag %q: latest always means the newest version", tag)
	}
	if _, ok := parseVersionNumber(tag); ok {
		return Errorf(EINVALID, "invalid dataset tag %q: it reads as a version number", tag)
	}
	return nil
}

// parseVersionNumber parses "3" or "v3" (a positive decimal, no sign).
func parseVersionNumber(s string) (int, bool) {
	s = strings.TrimPrefix(s, "v")
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// ParseDatasetRef parses NAME, NAME@latest, NAME@v3, NAME@3 or NAME@tag.
// It returns EINVALID, naming the problem, for a bad name, an empty or
// invalid version part, or version 0.
func ParseDatasetRef(s string) (DatasetRef, error) {
	name, ver, hasAt := strings.Cut(s, "@")
	if err := ValidateDatasetName(name); err != nil {
		return DatasetRef{}, Errorf(EINVALID, "invalid dataset reference %q: %s", s, ErrorMessage(err))
	}
	r := DatasetRef{Name: name}
	switch {
	case !hasAt, ver == "latest":
		return r, nil
	case ver == "":
		return DatasetRef{}, Errorf(EINVALID, "invalid dataset reference %q: empty version after '@' (use @latest, @v3 or @tag)", s)
	}
	if n, ok := parseVersionNumber(ver); ok {
		r.Version = n
		return r, nil
	}
	if digits := strings.TrimPrefix(ver, "v"); digits != "" && strings.TrimLeft(digits, "0123456789") == "" {
		return DatasetRef{}, Errorf(EINVALID, "invalid dataset reference %q: versions start at 1", s)
	}
	if !datasetNameRE.MatchString(ver) {
		return DatasetRef{}, Errorf(EINVALID, "invalid dataset reference %q: %q is neither latest, a version (v3) nor a tag", s, ver)
	}
	r.Tag = ver
	return r, nil
}

// DatasetService stores dataset versions: their metadata, not their files
// (which live in the artifact store, content-addressed). Every method works
// in the workspace of ctx and is safe for concurrent use.
type DatasetService interface {
	// CreateDatasetVersion records v as a new version of v.Name, unless the
	// newest live version of that name (quarantined or not) has the same
	// Root: then it returns that version and false, creating nothing (so a
	// re-added quarantined tree stays quarantined rather than becoming a
	// duplicate version). v.Quarantined and v.Validation are recorded as
	// given. v.Version 0 takes the next
	// number; a positive v.Version asks for exactly that number and gives
	// ECONFLICT if it is not the next one (a concurrent create won). On
	// success v's Version, Workspace, CreatedBy and CreationTimestamp are
	// filled in. Returns EINVALID for a bad name, root or label.
	CreateDatasetVersion(ctx context.Context, v *DatasetVersion) (*DatasetVersion, bool, error)
	// GetDatasetVersion resolves ref: NAME and NAME@latest to the highest
	// live version that is not quarantined, @vN and @tag to that version
	// even when quarantined. Returns ENOTFOUND, naming the
	// reference, if the dataset, version or tag does not exist or the
	// version was deleted.
	GetDatasetVersion(ctx context.Context, ref DatasetRef) (*DatasetVersion, error)
	// GetDataset returns the summary of a dataset; ENOTFOUND if it has
	// never had a version.
	GetDataset(ctx context.Context, name string) (*DatasetSummary, error)
	// ListDatasets returns every dataset with a live version, by name.
	ListDatasets(ctx context.Context) ([]*DatasetSummary, error)
	// ListDatasetVersions returns the live versions of name, oldest first;
	// ENOTFOUND if the dataset has never had a version.
	ListDatasetVersions(ctx context.Context, name string) ([]*DatasetVersion, error)
	// SetDatasetTag points tag at a live version, moving it if it exists.
	// EINVALID for a bad tag name, ENOTFOUND for an unknown version.
	SetDatasetTag(ctx context.Context, name, tag string, version int) error
	// DeleteDatasetTag deletes a tag; ENOTFOUND if it does not exist.
	DeleteDatasetTag(ctx context.Context, name, tag string) error
	// DeleteDatasetVersion soft-deletes a version: it no longer resolves
	// or lists, its number is not reused and the tags pointing at it are
	// deleted. Its files stay in the artifact store. ENOTFOUND if the
	// version does not exist or is already deleted.
	DeleteDatasetVersion(ctx context.Context, name string, version int) error
}
