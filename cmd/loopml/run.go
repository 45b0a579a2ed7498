package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/pipeline"
	"github.com/spf13/cobra"
)

// binEnv names the loopml binary that pipeline stages call (default: this
// executable).
const binEnv = "LOOPML_BIN"

// exitCode is the process exit status for err: 130 when the command was
// cancelled (Ctrl-C), 1 otherwise.
func exitCode(err error) int {
	if errors.Is(err, context.Canceled) {
		return 130
	}
	return 1
}

func newRunCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	var ro pipeline.Options
	var sets []string
	var trig pipeline.Trigger
	var policy string
	cmd := &cobra.Command{
		Use:   "run [PIPELINE_FILE]",
		Short: "Run a pipeline (loopml.yaml): cached, tracked stages in dependency order",
		Long: `Run the stages of a pipeline file (default loopml.yaml in the current
directory) in dependency order, independent stages in parallel (--jobs).
Each pipeline run is a tracking run and each stage a nested run with its
params, metrics, logs and outputs. A stage whose inputs are unchanged is not
run: its outputs are restored from the cache. See docs/pipelines.md.

Stages get MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_ID and MLFLOW_RUN_ID (and
LOOPML_* equivalents), so MLflow clients log into the stage's run; with a
local home, a loopback tracking server is started for the run's duration.
Exit status: 0 when every stage succeeded or was cached, 1 on failure, 130
when interrupted.

With --cron, --on-data and/or --on-model the command keeps running and
starts a run on the schedule, when a dataset gets a new latest version or
on registry events (a new model version, an alias moved), one at a time
(--policy skip, queue or replace for a run that is still going); each run
records what started it in the loopml.started_by tag. Ctrl-C stops it.`,
		Example: `  loopml run
  loopml run examples/movielens/loopml.yaml --set mf.k=64
  loopml run --stage train-mf --force
  loopml run --dry-run
  loopml run --cron "0 3 * * *" --on-data ratings --require-validation --policy queue`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := "loopml.yaml"
			if len(args) == 1 {
				file = args[0]
			}
			spec, err := pipeline.ParseFile(file, pipeline.ParseOptions{Set: sets})
			if err != nil {
				return err
			}
			trig.Policy = pipeline.Policy(policy)
			if trig.Cron != "" || len(trig.OnData) > 0 || len(trig.OnModel) > 0 {
				if err := trig.Validate(); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			env, err := openPipelineEnv(ctx, o, getenv)
			if err != nil {
				return err
			}
			defer env.close()
			ro.Progress, ro.Output = cmd.OutOrStdout(), cmd.OutOrStdout()
			if o.output == "json" { // keep stdout for the JSON result
				ro.Progress, ro.Output = cmd.ErrOrStderr(), cmd.ErrOrStderr()
			}
			ro.Env = env.childEnv
			ro.UserID = currentUser(getenv)
			if trig.Cron != "" || len(trig.OnData) > 0 || len(trig.OnModel) > 0 {
				return watchPipeline(ctx, cmd.OutOrStdout(), spec, env.deps, ro, trig)
			}
			res, runErr := pipeline.Run(ctx, spec, env.deps, ro)
			if res != nil {
				if o.output == "json" {
					if err := writeJSON(cmd.OutOrStdout(), newPipelineRunView(res)); err != nil {
						return err
					}
				} else {
					printStages(cmd.OutOrStdout(), res)
				}
			}
			return runErr
		},
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringArrayVar(&ro.Stages, "stage", nil, "run only this stage and what it depends on (repeatable)")
	f.BoolVar(&ro.Force, "force", false, "run every stage even when its outputs are cached")
	f.BoolVar(&ro.DryRun, "dry-run", false, "print which stages would run and which are cached, without running anything")
	f.StringArrayVar(&sets, "set", nil, "override a parameter: params-file key (mf.k=64) or STAGE.key=value (repeatable)")
	f.IntVar(&ro.Jobs, "jobs", 2, "stages running at once")
	f.BoolVar(&ro.FailFast, "fail-fast", false, "stop every stage at the first failure (default: independent branches continue)")
	f.StringVar(&trig.Cron, "cron", "", `keep running and start a run on this schedule ("0 3 * * *", "@hourly", "@every 30m"; CRON_TZ=Zone prefix)`)
	f.StringArrayVar(&trig.OnData, "on-data", nil, "keep running and start a run when this dataset gets a new latest version (repeatable)")
	f.StringArrayVar(&trig.OnModel, "on-model", nil, "keep running and start a run on registry events: NAME (a new version) or NAME@ALIAS (the alias moved) (repeatable)")
	f.BoolVar(&trig.RequireValidation, "require-validation", false, "with --on-data: only for versions whose validation passed")
	f.DurationVar(&trig.PollInterval, "poll-interval", 10*time.Second, "with --on-data/--on-model: how often datasets and the registry are checked")
	f.StringVar(&policy, "policy", "skip", "with --cron/--on-data/--on-model, when a run is still going: skip, queue or replace")
	return cmd
}

// watchPipeline runs the pipeline on its triggers until ctx is cancelled
// (Ctrl-C), then stops the running run (KILLED) and returns nil.
func watchPipeline(ctx context.Context, w io.Writer, spec *pipeline.Spec, deps pipeline.Deps, ro pipeline.Options, trig pipeline.Trigger) error {
	q := &pipeline.Queue{Deps: deps, MaxRunning: 1}
	defer q.Close()
	trig.Spec, trig.Options = spec, ro
	var mu sync.Mutex
	trig.OnEvent = func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "[%s] %s\n", time.Now().Format(time.RFC3339), msg)
	}
	what := []string{}
	if trig.Cron != "" {
		what = append(what, "schedule "+trig.Cron)
	}
	for _, d := range trig.OnData {
		what = append(what, "new versions of "+d)
	}
	for _, m := range trig.OnModel {
		what = append(what, "registry events of "+m)
	}
	trig.OnEvent(fmt.Sprintf("watching %s for pipeline %s (policy %s); Ctrl-C stops", strings.Join(what, ", "), spec.Name, trig.Policy))
	if err := trig.Run(ctx, q); ctx.Err() == nil {
		return err
	}
	return nil // stopped
}

