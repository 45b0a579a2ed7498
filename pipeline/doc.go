// Package pipeline runs declarative, cached, tracked pipelines: a
// loopml.yaml file declares stages (any command, or a built-in learner
// step), their dependencies (files, directories, dataset versions, other
// stages' outputs), parameters, outputs, metrics, models to register and
// gates; Run executes them in dependency order, in parallel where possible,
// each stage as a nested tracking run, and skips stages whose cache key
// (a BLAKE3 digest of the command, parameters, environment, dependency
// contents and stage definition) has an intact entry, restoring their
// outputs from the content-addressed store instead.
//
// The format is documented in docs/pipelines.md and
// docs/pipeline.schema.json. Parse reports every problem with its file and
// line. Stage commands run through an Executor (LocalExecutor: a process
// group per stage, with timeout, retries and cancellation).
//
// Queue runs submitted pipeline runs in-process under a concurrency policy
// (skip, queue, replace); Trigger submits runs on a cron schedule, when a
// dataset gets a new version or on registry events, keeping its state in the tracking store
// (the loopml.started_by tag of the runs it started). RecoverInterrupted
// closes runs left RUNNING by a runner that died.
//
// Scheduler is the server side: it fires stored triggers and executes
// queued runs of a loopml.PipelineService that several server replicas
// share, with compare-and-set firing, leased claims renewed by heartbeats,
// and expired leases failed with the reason.
//
// It is a composing engine: it imports the root package, cas (outputs and
// dependency digests), datasets (data:// dependencies), training and learn
// (built-in steps), and github.com/robfig/cron/v3 (schedules).
package pipeline
