package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

// newModelsCommand groups the model registry commands.
func newModelsCommand(getenv func(string) (string, bool)) *cobra.Command {
	models := &cobra.Command{Use: "models", Short: "Register, list and inspect models, versions, aliases and their history"}
	alias := &cobra.Command{Use: "alias", Short: "Point aliases (e.g. champion) at model versions"}
	alias.AddCommand(newModelsAliasSetCommand(getenv), newModelsAliasDeleteCommand(getenv))
	models.AddCommand(
		newModelsListCommand(getenv), newModelsShowCommand(getenv), newModelsVersionsCommand(getenv),
		newModelsRegisterCommand(getenv), alias, newModelsHistoryCommand(getenv),
		newModelsLineageCommand(getenv), newModelsDownloadCommand(getenv),
	)
	return models
}

// aliasView is the JSON form of a model alias.
type aliasView struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

// versionView is the JSON form of a model version.
type versionView struct {
	Name                 string     `json:"name"`
	Version              string     `json:"version"`
	CurrentStage         string     `json:"current_stage"`
	Status               string     `json:"status"`
	Source               string     `json:"source"`
	RunID                string     `json:"run_id,omitempty"`
	Description          string     `json:"description,omitempty"`
	CreationTimestamp    int64      `json:"creation_timestamp"`
	LastUpdatedTimestamp int64      `json:"last_updated_timestamp"`
	Tags                 []keyValue `json:"tags,omitempty"`
	Aliases              []string   `json:"aliases,omitempty"`
}

func newVersionView(v *loopml.ModelVersion) versionView {
	aliases := slices.Clone(v.Aliases)
	slices.Sort(aliases)
	return versionView{
		Name: v.Name, Version: v.Version, CurrentStage: v.CurrentStage, Status: v.Status, Source: v.Source,
		RunID: v.RunID, Description: v.Description, CreationTimestamp: v.CreationTimestamp,
		LastUpdatedTimestamp: v.LastUpdatedTimestamp, Tags: tagViews(v.Tags), Aliases: aliases,
	}
}

// modelView is the JSON form of a registered model.
type modelView struct {
	Name                 string        `json:"name"`
	Description          string        `json:"description,omitempty"`
	CreationTimestamp    int64         `json:"creation_timestamp"`
	LastUpdatedTimestamp int64         `json:"last_updated_timestamp"`
	Tags                 []keyValue    `json:"tags,omitempty"`
	Aliases              []aliasView   `json:"aliases,omitempty"`
	LatestVersions       []versionView `json:"latest_versions,omitempty"`
}

func newModelView(m *loopml.RegisteredModel) modelView {
	v := modelView{
		Name: m.Name, Description: m.Description, CreationTimestamp: m.CreationTimestamp,
		LastUpdatedTimestamp: m.LastUpdatedTimestamp, Tags: tagViews(m.Tags),
	}
	for _, a := range m.Aliases {
		v.Aliases = append(v.Aliases, aliasView{a.Alias, a.Version})
	}
	slices.SortFunc(v.Aliases, func(a, b aliasView) int { return strings.Compare(a.Alias, b.Alias) })
	for _, lv := range m.LatestVersions {
		v.LatestVersions = append(v.LatestVersions, newVersionView(lv))
	}
	slices.SortFunc(v.LatestVersions, func(a, b versionView) int { return compareVersions(a.Version, b.Version) })
	return v
}

// compareVersions orders decimal version strings numerically.
func compareVersions(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// latestVersion is the highest version number among m's latest versions,
// "-" when there is none.
func latestVersion(m modelView) string {
	if len(m.LatestVersions) == 0 {
		return "-"
	}
	return m.LatestVersions[len(m.LatestVersions)-1].Version
}

// fmtAliases formats aliases as "champion=3 challenger=4".
func fmtAliases(as []aliasView) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.Alias + "=" + a.Version
	}
	return orDash(strings.Join(parts, " "))
}

// allVersions returns every version of model name, oldest first.
func allVersions(ctx context.Context, reg loopml.ModelRegistry, name string) ([]*loopml.ModelVersion, error) {
	var out []*loopml.ModelVersion
	for tok := ""; ; {
		page, next, err := reg.SearchModelVersions(ctx, loopml.ModelVersionSearch{
			Filter: "name = '" + strings.ReplaceAll(name, "'", "\\'") + "'", PageToken: tok,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			break
		}
		tok = next
	}
	slices.SortFunc(out, func(a, b *loopml.ModelVersion) int { return compareVersions(a.Version, b.Version) })
	return out, nil
}

// printVersions prints a table of versions.
func printVersions(w io.Writer, vs []versionView) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "VERSION\tSTAGE\tSTATUS\tALIASES\tRUN ID\tCREATED\tSOURCE")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Version, v.CurrentStage, v.Status,
			orDash(strings.Join(v.Aliases, ",")), orDash(v.RunID), fmtTime(v.CreationTimestamp), v.Source)
	}
	return tw.Flush()
}

// parseTime reads a point in time as RFC 3339 or epoch milliseconds.
func parseTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, loopml.Errorf(loopml.EINVALID, "at %q must be RFC 3339 (2026-01-02T15:04:05Z) or epoch milliseconds", s)
	}
	return t.UnixMilli(), nil
}