// pipelineRunView is the JSON form of a pipeline run's result.
type pipelineRunView struct {
	RunID        string              `json:"run_id,omitempty"`
	ExperimentID string              `json:"experiment_id,omitempty"`
	Status       string              `json:"status,omitempty"`
	Stages       []pipelineStageView `json:"stages"`
}

type pipelineStageView struct {
	Name        string             `json:"name"`
	Status      string             `json:"status"`
	RunID       string             `json:"run_id,omitempty"`
	CacheKey    string             `json:"cache_key,omitempty"`
	CacheSource string             `json:"cache_source_run,omitempty"`
	Attempts    int                `json:"attempts,omitempty"`
	DurationMS  int64              `json:"duration_ms"`
	Metrics     map[string]float64 `json:"metrics,omitempty"`
	Version     string             `json:"model_version,omitempty"`
	Reason      string             `json:"reason,omitempty"`
	Error       string             `json:"error,omitempty"`
}

func newPipelineRunView(res *pipeline.Result) pipelineRunView {
	v := pipelineRunView{RunID: res.RunID, ExperimentID: res.ExperimentID, Status: res.Status, Stages: []pipelineStageView{}}
	for _, s := range res.Stages {
		sv := pipelineStageView{Name: s.Name, Status: s.Status, RunID: s.RunID, CacheKey: s.Key, CacheSource: s.CacheSource,
			Attempts: s.Attempts, DurationMS: s.Duration.Milliseconds(), Metrics: s.Metrics, Version: s.Version, Reason: s.Reason}
		if s.Err != nil {
			sv.Error = loopml.ErrorMessage(s.Err)
		}
		v.Stages = append(v.Stages, sv)
	}
	return v
}

func printStages(w io.Writer, res *pipeline.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSTATUS\tRUN\tDURATION\tNOTE")
	for _, s := range res.Stages {
		note := s.Reason
		switch {
		case s.CacheSource != "":
			note = "outputs of run " + s.CacheSource
		case s.Version != "":
			note = "registered version " + s.Version
		case s.Err != nil:
			note = firstLineOf(loopml.ErrorMessage(s.Err))
		}
		d := ""
		if s.Duration > 0 {
			d = s.Duration.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Status, s.RunID, d, note)
	}
	tw.Flush()
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// pipelineEnv is what a pipeline run works through.
type pipelineEnv struct {
	deps     pipeline.Deps
	childEnv map[string]string
	close    func()
}

// openPipelineEnv wires the pipeline engine to the local home (with a
// loopback tracking server for stage processes) or to a tracking server,
// whose artifact store then holds the cache.
func openPipelineEnv(ctx context.Context, o clientOptions, getenv func(string) (string, bool)) (*pipelineEnv, error) {
	home := o.home
	if home == "" {
		if h, ok := getenv(homeEnv); ok && h != "" {
			home = h
		} else {
			home = DefaultHome
		}
	}
	home, err := filepath.Abs(home)
	if err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "home: %v", err)
	}
	o.home = home
	svc, err := openServices(ctx, o, getenv, true)
	if err != nil {
		return nil, err
	}
	closers := []func(){func() { svc.close() }}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	env := &pipelineEnv{childEnv: map[string]string{}, close: closeAll}
	bin, ok := getenv(binEnv)
	if !ok || bin == "" {
		bin, _ = os.Executable()
	}
	if bin != "" {
		env.childEnv[binEnv] = bin
		path, _ := getenv("PATH")
		env.childEnv["PATH"] = filepath.Dir(bin) + string(os.PathListSeparator) + path
	}
	td, err := trainingDeps(svc)
	if err != nil {
		closeAll()
		return nil, err
	}
	env.deps = pipeline.Deps{Experiments: svc.experiments, Runs: svc.runs, Registry: svc.registry, Artifacts: td.Artifacts,
		Datasets: svc.datasets, DatasetArtifacts: svc.blobs}
	uri := o.trackingURI
	if uri == "" {
		uri, _ = getenv(trackingURIEnv)
	}
	indexDir := filepath.Join(home, "index")
	if uri != "" {
		// Over HTTP the cache entries and objects live in the server's
		// artifact store (through its proxy), shared by every client.
		env.deps.TrackingURI = uri
		env.childEnv[trackingURIEnv] = uri
		if svc.indexDir != "" {
			indexDir = svc.indexDir
		}
	} else {
		// A loopback server so that stage processes can log with any
		// MLflow client while this process holds the store.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("loopback tracking server: %w", err)
		}
		api := httpapi.NewServer(httpapi.Config{Experiments: svc.experiments, Runs: svc.runs, Registry: svc.registry,
			Artifacts: svc.blobs, Logger: slog.New(slog.DiscardHandler)})
		srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		closers = append(closers, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		})
		env.deps.TrackingURI = "http://" + ln.Addr().String()
		env.childEnv[homeEnv] = home
		env.childEnv[trackingURIEnv] = ""
	}
	if svc.blobs == nil {
		closeAll()
		return nil, loopml.Errorf(loopml.EINVALID, "this tracking server offers no artifact store for the pipeline cache")
	}
	env.deps.Cache = &pipeline.Cache{Store: svc.blobs, IndexDir: indexDir}
	return env, nil
}
