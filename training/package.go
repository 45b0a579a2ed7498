package training

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing/fstest"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/mlmodel"
)

// Package layout constants.
const (
	// ModelArtifactPath is where Train logs the package under the run's
	// artifacts; the registered source is runs:/<run_id>/model.
	ModelArtifactPath = "model"
	// ModelFile is the learn-encoded model inside the package.
	ModelFile = "model.bin"
	// InputExampleFile is the input example inside the package.
	InputExampleFile = "input_example.json"
	// FormatVersion is the version of the model file's encoding
	// (learn's MarshalBinary) recorded in the loopml flavor.
	FormatVersion = 1
)

// Signature returns the signature of a recommender package: inputs
// user_id and item_id (of idType, long or string) → output score (double),
// and the recommend params k (long, default 10) and exclude_seen (boolean,
// default true).
func Signature(idType mlmodel.DataType) *mlmodel.Signature {
	return &mlmodel.Signature{
		Inputs: &mlmodel.Schema{Columns: []mlmodel.ColSpec{
			{Name: "user_id", Type: &mlmodel.Type{Kind: idType}, Required: true},
			{Name: "item_id", Type: &mlmodel.Type{Kind: idType}, Required: true},
		}},
		Outputs: &mlmodel.Schema{Columns: []mlmodel.ColSpec{
			{Name: "score", Type: &mlmodel.Type{Kind: mlmodel.TypeDouble}, Required: true},
		}},
		Params: mlmodel.ParamSchema{
			{Name: "k", Type: &mlmodel.Type{Kind: mlmodel.TypeLong}, Default: int64(10)},
			{Name: "exclude_seen", Type: &mlmodel.Type{Kind: mlmodel.TypeBoolean}, Default: true},
		},
	}
}

// idType is long when every user and item id is a 64-bit integer (as in
// MovieLens), else string.
func idType(d *learn.Interactions) mlmodel.DataType {
	for _, m := range []*learn.IDMap{d.Users, d.Items} {
		for _, id := range m.IDs() {
			if _, err := strconv.ParseInt(id, 10, 64); err != nil {
				return mlmodel.TypeString
			}
		}
	}
	return mlmodel.TypeLong
}

// inputExample is a one-row dataframe in pandas "split" orient.
func inputExample(d *learn.Interactions, t mlmodel.DataType) ([]byte, error) {
	r := d.Rows[0]
	var row []any
	for _, id := range []string{d.Users.ID(r.User), d.Items.ID(r.Item)} {
		if t == mlmodel.TypeLong {
			n, _ := strconv.ParseInt(id, 10, 64)
			row = append(row, n)
		} else {
			row = append(row, id)
		}
	}
	return json.Marshal(map[string]any{"columns": []string{"user_id", "item_id"}, "data": [][]any{row}})
}

// writePackage writes the package of m (trained by learner on d for run
// runID) into dir and returns its description and MLmodel.
func writePackage(ctx context.Context, dir, learner, runID string, m learn.Model, d *learn.Interactions) (mlmodel.PackageInfo, *mlmodel.MLmodel, error) {
	blob, err := m.MarshalBinary()
	if err != nil {
		return mlmodel.PackageInfo{}, nil, loopml.WrapError(loopml.EINTERNAL, err, "encode model: %v", err)
	}
	t := idType(d)
	example, err := inputExample(d, t)
	if err != nil {
		return mlmodel.PackageInfo{}, nil, loopml.WrapError(loopml.EINTERNAL, err, "input example: %v", err)
	}
	mm := &mlmodel.MLmodel{
		ArtifactPath: ModelArtifactPath,
		RunID:        runID,
		Signature:    Signature(t),
		SavedInputExampleInfo: &mlmodel.InputExampleInfo{
			ArtifactPath: InputExampleFile, Type: "dataframe", PandasOrient: "split",
		},
	}
	mm.SetFlavor(mlmodel.FlavorLoopml, mlmodel.LoopmlFlavor{
		Learner: learner, FormatVersion: FormatVersion, ModelFile: ModelFile, LoopmlVersion: loopml.Version,
	}.Map())
	info, err := mlmodel.WritePackage(ctx, dir, mm, map[string][]byte{ModelFile: blob, InputExampleFile: example})
	return info, mm, err
}

// uploadDir puts every file of dir under prefix in the artifact store.
func uploadDir(ctx context.Context, up Uploader, dir, prefix string, files []mlmodel.FileDigest) error {
	for _, f := range files {
		if err := uploadFile(ctx, up, filepath.Join(dir, filepath.FromSlash(f.Path)), path.Join(prefix, f.Path)); err != nil {
			return err
		}
	}
	return nil
}

