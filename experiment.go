package loopml

import "context"

// Lifecycle stages of experiments and runs (soft delete).
const (
	LifecycleActive  = "active"
	LifecycleDeleted = "deleted"
)

// DefaultExperimentID is the id of the experiment named DefaultExperimentName
// that every store creates; MLflow's fluent API falls back to it.
const (
	DefaultExperimentID   = "0"
	DefaultExperimentName = "Default"
)

// ViewType selects active, deleted or all objects in searches (MLflow
// ViewType: ACTIVE_ONLY=1, DELETED_ONLY=2, ALL=3). The zero value is
// ActiveOnly.
type ViewType int

// View types.
const (
	ActiveOnly  ViewType = 0
	DeletedOnly ViewType = 2
	AllView     ViewType = 3
)

// Experiment groups runs. IDs are decimal strings ("0", "1", ...).
type Experiment struct {
	ID               string
	Workspace        string
	Name             string
	ArtifactLocation string
	LifecycleStage   string
	CreationTime     int64 // epoch milliseconds
	LastUpdateTime   int64 // epoch milliseconds
	Tags             []Tag
}

// ExperimentSearch is a query over experiments. Filter uses MLflow's search
// grammar over attributes name, creation_time, last_update_time and tags
// (see ParseExperimentFilter); OrderBy entries are like "name ASC" or
// "creation_time DESC" (default "creation_time DESC", ties broken by
// experiment_id ASC, as MLflow). MaxResults 0 means
// DefaultSearchExperimentsResults; at most MaxSearchExperimentsResults.
type ExperimentSearch struct {
	Filter     string
	OrderBy    []string
	ViewType   ViewType
	MaxResults int
	PageToken  string
}

// Search limits shared by every store.
const (
	DefaultSearchExperimentsResults = 1000
	MaxSearchExperimentsResults     = 50000
	DefaultSearchRunsResults        = 1000
	MaxSearchRunsResults            = 50000
)

// ExperimentService manages experiments. All methods are safe for concurrent
// use. Mutations record the principal and workspace from ctx.
type ExperimentService interface {
	// CreateExperiment stores e and sets e.ID, e.LifecycleStage,
	// e.CreationTime, e.LastUpdateTime, e.Workspace and, when empty,
	// e.ArtifactLocation ("mlflow-artifacts:/<id>"). Returns EINVALID for a
	// missing or over-long name and ECONFLICT if an experiment with that name
	// exists, deleted or not.
	CreateExperiment(ctx context.Context, e *Experiment) error

	// GetExperiment returns ENOTFOUND if no experiment has that id.
	GetExperiment(ctx context.Context, id string) (*Experiment, error)

	// GetExperimentByName returns ENOTFOUND if no experiment has that name.
	GetExperimentByName(ctx context.Context, name string) (*Experiment, error)

	// SearchExperiments returns one page of experiments and the token of the
	// next page ("" on the last page). Returns EINVALID for a bad filter,
	// order_by, max_results or page token.
	SearchExperiments(ctx context.Context, q ExperimentSearch) ([]*Experiment, string, error)

	// RenameExperiment returns ENOTFOUND, EINVALID for an empty name and
	// ECONFLICT if the new name is taken.
	RenameExperiment(ctx context.Context, id, newName string) error

	// DeleteExperiment soft-deletes the experiment and its runs. Returns
	// ENOTFOUND; EINVALID for the default experiment.
	DeleteExperiment(ctx context.Context, id string) error

	// RestoreExperiment undoes DeleteExperiment. Returns ENOTFOUND.
	RestoreExperiment(ctx context.Context, id string) error

	// SetExperimentTag creates or overwrites a tag. Returns ENOTFOUND,
	// EINVALID for a bad key or value and for a deleted experiment.
	SetExperimentTag(ctx context.Context, id string, tag Tag) error
}
