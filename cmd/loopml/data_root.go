package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/datasets"
	"github.com/spf13/cobra"
)

// newDataCommand groups the dataset registry commands.
func newDataCommand(getenv func(string) (string, bool)) *cobra.Command {
	data := &cobra.Command{
		Use:   "data",
		Short: "Version datasets: add files, list, show, restore, diff, tag and profile versions",
		Long: `Datasets are named, immutable, content-addressed versions of files. A
reference is NAME (the latest version), NAME@latest, NAME@v3 (or NAME@3) or
NAME@tag. The data commands work on the local home, or through a tracking
server (--tracking-uri): metadata over loopml's dataset API, files through
its artifact proxy; the index that lets re-adds skip unchanged files stays
on this machine.`,
	}
	data.AddCommand(
		newDataAddCommand(getenv), newDataListCommand(getenv), newDataShowCommand(getenv),
		newDataVersionsCommand(getenv), newDataGetCommand(getenv), newDataDiffCommand(getenv),
		newDataTagCommand(getenv), newDataRmCommand(getenv), newDataProfileCommand(getenv),
		newDataValidateCommand(getenv), newDataValidationsCommand(getenv), newDataRulesCommand(getenv),
		newDataQuarantineCommand(getenv, false), newDataQuarantineCommand(getenv, true),
	)
	return data
}

// dataEnv is what a data command works with.
type dataEnv struct {
	svc  *services
	deps datasets.Deps
}

// openData opens the dataset registry and the artifact store: the local
// home's, or a tracking server's.
func openData(ctx context.Context, o clientOptions, getenv func(string) (string, bool), create bool, stderr io.Writer) (*dataEnv, error) {
	svc, err := openServices(ctx, o, getenv, create)
	if err != nil {
		return nil, err
	}
	if svc.datasets == nil || svc.blobs == nil {
		svc.close()
		return nil, loopml.Errorf(loopml.ENOTIMPLEMENTED, "this tracking server connection has no dataset registry (--tracking-uri / %s)", trackingURIEnv)
	}
	return &dataEnv{svc: svc, deps: datasets.Deps{
		Store: svc.datasets, Artifacts: svc.blobs, IndexDir: svc.indexDir,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}}, nil
}

// datasetVersionView is the JSON form of a dataset version.
type datasetVersionView struct {
	Name              string            `json:"name"`
	Version           int               `json:"version"`
	Root              string            `json:"root"`
	Files             int64             `json:"files"`
	Size              int64             `json:"size"`
	Labels            map[string]string `json:"labels,omitempty"`
	Tags              []string          `json:"tags,omitempty"`
	ProfileRef        string            `json:"profile_ref,omitempty"`
	Schema            json.RawMessage   `json:"schema,omitempty"`
	CreatedBy         string            `json:"created_by,omitempty"`
	CreationTimestamp int64             `json:"creation_timestamp"`
	Quarantined       bool              `json:"quarantined,omitempty"`
	Validation        string            `json:"validation,omitempty"`
}

func newDatasetVersionView(v *loopml.DatasetVersion) datasetVersionView {
	view := datasetVersionView{
		Name: v.Name, Version: v.Version, Root: v.Root, Files: v.Files, Size: v.Size, Labels: v.Labels,
		Tags: slices.Clone(v.Tags), ProfileRef: v.ProfileRef, CreatedBy: v.CreatedBy, CreationTimestamp: v.CreationTimestamp,
		Quarantined: v.Quarantined, Validation: v.Validation,
	}
	if v.Schema != "" {
		view.Schema = json.RawMessage(v.Schema)
	}
	sort.Strings(view.Tags)
	return view
}

// fmtLabels formats labels as k=v pairs sorted by key, "-" for none.
func fmtLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + labels[k]
	}
	return strings.Join(keys, ",")
}

// fmtBytes formats a size in bytes with a binary unit.
func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// shortRoot abbreviates a root digest for tables.
func shortRoot(root string) string {
	if len(root) > len("blake3:")+12 {
		return root[:len("blake3:")+12]
	}
	return root
}

// parseLabels parses repeated key=value flags.
func parseLabels(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, loopml.Errorf(loopml.EINVALID, "invalid label %q: want key=value (e.g. period=2024-10)", kv)
		}
		out[k] = v
	}
	return out, nil
}

// printSchema prints the schema JSON of a version as one line per column.
func printSchema(w io.Writer, schema string) error {
	if schema == "" {
		return nil
	}
	var files map[string]struct {
		Fields []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			Unit     string `json:"unit"`
			Nullable bool   `json:"nullable"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(schema), &files); err != nil {
		return loopml.WrapError(loopml.EINTERNAL, err, "invalid stored schema")
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	tw := newTable(w)
	fmt.Fprintln(tw, "FILE\tCOLUMN\tTYPE\tNULLABLE")
	for _, p := range paths {
		for _, f := range files[p].Fields {
			typ := f.Type
			if f.Unit != "" {
				typ += " (" + f.Unit + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", p, f.Name, typ, f.Nullable)
		}
	}
	return tw.Flush()
}
