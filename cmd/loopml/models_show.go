package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newModelsShowCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a registered model: description, tags, aliases and versions",
		Example: `  loopml models show churn -o json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			ctx := cmd.Context()
			m, err := svc.registry.GetRegisteredModel(ctx, args[0])
			if err != nil {
				return err
			}
			vs, err := allVersions(ctx, svc.registry, m.Name)
			if err != nil {
				return err
			}
			type showView struct {
				modelView
				Versions []versionView `json:"versions,omitempty"`
			}
			v := showView{modelView: newModelView(m)}
			for _, mv := range vs {
				v.Versions = append(v.Versions, newVersionView(mv))
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, v)
			}
			tw := newTable(out)
			fmt.Fprintf(tw, "Name:\t%s\n", v.Name)
			fmt.Fprintf(tw, "Description:\t%s\n", orDash(v.Description))
			fmt.Fprintf(tw, "Created:\t%s\n", fmtTime(v.CreationTimestamp))
			fmt.Fprintf(tw, "Updated:\t%s\n", fmtTime(v.LastUpdatedTimestamp))
			fmt.Fprintf(tw, "Aliases:\t%s\n", fmtAliases(v.Aliases))
			if err := tw.Flush(); err != nil {
				return err
			}
			if err := printKeyValues(out, "Tags", v.Tags); err != nil {
				return err
			}
			if len(v.Versions) == 0 {
				fmt.Fprintf(out, "\nVersions: none\n")
				return nil
			}
			fmt.Fprintf(out, "\nVersions:\n")
			return printVersions(out, v.Versions)
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
