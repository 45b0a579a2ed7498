package serving

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/mlmodel"
)

// Response headers set by the gateway.
const (
	HeaderRequestID    = "X-Request-Id"           // accepted from the client or generated, always returned
	HeaderModel        = "X-Loopml-Model"         // registered model name of the version that answered
	HeaderModelVersion = "X-Loopml-Model-Version" // version that answered
)

// maxRequestIDLength bounds a client-supplied request id; longer or
// non-printable ids are replaced by a generated one.
const maxRequestIDLength = 128

// Handler returns the HTTP handler of the gateway: the OIP v2, MLflow
// scoring and recommendation routes (see the package doc), GET /ping and
// GET /readyz (200 when ready), GET /healthz (200 while the process
// answers) and GET /endpoints (the status of every endpoint as JSON).
// Every response carries X-Request-Id; bodies are limited to MaxBodyBytes.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2", g.handleServerMetadata)
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	})
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, _ *http.Request) {
		ready := g.Ready()
		writeJSON(w, readyStatus(ready), map[string]bool{"ready": ready})
	})
	mux.HandleFunc("GET /v2/models/{name}", g.handleModelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}", g.handleModelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/ready", g.handleModelReady)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}/ready", g.handleModelReady)
	mux.HandleFunc("POST /v2/models/{name}/infer", g.logged("infer", g.handleInfer))
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", g.logged("infer", g.handleInfer))
	mux.HandleFunc("POST /endpoints/{name}/invocations", g.logged("invocations", g.handleInvocations))
	mux.HandleFunc("POST /invocations", g.logged("invocations", g.handleInvocations))
	mux.HandleFunc("POST /endpoints/{name}/recommend", g.logged("recommend", g.handleRecommend))
	mux.HandleFunc("POST /endpoints/{name}/feedback", g.handleFeedback)
	mux.HandleFunc("GET /endpoints", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"endpoints": statusJSON(g.Status())})
	})
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) {
		ready := g.Ready()
		writeJSON(w, readyStatus(ready), map[string]bool{"ready": ready})
	})
	// Kubernetes-style probes: /healthz is liveness (the process answers),
	// /readyz readiness (every target of every endpoint loaded), with each
	// endpoint's status, and why a target is not loaded, when it is not.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready := g.Ready()
		writeJSON(w, readyStatus(ready), map[string]any{"ready": ready, "endpoints": statusJSON(g.Status())})
	})
	return g.middleware(mux)
}

func readyStatus(ready bool) int {
	if ready {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

// middleware assigns the request id, limits the body and recovers panics.
func (g *Gateway) middleware(next http.Handler) http.Handler {
	limit := g.maxBody()
	readTimeout, writeTimeout := g.timeouts()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if readTimeout > 0 || writeTimeout > 0 {
			// Per-request deadlines (ignored where the writer has no
			// connection, e.g. in tests). The write deadline is lifted
			// when the handler returns: a server without a WriteTimeout
			// of its own would keep it for the next request on the
			// connection.
			rc := http.NewResponseController(w)
			now := time.Now()
			if readTimeout > 0 {
				_ = rc.SetReadDeadline(now.Add(readTimeout))
			}
			if writeTimeout > 0 && rc.SetWriteDeadline(now.Add(writeTimeout)) == nil {
				defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
			}
		}
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		// The handlers read the id back from the response header
		// (requestID): a context value would copy the request.
		w.Header()[HeaderRequestID] = []string{id}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				g.logger().Error("serving handler panicked", "request_id", id, "path", r.URL.Path, "panic", fmt.Sprint(p))
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
		g.logger().LogAttrs(r.Context(), slog.LevelDebug, "serving request", slog.String("request_id", id),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Duration("elapsed", time.Since(start)))
	})
}

// requestID is the id the middleware gave the request answered by w.
func requestID(w http.ResponseWriter) string {
	if v := w.Header()[HeaderRequestID]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return false
		}
	}
	return true
}

// newRequestID returns 32 hex digits: the time in milliseconds (48 bits)
// then 80 random bits, like a UUIDv7. Time-ordered ids keep the prediction
// log's request-id index append-mostly (5x faster inserts than random ids
// on SQLite, docs/benchmarks.md).
func newRequestID() string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	_, _ = rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

