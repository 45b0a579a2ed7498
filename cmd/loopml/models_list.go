package main

import (
	"fmt"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func newModelsListCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o       clientOptions
		filter  string
		orderBy []string
		max     int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List registered models with their latest version and aliases",
		Example: `  loopml models list
  loopml models list --filter "name LIKE 'churn%'" -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if max <= 0 {
				return loopml.Errorf(loopml.EINVALID, "max must be positive, got %d", max)
			}
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			ctx := cmd.Context()
			var models []*loopml.RegisteredModel
			for tok := ""; len(models) < max; {
				page, next, err := svc.registry.SearchRegisteredModels(ctx, loopml.RegisteredModelSearch{
					Filter: filter, OrderBy: orderBy, PageToken: tok,
					MaxResults: min(max-len(models), loopml.MaxSearchModelsResults),
				})
				if err != nil {
					return err
				}
				models = append(models, page...)
				if next == "" {
					break
				}
				tok = next
			}
			views := make([]modelView, len(models))
			for i, m := range models {
				views[i] = newModelView(m)
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, views)
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "NAME\tLATEST\tALIASES\tUPDATED\tDESCRIPTION")
			for _, m := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, latestVersion(m), fmtAliases(m.Aliases),
					fmtTime(m.LastUpdatedTimestamp), orDash(m.Description))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVar(&filter, "filter", "", "MLflow search filter, e.g. \"name LIKE 'churn%'\" or \"tags.team = 'growth'\"")
	f.StringArrayVar(&orderBy, "order-by", nil, "order, e.g. \"name ASC\" or \"last_updated_timestamp DESC\" (repeatable)")
	f.IntVar(&max, "max", 1000, "maximum number of models")
	return cmd
}
