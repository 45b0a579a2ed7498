package main

import (
	"fmt"
	"strings"

	"github.com/loopml/loopml/datasets"
	"github.com/spf13/cobra"
)

func newDataShowCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "show NAME[@VERSION]",
		Short:   "Show a dataset version: root digest, size, labels, tags and schema",
		Example: `  loopml data show movies@latest`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openData(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			v, err := datasets.Resolve(cmd.Context(), env.deps, args[0])
			if err != nil {
				return err
			}
			usedBy := datasetUsers(cmd.Context(), env, v, cmd.ErrOrStderr())
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), struct {
					datasetVersionView
					UsedBy []datasetRunView `json:"used_by_runs,omitempty"`
				}{newDatasetVersionView(v), usedBy})
			}
			w := cmd.OutOrStdout()
			tw := newTable(w)
			fmt.Fprintf(tw, "Name:\t%s\n", v.Name)
			fmt.Fprintf(tw, "Version:\tv%d\n", v.Version)
			fmt.Fprintf(tw, "Root:\t%s\n", v.Root)
			fmt.Fprintf(tw, "Files:\t%d\n", v.Files)
			fmt.Fprintf(tw, "Size:\t%s (%d bytes)\n", fmtBytes(v.Size), v.Size)
			fmt.Fprintf(tw, "Labels:\t%s\n", fmtLabels(v.Labels))
			fmt.Fprintf(tw, "Tags:\t%s\n", orDash(strings.Join(v.Tags, ",")))
			fmt.Fprintf(tw, "Profile:\t%s\n", orDash(v.ProfileRef))
			if v.Validation != "" || v.Quarantined {
				fmt.Fprintf(tw, "Validation:\t%s\n", validationStatusLine(cmd.Context(), env, v))
			}
			fmt.Fprintf(tw, "Created:\t%s by %s\n", fmtTime(v.CreationTimestamp), orDash(v.CreatedBy))
			if len(usedBy) > 0 {
				fmt.Fprintf(tw, "Used by:\t%s\n", fmtDatasetRuns(usedBy))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if v.Schema != "" {
				fmt.Fprintln(w)
				return printSchema(w, v.Schema)
			}
			return nil
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
