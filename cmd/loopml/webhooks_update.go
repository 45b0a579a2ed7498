package main

import (
	"fmt"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

func newWebhooksUpdateCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o                                clientOptions
		name, url, events, model, secret string
		active, inactive, rotate         bool
	)
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change a webhook's URL, filters or state, or rotate its secret",
		Example: `  loopml webhooks update 0f3c... --url https://ci.example/v2 --events alias_set
  loopml webhooks update 0f3c... --inactive
  loopml webhooks update 0f3c... --rotate-secret`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u loopml.WebhookUpdate
			changed := cmd.Flags().Changed
			if changed("name") {
				u.Name = &name
			}
			if changed("url") {
				u.URL = &url
			}
			if changed("events") {
				list := parseEvents(events)
				u.Events = &list
			}
			if changed("model") {
				u.Model = &model
			}
			if changed("secret") {
				if secret == "" {
					return loopml.Errorf(loopml.EINVALID, "secret must not be empty; use --rotate-secret for a random one")
				}
				u.Secret = &secret
			}
			if rotate {
				empty := ""
				u.Secret = &empty
			}
			if active || inactive {
				on := active
				u.Active = &on
			}
			if u == (loopml.WebhookUpdate{}) {
				return loopml.Errorf(loopml.EINVALID, "nothing to update: pass --name, --url, --events, --model, --active, --inactive, --secret or --rotate-secret")
			}
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			w, err := svc.webhooks.UpdateWebhook(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, newWebhookView(w))
			}
			if _, err := fmt.Fprintf(out, "Updated webhook %s (%s)\n", w.Name, w.ID); err != nil {
				return err
			}
			if err := printWebhook(out, newWebhookView(w)); err != nil {
				return err
			}
			if w.Secret != "" && rotate {
				return printSecret(out, w.Secret)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&url, "url", "", "new http(s) URL")
	f.StringVar(&events, "events", "", `comma-separated event types; "" delivers all events`)
	f.StringVar(&model, "model", "", `registered model to filter on; "" delivers events of all models`)
	f.StringVar(&secret, "secret", "", "set this secret")
	f.BoolVar(&rotate, "rotate-secret", false, "replace the secret by a random one and print it (once)")
	f.BoolVar(&active, "active", false, "resume deliveries")
	f.BoolVar(&inactive, "inactive", false, "pause deliveries (events in the meantime are not delivered)")
	cmd.MarkFlagsMutuallyExclusive("active", "inactive")
	cmd.MarkFlagsMutuallyExclusive("secret", "rotate-secret")
	addClientFlags(cmd, &o)
	return cmd
}
