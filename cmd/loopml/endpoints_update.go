package main

import (
	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func newEndpointsUpdateCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o        clientOptions
		targets  []string
		shadow   []string
		noShadow bool
		sticky   string
		def      bool
		reason   string
	)
	cmd := &cobra.Command{
		Use:   "update NAME [--target MODEL_URI[=WEIGHT]]... [--shadow MODEL_URI]... [--sticky-header H] [--default=BOOL]",
		Short: "Change an endpoint's targets, weights, shadow targets, sticky header or default flag",
		Long: `Change an endpoint. Given --target flags replace all targets (and so set
the weights); --shadow flags replace the shadow targets (--no-shadow removes
them). Flags not given leave their field unchanged. The change is a
compare-and-set on the endpoint's generation, retried on a concurrent change,
and is recorded in the registry history with --reason.`,
		Example: `  loopml endpoints update recs --target models:/recs@champion=80 --target models:/recs@challenger=20 --reason "more challenger traffic"
  loopml endpoints update recs --no-shadow`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			var ts, sh []loopml.EndpointTarget
			var err error
			if fl.Changed("target") {
				if ts, err = parseTargets("target", targets); err != nil {
					return err
				}
			}
			if fl.Changed("shadow") {
				if sh, err = parseTargets("shadow", shadow); err != nil {
					return err
				}
				for i := range sh {
					sh[i].Weight = 0
				}
			}
			if !fl.Changed("target") && !fl.Changed("shadow") && !noShadow && !fl.Changed("sticky-header") && !fl.Changed("default") {
				return loopml.Errorf(loopml.EINVALID, "nothing to change: give --target, --shadow, --no-shadow, --sticky-header or --default")
			}
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			e, err := loopml.ModifyEndpoint(cmd.Context(), svc.endpoints, args[0], func(e *loopml.Endpoint) (loopml.EndpointChange, error) {
				if ts != nil {
					if e.Rollout.Active() {
						return loopml.EndpointChange{}, loopml.Errorf(loopml.EINVALID, "endpoint %q has a rollout in progress: abort it (loopml endpoints rollout %s --abort) before changing its targets", e.Name, e.Name)
					}
					e.Targets = ts
				}
				if sh != nil || noShadow {
					e.Shadow = sh
				}
				if fl.Changed("sticky-header") {
					e.StickyHeader = sticky
				}
				if fl.Changed("default") {
					e.Default = def
				}
				return loopml.EndpointChange{Event: loopml.EventEndpointUpdated, Reason: reason}, nil
			})
			if err != nil {
				return err
			}
			return printEndpoint(cmd.OutOrStdout(), o.output, e)
		},
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringArrayVar(&targets, "target", nil, "a target MODEL_URI[=WEIGHT] (repeat; replaces all targets)")
	f.StringArrayVar(&shadow, "shadow", nil, "a shadow target MODEL_URI (repeat; replaces all shadow targets)")
	f.BoolVar(&noShadow, "no-shadow", false, "remove every shadow target")
	f.StringVar(&sticky, "sticky-header", "", "request header that pins a client to one target (\"\" routes at random)")
	f.BoolVar(&def, "default", false, "also answer POST /invocations")
	f.StringVar(&reason, "reason", "", "why, for the registry history")
	return cmd
}
