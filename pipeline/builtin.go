package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/training"
)

// Built-in steps (uses:).
const (
	UsesPopularity  = "loopml/popularity"
	UsesMF          = "loopml/mf"
	UsesImplicitALS = "loopml/implicit-als"
	UsesLinear      = "loopml/linear"
	UsesLogistic    = "loopml/logistic"
	UsesEval        = "loopml/eval"
)

// Builtins lists the built-in steps a stage can name in uses.
func Builtins() []string {
	return []string{UsesPopularity, UsesMF, UsesImplicitALS, UsesLinear, UsesLogistic, UsesEval}
}

// builtinKeys are the with: inputs of each kind of built-in step.
var (
	trainWithKeys = []string{"data", "params", "out", "metrics", "target", "features", "exclude", "categorical"}
	evalWithKeys  = []string{"learner", "data", "params", "split", "test_fraction", "seed", "k", "metrics", "model", "train", "test", "target", "features", "exclude", "categorical"}
)

// builtinDefaults checks a uses: stage's with inputs, and adds its data
// to deps and its model directory and metrics file to outs and metrics.
func (p *parser) builtinDefaults(st *Stage, base string, line int) {
	if st.With == nil {
		st.With = map[string]any{}
	}
	allowed := trainWithKeys
	if st.Uses == UsesEval {
		allowed = evalWithKeys
	}
	for k := range st.With {
		if !containsStr(allowed, k) {
			p.el.add(line, "stage %q: with: unknown input %q for %s (allowed: %s)", base, k, st.Uses, strings.Join(allowed, ", "))
		}
	}
	addDep := func(key string) {
		data, _ := st.With[key].(string)
		dep, err := parseDep(data)
		if err != nil {
			p.el.add(line, "stage %q: with.%s %q: %v", base, key, data, err)
			return
		}
		for _, d := range st.Deps {
			if d.Raw == dep.Raw {
				return
			}
		}
		st.Deps = append(st.Deps, dep)
	}
	_, scoreModel := st.With["model"]
	switch {
	case st.Uses == UsesEval && scoreModel:
		for _, k := range []string{"model", "train", "test"} {
			if v, _ := st.With[k].(string); v == "" {
				p.el.add(line, "stage %q: with.%s is required to score a model (with.model, with.train, with.test)", base, k)
				return
			}
			addDep(k)
		}
	default:
		if data, _ := st.With["data"].(string); data == "" {
			p.el.add(line, "stage %q: with.data is required for %s (a file, a MovieLens directory or data://NAME@ref)", base, st.Uses)
			return
		}
		addDep("data")
	}
	if pm, ok := st.With["params"]; ok {
		if _, isMap := pm.(map[string]any); !isMap {
			p.el.add(line, "stage %q: with.params must be a mapping of hyperparameters", base)
		}
	}
	addPath := func(key, def string, list *[]string) {
		v, ok := st.With[key]
		s, isStr := v.(string)
		if !ok {
			s, isStr = def, true
			st.With[key] = s
		}
		c, err := cleanRel(s)
		if !isStr || err != nil {
			p.el.add(line, "stage %q: with.%s: expected a relative path", base, key)
			return
		}
		st.With[key] = c
		if !containsStr(*list, c) {
			*list = append(*list, c)
		}
	}
	safe := strings.NewReplacer("@", "-", "/", "-").Replace(st.Name)
	if st.Uses != UsesEval {
		addPath("out", "models/"+safe, &st.Outs)
	}
	addPath("metrics", "metrics/"+safe+".json", &st.Metrics)
	if st.Uses == UsesEval && !scoreModel {
		if l, _ := st.With["learner"].(string); l == "" {
			p.el.add(line, "stage %q: with.learner is required for %s (popularity, mf, implicit-als, linear or logistic)", base, st.Uses)
		}
	}
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// dataSource materialises with.data: a path relative to the spec, or a
// dataset version restored under .loopml/data/NAME@vN.
func (r *runner) dataSource(ctx context.Context, ss *stageState, key string) (training.DataSource, error) {
	data, _ := ss.st.With[key].(string)
	if rest, ok := strings.CutPrefix(data, "data://"); ok {
		var v *loopml.DatasetVersion
		for _, d := range ss.datasets {
			if ref, _ := loopml.ParseDatasetRef(rest); ref.Name == d.Name {
				v = d
			}
		}
		if v == nil {
			return training.DataSource{}, loopml.Errorf(loopml.EINTERNAL, "stage %s: dataset %s not resolved", ss.st.Name, rest)
		}
		dir := filepath.Join(r.spec.Dir, ".loopml", "data", fmt.Sprintf("%s@v%d", v.Name, v.Version))
		dd := datasets.Deps{Store: r.deps.Datasets, Artifacts: r.deps.DatasetArtifacts}
		if _, err := datasets.Get(ctx, dd, fmt.Sprintf("%s@v%d", v.Name, v.Version), dir); err != nil {
			return training.DataSource{}, fmt.Errorf("stage %s: get %s: %w", ss.st.Name, rest, err)
		}
		return training.DataSource{Path: dataPath(dir)}, nil
	}
	p := data
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.spec.Dir, filepath.FromSlash(p))
	}
	return training.DataSource{Path: p}, nil
}

