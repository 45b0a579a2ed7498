package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/training"
	"github.com/spf13/cobra"
)

// dataFlags are the flags that say where the interactions are and how to
// read them, shared by train and eval.
type dataFlags struct {
	data                                 string
	dataFile                             string // with --data NAME@VERSION
	userCol, itemCol, ratingCol, timeCol string
	params                               []string
	experiment, runName                  string
	target                               string   // tabular learners
	features, exclude, categorical       []string // tabular learners
}

func addDataFlags(cmd *cobra.Command, d *dataFlags) {
	f := cmd.Flags()
	f.StringVar(&d.data, "data", "", "interactions: a CSV file (userId,movieId,rating,timestamp or user_id,item_id,rating,timestamp recognised by name) a MovieLens directory, or a dataset version NAME@v3 / NAME@tag / NAME@latest (required)")
	f.StringVar(&d.dataFile, "data-file", "", "with --data NAME@VERSION: the file of the dataset version to read (default: its ratings.csv, else its only CSV/TSV file)")
	f.StringVar(&d.userCol, "user-col", "", "name of the user column (default: recognised by name)")
	f.StringVar(&d.itemCol, "item-col", "", "name of the item column (default: recognised by name)")
	f.StringVar(&d.ratingCol, "rating-col", "", "name of the rating column (default: recognised by name; none means implicit feedback)")
	f.StringVar(&d.timeCol, "time-col", "", "name of the timestamp column (default: recognised by name)")
	f.StringSliceVar(&d.params, "params", nil, "learner hyperparameter key=value (repeat or separate with commas)")
	f.StringVar(&d.experiment, "experiment", "", "experiment name, created when missing (default: the Default experiment)")
	f.StringVar(&d.runName, "run-name", "", "name of the tracking run (default: generated)")
	f.StringVar(&d.target, "target", "", "linear/logistic: the column to predict (required for them)")
	f.StringSliceVar(&d.features, "features", nil, "linear/logistic: the input columns (default: all but --target and --exclude)")
	f.StringSliceVar(&d.exclude, "exclude", nil, "linear/logistic: columns to leave out of the default features")
	f.StringSliceVar(&d.categorical, "categorical", nil, "linear/logistic: numeric-looking columns to one-hot encode (ids, codes)")
}

// source returns the data source and the parsed params, or an error naming
// the flag.
func (d dataFlags) source() (training.DataSource, learn.Params, error) {
	if d.data == "" {
		return training.DataSource{}, nil, loopml.Errorf(loopml.EINVALID, "--data is required: a CSV file or a MovieLens directory")
	}
	p, err := training.ParseParams(d.params)
	if err != nil {
		return training.DataSource{}, nil, loopml.WrapError(loopml.EINVALID, err, "--%s", loopml.ErrorMessage(err))
	}
	return training.DataSource{Path: d.data, File: d.dataFile, CSV: learn.CSVOptions{
		UserColumn: d.userCol, ItemColumn: d.itemCol, RatingColumn: d.ratingCol, TimeColumn: d.timeCol,
	}}, p, nil
}

// flagError makes a training error name the flag behind it: --params,
// --data, or the --*-col flag of a missing column.
func flagError(err error) error {
	if loopml.ErrorCode(err) != loopml.EINVALID {
		return err
	}
	msg := loopml.ErrorMessage(err)
	if errors.Is(err, learn.ErrUnknownColumn) {
		for _, field := range []string{"user", "item", "rating", "time"} {
			if strings.Contains(msg, field+" column") {
				return loopml.WrapError(loopml.EINVALID, err, "--%s-col: %s", field, msg)
			}
		}
	}
	for _, prefix := range []string{"params", "data", "target", "features", "exclude", "categorical"} {
		if strings.HasPrefix(msg, prefix) {
			return loopml.WrapError(loopml.EINVALID, err, "--%s", msg)
		}
	}
	return err
}

// trainingDeps adapts the command's services to training.Deps; artifacts
// are uploaded through the same store the other commands read.
func trainingDeps(svc *services) (training.Deps, error) {
	var up training.Uploader
	switch a := svc.artifacts.(type) {
	case training.Uploader:
		up = a
	case proxyArtifacts:
		up = proxyUploader(a)
	default:
		return training.Deps{}, loopml.Errorf(loopml.EINTERNAL, "artifact store %T cannot upload", svc.artifacts)
	}
	return training.Deps{Experiments: svc.experiments, Runs: svc.runs, Registry: svc.registry, Artifacts: up}, nil
}

