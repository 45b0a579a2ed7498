package loopml

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Registry event types recorded for serving endpoints. Each is recorded
// once for every registered model an endpoint references (targets, shadow
// targets and a rollout's candidate), in the same transaction as the
// endpoint change, with RegistryEvent.Endpoint set and the numbers of the
// decision in RegistryEvent.Detail (JSON).
const (
	EventEndpointCreated   = "endpoint_created"
	EventEndpointUpdated   = "endpoint_updated" // targets, weights, shadow, sticky header or default changed
	EventEndpointDeleted   = "endpoint_deleted"
	EventRolloutStarted    = "rollout_started"
	EventRolloutStep       = "rollout_step"        // the candidate's share moved to the next step
	EventRolloutPromoted   = "rollout_promoted"    // all steps passed: the candidate serves alone
	EventRolloutRolledBack = "rollout_rolled_back" // a guard failed: the baseline serves alone again
	EventRolloutAborted    = "rollout_aborted"     // stopped by a user
)

// EndpointEventTypes lists the endpoint and rollout event types.
var EndpointEventTypes = []string{
	EventEndpointCreated, EventEndpointUpdated, EventEndpointDeleted,
	EventRolloutStarted, EventRolloutStep, EventRolloutPromoted, EventRolloutRolledBack, EventRolloutAborted,
}

// MaxEndpointNameLen bounds endpoint names.
const MaxEndpointNameLen = 128

// MaxEndpointWeight bounds a target's weight (weights are relative).
const MaxEndpointWeight = 1_000_000_000

// EndpointTarget is one model reference of an endpoint and its share of
// the traffic. Weights are relative; when every target has weight 0 they
// share the traffic equally.
type EndpointTarget struct {
	Model  string `json:"model"` // models:/name@alias, models:/name/3, models:/name/Production, models:/name/latest
	Weight int    `json:"weight"`
}

// Endpoint is a stored serving endpoint: a named route to weighted model
// targets, shadow targets that get a copy of the traffic, and optionally a
// rollout in progress. Names are unique per workspace.
type Endpoint struct {
	Name         string
	Workspace    string // assigned by the store from the context
	Targets      []EndpointTarget
	Shadow       []EndpointTarget
	StickyHeader string // request header whose value makes routing sticky; "" = random
	Default      bool   // also answers POST /invocations
	Rollout      *Rollout
	// Generation is assigned by the store and increases on every change of
	// any endpoint of the workspace (see EndpointService). An update must
	// name the generation it read (optimistic concurrency).
	Generation           int64
	CreatedBy            string
	CreationTimestamp    int64 // epoch ms
	LastUpdatedTimestamp int64 // epoch ms
}

// Clone returns a deep copy of e.
func (e *Endpoint) Clone() *Endpoint {
	c := *e
	c.Targets = slices.Clone(e.Targets)
	c.Shadow = slices.Clone(e.Shadow)
	if e.Rollout != nil {
		r := *e.Rollout
		r.Steps = slices.Clone(e.Rollout.Steps)
		r.Baseline = slices.Clone(e.Rollout.Baseline)
		c.Rollout = &r
	}
	return &c
}

