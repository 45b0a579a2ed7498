package main

import (
	"fmt"

	"github.com/loopml/loopml/datasets"
	"github.com/spf13/cobra"
)

func newDataGetCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "get NAME[@VERSION] DEST",
		Short: "Restore the files of a dataset version under DEST, verifying every byte",
		Example: `  loopml data get movies@v1 ./movies-v1
  loopml data get movies@baseline ./baseline`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openData(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			v, err := datasets.Get(cmd.Context(), env.deps, args[0], args[1])
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), newDatasetVersionView(v))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Restored %s@v%d (%d files, %s) to %s\n", v.Name, v.Version, v.Files, fmtBytes(v.Size), args[1])
			return nil
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
