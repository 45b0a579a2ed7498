// Package bench is a load generator for MLflow-compatible tracking servers.
//
// It speaks the MLflow REST API over plain HTTP and imports nothing from the
// server side, so the same scenarios can be pointed at loopml or at MLflow's
// own server to compare them. Every scenario is bounded in time
// (Config.Duration) and, optionally, in requests (Config.MaxRequests), and
// the generator refuses to target anything but a loopback address (see
// CheckLoopback).
//
// The package imports only the standard library and the root loopml package
// (for MLflow's batch limits); `loopml bench tracking` in cmd/loopml is the
// command-line front end.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// Scenario names, in the order Run executes them.
const (
	ScenarioLogBatch  = "logbatch"
	ScenarioLogMetric = "logmetric"
	ScenarioSearch    = "search"
	ScenarioHistory   = "history"
	ScenarioArtifacts = "artifacts"
)

// Scenarios lists every scenario in execution order.
var Scenarios = []string{ScenarioLogBatch, ScenarioLogMetric, ScenarioSearch, ScenarioHistory, ScenarioArtifacts}

// Defaults used for zero Config fields.
const (
	DefaultDuration      = 10 * time.Second
	DefaultConcurrency   = 8
	DefaultSearchRuns    = 10000
	DefaultHistoryPoints = 100000
	DefaultArtifactSize  = 1 << 30
	DefaultSetupTimeout  = 10 * time.Minute
	// MetricsPerBatch is the number of metric points in each log-batch
	// request of the logbatch scenario (MLflow's maximum).
	MetricsPerBatch = loopml.MaxBatchMetrics
	// MetricKeys is the number of distinct metric keys (m0..m9) logbatch
	// writes; each request carries MetricsPerBatch/MetricKeys steps.
	MetricKeys = 10
)

// Config configures Run. The zero value, with URL set, runs every scenario
// with the defaults above.
type Config struct {
	// URL is the tracking server's base URL, e.g. http://127.0.0.1:5000.
	// It must name a loopback host (see CheckLoopback).
	URL string
	// Scenarios to run (names from Scenarios); empty means all.
	Scenarios []string
	// Duration bounds the measured phase of each scenario
	// (DefaultDuration when 0).
	Duration time.Duration
	// MaxRequests, when positive, also ends the measured phase of the
	// logbatch, logmetric, search and history scenarios after that many
	// requests (full fetches for history).
	MaxRequests int64
	// SetupTimeout bounds the unmeasured set-up of each scenario (preload,
	// creating runs, uploading); DefaultSetupTimeout when 0.
	SetupTimeout time.Duration
	// Concurrency is the number of concurrent clients for logbatch,
	// logmetric and the set-up phases (DefaultConcurrency when 0).
	Concurrency int
	// Preload is the number of metric points logbatch logs, as fast as
	// possible, before it measures.
	Preload int64
	// SearchRuns is the number of runs in the search scenario's
	// experiment (DefaultSearchRuns when 0).
	SearchRuns int
	// HistoryPoints is the length of the history scenario's metric
	// (DefaultHistoryPoints when 0).
	HistoryPoints int
	// ArtifactSize is the size in bytes of the artifact uploaded and
	// downloaded by the artifacts scenario (DefaultArtifactSize when 0).
	ArtifactSize int64
	// ServerPID, when positive, is the server's process id on this
	// machine: logbatch then reports disk bytes written per point
	// (/proc/PID/io) and artifacts the server's peak RSS
	// (/proc/PID/status).
	ServerPID int
	// HTTPClient overrides the tuned client NewHTTPClient builds.
	HTTPClient *http.Client
	// Progress receives progress lines during long set-up phases; nil
	// discards them.
	Progress io.Writer
}

