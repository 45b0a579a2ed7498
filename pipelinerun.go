package loopml

import (
	"context"
	"strings"
	"time"
)

// Kinds of stored pipeline triggers.
const (
	TriggerCron  = "cron"  // fires on a cron schedule (Schedule)
	TriggerData  = "data"  // fires when Dataset gets a new latest version
	TriggerModel = "model" // fires on a registry event of Model ("NAME" or "NAME@ALIAS")
	TriggerAPI   = "api"   // fires only when called (API or webhook)
)

// Concurrency policies of pipeline triggers and submissions: what happens
// to a new run of a pipeline that has a run queued or running.
const (
	PipelinePolicySkip    = "skip"    // the new run is refused
	PipelinePolicyQueue   = "queue"   // it waits for the others (one runs at a time)
	PipelinePolicyReplace = "replace" // queued runs are cancelled, the running one is asked to stop
)

// Statuses of a pipeline run.
const (
	PipelineQueued    = "queued"
	PipelineRunning   = "running"
	PipelineSucceeded = "succeeded"
	PipelineFailed    = "failed"
	PipelineCancelled = "cancelled"
)

// MaxPipelineSpecBytes bounds the spec text stored with a trigger or run.
const MaxPipelineSpecBytes = 1 << 20

// PipelineSource says where a server-side run reads its pipeline: a path
// on the server (a loopml.yaml file or the directory holding one), or the
// spec text itself with the working directory its relative paths resolve
// against. Set overrides parameters ("key=value", as loopml run --set).
type PipelineSource struct {
	Path string   `json:"path,omitempty"`
	Spec string   `json:"spec,omitempty"`
	Dir  string   `json:"dir,omitempty"`
	Set  []string `json:"set,omitempty"`
}

// Validate checks that exactly one of Path and Spec is set, and that spec
// text comes with a working directory.
func (s *PipelineSource) Validate() error {
	switch {
	case s.Path == "" && s.Spec == "":
		return Errorf(EINVALID, "Missing value for required parameter 'path' (or 'spec')")
	case s.Path != "" && s.Spec != "":
		return Errorf(EINVALID, "Invalid value for parameter 'spec': give either 'path' or 'spec', not both")
	case s.Spec != "" && s.Dir == "":
		return Errorf(EINVALID, "Missing value for required parameter 'dir': spec text needs the working directory its paths resolve against")
	case len(s.Spec) > MaxPipelineSpecBytes:
		return Errorf(EINVALID, "Invalid value for parameter 'spec': %d bytes, at most %d", len(s.Spec), MaxPipelineSpecBytes)
	}
	for _, kv := range s.Set {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return Errorf(EINVALID, "Invalid value for parameter 'set': %q is not key=value", kv)
		}
	}
	return nil
}

// PipelineTrigger is a stored trigger: what starts runs of a pipeline on
// the server. Names are unique per workspace.
type PipelineTrigger struct {
	Name      string         `json:"name"`
	Workspace string         `json:"workspace"` // assigned by the store from the context
	Pipeline  string         `json:"pipeline"`  // the pipeline's name: the unit of the concurrency policy
	Source    PipelineSource `json:"source"`
	Kind      string         `json:"kind"`               // TriggerCron, TriggerData, TriggerModel or TriggerAPI
	Schedule  string         `json:"schedule,omitempty"` // cron expression (kind cron)
	Dataset   string         `json:"dataset,omitempty"`  // dataset name (kind data)
	Model     string         `json:"model,omitempty"`    // NAME or NAME@ALIAS (kind model)
	// RequireValidation fires a data trigger only for versions whose
	// validation passed.
	RequireValidation bool   `json:"require_validation,omitempty"`
	Policy            string `json:"policy"` // PipelinePolicy*; default skip
	Enabled           bool   `json:"enabled"`
	// NextFireAt (epoch ms, cron) and Cursor (the last dataset version or
	// registry event seen) are the trigger's state, advanced by a
	// compare-and-set (FirePipelineTrigger) so that each tick or version
	// fires once across server replicas. Both are zero until a scheduler
	// first looks at the trigger.
	NextFireAt           int64  `json:"next_fire_at,omitempty"`
	Cursor               string `json:"cursor,omitempty"`
	CreatedBy            string `json:"created_by"`
	CreationTimestamp    int64  `json:"creation_timestamp"`
	LastUpdatedTimestamp int64  `json:"last_updated_timestamp"`
}

