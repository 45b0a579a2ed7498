package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func newExperimentsShowCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "show ID-or-NAME",
		Short: "Show an experiment and its tags",
		Example: `  loopml experiments show 1
  loopml experiments show churn-model -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			e, err := findExperiment(cmd.Context(), svc.experiments, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, newExperimentView(e))
			}
			tw := newTable(out)
			fmt.Fprintf(tw, "ID:\t%s\n", e.ID)
			fmt.Fprintf(tw, "Name:\t%s\n", e.Name)
			fmt.Fprintf(tw, "Stage:\t%s\n", e.LifecycleStage)
			fmt.Fprintf(tw, "Artifact location:\t%s\n", e.ArtifactLocation)
			fmt.Fprintf(tw, "Created:\t%s\n", fmtTime(e.CreationTime))
			fmt.Fprintf(tw, "Last updated:\t%s\n", fmtTime(e.LastUpdateTime))
			if err := tw.Flush(); err != nil {
				return err
			}
			return printKeyValues(out, "Tags", tagViews(e.Tags))
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

// findExperiment looks ref up as an id when it is a number and as a name
// otherwise, or when no experiment has that id.
func findExperiment(ctx context.Context, svc loopml.ExperimentService, ref string) (*loopml.Experiment, error) {
	if _, err := strconv.ParseUint(ref, 10, 63); err == nil {
		e, err := svc.GetExperiment(ctx, ref)
		if loopml.ErrorCode(err) != loopml.ENOTFOUND {
			return e, err
		}
	}
	e, err := svc.GetExperimentByName(ctx, ref)
	if loopml.ErrorCode(err) == loopml.ENOTFOUND {
		return nil, loopml.Errorf(loopml.ENOTFOUND, "no experiment with id or name %q", ref)
	}
	return e, err
}

// printKeyValues prints a titled two-column table, or "Title: none".
func printKeyValues(w io.Writer, title string, kvs []keyValue) error {
	if len(kvs) == 0 {
		_, err := fmt.Fprintf(w, "\n%s: none\n", title)
		return err
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	tw := newTable(w)
	for _, kv := range kvs {
		fmt.Fprintf(tw, "  %s\t%s\n", kv.Key, kv.Value)
	}
	return tw.Flush()
}
