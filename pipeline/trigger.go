package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
	"github.com/robfig/cron/v3"
)

// Trigger starts runs of one pipeline through a Queue: on a cron schedule,
// when a dataset gets a new latest version, and/or on registry events (a
// new version of a model, an alias moved). Its state lives in the
// tracking store: the runs it started carry TagStartedBy ("schedule EXPR",
// "data NAME@vN"), from which a restarted trigger learns when it last
// fired and which versions it has seen, so a slot or a version is not
// started twice across restarts. One trigger per pipeline should run at a
// time; stored triggers run by a Scheduler are safe across replicas.
type Trigger struct {
	Spec    *Spec
	Options Options
	Policy  Policy // for every run it starts (default PolicySkip)
	// Cron is a standard 5-field expression (optionally "CRON_TZ=Zone ..."),
	// or a descriptor such as "@daily" or "@every 1h"; "" for none.
	Cron string
	// OnData names datasets whose new latest version starts a run
	// ("data NAME@vN"); quarantined versions are never latest.
	OnData []string
	// OnModel names registry events that start a run: "NAME" (a new
	// version of model NAME) or "NAME@ALIAS" (the alias set or moved).
	// They start "registry event ID: ..." runs; the registry is polled
	// every PollInterval.
	OnModel []string
	// RequireValidation starts runs only for versions whose latest
	// validation passed.
	RequireValidation bool
	// PollInterval is how often datasets are checked (0: 10s).
	PollInterval time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// OnEvent, when set, receives one line per trigger decision.
	OnEvent func(msg string)
}

// ParseCron checks a cron expression as Trigger.Cron takes it.
func ParseCron(expr string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "cron %q: %v", expr, err)
	}
	return s, nil
}

func (t *Trigger) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Trigger) event(format string, args ...any) {
	if t.OnEvent != nil {
		t.OnEvent(fmt.Sprintf(format, args...))
	}
}