// jsonContentType is the Content-Type header value of every JSON answer,
// shared (net/http only reads header values).
var jsonContentType = []string{"application/json"}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// bufPool holds the buffers writePredictions encodes into.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writePredictions answers 200 {"predictions": [...]}, byte for byte what
// writeJSON writes for the same scores, without its reflection and
// allocations (the /invocations hot path). A score that is not a finite
// number is written as null, as pandas writes NaN.
func writePredictions(w http.ResponseWriter, scores []float64) {
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], `{"predictions":[`...)
	for i, f := range scores {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONFloat(b, f)
	}
	b = append(b, "]}\n"...)
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		bufPool.Put(bp)
	}
}

// appendJSONFloat appends f as encoding/json writes a float64 (shortest
// representation, exponent form below 1e-6 and from 1e21), or null when f
// is NaN or infinite.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// statusOf maps an error code to the HTTP status of the serving routes
// (the gateway's own table: httpapi's is for the tracking API).
func statusOf(err error) int {
	switch loopml.ErrorCode(err) {
	case loopml.EINVALID:
		return http.StatusBadRequest
	case loopml.ENOTFOUND:
		return http.StatusNotFound
	case loopml.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case loopml.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case loopml.ENOTIMPLEMENTED:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// mlflowCode is the MLflow error_code of an error.
func mlflowCode(err error) string {
	switch loopml.ErrorCode(err) {
	case loopml.EINVALID:
		return "BAD_REQUEST"
	case loopml.ENOTFOUND:
		return "RESOURCE_DOES_NOT_EXIST"
	case loopml.ETOOLARGE:
		return "REQUEST_LIMIT_EXCEEDED"
	case loopml.EUNAVAILABLE:
		return "TEMPORARILY_UNAVAILABLE"
	}
	return "INTERNAL_ERROR"
}

func (g *Gateway) message(w http.ResponseWriter, r *http.Request, err error) string {
	if loopml.ErrorCode(err) == loopml.EINTERNAL {
		g.logger().Error("serving request failed", "request_id", requestID(w), "path", r.URL.Path, "err", err)
	}
	return loopml.ErrorMessage(err)
}

// writeMLflowError writes {"error_code", "message"} (the scoring server's
// and the recommend route's error body).
func (g *Gateway) writeMLflowError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := g.errorStatus(w, r, err)
	noteError(w, msg)
	writeJSON(w, status, map[string]string{"error_code": mlflowCode(err), "message": msg})
}

// writeOIPError writes {"error": msg} (the OIP v2 error body).
func (g *Gateway) writeOIPError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := g.errorStatus(w, r, err)
	noteError(w, msg)
	writeJSON(w, status, map[string]string{"error": msg})
}

// errorStatus is the status and message of an error answer: a body that
// did not arrive before the read deadline is 408 Request Timeout.
func (g *Gateway) errorStatus(w http.ResponseWriter, r *http.Request, err error) (int, string) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		read, _ := g.timeouts()
		return http.StatusRequestTimeout, fmt.Sprintf("request timeout: the request body did not arrive within %s", read)
	}
	return statusOf(err), g.message(w, r, err)
}

// endpoint returns the endpoint called name ("" is the default endpoint).
func (g *Gateway) endpoint(name string) (*endpoint, error) {
	t := g.table.Load()
	if t == nil {
		return nil, loopml.Errorf(loopml.EUNAVAILABLE, "no endpoints are loaded")
	}
	if name == "" {
		if t.def == nil {
			return nil, loopml.Errorf(loopml.ENOTFOUND, "no default endpoint: use /endpoints/{name}/invocations or mark an endpoint default: true")
		}
		return t.def, nil
	}
	ep, ok := t.byName[name]
	if !ok {
		return nil, loopml.Errorf(loopml.ENOTFOUND, "endpoint %q not found", name)
	}
	return ep, nil
}

