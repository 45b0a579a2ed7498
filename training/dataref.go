package training

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
)

// DatasetResolver resolves references to versions of the dataset registry
// (NAME, NAME@latest, NAME@v3, NAME@tag) for LoadData. training does not
// import the dataset engine: cmd/loopml implements this over package
// datasets, locally or through a server. Implementations must be safe for
// concurrent use.
type DatasetResolver interface {
	// ResolveDataset returns the version ref names and access to its
	// files. Errors keep their codes: EINVALID for a bad reference,
	// ENOTFOUND for an unknown dataset, version or tag.
	ResolveDataset(ctx context.Context, ref string) (*ResolvedDataset, error)
}

// ResolvedDataset is a dataset version and access to its files.
type ResolvedDataset struct {
	Version *loopml.DatasetVersion
	// Input is the MLflow dataset entity that links a run to the version
	// (name, digest, source, schema), as log-inputs records it.
	Input loopml.Dataset
	// Files are the slash-separated paths of the version's files, sorted.
	Files []string
	// Open streams the content of one of Files, straight from the store
	// (nothing is copied to disk), verifying it as it reads.
	Open func(ctx context.Context, path string) (io.ReadCloser, error)
}

// TagDataFile is the dataset input tag naming the file of a dataset version
// that a run read (a version may hold several tables).
const TagDataFile = "loopml.data.file"

// datasetRef returns the dataset reference src names: Ref, or a Path that
// names no file or directory but reads as NAME@VERSION or NAME@TAG.
func (src DataSource) datasetRef() (string, bool) {
	if src.Ref != "" {
		return src.Ref, true
	}
	if !strings.Contains(src.Path, "@") {
		return "", false
	}
	if _, err := loopml.ParseDatasetRef(src.Path); err != nil {
		return "", false
	}
	if _, err := os.Stat(src.Path); !errors.Is(err, fs.ErrNotExist) {
		return "", false // a file or directory with that name wins
	}
	return src.Path, true
}

// loadDatasetRef loads the interactions of the dataset version ref names:
// its file src.File, else its ratings.csv (MovieLens layout), else its only
// CSV or TSV file (optionally gzipped), read from the store as it streams.
func loadDatasetRef(ctx context.Context, src DataSource, ref string) (*Dataset, error) {
	f, err := openDatasetFile(ctx, src, ref)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opts := src.CSV
	if opts.Comma == 0 && f.tsv {
		opts.Comma = '\t'
	}
	d, err := learn.LoadCSV(ctx, f, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var le *loopml.Error
		if errors.As(err, &le) {
			// The store failed (a missing or corrupt object, the server
			// unreachable), not the data: keep its code.
			return nil, fmt.Errorf("data %s, file %s: %w", ref, f.name, err)
		}
		return nil, loopml.WrapError(loopml.EINVALID, err, "data %s, file %s: %v", ref, f.name, err)
	}
	profile, _ := json.Marshal(map[string]int{"num_rows": d.Len(), "num_users": d.Users.Len(), "num_items": d.Items.Len()})
	in := f.input
	in.Dataset.Profile = string(profile)
	return &Dataset{Data: d, Input: in}, nil
}

// datasetFile is one file of a dataset version, open for reading
// (decompressed when gzipped).
type datasetFile struct {
	io.Reader
	closers []io.Closer
	name    string // path in the version
	tsv     bool
	// input links a run to the version, with TagDataFile set.
	input loopml.DatasetInput
}

func (f *datasetFile) Close() error {
	var errs []error
	for i := len(f.closers) - 1; i >= 0; i-- {
		errs = append(errs, f.closers[i].Close())
	}
	return errors.Join(errs...)
}