// Run fires until ctx is cancelled, submitting runs to q (whose Deps it
// also reads the state from). It returns ctx's error, or an error for a
// bad expression or a store that cannot be read at start.
func (t *Trigger) Run(ctx context.Context, q *Queue) error {
	policy := t.Policy
	if policy == "" {
		policy = PolicySkip
	}
	deps := q.Deps
	var sched cron.Schedule
	var next time.Time
	if t.Cron != "" {
		s, err := ParseCron(t.Cron)
		if err != nil {
			return err
		}
		sched = s
		last, err := t.lastStart(ctx, deps, "schedule "+t.Cron)
		if err != nil {
			return err
		}
		if last.IsZero() {
			next = sched.Next(t.now())
		} else {
			// A slot missed while no trigger ran is fired once, now.
			next = sched.Next(last)
		}
	}
	seen := map[string]int{}
	for _, name := range t.OnData {
		n, err := t.lastDataVersion(ctx, deps, name)
		if err != nil {
			return err
		}
		if n == 0 { // never triggered: versions that exist now are not new
			if v, err := t.latest(ctx, deps, name); err == nil {
				n = v.Version
			}
		}
		seen[name] = n
	}
	var lastEvent int64
	if len(t.OnModel) > 0 {
		if deps.Registry == nil {
			return loopml.Errorf(loopml.EINVALID, "registry triggers need a model registry")
		}
		n, err := t.lastRegistryEvent(ctx, deps)
		if err != nil {
			return err
		}
		lastEvent = n
	}
	poll := t.PollInterval
	if poll <= 0 {
		poll = 10 * time.Second
	}
	submit := func(by string) {
		if _, err := q.Submit(t.Spec, t.Options, by, policy); err != nil {
			t.event("%s: not started: %s", by, loopml.ErrorMessage(err))
			return
		}
		t.event("%s: started a run of %s", by, t.Spec.Name)
	}
	for {
		wait := poll
		if len(t.OnData) == 0 && len(t.OnModel) == 0 {
			wait = time.Hour
		}
		if sched != nil {
			if d := next.Sub(t.now()); d < wait {
				wait = max(d, 0)
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		if sched != nil && !t.now().Before(next) {
			submit("schedule " + t.Cron)
			next = sched.Next(t.now())
		}
		for _, name := range t.OnData {
			v, err := t.latest(ctx, deps, name)
			if err != nil {
				if loopml.ErrorCode(err) != loopml.ENOTFOUND {
					t.event("data %s: %s", name, loopml.ErrorMessage(err))
				}
				continue
			}
			if v.Version <= seen[name] {
				continue
			}
			if t.RequireValidation && v.Validation != loopml.ValidationPassed {
				continue // checked again once it is validated
			}
			seen[name] = v.Version
			submit(fmt.Sprintf("data %s@v%d", name, v.Version))
		}
		if len(t.OnModel) > 0 {
			evs, err := t.registryEvents(ctx, deps, lastEvent)
			if err != nil {
				t.event("registry: %s", loopml.ErrorMessage(err))
				continue
			}
			for _, ev := range evs {
				lastEvent = ev.ID
				if what := t.matchEvent(ev); what != "" {
					submit(fmt.Sprintf("%s%d: %s", registryPrefix, ev.ID, what))
				}
			}
		}
	}
}

// registryPrefix starts the TagStartedBy of runs started by a registry
// event; the event id follows.
const registryPrefix = "registry event "

// matchEvent describes ev when one of OnModel asks for it, else "".
func (t *Trigger) matchEvent(ev loopml.RegistryEvent) string {
	for _, m := range t.OnModel {
		name, alias, hasAlias := strings.Cut(m, "@")
		switch {
		case ev.Model != name:
		case !hasAlias && ev.Type == loopml.EventVersionCreated:
			return fmt.Sprintf("new version %s/%s", ev.Model, ev.Version)
		case hasAlias && ev.Type == loopml.EventAliasSet && ev.Alias == alias:
			return fmt.Sprintf("%s@%s -> version %s", ev.Model, ev.Alias, ev.ToVersion)
		}
	}
	return ""
}

// registryEvents returns the events after id, in order.
func (t *Trigger) registryEvents(ctx context.Context, deps Deps, after int64) ([]loopml.RegistryEvent, error) {
	var out []loopml.RegistryEvent
	for {
		page, err := deps.Registry.RegistryEvents(ctx, loopml.RegistryEventQuery{AfterID: after, MaxResults: 1000})
		if err != nil {
			return out, err
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// lastRegistryEvent is the id of the newest event that started a run, or,
// when none did, of the newest event now (older events are not new).
func (t *Trigger) lastRegistryEvent(ctx context.Context, deps Deps) (int64, error) {
	runs, err := t.startedBy(ctx, deps, "LIKE", registryPrefix+"%", 1000)
	if err != nil {
		return 0, err
	}
	var best int64
	for _, r := range runs {
		for _, tg := range r.Tags {
			if tg.Key != TagStartedBy {
				continue
			}
			id, _, _ := strings.Cut(strings.TrimPrefix(tg.Value, registryPrefix), ":")
			if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > best {
				best = n
			}
		}
	}
	if best > 0 {
		return best, nil
	}
	evs, err := t.registryEvents(ctx, deps, 0)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	return evs[len(evs)-1].ID, nil
}

func (t *Trigger) latest(ctx context.Context, deps Deps, name string) (*loopml.DatasetVersion, error) {
	if deps.Datasets == nil {
		return nil, loopml.Errorf(loopml.EINVALID, "data triggers need a dataset service")
	}
	return datasets.Resolve(ctx, datasets.Deps{Store: deps.Datasets, Artifacts: deps.DatasetArtifacts}, name+"@latest")
}

// startedBy returns the pipeline's runs whose TagStartedBy compares with
// value under op ("=" or "LIKE"), newest first.
func (t *Trigger) startedBy(ctx context.Context, deps Deps, op, value string, max int) ([]*loopml.Run, error) {
	e, err := deps.Experiments.GetExperimentByName(ctx, t.Spec.Experiment)
	if loopml.ErrorCode(err) == loopml.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	q := func(s string) string { return strings.ReplaceAll(s, "'", "''") }
	runs, _, err := deps.Runs.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{e.ID}, MaxResults: max,
		Filter:  fmt.Sprintf("tags.`%s` = '%s' and tags.`%s` %s '%s'", TagPipeline, q(t.Spec.Name), TagStartedBy, op, q(value)),
		OrderBy: []string{"attributes.start_time DESC"}})
	return runs, err
}

// lastStart is the start time of the newest run started by by.
func (t *Trigger) lastStart(ctx context.Context, deps Deps, by string) (time.Time, error) {
	runs, err := t.startedBy(ctx, deps, "=", by, 1)
	if err != nil || len(runs) == 0 {
		return time.Time{}, err
	}
	return time.UnixMilli(runs[0].StartTime), nil
}

// lastDataVersion is the highest version of dataset name that started a
// run, 0 if none.
func (t *Trigger) lastDataVersion(ctx context.Context, deps Deps, name string) (int, error) {
	prefix := "data " + name + "@v"
	// LIKE's "_" matches any character: the exact prefix is checked below.
	runs, err := t.startedBy(ctx, deps, "LIKE", prefix+"%", 1000)
	if err != nil {
		return 0, err
	}
	best := 0
	for _, r := range runs {
		for _, tg := range r.Tags {
			if tg.Key != TagStartedBy {
				continue
			}
			if n, err := strconv.Atoi(strings.TrimPrefix(tg.Value, prefix)); err == nil && n > best {
				best = n
			}
		}
	}
	return best, nil
}

// errNoTrigger is returned by Validate for a trigger with nothing to do.
var errNoTrigger = errors.New("a trigger needs a cron expression, datasets or models to watch")

// Validate checks the trigger's settings.
func (t *Trigger) Validate() error {
	if t.Cron == "" && len(t.OnData) == 0 && len(t.OnModel) == 0 {
		return loopml.WrapError(loopml.EINVALID, errNoTrigger, "%s", errNoTrigger)
	}
	if t.Cron != "" {
		if _, err := ParseCron(t.Cron); err != nil {
			return err
		}
	}
	for _, n := range t.OnData {
		if err := loopml.ValidateDatasetName(n); err != nil {
			return err
		}
	}
	for _, m := range t.OnModel {
		name, alias, hasAlias := strings.Cut(m, "@")
		if name == "" || hasAlias && alias == "" {
			return loopml.Errorf(loopml.EINVALID, "model trigger %q: want NAME or NAME@ALIAS", m)
		}
	}
	switch t.Policy {
	case "", PolicySkip, PolicyQueue, PolicyReplace:
	default:
		return loopml.Errorf(loopml.EINVALID, "concurrency policy %q: want skip, queue or replace", t.Policy)
	}
	return nil
}
