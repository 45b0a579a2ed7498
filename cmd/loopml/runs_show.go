package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newRunsShowCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "show RUN_ID",
		Short:   "Show a run: its attributes, params, latest metrics and tags",
		Example: `  loopml runs show 0a1b2c3d4e5f60718293a4b5c6d7e8f9 -o json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			r, err := svc.runs.GetRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			v := newRunView(r)
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, v)
			}
			tw := newTable(out)
			fmt.Fprintf(tw, "Run ID:\t%s\n", v.RunID)
			fmt.Fprintf(tw, "Name:\t%s\n", orDash(v.RunName))
			fmt.Fprintf(tw, "Experiment:\t%s\n", v.ExperimentID)
			fmt.Fprintf(tw, "Status:\t%s\n", v.Status)
			fmt.Fprintf(tw, "Stage:\t%s\n", v.LifecycleStage)
			fmt.Fprintf(tw, "User:\t%s\n", orDash(v.UserID))
			fmt.Fprintf(tw, "Started:\t%s\n", fmtTime(v.StartTime))
			fmt.Fprintf(tw, "Ended:\t%s\n", fmtTime(v.EndTime))
			fmt.Fprintf(tw, "Artifact URI:\t%s\n", v.ArtifactURI)
			if err := tw.Flush(); err != nil {
				return err
			}
			if err := printKeyValues(out, "Params", v.Params); err != nil {
				return err
			}
			if len(v.Metrics) == 0 {
				fmt.Fprintf(out, "\nMetrics: none\n")
			} else {
				fmt.Fprintf(out, "\nMetrics (latest):\n")
				tw = newTable(out)
				fmt.Fprintln(tw, "  KEY\tVALUE\tSTEP\tTIME")
				for _, m := range v.Metrics {
					fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", m.Key, fmtFloat(float64(m.Value)), m.Step, fmtTime(m.Timestamp))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			return printKeyValues(out, "Tags", v.Tags)
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
