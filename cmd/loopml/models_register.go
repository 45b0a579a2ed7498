package main

import (
	"fmt"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/spf13/cobra"
)

func newModelsRegisterCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o           clientOptions
		runID       string
		description string
	)
	cmd := &cobra.Command{
		Use:   "register NAME SOURCE",
		Short: "Register a new version of a model (creating the model if missing)",
		Long: `Register SOURCE as the next version of model NAME. SOURCE is the artifact
URI of the model package: runs:/<run_id>/<path> (resolved to the run's
artifacts, and the run recorded), mlflow-artifacts:/<path>, or a models:/
URI to copy a version.`,
		Example: `  loopml models register churn runs:/0a1b2c3d4e5f60718293a4b5c6d7e8f9/model
  loopml models register churn mlflow-artifacts:/1/0a1b.../artifacts/model --run-id 0a1b... --description "weekly retrain"`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			ctx := cmd.Context()
			name := args[0]
			source, srcRun, err := httpapi.ResolveRunsSource(ctx, svc.runs, args[1])
			if err != nil {
				return err
			}
			if runID == "" {
				runID = srcRun
			}
			if _, err := svc.registry.GetRegisteredModel(ctx, name); loopml.ErrorCode(err) == loopml.ENOTFOUND {
				err = svc.registry.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: name})
				if err != nil && loopml.ErrorCode(err) != loopml.ECONFLICT { // ECONFLICT: created concurrently
					return err
				}
			} else if err != nil {
				return err
			}
			v := &loopml.ModelVersion{Name: name, Source: source, RunID: runID, Description: description}
			if err := svc.registry.CreateModelVersion(ctx, v); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, newVersionView(v))
			}
			_, err = fmt.Fprintf(out, "Registered model %s version %s (source %s)\n", v.Name, v.Version, v.Source)
			return err
		},
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVar(&runID, "run-id", "", "id of the run that produced the model (taken from a runs:/ SOURCE when unset)")
	f.StringVar(&description, "description", "", "description of the new version")
	return cmd
}