func uploadFile(ctx context.Context, up Uploader, local, dst string) error {
	fh, err := os.Open(local)
	if err != nil {
		return loopml.WrapError(loopml.EINTERNAL, err, "upload %s: %v", dst, err)
	}
	defer fh.Close()
	if _, err := up.Put(ctx, dst, fh); err != nil {
		return err
	}
	return nil
}

// readLoopmlPackage reads and parses the MLmodel file at the root of
// fsys and returns it with its loopml flavor; a package without that
// flavor is EINVALID.
func readLoopmlPackage(ctx context.Context, fsys fs.FS) (*mlmodel.MLmodel, mlmodel.LoopmlFlavor, error) {
	if err := ctx.Err(); err != nil {
		return nil, mlmodel.LoopmlFlavor{}, err
	}
	raw, err := readFS(fsys, mlmodel.FileName)
	if err != nil {
		return nil, mlmodel.LoopmlFlavor{}, err
	}
	mm, err := mlmodel.Parse(bytes.NewReader(raw))
	if err != nil {
		return nil, mlmodel.LoopmlFlavor{}, err
	}
	fl, ok, err := mm.LoopmlFlavor()
	if err != nil {
		return nil, mlmodel.LoopmlFlavor{}, err
	}
	if !ok {
		return nil, mlmodel.LoopmlFlavor{}, loopml.Errorf(loopml.EINVALID, "model package: no %q flavor, so not a built-in learner's model", mlmodel.FlavorLoopml)
	}
	return mm, fl, nil
}

// Load reads a model package from fsys (its root holds the MLmodel file)
// and decodes its loopml flavor's model file. A package without the loopml
// flavor, of an unknown format version or whose model file does not decode
// is EINVALID; a missing file is ENOTFOUND.
func Load(ctx context.Context, fsys fs.FS) (learn.Model, *mlmodel.MLmodel, error) {
	mm, fl, err := readLoopmlPackage(ctx, fsys)
	if err != nil {
		return nil, nil, err
	}
	if fl.FormatVersion != FormatVersion {
		return nil, nil, loopml.Errorf(loopml.EINVALID, "model package: flavors.loopml.format_version %d is not supported (want %d)", fl.FormatVersion, FormatVersion)
	}
	if learn.IsTabular(fl.Learner) {
		return nil, nil, loopml.Errorf(loopml.EINVALID, "model package: a %s model is tabular, not a recommender: load it with LoadTabular", fl.Learner)
	}
	blob, err := readFS(fsys, fl.ModelFile)
	if err != nil {
		return nil, nil, err
	}
	m, err := learn.UnmarshalModel(blob)
	if err != nil {
		return nil, nil, loopml.WrapError(loopml.EINVALID, err, "model package: %s: %v", fl.ModelFile, err)
	}
	if got := modelKind(m); got != fl.Learner {
		return nil, nil, loopml.Errorf(loopml.EINVALID, "model package: flavors.loopml.learner is %q but %s holds a %q model", fl.Learner, fl.ModelFile, got)
	}
	return m, mm, nil
}

func readFS(fsys fs.FS, name string) ([]byte, error) {
	b, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, loopml.WrapError(loopml.ENOTFOUND, err, "model package: no file %s", name)
	}
	if err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "model package: read %s: %v", name, err)
	}
	return b, nil
}

// modelKind names the learner of a decoded model.
func modelKind(m learn.Model) string {
	switch m.(type) {
	case *learn.PopularityModel:
		return learn.KindPopularity
	case *learn.MFModel:
		return learn.KindMF
	case *learn.ImplicitALSModel:
		return learn.KindImplicitALS
	}
	return "unknown"
}

// StoreFS reads the package under dir of an artifact store into memory, as
// an fs.FS for Load. Subdirectories are followed.
func StoreFS(ctx context.Context, src ArtifactReader, dir string) (fs.FS, error) {
	files := fstest.MapFS{}
	var walk func(d string) error
	walk = func(d string) error {
		infos, err := src.List(ctx, d)
		if err != nil {
			return err
		}
		for _, in := range infos {
			if in.IsDir {
				if err := walk(in.Path); err != nil {
					return err
				}
				continue
			}
			rc, err := src.Open(ctx, in.Path)
			if err != nil {
				return err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return loopml.WrapError(loopml.EINTERNAL, err, "read artifact %s: %v", in.Path, err)
			}
			rel, ok := strings.CutPrefix(in.Path, dir+"/")
			if dir == "" {
				rel, ok = in.Path, true
			}
			if !ok {
				return loopml.Errorf(loopml.EINTERNAL, "artifact store listed %q under %q", in.Path, d)
			}
			files[rel] = &fstest.MapFile{Data: b}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, loopml.Errorf(loopml.ENOTFOUND, "no model package under artifact path %q", dir)
	}
	return files, nil
}
