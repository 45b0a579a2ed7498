package loopml

import (
	"context"
	"strconv"
	"strings"
)

// Model version stages (MLflow's, deprecated there in favour of aliases but
// still called by clients).
const (
	StageNone       = "None"
	StageStaging    = "Staging"
	StageProduction = "Production"
	StageArchived   = "Archived"
)

// CanonicalStage returns the canonical spelling of a stage name, matched
// case-insensitively, and false if s is not a stage.
func CanonicalStage(s string) (string, bool) {
	for _, st := range [...]string{StageNone, StageStaging, StageProduction, StageArchived} {
		if strings.EqualFold(s, st) {
			return st, true
		}
	}
	return "", false
}

// Model version statuses (MLflow ModelVersionStatus). loopml registers
// synchronously, so versions are READY on creation.
const (
	VersionPendingRegistration = "PENDING_REGISTRATION"
	VersionFailedRegistration  = "FAILED_REGISTRATION"
	VersionReady               = "READY"
)

// RegisteredModel is a named, versioned model. Names are unique per
// workspace.
type RegisteredModel struct {
	Name                 string
	Workspace            string
	CreationTimestamp    int64 // epoch ms
	LastUpdatedTimestamp int64 // epoch ms
	UserID               string
	Description          string
	Tags                 []Tag
	Aliases              []ModelAlias    // sorted by alias
	LatestVersions       []*ModelVersion // newest version per stage
}

// ModelAlias points an alias (e.g. "champion") of a registered model at one
// of its versions.
type ModelAlias struct {
	Alias   string
	Version string
}

// ModelVersion is one version of a registered model. Versions are numbered
// per model from 1 and are decimal strings on the wire.
type ModelVersion struct {
	Name                 string
	Version              string
	CreationTimestamp    int64
	LastUpdatedTimestamp int64
	UserID               string
	CurrentStage         string
	Description          string
	Source               string // artifact URI of the model package
	RunID                string // run that produced it, if any
	RunLink              string
	Status               string
	StatusMessage        string
	Tags                 []Tag
	Aliases              []string // sorted

	// loopml extensions, filled in when the package was inspected.
	Signature string // the MLmodel signature as JSON, "" if none
	SizeBytes int64
	Digest    string // "blake3:<hex>" of the package, "" if unknown
}

// RegisteredModelSearch queries registered models. Filter supports
// name = / LIKE / ILIKE and tags.<key> = / LIKE / ILIKE (MLflow's grammar);
// OrderBy entries are "name", "creation_timestamp" or
// "last_updated_timestamp" with ASC|DESC (default "name ASC").
type RegisteredModelSearch struct {
	Filter     string
	OrderBy    []string
	MaxResults int // 0 = DefaultSearchModelsResults
	PageToken  string
}

// ModelVersionSearch queries model versions. Filter supports name, version_number,
// run_id (incl. IN), source_path, tags.<key>; OrderBy as MLflow
// (default "name ASC, version_number DESC").
type ModelVersionSearch struct {
	Filter     string
	OrderBy    []string
	MaxResults int // 0 = DefaultSearchVersionsResults
	PageToken  string
}

// Registry search limits (MLflow's).
const (
	DefaultSearchModelsResults   = 100
	MaxSearchModelsResults       = 1000
	DefaultSearchVersionsResults = 10000
	MaxSearchVersionsResults     = 200000
)

// Registry event types, appended to the immutable registry event log.
const (
	EventModelCreated    = "model_created"
	EventModelRenamed    = "model_renamed"
	EventModelDeleted    = "model_deleted"
	EventVersionCreated  = "version_created"
	EventVersionDeleted  = "version_deleted"
	EventAliasSet        = "alias_set"     // set or moved: FromVersion -> ToVersion
	EventAliasDeleted    = "alias_deleted" // FromVersion -> ""
	EventStageTransition = "stage_transition"
)

