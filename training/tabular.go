package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/mlmodel"
)

// Tabular learners (linear, logistic) go through the same Train, Evaluate
// and Load flow as the recommenders, with a table instead of interactions:
// the data is one CSV file read by learn.ReadTable, TrainOptions.Target
// names the predicted column and Features (or Exclude) the inputs, and the
// package's signature has one input column per feature (long or double
// for numbers, string for categories; optional when the training data had
// missing values) and the output prediction (double: the predicted value
// for linear; long: the class at the model's threshold for logistic, with
// a second output probability, double).

// TabularOutputs returns the output schema of a tabular package.
func TabularOutputs(kind string) *mlmodel.Schema {
	if kind == learn.KindLogistic {
		return &mlmodel.Schema{Columns: []mlmodel.ColSpec{
			{Name: "prediction", Type: &mlmodel.Type{Kind: mlmodel.TypeLong}, Required: true},
			{Name: "probability", Type: &mlmodel.Type{Kind: mlmodel.TypeDouble}, Required: true},
		}}
	}
	return &mlmodel.Schema{Columns: []mlmodel.ColSpec{
		{Name: "prediction", Type: &mlmodel.Type{Kind: mlmodel.TypeDouble}, Required: true},
	}}
}

// TabularSignature returns the signature of a tabular model's package.
func TabularSignature(m learn.TabularModel) *mlmodel.Signature {
	in := &mlmodel.Schema{}
	for _, f := range m.Features() {
		t := mlmodel.TypeString
		if f.Numeric {
			t = mlmodel.TypeDouble
			if f.Integral {
				t = mlmodel.TypeLong
			}
		}
		in.Columns = append(in.Columns, mlmodel.ColSpec{Name: f.Name, Type: &mlmodel.Type{Kind: t}, Required: !f.Optional})
	}
	return &mlmodel.Signature{Inputs: in, Outputs: TabularOutputs(m.Kind())}
}

// TableDataset is a loaded table and how a run records it.
type TableDataset struct {
	Table *learn.Table
	Input loopml.DatasetInput
}

// TableSpec says which columns of a table a tabular learner uses.
type TableSpec struct {
	// Target is the column to predict (required).
	Target string
	// Features are the input columns; empty means all but Target and
	// Exclude.
	Features, Exclude []string
	// Categorical names columns to one-hot encode even when every value
	// is a number.
	Categorical []string
}

// LoadTable reads the CSV file src.Path, or the file of a dataset version
// (src.Ref, or a Path that reads as NAME@VERSION; see DataSource), as a
// table predicting spec.Target from its features. Errors are EINVALID
// naming the path, the column or the flag (target, features, exclude,
// categorical).
func LoadTable(ctx context.Context, src DataSource, spec TableSpec) (*TableDataset, error) {
	target, features, exclude := spec.Target, spec.Features, spec.Exclude
	topts := learn.TableOptions{Categorical: spec.Categorical}
	if target == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "target: the column to predict is required (--target)")
	}
	if src.CSV != (learn.CSVOptions{}) {
		return nil, loopml.Errorf(loopml.EINVALID, "data: --user-col, --item-col, --rating-col and --time-col apply to recommenders, not to tabular learners")
	}
	var (
		t     *learn.Table
		input loopml.DatasetInput
		where string
		err   error
	)
	if ref, ok := src.datasetRef(); ok {
		f, err := openDatasetFile(ctx, src, ref)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if f.tsv {
			topts.Comma = '\t'
		}
		t, err = learn.ReadTable(ctx, f, topts)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var le *loopml.Error
			if errors.As(err, &le) { // the store failed, not the data
				return nil, fmt.Errorf("data %s, file %s: %w", ref, f.name, err)
			}
			return nil, loopml.WrapError(loopml.EINVALID, err, "data %s, file %s: %v", ref, f.name, err)
		}
		input, where = f.input, ref+" "+f.name
	} else {
		if src.Path == "" {
			return nil, loopml.Errorf(loopml.EINVALID, "data: a CSV file path is required")
		}
		st, err := os.Stat(src.Path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, loopml.Errorf(loopml.EINVALID, "data %q: no such file", src.Path)
			}
			return nil, loopml.WrapError(loopml.EINVALID, err, "data %q: %v", src.Path, err)
		}
		if st.IsDir() {
			return nil, loopml.Errorf(loopml.EINVALID, "data %q is a directory: tabular learners read one CSV file", src.Path)
		}
		if t, err = learn.LoadTableFile(ctx, src.Path, topts); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, learn.ErrUnknownColumn) {
				return nil, loopml.WrapError(loopml.EINVALID, err, "categorical: %v", err)
			}
			return nil, loopml.WrapError(loopml.EINVALID, err, "data: %v", err)
		}
		digest, err := digestFiles(ctx, []string{src.Path})
		if err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(src.Path)
		if err != nil {
			abs = src.Path
		}
		input = loopml.DatasetInput{Dataset: loopml.Dataset{Name: filepath.Base(filepath.Clean(src.Path)), Digest: digest, SourceType: "local", Source: abs}}
		where = src.Path
	}
	t.Target, t.Features, t.Exclude = target, features, exclude
	if _, ok := t.Column(target); !ok {
		return nil, loopml.WrapError(loopml.EINVALID, learn.ErrUnknownColumn, "target: column %q not in %s (columns: %s)", target, where, strings.Join(t.Columns(), ", "))
	}
	if _, err = t.FeatureNames(); err != nil {
		flag := "features"
		if len(features) == 0 {
			flag = "exclude"
		}
		return nil, loopml.WrapError(loopml.EINVALID, err, "%s: %v", flag, err)
	}
	profile, _ := json.Marshal(map[string]int{"num_rows": t.Len(), "num_columns": len(t.Columns())})
	input.Dataset.Profile = string(profile)
	return &TableDataset{Table: t, Input: input}, nil
}

