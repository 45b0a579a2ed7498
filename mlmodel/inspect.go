package mlmodel

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"sort"
	"strings"

	"github.com/loopml/loopml"
	"github.com/zeebo/blake3"
)

// ArtifactScheme is the URI scheme of sources inside loopml's artifact store,
// as MLflow's artifact proxy names them.
const ArtifactScheme = "mlflow-artifacts:"

// Inspector reads model packages from an artifact store; it implements
// loopml.PackageInspector for the registry. The zero value is not usable:
// set Artifacts.
type Inspector struct {
	Artifacts loopml.ArtifactStore

	// MaxFiles bounds the files of one package (0 = 100,000), so that a
	// source pointing at a huge directory fails fast instead of hashing it.
	MaxFiles int
}

var _ loopml.PackageInspector = (*Inspector)(nil)

// InspectPackage parses the MLmodel file under source and digests every file
// of the package. Only mlflow-artifacts:/ sources (and plain store paths) are
// read; any other scheme is ENOTFOUND, meaning "nothing to inspect here".
func (in *Inspector) InspectPackage(ctx context.Context, source string) (loopml.ModelPackage, error) {
	dir, ok := storePath(source)
	if !ok {
		return loopml.ModelPackage{}, loopml.Errorf(loopml.ENOTFOUND, "model source %q is not in the artifact store", source)
	}
	dir, err := loopml.CleanArtifactPath(dir)
	if err != nil {
		return loopml.ModelPackage{}, err
	}
	f, err := in.Artifacts.Open(ctx, storeJoin(dir, FileName))
	if err != nil {
		if c := loopml.ErrorCode(err); c == loopml.ENOTFOUND || c == loopml.EINVALID {
			return loopml.ModelPackage{}, loopml.Errorf(loopml.ENOTFOUND, "no %s file under model source %q", FileName, source)
		}
		return loopml.ModelPackage{}, err
	}
	m, err := Parse(f)
	f.Close()
	if err != nil {
		return loopml.ModelPackage{}, err
	}
	files, err := in.digestTree(ctx, dir)
	if err != nil {
		return loopml.ModelPackage{}, err
	}
	pkg := loopml.ModelPackage{Digest: PackageDigest(files), Signature: SignatureJSON(m.Signature)}
	for _, fd := range files {
		pkg.SizeBytes += fd.Size
	}
	for name := range m.Flavors {
		pkg.Flavors = append(pkg.Flavors, name)
	}
	sort.Strings(pkg.Flavors)
	return pkg, nil
}

// storePath maps a source to a path in the artifact store.
func storePath(source string) (string, bool) {
	if rest, ok := strings.CutPrefix(source, ArtifactScheme); ok {
		return strings.TrimLeft(rest, "/"), true
	}
	if strings.Contains(source, ":") { // runs:/, models:/, s3://, file://, ...
		return "", false
	}
	return source, true
}

func storeJoin(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// digestTree hashes every file below dir, streaming each one.
func (in *Inspector) digestTree(ctx context.Context, dir string) ([]FileDigest, error) {
	limit := in.MaxFiles
	if limit <= 0 {
		limit = 100_000
	}
	var files []FileDigest
	var walk func(d string) error
	walk = func(d string) error {
		entries, err := in.Artifacts.List(ctx, d)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir {
				if err := walk(e.Path); err != nil {
					return err
				}
				continue
			}
			if len(files) == limit {
				return loopml.Errorf(loopml.EINVALID, "model package %q has more than %d files", dir, limit)
			}
			r, err := in.Artifacts.Open(ctx, e.Path)
			if err != nil {
				return err
			}
			h := blake3.New()
			n, err := io.Copy(h, r)
			r.Close()
			if err != nil {
				return loopml.WrapError(loopml.EINTERNAL, err, "model package: read %s", e.Path)
			}
			rel := strings.TrimPrefix(e.Path, dir+"/")
			if dir == "" {
				rel = e.Path
			}
			files = append(files, FileDigest{Path: rel, Size: n, Digest: DigestPrefix + hex.EncodeToString(h.Sum(nil))})
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, err
	}
	return files, nil
}

// SignatureJSON renders a signature as one JSON object whose inputs,
// outputs and params are JSON arrays (not the strings the MLmodel file
// embeds), or "" for a nil or empty signature.
func SignatureJSON(s *Signature) string {
	if s == nil {
		return ""
	}
	out := map[string]json.RawMessage{}
	if !s.Inputs.Empty() {
		out["inputs"] = json.RawMessage(s.Inputs.JSON())
	}
	if !s.Outputs.Empty() {
		out["outputs"] = json.RawMessage(s.Outputs.JSON())
	}
	if len(s.Params) > 0 {
		out["params"] = json.RawMessage(s.Params.JSON())
	}
	if len(out) == 0 {
		return ""
	}
	b, err := json.Marshal(out)
	if err != nil { // the parts are valid JSON by construction
		return ""
	}
	return string(b)
}
