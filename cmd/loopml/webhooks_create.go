package main

import (
	"fmt"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func newWebhooksCreateCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o                     clientOptions
		events, model, secret string
		inactive              bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME URL",
		Short: "Create a webhook and print its secret (shown only this once)",
		Example: `  loopml webhooks create deploy https://ci.example/hooks/loopml --events alias_set,stage_transition --model churn
  loopml webhooks create audit https://audit.example/in --inactive -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			w := &loopml.Webhook{
				Name: args[0], URL: args[1], Secret: secret, Events: parseEvents(events), Model: model, Active: !inactive,
			}
			if err := svc.webhooks.CreateWebhook(cmd.Context(), w); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, newWebhookView(w))
			}
			if _, err := fmt.Fprintf(out, "Created webhook %s (%s)\n", w.Name, w.ID); err != nil {
				return err
			}
			return printSecret(out, w.Secret)
		},
	}
	f := cmd.Flags()
	f.StringVar(&events, "events", "", "comma-separated event types to deliver, e.g. alias_set,stage_transition (default all)")
	f.StringVar(&model, "model", "", "deliver only events of this registered model (default all models)")
	f.StringVar(&secret, "secret", "", "HMAC secret of the signatures (default a random 256-bit secret)")
	f.BoolVar(&inactive, "inactive", false, "create the webhook paused: no deliveries until it is activated")
	addClientFlags(cmd, &o)
	return cmd
}
