package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newModelsAliasSetCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "set NAME ALIAS VERSION",
		Short:   "Point an alias of a model at a version (creating or moving it)",
		Example: `  loopml models alias set churn champion 3`,
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			name, alias, version := args[0], args[1], args[2]
			if err := svc.registry.SetAlias(cmd.Context(), name, alias, version); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, map[string]string{"name": name, "alias": alias, "version": version})
			}
			_, err = fmt.Fprintf(out, "Alias %s of model %s now points at version %s\n", alias, name, version)
			return err
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

func newModelsAliasDeleteCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "delete NAME ALIAS",
		Short:   "Remove an alias of a model",
		Example: `  loopml models alias delete churn challenger`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			name, alias := args[0], args[1]
			if err := svc.registry.DeleteAlias(cmd.Context(), name, alias); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, map[string]string{"name": name, "alias": alias})
			}
			_, err = fmt.Fprintf(out, "Deleted alias %s of model %s\n", alias, name)
			return err
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
