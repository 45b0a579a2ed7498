package main

import (
	"fmt"

	"github.com/loopml/loopml/datasets"
	"github.com/spf13/cobra"
)

func newDataAddCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	var labels []string
	var workers int
	cmd := &cobra.Command{
		Use:   "add NAME PATH...",
		Short: "Store files (a file, a directory tree or a glob) as a new version of a dataset",
		Long: `Store files as a new immutable version of dataset NAME. Contents are stored
content-addressed in the artifact store, so unchanged files are never stored
twice, and adding an unchanged tree returns the existing latest version.
Tabular files (.csv, .tsv, .jsonl, optionally .gz) are profiled.`,
		Example: `  loopml data add movies ./ml-latest-small
  loopml data add sales 'exports/*.csv' --label period=2024-10`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			lbl, err := parseLabels(labels)
			if err != nil {
				return err
			}
			env, err := openData(cmd.Context(), o, getenv, true, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			res, err := datasets.Add(cmd.Context(), env.deps, args[0], args[1:], datasets.AddOptions{Labels: lbl, Workers: workers})
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), struct {
					Created bool               `json:"created"`
					Version datasetVersionView `json:"version"`
					Hashed  int64              `json:"bytes_hashed"`
					Stored  int64              `json:"bytes_uploaded"`
				}{res.Created, newDatasetVersionView(res.Version), res.Stats.BytesHashed, res.Stats.BytesUploaded})
			}
			v, w := res.Version, cmd.OutOrStdout()
			if res.Created {
				fmt.Fprintf(w, "Created %s@v%d: %d files, %s, root %s\n", v.Name, v.Version, v.Files, fmtBytes(v.Size), v.Root)
			} else {
				fmt.Fprintf(w, "Unchanged: %s@v%d already holds these files (root %s)\n", v.Name, v.Version, v.Root)
			}
			fmt.Fprintf(w, "Stored %s new data in %d objects\n", fmtBytes(res.Stats.BytesUploaded), res.Stats.ObjectsUploaded)
			return nil
		},
	}
	addClientFlags(cmd, &o)
	cmd.Flags().StringArrayVar(&labels, "label", nil, "label key=value of the new version, e.g. period=2024-10 (repeatable)")
	cmd.Flags().IntVar(&workers, "workers", 0, "hashing and profiling goroutines (default GOMAXPROCS)")
	return cmd
}
