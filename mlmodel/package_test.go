package mlmodel_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/mlmodel"
)

func loopmlModel() *mlmodel.MLmodel {
	m := &mlmodel.MLmodel{
		RunID:        "0123456789abcdef0123456789abcdef",
		ArtifactPath: "model",
		Signature: &mlmodel.Signature{
			Inputs: &mlmodel.Schema{Columns: []mlmodel.ColSpec{
				{Name: "user", Type: &mlmodel.Type{Kind: mlmodel.TypeString}, Required: true},
				{Name: "k", Type: &mlmodel.Type{Kind: mlmodel.TypeLong}, Required: false},
			}},
			Outputs: &mlmodel.Schema{Columns: []mlmodel.ColSpec{
				{Name: "items", Type: &mlmodel.Type{Kind: mlmodel.TypeArray, Items: &mlmodel.Type{Kind: mlmodel.TypeString}}, Required: true},
			}},
			Params: mlmodel.ParamSchema{{Name: "exclude_seen", Type: &mlmodel.Type{Kind: mlmodel.TypeBoolean}, Default: true}},
		},
		Metadata: map[string]any{"dataset": "movielens-100k"},
	}
	m.SetFlavor(mlmodel.FlavorLoopml, mlmodel.LoopmlFlavor{Learner: "mf", FormatVersion: 1, ModelFile: "model/model.bin", LoopmlVersion: "0.1.0"}.Map())
	return m
}

func TestWritePackageRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pkg")
	m := loopmlModel()
	files := map[string][]byte{"model/model.bin": []byte("weights"), "input_example.json": []byte(`{"user": "u1"}`)}
	before := time.Now().UTC().Add(-time.Second)
	info, err := mlmodel.WritePackage(ctx, dir, m, files)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(m.ModelUUID) {
		t.Errorf("ModelUUID: got %q", m.ModelUUID)
	}
	created, err := time.Parse(mlmodel.TimeLayout, m.UTCTimeCreated)
	if err != nil || created.Before(before) {
		t.Errorf("UTCTimeCreated: got %q (%v)", m.UTCTimeCreated, err)
	}
	if m.ModelSizeBytes != int64(len("weights")+len(`{"user": "u1"}`)) {
		t.Errorf("ModelSizeBytes: got %d", m.ModelSizeBytes)
	}

	got, err := mlmodel.ParseFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("ParseFile(WritePackage(m)) != m:\n got %#v\nwant %#v", got, m)
	}
	f, ok, err := got.LoopmlFlavor()
	if err != nil || !ok {
		t.Fatalf("LoopmlFlavor: %v, %v", ok, err)
	}
	if want := (mlmodel.LoopmlFlavor{Learner: "mf", FormatVersion: 1, ModelFile: "model/model.bin", LoopmlVersion: "0.1.0"}); f != want {
		t.Errorf("LoopmlFlavor: got %+v, want %+v", f, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.ModelFile)))
	if err != nil || string(data) != "weights" {
		t.Errorf("model file: got %q, %v", data, err)
	}

	mlmodelFile, _ := os.ReadFile(filepath.Join(dir, mlmodel.FileName))
	if info.Size != m.ModelSizeBytes+int64(len(mlmodelFile)) || len(info.Files) != 3 {
		t.Errorf("info: got size %d, %d files; want %d, 3", info.Size, len(info.Files), m.ModelSizeBytes+int64(len(mlmodelFile)))
	}
	if !strings.HasPrefix(info.Digest, "blake3:") || len(info.Digest) != len("blake3:")+64 {
		t.Errorf("Digest: got %q", info.Digest)
	}
	if paths := []string{info.Files[0].Path, info.Files[1].Path, info.Files[2].Path}; !reflect.DeepEqual(paths, []string{"MLmodel", "input_example.json", "model/model.bin"}) {
		t.Errorf("Files: got %v", paths)
	}
	if mlmodel.PackageDigest(info.Files) != info.Digest {
		t.Errorf("PackageDigest(Files) differs from Digest")
	}

	if _, err := mlmodel.WritePackage(ctx, dir, loopmlModel(), nil); loopml.ErrorCode(err) != loopml.ECONFLICT {
		t.Errorf("second WritePackage: got %v, want ECONFLICT", err)
	}
}

