package main

import (
	"fmt"
	"path/filepath"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
	"github.com/spf13/cobra"
)

func newDataAddCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	var labels []string
	var workers int
	var rulesFile string
	var strict bool
	cmd := &cobra.Command{
		Use:   "add NAME PATH...",
		Short: "Store files (a file, a directory tree or a glob) as a new version of a dataset",
		Long: `Store files as a new immutable version of dataset NAME. Contents are stored
content-addressed in the artifact store, so unchanged files are never stored
twice, and adding an unchanged tree returns the existing latest version.
Tabular files (.csv, .tsv, .jsonl, optionally .gz) are profiled.

The new version is validated against --rules or, without it, the rules
attached to the dataset (loopml data rules set); the result is recorded with
it. With --strict a failing version (or one with malformed rows or
unreadable files) is quarantined: it is recorded with its report but kept
out of @latest, and the command exits 1.`,
		Example: `  loopml data add movies ./ml-latest-small
  loopml data add sales 'exports/*.csv' --label period=2024-10
  loopml data add ratings ./ratings.csv --rules rules.yaml --strict`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			lbl, err := parseLabels(labels)
			if err != nil {
				return err
			}
			opts := datasets.AddOptions{Labels: lbl, Workers: workers, Strict: strict}
			if rulesFile != "" {
				if opts.Rules, err = readRulesFile(rulesFile); err != nil {
					return err
				}
				opts.RulesName = filepath.Base(rulesFile)
			}
			env, err := openData(cmd.Context(), o, getenv, true, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			res, err := datasets.Add(cmd.Context(), env.deps, args[0], args[1:], opts)
			if res == nil || res.Version == nil {
				return err
			}
			// A strict validation failure comes with the recorded version:
			// print it, then fail.
			addErr := err
			if val := res.Validation; err != nil && val != nil {
				addErr = loopml.Errorf(loopml.EINVALID, "%s@v%d failed validation and is quarantined (status %s, %d of %d checks failed)",
					val.Name, val.Version, val.Status, val.Failed, val.Checks)
			}
			if o.output == "json" {
				if err := writeJSON(cmd.OutOrStdout(), struct {
					Created    bool               `json:"created"`
					Version    datasetVersionView `json:"version"`
					Hashed     int64              `json:"bytes_hashed"`
					Stored     int64              `json:"bytes_uploaded"`
					Validation *validationView    `json:"validation,omitempty"`
				}{res.Created, newDatasetVersionView(res.Version), res.Stats.BytesHashed, res.Stats.BytesUploaded, addValidationView(res)}); err != nil {
					return err
				}
				return addErr
			}
			v, w := res.Version, cmd.OutOrStdout()
			if res.Created {
				fmt.Fprintf(w, "Created %s@v%d: %d files, %s, root %s\n", v.Name, v.Version, v.Files, fmtBytes(v.Size), v.Root)
			} else {
				fmt.Fprintf(w, "Unchanged: %s@v%d already holds these files (root %s)\n", v.Name, v.Version, v.Root)
			}
			fmt.Fprintf(w, "Stored %s new data in %d objects\n", fmtBytes(res.Stats.BytesUploaded), res.Stats.ObjectsUploaded)
			printAddValidation(w, res)
			return addErr
		},
	}
	addClientFlags(cmd, &o)
	cmd.Flags().StringArrayVar(&labels, "label", nil, "label key=value of the new version, e.g. period=2024-10 (repeatable)")
	cmd.Flags().IntVar(&workers, "workers", 0, "hashing and profiling goroutines (default GOMAXPROCS)")
	cmd.Flags().StringVar(&rulesFile, "rules", "", "validate the new version against this rules YAML file (default: the dataset's attached rules)")
	cmd.Flags().BoolVar(&strict, "strict", false, "quarantine a version that fails validation or has malformed files, and exit 1")
	return cmd
}