// ValidatePipelineTrigger checks the fields a caller sets (the cron
// expression's syntax is checked by the pipeline package).
func ValidatePipelineTrigger(t *PipelineTrigger) error {
	if t.Name == "" {
		return Errorf(EINVALID, "Missing value for required parameter 'name'")
	}
	if len(t.Name) > 128 || strings.ContainsAny(t.Name, "/ \t\n") {
		return Errorf(EINVALID, "Invalid value for parameter 'name': %q (at most 128 characters, no '/' or spaces)", t.Name)
	}
	if err := t.Source.Validate(); err != nil {
		return err
	}
	need := func(field, v string) error {
		if v == "" {
			return Errorf(EINVALID, "Missing value for required parameter '%s' (trigger kind %s)", field, t.Kind)
		}
		return nil
	}
	var err error
	switch t.Kind {
	case TriggerCron:
		err = need("schedule", t.Schedule)
	case TriggerData:
		err = need("dataset", t.Dataset)
	case TriggerModel:
		err = need("model", t.Model)
	case TriggerAPI:
	case "":
		return Errorf(EINVALID, "Missing value for required parameter 'kind' (cron, data, model or api)")
	default:
		return Errorf(EINVALID, "Invalid value for parameter 'kind': %q, want cron, data, model or api", t.Kind)
	}
	if err != nil {
		return err
	}
	if t.Policy == "" {
		t.Policy = PipelinePolicySkip
	}
	return ValidatePipelinePolicy(t.Policy)
}

// ValidatePipelinePolicy checks a concurrency policy.
func ValidatePipelinePolicy(p string) error {
	switch p {
	case PipelinePolicySkip, PipelinePolicyQueue, PipelinePolicyReplace:
		return nil
	}
	return Errorf(EINVALID, "Invalid value for parameter 'policy': %q, want skip, queue or replace", p)
}

// PipelineRun is a server-side pipeline run: queued, then claimed by one
// runner (a server replica) under a lease that the runner renews, and
// finished with a status. TrackingRunID is the tracking run that records
// its stages.
type PipelineRun struct {
	ID        string         `json:"id"`
	Workspace string         `json:"workspace"`
	Pipeline  string         `json:"pipeline"`
	Trigger   string         `json:"trigger,omitempty"`
	StartedBy string         `json:"started_by"` // "schedule 0 3 * * *", "data ratings@v7", "api", "user alice"
	Source    PipelineSource `json:"source"`
	Policy    string         `json:"policy"`
	Status    string         `json:"status"`
	Reason    string         `json:"reason,omitempty"` // why it failed or was cancelled
	// Runner and LeaseExpiresAt (epoch ms) are set while it runs.
	Runner          string `json:"runner,omitempty"`
	LeaseExpiresAt  int64  `json:"lease_expires_at,omitempty"`
	CancelRequested bool   `json:"cancel_requested,omitempty"`
	TrackingRunID   string `json:"tracking_run_id,omitempty"`
	CreatedBy       string `json:"created_by"`
	QueuedAt        int64  `json:"queued_at"`
	StartTime       int64  `json:"start_time,omitempty"`
	EndTime         int64  `json:"end_time,omitempty"`
}

// Terminal reports whether the run has ended.
func (r *PipelineRun) Terminal() bool {
	return r.Status == PipelineSucceeded || r.Status == PipelineFailed || r.Status == PipelineCancelled
}

// PipelineRunQuery filters ListPipelineRuns; zero fields do not filter.
// Runs come newest first.
type PipelineRunQuery struct {
	Pipeline   string
	Trigger    string
	Status     string
	MaxResults int // 0: 100
}