// RegistryEvent is one entry of the append-only registry event log: who did
// what when, with the state before and after. IDs increase in commit order.
type RegistryEvent struct {
	ID          int64
	Time        int64 // epoch ms
	Workspace   string
	Principal   string
	Type        string // Event* constant
	Model       string
	Version     string // the version concerned (created, deleted, transitioned)
	Alias       string
	FromVersion string
	ToVersion   string
	FromStage   string
	ToStage     string
	Reason      string // free text, e.g. "deleted version 3 held the alias"
	// Endpoint is the serving endpoint of an endpoint or rollout event
	// (EndpointEventTypes), "" otherwise; Detail is that event's JSON
	// detail (weights, and the metrics a rollout decision was based on).
	Endpoint string
	Detail   string
}

// RegistryEventQuery selects events of one model (or all when Model is
// ""), optionally one alias, with ID > AfterID and Time <= Until (0 = no
// bound), in ID order. MaxResults 0 = 1000.
type RegistryEventQuery struct {
	Model      string
	Alias      string
	AfterID    int64
	Until      int64
	MaxResults int
}

// ModelRegistry manages registered models, versions, aliases and stages,
// and records every change in the registry event log in the same
// transaction as the change. Safe for concurrent use; concurrent alias moves
// are serialised (last writer wins, every move recorded).
type ModelRegistry interface {
	// CreateRegisteredModel returns ECONFLICT if the name exists, EINVALID
	// for an empty name.
	CreateRegisteredModel(ctx context.Context, m *RegisteredModel) error
	// GetRegisteredModel returns the model with tags, aliases and latest
	// versions, or ENOTFOUND.
	GetRegisteredModel(ctx context.Context, name string) (*RegisteredModel, error)
	// RenameRegisteredModel moves versions and aliases to the new name.
	// ENOTFOUND, ECONFLICT.
	RenameRegisteredModel(ctx context.Context, name, newName string) (*RegisteredModel, error)
	// UpdateRegisteredModel sets the description. ENOTFOUND.
	UpdateRegisteredModel(ctx context.Context, name, description string) (*RegisteredModel, error)
	// DeleteRegisteredModel deletes the model, its versions and aliases.
	DeleteRegisteredModel(ctx context.Context, name string) error
	SearchRegisteredModels(ctx context.Context, q RegisteredModelSearch) ([]*RegisteredModel, string, error)
	// GetLatestVersions returns the newest version per stage, only for the
	// given stages when any are given (EINVALID for an unknown stage).
	GetLatestVersions(ctx context.Context, name string, stages []string) ([]*ModelVersion, error)
	SetRegisteredModelTag(ctx context.Context, name string, tag Tag) error
	DeleteRegisteredModelTag(ctx context.Context, name, key string) error

	// SetAlias points alias at version (creating or moving it). EINVALID for
	// a reserved or version-like alias (see ValidateAlias), ENOTFOUND for an
	// unknown model or version.
	SetAlias(ctx context.Context, name, alias, version string) error
	// DeleteAlias removes an alias. ENOTFOUND if it does not exist.
	DeleteAlias(ctx context.Context, name, alias string) error
	// GetVersionByAlias resolves an alias. ENOTFOUND naming model and alias.
	GetVersionByAlias(ctx context.Context, name, alias string) (*ModelVersion, error)

	// CreateModelVersion assigns the next version number, status READY and
	// stage None. ENOTFOUND for an unknown model.
	CreateModelVersion(ctx context.Context, v *ModelVersion) error
	GetModelVersion(ctx context.Context, name, version string) (*ModelVersion, error)
	UpdateModelVersion(ctx context.Context, name, version, description string) (*ModelVersion, error)
	// DeleteModelVersion deletes a version; aliases pointing at it are
	// removed and each removal is recorded as an alias_deleted event.
	DeleteModelVersion(ctx context.Context, name, version string) error
	SearchModelVersions(ctx context.Context, q ModelVersionSearch) ([]*ModelVersion, string, error)
	SetModelVersionTag(ctx context.Context, name, version string, tag Tag) error
	DeleteModelVersionTag(ctx context.Context, name, version, key string) error
	// TransitionModelVersionStage moves a version to a stage; with
	// archiveExisting the model's other versions in that stage go to
	// Archived. EINVALID for an unknown stage.
	TransitionModelVersionStage(ctx context.Context, name, version, stage string, archiveExisting bool) (*ModelVersion, error)

	// RegistryEvents returns events matching q in ID order.
	RegistryEvents(ctx context.Context, q RegistryEventQuery) ([]RegistryEvent, error)
}

