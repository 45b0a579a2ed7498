package main

import (
	"fmt"
	"runtime"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the loopml version and the MLflow API version it speaks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "loopml %s (MLflow REST API %s, %s)\n", loopml.Version, loopml.MLflowVersion, runtime.Version())
			return err
		},
	}
}
