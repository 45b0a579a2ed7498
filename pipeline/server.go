package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loopml/loopml"
)

// Scheduler runs pipelines on a server, coordinated through a
// loopml.PipelineService that several server replicas may share: on each
// scan it fails the runs whose runner lost its lease, fires the stored
// triggers that are due (each tick or version once across replicas: the
// trigger's state moves by compare-and-set), and claims queued runs (a
// compare-and-set as well) up to Concurrency at a time, running each with
// Run while it renews its lease. A cancel request (CancelPipelineRun, or a
// replace policy) reaches the run at its next heartbeat.
type Scheduler struct {
	Store loopml.PipelineService
	Deps  Deps
	// Options are the base options of every run (Env, Jobs, ...);
	// StartedBy, UserID and OnStart are set per run.
	Options Options
	// Concurrency bounds the pipeline runs this scheduler executes at once
	// (0: 1).
	Concurrency int
	// RunnerID names this scheduler in leases ("": host:pid:random).
	RunnerID string
	// Poll is the time between scans (0: 1s); Lease how long a claim
	// lasts without a heartbeat (0: 30s; heartbeats every Lease/3).
	Poll  time.Duration
	Lease time.Duration
	// Now is the clock of trigger schedules (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger

	once    sync.Once
	mu      sync.Mutex
	running map[string]context.CancelFunc
	wg      sync.WaitGroup
}

