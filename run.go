package loopml

import "context"

// Run statuses (MLflow RunStatus).
const (
	RunRunning   = "RUNNING"
	RunScheduled = "SCHEDULED"
	RunFinished  = "FINISHED"
	RunFailed    = "FAILED"
	RunKilled    = "KILLED"
)

// Well-known run tags.
const (
	TagRunName     = "mlflow.runName"
	TagParentRunID = "mlflow.parentRunId"
	TagUser        = "mlflow.user"
)

// IsValidRunStatus reports whether s is one of the Run* statuses.
func IsValidRunStatus(s string) bool {
	switch s {
	case RunRunning, RunScheduled, RunFinished, RunFailed, RunKilled:
		return true
	}
	return false
}

// Run is one execution of training (or any) code. IDs are 32 lowercase hex
// digits. Metrics holds the latest value of each metric key (highest step,
// then latest timestamp, then largest value).
type Run struct {
	ID             string
	ExperimentID   string
	Name           string
	UserID         string
	Status         string
	StartTime      int64 // epoch ms
	EndTime        int64 // epoch ms, 0 while unset
	ArtifactURI    string
	LifecycleStage string

	Metrics []Metric
	Params  []Param
	Tags    []Tag
	Inputs  []DatasetInput
}

// Tag is a mutable key/value pair on an experiment or run.
type Tag struct {
	Key   string
	Value string
}

// Param is a write-once key/value pair on a run.
type Param struct {
	Key   string
	Value string
}

// RunUpdate holds the fields of a run to change; nil fields are left alone.
type RunUpdate struct {
	Status  *string
	EndTime *int64
	Name    *string
}

// RunSearch is a query over runs. Filter uses MLflow's grammar (see
// ParseRunFilter); OrderBy entries are like "metrics.rmse ASC" (see
// ParseRunOrderBy; default "attributes.start_time DESC"). MaxResults 0 means
// DefaultSearchRunsResults.
type RunSearch struct {
	ExperimentIDs []string
	Filter        string
	OrderBy       []string
	ViewType      ViewType
	MaxResults    int
	PageToken     string
}

// Batch is what one log-batch call writes: all of it or nothing.
type Batch struct {
	Metrics []Metric
	Params  []Param
	Tags    []Tag
}

// RunService manages runs and what is logged to them. All methods are safe
// for concurrent use.
type RunService interface {
	// CreateRun stores r (ExperimentID, Name, UserID, StartTime, Tags are
	// read) and fills in ID, Status (RUNNING), LifecycleStage, ArtifactURI
	// ("<experiment artifact location>/<run id>/artifacts") and Name (the
	// mlflow.runName tag, or a generated name). Name and the mlflow.runName
	// tag are kept in sync. Returns ENOTFOUND for an unknown experiment and
	// EINVALID for a deleted one or bad tags.
	CreateRun(ctx context.Context, r *Run) error

	// GetRun returns the run with its latest metrics, params, tags and
	// inputs. Returns ENOTFOUND.
	GetRun(ctx context.Context, id string) (*Run, error)

	// UpdateRun changes status, end time and/or name and returns the updated
	// run. Returns ENOTFOUND, EINVALID for a bad status.
	UpdateRun(ctx context.Context, id string, u RunUpdate) (*Run, error)

	// DeleteRun soft-deletes a run; RestoreRun undoes it. Return ENOTFOUND.
	DeleteRun(ctx context.Context, id string) error
	RestoreRun(ctx context.Context, id string) error

	// SearchRuns returns one page of runs and the next page token ("" on the
	// last page). Returns EINVALID for a bad filter, order_by, max_results or
	// page token.
	SearchRuns(ctx context.Context, q RunSearch) ([]*Run, string, error)

	// LogBatch writes metrics (appended), params (write-once: the same value
	// again is accepted, a different one is EINVALID) and tags (overwritten)
	// atomically: on any error nothing is written. Returns ENOTFOUND for an
	// unknown run, EINVALID for a deleted run, a batch over the limits
	// (Batch.Validate) or bad keys/values. When LogBatch returns nil the data
	// is durable against a process crash.
	LogBatch(ctx context.Context, runID string, b Batch) error

	// DeleteTag removes a run tag. Returns ENOTFOUND for an unknown run or
	// tag, EINVALID for a deleted run.
	DeleteTag(ctx context.Context, runID, key string) error

	// LogInputs links dataset inputs to a run (idempotent for the same
	// dataset name+digest). Returns ENOTFOUND, EINVALID.
	LogInputs(ctx context.Context, runID string, inputs []DatasetInput) error

	// GetMetricHistory returns one page of every point logged for one
	// metric, ordered by step, then timestamp, then logging order, and the
	// next page token. Returns ENOTFOUND for an unknown run; an unknown key
	// gives an empty history.
	GetMetricHistory(ctx context.Context, q MetricHistoryQuery) ([]Metric, string, error)

	// GetMetricHistoryBulkInterval returns, for up to 100 runs, the points of
	// one metric at no more than MaxResults steps sampled evenly across the
	// steps in [StartStep, EndStep] (the first and last step always
	// included), as the MLflow UI's chart view asks for them.
	GetMetricHistoryBulkInterval(ctx context.Context, q MetricBulkIntervalQuery) ([]RunMetric, error)
}