// openDatasetFile resolves ref with src.Datasets and opens the file to
// read (see loadDatasetRef).
func openDatasetFile(ctx context.Context, src DataSource, ref string) (*datasetFile, error) {
	if src.Datasets == nil {
		return nil, loopml.Errorf(loopml.EINVALID, "data %q: no such file, and dataset references (NAME@VERSION) need a dataset registry, which is not configured", ref)
	}
	rd, err := src.Datasets.ResolveDataset(ctx, ref)
	if err != nil {
		if loopml.ErrorCode(err) == loopml.EINVALID {
			return nil, loopml.WrapError(loopml.EINVALID, err, "data %q: %s", ref, loopml.ErrorMessage(err))
		}
		return nil, err
	}
	name, err := pickDataFile(rd, ref, src.File)
	if err != nil {
		return nil, err
	}
	rc, err := rd.Open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("data %s: open %s: %w", ref, name, err)
	}
	f := &datasetFile{Reader: rc, closers: []io.Closer{rc}, name: name}
	base := strings.ToLower(path.Base(name))
	if trimmed, ok := strings.CutSuffix(base, ".gz"); ok {
		zr, err := gzip.NewReader(rc)
		if err != nil {
			rc.Close()
			return nil, loopml.WrapError(loopml.EINVALID, err, "data %s: file %s is not gzip: %v", ref, name, err)
		}
		f.Reader, f.closers = zr, append(f.closers, zr)
		base = trimmed
	}
	f.tsv = strings.HasSuffix(base, ".tsv")
	v := rd.Version
	f.input = loopml.DatasetInput{Dataset: rd.Input, Tags: []loopml.Tag{{Key: TagDataFile, Value: name}}}
	if f.input.Dataset.Name == "" && v != nil {
		f.input.Dataset.Name = v.Name
	}
	return f, nil
}

// readableData reports whether LoadData reads a file: CSV or TSV,
// optionally gzipped.
func readableData(p string) bool {
	base := strings.TrimSuffix(strings.ToLower(path.Base(p)), ".gz")
	return strings.HasSuffix(base, ".csv") || strings.HasSuffix(base, ".tsv")
}

// pickDataFile chooses the file to read: want when set (it must exist),
// else the shallowest ratings.csv, else the only CSV or TSV file.
func pickDataFile(rd *ResolvedDataset, ref, want string) (string, error) {
	label := ref
	if v := rd.Version; v != nil {
		label = fmt.Sprintf("%s@v%d", v.Name, v.Version)
	}
	var readable []string
	for _, f := range rd.Files {
		if readableData(f) {
			readable = append(readable, f)
		}
	}
	sort.Strings(readable)
	if want != "" {
		want = strings.TrimPrefix(path.Clean("/"+want), "/")
		for _, f := range rd.Files {
			if f == want {
				if !readableData(f) {
					return "", loopml.Errorf(loopml.EINVALID, "data-file %q of %s is neither CSV nor TSV", want, label)
				}
				return f, nil
			}
		}
		return "", loopml.Errorf(loopml.EINVALID, "data-file %q is not in %s (CSV/TSV files: %s)", want, label, listSome(readable))
	}
	var ratings []string
	for _, f := range readable {
		if strings.EqualFold(path.Base(f), "ratings.csv") {
			ratings = append(ratings, f)
		}
	}
	depth := func(p string) int { return strings.Count(p, "/") }
	sort.SliceStable(ratings, func(i, j int) bool { return depth(ratings[i]) < depth(ratings[j]) })
	switch {
	case len(ratings) == 1 || len(ratings) > 1 && depth(ratings[0]) < depth(ratings[1]):
		return ratings[0], nil
	case len(ratings) > 1:
		return "", loopml.Errorf(loopml.EINVALID, "data %s holds several ratings.csv (%s): choose one with --data-file", label, listSome(ratings))
	case len(readable) == 1:
		return readable[0], nil
	case len(readable) == 0:
		return "", loopml.Errorf(loopml.EINVALID, "data %s holds no CSV or TSV file", label)
	}
	return "", loopml.Errorf(loopml.EINVALID, "data %s holds %d CSV/TSV files (%s): choose one with --data-file", label, len(readable), listSome(readable))
}

// listSome joins up to 10 names.
func listSome(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-10)
	}
	return strings.Join(names, ", ")
}
