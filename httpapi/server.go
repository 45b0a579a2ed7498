// Package httpapi serves loopml over HTTP with MLflow's tracking REST API, so
// that existing MLflow clients (Python, Java, R, the MLflow web UI) work
// unchanged, and provides a Go Client over the same API for the loopml CLI
// and end-to-end tests.
//
// The server speaks MLflow's service.proto tracking endpoints under both
// /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/, the model_registry.proto
// endpoints when a Registry is configured (plus loopml's registry event log,
// alias-at and lineage under /api/2.0/loopml/), webhook management under
// /api/2.0/loopml/webhooks/ when Webhooks is configured, the dataset
// registry under /api/2.0/loopml/datasets/ when Datasets is configured, the
// artifact proxy under /api/2.0/mlflow-artifacts/artifacts, GET /health,
// GET /version and, when a Prometheus registry is configured, GET /metrics.
//
// It imports the root package loopml and its one external dependency
// (prometheus/client_golang); it gets the metadata and artifact stores as
// root interfaces from cmd/loopml and never imports a sibling adapter.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/loopml/loopml"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultMaxBodyBytes is the JSON request body limit when
// Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 32 << 20

// URL prefixes of the API. MLflow's web UI calls the /ajax-api mirror.
const (
	apiPrefix           = "/api/2.0/mlflow/"
	ajaxPrefix          = "/ajax-api/2.0/mlflow/"
	artifactProxyPath   = "/api/2.0/mlflow-artifacts/artifacts"
	ajaxArtifactProxy   = "/ajax-api/2.0/mlflow-artifacts/artifacts"
	artifactProxyRoute  = "/api/2.0/mlflow-artifacts/artifacts/{path...}"
	artifactListRoute   = "/api/2.0/mlflow-artifacts/artifacts"
	unmatchedRouteLabel = "unmatched"
)

// Config configures a Server. The zero value serves an API whose every
// endpoint fails with 501 until the services are set; in practice cmd sets
// all three services.
type Config struct {
	Experiments loopml.ExperimentService
	Runs        loopml.RunService
	Artifacts   loopml.ArtifactStore

	// Registry serves the MLflow model registry endpoints and loopml's
	// registry extensions (event log, alias-at, lineage). When nil those
	// routes answer 501 NOT_IMPLEMENTED.
	Registry loopml.ModelRegistry

	// Packages, when set, inspects a new model version's source so that
	// the registry records its signature, size and digest (shown in the
	// lineage API). Sources it cannot read are registered without them.
	Packages loopml.PackageInspector

	// Webhooks serves loopml's webhook management endpoints under
	// /api/2.0/loopml/webhooks/ (only its management methods are used;
	// the delivery queue belongs to the dispatcher). When nil those routes
	// answer 501 NOT_IMPLEMENTED.
	Webhooks loopml.WebhookService

	// Predictions serves the serving gateway's prediction log (read-only)
	// under /api/2.0/loopml/predictions/. When nil those routes answer 501.
	Predictions loopml.PredictionLog

	// Endpoints serves loopml's serving endpoint management (and rollout
	// start/status/abort) under /api/2.0/loopml/endpoints/. When nil those
	// routes answer 501 NOT_IMPLEMENTED.
	Endpoints loopml.EndpointService

	// Datasets serves loopml's dataset registry endpoints under
	// /api/2.0/loopml/datasets/ (metadata only: the files travel through
	// the artifact proxy). When nil those routes answer 501 NOT_IMPLEMENTED.
	Datasets loopml.DatasetService

	// DatasetValidations serves dataset validation results, the rules
	// attached to datasets and quarantine under /api/2.0/loopml/datasets/
	// (validations/, rules/, versions/quarantine). When nil those routes
	// answer 501 NOT_IMPLEMENTED.
	DatasetValidations loopml.DatasetValidationService
	// CheckDatasetRules, when set, vets rules before they are attached
	// (cmd sets it to the validate package's parser); the error's message
	// is returned as INVALID_PARAMETER_VALUE.
	CheckDatasetRules func(name, yaml string) error

	// Pipelines serves server-side pipeline runs and stored triggers under
	// /api/2.0/loopml/pipelines/ (see pipeline.go). When nil those routes
	// answer 501 NOT_IMPLEMENTED. CheckPipelineSource, when set, reads a
	// submitted source and returns its pipeline's name;
	// CheckPipelineTrigger vets a trigger before it is stored (cmd sets
	// both to the pipeline package's checks).
	Pipelines            loopml.PipelineService
	CheckPipelineSource  func(*loopml.PipelineSource) (string, error)
	CheckPipelineTrigger func(*loopml.PipelineTrigger) error

	// Logger receives the access log and internal errors; nil discards.
	Logger *slog.Logger

	// Metrics, when set, gets a request counter and a latency histogram
	// (labelled by route, method and status) and is served on GET /metrics.
	Metrics *prometheus.Registry

	// MaxBodyBytes limits JSON request bodies; 0 means DefaultMaxBodyBytes.
	// Artifact uploads are streamed and not limited.
	MaxBodyBytes int64
}

