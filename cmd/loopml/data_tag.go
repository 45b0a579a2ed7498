package main

import (
	"fmt"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
	"github.com/spf13/cobra"
)

func newDataTagCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	var del bool
	cmd := &cobra.Command{
		Use:   "tag NAME[@VERSION] TAG",
		Short: "Point a tag at a dataset version (moving it if it exists), or delete it",
		Example: `  loopml data tag movies@v2 baseline
  loopml data tag --delete movies baseline`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openData(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			ctx, w := cmd.Context(), cmd.OutOrStdout()
			if del {
				ref, err := loopml.ParseDatasetRef(args[0])
				if err != nil {
					return err
				}
				if err := env.deps.Store.DeleteDatasetTag(ctx, ref.Name, args[1]); err != nil {
					return err
				}
				fmt.Fprintf(w, "Deleted tag %s of %s\n", args[1], ref.Name)
				return nil
			}
			v, err := datasets.Resolve(ctx, env.deps, args[0])
			if err != nil {
				return err
			}
			if err := env.deps.Store.SetDatasetTag(ctx, v.Name, args[1], v.Version); err != nil {
				return err
			}
			fmt.Fprintf(w, "Tagged %s@v%d as %s\n", v.Name, v.Version, args[1])
			return nil
		},
	}
	addClientFlags(cmd, &o)
	cmd.Flags().BoolVar(&del, "delete", false, "delete the tag instead of setting it")
	return cmd
}
