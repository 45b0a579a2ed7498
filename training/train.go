package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/mlmodel"
)

// Run tags set by Train and Evaluate.
const (
	TagLearner    = "loopml.learner"     // the learner's name
	TagError      = "loopml.error"       // the error that failed the run
	TagSourceType = "mlflow.source.type" // LOCAL
	TagSourceName = "mlflow.source.name" // "loopml train" or "loopml eval"
)

// Uploader stores one artifact file under a path relative to the artifact
// store's root ("<experiment>/<run>/artifacts/model/MLmodel"). It is the
// Put method of loopml.ArtifactStore, so a local store satisfies it; over
// HTTP it is the server's artifact proxy. Put must be safe for concurrent
// use and honour ctx.
type Uploader interface {
	Put(ctx context.Context, path string, r io.Reader) (int64, error)
}

// ArtifactReader lists and reads an artifact store by store path (the
// List and Open methods of loopml.ArtifactStore).
type ArtifactReader interface {
	List(ctx context.Context, dir string) ([]loopml.ArtifactInfo, error)
	Open(ctx context.Context, path string) (io.ReadCloser, error)
}

// Deps are the services Train and Evaluate work through. Experiments, Runs
// and Artifacts are required; Registry only to register a model.
type Deps struct {
	Experiments loopml.ExperimentService
	Runs        loopml.RunService
	Registry    loopml.ModelRegistry
	Artifacts   Uploader
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Now returns the time (nil: time.Now); tests fix it.
	Now func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d Deps) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// TrainOptions configures Train. Learner and Data.Path are required.
type TrainOptions struct {
	// Learner is a built-in learner: popularity, mf or implicit-als.
	Learner string
	// Data is the training data.
	Data DataSource
	// Params are the learner's hyperparameters (nil: defaults).
	Params learn.Params
	// Experiment is the experiment's name, created when missing; "" is the
	// default experiment (id "0").
	Experiment string
	// RunName names the run ("" lets the store generate one).
	RunName string
	// UserID is recorded as the run's user.
	UserID string
	// Register, when set, registers the package as a new version of this
	// model (created when missing).
	Register string
	// TempDir holds the package while it is written ("" is os.TempDir()).
	TempDir string
	// Target, Features and Exclude configure the tabular learners (linear,
	// logistic): the column to predict, the input columns (empty: all
	// others but Exclude). Categorical names numeric-looking columns to
	// one-hot encode (ids, codes). See tabular.go.
	Target                         string
	Features, Exclude, Categorical []string
}

// TrainResult is what Train produced.
type TrainResult struct {
	RunID        string
	ExperimentID string
	// ModelURI is the package's artifact URI (<run artifact URI>/model).
	ModelURI string
	// Params are the effective hyperparameters logged to the run.
	Params learn.Params
	// Metrics are the final training metrics logged to the run.
	Metrics map[string]float64
	// Digest and SizeBytes describe the package (mlmodel.PackageDigest).
	Digest    string
	SizeBytes int64
	// Version is the registered model version, "" without Register.
	Version string
	// Model is the trained model, as the package holds it.
	Model learn.Model
	// Tabular is the trained model of a tabular learner (Model is then nil).
	Tabular learn.TabularModel
}

// Train loads o.Data, fits o.Learner in a new tracking run and logs the
// package at "model/" of the run's artifacts; see the package doc. The run
// ends FINISHED, or FAILED (KILLED when ctx is cancelled) with the error in
// the loopml.error tag; the result then still carries the run id. Bad
// options (learner, params, data) are EINVALID and are reported before
// any run is created.
func Train(ctx context.Context, o TrainOptions, deps Deps) (*TrainResult, error) {
	if learn.IsTabular(o.Learner) {
		return trainTabular(ctx, o, deps)
	}
	if err := deps.check(o.Register != ""); err != nil {
		return nil, err
	}
	eff, err := EffectiveParams(o.Learner, o.Params)
	if err != nil {
		return nil, err
	}
	l, err := learn.LearnerByName(o.Learner)
	if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "learner: %v", err)
	}
	ds, err := LoadData(ctx, o.Data)
	if err != nil {
		return nil, err
	}
	log := deps.logger().With("learner", o.Learner)
	rs, err := startRun(ctx, deps, o.Experiment, o.RunName, o.UserID, o.Learner, "loopml train")
	if err != nil {
		return nil, err
	}
	res := &TrainResult{RunID: rs.run.ID, ExperimentID: rs.run.ExperimentID, Params: eff}
	err = func() error {
		if err := logTrainingInputs(ctx, deps, rs.run.ID, ds.Input, sortedParams(eff, "")); err != nil {
			return err
		}
		log.Info("fitting", "rows", ds.Data.Len(), "users", ds.Data.Users.Len(), "items", ds.Data.Items.Len())
		start := time.Now()
		pctx, epochs := rs.epochLogger(ctx)
		m, err := l.Fit(pctx, ds.Data, eff)
		if ferr := epochs.flush(ctx); err == nil && ferr != nil {
			return fmt.Errorf("log epoch metrics: %w", ferr)
		}
		if err != nil {
			return invalid("fit "+o.Learner, err)
		}
		fit := time.Since(start).Seconds()
		res.Model = m
		res.Metrics = trainingMetrics(m, ds.Data, fit)
		if err := deps.Runs.LogBatch(ctx, rs.run.ID, loopml.Batch{Metrics: rs.metrics(res.Metrics, 0)}); err != nil {
			return fmt.Errorf("log metrics: %w", err)
		}
		dir, err := os.MkdirTemp(o.TempDir, "loopml-model-")
		if err != nil {
			return loopml.WrapError(loopml.EINTERNAL, err, "package: %v", err)
		}
		defer os.RemoveAll(dir)
		info, mm, err := writePackage(ctx, dir, o.Learner, rs.run.ID, m, ds.Data)
		if err != nil {
			return err
		}
		return publishPackage(ctx, deps, rs, dir, info, mm, o.Register, res, log)
	}()
	if ferr := rs.finish(ctx, err); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return res, err
	}
	return res, nil
}