// ValidateAlias checks an alias name as MLflow does: non-empty, at most
// MaxKeyLength characters, not "latest" (reserved), and not version-like
// ("3", "v3", "V12").
func ValidateAlias(alias string) error {
	if alias == "" {
		return Errorf(EINVALID, "Missing value for required parameter 'alias'")
	}
	if len(alias) > MaxKeyLength {
		return Errorf(EINVALID, "alias '%.40s...' exceeds the length limit of %d", alias, MaxKeyLength)
	}
	if strings.EqualFold(alias, "latest") {
		return Errorf(EINVALID, "'%s' alias name (case insensitive) is reserved.", alias)
	}
	digits := alias
	if alias[0] == 'v' || alias[0] == 'V' {
		digits = alias[1:]
	}
	if _, err := strconv.ParseUint(digits, 10, 64); err == nil {
		return Errorf(EINVALID, "Version alias name '%s' is reserved.", alias)
	}
	for _, c := range alias {
		if c < 0x20 || c == '/' || c == '@' {
			return Errorf(EINVALID, "Invalid alias name '%s': control characters, '/' and '@' are not allowed.", alias)
		}
	}
	return nil
}

// AliasAt replays alias events (as returned by RegistryEvents, in ID order)
// and returns the version that alias held at time t (epoch ms), or "" if it
// pointed nowhere then. Events of other aliases and types are ignored,
// except model renames, which do not change what an alias points at.
func AliasAt(events []RegistryEvent, alias string, t int64) string {
	v := ""
	for _, e := range events {
		if e.Time > t {
			break
		}
		if e.Alias != alias {
			continue
		}
		switch e.Type {
		case EventAliasSet:
			v = e.ToVersion
		case EventAliasDeleted:
			v = ""
		}
	}
	return v
}

// ModelURI is a parsed "models:/" URI: models:/name/3 (Version),
// models:/name@champion (Alias), models:/name/Production (Stage) or
// models:/name/latest (Latest).
type ModelURI struct {
	Name    string
	Version string
	Alias   string
	Stage   string
	Latest  bool
}

// String returns the canonical URI.
func (u ModelURI) String() string {
	switch {
	case u.Alias != "":
		return "models:/" + u.Name + "@" + u.Alias
	case u.Version != "":
		return "models:/" + u.Name + "/" + u.Version
	case u.Stage != "":
		return "models:/" + u.Name + "/" + u.Stage
	default:
		return "models:/" + u.Name + "/latest"
	}
}

// ParseModelURI parses a models:/ URI (also accepting "models:name/..." and
// "models://name/..." without the authority), or a bare "name@alias" /
// "name/3" reference. EINVALID names the URI and what is wrong.
func ParseModelURI(s string) (ModelURI, error) {
	rest := s
	if r, ok := strings.CutPrefix(s, "models:"); ok {
		rest = strings.TrimLeft(r, "/")
	}
	if rest == "" {
		return ModelURI{}, Errorf(EINVALID, "Invalid model URI %q: missing model name", s)
	}
	if name, alias, ok := strings.Cut(rest, "@"); ok {
		if name == "" || strings.Contains(name, "/") || alias == "" {
			return ModelURI{}, Errorf(EINVALID, "Invalid model URI %q: expected models:/<name>@<alias>", s)
		}
		return ModelURI{Name: name, Alias: alias}, nil
	}
	name, suffix, ok := strings.Cut(rest, "/")
	if !ok || name == "" || suffix == "" || strings.Contains(suffix, "/") {
		return ModelURI{}, Errorf(EINVALID, "Invalid model URI %q: expected models:/<name>/<version|stage|latest> or models:/<name>@<alias>", s)
	}
	if _, err := strconv.ParseUint(suffix, 10, 64); err == nil {
		return ModelURI{Name: name, Version: suffix}, nil
	}
	if strings.EqualFold(suffix, "latest") {
		return ModelURI{Name: name, Latest: true}, nil
	}
	if st, ok := CanonicalStage(suffix); ok {
		return ModelURI{Name: name, Stage: st}, nil
	}
	return ModelURI{}, Errorf(EINVALID, "Invalid model URI %q: %q is not a version number, a stage (None, Staging, Production, Archived) or 'latest'", s, suffix)
}