// proxyUploader uploads through the server's artifact proxy.
type proxyUploader struct{ c *httpapi.Client }

func (p proxyUploader) Put(ctx context.Context, path string, r io.Reader) (int64, error) {
	cr := &countingReader{r: r}
	err := p.c.UploadArtifact(ctx, path, cr)
	return cr.n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func currentUser(getenv func(string) (string, bool)) string {
	if u, ok := getenv("USER"); ok {
		return u
	}
	return ""
}

// trainView is the JSON form of a training result.
type trainView struct {
	RunID           string            `json:"run_id"`
	ExperimentID    string            `json:"experiment_id"`
	Learner         string            `json:"learner"`
	ModelURI        string            `json:"model_uri"`
	Digest          string            `json:"digest"`
	SizeBytes       int64             `json:"size_bytes"`
	RegisteredModel string            `json:"registered_model,omitempty"`
	Version         string            `json:"version,omitempty"`
	Params          map[string]string `json:"params"`
	Metrics         []metricValue     `json:"metrics"`
}

type metricValue struct {
	Key   string    `json:"key"`
	Value jsonFloat `json:"value"`
}

func sortedMetrics(m map[string]float64) []metricValue {
	out := make([]metricValue, 0, len(m))
	for k, v := range m {
		out = append(out, metricValue{k, jsonFloat(v)})
	}
	slices.SortFunc(out, func(a, b metricValue) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func newTrainCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o        clientOptions
		d        dataFlags
		register string
	)
	cmd := &cobra.Command{
		Use:   "train LEARNER",
		Short: "Train a built-in learner in a tracking run and log the model package",
		Long: `Train LEARNER (` + strings.Join(append(learn.Learners(), learn.TabularLearners()...), ", ") + `) on --data in a new
tracking run: the effective hyperparameters are logged as params, the
training metrics as metrics, the data file as the run's dataset input, and
the model package (MLmodel with the loopml flavor, model.bin,
input_example.json) as the run's "model" artifact. With --register the
package becomes the next version of that registered model.`,
		Example: `  loopml train mf --data ratings.csv --params factors=16,epochs=20 --experiment movies --register recommender
  loopml train implicit-als --data events.csv --user-col uid --item-col sku --params alpha=20
  loopml train popularity --data ../shared/data/movielens-latest-small --tracking-uri http://localhost:5000
  loopml train linear --data deliveries.csv --target delivery_minutes --exclude late --params l2=0.001 --register eta`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, params, err := d.source()
			if err != nil {
				return err
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
			res, err := training.Train(cmd.Context(), training.TrainOptions{
				Learner: args[0], Data: src, Params: params, Experiment: d.experiment,
				RunName: d.runName, UserID: currentUser(getenv), Register: register,
				Target: d.target, Features: d.features, Exclude: d.exclude, Categorical: d.categorical,
			}, deps)
			if err != nil {
				if res != nil {
					return fmt.Errorf("run %s failed: %w", res.RunID, flagError(err))
				}
				return flagError(err)
			}
			v := trainView{
				RunID: res.RunID, ExperimentID: res.ExperimentID, Learner: args[0], ModelURI: res.ModelURI,
				Digest: res.Digest, SizeBytes: res.SizeBytes, Params: res.Params, Metrics: sortedMetrics(res.Metrics),
			}
			if register != "" {
				v.RegisteredModel, v.Version = register, res.Version
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, v)
			}
			w := newTable(out)
			fmt.Fprintf(w, "Run:\t%s\n", v.RunID)
			fmt.Fprintf(w, "Experiment:\t%s\n", v.ExperimentID)
			fmt.Fprintf(w, "Learner:\t%s\n", v.Learner)
			fmt.Fprintf(w, "Model:\t%s\n", v.ModelURI)
			fmt.Fprintf(w, "Digest:\t%s (%d bytes)\n", v.Digest, v.SizeBytes)
			if register != "" {
				fmt.Fprintf(w, "Registered:\t%s version %s\n", register, v.Version)
			}
			fmt.Fprintln(w)
			fmt.Fprintln(w, "METRIC\tVALUE")
			for _, m := range v.Metrics {
				fmt.Fprintf(w, "%s\t%s\n", m.Key, fmtFloat(float64(m.Value)))
			}
			return w.Flush()
		},
	}
	addClientFlags(cmd, &o)
	addDataFlags(cmd, &d)
	cmd.Flags().StringVar(&register, "register", "", "register the package as a new version of this model (created when missing)")
	return cmd
}