// tableParams are the data params logged next to the hyperparameters.
func tableParams(t *learn.Table) []loopml.Param {
	feats, _ := t.FeatureNames()
	f := strings.Join(feats, ",")
	if len(f) > 6000 { // MLflow's param value limit
		f = f[:5997] + "..."
	}
	return []loopml.Param{{Key: "target", Value: t.Target}, {Key: "features", Value: f}}
}

// trainTabular is Train for linear and logistic.
func trainTabular(ctx context.Context, o TrainOptions, deps Deps) (*TrainResult, error) {
	if err := deps.check(o.Register != ""); err != nil {
		return nil, err
	}
	eff, err := EffectiveParams(o.Learner, o.Params)
	if err != nil {
		return nil, err
	}
	l, err := learn.TabularLearnerByName(o.Learner)
	if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "learner: %v", err)
	}
	ds, err := LoadTable(ctx, o.Data, TableSpec{Target: o.Target, Features: o.Features, Exclude: o.Exclude, Categorical: o.Categorical})
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
		if err := logTrainingInputs(ctx, deps, rs.run.ID, ds.Input, append(sortedParams(eff, ""), tableParams(ds.Table)...)); err != nil {
			return err
		}
		log.Info("fitting", "rows", ds.Table.Len(), "target", o.Target)
		start := time.Now()
		pctx, epochs := rs.epochLogger(ctx)
		m, err := l.Fit(pctx, ds.Table, eff)
		if ferr := epochs.flush(ctx); err == nil && ferr != nil {
			return fmt.Errorf("log epoch metrics: %w", ferr)
		}
		if err != nil {
			return invalid("fit "+o.Learner, err)
		}
		fit := time.Since(start).Seconds()
		res.Tabular = m
		met, err := learn.TabularMetrics(m, ds.Table)
		if err != nil {
			return invalid("score "+o.Learner, err)
		}
		res.Metrics = map[string]float64{"fit_seconds": fit, "train_rows": float64(ds.Table.Len()), "features": float64(len(m.Features()))}
		if it, ok := m.(interface{ Iterations() int }); ok {
			res.Metrics["iterations"] = float64(it.Iterations())
		}
		for k, v := range met {
			res.Metrics["training_"+k] = v
		}
		dropNaN(res.Metrics)
		if err := deps.Runs.LogBatch(ctx, rs.run.ID, loopml.Batch{Metrics: rs.metrics(res.Metrics, 0)}); err != nil {
			return fmt.Errorf("log metrics: %w", err)
		}
		dir, err := os.MkdirTemp(o.TempDir, "loopml-model-")
		if err != nil {
			return loopml.WrapError(loopml.EINTERNAL, err, "package: %v", err)
		}
		defer os.RemoveAll(dir)
		info, mm, err := writeTabularPackage(ctx, dir, rs.run.ID, m, ds.Table)
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

func dropNaN(m map[string]float64) {
	for k, v := range m {
		if v != v {
			delete(m, k)
		}
	}
}

