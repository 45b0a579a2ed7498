package mlmodel_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/mlmodel"
)

func TestInspectorInspectPackage(t *testing.T) {
	ctx := context.Background()
	store, err := blobstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mlmodelFile, err := os.ReadFile(filepath.Join("testdata", "mlflow", "sklearn.MLmodel"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"MLmodel":            string(mlmodelFile),
		"model.pkl":          "not really a pickle",
		"requirements.txt":   "scikit-learn==1.4.2\n",
		"sub dir/extra.json": "{}",
	}
	// The same package on disk, to compare digests with DigestDir.
	disk := t.TempDir()
	for p, content := range files {
		put(t, store, "1/abc/artifacts/model/"+p, content)
		full := filepath.Join(disk, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put(t, store, "1/abc/artifacts/other.txt", "outside the package")
	want, err := mlmodel.DigestDir(ctx, disk)
	if err != nil {
		t.Fatal(err)
	}

	in := &mlmodel.Inspector{Artifacts: store}
	for _, source := range []string{"mlflow-artifacts:/1/abc/artifacts/model", "mlflow-artifacts:1/abc/artifacts/model/", "1/abc/artifacts/model"} {
		pkg, err := in.InspectPackage(ctx, source)
		if err != nil {
			t.Fatalf("InspectPackage(%q): %v", source, err)
		}
		if pkg.Digest != want.Digest || pkg.SizeBytes != want.Size {
			t.Errorf("InspectPackage(%q) = digest %s size %d, want %s %d (DigestDir of the same files)", source, pkg.Digest, pkg.SizeBytes, want.Digest, want.Size)
		}
		if got := strings.Join(pkg.Flavors, ","); got != "python_function,sklearn" {
			t.Errorf("flavors = %q, want python_function,sklearn", got)
		}
		if !strings.HasPrefix(pkg.Signature, `{"inputs":[`) || !strings.Contains(pkg.Signature, `"outputs":[`) {
			t.Errorf("signature = %s, want a JSON object with inputs and outputs arrays", pkg.Signature)
		}
	}

	// Errors: nothing to inspect, or a malformed MLmodel named by key.
	for _, source := range []string{"s3://bucket/model", "runs:/abc/model", "mlflow-artifacts:/1/abc/artifacts", "mlflow-artifacts:/9/missing"} {
		if _, err := in.InspectPackage(ctx, source); loopml.ErrorCode(err) != loopml.ENOTFOUND {
			t.Errorf("InspectPackage(%q) error %v, want ENOTFOUND", source, err)
		}
	}
	if _, err := in.InspectPackage(ctx, "mlflow-artifacts:/../etc"); loopml.ErrorCode(err) != loopml.EINVALID {
		t.Errorf("InspectPackage(traversal) error %v, want EINVALID", err)
	}
	bad, err := os.ReadFile(filepath.Join("testdata", "malformed", "signature-not-json.MLmodel"))
	if err != nil {
		t.Fatal(err)
	}
	put(t, store, "2/bad/MLmodel", string(bad))
	_, err = in.InspectPackage(ctx, "mlflow-artifacts:/2/bad")
	if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "signature") {
		t.Errorf("malformed MLmodel: error %v, want EINVALID naming signature", err)
	}
	limited := &mlmodel.Inspector{Artifacts: store, MaxFiles: 2}
	if _, err := limited.InspectPackage(ctx, "mlflow-artifacts:/1/abc/artifacts/model"); loopml.ErrorCode(err) != loopml.EINVALID {
		t.Errorf("MaxFiles 2: error %v, want EINVALID", err)
	}
}

func put(t *testing.T, s loopml.ArtifactStore, p, content string) {
	t.Helper()
	if _, err := s.Put(context.Background(), p, strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
}
