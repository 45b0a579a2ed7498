package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/pipeline"
	"github.com/loopml/loopml/sqlstore"
)

// pipelineSettings are the server-side pipeline knobs of `loopml server`
// (listed in settings, config.go).
var pipelineSettings = []setting{
	{key: "pipeline-concurrency", typ: "int", usage: "pipeline runs this server executes at once (0 runs none: the server only stores runs and triggers for other replicas)",
		get: func(c *Config) string { return strconv.Itoa(c.PipelineConcurrency) },
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return loopml.Errorf(loopml.EINVALID, "pipeline-concurrency %q is not a non-negative integer", v)
			}
			c.PipelineConcurrency = n
			return nil
		}},
	durationSetting("pipeline-lease", "how long a pipeline run claimed by this server lasts without a heartbeat (renewed every third of it); "+
		"when it expires (the server died), any server fails the run with the reason", func(c *Config) *time.Duration { return &c.PipelineLease }),
}

// startPipelineScheduler runs the server-side pipeline scheduler in the
// background (when --pipeline-concurrency > 0): it fires the stored
// triggers and executes queued runs, coordinated with other replicas
// through the store. Stage processes log to this server (trackingURI).
func startPipelineScheduler(ctx context.Context, cfg Config, db *sqlstore.DB, arts *blobstore.Local, trackingURI string, logger *slog.Logger, wg *sync.WaitGroup) {
	if cfg.PipelineConcurrency <= 0 {
		return
	}
	env := map[string]string{trackingURIEnv: trackingURI}
	if bin, err := os.Executable(); err == nil {
		env[binEnv] = bin
		env["PATH"] = filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")
	}
	s := &pipeline.Scheduler{
		Store: db,
		Deps: pipeline.Deps{Experiments: db, Runs: db, Registry: db, Artifacts: arts,
			Cache:    &pipeline.Cache{Store: arts, IndexDir: filepath.Join(cfg.Home, "index")},
			Datasets: db, DatasetArtifacts: arts, TrackingURI: trackingURI,
			Logger: logger},
		Options:     pipeline.Options{Env: env},
		Concurrency: cfg.PipelineConcurrency,
		Lease:       cfg.PipelineLease,
		Logger:      logger,
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		logger.Info("pipeline scheduler started", "concurrency", cfg.PipelineConcurrency)
		_ = s.Run(ctx)
	}()
}
