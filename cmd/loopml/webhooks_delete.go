package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newWebhooksDeleteCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a webhook and its delivery log",
		Example: `  loopml webhooks delete 0f3c...`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			if err := svc.webhooks.DeleteWebhook(cmd.Context(), args[0]); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, map[string]string{"id": args[0]})
			}
			_, err = fmt.Fprintf(out, "Deleted webhook %s\n", args[0])
			return err
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