func (c Config) withDefaults() Config {
	if c.Duration <= 0 {
		c.Duration = DefaultDuration
	}
	if c.SetupTimeout <= 0 {
		c.SetupTimeout = DefaultSetupTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.SearchRuns <= 0 {
		c.SearchRuns = DefaultSearchRuns
	}
	if c.HistoryPoints <= 0 {
		c.HistoryPoints = DefaultHistoryPoints
	}
	if c.ArtifactSize <= 0 {
		c.ArtifactSize = DefaultArtifactSize
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = Scenarios
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.HTTPClient == nil {
		c.HTTPClient = NewHTTPClient(c.Concurrency)
	}
	c.URL = strings.TrimRight(c.URL, "/")
	return c
}

// Validate checks the configuration; messages name the offending field.
func (c Config) Validate() error {
	if err := CheckLoopback(c.URL); err != nil {
		return err
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return loopml.Errorf(loopml.EINVALID, "unknown scenario %q (want one of %s)", s, strings.Join(Scenarios, ", "))
		}
	}
	switch {
	case c.Duration < 0:
		return loopml.Errorf(loopml.EINVALID, "duration must not be negative, got %s", c.Duration)
	case c.Concurrency < 0:
		return loopml.Errorf(loopml.EINVALID, "concurrency must not be negative, got %d", c.Concurrency)
	case c.Preload < 0:
		return loopml.Errorf(loopml.EINVALID, "preload must not be negative, got %d", c.Preload)
	case c.MaxRequests < 0:
		return loopml.Errorf(loopml.EINVALID, "requests must not be negative, got %d", c.MaxRequests)
	case c.ArtifactSize < 0:
		return loopml.Errorf(loopml.EINVALID, "artifact-size must not be negative, got %d", c.ArtifactSize)
	case c.SearchRuns < 0:
		return loopml.Errorf(loopml.EINVALID, "search-runs must not be negative, got %d", c.SearchRuns)
	case c.HistoryPoints < 0:
		return loopml.Errorf(loopml.EINVALID, "history-points must not be negative, got %d", c.HistoryPoints)
	}
	return nil
}

// Result is the outcome of one scenario. Fields that do not apply to a
// scenario are zero and omitted from JSON.
type Result struct {
	Scenario    string  `json:"scenario"`
	Seconds     float64 `json:"seconds"`               // measured wall time
	Requests    int64   `json:"requests"`              // successful measured requests (full fetches for history)
	Errors      int64   `json:"errors"`                // failed measured requests
	FirstError  string  `json:"first_error,omitempty"` // message of the first failure
	RequestsSec float64 `json:"requests_per_sec,omitempty"`

	Points    int64   `json:"points,omitempty"`         // metric points stored (logbatch, history)
	PointsSec float64 `json:"points_per_sec,omitempty"` // logbatch
	Preloaded int64   `json:"preloaded,omitempty"`      // logbatch: points logged before measuring

	Latency *Latency `json:"latency,omitempty"` // per request (per full fetch for history)

	DiskBytesPerPoint float64 `json:"disk_bytes_per_point,omitempty"` // logbatch with ServerPID

	Bytes        int64   `json:"bytes,omitempty"` // artifacts: size moved each way
	UploadMBs    float64 `json:"upload_mb_per_sec,omitempty"`
	DownloadMBs  float64 `json:"download_mb_per_sec,omitempty"`
	PeakRSSBytes int64   `json:"server_peak_rss_bytes,omitempty"` // artifacts with ServerPID (VmHWM)
	RSSBytes     int64   `json:"server_rss_bytes,omitempty"`      // artifacts with ServerPID (VmRSS after)

	Note string `json:"note,omitempty"`
}

// String formats the result as one line for humans.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s", r.Scenario)
	switch r.Scenario {
	case ScenarioLogBatch:
		fmt.Fprintf(&b, " %.0f points/s (%d points in %d requests, %.1fs)", r.PointsSec, r.Points, r.Requests, r.Seconds)
		if r.Preloaded > 0 {
			fmt.Fprintf(&b, " after preloading %d points", r.Preloaded)
		}
		if r.DiskBytesPerPoint > 0 {
			fmt.Fprintf(&b, ", %.1f disk bytes/point", r.DiskBytesPerPoint)
		}
	case ScenarioArtifacts:
		fmt.Fprintf(&b, " upload %.1f MB/s, download %.1f MB/s (%s each way)", r.UploadMBs, r.DownloadMBs, formatBytes(r.Bytes))
		if r.PeakRSSBytes > 0 {
			fmt.Fprintf(&b, ", server peak RSS %s (now %s)", formatBytes(r.PeakRSSBytes), formatBytes(r.RSSBytes))
		}
	case ScenarioHistory:
		fmt.Fprintf(&b, " full fetch of %d points: %s (%d fetches in %.1fs)", r.Points, r.Latency, r.Requests, r.Seconds)
	default:
		fmt.Fprintf(&b, " %.0f req/s, %s (%d requests in %.1fs)", r.RequestsSec, r.Latency, r.Requests, r.Seconds)
	}
	if r.Errors > 0 {
		fmt.Fprintf(&b, "; %d errors, first: %s", r.Errors, r.FirstError)
	}
	if r.Note != "" {
		fmt.Fprintf(&b, "; %s", r.Note)
	}
	return b.String()
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// NewHTTPClient returns a client tuned for load generation: keep-alives on,
// enough idle connections per host for concurrency clients, no transparent
// compression, and no proxy (the target is always local).
func NewHTTPClient(concurrency int) *http.Client {
	if concurrency < 1 {
		concurrency = 1
	}
	t := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      64 << 10,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: t}
}

// Run executes the configured scenarios in order and calls emit (when not
// nil) with each result as soon as it is known. It stops at the first
// scenario that cannot complete (set-up failure, cancelled ctx) and returns
// the results so far with that error. Failed requests during a measured
// phase do not stop the run; they are counted in Result.Errors.
func Run(ctx context.Context, cfg Config, emit func(Result)) ([]Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &client{base: cfg.URL, hc: cfg.HTTPClient}
	if err := c.ping(ctx); err != nil {
		return nil, err
	}
	var results []Result
	for _, name := range Scenarios {
		if !slices.Contains(cfg.Scenarios, name) {
			continue
		}
		var (
			r   Result
			err error
		)
		switch name {
		case ScenarioLogBatch:
			r, err = runLogBatch(ctx, cfg, c)
		case ScenarioLogMetric:
			r, err = runLogMetric(ctx, cfg, c)
		case ScenarioSearch:
			r, err = runSearch(ctx, cfg, c)
		case ScenarioHistory:
			r, err = runHistory(ctx, cfg, c)
		case ScenarioArtifacts:
			r, err = runArtifacts(ctx, cfg, c)
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return results, fmt.Errorf("scenario %s: interrupted: %w", name, err)
			}
			return results, fmt.Errorf("scenario %s: %w", name, err)
		}
		r.Scenario = name
		results = append(results, r)
		if emit != nil {
			emit(r)
		}
	}
	return results, nil
}
