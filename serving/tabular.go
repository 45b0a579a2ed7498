package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/mlmodel"
	"github.com/loopml/loopml/training"
)

// Tabular models (the linear and logistic learners) are served by the same
// native runtime as recommenders, on /invocations and OIP /infer only:
// their inputs are the signature's feature columns, checked and converted
// by the signature (mlmodel.Schema.Enforce), and a missing optional value
// or null is imputed as in training. Outputs: prediction (FP64) for
// linear; prediction (INT64, the class at the model's threshold) and
// probability (FP64) for logistic. /recommend answers 400, and a tabular
// model gets no shadow traffic.

// errNotRecommender is what the recommender-shaped calls of a tabular
// model's stub return.
var errNotRecommender = errors.New("a tabular model does not recommend")

// tabularStub stands in as the learn.Model of a loaded tabular model, so
// that recommender code paths (shadow workers, warm-up) never meet a nil
// model: it predicts NaN and recommends nothing.
type tabularStub struct{}

func (tabularStub) Predict(string, string) (float64, bool)     { return math.NaN(), true }
func (tabularStub) Recommend(string, int, bool) []learn.Scored { return nil }
func (tabularStub) MarshalBinary() ([]byte, error)             { return nil, errNotRecommender }
func (tabularStub) UnmarshalBinary([]byte) error               { return errNotRecommender }

// loadTabular loads v's package when its loopml flavor names a tabular
// learner; ok is false for any other package (left to the recommender
// loader).
func loadTabular(ctx context.Context, v *loopml.ModelVersion, fsys fs.FS, mm *mlmodel.MLmodel) (l *loaded, ok bool, err error) {
	fl, has, ferr := mm.LoopmlFlavor()
	if ferr != nil || !has || !learn.IsTabular(fl.Learner) {
		return nil, false, nil
	}
	m, mm, err := training.LoadTabular(ctx, fsys)
	if err != nil {
		return nil, true, fmt.Errorf("model version %s/%s: %w", v.Name, v.Version, err)
	}
	l = (&loaded{version: v, model: tabularStub{}, tab: m, sig: mm.Signature, loadedAt: time.Now()}).withHeaders()
	_, _ = m.PredictRow(make([]any, len(m.Features()))) // warm: every feature missing
	return l, true, nil
}

// servesTabular reports whether ep answers with a tabular model: the
// version named in the path, else any loaded target.
func (ep *endpoint) servesTabular(version string) bool {
	if version != "" {
		l := ep.version(version)
		return l != nil && l.tab != nil
	}
	for _, tg := range ep.targets {
		if l := tg.cur.Load(); l != nil && l.tab != nil {
			return true
		}
	}
	return false
}

// tabularPredict enforces the signature on f and predicts every row. It
// returns the model's values (linear: the prediction; logistic: the
// probability).
func tabularPredict(l *loaded, f *mlmodel.Frame) ([]float64, error) {
	ef, err := l.sig.Inputs.Enforce(f)
	if err != nil {
		return nil, err
	}
	pos := map[string]int{}
	for j, c := range ef.Columns {
		pos[c] = j
	}
	feats := l.tab.Features()
	idx := make([]int, len(feats))
	for i, ft := range feats {
		j, ok := pos[ft.Name]
		if !ok {
			j = -1 // an optional column left out: missing
		}
		idx[i] = j
	}
	out := make([]float64, len(ef.Rows))
	vals := make([]any, len(feats))
	for r, row := range ef.Rows {
		for i, j := range idx {
			vals[i] = nil
			if j >= 0 {
				vals[i] = row[j]
			}
		}
		p, err := l.tab.PredictRow(vals)
		if err != nil {
			return nil, loopml.WrapError(loopml.EINVALID, err, "input row %d: %v", r, err)
		}
		out[r] = p
	}
	return out, nil
}

// tabularScoring renders predictions as MLflow's scoring server does: a
// list of numbers for one output, a list of records for several.
func tabularScoring(l *loaded, preds []float64) any {
	lm, ok := l.tab.(*learn.LogisticModel)
	if !ok {
		return preds
	}
	out := make([]map[string]any, len(preds))
	for i, p := range preds {
		out[i] = map[string]any{"prediction": classOf(lm, p), "probability": p}
	}
	return out
}

func classOf(m *learn.LogisticModel, p float64) int64 {
	if p >= m.Threshold() {
		return 1
	}
	return 0
}

// tabularInvocations answers /invocations for a tabular model: the body
// (JSON of kind "json" or CSV) is a dataframe of feature columns. It
// reports whether it answered 200.
func (g *Gateway) tabularInvocations(w http.ResponseWriter, r *http.Request, l *loaded, kind string) bool {
	frame, params, err := decodeScoring(r.Body, kind, l)
	if err == nil && len(l.sig.Params) > 0 { // an empty schema drops every param
		_, err = l.sig.Params.Enforce(params)
	}
	var preds []float64
	if err == nil {
		preds, err = tabularPredict(l, frame)
	}
	if err != nil {
		g.writeMLflowError(w, r, err)
		return false
	}
	setVersionHeaders(w, l)
	writeJSON(w, http.StatusOK, map[string]any{"predictions": tabularScoring(l, preds)})
	return true
}