// publishPackage uploads the package written in dir as the model artifact
// of rs's run, fills res's digest, size and model URI, and registers the
// package as a new version of the model named register when it is set.
func publishPackage(ctx context.Context, deps Deps, rs *runState, dir string, info mlmodel.PackageInfo, mm *mlmodel.MLmodel, register string, res *TrainResult, log *slog.Logger) error {
	if err := uploadDir(ctx, deps.Artifacts, dir, rs.storeRoot+"/"+ModelArtifactPath, info.Files); err != nil {
		return fmt.Errorf("upload model package: %w", err)
	}
	res.Digest, res.SizeBytes = info.Digest, info.Size
	res.ModelURI = strings.TrimRight(rs.run.ArtifactURI, "/") + "/" + ModelArtifactPath
	log.Info("model logged", "run_id", rs.run.ID, "uri", res.ModelURI, "digest", info.Digest)
	if register == "" {
		return nil
	}
	v, err := registerVersion(ctx, deps.Registry, &loopml.ModelVersion{
		Name: register, Source: res.ModelURI, RunID: rs.run.ID,
		Signature: mlmodel.SignatureJSON(mm.Signature), SizeBytes: info.Size, Digest: info.Digest,
	})
	if err != nil {
		return fmt.Errorf("register model %q: %w", register, err)
	}
	res.Version = v.Version
	return nil
}

// trainingMetrics are the metrics logged after Fit: sizes and fit time,
// RMSE and MAE on the training rows for rating models, and MF's epochs and
// best validation RMSE, at step 0. Per-epoch values (learn.WithProgress)
// are logged during Fit with step = epoch.
func trainingMetrics(m learn.Model, d *learn.Interactions, fitSeconds float64) map[string]float64 {
	out := map[string]float64{
		"fit_seconds": fitSeconds,
		"train_rows":  float64(d.Len()),
		"train_users": float64(d.Users.Len()),
		"train_items": float64(d.Items.Len()),
	}
	if _, implicit := m.(*learn.ImplicitALSModel); !implicit {
		pred := make([]float64, len(d.Rows))
		act := make([]float64, len(d.Rows))
		for i, r := range d.Rows {
			pred[i], _ = m.Predict(d.Users.ID(r.User), d.Items.ID(r.Item))
			act[i] = float64(r.Rating)
		}
		out["training_rmse"], out["training_mae"] = learn.RMSE(pred, act), learn.MAE(pred, act)
	}
	if mf, ok := m.(*learn.MFModel); ok {
		out["epochs"] = float64(mf.Epochs())
		if v := mf.ValidationRMSE(); !math.IsNaN(v) {
			out["validation_rmse"] = v
		}
	}
	return out
}

func (d Deps) check(register bool) error {
	switch {
	case d.Experiments == nil:
		return loopml.Errorf(loopml.EINTERNAL, "training: Deps.Experiments is nil")
	case d.Runs == nil:
		return loopml.Errorf(loopml.EINTERNAL, "training: Deps.Runs is nil")
	case d.Artifacts == nil:
		return loopml.Errorf(loopml.EINTERNAL, "training: Deps.Artifacts is nil")
	case register && d.Registry == nil:
		return loopml.Errorf(loopml.EINTERNAL, "training: Deps.Registry is nil, needed to register a model")
	}
	return nil
}

// runState is a started run and where its artifacts go in the store.
type runState struct {
	deps      Deps
	run       *loopml.Run
	storeRoot string // store path of the run's artifact root
}

