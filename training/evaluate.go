package training

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
)

// ReportArtifactPath is where Evaluate writes its JSON report under the
// run's artifacts.
const ReportArtifactPath = "eval/report.json"

// EvalOptions configures Evaluate. Learner and Data.Path are required; the
// zero Split is a random 80/20 split with seed 0 and the zero Eval ranks the
// top 10.
type EvalOptions struct {
	Learner    string
	Data       DataSource
	Params     learn.Params
	Split      learn.SplitOptions
	Eval       learn.EvalOptions
	Experiment string // "" is the default experiment
	RunName    string
	UserID     string
	// Target, Features, Exclude and Categorical configure the tabular
	// learners, as in TrainOptions.
	Target                         string
	Features, Exclude, Categorical []string
}

// EvalReport is the JSON report Evaluate writes and returns.
type EvalReport struct {
	RunID   string             `json:"run_id"`
	Learner string             `json:"learner"`
	Dataset string             `json:"dataset"`
	Digest  string             `json:"dataset_digest"`
	Params  learn.Params       `json:"params"`
	Split   learn.SplitOptions `json:"split"`
	Metrics *learn.Report      `json:"metrics"`
	// Tabular is a tabular learner's evaluation (Metrics is then nil).
	Tabular *learn.TabularReport `json:"tabular,omitempty"`
}

// Evaluate loads o.Data, splits it, fits o.Learner on the training part
// and scores it on the test part in a new tracking run: params (the
// learner's effective hyperparameters plus split.* and eval.*), the metrics
// of learn.Report (ranking metrics keyed with the list length, e.g.
// ndcg_at_10) and the report as eval/report.json. Bad options are EINVALID,
// reported before any run is created.
func Evaluate(ctx context.Context, o EvalOptions, deps Deps) (*EvalReport, error) {
	if learn.IsTabular(o.Learner) {
		return evaluateTabular(ctx, o, deps)
	}
	if err := deps.check(false); err != nil {
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
	if o.Eval.K == 0 {
		o.Eval.K = 10
	}
	if o.Eval.K < 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "k %d: want > 0", o.Eval.K)
	}
	if o.Split.Method == "" {
		o.Split.Method = learn.SplitRandom
	}
	if o.Split.TestFraction == 0 {
		o.Split.TestFraction = 0.2
	}
	ds, err := LoadData(ctx, o.Data)
	if err != nil {
		return nil, err
	}
	train, test, err := learn.Split(ds.Data, o.Split)
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
		params := sortedParams(eff, "")
		params = append(params,
			loopml.Param{Key: "split.method", Value: string(o.Split.Method)},
			loopml.Param{Key: "split.test_fraction", Value: strconv.FormatFloat(o.Split.TestFraction, 'g', -1, 64)},
			loopml.Param{Key: "split.seed", Value: strconv.FormatUint(o.Split.Seed, 10)},
			loopml.Param{Key: "eval.k", Value: strconv.Itoa(o.Eval.K)},
			loopml.Param{Key: "eval.relevance_threshold", Value: strconv.FormatFloat(o.Eval.RelevanceThreshold, 'g', -1, 64)},
			loopml.Param{Key: "eval.include_seen", Value: strconv.FormatBool(o.Eval.IncludeSeen)},
		)
		if err := deps.Runs.LogBatch(ctx, rs.run.ID, loopml.Batch{Params: params}); err != nil {
			return fmt.Errorf("log params: %w", err)
		}
		pctx, epochs := rs.epochLogger(ctx) // per-epoch metrics of the fit, step = epoch
		r, _, err := learn.Evaluate(pctx, l, train, test, eff, o.Eval)
		if ferr := epochs.flush(ctx); err == nil && ferr != nil {
			return fmt.Errorf("log epoch metrics: %w", ferr)
		}
		if err != nil {
			return invalid("evaluate "+o.Learner, err)
		}
		rep.Metrics = r
		if err := deps.Runs.LogBatch(ctx, rs.run.ID, loopml.Batch{Metrics: rs.metrics(ReportMetrics(r), 0)}); err != nil {
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

// putReport stores rep, indented JSON, as the run's ReportArtifactPath.
func (rs *runState) putReport(ctx context.Context, deps Deps, rep any) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return loopml.WrapError(loopml.EINTERNAL, err, "encode report: %v", err)
	}
	if _, err := deps.Artifacts.Put(ctx, rs.storeRoot+"/"+ReportArtifactPath, bytes.NewReader(append(b, '\n'))); err != nil {
		return fmt.Errorf("upload %s: %w", ReportArtifactPath, err)
	}
	return nil
}

// ReportMetrics returns r as run metrics: rmse, mae, the ranking metrics
// with the list length in the key (precision_at_10, recall_at_10,
// ndcg_at_10, map_at_10, hit_rate_at_10, coverage_at_10), the cold-start
// counts, sizes and times. NaN values are left out.
func ReportMetrics(r *learn.Report) map[string]float64 {
	k := strconv.Itoa(r.K)
	m := map[string]float64{
		"rmse": r.RMSE, "mae": r.MAE,
		"precision_at_" + k: r.Precision, "recall_at_" + k: r.Recall, "ndcg_at_" + k: r.NDCG,
		"map_at_" + k: r.MAP, "hit_rate_at_" + k: r.HitRate, "coverage_at_" + k: r.Coverage,
		"cold_start_predictions": float64(r.ColdStartPredictions), "cold_start_users": float64(r.ColdStartUsers),
		"ranked_users": float64(r.RankedUsers), "train_rows": float64(r.TrainRows), "test_rows": float64(r.TestRows),
		"fit_seconds": r.FitSeconds, "eval_seconds": r.EvalSeconds,
	}
	for key, v := range m {
		if math.IsNaN(v) {
			delete(m, key)
		}
	}
	return m
}

func sortedMetricKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
