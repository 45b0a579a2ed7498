// Command loopml is the loopml MLOps platform in one binary: the
// MLflow-compatible tracking server (`loopml server`), a command-line
// client for experiments and runs, and a load generator (`loopml bench
// tracking`).
//
// This is the only package that imports several adapters (sqlstore,
// blobstore, httpapi, bench) and wires them; configuration is parsed here
// and nowhere else (config.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", userMessage(err))
		os.Exit(exitCode(err))
	}
}

// Run runs the loopml command line with args (without the program name),
// reading LOOPML_* settings from the process environment. Cancelling ctx
// stops a running server gracefully.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, args, os.LookupEnv, stdout, stderr)
}

// run is Run with the environment injected (tests pass a map).
func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) error {
	root := newRootCommand(getenv)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// userMessage is what the user sees for err: only the message of a
// *loopml.Error (its code and cause are for logs), otherwise err's text.
func userMessage(err error) string {
	var e *loopml.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

func newRootCommand(getenv func(string) (string, bool)) *cobra.Command {
	root := &cobra.Command{
		Use:   "loopml",
		Short: "loopml: an MLOps platform with an MLflow-compatible tracking server",
		Long: `loopml is an MLOps platform in one binary. "loopml server" runs an
MLflow-compatible tracking server and model registry (point
MLFLOW_TRACKING_URI at it); the other commands inspect experiments, runs and
registered models, locally or over HTTP.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true

	experiments := &cobra.Command{Use: "experiments", Short: "List, create and show experiments"}
	experiments.AddCommand(newExperimentsListCommand(getenv), newExperimentsCreateCommand(getenv), newExperimentsShowCommand(getenv))
	runs := &cobra.Command{Use: "runs", Short: "List, show and compare runs"}
	runs.AddCommand(newRunsListCommand(getenv), newRunsShowCommand(getenv), newRunsCompareCommand(getenv))
	bench := &cobra.Command{Use: "bench", Short: "Load generators"}
	bench.AddCommand(newBenchTrackingCommand(), newBenchServingCommand(), newBenchBaselineCommand())

	root.AddCommand(newServerCommand(getenv), newVersionCommand(), experiments, runs, newModelsCommand(getenv), bench)
	root.AddCommand(newTrainCommand(getenv))
	root.AddCommand(newEvalCommand(getenv))
	root.AddCommand(newExampleCommand())
	root.AddCommand(newWebhooksCommand(getenv))
	root.AddCommand(newEndpointsCommand(getenv))
	root.AddCommand(newServeCommand(getenv))
	root.AddCommand(newPredictCommand(getenv))
	root.AddCommand(newDataCommand(getenv))
	root.AddCommand(newRunCommand(getenv), newCacheCommand(getenv))
	root.AddCommand(newPipelinesCommand(getenv))
	return root
}