// dataPath picks what to read in a restored dataset directory: the
// directory itself when it is MovieLens-shaped (ratings.csv + movies.csv),
// else its only CSV file, else ratings.csv.
func dataPath(dir string) string {
	_, e1 := os.Stat(filepath.Join(dir, "ratings.csv"))
	_, e2 := os.Stat(filepath.Join(dir, "movies.csv"))
	if e1 == nil && e2 == nil {
		return dir
	}
	if e1 == nil {
		return filepath.Join(dir, "ratings.csv")
	}
	ents, _ := os.ReadDir(dir)
	var csvs []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".csv") {
			csvs = append(csvs, e.Name())
		}
	}
	if len(csvs) == 1 {
		return filepath.Join(dir, csvs[0])
	}
	return dir
}

func learnParams(v any) learn.Params {
	m, _ := v.(map[string]any)
	out := learn.Params{}
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out
}

// runBuiltin runs a uses: stage in-process, in the stage's run.
func (r *runner) runBuiltin(ctx context.Context, ss *stageState) error {
	st := ss.st
	if _, ok := st.With["model"]; ok && st.Uses == UsesEval {
		return r.scoreModel(ctx, ss)
	}
	src, err := r.dataSource(ctx, ss, "data")
	if err != nil {
		return err
	}
	runs := &boundRuns{RunService: r.deps.Runs, id: ss.runID}
	metricsPath := filepath.Join(r.spec.Dir, filepath.FromSlash(st.With["metrics"].(string)))
	if err := os.MkdirAll(filepath.Dir(metricsPath), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(ss.stdout, "%s: data %s\n", st.Uses, src.Path)
	var metrics map[string]float64
	switch st.Uses {
	case UsesEval:
		o := training.EvalOptions{Learner: fmt.Sprint(st.With["learner"]), Data: src, Params: learnParams(st.With["params"]),
			Experiment: r.spec.Experiment, RunName: st.Name, UserID: r.opts.UserID}
		o.Target, o.Features, o.Exclude, o.Categorical = tabularWith(st.With)
		o.Split.Method = learn.SplitRandom
		if s, ok := st.With["split"].(string); ok {
			o.Split.Method = learn.SplitMethod(s)
		}
		if f, err := num(st.With["test_fraction"]); err == nil {
			o.Split.TestFraction = f
		}
		if f, err := num(st.With["seed"]); err == nil {
			o.Split.Seed = uint64(f)
		} else {
			o.Split.Seed = 42
		}
		if f, err := num(st.With["k"]); err == nil {
			o.Eval.K = int(f)
		}
		rep, err := training.Evaluate(ctx, o, training.Deps{Experiments: r.deps.Experiments, Runs: runs, Artifacts: r.deps.Artifacts})
		if err != nil {
			return stageErr(st, err)
		}
		if rep.Tabular != nil {
			metrics = rep.Tabular.Metrics
		} else {
			metrics = training.ReportMetrics(rep.Metrics)
		}
	default:
		out := filepath.Join(r.spec.Dir, filepath.FromSlash(st.With["out"].(string)))
		if err := os.RemoveAll(out); err != nil {
			return err
		}
		tee := &teeUploader{up: r.deps.Artifacts, prefix: ss.artRoot + "/" + training.ModelArtifactPath + "/", dir: out}
		to := training.TrainOptions{Learner: strings.TrimPrefix(st.Uses, "loopml/"), Data: src,
			Params: learnParams(st.With["params"]), Experiment: r.spec.Experiment, RunName: st.Name, UserID: r.opts.UserID}
		to.Target, to.Features, to.Exclude, to.Categorical = tabularWith(st.With)
		res, err := training.Train(ctx, to, training.Deps{Experiments: r.deps.Experiments, Runs: runs, Artifacts: tee})
		if err != nil {
			return stageErr(st, err)
		}
		metrics = res.Metrics
		fmt.Fprintf(ss.stdout, "%s: model %s (%d bytes, %s)\n", st.Uses, res.ModelURI, res.SizeBytes, res.Digest)
	}
	return writeMetrics(metricsPath, metrics)
}

func num(v any) (float64, error) {
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case float64:
		return x, nil
	case string:
		return strconv.ParseFloat(x, 64)
	}
	return 0, fmt.Errorf("not a number")
}

