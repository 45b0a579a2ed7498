package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newWebhooksListCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List webhooks (secrets are never shown)",
		Example: `  loopml webhooks list --tracking-uri http://localhost:5000`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			list, err := svc.webhooks.ListWebhooks(cmd.Context())
			if err != nil {
				return err
			}
			views := make([]webhookView, len(list))
			for i, w := range list {
				views[i] = newWebhookView(w)
				views[i].Secret = ""
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, views)
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "ID\tNAME\tACTIVE\tEVENTS\tMODEL\tURL")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Name, fmtActive(v.Active), fmtEvents(v.Events), orAll(v.Model), v.URL)
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}

func newWebhooksShowCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "Show a webhook (without its secret)",
		Example: `  loopml webhooks show 0f3c... -o json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			w, err := svc.webhooks.GetWebhook(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			v := newWebhookView(w)
			v.Secret = ""
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			return printWebhook(cmd.OutOrStdout(), v)
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
