package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

// deliveryView is the JSON form of a webhook delivery.
type deliveryView struct {
	ID                   int64  `json:"id"`
	WebhookID            string `json:"webhook_id"`
	EventID              int64  `json:"event_id"`
	EventType            string `json:"event_type"`
	Status               string `json:"status"`
	Attempts             int    `json:"attempts"`
	ResponseCode         int    `json:"response_code,omitempty"`
	Error                string `json:"error,omitempty"`
	NextAttemptAt        int64  `json:"next_attempt_at,omitempty"`
	CreationTimestamp    int64  `json:"creation_timestamp"`
	LastUpdatedTimestamp int64  `json:"last_updated_timestamp"`
}

func newDeliveryView(d *loopml.WebhookDelivery) deliveryView {
	v := deliveryView{
		ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
		Attempts: d.Attempt, ResponseCode: d.ResponseCode, Error: d.Error,
		CreationTimestamp: d.CreationTimestamp, LastUpdatedTimestamp: d.LastUpdatedTimestamp,
	}
	if d.Status == loopml.DeliveryPending {
		v.NextAttemptAt = d.NextAttemptAt // meaningless once it is settled
	}
	return v
}

// fmtCode formats an HTTP status, "-" when there was no response.
func fmtCode(c int) string {
	if c == 0 {
		return "-"
	}
	return strconv.Itoa(c)
}

// maxErrorWidth truncates errors in tables (-o json shows them whole).
const maxErrorWidth = 60

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

func newWebhooksDeliveriesCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o      clientOptions
		status string
		max    int
		before int64
	)
	cmd := &cobra.Command{
		Use:   "deliveries ID",
		Short: "Show the delivery log of a webhook, newest first",
		Example: `  loopml webhooks deliveries 0f3c... --status failed
  loopml webhooks deliveries 0f3c... --max 20 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if max < 1 || max > 1000 {
				return loopml.Errorf(loopml.EINVALID, "max must be between 1 and 1000, not %d", max)
			}
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			list, err := svc.webhooks.ListWebhookDeliveries(cmd.Context(), loopml.WebhookDeliveryQuery{
				WebhookID: args[0], Status: status, BeforeID: before, MaxResults: max,
			})
			if err != nil {
				return err
			}
			views := make([]deliveryView, len(list))
			for i, d := range list {
				views[i] = newDeliveryView(d)
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, views)
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "ID\tEVENT\tTYPE\tSTATUS\tATTEMPTS\tCODE\tNEXT ATTEMPT\tCREATED\tERROR")
			for _, v := range views {
				fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", v.ID, v.EventID, v.EventType, v.Status, v.Attempts,
					fmtCode(v.ResponseCode), fmtTime(v.NextAttemptAt), fmtTime(v.CreationTimestamp), orDash(truncate(v.Error, maxErrorWidth)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(views) == max {
				_, err = fmt.Fprintf(out, "(more may exist: --before %d)\n", views[len(views)-1].ID)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "only deliveries with this status: pending, succeeded or failed")
	f.IntVar(&max, "max", 50, "at most this many deliveries (1-1000)")
	f.Int64Var(&before, "before", 0, "only deliveries with an id below this one (the next page)")
	addClientFlags(cmd, &o)
	return cmd
}

// attemptView is the JSON form of a delivery attempt.
type attemptView struct {
	DeliveryID   int64  `json:"delivery_id"`
	Attempt      int    `json:"attempt"`
	Time         int64  `json:"time"`
	DurationMs   int64  `json:"duration_ms"`
	ResponseCode int    `json:"response_code,omitempty"`
	Error        string `json:"error,omitempty"`
	Owner        string `json:"owner,omitempty"`
}

func newWebhooksAttemptsCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "attempts DELIVERY_ID",
		Short:   "Show the attempts of one delivery: time, duration, response code and error",
		Example: `  loopml webhooks attempts 42`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return loopml.Errorf(loopml.EINVALID, "delivery id %q must be a positive integer (see `loopml webhooks deliveries`)", args[0])
			}
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			list, err := svc.webhooks.WebhookAttempts(cmd.Context(), id)
			if err != nil {
				return err
			}
			views := make([]attemptView, len(list))
			for i, a := range list {
				views[i] = attemptView{a.DeliveryID, a.Attempt, a.Time, a.DurationMs, a.ResponseCode, a.Error, a.Owner}
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, views)
			}
			if len(views) == 0 {
				_, err = fmt.Fprintf(out, "Delivery %d has not been attempted yet\n", id)
				return err
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "ATTEMPT\tTIME\tDURATION\tCODE\tOWNER\tERROR")
			for _, v := range views {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", v.Attempt, fmtTime(v.Time), time.Duration(v.DurationMs)*time.Millisecond,
					fmtCode(v.ResponseCode), orDash(v.Owner), orDash(v.Error))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