// startRun finds or creates the experiment and creates a RUNNING run.
func startRun(ctx context.Context, deps Deps, experiment, name, user, learner, source string) (*runState, error) {
	expID := "0"
	if experiment != "" {
		e, err := deps.Experiments.GetExperimentByName(ctx, experiment)
		if loopml.ErrorCode(err) == loopml.ENOTFOUND {
			e = &loopml.Experiment{Name: experiment}
			err = deps.Experiments.CreateExperiment(ctx, e)
			if loopml.ErrorCode(err) == loopml.ECONFLICT { // created concurrently
				e, err = deps.Experiments.GetExperimentByName(ctx, experiment)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("experiment %q: %w", experiment, err)
		}
		expID = e.ID
	}
	tags := []loopml.Tag{
		{Key: TagLearner, Value: learner},
		{Key: TagSourceType, Value: "LOCAL"},
		{Key: TagSourceName, Value: source},
	}
	if name != "" {
		tags = append(tags, loopml.Tag{Key: loopml.TagRunName, Value: name})
	}
	if user != "" {
		tags = append(tags, loopml.Tag{Key: loopml.TagUser, Value: user})
	}
	r := &loopml.Run{ExperimentID: expID, Name: name, UserID: user, StartTime: deps.now().UnixMilli(), Tags: tags}
	if err := deps.Runs.CreateRun(ctx, r); err != nil {
		return nil, fmt.Errorf("create run: %w", err)
	}
	rs := &runState{deps: deps, run: r}
	root, err := storePath(r.ArtifactURI)
	if err != nil {
		_ = rs.finish(ctx, err)
		return nil, err
	}
	rs.storeRoot = root
	return rs, nil
}

// storePath maps a run's artifact URI to a path in loopml's artifact store.
func storePath(uri string) (string, error) {
	rest, ok := strings.CutPrefix(uri, "mlflow-artifacts:")
	if !ok {
		return "", loopml.Errorf(loopml.EINVALID, "run artifact URI %q is not in loopml's artifact store (mlflow-artifacts:/...); use an experiment with the default artifact location", uri)
	}
	p, err := loopml.CleanArtifactPath(strings.TrimLeft(rest, "/"))
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", loopml.Errorf(loopml.EINVALID, "run artifact URI %q names the store root", uri)
	}
	return p, nil
}

// metrics turns values into metric points at step.
func (rs *runState) metrics(values map[string]float64, step int64) []loopml.Metric {
	ts := rs.deps.now().UnixMilli()
	out := make([]loopml.Metric, 0, len(values))
	for _, p := range sortedMetricKeys(values) {
		out = append(out, loopml.Metric{Key: p, Value: values[p], Timestamp: ts, Step: step})
	}
	return out
}

// finish ends the run: FINISHED when cause is nil, else FAILED (KILLED
// when ctx was cancelled) with the error message in the loopml.error tag. It uses a context that outlives a
// cancelled ctx, so that an interrupted run is still closed.
func (rs *runState) finish(ctx context.Context, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	status := loopml.RunFinished
	var errs []error
	if cause != nil {
		status = loopml.RunFailed
		if errors.Is(cause, context.Canceled) {
			status = loopml.RunKilled
		}
		msg := loopml.ErrorMessage(cause)
		if len(msg) > 4000 {
			msg = msg[:4000] + "..."
		}
		errs = append(errs, rs.deps.Runs.LogBatch(ctx, rs.run.ID, loopml.Batch{Tags: []loopml.Tag{{Key: TagError, Value: msg}}}))
	}
	end := rs.deps.now().UnixMilli()
	_, err := rs.deps.Runs.UpdateRun(ctx, rs.run.ID, loopml.RunUpdate{Status: &status, EndTime: &end})
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("end run %s: %w", rs.run.ID, err)
	}
	return nil
}

// register creates model v.Name when missing and then version v, which
// carries the package's signature, size and digest (a server that inspects
// packages recomputes them).
func registerVersion(ctx context.Context, reg loopml.ModelRegistry, v *loopml.ModelVersion) (*loopml.ModelVersion, error) {
	if _, err := reg.GetRegisteredModel(ctx, v.Name); loopml.ErrorCode(err) == loopml.ENOTFOUND {
		err = reg.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: v.Name})
		if err != nil && loopml.ErrorCode(err) != loopml.ECONFLICT { // ECONFLICT: created concurrently
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if err := reg.CreateModelVersion(ctx, v); err != nil {
		return nil, err
	}
	return v, nil
}

// logTrainingInputs logs the training data set (as a dataset input in the
// "training" context) and the params of a training run.
func logTrainingInputs(ctx context.Context, deps Deps, runID string, in loopml.DatasetInput, params []loopml.Param) error {
	in.Tags = append(slices.Clip(in.Tags), loopml.Tag{Key: loopml.TagDatasetContext, Value: "training"})
	if err := deps.Runs.LogInputs(ctx, runID, []loopml.DatasetInput{in}); err != nil {
		return fmt.Errorf("log dataset input: %w", err)
	}
	if err := deps.Runs.LogBatch(ctx, runID, loopml.Batch{Params: params}); err != nil {
		return fmt.Errorf("log params: %w", err)
	}
	return nil
}