func (s *Scheduler) init() {
	s.once.Do(func() {
		if s.RunnerID == "" {
			host, _ := os.Hostname()
			b := make([]byte, 4)
			_, _ = rand.Read(b)
			s.RunnerID = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
		}
		if s.Concurrency <= 0 {
			s.Concurrency = 1
		}
		if s.Poll <= 0 {
			s.Poll = time.Second
		}
		if s.Lease <= 0 {
			s.Lease = 30 * time.Second
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		s.running = map[string]context.CancelFunc{}
	})
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Run scans every Poll until ctx is cancelled, then stops the runs it
// executes (they end failed: "runner X stopped") and waits for them.
func (s *Scheduler) Run(ctx context.Context) error {
	s.init()
	t := time.NewTicker(s.Poll)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("pipeline scheduler scan", "err", err)
		}
		select {
		case <-ctx.Done():
			s.Wait()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Wait waits for the runs started by Tick to end.
func (s *Scheduler) Wait() { s.wg.Wait() }

// Running returns how many runs this scheduler is executing.
func (s *Scheduler) Running() int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running)
}

// Tick is one scan: expire leases, fire due triggers, claim queued runs
// while this scheduler has free slots (the runs execute in the
// background, under ctx).
func (s *Scheduler) Tick(ctx context.Context) error {
	s.init()
	expired, err := s.Store.ExpirePipelineLeases(ctx)
	if err != nil {
		return err
	}
	for _, r := range expired {
		s.Logger.Warn("pipeline run failed: lease expired", "run", r.ID, "pipeline", r.Pipeline, "reason", r.Reason)
		if r.TrackingRunID != "" && s.Deps.Runs != nil {
			wctx := loopml.NewContextWithWorkspace(ctx, r.Workspace)
			if err := closeTracked(wctx, s.Deps.Runs, r.TrackingRunID, r.Reason); err != nil {
				s.Logger.Warn("closing the tracking run of an expired pipeline run", "run", r.ID, "err", err)
			}
		}
	}
	triggers, err := s.Store.ScanPipelineTriggers(ctx)
	if err != nil {
		return err
	}
	for _, t := range triggers {
		tctx := loopml.NewContextWithPrincipal(loopml.NewContextWithWorkspace(ctx, t.Workspace), t.CreatedBy)
		if err := s.checkTrigger(tctx, t); err != nil {
			s.Logger.Warn("pipeline trigger", "trigger", t.Name, "workspace", t.Workspace, "err", loopml.ErrorMessage(err))
		}
	}
	for s.Running() < s.Concurrency {
		r, err := s.Store.ClaimPipelineRun(ctx, s.RunnerID, s.Lease)
		if err != nil {
			return err
		}
		if r == nil {
			return nil
		}
		s.start(ctx, r)
	}
	return nil
}

// fire applies one state move of t, logging what happened.
func (s *Scheduler) fire(ctx context.Context, t *loopml.PipelineTrigger, f loopml.PipelineFire) (bool, error) {
	f.Trigger, f.Check = t.Name, true
	f.From = loopml.PipelineTriggerState{NextFireAt: t.NextFireAt, Cursor: t.Cursor}
	r, err := s.Store.FirePipelineTrigger(ctx, f)
	switch {
	case loopml.ErrorCode(err) == loopml.ECONFLICT:
		s.Logger.Info("pipeline trigger fired, run not started", "trigger", t.Name, "started_by", f.StartedBy, "reason", loopml.ErrorMessage(err))
		return true, nil
	case err != nil:
		return false, err
	case r != nil:
		s.Logger.Info("pipeline trigger started a run", "trigger", t.Name, "run", r.ID, "started_by", f.StartedBy)
	}
	t.NextFireAt, t.Cursor = f.To.NextFireAt, f.To.Cursor
	return r != nil || !f.Start, nil
}

// checkTrigger fires t when it is due.
func (s *Scheduler) checkTrigger(ctx context.Context, t *loopml.PipelineTrigger) error {
	now := s.now()
	switch t.Kind {
	case loopml.TriggerCron:
		sched, err := ParseCron(t.Schedule)
		if err != nil {
			return err
		}
		next := sched.Next(now).UnixMilli()
		if t.NextFireAt == 0 { // first look: the next slot, nothing now
			_, err := s.fire(ctx, t, loopml.PipelineFire{To: loopml.PipelineTriggerState{NextFireAt: next, Cursor: t.Cursor}})
			return err
		}
		if now.UnixMilli() < t.NextFireAt {
			return nil
		}
		// Slots missed while no scheduler ran fire once, now.
		_, err = s.fire(ctx, t, loopml.PipelineFire{Start: true, StartedBy: "schedule " + t.Schedule,
			To: loopml.PipelineTriggerState{NextFireAt: next, Cursor: t.Cursor}})
		return err
	case loopml.TriggerData:
		tr := &Trigger{Spec: &Spec{}}
		v, err := tr.latest(ctx, s.Deps, t.Dataset)
		n := 0
		switch {
		case err == nil:
			n = v.Version
		case loopml.ErrorCode(err) != loopml.ENOTFOUND:
			return err
		}
		if t.Cursor == "" { // first look: versions that exist now are not new
			_, err := s.fire(ctx, t, loopml.PipelineFire{To: loopml.PipelineTriggerState{NextFireAt: t.NextFireAt, Cursor: strconv.Itoa(n)}})
			return err
		}
		seen, _ := strconv.Atoi(t.Cursor)
		if n <= seen || t.RequireValidation && v.Validation != loopml.ValidationPassed {
			return nil
		}
		_, err = s.fire(ctx, t, loopml.PipelineFire{Start: true, StartedBy: fmt.Sprintf("data %s@v%d", t.Dataset, n),
			To: loopml.PipelineTriggerState{NextFireAt: t.NextFireAt, Cursor: strconv.Itoa(n)}})
		return err
	case loopml.TriggerModel:
		if s.Deps.Registry == nil {
			return loopml.Errorf(loopml.EINVALID, "model triggers need a model registry")
		}
		tr := &Trigger{OnModel: []string{t.Model}}
		after, _ := strconv.ParseInt(t.Cursor, 10, 64)
		evs, err := tr.registryEvents(ctx, s.Deps, after)
		if err != nil {
			return err
		}
		if t.Cursor == "" { // first look: the events that exist are not new
			last := int64(0)
			if len(evs) > 0 {
				last = evs[len(evs)-1].ID
			}
			_, err := s.fire(ctx, t, loopml.PipelineFire{To: loopml.PipelineTriggerState{NextFireAt: t.NextFireAt, Cursor: strconv.FormatInt(last, 10)}})
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		for _, ev := range evs {
			what := tr.matchEvent(ev)
			if what == "" {
				continue
			}
			ok, err := s.fire(ctx, t, loopml.PipelineFire{Start: true, StartedBy: fmt.Sprintf("%s%d: %s", registryPrefix, ev.ID, what),
				To: loopml.PipelineTriggerState{NextFireAt: t.NextFireAt, Cursor: strconv.FormatInt(ev.ID, 10)}})
			if err != nil || !ok {
				return err // another replica moved the cursor
			}
		}
		if last := strconv.FormatInt(evs[len(evs)-1].ID, 10); last != t.Cursor {
			_, err := s.fire(ctx, t, loopml.PipelineFire{To: loopml.PipelineTriggerState{NextFireAt: t.NextFireAt, Cursor: last}})
			return err
		}
	}
	return nil
}

// start executes a claimed run in the background.
func (s *Scheduler) start(ctx context.Context, r *loopml.PipelineRun) {
	rctx, cancel := context.WithCancel(loopml.NewContextWithPrincipal(loopml.NewContextWithWorkspace(ctx, r.Workspace), r.CreatedBy))
	s.mu.Lock()
	s.running[r.ID] = cancel
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			cancel()
			s.mu.Lock()
			delete(s.running, r.ID)
			s.mu.Unlock()
		}()
		s.execute(rctx, cancel, r)
	}()
}

