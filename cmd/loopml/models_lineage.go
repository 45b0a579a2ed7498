package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/spf13/cobra"
)

// datasetView is the JSON form of a dataset input.
type datasetView struct {
	Name       string `json:"name"`
	Digest     string `json:"digest,omitempty"`
	SourceType string `json:"source_type,omitempty"`
	Source     string `json:"source,omitempty"`
	Context    string `json:"context,omitempty"`
}

// codeView is the JSON form of the code a run executed.
type codeView struct {
	GitCommit  string `json:"git_commit,omitempty"`
	SourceName string `json:"source_name,omitempty"`
	SourceType string `json:"source_type,omitempty"`
	GitDirty   string `json:"git_dirty,omitempty"`
}

// lineageView is the JSON form of a model version's lineage.
type lineageView struct {
	ModelURI string        `json:"model_uri"`
	Version  versionView   `json:"model_version"`
	Run      *runView      `json:"run,omitempty"`
	RunError string        `json:"run_error,omitempty"`
	Datasets []datasetView `json:"datasets,omitempty"`
	Code     codeView      `json:"code"`
}

func newLineageView(l *httpapi.Lineage) lineageView {
	v := lineageView{
		ModelURI: l.ModelURI, Version: newVersionView(l.Version), RunError: l.RunError,
		Code: codeView{l.Code.GitCommit, l.Code.SourceName, l.Code.SourceType, l.Code.GitDirty},
	}
	if l.Run != nil {
		rv := newRunView(l.Run)
		v.Run = &rv
	}
	for _, in := range l.Datasets {
		d := datasetView{Name: in.Dataset.Name, Digest: in.Dataset.Digest, SourceType: in.Dataset.SourceType, Source: in.Dataset.Source}
		for _, t := range in.Tags {
			if t.Key == loopml.TagDatasetContext {
				d.Context = t.Value
			}
		}
		v.Datasets = append(v.Datasets, d)
	}
	return v
}

func newModelsLineageCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "lineage NAME@ALIAS|MODEL_URI",
		Short: "Show where a model version came from: run, params, metrics, datasets and code",
		Example: `  loopml models lineage churn@champion
  loopml models lineage models:/churn/3 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			l, err := svc.lineage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			v := newLineageView(l)
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, v)
			}
			return printLineage(out, v)
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

// printLineage prints the chain version -> run -> params/metrics ->
// datasets -> code.
func printLineage(out io.Writer, v lineageView) error {
	mv := v.Version
	fmt.Fprintf(out, "Model version %s/%s (%s)\n", mv.Name, mv.Version, v.ModelURI)
	fmt.Fprintf(out, "  stage %s, aliases %s, created %s\n", mv.CurrentStage, orDash(strings.Join(mv.Aliases, ",")), fmtTime(mv.CreationTimestamp))
	fmt.Fprintf(out, "  source %s\n", mv.Source)
	if v.Run == nil {
		_, err := fmt.Fprintf(out, "└─ run: unavailable: %s\n", v.RunError)
		return err
	}
	r := v.Run
	fmt.Fprintf(out, "└─ run %s (%s) in experiment %s, %s, started %s\n", r.RunID, orDash(r.RunName), r.ExperimentID, r.Status, fmtTime(r.StartTime))
	fmt.Fprintf(out, "   ├─ params:")
	if len(r.Params) == 0 {
		fmt.Fprintf(out, " none")
	}
	for _, p := range r.Params {
		fmt.Fprintf(out, " %s=%s", p.Key, p.Value)
	}
	fmt.Fprintf(out, "\n   ├─ metrics:")
	if len(r.Metrics) == 0 {
		fmt.Fprintf(out, " none")
	}
	for _, m := range r.Metrics {
		fmt.Fprintf(out, " %s=%s", m.Key, fmtFloat(float64(m.Value)))
	}
	fmt.Fprintf(out, "\n   ├─ datasets:")
	if len(v.Datasets) == 0 {
		fmt.Fprintf(out, " none")
	}
	fmt.Fprintln(out)
	for _, d := range v.Datasets {
		fmt.Fprintf(out, "   │   %s (%s) digest %s, %s source %s\n", d.Name, orDash(d.Context), orDash(d.Digest), orDash(d.SourceType), orDash(d.Source))
	}
	c := v.Code
	if c == (codeView{}) {
		_, err := fmt.Fprintf(out, "   └─ code: unknown (no mlflow.source.* tags)\n")
		return err
	}
	_, err := fmt.Fprintf(out, "   └─ code: %s %s, git commit %s, dirty %s\n", orDash(c.SourceType), orDash(c.SourceName), orDash(c.GitCommit), orDash(c.GitDirty))
	return err
}
