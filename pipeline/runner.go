package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/cas"
	"github.com/loopml/loopml/datasets"
	"go.yaml.in/yaml/v3"
)

// Stage statuses in a Result.
const (
	StatusSucceeded = "succeeded" // ran and exited 0
	StatusCached    = "cached"    // outputs restored from the cache
	StatusFailed    = "failed"    // exited non-zero, timed out, or errored
	StatusSkipped   = "skipped"   // an upstream stage failed or a gate blocked
	StatusBlocked   = "blocked"   // a gate whose condition was false
	StatusKilled    = "killed"    // cancelled while running
	StatusPlanned   = "would run" // dry run: the stage would run
)

// Run tags set on pipeline and stage runs.
const (
	TagPipeline      = "loopml.pipeline"
	TagPipelineFile  = "loopml.pipeline.file"
	TagStage         = "loopml.stage"
	TagStageStatus   = "loopml.stage.status"
	TagCache         = "loopml.cache" // hit or miss
	TagCacheKey      = "loopml.cache.key"
	TagCacheSource   = "loopml.cache.source_run"
	TagDurationMS    = "loopml.duration_ms"
	TagGitCommit     = "mlflow.source.git.commit"
	TagGitDirty      = "loopml.git.dirty"
	TagError         = "loopml.error"
	TagGate          = "loopml.gate"
	TagGateCondition = "loopml.gate.condition"
	TagDatasets      = "loopml.datasets"
	TagSourceType    = "mlflow.source.type"
	TagSourceName    = "mlflow.source.name"
)

// Uploader stores one artifact file under a store path; the Put method of
// loopml.ArtifactStore, or an upload through a server's artifact proxy.
type Uploader interface {
	Put(ctx context.Context, path string, r io.Reader) (int64, error)
}

// Deps are the services a pipeline run works through.
type Deps struct {
	Experiments loopml.ExperimentService
	Runs        loopml.RunService
	// Registry registers models and finds champions (required by model
	// stages and gates that refer to a champion).
	Registry loopml.ModelRegistry
	// Artifacts receives the stage runs' artifacts (logs, outputs, models).
	Artifacts Uploader
	// Cache holds outputs and cache entries.
	Cache *Cache
	// Datasets and DatasetArtifacts resolve data:// deps (nil: data://
	// deps are an error).
	Datasets         loopml.DatasetService
	DatasetArtifacts loopml.ArtifactStore
	// Executor runs commands (nil: LocalExecutor{}).
	Executor Executor
	// TrackingURI is what stage processes get as MLFLOW_TRACKING_URI ("":
	// not set).
	TrackingURI string
	Logger      *slog.Logger
}

// Options configure one pipeline run.
type Options struct {
	// Stages limits the run to these stages and what they depend on.
	Stages []string
	// Force ignores the cache (outputs are still stored).
	Force bool
	// DryRun reports which stages would run, without running anything or
	// creating runs.
	DryRun bool
	// Jobs bounds the stages running at once (0: 2).
	Jobs int
	// FailFast stops every stage at the first failure.
	FailFast bool
	// Progress receives one line per stage state change; Output the
	// stages' stdout and stderr, each line prefixed with the stage name.
	// nil discards.
	Progress io.Writer
	Output   io.Writer
	// Env is added to every stage's environment (e.g. LOOPML_HOME,
	// LOOPML_BIN, PATH).
	Env map[string]string
	// UserID is recorded on the runs.
	UserID string
	// StartedBy, when set, records what started the run (TagStartedBy),
	// e.g. "schedule 0 3 * * *" or "data ratings@v7".
	StartedBy string
	// MaxOutArtifactBytes bounds the outputs copied to a stage run's
	// artifacts under outs/ (0: 32 MiB; larger outputs are recorded in
	// outs.json by digest only; negative: none copied).
	MaxOutArtifactBytes int64
	// TailLines is how many last log lines a failure message carries
	// (0: 15).
	TailLines int
	// OnStart, when set, is called with the pipeline's tracking run id
	// once it exists (before any stage runs).
	OnStart func(runID string)
}

// Result is the outcome of a pipeline run.
type Result struct {
	RunID        string
	ExperimentID string
	Status       string // a loopml.Run* status
	Stages       []*StageResult
}