// PipelineFire asks FirePipelineTrigger to start a run of a trigger.
// When Check is set, the trigger's state must still be From (else nothing
// happens: another replica fired this tick or version) and becomes To in
// the same transaction as the run is queued; with Start false only the
// state moves (a scheduler's first look at a trigger).
type PipelineFire struct {
	Trigger   string
	StartedBy string
	Check     bool
	From, To  PipelineTriggerState
	Start     bool
}

// PipelineTriggerState is the part of a trigger that firing advances.
type PipelineTriggerState struct {
	NextFireAt int64
	Cursor     string
}

// PipelineHeartbeat renews a runner's lease on a run.
type PipelineHeartbeat struct {
	ID            string
	Runner        string
	Lease         time.Duration
	TrackingRunID string // recorded when not ""
}

// PipelineService stores pipeline triggers and server-side pipeline runs.
// Triggers and runs belong to the context's workspace; the scheduler
// methods (ScanPipelineTriggers, ClaimPipelineRun, ExpirePipelineLeases)
// span every workspace and return objects carrying theirs.
//
// Runs are claimed, heartbeated, finished and expired by compare-and-set,
// so that several server replicas on one database never run the same run
// twice, and a run whose runner died (no heartbeat before its lease
// expired) is failed with the reason by whichever replica scans first.
type PipelineService interface {
	CreatePipelineTrigger(ctx context.Context, t *PipelineTrigger) error
	GetPipelineTrigger(ctx context.Context, name string) (*PipelineTrigger, error)
	ListPipelineTriggers(ctx context.Context) ([]*PipelineTrigger, error)
	DeletePipelineTrigger(ctx context.Context, name string) error
	// ScanPipelineTriggers returns the enabled triggers of every
	// workspace.
	ScanPipelineTriggers(ctx context.Context) ([]*PipelineTrigger, error)
	// FirePipelineTrigger queues a run of the trigger under its policy
	// (see PipelineFire). It returns the queued run; nil and no error
	// when the state check failed or (Start false) only the state moved;
	// an ECONFLICT error when the policy is skip and the pipeline has a
	// run queued or running (the state still moves).
	FirePipelineTrigger(ctx context.Context, f PipelineFire) (*PipelineRun, error)

	// SubmitPipelineRun queues r (Pipeline, Source, StartedBy, Policy,
	// Trigger are read; the rest is assigned). Policy skip: ECONFLICT
	// when the pipeline has a run queued or running; replace: its queued
	// runs are cancelled and its running run asked to stop.
	SubmitPipelineRun(ctx context.Context, r *PipelineRun) error
	GetPipelineRun(ctx context.Context, id string) (*PipelineRun, error)
	ListPipelineRuns(ctx context.Context, q PipelineRunQuery) ([]*PipelineRun, error)
	// CancelPipelineRun cancels a queued run at once and asks a running
	// one to stop (its runner sees it on its next heartbeat). Ended runs
	// are left as they are.
	CancelPipelineRun(ctx context.Context, id, reason string) (*PipelineRun, error)

	// ClaimPipelineRun moves the oldest queued run whose pipeline has no
	// run running to running, owned by runner until now+lease; nil when
	// there is none.
	ClaimPipelineRun(ctx context.Context, runner string, lease time.Duration) (*PipelineRun, error)
	// HeartbeatPipelineRun extends the lease; ECONFLICT when the runner
	// no longer owns a running run (its lease expired and it was
	// failed). It returns the run (CancelRequested tells the runner to
	// stop).
	HeartbeatPipelineRun(ctx context.Context, h PipelineHeartbeat) (*PipelineRun, error)
	// FinishPipelineRun ends a run the runner owns with status and
	// reason; ECONFLICT when it no longer owns it.
	FinishPipelineRun(ctx context.Context, id, runner, status, reason, trackingRunID string) error
	// ExpirePipelineLeases fails every running run whose lease expired
	// ("runner X lost its lease at T") and returns them.
	ExpirePipelineLeases(ctx context.Context) ([]*PipelineRun, error)
}