// Models returns the registered model names e references (targets, shadow
// targets, a rollout's candidate), sorted and without duplicates.
func (e *Endpoint) Models() []string {
	var out []string
	add := func(uri string) {
		if u, err := ParseModelURI(uri); err == nil {
			out = append(out, u.Name)
		}
	}
	for _, t := range e.Targets {
		add(t.Model)
	}
	for _, t := range e.Shadow {
		add(t.Model)
	}
	if e.Rollout != nil {
		add(e.Rollout.Candidate)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ValidateEndpointName checks an endpoint name: non-empty, at most
// MaxEndpointNameLen characters, only letters, digits, '-', '_' and '.'
// (it appears in URL paths).
func ValidateEndpointName(name string) error {
	if name == "" {
		return Errorf(EINVALID, "Missing value for required parameter 'name'")
	}
	if len(name) > MaxEndpointNameLen {
		return Errorf(EINVALID, "Invalid value for parameter 'name': %.40q... is longer than %d characters", name, MaxEndpointNameLen)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return Errorf(EINVALID, "Invalid value for parameter 'name': %q may hold only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// ValidateEndpoint checks the user-supplied fields of e: the name, at least
// one target, parseable model URIs, weights >= 0, a valid sticky header
// name and the rollout, if any. Errors are EINVALID naming the field.
func ValidateEndpoint(e *Endpoint) error {
	if e == nil {
		return Errorf(EINVALID, "Missing value for required parameter 'endpoint'")
	}
	if err := ValidateEndpointName(e.Name); err != nil {
		return err
	}
	if len(e.Targets) == 0 {
		return Errorf(EINVALID, "Invalid value for parameter 'targets': endpoint %q needs at least one target", e.Name)
	}
	check := func(field string, ts []EndpointTarget) error {
		seen := map[string]bool{}
		for i, t := range ts {
			u, err := ParseModelURI(t.Model)
			if err != nil {
				return Errorf(EINVALID, "Invalid value for parameter '%s[%d].model': %s", field, i, ErrorMessage(err))
			}
			if seen[u.String()] {
				return Errorf(EINVALID, "Invalid value for parameter '%s[%d].model': %s is listed twice", field, i, t.Model)
			}
			seen[u.String()] = true
			if t.Weight < 0 || t.Weight > MaxEndpointWeight {
				return Errorf(EINVALID, "Invalid value for parameter '%s[%d].weight': %d must be >= 0 and <= %d", field, i, t.Weight, MaxEndpointWeight)
			}
		}
		return nil
	}
	if err := check("targets", e.Targets); err != nil {
		return err
	}
	if err := check("shadow", e.Shadow); err != nil {
		return err
	}
	for _, c := range e.StickyHeader {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return Errorf(EINVALID, "Invalid value for parameter 'sticky_header': %q is not a valid header name", e.StickyHeader)
		}
	}
	if e.Rollout != nil {
		if err := ValidateRollout(e.Rollout); err != nil {
			return err
		}
	}
	return nil
}

// EndpointChange describes why an endpoint changed, for the registry event
// log: the event type (an Event* constant of EndpointEventTypes; "" is
// EventEndpointUpdated), a free-text reason and a JSON detail (the weights
// and metrics at the time), each "" when there is nothing to say.
type EndpointChange struct {
	Event  string
	Reason string
	Detail string
}

// EndpointService stores serving endpoints. Every method works in the
// workspace of ctx; mutations record the principal of ctx and append one
// registry event per referenced model in the same transaction. Safe for
// concurrent use by several processes sharing one database.
type EndpointService interface {
	// CreateEndpoint validates e (ValidateEndpoint), assigns Workspace,
	// Generation, CreatedBy and timestamps. ECONFLICT for a duplicate name.
	CreateEndpoint(ctx context.Context, e *Endpoint) error
	// GetEndpoint returns an endpoint, or ENOTFOUND.
	GetEndpoint(ctx context.Context, name string) (*Endpoint, error)
	// ListEndpoints returns the endpoints of the workspace ordered by name.
	ListEndpoints(ctx context.Context) ([]*Endpoint, error)
	// UpdateEndpoint replaces the mutable fields of the endpoint e.Name
	// (targets, shadow, sticky header, default, rollout) with e's, if its
	// stored generation is still e.Generation (compare-and-set), and sets
	// e.Generation and the timestamps to the new values. ENOTFOUND,
	// EINVALID, and ECONFLICT when the generation moved (another writer
	// changed the endpoint first: re-read and retry).
	UpdateEndpoint(ctx context.Context, e *Endpoint, c EndpointChange) error
	// DeleteEndpoint deletes an endpoint. ENOTFOUND.
	DeleteEndpoint(ctx context.Context, name string) error
	// EndpointsGeneration returns the generation of the workspace's
	// endpoints: it increases whenever any endpoint is created, updated or
	// deleted, so a poller re-reads the list only when it changed. 0 when
	// no endpoint was ever stored.
	EndpointsGeneration(ctx context.Context) (int64, error)
}

// Rollout states.
const (
	RolloutRunning    = "running"     // shadow phase or canary steps in progress
	RolloutPromoting  = "promoting"   // all steps passed; the alias is being moved
	RolloutPromoted   = "promoted"    // done: the candidate serves alone
	RolloutRolledBack = "rolled_back" // a guard failed: the baseline serves alone
	RolloutAborted    = "aborted"     // stopped by a user: the baseline serves alone
)

// RolloutCanary is the only rollout strategy: shift the candidate's share
// of the traffic step by step.
const RolloutCanary = "canary"

// Rollout is a canary rollout of a candidate model to an endpoint: the
// candidate's share of the traffic moves through Steps (percentages), each
// held for IntervalMs while the candidate is compared with the baseline
// targets; a failing guard rolls back, passing every step promotes.
type Rollout struct {
	Candidate string `json:"candidate"` // model URI of the new target, e.g. models:/recs/8
	Strategy  string `json:"strategy"`  // RolloutCanary
	Steps     []int  `json:"steps"`     // increasing percentages in (0, 100]
	// IntervalMs is how long each step lasts before it is judged.
	IntervalMs int64 `json:"interval_ms"`
	// ShadowFirstMs, when > 0, runs the candidate as a shadow target for
	// that long before the first step.
	ShadowFirstMs int64 `json:"shadow_first_ms,omitempty"`
	// Guards; 0 disables MaxP99Ratio and MaxMetricRegression.
	MaxErrorRate        float64 `json:"max_error_rate"`                  // candidate errors / requests
	MaxP99Ratio         float64 `json:"max_p99_ratio,omitempty"`         // candidate p99 / baseline p99
	MaxMetricRegression float64 `json:"max_metric_regression,omitempty"` // relative RMSE (or MAE, or mean reward) regression
	// MinSamples is the number of candidate requests a step needs before
	// it is judged.
	MinSamples int64 `json:"min_samples"`
	// PromoteAlias, when set, is moved to the candidate's version on
	// promotion and the endpoint then targets models:/<name>@<alias> only.
	PromoteAlias string `json:"promote_alias,omitempty"`

	// State, set by StartRollout and the controller.
	State         string           `json:"state"`
	Step          int              `json:"step"`            // index into Steps; -1 during the shadow phase
	Baseline      []EndpointTarget `json:"baseline"`        // the targets before the rollout, restored on rollback
	StartedAt     int64            `json:"started_at"`      // epoch ms
	StepStartedAt int64            `json:"step_started_at"` // epoch ms when the current step (or the shadow phase) began
	FinishedAt    int64            `json:"finished_at,omitempty"`
	StartedBy     string           `json:"started_by,omitempty"`
	Reason        string           `json:"reason,omitempty"` // why it finished (the failing guard and its numbers)
}

// Rollout defaults.
const (
	DefaultRolloutMinSamples   = 100
	DefaultRolloutMaxErrorRate = 0.01
)

// DefaultRolloutSteps are the canary steps when none are given.
var DefaultRolloutSteps = []int{5, 25, 50, 100}

// Active reports whether the rollout still changes the endpoint.
func (r *Rollout) Active() bool {
	return r != nil && (r.State == RolloutRunning || r.State == RolloutPromoting)
}

// ValidateRollout checks a rollout's parameters, filling in defaults
// (strategy canary, DefaultRolloutSteps, DefaultRolloutMinSamples).
// Errors are EINVALID naming the field.
func ValidateRollout(r *Rollout) error {
	u, err := ParseModelURI(r.Candidate)
	if err != nil {
		return Errorf(EINVALID, "Invalid value for parameter 'rollout.to': %s", ErrorMessage(err))
	}
	if r.PromoteAlias != "" {
		if err := ValidateAlias(r.PromoteAlias); err != nil {
			return Errorf(EINVALID, "Invalid value for parameter 'rollout.promote_alias': %s", ErrorMessage(err))
		}
		if u.Version == "" {
			return Errorf(EINVALID, "Invalid value for parameter 'rollout.to': %s must name a version (models:/name/8) to promote an alias to it", r.Candidate)
		}
	}
	if r.Strategy == "" {
		r.Strategy = RolloutCanary
	}
	if r.Strategy != RolloutCanary {
		return Errorf(EINVALID, "Invalid value %q for parameter 'rollout.strategy': want canary", r.Strategy)
	}
	if len(r.Steps) == 0 {
		r.Steps = slices.Clone(DefaultRolloutSteps)
	}
	prev := 0
	for i, s := range r.Steps {
		if s <= prev || s > 100 {
			return Errorf(EINVALID, "Invalid value for parameter 'rollout.steps[%d]': %d must be > %d and <= 100 (steps are increasing percentages)", i, s, prev)
		}
		prev = s
	}
	if r.IntervalMs <= 0 {
		return Errorf(EINVALID, "Invalid value for parameter 'rollout.interval': must be positive")
	}
	if r.ShadowFirstMs < 0 {
		return Errorf(EINVALID, "Invalid value for parameter 'rollout.shadow_first': must not be negative")
	}
	for name, v := range map[string]float64{"max_error_rate": r.MaxErrorRate, "max_p99_ratio": r.MaxP99Ratio, "max_metric_regression": r.MaxMetricRegression} {
		if v < 0 || v != v {
			return Errorf(EINVALID, "Invalid value for parameter 'rollout.%s': %v must be >= 0", name, v)
		}
	}
	if r.MinSamples < 0 {
		return Errorf(EINVALID, "Invalid value for parameter 'rollout.min_samples': %d must be >= 0", r.MinSamples)
	}
	if r.MinSamples == 0 {
		r.MinSamples = DefaultRolloutMinSamples
	}
	return nil
}

// StartRollout starts rollout r (validated, defaults filled in) on e at
// time now (epoch ms) by principal: the current targets become the
// baseline, and the candidate joins as a shadow target (ShadowFirstMs > 0)
// or at the first step's share. EINVALID when a rollout is already active
// or the candidate is already a target.
func StartRollout(e *Endpoint, r Rollout, now int64, principal string) error {
	if e.Rollout.Active() {
		return Errorf(EINVALID, "endpoint %q already has a rollout in progress (to %s): abort it first", e.Name, e.Rollout.Candidate)
	}
	if err := ValidateRollout(&r); err != nil {
		return err
	}
	cu, _ := ParseModelURI(r.Candidate)
	for _, t := range e.Targets {
		if u, err := ParseModelURI(t.Model); err == nil && u.String() == cu.String() {
			return Errorf(EINVALID, "Invalid value for parameter 'rollout.to': %s is already a target of endpoint %q", r.Candidate, e.Name)
		}
	}
	r.Candidate = cu.String()
	r.State = RolloutRunning
	r.Baseline = slices.Clone(e.Targets)
	r.StartedAt, r.StepStartedAt, r.FinishedAt = now, now, 0
	r.StartedBy = principal
	r.Reason = ""
	e.Shadow = slices.DeleteFunc(slices.Clone(e.Shadow), func(t EndpointTarget) bool { return sameModel(t.Model, r.Candidate) })
	if r.ShadowFirstMs > 0 {
		r.Step = -1
		e.Rollout = &r
		e.Shadow = append(e.Shadow, EndpointTarget{Model: r.Candidate})
		return nil
	}
	r.Step = 0
	e.Rollout = &r
	SetRolloutShare(e, r.Steps[0])
	return nil
}

func sameModel(a, b string) bool {
	ua, err1 := ParseModelURI(a)
	ub, err2 := ParseModelURI(b)
	return err1 == nil && err2 == nil && ua.String() == ub.String()
}

// SetRolloutShare sets e's targets to its rollout's baseline and candidate
// with the candidate receiving pct percent of the traffic and each
// baseline target its share of the rest, in basis points (weights sum to
// about 10000). The candidate is removed from the shadow targets.
func SetRolloutShare(e *Endpoint, pct int) {
	r := e.Rollout
	var sum int64
	for _, t := range r.Baseline {
		sum += int64(t.Weight)
	}
	rest := int64(100-pct) * 100
	targets := make([]EndpointTarget, 0, len(r.Baseline)+1)
	for _, t := range r.Baseline {
		w := rest / int64(max(len(r.Baseline), 1))
		if sum > 0 {
			w = int64(t.Weight) * rest / sum
		}
		targets = append(targets, EndpointTarget{Model: t.Model, Weight: int(w)})
	}
	targets = append(targets, EndpointTarget{Model: r.Candidate, Weight: pct * 100})
	e.Targets = targets
	e.Shadow = slices.DeleteFunc(e.Shadow, func(t EndpointTarget) bool { return sameModel(t.Model, r.Candidate) })
}

// FinishRollout ends e's rollout in state (RolloutRolledBack or
// RolloutAborted restore the baseline targets; RolloutPromoted makes the
// candidate, or the promote alias, the only target) at time now with a
// reason.
func FinishRollout(e *Endpoint, state, reason string, now int64) {
	r := e.Rollout
	r.State, r.Reason, r.FinishedAt = state, reason, now
	e.Shadow = slices.DeleteFunc(e.Shadow, func(t EndpointTarget) bool { return sameModel(t.Model, r.Candidate) })
	switch state {
	case RolloutPromoted:
		target := r.Candidate
		if r.PromoteAlias != "" {
			u, _ := ParseModelURI(r.Candidate)
			target = ModelURI{Name: u.Name, Alias: r.PromoteAlias}.String()
		}
		e.Targets = []EndpointTarget{{Model: target, Weight: 100}}
	case RolloutPromoting:
		e.Targets = []EndpointTarget{{Model: r.Candidate, Weight: 100}}
		r.FinishedAt = 0
	default:
		e.Targets = slices.Clone(r.Baseline)
	}
}

// RolloutDetail is the JSON detail of rollout events: where the rollout is
// and the numbers it was judged on.
type RolloutDetail struct {
	Candidate      string           `json:"candidate"`
	Step           int              `json:"step"`
	Percent        int              `json:"percent"`
	Targets        []EndpointTarget `json:"targets"`
	Guard          string           `json:"guard,omitempty"` // the failing guard: error_rate, p99_ratio, rmse, mae, mean_reward
	Observed       float64          `json:"observed,omitempty"`
	Limit          float64          `json:"limit,omitempty"`
	CandidateStats *TargetStats     `json:"candidate_stats,omitempty"`
	BaselineStats  *TargetStats     `json:"baseline_stats,omitempty"`
}

// JSON returns d as a JSON document.
func (d RolloutDetail) JSON() string {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Sprintf(`{"error": %q}`, err.Error())
	}
	return string(b)
}

// ModifyEndpoint reads endpoint name, applies fn to it and stores the
// result with a compare-and-set on the generation read, recording the
// change fn returns; when another writer changed the endpoint in between,
// it re-reads and retries (a few times, then returns the ECONFLICT). fn's
// error is returned as is and nothing is stored.
func ModifyEndpoint(ctx context.Context, s EndpointService, name string, fn func(e *Endpoint) (EndpointChange, error)) (*Endpoint, error) {
	const attempts = 5
	for i := 0; ; i++ {
		e, err := s.GetEndpoint(ctx, name)
		if err != nil {
			return nil, err
		}
		c, err := fn(e)
		if err != nil {
			return nil, err
		}
		err = s.UpdateEndpoint(ctx, e, c)
		if err == nil {
			return e, nil
		}
		if ErrorCode(err) != ECONFLICT || i+1 >= attempts {
			return nil, err
		}
	}
}

// StartEndpointRollout starts rollout r on the stored endpoint name at
// time now (epoch ms) by the principal of ctx (see StartRollout),
// recording a rollout_started event.
func StartEndpointRollout(ctx context.Context, s EndpointService, name string, r Rollout, now int64) (*Endpoint, error) {
	return ModifyEndpoint(ctx, s, name, func(e *Endpoint) (EndpointChange, error) {
		if err := StartRollout(e, r, now, PrincipalFromContext(ctx)); err != nil {
			return EndpointChange{}, err
		}
		ro := e.Rollout
		d := RolloutDetail{Candidate: ro.Candidate, Step: ro.Step, Targets: e.Targets}
		reason := "canary rollout to " + ro.Candidate
		if ro.Step >= 0 {
			d.Percent = ro.Steps[ro.Step]
		} else {
			reason += " (shadow first)"
		}
		return EndpointChange{Event: EventRolloutStarted, Reason: reason, Detail: d.JSON()}, nil
	})
}

// AbortEndpointRollout stops the active rollout of the stored endpoint
// name at time now: the baseline serves alone again (rollout_aborted
// event). EINVALID when no rollout is active.
func AbortEndpointRollout(ctx context.Context, s EndpointService, name, reason string, now int64) (*Endpoint, error) {
	return ModifyEndpoint(ctx, s, name, func(e *Endpoint) (EndpointChange, error) {
		if !e.Rollout.Active() {
			return EndpointChange{}, Errorf(EINVALID, "endpoint %q has no rollout in progress", e.Name)
		}
		if reason == "" {
			reason = "aborted by " + PrincipalFromContext(ctx)
		}
		FinishRollout(e, RolloutAborted, reason, now)
		d := RolloutDetail{Candidate: e.Rollout.Candidate, Step: e.Rollout.Step, Targets: e.Targets}
		return EndpointChange{Event: EventRolloutAborted, Reason: reason, Detail: d.JSON()}, nil
	})
}
