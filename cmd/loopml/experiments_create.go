package main

import (
	"fmt"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func newExperimentsCreateCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o        clientOptions
		location string
	)
	cmd := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create an experiment",
		Example: `  loopml experiments create churn-model`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, true)
			if err != nil {
				return err
			}
			defer svc.close()
			e := &loopml.Experiment{Name: args[0], ArtifactLocation: location}
			if err := svc.experiments.CreateExperiment(cmd.Context(), e); err != nil {
				return err
			}
			// Read it back: over HTTP, create returns only the id.
			got, err := svc.experiments.GetExperiment(cmd.Context(), e.ID)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), newExperimentView(got))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Created experiment %q with id %s\n", got.Name, got.ID)
			return err
		},
	}
	addClientFlags(cmd, &o)
	cmd.Flags().StringVar(&location, "artifact-location", "", "artifact location of the experiment (default mlflow-artifacts:/<id>)")
	return cmd
}
