package main

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/loopml/loopml/datasets"
	"github.com/spf13/cobra"
)

// dataDiffView is the JSON form of a dataset diff.
type dataDiffView struct {
	A       string          `json:"a"`
	B       string          `json:"b"`
	Added   []string        `json:"added"`
	Removed []string        `json:"removed"`
	Changed []string        `json:"changed"`
	Tables  []tableDiffView `json:"tables,omitempty"`
}

type tableDiffView struct {
	Path           string            `json:"path"`
	RowsA          int64             `json:"rows_a"`
	RowsB          int64             `json:"rows_b"`
	AddedColumns   []string          `json:"added_columns,omitempty"`
	RemovedColumns []string          `json:"removed_columns,omitempty"`
	TypeChanges    []typeChangeView  `json:"type_changes,omitempty"`
	Columns        []columnDriftView `json:"columns"`
}

type typeChangeView struct {
	Column string `json:"column"`
	From   string `json:"from"`
	To     string `json:"to"`
}

type columnDriftView struct {
	Column  string     `json:"column"`
	Method  string     `json:"method,omitempty"`
	Value   jsonFloat  `json:"value"`
	KS      *jsonFloat `json:"ks,omitempty"`
	Drifted bool       `json:"drifted"`
}

func newDataDiffView(d *datasets.Diff) dataDiffView {
	v := dataDiffView{
		A: fmt.Sprintf("%s@v%d", d.A.Name, d.A.Version), B: fmt.Sprintf("%s@v%d", d.B.Name, d.B.Version),
		Added: nonNil(d.Files.Added), Removed: nonNil(d.Files.Removed), Changed: nonNil(d.Files.Changed),
	}
	for _, t := range d.Tables {
		tv := tableDiffView{Path: t.Path, RowsA: t.RowsA, RowsB: t.RowsB, AddedColumns: t.AddedColumns, RemovedColumns: t.RemovedColumns}
		for _, c := range t.TypeChanges {
			tv.TypeChanges = append(tv.TypeChanges, typeChangeView{c.Column, string(c.From), string(c.To)})
		}
		for _, c := range t.Columns {
			cv := columnDriftView{Column: c.Column, Method: c.Method, Value: jsonFloat(c.Value), Drifted: c.Drifted}
			if !math.IsNaN(c.KS) {
				ks := jsonFloat(c.KS)
				cv.KS = &ks
			}
			tv.Columns = append(tv.Columns, cv)
		}
		v.Tables = append(v.Tables, tv)
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func newDataDiffCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two dataset versions: files, table schemas and column distributions",
		Long: `Compare version A (the reference) with version B: files added, removed and
changed; for changed tabular files, columns added and removed, type changes,
and each column's distribution change: PSI and KS on A's bins for numeric
columns, Jensen-Shannon distance (base 2) of the frequent values for
categorical ones. A column drifts at a PSI or distance of at least 0.1.`,
		Example: `  loopml data diff movies@v1 movies@latest`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openData(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			d, err := datasets.DiffRefs(cmd.Context(), env.deps, args[0], args[1])
			if err != nil {
				return err
			}
			view := newDataDiffView(d)
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), view)
			}
			return printDataDiff(cmd.OutOrStdout(), view)
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

func printDataDiff(w io.Writer, v dataDiffView) error {
	fmt.Fprintf(w, "%s -> %s: %d added, %d removed, %d changed\n", v.A, v.B, len(v.Added), len(v.Removed), len(v.Changed))
	for _, p := range v.Added {
		fmt.Fprintf(w, "  + %s\n", p)
	}
	for _, p := range v.Removed {
		fmt.Fprintf(w, "  - %s\n", p)
	}
	for _, p := range v.Changed {
		fmt.Fprintf(w, "  ~ %s\n", p)
	}
	for _, t := range v.Tables {
		fmt.Fprintf(w, "\n%s: %d -> %d rows\n", t.Path, t.RowsA, t.RowsB)
		if len(t.AddedColumns) > 0 {
			fmt.Fprintf(w, "  columns added: %s\n", strings.Join(t.AddedColumns, ", "))
		}
		if len(t.RemovedColumns) > 0 {
			fmt.Fprintf(w, "  columns removed: %s\n", strings.Join(t.RemovedColumns, ", "))
		}
		for _, c := range t.TypeChanges {
			fmt.Fprintf(w, "  type of %s: %s -> %s\n", c.Column, c.From, c.To)
		}
		tw := newTable(w)
		fmt.Fprintln(tw, "  COLUMN\tMETHOD\tVALUE\tKS\tDRIFT")
		for _, c := range t.Columns {
			ks, drift := "-", ""
			if c.KS != nil {
				ks = fmt.Sprintf("%.4f", float64(*c.KS))
			}
			if c.Drifted {
				drift = "drift"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%.4f\t%s\t%s\n", c.Column, orDash(c.Method), float64(c.Value), ks, drift)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
