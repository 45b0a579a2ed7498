package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

// compareRow is one param or metric across the compared runs. Values has
// one entry per run, nil where the run lacks the key.
type compareRow struct {
	Type    string    `json:"type"` // "param" or "metric"
	Key     string    `json:"key"`
	Values  []*string `json:"values"`
	Differs bool      `json:"differs"`
}

type compareRun struct {
	RunID   string `json:"run_id"`
	RunName string `json:"run_name"`
}

// compareView is the JSON form of `runs compare`.
type compareView struct {
	Runs []compareRun `json:"runs"`
	Rows []compareRow `json:"rows"`
}

// buildComparison lays the params and latest metrics of runs side by side:
// params first, then metrics, each sorted by key.
func buildComparison(runs []*loopml.Run) compareView {
	v := compareView{Runs: make([]compareRun, len(runs))}
	params := map[string][]*string{}
	metrics := map[string][]*string{}
	for i, r := range runs {
		v.Runs[i] = compareRun{RunID: r.ID, RunName: r.Name}
		for _, p := range r.Params {
			if params[p.Key] == nil {
				params[p.Key] = make([]*string, len(runs))
			}
			val := p.Value
			params[p.Key][i] = &val
		}
		for _, m := range r.Metrics {
			if metrics[m.Key] == nil {
				metrics[m.Key] = make([]*string, len(runs))
			}
			val := fmtFloat(m.Value)
			metrics[m.Key][i] = &val
		}
	}
	for _, group := range []struct {
		typ  string
		rows map[string][]*string
	}{{"param", params}, {"metric", metrics}} {
		keys := make([]string, 0, len(group.rows))
		for k := range group.rows {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			vals := group.rows[k]
			v.Rows = append(v.Rows, compareRow{Type: group.typ, Key: k, Values: vals, Differs: differ(vals)})
		}
	}
	return v
}

// differ reports whether the values are not all present and equal.
func differ(vals []*string) bool {
	for _, v := range vals {
		if v == nil || vals[0] == nil || *v != *vals[0] {
			return true
		}
	}
	return false
}

func newRunsCompareCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "compare RUN_ID RUN_ID...",
		Short: "Compare the params and latest metrics of runs side by side",
		Long: `Compare the params and latest metrics of two or more runs side by side.
Rows whose values differ (or are missing in some run) are marked with *.`,
		Example: `  loopml runs compare 0a1b... 9f8e...`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			runs := make([]*loopml.Run, len(args))
			for i, id := range args {
				if runs[i], err = svc.runs.GetRun(cmd.Context(), id); err != nil {
					return err
				}
			}
			v := buildComparison(runs)
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, v)
			}
			tw := newTable(out)
			header := []string{" ", "KEY"}
			ids := []string{" ", "run_id"}
			for _, r := range v.Runs {
				header = append(header, orDash(r.RunName))
				ids = append(ids, r.RunID)
			}
			fmt.Fprintln(tw, strings.Join(header, "\t"))
			fmt.Fprintln(tw, strings.Join(ids, "\t"))
			for _, row := range v.Rows {
				mark := " "
				if row.Differs {
					mark = "*"
				}
				cells := []string{mark, row.Type + "." + row.Key}
				for _, val := range row.Values {
					if val == nil {
						cells = append(cells, "-")
					} else {
						cells = append(cells, *val)
					}
				}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