// Server is the HTTP API. It is safe for concurrent use; create it with
// NewServer and serve Handler.
type Server struct {
	experiments loopml.ExperimentService
	runs        loopml.RunService
	artifacts   loopml.ArtifactStore
	registry    loopml.ModelRegistry
	packages    loopml.PackageInspector
	webhooks    loopml.WebhookService
	predictions loopml.PredictionLog
	endpoints   loopml.EndpointService
	datasets    loopml.DatasetService
	validations loopml.DatasetValidationService
	checkRules  func(name, yaml string) error
	pipelines   pipelineAPI
	logger      *slog.Logger
	maxBody     int64
	metrics     *httpMetrics
	handler     http.Handler
}

// NewServer builds the API from cfg.
func NewServer(cfg Config) *Server {
	s := &Server{
		experiments: cfg.Experiments,
		runs:        cfg.Runs,
		artifacts:   cfg.Artifacts,
		registry:    cfg.Registry,
		packages:    cfg.Packages,
		webhooks:    cfg.Webhooks,
		predictions: cfg.Predictions,
		endpoints:   cfg.Endpoints,
		datasets:    cfg.Datasets,
		validations: cfg.DatasetValidations,
		checkRules:  cfg.CheckDatasetRules,
		pipelines:   newPipelineAPI(cfg),
		logger:      cfg.Logger,
		maxBody:     cfg.MaxBodyBytes,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.experiments == nil {
		s.experiments = unimplemented{}
	}
	if s.runs == nil {
		s.runs = unimplemented{}
	}
	if s.artifacts == nil {
		s.artifacts = unimplemented{}
	}

	mux := http.NewServeMux()
	s.registerExperimentRoutes(mux)
	s.registerRunRoutes(mux)
	s.registerMetricRoutes(mux)
	s.registerArtifactRoutes(mux)
	s.registerRegistryRoutes(mux)
	s.registerWebhookRoutes(mux)
	s.registerPredictionRoutes(mux)
	s.registerEndpointRoutes(mux)
	s.registerDatasetRoutes(mux)
	s.registerDatasetValidationRoutes(mux)
	s.registerPipelineRoutes(mux)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, "OK")
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, loopml.MLflowVersion)
	})
	if cfg.Metrics != nil {
		s.metrics = newHTTPMetrics(cfg.Metrics)
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{}))
	}

	tracking := s.limitBody(mux)
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The artifact proxy is dispatched before the ServeMux, which would
		// otherwise redirect "..", "%2e%2e" and "//" paths instead of letting
		// us reject them with 400.
		if p, ok := artifactProxyRest(r.URL); ok {
			s.serveArtifactProxy(w, r, p)
			return
		}
		tracking.ServeHTTP(w, r)
	})
	s.handler = s.requestID(s.observe(s.recoverPanics(s.workspace(route))))
	return s
}

// Handler returns the whole API including its middleware (request id,
// access log, metrics, panic recovery, body limit).
func (s *Server) Handler() http.Handler { return s.handler }

// handle registers h for method and an MLflow path under both API prefixes.
func handle(mux *http.ServeMux, method, path string, h http.HandlerFunc) {
	mux.HandleFunc(method+" "+apiPrefix+path, h)
	mux.HandleFunc(method+" "+ajaxPrefix+path, h)
}

// handleLoopml registers h for method and a path of loopml's own API under
// both of its prefixes (/api/2.0/loopml/ and /ajax-api/2.0/loopml/).
func handleLoopml(mux *http.ServeMux, method, path string, h http.HandlerFunc) {
	mux.HandleFunc(method+" "+loopmlPrefix+path, h)
	mux.HandleFunc(method+" "+ajaxLoopmlPrefix+path, h)
}

// ifConfigured returns a wrapper for the handlers of one service: when
// the service is missing from the Config (missing true) they answer 501
// NOT_IMPLEMENTED with an MLflow error body instead of a 404 page.
func (s *Server) ifConfigured(missing bool) func(http.HandlerFunc) http.HandlerFunc {
	return func(f http.HandlerFunc) http.HandlerFunc {
		if missing {
			return func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, errUnimplemented()) }
		}
		return f
	}
}

// decodable is a request message read from a JSON body.
type decodable interface {
	field(d *decoder, key []byte) error
}