// tabularExample is the first row's features as a one-row dataframe in
// pandas "split" orient.
func tabularExample(m learn.TabularModel, t *learn.Table) ([]byte, error) {
	var cols []string
	var row []any
	for _, f := range m.Features() {
		c, _ := t.Column(f.Name)
		cols = append(cols, f.Name)
		switch {
		case c.Missing(0):
			row = append(row, nil)
		case c.Numeric && f.Integral:
			row = append(row, int64(c.Floats[0]))
		case c.Numeric:
			row = append(row, c.Floats[0])
		default:
			row = append(row, c.String(0))
		}
	}
	return json.Marshal(map[string]any{"columns": cols, "data": [][]any{row}})
}

// writeTabularPackage writes the package of tabular model m for run runID.
func writeTabularPackage(ctx context.Context, dir, runID string, m learn.TabularModel, t *learn.Table) (mlmodel.PackageInfo, *mlmodel.MLmodel, error) {
	blob, err := m.MarshalBinary()
	if err != nil {
		return mlmodel.PackageInfo{}, nil, loopml.WrapError(loopml.EINTERNAL, err, "encode model: %v", err)
	}
	example, err := tabularExample(m, t)
	if err != nil {
		return mlmodel.PackageInfo{}, nil, loopml.WrapError(loopml.EINTERNAL, err, "input example: %v", err)
	}
	mm := &mlmodel.MLmodel{
		ArtifactPath: ModelArtifactPath,
		RunID:        runID,
		Signature:    TabularSignature(m),
		SavedInputExampleInfo: &mlmodel.InputExampleInfo{
			ArtifactPath: InputExampleFile, Type: "dataframe", PandasOrient: "split",
		},
	}
	mm.SetFlavor(mlmodel.FlavorLoopml, mlmodel.LoopmlFlavor{
		Learner: m.Kind(), FormatVersion: FormatVersion, ModelFile: ModelFile, LoopmlVersion: loopml.Version,
	}.Map())
	info, err := mlmodel.WritePackage(ctx, dir, mm, map[string][]byte{ModelFile: blob, InputExampleFile: example})
	return info, mm, err
}

// LoadTabular reads a tabular model package (the loopml flavor with
// learner linear or logistic) from fsys. Errors are as Load's.
func LoadTabular(ctx context.Context, fsys fs.FS) (learn.TabularModel, *mlmodel.MLmodel, error) {
	mm, fl, err := readLoopmlPackage(ctx, fsys)
	if err != nil {
		return nil, nil, err
	}
	if !learn.IsTabular(fl.Learner) {
		return nil, nil, loopml.Errorf(loopml.EINVALID, "model package: flavors.loopml.learner is %q, not a tabular learner (%s)", fl.Learner, strings.Join(learn.TabularLearners(), ", "))
	}
	if fl.FormatVersion != FormatVersion {
		return nil, nil, loopml.Errorf(loopml.EINVALID, "model package: flavors.loopml.format_version %d is not supported (want %d)", fl.FormatVersion, FormatVersion)
	}
	blob, err := readFS(fsys, fl.ModelFile)
	if err != nil {
		return nil, nil, err
	}
	m, err := learn.UnmarshalTabularModel(blob)
	if err != nil {
		return nil, nil, loopml.WrapError(loopml.EINVALID, err, "model package: %s: %v", fl.ModelFile, err)
	}
	if m.Kind() != fl.Learner {
		return nil, nil, loopml.Errorf(loopml.EINVALID, "model package: flavors.loopml.learner is %q but %s holds a %q model", fl.Learner, fl.ModelFile, m.Kind())
	}
	if mm.Signature == nil || mm.Signature.Inputs.Empty() {
		mm.Signature = TabularSignature(m)
	}
	return m, mm, nil
}

