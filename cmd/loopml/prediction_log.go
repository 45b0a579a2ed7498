package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/serving"
	"github.com/loopml/loopml/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// predictionLogSettings are the prediction log's knobs of `loopml server`
// (listed in settings, config.go).
var predictionLogSettings = []setting{
	{key: "prediction-log-sample", typ: "float", usage: "fraction of serving requests logged to the prediction log, 0 to 1 (0 turns logging off)",
		get: func(c *Config) string { return strconv.FormatFloat(c.PredictionLogSample, 'g', -1, 64) },
		set: func(c *Config, v string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return loopml.Errorf(loopml.EINVALID, "prediction-log-sample %q is not a number between 0 and 1", v)
			}
			c.PredictionLogSample = f
			return nil
		}},
	{key: "prediction-log-max-bytes", typ: "bytes", usage: "bytes of each request's inputs and of its outputs kept in the prediction log (longer ones are cut and flagged truncated)",
		get: func(c *Config) string { return formatBytes(c.PredictionLogMaxBytes) },
		set: func(c *Config, v string) error {
			n, err := parseBytes(v)
			if err != nil {
				return loopml.Errorf(loopml.EINVALID, "prediction-log-max-bytes: %v", err)
			}
			c.PredictionLogMaxBytes = n
			return nil
		}},
	{key: "prediction-log-queue", typ: "int", usage: "predictions waiting to be written; when full, new ones are dropped (counted) and serving never waits",
		get: func(c *Config) string { return strconv.Itoa(c.PredictionLogQueue) },
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return loopml.Errorf(loopml.EINVALID, "prediction-log-queue %q is not an integer", v)
			}
			c.PredictionLogQueue = n
			return nil
		}},
	{key: "prediction-log-retention", typ: "duration", usage: "delete logged predictions older than this (e.g. 30d, 12h; 0 keeps them)",
		get: func(c *Config) string { return formatRetention(c.PredictionLogRetention) },
		set: func(c *Config, v string) error {
			d, err := parseRetention(v)
			if err != nil {
				return err
			}
			c.PredictionLogRetention = d
			return nil
		}},
}

// validatePredictionLog checks the prediction log settings.
func (c Config) validatePredictionLog() error {
	switch {
	case c.PredictionLogSample < 0 || c.PredictionLogSample > 1 || c.PredictionLogSample != c.PredictionLogSample:
		return loopml.Errorf(loopml.EINVALID, "prediction-log-sample must be between 0 and 1, got %v", c.PredictionLogSample)
	case c.PredictionLogMaxBytes <= 0 || c.PredictionLogMaxBytes > 64<<20:
		return loopml.Errorf(loopml.EINVALID, "prediction-log-max-bytes must be between 1 and 64MiB, got %d", c.PredictionLogMaxBytes)
	case c.PredictionLogQueue <= 0:
		return loopml.Errorf(loopml.EINVALID, "prediction-log-queue must be positive, got %d", c.PredictionLogQueue)
	case c.PredictionLogRetention < 0:
		return loopml.Errorf(loopml.EINVALID, "prediction-log-retention must not be negative")
	}
	return nil
}

// parseRetention parses a duration that may also be a number of days
// ("30d").
func parseRetention(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err == nil && n >= 0 && n < 1e5 {
			return time.Duration(n * float64(24*time.Hour)), nil
		}
	} else if d, err := time.ParseDuration(v); err == nil {
		return d, nil
	}
	return 0, loopml.Errorf(loopml.EINVALID, "prediction-log-retention %q is not a duration (e.g. 30d, 12h, 0)", v)
}

// formatRetention renders whole days as "Nd".
func formatRetention(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// predictionLogConfig is the gateway's prediction log configuration for
// store; logging is off (zero config) when store is nil or sample is 0.
func predictionLogConfig(store loopml.PredictionLog, sample float64, maxBytes int64, queue int) serving.PredictionLogConfig {
	if store == nil || sample <= 0 {
		return serving.PredictionLogConfig{}
	}
	return serving.PredictionLogConfig{Store: store, SampleRate: sample, MaxBytes: int(maxBytes), Queue: queue}
}

// retentionInterval is how often the retention loop deletes old
// predictions.
const retentionInterval = time.Hour

// runPredictionRetention deletes the predictions (of every endpoint of the
// default workspace) older than retention, now and then every
// retentionInterval, until ctx ends. Deleting is idempotent, so every
// replica may run it.
func runPredictionRetention(ctx context.Context, store loopml.PredictionLog, retention time.Duration, logger *slog.Logger) {
	if store == nil || retention <= 0 {
		return
	}
	t := time.NewTicker(retentionInterval)
	defer t.Stop()
	for {
		before := time.Now().Add(-retention).UnixMilli()
		n, err := store.DeletePredictions(ctx, "", before)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error("prediction log retention failed", "err", err)
		case n > 0:
			logger.Info("prediction log retention", "deleted", n, "before", time.UnixMilli(before).UTC())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// servePredictionLog picks the prediction log of `loopml serve`: the store
// at dsn when set, else the local home's store (registry is then a
// PredictionLog), else none (serving from a tracking URI). close closes
// what it opened.
func servePredictionLog(ctx context.Context, dsn string, registry loopml.ModelRegistry, logger *slog.Logger) (loopml.PredictionLog, func(), error) {
	if dsn == "" {
		if pl, ok := registry.(loopml.PredictionLog); ok {
			return pl, func() {}, nil
		}
		return nil, func() {}, nil
	}
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Logger: logger})
	if err != nil {
		return nil, nil, fmt.Errorf("open prediction log store: %w", err)
	}
	return db, func() { db.Close() }, nil
}

// withMetrics serves GET /metrics from reg and everything else from h.
func withMetrics(h http.Handler, reg *prometheus.Registry) http.Handler {
	m := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && r.Method == http.MethodGet {
			m.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
