package main

import (
	"fmt"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/pipeline"
	"github.com/spf13/cobra"
)

func newCacheCommand(getenv func(string) (string, bool)) *cobra.Command {
	root := &cobra.Command{Use: "cache", Short: "Manage the pipeline cache"}
	var o clientOptions
	var gc pipeline.GCOptions
	gcCmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove pipeline cache entries whose outputs are gone, or all but the newest N per stage",
		Long: `Remove pipeline cache entries (pipeline-cache/<key>.json in the artifact
store of the local home, or of the server with --tracking-uri): every entry whose outputs are missing or damaged, and with
--keep-last N all but the newest N entries of each pipeline stage. Stored
objects are kept: they are shared with dataset versions, and the
content-addressed store has no reference-counting collector yet.`,
		Example: `  loopml cache gc
  loopml cache gc --keep-last 3 --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			if svc.blobs == nil {
				return loopml.Errorf(loopml.EINVALID, "this tracking server offers no artifact store")
			}
			c := &pipeline.Cache{Store: svc.blobs, IndexDir: svc.indexDir}
			res, err := c.GC(cmd.Context(), gc)
			if err != nil {
				return err
			}
			if o.output == "json" {
				keys := []string{}
				for _, e := range res.Removed {
					keys = append(keys, e.Key)
				}
				return writeJSON(cmd.OutOrStdout(), map[string]any{"kept": res.Kept, "removed": keys, "broken": res.Broken, "dry_run": gc.DryRun})
			}
			verb := "Removed"
			if gc.DryRun {
				verb = "Would remove"
			}
			for _, e := range res.Removed {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s (pipeline %s, stage %s, run %s)\n", verb, e.Key, e.Pipeline, e.Stage, e.RunID)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %d entries (%d with missing or damaged outputs); kept %d\n", verb, len(res.Removed), res.Broken, res.Kept)
			return nil
		},
	}
	addClientFlags(gcCmd, &o)
	f := gcCmd.Flags()
	f.IntVar(&gc.KeepLast, "keep-last", 0, "keep only the newest N entries of each pipeline stage (0: keep every intact entry)")
	f.BoolVar(&gc.DryRun, "dry-run", false, "list what would be removed")
	root.AddCommand(gcCmd)
	return root
}
