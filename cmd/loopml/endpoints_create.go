package main

import (
	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func newEndpointsCreateCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o       clientOptions
		targets []string
		shadow  []string
		sticky  string
		def     bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME --target MODEL_URI[=WEIGHT]...",
		Short: "Create a serving endpoint",
		Example: `  loopml endpoints create recs --target models:/recs@champion
  loopml endpoints create recs --target models:/recs@champion --target models:/recs@challenger=10 \
      --shadow models:/recs/7 --sticky-header X-User-Id --default`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ts, err := parseTargets("target", targets)
			if err != nil {
				return err
			}
			sh, err := parseTargets("shadow", shadow)
			if err != nil {
				return err
			}
			for i := range sh {
				sh[i].Weight = 0
			}
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			e := &loopml.Endpoint{Name: args[0], Targets: ts, Shadow: sh, StickyHeader: sticky, Default: def}
			if err := svc.endpoints.CreateEndpoint(cmd.Context(), e); err != nil {
				return err
			}
			return printEndpoint(cmd.OutOrStdout(), o.output, e)
		},
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringArrayVar(&targets, "target", nil, "a target MODEL_URI[=WEIGHT] (repeat); targets without a weight share what is left of 100")
	f.StringArrayVar(&shadow, "shadow", nil, "a shadow target MODEL_URI (repeat): gets a copy of the traffic, never answers")
	f.StringVar(&sticky, "sticky-header", "", "request header whose value pins a client to one target (e.g. X-User-Id)")
	f.BoolVar(&def, "default", false, "also answer POST /invocations")
	return cmd
}