func TestWritePackageRejectsPaths(t *testing.T) {
	for _, p := range []string{"", "/abs", "../up", "a/../../b", "./x", "a//b", `a\b`, "MLmodel", "."} {
		t.Run(p, func(t *testing.T) {
			_, err := mlmodel.WritePackage(context.Background(), t.TempDir(), loopmlModel(), map[string][]byte{p: []byte("x")})
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Errorf("got %v, want EINVALID", err)
			}
		})
	}
}

func TestDigestFS(t *testing.T) {
	ctx := context.Background()
	base := fstest.MapFS{
		"MLmodel":       {Data: []byte("flavors: {}\n"), Mode: 0o644},
		"model/a.bin":   {Data: []byte("aaaa"), Mode: 0o600, ModTime: time.Unix(1, 0)},
		"model/b b.bin": {Data: []byte("b"), Mode: 0o644},
	}
	ref, err := mlmodel.DigestFS(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Size != 12+4+1 {
		t.Errorf("Size: got %d", ref.Size)
	}
	same := fstest.MapFS{
		"MLmodel":       {Data: []byte("flavors: {}\n"), Mode: 0o600, ModTime: time.Unix(99, 0)},
		"model/a.bin":   {Data: []byte("aaaa")},
		"model/b b.bin": {Data: []byte("b")},
	}
	tests := []struct {
		name string
		fsys fstest.MapFS
		same bool
	}{
		{"modes and times do not matter", same, true},
		{"content change", fstest.MapFS{"MLmodel": {Data: []byte("flavors: {}\n")}, "model/a.bin": {Data: []byte("aaab")}, "model/b b.bin": {Data: []byte("b")}}, false},
		{"rename", fstest.MapFS{"MLmodel": {Data: []byte("flavors: {}\n")}, "model/a2.bin": {Data: []byte("aaaa")}, "model/b b.bin": {Data: []byte("b")}}, false},
		{"extra empty file", fstest.MapFS{"MLmodel": {Data: []byte("flavors: {}\n")}, "model/a.bin": {Data: []byte("aaaa")}, "model/b b.bin": {Data: []byte("b")}, "x": {}}, false},
		{"bytes moved between files", fstest.MapFS{"MLmodel": {Data: []byte("flavors: {}\n")}, "model/a.bin": {Data: []byte("aaa")}, "model/b b.bin": {Data: []byte("ab")}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mlmodel.DigestFS(ctx, tt.fsys)
			if err != nil {
				t.Fatal(err)
			}
			if (got.Digest == ref.Digest) != tt.same {
				t.Errorf("digest equal = %v, want %v", got.Digest == ref.Digest, tt.same)
			}
		})
	}
}

func TestDigestDirErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := mlmodel.DigestDir(ctx, filepath.Join(t.TempDir(), "nope")); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Errorf("missing dir: got %v, want ENOTFOUND", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "real"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Skip("symlinks not supported:", err)
	}
	if _, err := mlmodel.DigestDir(ctx, dir); loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "link is not a regular file") {
		t.Errorf("symlink: got %v, want EINVALID naming it", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := mlmodel.DigestDir(cancelled, dir); err == nil {
		t.Errorf("cancelled context: got nil error")
	}
}

func TestLoopmlFlavorErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]any
		want string
	}{
		{"no learner", map[string]any{"format_version": 1, "model_file": "m.bin"}, "'flavors.loopml.learner' is required"},
		{"no model file", map[string]any{"learner": "mf", "format_version": 1}, "'flavors.loopml.model_file' is required"},
		{"escaping model file", map[string]any{"learner": "mf", "format_version": 1, "model_file": "../m.bin"}, "'flavors.loopml.model_file': path \"../m.bin\""},
		{"version not int", map[string]any{"learner": "mf", "format_version": "1", "model_file": "m.bin"}, "'flavors.loopml.format_version' must be an integer"},
		{"version zero", map[string]any{"learner": "mf", "format_version": 0, "model_file": "m.bin"}, "must be ≥ 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &mlmodel.MLmodel{}
			m.SetFlavor(mlmodel.FlavorLoopml, tt.cfg)
			_, ok, err := m.LoopmlFlavor()
			if !ok || loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.want) {
				t.Errorf("got %v, %v; want EINVALID containing %q", ok, err, tt.want)
			}
		})
	}
	if _, ok, err := (&mlmodel.MLmodel{}).LoopmlFlavor(); ok || err != nil {
		t.Errorf("no flavor: got %v, %v", ok, err)
	}
}