// pick returns the model version that serves r on ep: the one at the path's
// version when there is one, else the routed one.
//
// It notes the target and version in w's recorder (the prediction log,
// the metrics and the rollout's traffic stats read them there).
func (g *Gateway) pick(w http.ResponseWriter, ep *endpoint, r *http.Request) (*loaded, error) {
	if v := r.PathValue("version"); v != "" {
		if tg, l := ep.versionTarget(v); l != nil {
			noteTarget(w, ep, tg, l)
			return l, nil
		}
		return nil, loopml.Errorf(loopml.ENOTFOUND, "endpoint %q does not serve version %q", ep.spec.Name, v)
	}
	if tg, l := g.route(ep, r); l != nil {
		noteTarget(w, ep, tg, l)
		return l, nil
	}
	return nil, loopml.Errorf(loopml.EUNAVAILABLE, "endpoint %q is not ready: no model version is loaded%s", ep.spec.Name, ep.loadErrors())
}

// setVersionHeaders names the model version that answered. The header
// values are made once per loaded version: net/http only reads them.
func setVersionHeaders(w http.ResponseWriter, l *loaded) {
	h := w.Header()
	h[HeaderModel], h[HeaderModelVersion] = l.hdrName, l.hdrVersion
}

func (g *Gateway) handleServerMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": "loopml", "version": loopml.Version, "extensions": []string{}})
}

// oipTensorMeta is an input or output of the OIP model metadata.
type oipTensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// oipDatatype maps an MLflow column type to an OIP datatype.
func oipDatatype(t *mlmodel.Type) string {
	if t == nil {
		return "BYTES"
	}
	switch t.Kind {
	case mlmodel.TypeLong:
		return "INT64"
	case mlmodel.TypeInteger:
		return "INT32"
	case mlmodel.TypeDouble:
		return "FP64"
	case mlmodel.TypeFloat:
		return "FP32"
	case mlmodel.TypeBoolean:
		return "BOOL"
	}
	return "BYTES"
}

func schemaMeta(s *mlmodel.Schema) []oipTensorMeta {
	out := []oipTensorMeta{}
	if s == nil {
		return out
	}
	for _, c := range s.Columns {
		out = append(out, oipTensorMeta{Name: c.Name, Datatype: oipDatatype(c.Type), Shape: []int64{-1}})
	}
	for _, t := range s.Tensors {
		out = append(out, oipTensorMeta{Name: t.Name, Datatype: strings.ToUpper(t.DType), Shape: t.Shape})
	}
	return out
}

func (g *Gateway) handleModelMetadata(w http.ResponseWriter, r *http.Request) {
	ep, err := g.endpoint(r.PathValue("name"))
	if err != nil {
		g.writeOIPError(w, r, err)
		return
	}
	var versions []string
	var first *loaded
	for _, tg := range ep.targets {
		if l := tg.cur.Load(); l != nil {
			versions = append(versions, l.version.Version)
			if first == nil {
				first = l
			}
		}
	}
	if v := r.PathValue("version"); v != "" {
		if first = ep.version(v); first == nil {
			g.writeOIPError(w, r, loopml.Errorf(loopml.ENOTFOUND, "endpoint %q does not serve version %q", ep.spec.Name, v))
			return
		}
		versions = []string{v}
	}
	if first == nil {
		g.writeOIPError(w, r, loopml.Errorf(loopml.EUNAVAILABLE, "endpoint %q is not ready: no model version is loaded%s", ep.spec.Name, ep.loadErrors()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": ep.spec.Name, "versions": versions, "platform": "loopml",
		"inputs": schemaMeta(first.sig.Inputs), "outputs": schemaMeta(first.sig.Outputs),
	})
}

func (g *Gateway) handleModelReady(w http.ResponseWriter, r *http.Request) {
	ep, err := g.endpoint(r.PathValue("name"))
	if err != nil {
		g.writeOIPError(w, r, err)
		return
	}
	ready := ep.ready()
	if v := r.PathValue("version"); v != "" {
		ready = ep.version(v) != nil
	}
	writeJSON(w, readyStatus(ready), map[string]any{"name": ep.spec.Name, "ready": ready})
}

func (g *Gateway) handleInfer(w http.ResponseWriter, r *http.Request) {
	ep, err := g.endpoint(r.PathValue("name"))
	if err != nil {
		g.writeOIPError(w, r, err)
		return
	}
	noteTarget(w, ep, nil, nil)
	if g.serveTabularInfer(w, r, ep) {
		return
	}
	req, err := decodeInfer(r.Body)
	if err != nil {
		g.writeOIPError(w, r, err)
		return
	}
	l, err := g.pick(w, ep, r)
	if err != nil {
		g.writeOIPError(w, r, err)
		return
	}
	if l.proc != nil {
		g.writeOIPError(w, r, errProcessOnly(l, "Open Inference Protocol inference"))
		return
	}
	scores := predict(l, req.Pairs)
	setVersionHeaders(w, l)
	resp := map[string]any{
		"model_name": ep.spec.Name, "model_version": l.version.Version,
		"outputs": []map[string]any{{"name": "score", "datatype": "FP64", "shape": []int{len(scores)}, "data": scores}},
	}
	if req.ID != "" {
		resp["id"] = req.ID
	}
	writeJSON(w, http.StatusOK, resp)
	g.shadow(ep, shadowJob{requestID: requestID(w), pairs: req.Pairs, scores: scores})
}

func predict(l *loaded, pairs [][2]string) []float64 {
	scores := make([]float64, len(pairs))
	for i, p := range pairs {
		scores[i], _ = l.model.Predict(p[0], p[1])
	}
	return scores
}

// scoringContentType classifies the Content-Type of an /invocations
// request as MLflow's scoring server does: "json" (application/json, only
// charset=utf-8), "csv" (text/csv) or an EINVALID-coded error for 415.
func scoringContentType(ct string) (string, error) {
	if ct == "" {
		return "", fmt.Errorf("the Content-Type header is missing: use application/json or text/csv")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fmt.Errorf("content type %q cannot be parsed: %v", ct, err)
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return "", fmt.Errorf("content type %q: unsupported parameter %s=%s (only charset=utf-8)", ct, k, v)
		}
	}
	switch mt {
	case "application/json":
		return "json", nil
	case "text/csv":
		return "csv", nil
	}
	return "", fmt.Errorf("content type %q is not supported: use application/json or text/csv", mt)
}

