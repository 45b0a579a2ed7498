package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/mlmodel"
	"github.com/loopml/loopml/pipeline"
	"github.com/loopml/loopml/rollout"
	"github.com/loopml/loopml/serving"
	"github.com/loopml/loopml/sqlstore"
	"github.com/loopml/loopml/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
)

func newServerCommand(getenv func(string) (string, bool)) *cobra.Command {
	scratch := DefaultConfig()
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the MLflow-compatible tracking server",
		Long:  serverHelp(),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			return runServer(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	addConfigFlags(cmd.Flags(), &scratch)
	return cmd
}

// serverHelp is the long help of `loopml server`, listing every knob.
func serverHelp() string {
	var b strings.Builder
	b.WriteString(`Run the MLflow-compatible tracking server.

With no flags, everything lives under the home directory ($LOOPML_HOME,
default ./loopml-home): the SQLite metadata store loopml.db and the
artifact directory artifacts/. Point MLflow clients at the printed address:

  export MLFLOW_TRACKING_URI=http://127.0.0.1:5000

Every setting is a flag, an environment variable and a key of the optional
YAML config file (--config or LOOPML_CONFIG); a flag beats the environment,
which beats the file, which beats the default:

`)
	def := DefaultConfig()
	fmt.Fprintf(&b, "  %-22s %-28s %s\n", "flag / YAML key", "environment", "default")
	for _, s := range settings {
		v := s.get(&def)
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(&b, "  %-22s %-28s %s\n", "--"+s.key, s.env(), v)
	}
	b.WriteString(`
Prometheus metrics are served on /metrics. SIGINT or SIGTERM stops the
server gracefully: it stops accepting connections, lets in-flight requests
finish (up to --shutdown-timeout) and closes the database cleanly.`)
	return b.String()
}

// newLogger returns the server's logger, writing to w.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel) // validated
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newMetrics returns a registry with the Go and process collectors and the
// store-timing histogram, and the observer that feeds the histogram.
func newMetrics() (*prometheus.Registry, func(op string, d time.Duration, err error)) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "loopml_store_operation_duration_seconds",
		Help:    "Duration of metadata store operations by operation and outcome (ok or the loopml error code).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14), // 100µs .. ~15s
	}, []string{"op", "outcome"})
	reg.MustRegister(hist)
	observe := func(op string, d time.Duration, err error) {
		outcome := "ok"
		if err != nil {
			outcome = loopml.ErrorCode(err)
		}
		hist.WithLabelValues(op, outcome).Observe(d.Seconds())
	}
	return reg, observe
}

// runServer opens the stores, serves the API on cfg.Addr until ctx is
// cancelled, then shuts down gracefully: the listener closes, in-flight
// requests get cfg.ShutdownTimeout to finish, and the stores are closed.
func runServer(ctx context.Context, cfg Config, stdout, stderr io.Writer) (err error) {
	logger := newLogger(cfg, stderr)
	reg, observe := newMetrics()

	dsn, err := cfg.StoreDSN()
	if err != nil {
		return err
	}
	artDir, err := cfg.ArtifactsDir()
	if err != nil {
		return err
	}
	if cfg.Store == "" || cfg.Artifacts == "" {
		if err := os.MkdirAll(cfg.Home, 0o755); err != nil {
			return loopml.Errorf(loopml.EINVALID, "home: %v", err)
		}
	}

	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Logger: logger, Observe: observe, SQLiteSynchronous: cfg.SQLiteSynchronous})
	if err != nil {
		return fmt.Errorf("open metadata store: %w", err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			logger.Error("closing metadata store", "err", cerr)
			err = errors.Join(err, fmt.Errorf("close metadata store: %w", cerr))
		}
	}()
	arts, err := blobstore.NewLocal(artDir)
	if err != nil {
		return fmt.Errorf("open artifact store: %w", err)
	}
	defer arts.Close()

	api := httpapi.NewServer(httpapi.Config{
		Experiments:  db,
		Runs:         db,
		Registry:     db,
		Webhooks:     db,
		Endpoints:    db,
		Predictions:  db,
		Datasets:     db,
		Packages:     &mlmodel.Inspector{Artifacts: arts},
		Artifacts:    arts,
		Logger:       logger,
		Metrics:      reg,
		MaxBodyBytes: cfg.MaxBodyBytes,

		// Dataset validation: results, attached rules (vetted by the
		// validate package's parser) and quarantine.
		DatasetValidations: db,
		CheckDatasetRules:  checkDatasetRules,

		// Server-side pipeline runs and triggers (pipelines_server.go).
		Pipelines:            db,
		CheckPipelineSource:  pipeline.CheckSource,
		CheckPipelineTrigger: pipeline.CheckTrigger,
	})
	handler := api.Handler()
	traffic := &serving.TrafficStats{}
	// The gateway serves the stored endpoints (followed every second) and
	// those of --endpoints, on this port.
	gw, err := startServing(ctx, "", cfg.MaxBodyBytes, db, arts, logger, func(g *serving.Gateway) {
		g.PredictionLog = predictionLogConfig(db, cfg.PredictionLogSample, cfg.PredictionLogMaxBytes, cfg.PredictionLogQueue)
		g.Metrics = reg
		g.Traffic = traffic
	})
	if err != nil {
		return err
	}
	defer gw.Close()
	storeSync, err := syncStoredEndpoints(ctx, gw, cfg.Endpoints, db, logger)
	if err != nil {
		return err
	}
	handler = withServing(handler, gw.Handler())
	latestEvent, err := db.LatestRegistryEventID(ctx)
	if err != nil {
		return err
	}
	endpointsBg := endpointBackground{
		sync: storeSync, gw: gw, events: db, after: latestEvent, logger: logger.With("component", "serving"),
		ctl: &rollout.Controller{Endpoints: db, Registry: db, Stats: fallbackStats{log: db, local: traffic, logger: logger},
			Health: gw, Logger: logger.With("component", "rollout")},
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return loopml.Errorf(loopml.EINVALID, "addr %s: %v", cfg.Addr, err)
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	// Background components run on every replica: the store coordinates
	// them (a shared cursor and leases), so several servers on one
	// PostgreSQL deliver each webhook event once. They stop after the HTTP
	// server and before the stores close.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	background.Add(1)
	go func() {
		defer background.Done()
		runPredictionRetention(bgCtx, db, cfg.PredictionLogRetention, logger.With("component", "prediction-log"))
	}()
	background.Add(1)
	go func() {
		defer background.Done()
		d := &webhook.Dispatcher{Store: db, Events: db, Logger: logger.With("component", "webhook")}
		if err := d.Run(bgCtx); err != nil {
			logger.Error("webhook dispatcher stopped", "err", err)
		}
	}()
	endpointsBg.start(bgCtx, &background)
	startPipelineScheduler(bgCtx, cfg, db, arts, "http://"+ln.Addr().String(), logger.With("component", "pipelines"), &background)
	defer func() {
		stopBackground()
		background.Wait()
	}()

	url := "http://" + ln.Addr().String()
	logger.Info("loopml server started", "version", loopml.Version, "addr", ln.Addr().String(), "store", redactURL(dsn), "artifacts", artDir)
	fmt.Fprintf(stdout, "loopml %s listening on %s\n", loopml.Version, url)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: waiting for in-flight requests", "timeout", cfg.ShutdownTimeout)
	shCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(shCtx); err != nil {
		logger.Warn("shutdown timed out; closing remaining connections", "err", err)
		_ = hs.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("loopml server stopped")
	return nil
}