// Stage returns the result of one stage, or nil.
func (r *Result) Stage(name string) *StageResult {
	for _, s := range r.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// StageResult is the outcome of one stage.
type StageResult struct {
	Name        string
	Status      string
	RunID       string
	Key         string // cache key
	CacheSource string // run that produced cached outputs
	Attempts    int
	Duration    time.Duration
	Outs        []OutDigest
	Metrics     map[string]float64
	Version     string // registered model version
	Reason      string // why skipped or blocked
	Err         error
}

// ErrFailed is wrapped by the error of a pipeline run in which a stage
// failed.
var ErrFailed = errors.New("pipeline failed")

type runner struct {
	spec    *Spec
	deps    Deps
	opts    Options
	exec    Executor
	log     *slog.Logger
	outMu   sync.Mutex
	run     *loopml.Run
	git     []loopml.Tag
	start   time.Time
	mu      sync.Mutex
	results map[string]*StageResult
}

// Run runs the pipeline: stages in dependency order, independent ones in
// parallel (at most Options.Jobs), each as a nested tracking run of the
// pipeline's run. A stage whose cache key has an intact entry is restored
// instead of run. The error wraps ErrFailed when a stage failed and
// context.Canceled when ctx was cancelled; the Result is returned in both
// cases.
func Run(ctx context.Context, spec *Spec, deps Deps, opts Options) (*Result, error) {
	if deps.Runs == nil || deps.Experiments == nil || deps.Cache == nil || deps.Artifacts == nil {
		return nil, loopml.Errorf(loopml.EINTERNAL, "pipeline: Deps needs Experiments, Runs, Artifacts and Cache")
	}
	r := &runner{spec: spec, deps: deps, opts: opts, exec: deps.Executor, log: deps.Logger, results: map[string]*StageResult{}, start: time.Now()}
	if r.exec == nil {
		r.exec = LocalExecutor{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.opts.Jobs <= 0 {
		r.opts.Jobs = 2
	}
	if r.opts.TailLines <= 0 {
		r.opts.TailLines = 15
	}
	if r.opts.MaxOutArtifactBytes == 0 {
		r.opts.MaxOutArtifactBytes = 32 << 20
	}
	plan, err := r.plan()
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if opts.DryRun {
		return r.dryRun(ctx, plan)
	}
	closed, err := RecoverInterrupted(ctx, spec, deps)
	if err != nil {
		r.log.Warn("recover interrupted runs", "err", err)
	}
	for _, id := range closed {
		r.progress("pipeline %s: run %s was interrupted (its runner is gone): marked FAILED", spec.Name, id)
	}
	if err := r.startPipelineRun(ctx); err != nil {
		return nil, err
	}
	res.RunID, res.ExperimentID = r.run.ID, r.run.ExperimentID
	if opts.OnStart != nil {
		opts.OnStart(r.run.ID)
	}
	r.progress("pipeline %s: run %s (experiment %s)", spec.Name, r.run.ID, spec.Experiment)
	runErr := r.schedule(ctx, plan)
	status := loopml.RunFinished
	var failed []string
	for _, st := range plan {
		sr := r.results[st.Name]
		res.Stages = append(res.Stages, sr)
		if sr.Status == StatusFailed {
			failed = append(failed, st.Name)
		}
	}
	switch {
	case ctx.Err() != nil:
		status = loopml.RunKilled
		runErr = fmt.Errorf("pipeline %s cancelled: %w", spec.Name, context.Canceled)
	case len(failed) > 0:
		status = loopml.RunFailed
		var msgs []string
		for _, n := range failed {
			msgs = append(msgs, loopml.ErrorMessage(r.results[n].Err))
		}
		runErr = loopml.WrapError(loopml.EINVALID, ErrFailed, "pipeline %s failed: %s", spec.Name, strings.Join(msgs, "\n"))
	}
	res.Status = status
	r.finishRun(ctx, r.run.ID, status, runErr, time.Since(r.start))
	r.progress("pipeline %s: %s in %s", spec.Name, strings.ToLower(status), time.Since(r.start).Round(time.Millisecond))
	return res, runErr
}

// plan returns the stages to consider: all, or the selected ones and
// their upstream closure, in topological order.
func (r *runner) plan() ([]*Stage, error) {
	if len(r.opts.Stages) == 0 {
		return r.spec.Stages, nil
	}
	want := map[string]bool{}
	for _, n := range r.opts.Stages {
		found := false
		for _, st := range r.spec.Stages {
			if st.Name == n || strings.HasPrefix(st.Name, n+"@") {
				found = true
				want[st.Name] = true
				for u := range r.spec.upstreamClosure(st.Name) {
					want[u] = true
				}
			}
		}
		if !found {
			return nil, loopml.Errorf(loopml.EINVALID, "--stage %s: no such stage in %s", n, r.spec.File)
		}
	}
	var out []*Stage
	for _, st := range r.spec.Stages {
		if want[st.Name] {
			out = append(out, st)
		}
	}
	return out, nil
}

func (r *runner) progress(format string, args ...any) {
	if r.opts.Progress == nil {
		return
	}
	r.outMu.Lock()
	defer r.outMu.Unlock()
	fmt.Fprintf(r.opts.Progress, "[%7.2fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// schedule runs ready stages with at most Jobs at once.
func (r *runner) schedule(ctx context.Context, plan []*Stage) error {
	inPlan := map[string]bool{}
	for _, st := range plan {
		inPlan[st.Name] = true
	}
	runCtx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	type done struct{ name string }
	doneCh := make(chan done)
	running := 0
	started := map[string]bool{}
	finished := map[string]bool{}
	stopped := false
	for len(finished) < len(plan) {
		// Start every ready stage, in plan order, up to the bound.
		for _, st := range plan {
			if started[st.Name] {
				continue
			}
			ready, skip, reason := true, false, ""
			for _, u := range st.Upstream {
				if !inPlan[u] {
					continue
				}
				if !finished[u] {
					ready = false
					break
				}
				switch s := r.result(u).Status; s {
				case StatusSucceeded, StatusCached:
				default:
					skip, reason = true, fmt.Sprintf("upstream stage %s %s", u, s)
				}
			}
			if stopped && !started[st.Name] {
				skip, ready, reason = true, true, "the pipeline was stopped"
				if ctx.Err() == nil {
					reason = "--fail-fast after a failure"
				}
			}
			if !ready {
				continue
			}
			if skip {
				started[st.Name], finished[st.Name] = true, true
				r.setResult(&StageResult{Name: st.Name, Status: StatusSkipped, Reason: reason})
				r.progress("%-20s skipped (%s)", st.Name, reason)
				continue
			}
			if running >= r.opts.Jobs {
				continue
			}
			started[st.Name] = true
			running++
			go func(st *Stage) {
				sr := r.runStage(runCtx, st)
				r.setResult(sr)
				doneCh <- done{st.Name}
			}(st)
		}
		if len(finished) == len(plan) {
			break
		}
		if running == 0 {
			// Nothing running and nothing startable: every remaining
			// stage waits on a skipped one (handled above) — loop again.
			continue
		}
		select {
		case d := <-doneCh:
			running--
			finished[d.name] = true
			sr := r.result(d.name)
			if sr.Status == StatusFailed && r.opts.FailFast && !stopped {
				stopped = true
				cancelAll()
			}
		case <-ctx.Done():
			if !stopped {
				stopped = true
				cancelAll()
			}
			d := <-doneCh
			running--
			finished[d.name] = true
		}
	}
	return nil
}

func (r *runner) setResult(sr *StageResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results[sr.Name] = sr
}

func (r *runner) result(name string) *StageResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results[name]
}

// experimentID finds or creates the pipeline's experiment.
func (r *runner) experimentID(ctx context.Context) (string, error) {
	e, err := r.deps.Experiments.GetExperimentByName(ctx, r.spec.Experiment)
	if loopml.ErrorCode(err) == loopml.ENOTFOUND {
		e = &loopml.Experiment{Name: r.spec.Experiment}
		err = r.deps.Experiments.CreateExperiment(ctx, e)
		if loopml.ErrorCode(err) == loopml.ECONFLICT {
			e, err = r.deps.Experiments.GetExperimentByName(ctx, r.spec.Experiment)
		}
	}
	if err != nil {
		return "", fmt.Errorf("experiment %q: %w", r.spec.Experiment, err)
	}
	return e.ID, nil
}

func (r *runner) startPipelineRun(ctx context.Context) error {
	expID, err := r.experimentID(ctx)
	if err != nil {
		return err
	}
	r.git = gitTags(r.spec.Dir)
	tags := append([]loopml.Tag{
		{Key: loopml.TagRunName, Value: r.spec.Name},
		{Key: TagPipeline, Value: r.spec.Name},
		{Key: TagPipelineFile, Value: r.spec.File},
		{Key: TagSourceType, Value: "PIPELINE"},
		{Key: TagSourceName, Value: "loopml run"},
	}, r.git...)
	tags = append(tags, runnerTags()...)
	if r.opts.StartedBy != "" {
		tags = append(tags, loopml.Tag{Key: TagStartedBy, Value: r.opts.StartedBy})
	}
	if r.opts.UserID != "" {
		tags = append(tags, loopml.Tag{Key: loopml.TagUser, Value: r.opts.UserID})
	}
	run := &loopml.Run{ExperimentID: expID, Name: r.spec.Name, UserID: r.opts.UserID, StartTime: time.Now().UnixMilli(), Tags: tags}
	if err := r.deps.Runs.CreateRun(ctx, run); err != nil {
		return fmt.Errorf("create pipeline run: %w", err)
	}
	r.run = run
	return nil
}

// finishRun ends a run with a context that outlives a cancelled ctx.
func (r *runner) finishRun(ctx context.Context, id, status string, cause error, d time.Duration, extra ...loopml.Tag) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	tags := append([]loopml.Tag{{Key: TagDurationMS, Value: strconv.FormatInt(d.Milliseconds(), 10)}}, extra...)
	if cause != nil {
		msg := loopml.ErrorMessage(cause)
		if len(msg) > 4000 {
			msg = msg[:4000] + "..."
		}
		tags = append(tags, loopml.Tag{Key: TagError, Value: msg})
	}
	if err := r.deps.Runs.LogBatch(ctx, id, loopml.Batch{Tags: tags}); err != nil {
		r.log.Warn("tag run", "run_id", id, "err", err)
	}
	end := time.Now().UnixMilli()
	if _, err := r.deps.Runs.UpdateRun(ctx, id, loopml.RunUpdate{Status: &status, EndTime: &end}); err != nil {
		r.log.Warn("end run", "run_id", id, "err", err)
	}
}

// gitTags returns the commit and dirty flag of dir's git checkout, if any.
func gitTags(dir string) []loopml.Tag {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return nil
	}
	tags := []loopml.Tag{{Key: TagGitCommit, Value: strings.TrimSpace(string(out))}}
	st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--", ".").Output()
	if err == nil {
		tags = append(tags, loopml.Tag{Key: TagGitDirty, Value: strconv.FormatBool(len(bytes.TrimSpace(st)) > 0)})
	}
	return tags
}

// stageState is what runStage accumulates for one stage.
type stageState struct {
	st       *Stage
	sr       *StageResult
	runID    string
	artRoot  string // store path of the stage run's artifacts
	artURI   string
	datasets []*loopml.DatasetVersion
	keyDeps  []keyDep
	stdout   *logSink
	stderr   *logSink
}

// resolveDeps computes the digest of every dep and upstream stage.
func (r *runner) resolveDeps(ctx context.Context, ss *stageState) error {
	st := ss.st
	var kd []keyDep
	for _, d := range st.Deps {
		switch {
		case d.Dataset != "":
			if r.deps.Datasets == nil {
				return loopml.Errorf(loopml.EINVALID, "stage %s: dep %s: data:// deps need the local home (no dataset API over --tracking-uri yet)", st.Name, d.Raw)
			}
			v, err := datasets.Resolve(ctx, datasets.Deps{Store: r.deps.Datasets, Artifacts: r.deps.DatasetArtifacts}, d.Dataset)
			if err != nil {
				return loopml.WrapError(loopml.ErrorCode(err), err, "stage %s: dep %s: %s", st.Name, d.Raw, loopml.ErrorMessage(err))
			}
			ss.datasets = append(ss.datasets, v)
			kd = append(kd, keyDep{Dep: d.Raw, Digest: v.Root})
		case d.Path != "":
			if d.Stage != "" {
				if up := r.result(d.Stage); up != nil {
					if dg, ok := outDigest(up.Outs, d.Path); ok {
						kd = append(kd, keyDep{Dep: d.Raw, Digest: dg})
						continue
					}
				}
			}
			p := d.Path
			if !filepath.IsAbs(p) {
				p = filepath.Join(r.spec.Dir, filepath.FromSlash(p))
			}
			if _, err := os.Stat(p); err != nil {
				return loopml.Errorf(loopml.EINVALID, "stage %s: dep %s does not exist", st.Name, d.Raw)
			}
			m, err := r.deps.Cache.hashPath(ctx, p)
			if err != nil {
				return fmt.Errorf("stage %s: hash dep %s: %w", st.Name, d.Raw, err)
			}
			kd = append(kd, keyDep{Dep: d.Raw, Digest: m.Root.String()})
		}
	}
	ups := st.Upstream
	if st.Gate != nil {
		// A gate may name any upstream stage's metrics.
		ups = sortedKeys(r.spec.upstreamClosure(st.Name))
	}
	for _, u := range ups {
		up := r.result(u)
		if up == nil {
			continue
		}
		// Empty and nil serialise alike, so a cached upstream stage
		// (outputs from its entry) digests as the one that ran.
		b, _ := json.Marshal(struct {
			Outs    []OutDigest        `json:"outs,omitempty"`
			Metrics map[string]float64 `json:"metrics,omitempty"`
		}{up.Outs, up.Metrics})
		kd = append(kd, keyDep{Dep: "stage:" + u, Digest: cas.Sum(b).String()})
	}
	ss.keyDeps = kd
	return nil
}

func outDigest(outs []OutDigest, path string) (string, bool) {
	for _, o := range outs {
		if o.Path == path {
			return o.Root.String(), true
		}
	}
	return "", false
}

// runStage runs (or restores) one stage in its nested run.
func (r *runner) runStage(ctx context.Context, st *Stage) *StageResult {
	start := time.Now()
	sr := &StageResult{Name: st.Name}
	ss := &stageState{st: st, sr: sr}
	fail := func(status string, err error) *StageResult {
		sr.Status, sr.Err, sr.Duration = status, err, time.Since(start)
		if status == StatusFailed && ctx.Err() != nil {
			sr.Status = StatusKilled
		}
		if ss.runID != "" {
			r.uploadLogs(ctx, ss)
			runStatus := loopml.RunFailed
			if sr.Status == StatusKilled {
				runStatus = loopml.RunKilled
			}
			r.finishRun(ctx, ss.runID, runStatus, err, sr.Duration, loopml.Tag{Key: TagStageStatus, Value: sr.Status})
		}
		if sr.Status == StatusKilled {
			r.progress("%-20s killed", st.Name)
		} else {
			r.progress("%-20s failed: %s", st.Name, firstLine(loopml.ErrorMessage(err)))
		}
		return sr
	}
	if err := r.createStageRun(ctx, ss); err != nil {
		return fail(StatusFailed, err)
	}
	sr.RunID = ss.runID
	if err := r.resolveDeps(ctx, ss); err != nil {
		return fail(StatusFailed, err)
	}
	key, err := cacheKey(st, ss.keyDeps)
	if err != nil {
		return fail(StatusFailed, err)
	}
	sr.Key = key
	// Cache lookup (gates are cached by their inputs, like any stage).
	if !r.opts.Force && !st.AlwaysChanged {
		e, why, err := r.deps.Cache.Lookup(ctx, key)
		if err != nil {
			return fail(StatusFailed, fmt.Errorf("stage %s: cache: %w", st.Name, err))
		}
		if e != nil {
			if err := r.deps.Cache.Restore(ctx, e, r.spec.Dir); err != nil {
				r.progress("%-20s cache entry unusable (%s): running", st.Name, firstLine(loopml.ErrorMessage(err)))
			} else {
				return r.cached(ctx, ss, e, start)
			}
		} else {
			r.log.Debug("cache miss", "stage", st.Name, "reason", why)
		}
	}
	if err := r.logStart(ctx, ss, loopml.Batch{Tags: []loopml.Tag{{Key: TagCache, Value: "miss"}}}); err != nil {
		return fail(StatusFailed, err)
	}
	// Outputs left by an earlier run must not pass for this run's.
	for _, o := range append(append([]string{}, st.Outs...), st.Metrics...) {
		if err := os.RemoveAll(filepath.Join(r.spec.Dir, filepath.FromSlash(o))); err != nil {
			return fail(StatusFailed, fmt.Errorf("stage %s: remove old output %s: %w", st.Name, o, err))
		}
	}
	r.progress("%-20s running (run %s)", st.Name, ss.runID)
	ss.stdout = newLogSink(r, st.Name, r.opts.TailLines)
	ss.stderr = newLogSink(r, st.Name, r.opts.TailLines)
	defer ss.stdout.close()
	defer ss.stderr.close()
	switch {
	case st.Uses != "":
		err = r.runBuiltin(ctx, ss)
	case st.Cmd != "" || st.Argv != nil:
		err = r.runCommand(ctx, ss)
	}
	if err != nil {
		return fail(StatusFailed, err)
	}
	var gateMetrics map[string]float64
	if st.Gate != nil {
		ok, judged, err := r.evalGate(ctx, ss)
		if err != nil {
			return fail(StatusFailed, err)
		}
		gateMetrics = judged
		if !ok {
			if err := r.logMetrics(ctx, ss.runID, judged); err != nil {
				r.log.Warn("log gate metrics", "stage", st.Name, "err", err)
			}
			sr.Status, sr.Duration = StatusBlocked, time.Since(start)
			sr.Reason = "condition " + st.Gate.Condition + " is false"
			r.finishRun(ctx, ss.runID, loopml.RunFinished, nil, sr.Duration, loopml.Tag{Key: TagStageStatus, Value: StatusBlocked})
			r.progress("%-20s blocked: %s", st.Name, sr.Reason)
			return sr
		}
	}
	// Metrics, outputs, model, cache entry.
	metrics, err := r.readMetrics(st)
	if err != nil {
		return fail(StatusFailed, err)
	}
	for k, v := range gateMetrics {
		if _, own := metrics[k]; !own {
			metrics[k] = v
		}
	}
	if st.Model != nil {
		for k, v := range r.upstreamMetrics(st) {
			if _, own := metrics[k]; !own {
				metrics[k] = v
			}
		}
	}
	sr.Metrics = metrics
	if err := r.logMetrics(ctx, ss.runID, metrics); err != nil {
		return fail(StatusFailed, err)
	}
	outs, err := r.deps.Cache.storeOuts(ctx, r.spec.Dir, append(append([]string{}, st.Outs...), st.Metrics...))
	if err != nil {
		return fail(StatusFailed, loopml.WrapError(loopml.ErrorCode(err), err, "stage %s: %s", st.Name, loopml.ErrorMessage(err)))
	}
	sr.Outs = outs
	if err := r.uploadOuts(ctx, ss); err != nil {
		return fail(StatusFailed, err)
	}
	if st.Model != nil {
		if err := r.register(ctx, ss); err != nil {
			return fail(StatusFailed, err)
		}
	}
	if ctx.Err() != nil {
		return fail(StatusKilled, ctx.Err())
	}
	// The entry is written last, after every object it names.
	if err := r.deps.Cache.Save(ctx, &CacheEntry{Key: key, Pipeline: r.spec.Name, Stage: st.Name, RunID: ss.runID,
		Created: time.Now().UTC(), Outs: outs, Metrics: metrics}); err != nil {
		return fail(StatusFailed, fmt.Errorf("stage %s: write cache entry: %w", st.Name, err))
	}
	r.uploadLogs(ctx, ss)
	sr.Status, sr.Duration = StatusSucceeded, time.Since(start)
	r.finishRun(ctx, ss.runID, loopml.RunFinished, nil, sr.Duration, loopml.Tag{Key: TagStageStatus, Value: StatusSucceeded})
	r.progress("%-20s succeeded in %s", st.Name, sr.Duration.Round(time.Millisecond))
	return sr
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// cached finishes a stage whose outputs were restored from entry e.
func (r *runner) cached(ctx context.Context, ss *stageState, e *CacheEntry, start time.Time) *StageResult {
	sr := ss.sr
	sr.Status, sr.CacheSource, sr.Outs, sr.Metrics = StatusCached, e.RunID, e.Outs, e.Metrics
	b := loopml.Batch{Tags: []loopml.Tag{{Key: TagCache, Value: "hit"}, {Key: TagCacheSource, Value: e.RunID}}}
	ts := time.Now().UnixMilli()
	for _, k := range sortedKeys(e.Metrics) {
		b.Metrics = append(b.Metrics, loopml.Metric{Key: k, Value: e.Metrics[k], Timestamp: ts})
	}
	if len(b.Metrics) > 1000 { // the rest in a second batch
		rest := b.Metrics[1000:]
		b.Metrics = b.Metrics[:1000]
		defer func() {
			if err := r.deps.Runs.LogBatch(ctx, ss.runID, loopml.Batch{Metrics: rest[:min(len(rest), 1000)]}); err != nil {
				r.log.Warn("log cached metrics", "stage", ss.st.Name, "err", err)
			}
		}()
	}
	if err := r.logStart(ctx, ss, b); err != nil {
		r.log.Warn("log cached stage", "stage", ss.st.Name, "err", err)
	}
	sr.Duration = time.Since(start)
	r.finishRun(ctx, ss.runID, loopml.RunFinished, nil, sr.Duration, loopml.Tag{Key: TagStageStatus, Value: StatusCached})
	r.progress("%-20s cached (outputs of run %s)", ss.st.Name, e.RunID)
	return sr
}

func (r *runner) tag(ctx context.Context, runID string, tags ...loopml.Tag) {
	ctx = context.WithoutCancel(ctx)
	if err := r.deps.Runs.LogBatch(ctx, runID, loopml.Batch{Tags: tags}); err != nil {
		r.log.Warn("tag run", "run_id", runID, "err", err)
	}
}

func (r *runner) createStageRun(ctx context.Context, ss *stageState) error {
	st := ss.st
	tags := append([]loopml.Tag{
		{Key: loopml.TagRunName, Value: st.Name},
		{Key: loopml.TagParentRunID, Value: r.run.ID},
		{Key: TagPipeline, Value: r.spec.Name},
		{Key: TagStage, Value: st.Name},
		{Key: TagSourceType, Value: "PIPELINE"},
		{Key: TagSourceName, Value: "loopml run"},
	}, r.git...)
	if r.opts.UserID != "" {
		tags = append(tags, loopml.Tag{Key: loopml.TagUser, Value: r.opts.UserID})
	}
	run := &loopml.Run{ExperimentID: r.run.ExperimentID, Name: st.Name, UserID: r.opts.UserID, StartTime: time.Now().UnixMilli(), Tags: tags}
	if err := r.deps.Runs.CreateRun(ctx, run); err != nil {
		return fmt.Errorf("stage %s: create run: %w", st.Name, err)
	}
	ss.runID, ss.artURI = run.ID, strings.TrimRight(run.ArtifactURI, "/")
	root, err := storePath(run.ArtifactURI)
	if err != nil {
		return err
	}
	ss.artRoot = root
	return nil
}

// storePath maps a run's artifact URI to a path in loopml's artifact store.
func storePath(uri string) (string, error) {
	rest, ok := strings.CutPrefix(uri, "mlflow-artifacts:")
	if !ok {
		return "", loopml.Errorf(loopml.EINVALID, "run artifact URI %q is not in loopml's artifact store (mlflow-artifacts:/...)", uri)
	}
	return loopml.CleanArtifactPath(strings.TrimLeft(rest, "/"))
}

// logStart logs params, the cache key, the dataset inputs and extra in
// as few batches as the limits allow.
func (r *runner) logStart(ctx context.Context, ss *stageState, b loopml.Batch) error {
	st := ss.st
	for _, k := range sortedKeys(st.Params) {
		b.Params = append(b.Params, loopml.Param{Key: k, Value: st.Params[k]})
	}
	b.Tags = append(b.Tags, loopml.Tag{Key: TagCacheKey, Value: ss.sr.Key})
	if len(ss.datasets) > 0 {
		var refs []string
		var inputs []loopml.DatasetInput
		for _, v := range ss.datasets {
			refs = append(refs, fmt.Sprintf("%s@v%d", v.Name, v.Version))
			inputs = append(inputs, loopml.DatasetInput{Dataset: datasets.MLflowDataset(v),
				Tags: []loopml.Tag{{Key: loopml.TagDatasetContext, Value: "pipeline"}}})
		}
		b.Tags = append(b.Tags, loopml.Tag{Key: TagDatasets, Value: strings.Join(refs, ",")})
		if err := r.deps.Runs.LogInputs(ctx, ss.runID, inputs); err != nil {
			return fmt.Errorf("stage %s: log inputs: %w", st.Name, err)
		}
	}
	for len(b.Params) > 100 {
		if err := r.deps.Runs.LogBatch(ctx, ss.runID, loopml.Batch{Params: b.Params[:100]}); err != nil {
			return fmt.Errorf("stage %s: log params: %w", st.Name, err)
		}
		b.Params = b.Params[100:]
	}
	if err := r.deps.Runs.LogBatch(ctx, ss.runID, b); err != nil {
		return fmt.Errorf("stage %s: log params: %w", st.Name, err)
	}
	return nil
}

func (r *runner) logMetrics(ctx context.Context, runID string, m map[string]float64) error {
	ts := time.Now().UnixMilli()
	var batch []loopml.Metric
	for _, k := range sortedKeys(m) {
		batch = append(batch, loopml.Metric{Key: k, Value: m[k], Timestamp: ts})
		if len(batch) == 1000 {
			if err := r.deps.Runs.LogBatch(ctx, runID, loopml.Batch{Metrics: batch}); err != nil {
				return err
			}
			batch = nil
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return r.deps.Runs.LogBatch(ctx, runID, loopml.Batch{Metrics: batch})
}

// stageEnv is the environment of a stage process.
func (r *runner) stageEnv(ss *stageState) []string {
	st := ss.st
	env := map[string]string{}
	for k, v := range r.opts.Env {
		env[k] = v
	}
	if r.deps.TrackingURI != "" {
		env["MLFLOW_TRACKING_URI"] = r.deps.TrackingURI
	}
	env["MLFLOW_EXPERIMENT_ID"] = r.run.ExperimentID
	env["MLFLOW_RUN_ID"] = ss.runID
	env["LOOPML_EXPERIMENT_ID"] = r.run.ExperimentID
	env["LOOPML_RUN_ID"] = ss.runID
	env["LOOPML_PIPELINE_RUN_ID"] = r.run.ID
	env["LOOPML_STAGE"] = st.Name
	env["LOOPML_ARTIFACT_URI"] = ss.artURI
	for k, v := range st.Params {
		env["LOOPML_PARAM_"+envName(k)] = v
	}
	for _, v := range ss.datasets {
		env["LOOPML_DATA_"+envName(v.Name)] = fmt.Sprintf("%s@v%d", v.Name, v.Version)
	}
	for k, v := range st.Env {
		env[k] = expandEnv(v, func(name string) (string, bool) {
			if x, ok := env[name]; ok {
				return x, true
			}
			return os.LookupEnv(name)
		})
	}
	return environ(env)
}

func envName(k string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(k) {
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// runCommand runs the stage's command with retries and backoff.
func (r *runner) runCommand(ctx context.Context, ss *stageState) error {
	st := ss.st
	dir := filepath.Join(r.spec.Dir, filepath.FromSlash(st.Wd))
	job := Job{Stage: st.Name, Shell: st.Cmd, Argv: st.Argv, Dir: dir, Env: r.stageEnv(ss), Timeout: st.Timeout,
		Stdout: ss.stdout, Stderr: ss.stderr}
	delay := st.Backoff
	for attempt := 1; ; attempt++ {
		ss.sr.Attempts = attempt
		res, err := r.exec.Exec(ctx, job)
		if err != nil {
			return err
		}
		if res.ExitCode == 0 {
			return nil
		}
		why := fmt.Sprintf("exit status %d", res.ExitCode)
		if res.TimedOut {
			why = fmt.Sprintf("timed out after %s", st.Timeout)
		}
		if attempt > st.Retries {
			tail := ss.stderr.tail()
			if len(tail) == 0 {
				tail = ss.stdout.tail()
			}
			msg := fmt.Sprintf("stage %s: %s", st.Name, why)
			if attempt > 1 {
				msg += fmt.Sprintf(" (after %d attempts)", attempt)
			}
			if len(tail) > 0 {
				msg += "; last output:\n  " + strings.Join(tail, "\n  ")
			}
			var cause error = ErrFailed
			if res.TimedOut {
				cause = ErrTimeout
			}
			return loopml.WrapError(loopml.EINVALID, cause, "%s", msg)
		}
		r.progress("%-20s attempt %d failed (%s); retrying in %s", st.Name, attempt, why, delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// readMetrics reads the numeric leaves of the stage's metric files.
func (r *runner) readMetrics(st *Stage) (map[string]float64, error) {
	out := map[string]float64{}
	for _, m := range st.Metrics {
		b, err := os.ReadFile(filepath.Join(r.spec.Dir, filepath.FromSlash(m)))
		if err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "stage %s: metrics file %s was not produced", st.Name, m)
		}
		var v any
		if err := yaml.Unmarshal(b, &v); err != nil { // YAML is a superset of JSON
			return nil, loopml.Errorf(loopml.EINVALID, "stage %s: metrics file %s: %v", st.Name, m, err)
		}
		flatten("", v, out)
	}
	return out, nil
}

func flatten(prefix string, v any, out map[string]float64) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, e, out)
		}
	case int:
		out[prefix] = float64(x)
	case int64:
		out[prefix] = float64(x)
	case uint64:
		out[prefix] = float64(x)
	case float64:
		out[prefix] = x
	case bool:
		if x {
			out[prefix] = 1
		} else {
			out[prefix] = 0
		}
	}
}

// upstreamMetrics merges the metrics of every stage upstream of st; a key
// comes from the nearest stage that has it (breadth first, then by name),
// so a model stage behind a gate records the metrics the gate judged.
func (r *runner) upstreamMetrics(st *Stage) map[string]float64 {
	out := map[string]float64{}
	seen := map[string]bool{}
	level := st.Upstream
	for len(level) > 0 {
		var next []string
		for _, u := range level {
			if seen[u] {
				continue
			}
			seen[u] = true
			if res := r.result(u); res != nil {
				for k, v := range res.Metrics {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
			}
			next = append(next, r.spec.byName[u].Upstream...)
		}
		level = next
	}
	return out
}

// evalGate evaluates a gate's condition over upstream metrics, its params
// and the champion's metrics.
func (r *runner) evalGate(ctx context.Context, ss *stageState) (bool, map[string]float64, error) {
	st := ss.st
	g := st.Gate
	champ := map[string]float64{}
	hasChamp := false
	if g.Champion != "" && r.deps.Registry != nil {
		name, alias, _ := strings.Cut(g.Champion, "@")
		v, err := r.deps.Registry.GetVersionByAlias(ctx, name, alias)
		switch {
		case err == nil && v.RunID != "":
			run, err := r.deps.Runs.GetRun(ctx, v.RunID)
			if err != nil {
				return false, nil, fmt.Errorf("stage %s: champion %s (version %s, run %s): %w", st.Name, g.Champion, v.Version, v.RunID, err)
			}
			for _, m := range run.Metrics {
				champ[m.Key] = m.Value
			}
			hasChamp = true
			r.tag(ctx, ss.runID, loopml.Tag{Key: "loopml.gate.champion", Value: name + "/" + v.Version})
		case err != nil && loopml.ErrorCode(err) != loopml.ENOTFOUND:
			return false, nil, fmt.Errorf("stage %s: champion %s: %w", st.Name, g.Champion, err)
		}
	}
	upMetrics := map[string]float64{}
	for _, u := range st.Upstream {
		if res := r.result(u); res != nil {
			for k, v := range res.Metrics {
				upMetrics[k] = v
			}
		}
	}
	resolve := func(ref string) (any, bool) {
		switch {
		case strings.HasPrefix(ref, "champion.metrics."):
			v, ok := champ[strings.TrimPrefix(ref, "champion.metrics.")]
			if !hasChamp {
				return nil, false
			}
			if !ok {
				return nil, false
			}
			return v, true
		case strings.HasPrefix(ref, "metrics."):
			v, ok := upMetrics[strings.TrimPrefix(ref, "metrics.")]
			return v, ok
		case strings.HasPrefix(ref, "params."):
			v, ok := st.Params[strings.TrimPrefix(ref, "params.")]
			return v, ok
		}
		if stage, key, ok := strings.Cut(ref, ".metrics."); ok {
			if res := r.result(stage); res != nil {
				v, ok := res.Metrics[key]
				return v, ok
			}
		}
		return nil, false
	}
	ok, err := Eval(g.expr, resolve)
	if err != nil {
		return false, nil, loopml.Errorf(loopml.EINVALID, "stage %s: gate %s: %v", st.Name, g.Condition, err)
	}
	// The gate's run records what it compared.
	var b loopml.Batch
	b.Tags = []loopml.Tag{{Key: TagGate, Value: map[bool]string{true: "passed", false: "blocked"}[ok]}, {Key: TagGateCondition, Value: g.Condition}}
	ts := time.Now().UnixMilli()
	for _, k := range sortedKeys(champ) {
		b.Metrics = append(b.Metrics, loopml.Metric{Key: "champion." + k, Value: champ[k], Timestamp: ts})
	}
	if len(b.Metrics) > 1000 {
		b.Metrics = b.Metrics[:1000]
	}
	if err := r.deps.Runs.LogBatch(ctx, ss.runID, b); err != nil {
		return false, nil, fmt.Errorf("stage %s: log gate: %w", st.Name, err)
	}
	return ok, upMetrics, nil
}

// register uploads the model package to the stage run's artifacts at
// model/ and registers it as a new version (and moves the alias).
func (r *runner) register(ctx context.Context, ss *stageState) error {
	st := ss.st
	if r.deps.Registry == nil {
		return loopml.Errorf(loopml.EINVALID, "stage %s: no model registry to register %s", st.Name, st.Model.Name)
	}
	src := filepath.Join(r.spec.Dir, filepath.FromSlash(st.Model.Path))
	if _, err := uploadTree(ctx, r.deps.Artifacts, src, ss.artRoot+"/model"); err != nil {
		return fmt.Errorf("stage %s: upload model: %w", st.Name, err)
	}
	if _, err := r.deps.Registry.GetRegisteredModel(ctx, st.Model.Name); loopml.ErrorCode(err) == loopml.ENOTFOUND {
		err = r.deps.Registry.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: st.Model.Name})
		if err != nil && loopml.ErrorCode(err) != loopml.ECONFLICT {
			return fmt.Errorf("stage %s: create model %s: %w", st.Name, st.Model.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("stage %s: model %s: %w", st.Name, st.Model.Name, err)
	}
	v := &loopml.ModelVersion{Name: st.Model.Name, Source: ss.artURI + "/model", RunID: ss.runID,
		Description: fmt.Sprintf("pipeline %s, stage %s", r.spec.Name, st.Name)}
	if err := r.deps.Registry.CreateModelVersion(ctx, v); err != nil {
		return fmt.Errorf("stage %s: register %s: %w", st.Name, st.Model.Name, err)
	}
	ss.sr.Version = v.Version
	if st.Model.Alias != "" {
		if err := r.deps.Registry.SetAlias(ctx, st.Model.Name, st.Model.Alias, v.Version); err != nil {
			return fmt.Errorf("stage %s: alias %s@%s: %w", st.Name, st.Model.Name, st.Model.Alias, err)
		}
	}
	r.tag(ctx, ss.runID, loopml.Tag{Key: "loopml.model.version", Value: st.Model.Name + "/" + v.Version})
	r.progress("%-20s registered %s version %s%s", st.Name, st.Model.Name, v.Version, map[bool]string{true: " @" + st.Model.Alias}[st.Model.Alias != ""])
	return nil
}

// uploadTree uploads a file or directory to dest, returning the bytes.
func uploadTree(ctx context.Context, up Uploader, src, dest string) (int64, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return 0, err
	}
	if !fi.IsDir() {
		f, err := os.Open(src)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return up.Put(ctx, dest, f)
	}
	var total int64
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := up.Put(ctx, dest+"/"+filepath.ToSlash(rel), f)
		total += n
		return err
	})
	return total, err
}

// uploadOuts writes outs.json and copies small outputs to outs/.
func (r *runner) uploadOuts(ctx context.Context, ss *stageState) error {
	if len(ss.sr.Outs) == 0 {
		return nil
	}
	b, _ := json.MarshalIndent(ss.sr.Outs, "", "  ")
	if _, err := r.deps.Artifacts.Put(ctx, ss.artRoot+"/outs.json", bytes.NewReader(b)); err != nil {
		return fmt.Errorf("stage %s: upload outs.json: %w", ss.st.Name, err)
	}
	var total int64
	for _, o := range ss.sr.Outs {
		total += o.Size
	}
	if r.opts.MaxOutArtifactBytes < 0 || total > r.opts.MaxOutArtifactBytes {
		return nil
	}
	for _, o := range ss.sr.Outs {
		if _, err := uploadTree(ctx, r.deps.Artifacts, filepath.Join(r.spec.Dir, filepath.FromSlash(o.Path)), ss.artRoot+"/outs/"+o.Path); err != nil {
			return fmt.Errorf("stage %s: upload output %s: %w", ss.st.Name, o.Path, err)
		}
	}
	return nil
}

// uploadLogs saves the stage's stdout and stderr as logs/*.txt.
func (r *runner) uploadLogs(ctx context.Context, ss *stageState) {
	ctx = context.WithoutCancel(ctx)
	for name, s := range map[string]*logSink{"stdout": ss.stdout, "stderr": ss.stderr} {
		if s == nil {
			continue
		}
		s.flush()
		if s.n == 0 {
			continue
		}
		f, err := os.Open(s.file.Name())
		if err != nil {
			continue
		}
		if _, err := r.deps.Artifacts.Put(ctx, ss.artRoot+"/logs/"+name+".txt", f); err != nil {
			r.log.Warn("upload log", "stage", ss.st.Name, "err", err)
		}
		f.Close()
	}
}

// logSink receives one stream of a stage: it writes complete lines to the
// terminal with the stage prefix, everything to a temporary file, and
// keeps the last lines for error messages.
type logSink struct {
	r     *runner
	stage string
	mu    sync.Mutex
	file  *os.File
	part  []byte
	n     int64 // bytes written
	last  []string
	keep  int
}

func newLogSink(r *runner, stage string, keep int) *logSink {
	f, err := os.CreateTemp("", "loopml-stage-log-")
	if err != nil {
		f = nil
	}
	return &logSink{r: r, stage: stage, file: f, keep: keep}
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n += int64(len(p))
	if s.file != nil {
		_, _ = s.file.Write(p)
	}
	s.part = append(s.part, p...)
	for {
		i := bytes.IndexByte(s.part, '\n')
		if i < 0 {
			break
		}
		s.line(string(s.part[:i]))
		s.part = s.part[i+1:]
	}
	return len(p), nil
}

func (s *logSink) line(l string) {
	s.last = append(s.last, l)
	if len(s.last) > s.keep {
		s.last = s.last[len(s.last)-s.keep:]
	}
	if s.r.opts.Output != nil {
		s.r.outMu.Lock()
		fmt.Fprintf(s.r.opts.Output, "%s | %s\n", s.stage, l)
		s.r.outMu.Unlock()
	}
}

func (s *logSink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.part) > 0 {
		s.line(string(s.part))
		s.part = nil
	}
}

func (s *logSink) tail() []string {
	s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.last...)
}