// decode reads r's JSON body into v.
func (s *Server) decode(r *http.Request, v decodable) error {
	bp := getBuf()
	defer putBuf(bp)
	if err := readBody(r.Body, s.maxBody, bp); err != nil {
		return err
	}
	d := decoder{data: *bp}
	if err := d.document(v.field); err != nil {
		return asDomainError(err)
	}
	return nil
}

// respond writes a 200 JSON response built by fill.
func respond(w http.ResponseWriter, fill func(e *encoder)) {
	respondSized(w, 0, fill)
}

// respondSized is respond for large responses whose size can be estimated:
// the buffer is grown to sizeHint bytes up front, so that encoding a
// 100,000-point metric history does not copy the buffer over and over.
func respondSized(w http.ResponseWriter, sizeHint int, fill func(e *encoder)) {
	bp := getBuf()
	e := encoder{b: (*bp)[:0]}
	if sizeHint > cap(e.b) {
		e.b = make([]byte, 0, sizeHint)
	}
	e.beginObject()
	if fill != nil {
		fill(&e)
	}
	e.endObject()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(e.b)
	*bp = e.b
	putBuf(bp)
}

var emptyJSON = []byte("{}")

// respondEmpty writes the empty response {}.
func respondEmpty(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(emptyJSON)
}

func writeText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(s))
}

// routeLabel is the route of a request for logs and metrics: the ServeMux
// pattern without its method.
func routeLabel(r *http.Request) string {
	p := r.Pattern
	if p == "" {
		return unmatchedRouteLabel
	}
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// unimplemented stands in for services missing from the Config.
type unimplemented struct{}

func errUnimplemented() error {
	return loopml.Errorf(loopml.ENOTIMPLEMENTED, "this server has no store configured for the operation")
}

func (unimplemented) CreateExperiment(context.Context, *loopml.Experiment) error {
	return errUnimplemented()
}
func (unimplemented) GetExperiment(context.Context, string) (*loopml.Experiment, error) {
	return nil, errUnimplemented()
}
func (unimplemented) GetExperimentByName(context.Context, string) (*loopml.Experiment, error) {
	return nil, errUnimplemented()
}
func (unimplemented) SearchExperiments(context.Context, loopml.ExperimentSearch) ([]*loopml.Experiment, string, error) {
	return nil, "", errUnimplemented()
}
func (unimplemented) RenameExperiment(context.Context, string, string) error {
	return errUnimplemented()
}
func (unimplemented) DeleteExperiment(context.Context, string) error  { return errUnimplemented() }
func (unimplemented) RestoreExperiment(context.Context, string) error { return errUnimplemented() }
func (unimplemented) SetExperimentTag(context.Context, string, loopml.Tag) error {
	return errUnimplemented()
}
func (unimplemented) CreateRun(context.Context, *loopml.Run) error { return errUnimplemented() }
func (unimplemented) GetRun(context.Context, string) (*loopml.Run, error) {
	return nil, errUnimplemented()
}
func (unimplemented) UpdateRun(context.Context, string, loopml.RunUpdate) (*loopml.Run, error) {
	return nil, errUnimplemented()
}
func (unimplemented) DeleteRun(context.Context, string) error  { return errUnimplemented() }
func (unimplemented) RestoreRun(context.Context, string) error { return errUnimplemented() }
func (unimplemented) SearchRuns(context.Context, loopml.RunSearch) ([]*loopml.Run, string, error) {
	return nil, "", errUnimplemented()
}
func (unimplemented) LogBatch(context.Context, string, loopml.Batch) error {
	return errUnimplemented()
}
func (unimplemented) DeleteTag(context.Context, string, string) error { return errUnimplemented() }
func (unimplemented) LogInputs(context.Context, string, []loopml.DatasetInput) error {
	return errUnimplemented()
}
func (unimplemented) GetMetricHistory(context.Context, loopml.MetricHistoryQuery) ([]loopml.Metric, string, error) {
	return nil, "", errUnimplemented()
}
func (unimplemented) GetMetricHistoryBulkInterval(context.Context, loopml.MetricBulkIntervalQuery) ([]loopml.RunMetric, error) {
	return nil, errUnimplemented()
}
func (unimplemented) Put(context.Context, string, io.Reader) (int64, error) {
	return 0, errUnimplemented()
}
func (unimplemented) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, errUnimplemented()
}
func (unimplemented) Stat(context.Context, string) (loopml.ArtifactInfo, error) {
	return loopml.ArtifactInfo{}, errUnimplemented()
}
func (unimplemented) List(context.Context, string) ([]loopml.ArtifactInfo, error) {
	return nil, errUnimplemented()
}
func (unimplemented) Delete(context.Context, string) error { return errUnimplemented() }
