package training

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
	"github.com/zeebo/blake3"
)

// DataSource says where the interactions come from: a CSV file, or a
// MovieLens directory (holding ratings.csv and movies.csv).
type DataSource struct {
	// Path is a CSV file or a MovieLens directory.
	Path string
	// CSV maps the columns of a CSV file; the zero value recognises
	// userId/user_id, movieId/item_id, rating and timestamp by name. It
	// must be zero for a MovieLens directory.
	CSV learn.CSVOptions
	// Ref names a version of the dataset registry (NAME@v3, NAME@tag,
	// NAME@latest) to read instead of Path; a Path that names no file but
	// reads as NAME@VERSION is taken as a Ref too. It needs Datasets.
	Ref string
	// File picks the file of a Ref's version (default: its ratings.csv,
	// else its only CSV or TSV file).
	File string
	// Datasets resolves Ref (see dataref.go); nil: references fail.
	Datasets DatasetResolver
}

// Dataset is loaded interaction data and how a run records it.
type Dataset struct {
	Data  *learn.Interactions
	Input loopml.DatasetInput // name, BLAKE3 digest, source, profile; context set by the caller
}

// datasetRefRE matches a dataset reference NAME@VERSION.
var datasetRefRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*@v?[0-9]+$`)

// LoadData reads src: a file or directory, or a dataset version (Ref, see
// DataSource), whose input then links the run to the version. Errors are
// EINVALID and name the path: a missing file, an unknown column (wrapping
// learn.ErrUnknownColumn), a bad value, no rows.
func LoadData(ctx context.Context, src DataSource) (*Dataset, error) {
	if ref, ok := src.datasetRef(); ok {
		return loadDatasetRef(ctx, src, ref)
	}
	if src.Path == "" {
		return nil, loopml.Errorf(loopml.EINVALID, "data: a file or directory path is required")
	}
	st, err := os.Stat(src.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && datasetRefRE.MatchString(src.Path) {
			return nil, loopml.Errorf(loopml.EINVALID, "data %q: no such file, and no dataset registry to resolve it as a dataset reference (NAME@VERSION); pass a CSV file or a MovieLens directory", src.Path)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, loopml.Errorf(loopml.EINVALID, "data %q: no such file or directory", src.Path)
		}
		return nil, loopml.WrapError(loopml.EINVALID, err, "data %q: %v", src.Path, err)
	}
	var (
		d     *learn.Interactions
		files []string
	)
	if st.IsDir() {
		if src.CSV != (learn.CSVOptions{}) {
			return nil, loopml.Errorf(loopml.EINVALID, "data %q is a MovieLens directory: column mapping applies only to a CSV file", src.Path)
		}
		files = []string{filepath.Join(src.Path, "ratings.csv"), filepath.Join(src.Path, "movies.csv")}
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				return nil, loopml.Errorf(loopml.EINVALID, "data %q: a directory must hold ratings.csv and movies.csv (MovieLens layout): %v", src.Path, err)
			}
		}
		d, _, err = learn.LoadMovieLens(ctx, src.Path)
	} else {
		files = []string{src.Path}
		d, err = learn.LoadCSVFile(ctx, src.Path, src.CSV)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, loopml.WrapError(loopml.EINVALID, err, "data: %v", err)
	}
	digest, err := digestFiles(ctx, files)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(src.Path)
	if err != nil {
		abs = src.Path
	}
	profile, _ := json.Marshal(map[string]int{"num_rows": d.Len(), "num_users": d.Users.Len(), "num_items": d.Items.Len()})
	return &Dataset{Data: d, Input: loopml.DatasetInput{Dataset: loopml.Dataset{
		Name:       filepath.Base(filepath.Clean(src.Path)),
		Digest:     digest,
		SourceType: "local",
		Source:     abs,
		Profile:    string(profile),
	}}}, nil
}

// digestFiles returns "blake3:<hex>": of the file's content for one file,
// and for several of one line "<base name> <hex digest>\n" per file.
func digestFiles(ctx context.Context, files []string) (string, error) {
	sums := make([]string, len(files))
	for i, name := range files {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		f, err := os.Open(name)
		if err != nil {
			return "", loopml.WrapError(loopml.EINVALID, err, "data %q: %v", name, err)
		}
		h := blake3.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", loopml.WrapError(loopml.EINVALID, err, "data %q: read: %v", name, err)
		}
		sums[i] = hex.EncodeToString(h.Sum(nil))
	}
	if len(files) == 1 {
		return "blake3:" + sums[0], nil
	}
	var b strings.Builder
	for i, name := range files {
		fmt.Fprintf(&b, "%s %s\n", filepath.Base(name), sums[i])
	}
	s := blake3.Sum256([]byte(b.String()))
	return "blake3:" + hex.EncodeToString(s[:]), nil
}