func (s *logSink) close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}

// dryRun reports, in order, which stages would be restored from the cache
// and which would run, without running anything.
func (r *runner) dryRun(ctx context.Context, plan []*Stage) (*Result, error) {
	res := &Result{}
	for _, st := range plan {
		sr := &StageResult{Name: st.Name, Status: StatusPlanned}
		r.setResult(sr)
		res.Stages = append(res.Stages, sr)
		ss := &stageState{st: st, sr: sr}
		upstreamRuns := false
		for _, u := range st.Upstream {
			if x := r.result(u); x != nil && x.Status != StatusCached {
				upstreamRuns = true
			}
		}
		if upstreamRuns {
			sr.Reason = "an upstream stage runs"
		} else if err := r.resolveDeps(ctx, ss); err != nil {
			sr.Reason = loopml.ErrorMessage(err)
		} else if key, err := cacheKey(st, ss.keyDeps); err != nil {
			sr.Reason = err.Error()
		} else {
			sr.Key = key
			e, why, err := r.deps.Cache.Lookup(ctx, key)
			if err != nil {
				return nil, err
			}
			switch {
			case r.opts.Force:
				sr.Reason = "--force"
			case st.AlwaysChanged:
				sr.Reason = "always_changed"
			case e != nil:
				sr.Status, sr.CacheSource, sr.Outs, sr.Metrics = StatusCached, e.RunID, e.Outs, e.Metrics
			default:
				sr.Reason = why
			}
		}
		if sr.Status == StatusCached {
			r.progress("%-20s cached (outputs of run %s)", st.Name, sr.CacheSource)
		} else {
			r.progress("%-20s would run (%s)", st.Name, sr.Reason)
		}
	}
	return res, nil
}
