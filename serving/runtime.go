package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/mlmodel"
	"github.com/loopml/loopml/training"
)

// ArtifactReader lists and reads the artifact store by store path: the
// List and Open methods of loopml.ArtifactStore (a local store) or of the
// server's artifact proxy.
type ArtifactReader interface {
	List(ctx context.Context, dir string) ([]loopml.ArtifactInfo, error)
	Open(ctx context.Context, path string) (io.ReadCloser, error)
}

// loaded is one model version held in memory by the native runtime.
type loaded struct {
	version  *loopml.ModelVersion
	model    learn.Model
	sig      *mlmodel.Signature
	idLong   bool               // ids are long (numbers on the wire), else strings
	tab      learn.TabularModel // a linear/logistic model (model is then a stub); see tabular.go
	proc     *processModel      // served by a child process (model is then a stub); see process.go
	loadedAt time.Time
	// hdrName and hdrVersion are the values of the X-Loopml-Model and
	// X-Loopml-Model-Version response headers, made once (see
	// setVersionHeaders).
	hdrName, hdrVersion []string
}

// withHeaders fills l's response header values and returns l.
func (l *loaded) withHeaders() *loaded {
	l.hdrName, l.hdrVersion = []string{l.version.Name}, []string{l.version.Version}
	return l
}

// label is "name/version", for logs.
func (l *loaded) label() string { return l.version.Name + "/" + l.version.Version }

// loadVersion reads v's package and loads it (the native runtime for
// loopml packages, a child process for the others), then warms it with
// the package's input example (see warmWithExample), so that the first
// request served by it does not pay for lazy work and a version that
// cannot score its own example is never swapped in.
func loadVersion(ctx context.Context, reg loopml.ModelRegistry, arts ArtifactReader, v *loopml.ModelVersion) (*loaded, error) {
	dir, err := loopml.ModelVersionStorePath(ctx, reg, v)
	if err != nil {
		return nil, err
	}
	fsys, err := training.StoreFS(ctx, arts, dir)
	if err != nil {
		return nil, fmt.Errorf("model version %s/%s: read package: %w", v.Name, v.Version, err)
	}
	raw, err := fs.ReadFile(fsys, mlmodel.FileName)
	if err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "model version %s/%s: the package at %q has no %s file", v.Name, v.Version, dir, mlmodel.FileName)
	}
	mm, err := mlmodel.Parse(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("model version %s/%s: %w", v.Name, v.Version, err)
	}
	l, err := loadRuntime(ctx, v, fsys, mm)
	if err != nil {
		return nil, err
	}
	if err := warmWithExample(l, fsys, mm); err != nil {
		if l.proc != nil {
			l.proc.close()
		}
		return nil, loopml.Errorf(loopml.ErrorCode(err), "model version %s: %s", l.label(), loopml.ErrorMessage(err))
	}
	return l, nil
}

// loadRuntime loads v with the runtime its flavors call for.
func loadRuntime(ctx context.Context, v *loopml.ModelVersion, fsys fs.FS, mm *mlmodel.MLmodel) (*loaded, error) {
	if _, ok := mm.Flavors[mlmodel.FlavorLoopml]; !ok {
		return loadProcess(ctx, v, fsys, mm) // every other flavor: a child process; see process.go
	}
	if l, ok, err := loadTabular(ctx, v, fsys, mm); ok {
		return l, err
	}
	m, mm, err := training.Load(ctx, fsys)
	if err != nil {
		return nil, fmt.Errorf("model version %s/%s: %w", v.Name, v.Version, err)
	}
	l := (&loaded{version: v, model: m, sig: mm.Signature, loadedAt: time.Now()}).withHeaders()
	if l.sig == nil || l.sig.Inputs.Empty() {
		l.sig = training.Signature(mlmodel.TypeString)
	}
	for _, c := range l.sig.Inputs.Columns {
		if c.Name == "user_id" {
			l.idLong = c.Type != nil && (c.Type.Kind == mlmodel.TypeLong || c.Type.Kind == mlmodel.TypeInteger)
		}
	}
	warm := l.model.Recommend("", 1, false)
	for _, s := range warm {
		l.model.Predict("", s.Item)
	}
	return l, nil
}

// itemValue is an item id as the wire carries it: a number when the
// package's ids are long, else the string.
func (l *loaded) itemValue(id string) any {
	if l.idLong {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			return n
		}
	}
	return id
}

// exampleBody returns the package's input example as an /invocations JSON
// body, or nil when it has none this gateway can replay. MLflow writes
// either a ready-to-POST serving_input_example.json (serving_input_path)
// or the example itself (artifact_path) with its type: a dataframe in
// pandas' split or records orient, or a tf-serving ndarray.
func exampleBody(fsys fs.FS, mm *mlmodel.MLmodel) ([]byte, error) {
	info := mm.SavedInputExampleInfo
	if info == nil {
		return nil, nil
	}
	read := func(name string) ([]byte, error) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "the MLmodel names the input example %q, which the package lacks", name)
		}
		return b, nil
	}
	if info.ServingInputPath != "" {
		return read(info.ServingInputPath)
	}
	if info.ArtifactPath == "" {
		return nil, nil
	}
	key := ""
	switch {
	case info.Type == "dataframe" && (info.PandasOrient == "split" || info.PandasOrient == ""):
		key = mlmodel.FormatDataframeSplit
	case info.Type == "dataframe" && info.PandasOrient == "records":
		key = mlmodel.FormatDataframeRecords
	case info.Type == "ndarray":
		key = mlmodel.FormatInputs
	default:
		return nil, nil // a type MLflow's scoring server gets otherwise (sparse matrices, ...)
	}
	b, err := read(info.ArtifactPath)
	if err != nil {
		return nil, err
	}
	if key == mlmodel.FormatInputs {
		// tf-serving format: already {"inputs": ...} or {"instances": ...}
		var top map[string]json.RawMessage
		if json.Unmarshal(b, &top) == nil && (top["inputs"] != nil || top["instances"] != nil) {
			return b, nil
		}
	}
	return json.Marshal(map[string]json.RawMessage{key: b})
}

// warmWithExample scores the package's input example once through l's
// runtime (decoded and predicted in process, or posted to the child), and
// fails when the model cannot score it.
func warmWithExample(l *loaded, fsys fs.FS, mm *mlmodel.MLmodel) error {
	body, err := exampleBody(fsys, mm)
	if err != nil || body == nil {
		return err
	}
	if l.proc != nil {
		r, err := http.NewRequest(http.MethodPost, "/invocations", bytes.NewReader(body))
		if err != nil {
			return err
		}
		r.Header.Set("Content-Type", "application/json")
		w := &bufferWriter{header: http.Header{}}
		l.proc.rt.ServeHTTP(w, r)
		if w.status == 0 || w.status >= 300 {
			return loopml.Errorf(loopml.EINVALID, "the child answered its input example with status %d: %s", w.status, strings.TrimSpace(w.body.String()))
		}
		return nil
	}
	if _, err := scoreBody(l, body, "json"); err != nil {
		return loopml.Errorf(loopml.EINVALID, "the model cannot score its input example: %s", loopml.ErrorMessage(err))
	}
	return nil
}
