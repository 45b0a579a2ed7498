package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newDataVersionsCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "versions NAME",
		Short:   "List the versions of a dataset, oldest first",
		Example: `  loopml data versions movies`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openData(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			vs, err := env.deps.Store.ListDatasetVersions(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			views := make([]datasetVersionView, len(vs))
			for i, v := range vs {
				views[i] = newDatasetVersionView(v)
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), views)
			}
			tw := newTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "VERSION\tFILES\tSIZE\tROOT\tTAGS\tLABELS\tVALIDATION\tCREATED")
			for _, v := range views {
				fmt.Fprintf(tw, "v%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Version, v.Files, fmtBytes(v.Size), shortRoot(v.Root),
					orDash(strings.Join(v.Tags, ",")), fmtLabels(v.Labels), fmtVersionValidation(v), fmtTime(v.CreationTimestamp))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

// fmtVersionValidation is the VALIDATION cell of a version: the status of
// its latest validation ("-" if never validated), and "quarantined" when it
// is kept out of @latest.
func fmtVersionValidation(v datasetVersionView) string {
	s := v.Validation
	if v.Quarantined {
		if s != "" {
			s += ","
		}
		s += "quarantined"
	}
	return orDash(s)
}