// ResolveModelURI returns the model version u refers to: the version
// itself, the alias's target, the newest version in a stage, or the newest
// version overall. ENOTFOUND names what could not be found.
func ResolveModelURI(ctx context.Context, reg ModelRegistry, u ModelURI) (*ModelVersion, error) {
	switch {
	case u.Alias != "":
		return reg.GetVersionByAlias(ctx, u.Name, u.Alias)
	case u.Version != "":
		return reg.GetModelVersion(ctx, u.Name, u.Version)
	}
	var stages []string
	if u.Stage != "" {
		stages = []string{u.Stage}
	}
	vs, err := reg.GetLatestVersions(ctx, u.Name, stages)
	if err != nil {
		return nil, err
	}
	var best *ModelVersion
	for _, v := range vs {
		if best == nil || versionLess(best.Version, v.Version) {
			best = v
		}
	}
	if best == nil {
		if u.Stage != "" {
			return nil, Errorf(ENOTFOUND, "No versions of model with name '%s' and stage '%s' found", u.Name, u.Stage)
		}
		return nil, Errorf(ENOTFOUND, "No versions of model with name '%s' found", u.Name)
	}
	return best, nil
}

func versionLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// ModelPackage is what inspecting a model version's source found: the
// directory holding an MLmodel file.
type ModelPackage struct {
	Flavors   []string // flavor names, sorted
	Signature string   // JSON {"inputs": [...], "outputs": [...], "params": [...]}, "" if none
	SizeBytes int64    // total bytes of every file in the package
	Digest    string   // "blake3:<hex>" over the sorted (path, size, file digest) list
}

// PackageInspector reads the model package at a model version's source
// (e.g. "mlflow-artifacts:/1/<run>/artifacts/model") so the registry can
// record its signature, size and digest. It returns ENOTFOUND when the
// source holds no MLmodel file or is outside the artifact store it reads
// (the version is then registered without package details, as MLflow
// accepts any source), and EINVALID naming the key for a malformed MLmodel.
type PackageInspector interface {
	InspectPackage(ctx context.Context, source string) (ModelPackage, error)
}

// MaxModelSourceHops bounds how many models:/ sources ModelVersionStorePath
// follows (a version registered from another version's URI, and so on).
const MaxModelSourceHops = 10

// ModelVersionStorePath returns the artifact-store path of v's model
// package: the path of an "mlflow-artifacts:/..." source (an authority, as
// in "mlflow-artifacts://host/path", is dropped), following "models:/"
// sources to the version they copy. Any other source (s3://, file://, a
// plain path) is EINVALID: it is outside loopml's artifact store.
func ModelVersionStorePath(ctx context.Context, reg ModelRegistry, v *ModelVersion) (string, error) {
	for hop := 0; ; hop++ {
		src := v.Source
		if rest, ok := strings.CutPrefix(src, "mlflow-artifacts:"); ok {
			if strings.HasPrefix(rest, "//") {
				rest = rest[2:]
				if i := strings.IndexByte(rest, '/'); i >= 0 {
					rest = rest[i:]
				} else {
					rest = ""
				}
			}
			p, err := CleanArtifactPath(strings.TrimLeft(rest, "/"))
			if err != nil {
				return "", Errorf(EINVALID, "source %q of model version %s/%s: %s", src, v.Name, v.Version, ErrorMessage(err))
			}
			return p, nil
		}
		if !strings.HasPrefix(src, "models:") {
			return "", Errorf(EINVALID, "source %q of model version %s/%s is outside loopml's artifact store (only mlflow-artifacts:/ and models:/ sources are)", src, v.Name, v.Version)
		}
		if hop >= MaxModelSourceHops {
			return "", Errorf(EINVALID, "source of model version %s/%s: more than %d models:/ hops", v.Name, v.Version, MaxModelSourceHops)
		}
		u, err := ParseModelURI(src)
		if err != nil {
			return "", err
		}
		if v, err = ResolveModelURI(ctx, reg, u); err != nil {
			return "", err
		}
	}
}