// execute runs r, heartbeating its lease, and records how it ended.
func (s *Scheduler) execute(ctx context.Context, cancel context.CancelFunc, r *loopml.PipelineRun) {
	log := s.Logger.With("run", r.ID, "pipeline", r.Pipeline)
	var tracking atomic.Value
	tracking.Store("")
	var lost, cancelled atomic.Bool
	hbDone := make(chan struct{})
	bg := context.WithoutCancel(ctx)
	go func() {
		defer close(hbDone)
		t := time.NewTicker(s.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			hb, err := s.Store.HeartbeatPipelineRun(bg, loopml.PipelineHeartbeat{ID: r.ID, Runner: s.RunnerID, Lease: s.Lease, TrackingRunID: tracking.Load().(string)})
			switch {
			case loopml.ErrorCode(err) == loopml.ECONFLICT:
				log.Error("pipeline run: lease lost, stopping it", "err", err)
				lost.Store(true)
				cancel()
				return
			case err != nil:
				log.Warn("pipeline run heartbeat", "err", err)
			case hb.CancelRequested:
				log.Info("pipeline run: cancel requested", "reason", hb.Reason)
				cancelled.Store(true)
				cancel()
				return
			}
		}
	}()
	status, reason := loopml.PipelineSucceeded, ""
	spec, err := LoadSpec(r.Source)
	if err == nil {
		opts := s.Options
		opts.StartedBy, opts.UserID = r.StartedBy, r.CreatedBy
		opts.OnStart = func(id string) { tracking.Store(id) }
		_, err = Run(ctx, spec, s.Deps, opts)
	}
	if err != nil {
		status, reason = loopml.PipelineFailed, loopml.ErrorMessage(err)
		if ctx.Err() != nil {
			switch {
			case cancelled.Load():
				status, reason = loopml.PipelineCancelled, "cancelled"
			default:
				reason = fmt.Sprintf("runner %s stopped (server shutting down)", s.RunnerID)
			}
		}
	}
	cancel()
	<-hbDone
	if lost.Load() {
		return // already failed by whoever expired the lease
	}
	fctx, fcancel := context.WithTimeout(bg, 10*time.Second)
	defer fcancel()
	if err := s.Store.FinishPipelineRun(fctx, r.ID, s.RunnerID, status, reason, tracking.Load().(string)); err != nil {
		log.Error("recording the end of a pipeline run", "err", err)
		return
	}
	log.Info("pipeline run ended", "status", status, "reason", reason)
}

// LoadSpec reads the pipeline a server-side run names: Path (a file, or a
// directory holding loopml.yaml) or Spec text whose relative paths resolve
// against Dir. Paths must be absolute (they are the server's).
func LoadSpec(src loopml.PipelineSource) (*Spec, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	o := ParseOptions{Set: src.Set}
	if src.Path != "" {
		if !filepath.IsAbs(src.Path) {
			return nil, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'path': %q is not an absolute path on the server", src.Path)
		}
		p := src.Path
		if fi, err := os.Stat(p); err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'path': %v", err)
		} else if fi.IsDir() {
			p = filepath.Join(p, "loopml.yaml")
		}
		return ParseFile(p, o)
	}
	if !filepath.IsAbs(src.Dir) {
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'dir': %q is not an absolute path on the server", src.Dir)
	}
	if fi, err := os.Stat(src.Dir); err != nil || !fi.IsDir() {
		return nil, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'dir': %q is not a directory on the server", src.Dir)
	}
	return Parse([]byte(src.Spec), filepath.Join(src.Dir, "loopml.yaml"), o)
}

// CheckSource loads src and returns its pipeline's name (what the
// concurrency policy groups runs by).
func CheckSource(src *loopml.PipelineSource) (string, error) {
	spec, err := LoadSpec(*src)
	if err != nil {
		return "", err
	}
	return spec.Name, nil
}

// CheckTrigger validates t beyond loopml.ValidatePipelineTrigger (the cron
// expression, the dataset and model names, the spec) and sets its
// Pipeline.
func CheckTrigger(t *loopml.PipelineTrigger) error {
	if err := loopml.ValidatePipelineTrigger(t); err != nil {
		return err
	}
	tr := Trigger{}
	switch t.Kind {
	case loopml.TriggerCron:
		if _, err := ParseCron(t.Schedule); err != nil {
			return loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'schedule': %s", loopml.ErrorMessage(err))
		}
	case loopml.TriggerData:
		tr.OnData = []string{t.Dataset}
	case loopml.TriggerModel:
		tr.OnModel = []string{t.Model}
	}
	if t.Kind == loopml.TriggerData || t.Kind == loopml.TriggerModel {
		if err := tr.Validate(); err != nil {
			field := map[string]string{loopml.TriggerData: "dataset", loopml.TriggerModel: "model"}[t.Kind]
			return loopml.Errorf(loopml.EINVALID, "Invalid value for parameter '%s': %s", field, loopml.ErrorMessage(err))
		}
	}
	name, err := CheckSource(&t.Source)
	if err != nil {
		return err
	}
	t.Pipeline = name
	return nil
}

// closeTracked marks a tracking run and its stage runs still RUNNING as
// FAILED with why.
func closeTracked(ctx context.Context, runs loopml.RunService, id, why string) error {
	r, err := runs.GetRun(ctx, id)
	if err != nil {
		return err
	}
	if r.Status != loopml.RunRunning {
		return nil
	}
	children, _, err := runs.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{r.ExperimentID}, MaxResults: 1000,
		Filter: fmt.Sprintf("tags.`%s` = '%s' and attributes.status = 'RUNNING'", loopml.TagParentRunID, strings.ReplaceAll(id, "'", "''"))})
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := failRun(ctx, runs, c.ID, why); err != nil {
			return err
		}
	}
	return failRun(ctx, runs, id, why)
}
