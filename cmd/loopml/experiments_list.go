package main

import (
	"fmt"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func newExperimentsListCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o       clientOptions
		view    string
		filter  string
		orderBy []string
		max     int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List experiments",
		Example: `  loopml experiments list
  loopml experiments list --filter "name LIKE 'prod-%'" -o json`,
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
			var exps []*loopml.Experiment
			for tok := ""; len(exps) < max; {
				page, next, err := svc.experiments.SearchExperiments(cmd.Context(), loopml.ExperimentSearch{
					Filter: filter, OrderBy: orderBy, ViewType: vt, MaxResults: min(max-len(exps), loopml.MaxSearchExperimentsResults), PageToken: tok,
				})
				if err != nil {
					return err
				}
				exps = append(exps, page...)
				if next == "" {
					break
				}
				tok = next
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				views := make([]experimentView, len(exps))
				for i, e := range exps {
					views[i] = newExperimentView(e)
				}
				return writeJSON(out, views)
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "ID\tNAME\tSTAGE\tCREATED\tARTIFACT LOCATION")
			for _, e := range exps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.Name, e.LifecycleStage, fmtTime(e.CreationTime), e.ArtifactLocation)
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	cmd.Flags().StringVar(&view, "view", "active", "which experiments: active, deleted or all")
	cmd.Flags().StringVar(&filter, "filter", "", "MLflow search filter, e.g. \"name LIKE 'prod-%'\"")
	cmd.Flags().StringArrayVar(&orderBy, "order-by", nil, "order clause, e.g. \"name ASC\" (repeatable; default creation time, newest first)")
	cmd.Flags().IntVar(&max, "max", 1000, "maximum number of experiments to list")
	return cmd
}

// parseView turns --view into a ViewType.
func parseView(s string) (loopml.ViewType, error) {
	switch s {
	case "active", "":
		return loopml.ActiveOnly, nil
	case "deleted":
		return loopml.DeletedOnly, nil
	case "all":
		return loopml.AllView, nil
	}
	return 0, loopml.Errorf(loopml.EINVALID, "view %q must be active, deleted or all", s)
}
