package main

import (
	"fmt"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func newDataRmCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "rm NAME@vN",
		Short: "Delete a dataset version (its number is never reused; its files stay stored)",
		Long: `Delete one dataset version: it no longer resolves or lists, the tags pointing
at it are deleted and its number is never reused. The version must be named
explicitly (NAME@v3), never by latest or a tag, so that a moved tag cannot
delete the wrong version. Stored objects are kept; other versions may share them.`,
		Example: `  loopml data rm movies@v2`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := loopml.ParseDatasetRef(args[0])
			if err != nil {
				return err
			}
			if ref.Version == 0 {
				return loopml.Errorf(loopml.EINVALID, "rm %s: name the version explicitly, e.g. %s@v1", args[0], ref.Name)
			}
			env, err := openData(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			if err := env.deps.Store.DeleteDatasetVersion(cmd.Context(), ref.Name, ref.Version); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted %s@v%d\n", ref.Name, ref.Version)
			return nil
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
