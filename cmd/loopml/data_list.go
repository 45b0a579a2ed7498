package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

// datasetSummaryView is the JSON form of a dataset summary.
type datasetSummaryView struct {
	Name                 string         `json:"name"`
	Versions             int            `json:"versions"`
	Latest               int            `json:"latest"`
	Tags                 map[string]int `json:"tags,omitempty"`
	CreationTimestamp    int64          `json:"creation_timestamp"`
	LastUpdatedTimestamp int64          `json:"last_updated_timestamp"`
}

func newDatasetSummaryView(s *loopml.DatasetSummary) datasetSummaryView {
	v := datasetSummaryView{Name: s.Name, Versions: s.Versions, Latest: s.Latest, CreationTimestamp: s.CreationTimestamp, LastUpdatedTimestamp: s.LastUpdatedTimestamp}
	if len(s.Tags) > 0 {
		v.Tags = s.Tags
	}
	return v
}

// fmtTags formats tag→version pairs sorted by tag, "-" for none.
func fmtTags(tags map[string]int) string {
	if len(tags) == 0 {
		return "-"
	}
	out := make([]string, 0, len(tags))
	for t, v := range tags {
		out = append(out, fmt.Sprintf("%s=v%d", t, v))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func newDataListCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List datasets with their latest version and tags",
		Example: `  loopml data ls`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openData(cmd.Context(), o, getenv, false, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer env.svc.close()
			list, err := env.deps.Store.ListDatasets(cmd.Context())
			if err != nil {
				return err
			}
			views := make([]datasetSummaryView, len(list))
			for i, s := range list {
				views[i] = newDatasetSummaryView(s)
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), views)
			}
			tw := newTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "NAME\tVERSIONS\tLATEST\tTAGS\tUPDATED")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%d\tv%d\t%s\t%s\n", v.Name, v.Versions, v.Latest, fmtTags(v.Tags), fmtTime(v.LastUpdatedTimestamp))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
