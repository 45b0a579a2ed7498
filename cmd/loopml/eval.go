package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/training"
	"github.com/spf13/cobra"
)

func newEvalCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o            clientOptions
		d            dataFlags
		split        string
		testFraction float64
		seed         uint64
		k            int
		threshold    float64
		includeSeen  bool
		workers      int
	)
	cmd := &cobra.Command{
		Use:   "eval LEARNER",
		Short: "Evaluate a built-in learner on a train/test split and log the metrics",
		Long: `Split --data into train and test sets (--split random, user-time or time),
fit LEARNER (` + strings.Join(append(learn.Learners(), learn.TabularLearners()...), ", ") + `) on the training set and score it on
the test set: RMSE and MAE of the predicted ratings, and precision, recall,
NDCG, MAP, hit rate and catalogue coverage of the top --k recommendations.
The metrics are logged to a new tracking run and the full report is written
as its eval/report.json artifact. The tabular learners (linear, logistic;
--target, --features or --exclude) split rows at random and report RMSE,
MAE and R² (linear) or log-loss, accuracy and AUC (logistic).`,
		Example: `  loopml eval mf --data ratings.csv --split user-time --test-fraction 0.2 --seed 42
  loopml eval implicit-als --data ratings.csv --k 20 --params factors=32 -o json
  loopml eval logistic --data deliveries.csv --target late --exclude delivery_minutes --test-fraction 0.2 --seed 42`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, params, err := d.source()
			if err != nil {
				return err
			}
			switch learn.SplitMethod(split) {
			case learn.SplitRandom, learn.SplitUserTime, learn.SplitTime:
			default:
				return loopml.Errorf(loopml.EINVALID, "--split %q: want random, user-time or time", split)
			}
			if !(testFraction > 0 && testFraction < 1) {
				return loopml.Errorf(loopml.EINVALID, "--test-fraction %v: want a value in (0, 1)", testFraction)
			}
			if workers < 0 {
				return loopml.Errorf(loopml.EINVALID, "--workers %d: want 0 (one per CPU) or more", workers)
			}
			if k < 1 {
				return loopml.Errorf(loopml.EINVALID, "--k %d: want at least 1", k)
			}
			svc, err := openServices(cmd.Context(), o, getenv, true)
			if err != nil {
				return err
			}
			defer svc.close()
			deps, err := trainingDeps(svc)
			if err != nil {
				return err
			}
			src.Datasets = newDatasetResolver(svc, cmd.ErrOrStderr())
			rep, err := training.Evaluate(cmd.Context(), training.EvalOptions{
				Learner: args[0], Data: src, Params: params,
				Split:      learn.SplitOptions{Method: learn.SplitMethod(split), TestFraction: testFraction, Seed: seed},
				Eval:       learn.EvalOptions{K: k, RelevanceThreshold: threshold, IncludeSeen: includeSeen, Workers: workers},
				Experiment: d.experiment, RunName: d.runName, UserID: currentUser(getenv),
				Target: d.target, Features: d.features, Exclude: d.exclude, Categorical: d.categorical,
			}, deps)
			if err != nil {
				if rep != nil && rep.RunID != "" {
					return fmt.Errorf("run %s failed: %w", rep.RunID, flagError(err))
				}
				return flagError(err)
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, rep)
			}
			return printEvalTable(out, rep)
		},
	}
	addClientFlags(cmd, &o)
	addDataFlags(cmd, &d)
	f := cmd.Flags()
	f.StringVar(&split, "split", "random", "how to split: random, user-time (each user's latest interactions) or time (a global time cut)")
	f.Float64Var(&testFraction, "test-fraction", 0.2, "share of the interactions in the test set")
	f.Uint64Var(&seed, "seed", 42, "seed of the random split")
	f.IntVar(&k, "k", 10, "length of the recommendation lists for the ranking metrics")
	f.Float64Var(&threshold, "relevance-threshold", 0, "count only test ratings at least this as relevant (0: all)")
	f.BoolVar(&includeSeen, "include-seen", false, "keep items seen in training in the recommendation lists")
	f.IntVar(&workers, "workers", 0, "goroutines scoring test users (0: one per CPU; 1 makes the last digit of the means independent of the machine)")
	return cmd
}

// printEvalTable prints the report without its timings, so that the same
// seeds print the same table.
func printEvalTable(out interface{ Write([]byte) (int, error) }, rep *training.EvalReport) error {
	if rep.Tabular != nil {
		return printTabularEval(out, rep)
	}
	r := rep.Metrics
	w := newTable(out)
	fmt.Fprintf(w, "Run:\t%s\n", rep.RunID)
	fmt.Fprintf(w, "Learner:\t%s\n", rep.Learner)
	fmt.Fprintf(w, "Data:\t%s (%s)\n", rep.Dataset, rep.Digest)
	fmt.Fprintf(w, "Split:\t%s, test fraction %s, seed %d\n", rep.Split.Method, strconv.FormatFloat(rep.Split.TestFraction, 'g', -1, 64), rep.Split.Seed)
	fmt.Fprintf(w, "Rows:\ttrain %d, test %d\n", r.TrainRows, r.TestRows)
	fmt.Fprintf(w, "Users:\t%d ranked, %d cold start\n", r.RankedUsers, r.ColdStartUsers)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "METRIC\tVALUE")
	k := strconv.Itoa(r.K)
	for _, m := range []struct {
		name string
		v    float64
	}{
		{"rmse", r.RMSE}, {"mae", r.MAE},
		{"precision@" + k, r.Precision}, {"recall@" + k, r.Recall}, {"ndcg@" + k, r.NDCG},
		{"map@" + k, r.MAP}, {"hit_rate@" + k, r.HitRate}, {"coverage@" + k, r.Coverage},
	} {
		fmt.Fprintf(w, "%s\t%.4f\n", m.name, m.v)
	}
	fmt.Fprintf(w, "cold_start_predictions\t%d\n", r.ColdStartPredictions)
	return w.Flush()
}
