package main

import (
	"github.com/spf13/cobra"
)

func newModelsVersionsCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "versions NAME",
		Short:   "List the versions of a registered model, oldest first",
		Example: `  loopml models versions churn`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			ctx := cmd.Context()
			// Fail with the model's ENOTFOUND rather than print an empty list.
			if _, err := svc.registry.GetRegisteredModel(ctx, args[0]); err != nil {
				return err
			}
			vs, err := allVersions(ctx, svc.registry, args[0])
			if err != nil {
				return err
			}
			views := make([]versionView, len(vs))
			for i, v := range vs {
				views[i] = newVersionView(v)
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), views)
			}
			return printVersions(cmd.OutOrStdout(), views)
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