// serveTabularInfer answers an OIP inference request when ep serves a
// tabular model, and reports whether it did.
func (g *Gateway) serveTabularInfer(w http.ResponseWriter, r *http.Request, ep *endpoint) bool {
	if !ep.servesTabular(r.PathValue("version")) {
		return false
	}
	l, err := g.pick(w, ep, r)
	if err != nil {
		g.writeOIPError(w, r, err)
		return true
	}
	if l.tab == nil {
		return false // an endpoint mixing model kinds: the recommender path answers
	}
	id, frame, err := decodeTabularInfer(r, l)
	var preds []float64
	if err == nil {
		preds, err = tabularPredict(l, frame)
	}
	if err != nil {
		g.writeOIPError(w, r, err)
		return true
	}
	outputs := []map[string]any{{"name": "prediction", "datatype": "FP64", "shape": []int{len(preds)}, "data": preds}}
	if lm, ok := l.tab.(*learn.LogisticModel); ok {
		classes := make([]int64, len(preds))
		for i, p := range preds {
			classes[i] = classOf(lm, p)
		}
		outputs = []map[string]any{
			{"name": "prediction", "datatype": "INT64", "shape": []int{len(preds)}, "data": classes},
			{"name": "probability", "datatype": "FP64", "shape": []int{len(preds)}, "data": preds},
		}
	}
	setVersionHeaders(w, l)
	resp := map[string]any{"model_name": ep.spec.Name, "model_version": l.version.Version, "outputs": outputs}
	if id != "" {
		resp["id"] = id
	}
	writeJSON(w, http.StatusOK, resp)
	return true
}

// decodeTabularInfer decodes an OIP v2 request whose inputs are the
// signature's feature columns, one tensor each of shape [N] or [N, 1]
// (BYTES for strings, INT*/UINT*/FP* for numbers, BOOL; null for a missing
// value), into a frame. Errors are EINVALID naming the tensor.
func decodeTabularInfer(r *http.Request, l *loaded) (string, *mlmodel.Frame, error) {
	body, err := readBody(r.Body, "inference request")
	if err != nil {
		return "", nil, err
	}
	var req inferRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return "", nil, loopml.Errorf(loopml.EINVALID, "inference request: invalid JSON: %v", err)
	}
	outs := map[string]bool{}
	for _, n := range l.sig.Outputs.Names() {
		outs[n] = true
	}
	for _, o := range req.Outputs {
		if !outs[o.Name] {
			return "", nil, loopml.Errorf(loopml.EINVALID, "inference request: unknown output %q (the model outputs %v)", o.Name, l.sig.Outputs.Names())
		}
	}
	f := &mlmodel.Frame{}
	n := -1
	var cols [][]any
	seen := map[string]bool{}
	for i, t := range req.Inputs {
		if seen[t.Name] {
			return "", nil, loopml.Errorf(loopml.EINVALID, "inference request: input %q is given twice", t.Name)
		}
		seen[t.Name] = true
		vals, err := tensorValues(t)
		if err != nil {
			return "", nil, loopml.Errorf(loopml.EINVALID, "inference request: inputs[%d] (%s): %v", i, t.Name, err)
		}
		if n >= 0 && len(vals) != n {
			return "", nil, loopml.Errorf(loopml.EINVALID, "inference request: input %q has %d elements but %q has %d", t.Name, len(vals), req.Inputs[0].Name, n)
		}
		n = len(vals)
		f.Columns = append(f.Columns, t.Name)
		cols = append(cols, vals)
	}
	if n < 0 {
		return "", nil, loopml.Errorf(loopml.EINVALID, "inference request: no inputs (the model takes %v)", l.sig.Inputs.Names())
	}
	f.Rows = make([][]any, n)
	for r := range f.Rows {
		row := make([]any, len(cols))
		for j := range cols {
			row[j] = cols[j][r]
		}
		f.Rows[r] = row
	}
	return req.ID, f, nil
}

// tensorValues checks a tensor's shape and returns its elements as JSON
// decoding would (string, int64, float64, bool, nil).
func tensorValues(t inferTensor) ([]any, error) {
	switch {
	case len(t.Shape) == 1:
	case len(t.Shape) == 2 && t.Shape[1] == 1:
	default:
		return nil, fmt.Errorf("shape %v must be [N] or [N, 1]", t.Shape)
	}
	if t.Shape[0] < 0 || t.Shape[0] > maxTensorElements {
		return nil, fmt.Errorf("shape %v: N must be in [0, %d]", t.Shape, maxTensorElements)
	}
	if len(t.Data) == 0 {
		return nil, fmt.Errorf("data is missing")
	}
	var data any
	dec := json.NewDecoder(bytes.NewReader(t.Data))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		return nil, fmt.Errorf("data: %v", err)
	}
	var flat []any
	if err := flatten(data, &flat, 0); err != nil {
		return nil, err
	}
	if int64(len(flat)) != t.Shape[0] {
		return nil, fmt.Errorf("data has %d elements but shape %v holds %d", len(flat), t.Shape, t.Shape[0])
	}
	for i, v := range flat {
		switch x := v.(type) {
		case nil:
		case string:
			if t.Datatype != "BYTES" {
				return nil, fmt.Errorf("data[%d]: a string in a %s tensor", i, t.Datatype)
			}
		case bool:
			if t.Datatype != "BOOL" {
				return nil, fmt.Errorf("data[%d]: a boolean in a %s tensor", i, t.Datatype)
			}
		case json.Number:
			switch t.Datatype {
			case "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "FP16", "FP32", "FP64":
			default:
				return nil, fmt.Errorf("data[%d]: a number in a %q tensor", i, t.Datatype)
			}
			if n, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
				flat[i] = n
			} else if f, err := x.Float64(); err == nil {
				flat[i] = f
			} else {
				return nil, fmt.Errorf("data[%d]: %s is not a number", i, x)
			}
		default:
			return nil, fmt.Errorf("data[%d]: %v is not a scalar", i, v)
		}
	}
	return flat, nil
}
