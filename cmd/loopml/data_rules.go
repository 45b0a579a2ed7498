package main

import (
	"fmt"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
	"github.com/spf13/cobra"
)

// newDataRulesCommand groups the commands on the rules attached to a
// dataset.
func newDataRulesCommand(getenv func(string) (string, bool)) *cobra.Command {
	rules := &cobra.Command{
		Use:   "rules",
		Short: "Attach validation rules to a dataset: every new version is checked on add",
		Long: `Rules attached to a dataset are checked against every version added to it
(loopml data add), and by loopml data validate without --rules. Each change
is kept as a new revision. See the README for the rules format.`,
	}
	rules.AddCommand(newDataRulesSetCommand(getenv), newDataRulesShowCommand(getenv), newDataRulesRmCommand(getenv),
		newDataRulesHistoryCommand(getenv))
	return rules
}

// rulesView is the JSON form of attached rules.
type rulesView struct {
	Name              string `json:"name"`
	Revision          int    `json:"revision"`
	Digest            string `json:"digest"`
	YAML              string `json:"yaml"`
	CreatedBy         string `json:"created_by,omitempty"`
	CreationTimestamp int64  `json:"creation_timestamp"`
}

func newRulesView(r *loopml.DatasetRules) rulesView {
	return rulesView{r.Name, r.Revision, r.Digest, r.YAML, r.CreatedBy, r.CreationTimestamp}
}

func newDataRulesSetCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "set NAME RULES_FILE",
		Short:   "Attach a rules file to a dataset (a new revision; the dataset need not exist yet)",
		Example: `  loopml data rules set ratings rules.yaml`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			y, err := readRulesFile(args[1])
			if err != nil {
				return err
			}
			env, vs, err := openValidations(cmd.Context(), o, getenv, true, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			r, err := vs.SetDatasetRules(cmd.Context(), args[0], y)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), newRulesView(r))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Attached rules to %s (revision %d, %s)\n", r.Name, r.Revision, shortDigest(r.Digest))
			return nil
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

func newDataRulesShowCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "show NAME",
		Short:   "Print the rules attached to a dataset",
		Example: `  loopml data rules show ratings > rules.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, vs, err := openValidations(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			r, err := vs.GetDatasetRules(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(w, newRulesView(r))
			}
			// A YAML comment header keeps the output a valid rules file.
			fmt.Fprintf(w, "# rules of dataset %s, revision %d, %s, set %s by %s\n", r.Name, r.Revision, r.Digest, fmtTime(r.CreationTimestamp), orDash(r.CreatedBy))
			fmt.Fprint(w, r.YAML)
			if !strings.HasSuffix(r.YAML, "\n") {
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

func newDataRulesRmCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "rm NAME",
		Short:   "Detach the rules of a dataset (new versions are no longer checked)",
		Example: `  loopml data rules rm ratings`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, vs, err := openValidations(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			if err := vs.DeleteDatasetRules(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Detached the rules of %s\n", args[0])
			return nil
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

func newDataRulesHistoryCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List the revisions of a dataset's rules, newest first",
		Long: `Lists every revision of the rules attached to a dataset, newest first. A
revision that detached the rules (loopml data rules rm) shows as "removed";
in -o json it has an empty yaml and digest.`,
		Example: `  loopml data rules history ratings`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, vs, err := openValidations(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			list, err := vs.ListDatasetRules(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.output == "json" {
				views := make([]rulesView, len(list))
				for i, r := range list {
					views[i] = newRulesView(r)
				}
				return writeJSON(w, views)
			}
			if len(list) == 0 {
				fmt.Fprintf(w, "No rules were ever attached to %s\n", args[0])
				return nil
			}
			tw := newTable(w)
			fmt.Fprintln(tw, "REVISION\tDIGEST\tSIZE\tBY\tCREATED")
			for i, r := range list {
				digest, size := shortDigest(r.Digest), fmtBytes(int64(len(r.YAML)))
				if r.YAML == "" {
					digest, size = "removed", "-"
				} else if i == 0 {
					digest += " (current)"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.Revision, digest, size, orDash(r.CreatedBy), fmtTime(r.CreationTimestamp))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

// checkDatasetRules vets rules attached over the HTTP API.
func checkDatasetRules(name, yaml string) error {
	_, err := datasets.LoadRules(yaml, name)
	return err
}