// evaluateTabular is Evaluate for linear and logistic: a random split of
// the table's rows (Split.Method must be random), fit, and rmse/mae/r2 or
// log_loss/accuracy/auc on the test rows.
func evaluateTabular(ctx context.Context, o EvalOptions, deps Deps) (*EvalReport, error) {
	if err := deps.check(false); err != nil {
		return nil, err
	}
	eff, err := EffectiveParams(o.Learner, o.Params)
	if err != nil {
		return nil, err
	}
	l, err := learn.TabularLearnerByName(o.Learner)
	if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "learner: %v", err)
	}
	if o.Split.Method == "" {
		o.Split.Method = learn.SplitRandom
	}
	if o.Split.Method != learn.SplitRandom {
		return nil, loopml.Errorf(loopml.EINVALID, "split %q: tabular learners split rows at random only (use random)", o.Split.Method)
	}
	if o.Split.TestFraction == 0 {
		o.Split.TestFraction = 0.2
	}
	ds, err := LoadTable(ctx, o.Data, TableSpec{Target: o.Target, Features: o.Features, Exclude: o.Exclude, Categorical: o.Categorical})
	if err != nil {
		return nil, err
	}
	train, test, err := learn.SplitTable(ds.Table, o.Split.TestFraction, o.Split.Seed)
	if err != nil {
		return nil, invalid("split", err)
	}
	rs, err := startRun(ctx, deps, o.Experiment, o.RunName, o.UserID, o.Learner, "loopml eval")
	if err != nil {
		return nil, err
	}
	rep := &EvalReport{RunID: rs.run.ID, Learner: o.Learner, Dataset: ds.Input.Dataset.Name, Digest: ds.Input.Dataset.Digest, Params: eff, Split: o.Split}
	err = func() error {
		ds.Input.Tags = append(ds.Input.Tags, loopml.Tag{Key: loopml.TagDatasetContext, Value: "evaluation"})
		if err := deps.Runs.LogInputs(ctx, rs.run.ID, []loopml.DatasetInput{ds.Input}); err != nil {
			return fmt.Errorf("log dataset input: %w", err)
		}
		params := append(sortedParams(eff, ""), tableParams(ds.Table)...)
		params = append(params,
			loopml.Param{Key: "split.method", Value: string(o.Split.Method)},
			loopml.Param{Key: "split.test_fraction", Value: strconv.FormatFloat(o.Split.TestFraction, 'g', -1, 64)},
			loopml.Param{Key: "split.seed", Value: strconv.FormatUint(o.Split.Seed, 10)},
		)
		if err := deps.Runs.LogBatch(ctx, rs.run.ID, loopml.Batch{Params: params}); err != nil {
			return fmt.Errorf("log params: %w", err)
		}
		pctx, epochs := rs.epochLogger(ctx)
		r, _, err := learn.EvaluateTabular(pctx, l, train, test, eff)
		if ferr := epochs.flush(ctx); err == nil && ferr != nil {
			return fmt.Errorf("log epoch metrics: %w", ferr)
		}
		if err != nil {
			return invalid("evaluate "+o.Learner, err)
		}
		rep.Tabular = r
		metrics := map[string]float64{"fit_seconds": r.FitSeconds, "train_rows": float64(r.TrainRows), "test_rows": float64(r.TestRows)}
		for k, v := range r.Metrics {
			metrics[k] = v
		}
		if err := deps.Runs.LogBatch(ctx, rs.run.ID, loopml.Batch{Metrics: rs.metrics(metrics, 0)}); err != nil {
			return fmt.Errorf("log metrics: %w", err)
		}
		return rs.putReport(ctx, deps, rep)
	}()
	if ferr := rs.finish(ctx, err); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return rep, err
	}
	return rep, nil
}

// epochMetrics buffers the per-epoch metrics a learner reports (see
// learn.WithProgress) and logs them to the run as metric history, step =
// epoch, in batches of at most 900 points, at least every 2 seconds.
type epochMetrics struct {
	rs      *runState
	ctx     context.Context
	pending []loopml.Metric
	last    time.Time
	err     error
}

// epochLogger returns a context under which learners report epochs to a
// new epochMetrics; call flush when Fit returns.
func (rs *runState) epochLogger(ctx context.Context) (context.Context, *epochMetrics) {
	e := &epochMetrics{rs: rs, ctx: ctx, last: time.Now()}
	return learn.WithProgress(ctx, e.report), e
}

func (e *epochMetrics) report(epoch int, m map[string]float64) {
	for _, p := range e.rs.metrics(m, int64(epoch)) {
		if p.Value == p.Value { // NaN is not worth a point
			e.pending = append(e.pending, p)
		}
	}
	if len(e.pending) >= 900 || time.Since(e.last) >= 2*time.Second {
		if err := e.flush(e.ctx); err != nil && e.err == nil {
			e.err = err
		}
	}
}

// flush logs the pending points and returns the first logging error.
func (e *epochMetrics) flush(ctx context.Context) error {
	for len(e.pending) > 0 && e.err == nil {
		n := min(len(e.pending), 1000)
		if err := e.rs.deps.Runs.LogBatch(ctx, e.rs.run.ID, loopml.Batch{Metrics: e.pending[:n]}); err != nil {
			e.err = err
		}
		e.pending = e.pending[n:]
	}
	e.last = time.Now()
	return e.err
}