// boundRuns makes training's "create a run" use the stage's run: the run
// the pipeline created is returned (with training's tags added), and
// training's own end-of-run update is left to the pipeline.
type boundRuns struct {
	loopml.RunService
	id string
}

func (b *boundRuns) CreateRun(ctx context.Context, r *loopml.Run) error {
	var tags []loopml.Tag
	for _, t := range r.Tags {
		if t.Key != loopml.TagRunName && t.Key != TagSourceType && t.Key != TagSourceName {
			tags = append(tags, t)
		}
	}
	if len(tags) > 0 {
		if err := b.RunService.LogBatch(ctx, b.id, loopml.Batch{Tags: tags}); err != nil {
			return err
		}
	}
	got, err := b.RunService.GetRun(ctx, b.id)
	if err != nil {
		return err
	}
	*r = *got
	return nil
}

func (b *boundRuns) UpdateRun(ctx context.Context, id string, u loopml.RunUpdate) (*loopml.Run, error) {
	if id == b.id {
		return b.RunService.GetRun(ctx, id)
	}
	return b.RunService.UpdateRun(ctx, id, u)
}

// teeUploader uploads and also writes the files below prefix to dir, so
// a trained model package is both a run artifact and a stage output.
type teeUploader struct {
	up     Uploader
	prefix string
	dir    string
}

func (t *teeUploader) Put(ctx context.Context, path string, r io.Reader) (int64, error) {
	rel, ok := strings.CutPrefix(path, t.prefix)
	if !ok {
		return t.up.Put(ctx, path, r)
	}
	dest := filepath.Join(t.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(dest)
	if err != nil {
		return 0, err
	}
	n, err := t.up.Put(ctx, path, io.TeeReader(r, f))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// scoreModel evaluates a trained model package (with.model) on with.test,
// excluding the with.train interactions from the recommendations, and
// writes the metrics file.
func (r *runner) scoreModel(ctx context.Context, ss *stageState) error {
	st := ss.st
	path := func(k string) string {
		return filepath.Join(r.spec.Dir, filepath.FromSlash(st.With[k].(string)))
	}
	m, _, err := training.Load(ctx, os.DirFS(path("model")))
	if err != nil {
		return fmt.Errorf("stage %s: load model %s: %w", st.Name, st.With["model"], err)
	}
	var sets [2]*learn.Interactions
	for i, k := range []string{"train", "test"} {
		src, err := r.dataSource(ctx, ss, k)
		if err != nil {
			return err
		}
		ds, err := training.LoadData(ctx, src)
		if err != nil {
			return fmt.Errorf("stage %s: with.%s: %w", st.Name, k, err)
		}
		sets[i] = ds.Data
	}
	var o learn.EvalOptions
	if f, err := num(st.With["k"]); err == nil {
		o.K = int(f)
	}
	rep, err := learn.EvaluateModel(ctx, m, sets[0], sets[1], o)
	if err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "stage %s: evaluate: %v", st.Name, err)
	}
	fmt.Fprintf(ss.stdout, "%s: scored %s on %d test interactions\n", st.Uses, st.With["model"], sets[1].Len())
	return writeMetrics(filepath.Join(r.spec.Dir, filepath.FromSlash(st.With["metrics"].(string))), training.ReportMetrics(rep))
}

func writeMetrics(path string, metrics map[string]float64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(metrics, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// stageErr prefixes err's message with the stage, keeping its code.
func stageErr(st *Stage, err error) error {
	return loopml.WrapError(loopml.ErrorCode(err), err, "stage %s: %s", st.Name, loopml.ErrorMessage(err))
}

// tabularWith reads the tabular learners' inputs of a uses: stage: the
// target column and the feature, excluded and categorical column lists (a
// YAML list or a comma-separated string).
func tabularWith(with map[string]any) (target string, features, exclude, categorical []string) {
	target, _ = with["target"].(string)
	list := func(key string) []string {
		switch v := with[key].(type) {
		case string:
			var out []string
			for _, f := range strings.Split(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					out = append(out, f)
				}
			}
			return out
		case []any:
			out := make([]string, 0, len(v))
			for _, x := range v {
				out = append(out, fmt.Sprint(x))
			}
			return out
		}
		return nil
	}
	return target, list("features"), list("exclude"), list("categorical")
}
