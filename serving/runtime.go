package serving

import (
	"context"
	"fmt"
	"io"
	"io/fs"
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

// loadVersion reads v's package and loads it with the native runtime, then
// warms it (one prediction and one recommendation), so that the first
// request served by it does not pay for lazy work.
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
