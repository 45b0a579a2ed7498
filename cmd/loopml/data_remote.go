package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/cas"
	"github.com/loopml/loopml/datasets"
	"github.com/loopml/loopml/training"
)

// remoteIndexDir is where the data commands keep cas's local index when
// they work through a tracking server: <home>/index when a home is given
// (--home or LOOPML_HOME), else loopml/index in the user's cache
// directory, else none (every add then reads every file). The index is a
// cache keyed by local paths and is safe to share between servers: a file
// known from it is still checked in the server's store.
func remoteIndexDir(o clientOptions, getenv func(string) (string, bool)) string {
	home := o.home
	if home == "" {
		home, _ = getenv(homeEnv)
	}
	if home != "" {
		return filepath.Join(home, "index")
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "loopml", "index")
	}
	return ""
}

// datasetResolver resolves `--data NAME@VERSION` for train and eval through
// the dataset engine: the version's files are read from the artifact store
// (local, or the server's proxy) as they stream, verified, never copied.
type datasetResolver struct{ deps datasets.Deps }

var _ training.DatasetResolver = datasetResolver{}

// newDatasetResolver returns the resolver of the command's services, nil
// when they have no dataset registry.
func newDatasetResolver(svc *services, stderr io.Writer) training.DatasetResolver {
	if svc.datasets == nil || svc.blobs == nil {
		return nil
	}
	return datasetResolver{datasets.Deps{
		Store: svc.datasets, Artifacts: svc.blobs,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}}
}

// ResolveDataset implements training.DatasetResolver.
func (r datasetResolver) ResolveDataset(ctx context.Context, ref string) (*training.ResolvedDataset, error) {
	v, err := datasets.Resolve(ctx, r.deps, ref)
	if err != nil {
		return nil, err
	}
	m, err := datasets.Manifest(ctx, r.deps, v)
	if err != nil {
		return nil, err
	}
	entries := make(map[string]cas.Entry, len(m.Entries))
	files := make([]string, 0, len(m.Entries))
	for _, e := range m.Entries {
		if !e.Dir {
			entries[e.Path] = e
			files = append(files, e.Path)
		}
	}
	store := r.deps.Artifacts
	return &training.ResolvedDataset{
		Version: v, Input: datasets.MLflowDataset(v), Files: files,
		Open: func(ctx context.Context, p string) (io.ReadCloser, error) {
			e, ok := entries[p]
			if !ok {
				return nil, loopml.Errorf(loopml.ENOTFOUND, "%s@v%d has no file %q", v.Name, v.Version, p)
			}
			return cas.OpenFile(ctx, store, e)
		},
	}, nil
}

// datasetRunView is a run that logged a dataset version as an input.
type datasetRunView struct {
	RunID        string `json:"run_id"`
	ExperimentID string `json:"experiment_id"`
	RunName      string `json:"run_name,omitempty"`
	StartTime    int64  `json:"start_time"`
	Context      string `json:"context,omitempty"`
	File         string `json:"file,omitempty"`
}

// maxDatasetRuns bounds the runs `data show` lists.
const maxDatasetRuns = 1000

// runsUsingDataset finds the runs (of active experiments) that logged
// version v as a dataset input, through MLflow's run search on the input's
// name and digest (see datasets.MLflowDataset), so it works locally and
// against any tracking server. At most maxDatasetRuns, newest first.
func runsUsingDataset(ctx context.Context, exps loopml.ExperimentService, runs loopml.RunService, v *loopml.DatasetVersion) ([]datasetRunView, error) {
	var ids []string
	for tok := ""; ; {
		page, next, err := exps.SearchExperiments(ctx, loopml.ExperimentSearch{MaxResults: loopml.DefaultSearchExperimentsResults, PageToken: tok})
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			ids = append(ids, e.ID)
		}
		if next == "" || len(page) == 0 {
			break
		}
		tok = next
	}
	ds := datasets.MLflowDataset(v)
	filter := fmt.Sprintf("dataset.name = '%s' AND dataset.digest = '%s'", ds.Name, ds.Digest)
	var out []datasetRunView
	const idsPerSearch = 100
	for len(ids) > 0 && len(out) < maxDatasetRuns {
		batch := ids[:min(idsPerSearch, len(ids))]
		ids = ids[len(batch):]
		for tok := ""; len(out) < maxDatasetRuns; {
			page, next, err := runs.SearchRuns(ctx, loopml.RunSearch{
				ExperimentIDs: batch, Filter: filter, OrderBy: []string{"attributes.start_time DESC"},
				MaxResults: min(loopml.DefaultSearchRunsResults, maxDatasetRuns-len(out)), PageToken: tok,
			})
			if err != nil {
				return nil, err
			}
			for _, r := range page {
				view := datasetRunView{RunID: r.ID, ExperimentID: r.ExperimentID, RunName: r.Name, StartTime: r.StartTime}
				for _, in := range r.Inputs {
					if in.Dataset.Name == ds.Name && in.Dataset.Digest == ds.Digest {
						for _, t := range in.Tags {
							switch t.Key {
							case loopml.TagDatasetContext:
								view.Context = t.Value
							case training.TagDataFile:
								view.File = t.Value
							}
						}
					}
				}
				out = append(out, view)
			}
			if next == "" || len(page) == 0 {
				break
			}
			tok = next
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartTime > out[j].StartTime })
	return out, nil
}

// fmtDatasetRuns formats runs for the table of `data show`.
func fmtDatasetRuns(runs []datasetRunView) string {
	if len(runs) == 0 {
		return "-"
	}
	parts := make([]string, len(runs))
	for i, r := range runs {
		parts[i] = r.RunID
		if r.Context != "" {
			parts[i] += " (" + r.Context + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// datasetUsers returns the runs that used version v for `data show`; a
// failed search (a tracking server without dataset search) is a warning on
// stderr, not an error.
func datasetUsers(ctx context.Context, env *dataEnv, v *loopml.DatasetVersion, stderr io.Writer) []datasetRunView {
	if env.svc.experiments == nil || env.svc.runs == nil {
		return nil
	}
	runs, err := runsUsingDataset(ctx, env.svc.experiments, env.svc.runs, v)
	if err != nil {
		fmt.Fprintf(stderr, "warning: cannot list the runs that used %s@v%d: %s\n", v.Name, v.Version, loopml.ErrorMessage(err))
		return nil
	}
	return runs
}
