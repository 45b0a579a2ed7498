package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/bench"
	"github.com/spf13/cobra"
)

func newBenchTrackingCommand() *cobra.Command {
	var (
		cfg          bench.Config
		artifactSize string
		output       string
	)
	cmd := &cobra.Command{
		Use:   "tracking",
		Short: "Load-test an MLflow-compatible tracking server (loopml or MLflow)",
		Long: `Load-test an MLflow-compatible tracking server over plain HTTP.

It works against any server that speaks the MLflow REST API, so the same
numbers can be taken from loopml and from MLflow's own server. Only
loopback targets (localhost, 127.0.0.0/8, ::1) are accepted: the benchmark
writes millions of rows and gigabytes of artifacts and must not be aimed at
a shared server by mistake.

Scenarios (all by default, in this order):
  logbatch   --concurrency clients, each with its own run, log-batch with
             1000 metrics per request (m0..m9, increasing steps) -> points/s.
             --preload N first logs N points as fast as possible, to show
             throughput holds as the database grows. With --server-pid,
             disk bytes written per stored point (/proc/PID/io).
  logmetric  single log-metric requests at --concurrency -> req/s, p50/p90/p99.
  search     an experiment of --search-runs runs (created once, then reused
             by name), runs/search with a metric filter and a metric
             order_by, max_results 100 -> p50/p90/p99.
  history    one metric of --history-points points, fetched whole with
             get-history following next_page_token -> p50 of a full fetch.
  artifacts  upload then download an --artifact-size file through the
             artifact proxy, generated and streamed (no temp file) -> MB/s.
             With --server-pid, the server's peak RSS (VmHWM).

Each measured phase lasts --duration (or --requests requests); set-up
phases are bounded by --setup-timeout.`,
		Example: `  loopml bench tracking --url http://127.0.0.1:5000
  loopml bench tracking --scenario logbatch --preload 10000000 --server-pid $(pgrep -n loopml)
  loopml bench tracking --scenario search,history --duration 5s -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return loopml.Errorf(loopml.EINVALID, "output %q must be text or json", output)
			}
			n, err := parseBytes(artifactSize)
			if err != nil {
				return loopml.Errorf(loopml.EINVALID, "artifact-size: %v", err)
			}
			cfg.ArtifactSize = n
			cfg.Progress = cmd.ErrOrStderr()
			out := cmd.OutOrStdout()
			_, err = bench.Run(cmd.Context(), cfg, func(r bench.Result) {
				if output == "json" {
					b, _ := json.Marshal(r)
					fmt.Fprintf(out, "%s\n", b)
				} else {
					fmt.Fprintln(out, r.String())
				}
			})
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "url", "http://127.0.0.1:5000", "base URL of the tracking server (loopback only)")
	f.StringSliceVar(&cfg.Scenarios, "scenario", nil, "scenarios to run, comma-separated: "+strings.Join(bench.Scenarios, ",")+" (default all)")
	f.DurationVar(&cfg.Duration, "duration", bench.DefaultDuration, "length of each scenario's measured phase")
	f.Int64Var(&cfg.MaxRequests, "requests", 0, "also stop each measured phase after this many requests (0: no limit)")
	f.DurationVar(&cfg.SetupTimeout, "setup-timeout", bench.DefaultSetupTimeout, "bound on each scenario's set-up (preload, creating runs, transfers)")
	f.IntVar(&cfg.Concurrency, "concurrency", bench.DefaultConcurrency, "concurrent clients for logbatch, logmetric and set-up")
	f.Int64Var(&cfg.Preload, "preload", 0, "logbatch: metric points to log before measuring (e.g. 10000000)")
	f.IntVar(&cfg.SearchRuns, "search-runs", bench.DefaultSearchRuns, "search: runs in the searched experiment")
	f.IntVar(&cfg.HistoryPoints, "history-points", bench.DefaultHistoryPoints, "history: points in the fetched metric")
	f.StringVar(&artifactSize, "artifact-size", "1GiB", "artifacts: size of the uploaded file (e.g. 64MiB, 1GiB)")
	f.IntVar(&cfg.ServerPID, "server-pid", 0, "pid of the server on this machine, to report disk bytes per point and peak RSS")
	f.StringVarP(&output, "output", "o", "text", "output: text (one line per scenario) or json (one object per line)")
	return cmd
}