func (g *Gateway) handleInvocations(w http.ResponseWriter, r *http.Request) {
	ep, err := g.endpoint(r.PathValue("name"))
	if err != nil {
		g.writeMLflowError(w, r, err)
		return
	}
	noteTarget(w, ep, nil, nil)
	kind, err := scoringContentType(r.Header.Get("Content-Type"))
	if err != nil {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error_code": "BAD_REQUEST", "message": err.Error()})
		return
	}
	l, err := g.pick(w, ep, r)
	if err != nil {
		g.writeMLflowError(w, r, err)
		return
	}
	// With shadow targets, keep the body: a tabular or process-served
	// shadow scores the request itself.
	var body []byte
	if len(ep.shadow) > 0 {
		if body, err = keepBody(r); err != nil {
			g.writeMLflowError(w, r, err)
			return
		}
	}
	if l.tab != nil {
		if g.tabularInvocations(w, r, l, kind) {
			g.shadow(ep, shadowJob{requestID: requestID(w), body: body, kind: kind})
		}
		return
	}
	if l.proc != nil {
		g.processInvocations(w, r, l)
		g.shadow(ep, shadowJob{requestID: requestID(w), body: body, kind: kind}) // mirrored whatever the answer
		return
	}
	frame, params, err := decodeScoring(r.Body, kind, l)
	if err != nil {
		g.writeMLflowError(w, r, err)
		return
	}
	pairs, err := framePairs(l, frame)
	if err == nil && len(l.sig.Params) > 0 { // an empty schema drops every param
		_, err = l.sig.Params.Enforce(params)
	}
	if err != nil {
		g.writeMLflowError(w, r, err)
		return
	}
	scores := predict(l, pairs)
	setVersionHeaders(w, l)
	writePredictions(w, scores)
	g.shadow(ep, shadowJob{requestID: requestID(w), pairs: pairs, scores: scores, body: body, kind: kind})
}

// decodeScoring decodes an /invocations body of kind "json" (the four
// MLflow formats and params) or "csv" (read against l's input schema).
func decodeScoring(body io.Reader, kind string, l *loaded) (*mlmodel.Frame, map[string]any, error) {
	if kind == "csv" {
		f, err := mlmodel.DecodeCSV(body, l.sig.Inputs)
		return f, nil, err
	}
	req, err := mlmodel.DecodeScoringRequest(body)
	if err != nil {
		return nil, nil, err
	}
	return req.Frame, req.Params, nil
}

