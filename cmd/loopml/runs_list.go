package main

import (
	"context"
	"fmt"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func newRunsListCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o           clientOptions
		experiments []string
		filter      string
		orderBy     []string
		max         int
		view        string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, optionally filtered and ordered",
		Example: `  loopml runs list --experiment churn-model
  loopml runs list --experiment 1 --filter "metrics.rmse < 0.5 AND params.lr = '0.01'" --order-by "metrics.rmse ASC" --max 10
  loopml runs list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vt, err := parseView(view)
			if err != nil {
				return err
			}
			if max <= 0 {
				return loopml.Errorf(loopml.EINVALID, "max must be positive, got %d", max)
			}
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			ctx := cmd.Context()
			ids, err := experimentIDs(ctx, svc.experiments, experiments)
			if err != nil {
				return err
			}
			var runs []*loopml.Run
			for tok := ""; len(runs) < max && len(ids) > 0; {
				page, next, err := svc.runs.SearchRuns(ctx, loopml.RunSearch{
					ExperimentIDs: ids, Filter: filter, OrderBy: orderBy, ViewType: vt,
					MaxResults: min(max-len(runs), loopml.MaxSearchRunsResults), PageToken: tok,
				})
				if err != nil {
					return err
				}
				runs = append(runs, page...)
				if next == "" {
					break
				}
				tok = next
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				views := make([]runView, len(runs))
				for i, r := range runs {
					views[i] = newRunView(r)
				}
				return writeJSON(out, views)
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "RUN ID\tEXPERIMENT\tNAME\tSTATUS\tSTARTED\tPARAMS\tMETRICS")
			for _, r := range runs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", r.ID, r.ExperimentID, orDash(r.Name), r.Status, fmtTime(r.StartTime), len(r.Params), len(r.Metrics))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringSliceVar(&experiments, "experiment", nil, "experiment id or name (repeatable; default: every active experiment)")
	f.StringVar(&filter, "filter", "", "MLflow search filter, e.g. \"metrics.rmse < 0.5 AND params.lr = '0.01'\"")
	f.StringArrayVar(&orderBy, "order-by", nil, "order clause, e.g. \"metrics.rmse ASC\" (repeatable; default start time, newest first)")
	f.IntVar(&max, "max", 100, "maximum number of runs to list")
	f.StringVar(&view, "view", "active", "which runs: active, deleted or all")
	return cmd
}

// experimentIDs resolves experiment ids or names; none means every active
// experiment.
func experimentIDs(ctx context.Context, svc loopml.ExperimentService, refs []string) ([]string, error) {
	var ids []string
	for _, ref := range refs {
		e, err := findExperiment(ctx, svc, ref)
		if err != nil {
			return nil, err
		}
		ids = append(ids, e.ID)
	}
	if len(refs) > 0 {
		return ids, nil
	}
	for tok := ""; ; {
		page, next, err := svc.SearchExperiments(ctx, loopml.ExperimentSearch{MaxResults: loopml.MaxSearchExperimentsResults, PageToken: tok})
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			ids = append(ids, e.ID)
		}
		if next == "" {
			return ids, nil
		}
		tok = next
	}
}
