package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/serving"
	"github.com/spf13/cobra"
)

// endpointsEnv names the endpoints file of `loopml serve` (and of `loopml
// server`, whose "endpoints" setting reads the same variable).
const endpointsEnv = "LOOPML_ENDPOINTS"

// serveOptions are the flags of `loopml serve`.
type serveOptions struct {
	file        string
	addr        string
	trackingURI string
	home        string
	poll        time.Duration
	maxBody     string
	logLevel    string
	logFormat   string
	shutdown    time.Duration
	readTO      time.Duration
	writeTO     time.Duration
	// prediction log
	logSample   float64
	logMaxBytes string
	logQueue    int
	logStore    string
	pprofAddr   string
}

func newServeCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve -f endpoints.yaml",
		Short: "Serve registered models over HTTP (Open Inference Protocol v2, MLflow scoring, recommend)",
		Long: `Serve the endpoints declared in a YAML file:

  endpoints:
    - name: recs
      targets:
        - {model: "models:/recs@champion", weight: 90}
        - {model: "models:/recs@challenger", weight: 10}
      shadow: ["models:/recs/3"]      # gets a copy of the traffic, never answers
      sticky_header: X-User-Id        # same header value -> same target
      default: true                   # also answers POST /invocations

Models come from the local home (--home) or from a tracking server
(--tracking-uri). loopml-flavored packages (loopml train) run in process;
other packages (python_function, or a loopml_process command) run in a
child process. A target that follows an alias, a stage or "latest" is
re-resolved every --poll-interval; a new version is loaded and warmed with
its input example before it is swapped in.

Routes: GET /v2, /v2/health/live, /v2/health/ready, /v2/models/{name}[/versions/{v}][/ready],
POST /v2/models/{name}[/versions/{v}]/infer (OIP v2), POST /endpoints/{name}/invocations
and /invocations (MLflow scoring: JSON or text/csv), POST /endpoints/{name}/recommend
({"user_id", "k", "exclude_seen"}), POST /endpoints/{name}/feedback ({"request_id",
"label"|"reward"}), GET /endpoints (status), GET /ping, GET /healthz and GET /readyz (probes),
GET /metrics (Prometheus).

Every request is logged (asynchronously; --prediction-log-*) into the home's
store or --prediction-log-store; a full queue drops predictions, never requests.

The same endpoints can be served by "loopml server --endpoints FILE", on the
tracking server's port.

The endpoints stored in the home or on the tracking server ("loopml endpoints
create") are served too, and followed within a second (weights, targets,
rollouts): a serving-only replica. -f is then optional; a stored endpoint
named like one of the file is an error at start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), o, getenv, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "endpoints YAML file, served besides the stored endpoints [env "+endpointsEnv+"]")
	f.StringVar(&o.addr, "addr", "127.0.0.1:5001", "address to listen on (host:port; port 0 picks a free port)")
	f.StringVar(&o.trackingURI, "tracking-uri", "", "http(s) URL of a loopml tracking server to read the registry and packages from; when unset, the local home is opened [env "+trackingURIEnv+"]")
	f.StringVar(&o.home, "home", "", "loopml home directory, used when no tracking URI is set (default "+DefaultHome+") [env "+homeEnv+"]")
	f.DurationVar(&o.poll, "poll-interval", serving.DefaultPollInterval, "how often alias, stage and latest targets are re-resolved (0 disables)")
	f.StringVar(&o.maxBody, "max-body", formatBytes(serving.DefaultMaxBodyBytes), "largest request body (e.g. 16MiB)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.DurationVar(&o.shutdown, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may take to finish")
	f.DurationVar(&o.readTO, "read-timeout", serving.DefaultReadTimeout, "time for a request's body to arrive once its headers are read; a slower client gets 408 (negative: none)")
	f.DurationVar(&o.writeTO, "write-timeout", serving.DefaultWriteTimeout, "time to answer a request, from its headers; keep it above --read-timeout (negative: none)")
	def := DefaultConfig()
	f.Float64Var(&o.logSample, "prediction-log-sample", def.PredictionLogSample, "fraction of requests logged to the prediction log, 0 to 1 (0 turns logging off)")
	f.StringVar(&o.logMaxBytes, "prediction-log-max-bytes", formatBytes(def.PredictionLogMaxBytes), "bytes of each request's inputs and of its outputs kept in the prediction log")
	f.IntVar(&o.logQueue, "prediction-log-queue", def.PredictionLogQueue, "predictions waiting to be written; when full, new ones are dropped (counted)")
	f.StringVar(&o.pprofAddr, "pprof-addr", "", "also serve Go's profiling endpoints (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off when empty; keep it on loopback)")
	f.StringVar(&o.logStore, "prediction-log-store", "", "metadata store DSN to log predictions into (e.g. the tracking server's postgres://...); default: the local home's store, none with --tracking-uri")
	return cmd
}

// runServe loads the endpoints and serves them until ctx is cancelled.
func runServe(ctx context.Context, o serveOptions, getenv func(string) (string, bool), stdout, stderr io.Writer) error {
	if o.file == "" {
		o.file, _ = getenv(endpointsEnv)
	}
	maxBody, err := parseBytes(o.maxBody)
	if err != nil || maxBody <= 0 {
		return loopml.Errorf(loopml.EINVALID, "max-body %q must be a positive size (e.g. 16MiB)", o.maxBody)
	}
	if o.poll < 0 || o.shutdown <= 0 {
		return loopml.Errorf(loopml.EINVALID, "poll-interval must not be negative and shutdown-timeout must be positive")
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return loopml.Errorf(loopml.EINVALID, "log-format %q must be text or json", o.logFormat)
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return loopml.Errorf(loopml.EINVALID, "addr %q must be host:port (e.g. 127.0.0.1:5001): %v", o.addr, err)
	}
	var specs []serving.EndpointSpec
	if o.file != "" {
		if specs, err = serving.ReadEndpointsFile(o.file); err != nil {
			return err
		}
	}
	logMax, err := parseBytes(o.logMaxBytes)
	if err != nil {
		return loopml.Errorf(loopml.EINVALID, "prediction-log-max-bytes: %v", err)
	}
	if err := (Config{PredictionLogSample: o.logSample, PredictionLogMaxBytes: logMax, PredictionLogQueue: o.logQueue}).validatePredictionLog(); err != nil {
		return err
	}
	logger := newLogger(Config{LogLevel: o.logLevel, LogFormat: o.logFormat}, stderr)
	svc, err := openServices(ctx, clientOptions{trackingURI: o.trackingURI, home: o.home, output: "table"}, getenv, false)
	if err != nil {
		return err
	}
	defer svc.close()
	poll := o.poll
	if poll == 0 {
		poll = -1 // the flag's 0 disables; the Gateway's 0 is the default
	}
	predLog, closeLog, err := servePredictionLog(ctx, o.logStore, svc.registry, logger)
	if err != nil {
		return err
	}
	defer closeLog()
	reg, _ := newMetrics()
	gw := &serving.Gateway{Registry: svc.registry, Artifacts: svc.artifacts, Logger: logger.With("component", "serving"), PollInterval: poll, MaxBodyBytes: maxBody,
		ReadTimeout: timeoutFlag(o.readTO), WriteTimeout: timeoutFlag(o.writeTO),
		PredictionLog: predictionLogConfig(predLog, o.logSample, logMax, o.logQueue), Metrics: reg}
	defer gw.Close()
	if err := gw.Load(ctx, specs); err != nil {
		return fmt.Errorf("load endpoints from %s: %w", o.file, err)
	}
	// Also serve the stored endpoints (loopml endpoints create), following
	// every change within a second: a serving-only replica.
	storeSync, err := syncStoredEndpoints(ctx, gw, o.file, svc.endpoints, logger)
	if err != nil {
		return err
	}
	if len(gw.Status()) == 0 {
		return loopml.Errorf(loopml.EINVALID, "file: nothing to serve: an endpoints YAML file is required (-f FILE or %s) when the store has no endpoints (loopml endpoints create)", endpointsEnv)
	}
	syncCtx, stopSync := context.WithCancel(ctx)
	syncDone := make(chan struct{})
	go func() { defer close(syncDone); storeSync.Run(syncCtx) }()
	defer func() { stopSync(); <-syncDone }() // before the store closes
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return loopml.Errorf(loopml.EINVALID, "addr %s: %v", o.addr, err)
	}
	hs := &http.Server{
		Handler:           withMetrics(gw.Handler(), reg),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if o.pprofAddr != "" {
		// net/http/pprof registers on http.DefaultServeMux, served only here.
		pl, err := net.Listen("tcp", o.pprofAddr)
		if err != nil {
			ln.Close()
			return loopml.Errorf(loopml.EINVALID, "pprof-addr %s: %v", o.pprofAddr, err)
		}
		ps := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ps.Serve(pl) }()
		defer ps.Close()
		logger.Info("profiling endpoints listening", "addr", pl.Addr().String(), "path", "/debug/pprof/")
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	for _, st := range gw.Status() {
		var ts []string
		for _, t := range st.Targets {
			role := fmt.Sprintf("weight %d", t.Weight)
			if t.Shadow {
				role = "shadow"
			}
			ts = append(ts, fmt.Sprintf("%s -> version %s (%s)", t.Model, t.Version, role))
		}
		fmt.Fprintf(stdout, "endpoint %s: %s\n", st.Name, strings.Join(ts, ", "))
	}
	fmt.Fprintf(stdout, "loopml serve %s listening on http://%s\n", loopml.Version, ln.Addr())
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdown)
	defer cancel()
	if err := hs.Shutdown(shCtx); err != nil {
		_ = hs.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// startServing loads the endpoints file of `loopml server --endpoints`
// into a gateway reading the server's own registry and artifact store. A
// malformed file is an error; targets that fail to load are logged and
// retried by the gateway's poll (the endpoint answers 503 meanwhile), so
// the tracking server starts even before a model is registered.
// configure functions set further Gateway fields (prediction log,
// metrics) before the endpoints load.
func startServing(ctx context.Context, file string, maxBody int64, reg loopml.ModelRegistry, arts serving.ArtifactReader, logger *slog.Logger, configure ...func(*serving.Gateway)) (*serving.Gateway, error) {
	var specs []serving.EndpointSpec
	if file != "" { // "": the stored endpoints only (syncStoredEndpoints)
		var err error
		if specs, err = serving.ReadEndpointsFile(file); err != nil {
			return nil, err
		}
	}
	gw := &serving.Gateway{Registry: reg, Artifacts: arts, Logger: logger.With("component", "serving"), MaxBodyBytes: maxBody}
	for _, f := range configure {
		f(gw)
	}
	if err := gw.Load(ctx, specs); err != nil {
		logger.Warn("some serving targets did not load; they are retried in the background", "endpoints", file, "err", err)
	}
	return gw, nil
}

// withServing routes the serving gateway's paths (/v2, /endpoints,
// /invocations, /ping) to gw and everything else to api, so that one port
// serves tracking and models.
func withServing(api, gw http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "/v2" || strings.HasPrefix(p, "/v2/") || p == "/endpoints" || strings.HasPrefix(p, "/endpoints/") ||
			p == "/invocations" || p == "/ping" || p == "/healthz" || p == "/readyz" {
			gw.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// timeoutFlag maps a timeout flag to a Gateway field: the flag's 0 and
// negative values both mean none (the field's 0 is the default).
func timeoutFlag(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
