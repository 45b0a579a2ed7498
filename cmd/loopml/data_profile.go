package main

import (
	"fmt"
	"os"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
	"github.com/loopml/loopml/profile"
	"github.com/spf13/cobra"
)

func newDataProfileCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	var html, file string
	cmd := &cobra.Command{
		Use:   "profile NAME[@VERSION]",
		Short: "Print the inferred schema and column profile of a version's tabular files",
		Example: `  loopml data profile movies@latest
  loopml data profile movies@v1 --file ratings.csv --html ratings.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openData(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			v, err := datasets.Resolve(cmd.Context(), env.deps, args[0])
			if err != nil {
				return err
			}
			ps, err := datasets.Profiles(cmd.Context(), env.deps, v)
			if err != nil {
				return err
			}
			if len(ps) == 0 {
				return loopml.Errorf(loopml.ENOTFOUND, "%s@v%d has no tabular file (.csv, .tsv, .jsonl) to profile", v.Name, v.Version)
			}
			paths := datasets.SortedPaths(ps)
			if file != "" {
				if ps[file] == nil {
					return loopml.Errorf(loopml.ENOTFOUND, "file %q of %s@v%d is not a profiled table; tables: %v", file, v.Name, v.Version, paths)
				}
				paths = []string{file}
			}
			if o.output == "json" {
				out := map[string]*profile.Profile{}
				for _, p := range paths {
					out[p] = ps[p]
				}
				return writeJSON(cmd.OutOrStdout(), out)
			}
			if html != "" {
				if len(paths) != 1 {
					return loopml.Errorf(loopml.EINVALID, "--html writes one table: choose it with --file (one of %v)", paths)
				}
				f, err := os.Create(html)
				if err != nil {
					return loopml.Errorf(loopml.EINVALID, "html: %v", err)
				}
				title := fmt.Sprintf("%s@v%d %s", v.Name, v.Version, paths[0])
				if err := profile.WriteHTML(f, ps[paths[0]], title); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s\n", html)
				return nil
			}
			w := cmd.OutOrStdout()
			for i, p := range paths {
				if i > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "== %s@v%d %s ==\n", v.Name, v.Version, p)
				if err := profile.WriteText(w, ps[p]); err != nil {
					return err
				}
			}
			return nil
		},
	}
	addClientFlags(cmd, &o)
	cmd.Flags().StringVar(&html, "html", "", "write a self-contained HTML report of one table to this file")
	cmd.Flags().StringVar(&file, "file", "", "profile only this table (a path in the version)")
	return cmd
}