// keepBody reads the whole request body (bounded by the middleware's
// MaxBytesReader) and puts it back for the handler.
func keepBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return []byte{}, nil
	}
	b, err := readBody(r.Body, "scoring request")
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{}
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// framePairs enforces the signature's inputs on f (missing required column
// → EINVALID naming it, safe widening only, extra columns dropped) and
// returns the (user_id, item_id) pairs.
func framePairs(l *loaded, f *mlmodel.Frame) ([][2]string, error) {
	ef, err := l.sig.Inputs.Enforce(f)
	if err != nil {
		return nil, err
	}
	ui, ii := -1, -1
	for j, c := range ef.Columns {
		switch c {
		case "user_id":
			ui = j
		case "item_id":
			ii = j
		}
	}
	if ui < 0 || ii < 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "input must have the columns 'user_id' and 'item_id'")
	}
	pairs := make([][2]string, len(ef.Rows))
	for i, row := range ef.Rows {
		u, err := cellID(row[ui])
		if err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "input column 'user_id' row %d: %v", i, err)
		}
		it, err := cellID(row[ii])
		if err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "input column 'item_id' row %d: %v", i, err)
		}
		pairs[i] = [2]string{u, it}
	}
	return pairs, nil
}

// cellID turns an enforced cell into an id.
func cellID(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case nil:
		return "", fmt.Errorf("is null")
	}
	return "", fmt.Errorf("%v is not an id", v)
}

// recommendItem is one entry of a recommend response.
type recommendItem struct {
	ItemID any     `json:"item_id"`
	Score  float64 `json:"score"`
}

func (g *Gateway) handleRecommend(w http.ResponseWriter, r *http.Request) {
	ep, err := g.endpoint(r.PathValue("name"))
	if err != nil {
		g.writeMLflowError(w, r, err)
		return
	}
	noteTarget(w, ep, nil, nil)
	req, err := decodeRecommend(r.Body)
	if err != nil {
		g.writeMLflowError(w, r, err)
		return
	}
	l, err := g.pick(w, ep, r)
	if err != nil {
		g.writeMLflowError(w, r, err)
		return
	}
	if l.tab != nil {
		g.writeMLflowError(w, r, loopml.Errorf(loopml.EINVALID, "model %s is a %s model, not a recommender: use /invocations", l.label(), l.tab.Kind()))
		return
	}
	if l.proc != nil {
		g.writeMLflowError(w, r, errProcessOnly(l, "recommend"))
		return
	}
	rec := l.model.Recommend(req.User, req.K, req.ExcludeSeen)
	items := make([]recommendItem, len(rec))
	ids := make([]string, len(rec))
	cold := false
	for i, s := range rec {
		items[i] = recommendItem{ItemID: l.itemValue(s.Item), Score: s.Score}
		ids[i] = s.Item
		cold = cold || s.ColdStart
	}
	setVersionHeaders(w, l)
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "cold_start": cold, "model_version": l.version.Version})
	g.shadow(ep, shadowJob{requestID: requestID(w), user: req.User, k: req.K, exclude: req.ExcludeSeen, items: ids})
}

// statusJSON renders endpoint statuses for GET /endpoints.
func statusJSON(st []EndpointStatus) []map[string]any {
	out := []map[string]any{}
	for _, e := range st {
		var ts []map[string]any
		for _, t := range e.Targets {
			m := map[string]any{"model": t.Model, "weight": t.Weight, "shadow": t.Shadow, "version": t.Version}
			if t.Error != "" {
				m["error"] = t.Error
			}
			ts = append(ts, m)
		}
		out = append(out, map[string]any{"name": e.Name, "ready": e.Ready, "default": e.Default, "targets": ts})
	}
	return out
}

// loadErrors is the last load or resolve error of each target of ep that
// has one, in parentheses (e.g. " (target models:/recs@champion: Registered
// Model with name=recs not found)"), or "" when none has: the reason a
// not-ready endpoint gives its callers.
func (ep *endpoint) loadErrors() string {
	var msgs []string
	for _, t := range ep.targets {
		if e := t.lastErr.Load(); e != nil {
			msgs = append(msgs, "target "+t.spec.Model+": "+*e)
		}
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}
