package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

// newWebhooksCommand groups the webhook management commands.
func newWebhooksCommand(getenv func(string) (string, bool)) *cobra.Command {
	webhooks := &cobra.Command{
		Use:   "webhooks",
		Short: "Manage webhooks: HTTP endpoints notified of registry events, and their delivery log",
		Long: `Webhooks POST registry events (alias_set, stage_transition, version_created,
...) as signed JSON to an HTTP endpoint. Each delivery carries an
X-Loopml-Signature header: an HMAC-SHA256 of the timestamp and body keyed
with the webhook's secret, which receivers check before trusting the event.
The secret is shown once, when the webhook is created or its secret rotated.`,
	}
	webhooks.AddCommand(
		newWebhooksCreateCommand(getenv), newWebhooksListCommand(getenv), newWebhooksShowCommand(getenv),
		newWebhooksUpdateCommand(getenv), newWebhooksDeleteCommand(getenv),
		newWebhooksDeliveriesCommand(getenv), newWebhooksAttemptsCommand(getenv),
	)
	return webhooks
}

// webhookView is the JSON form of a webhook. Secret is present only right
// after a create or a secret change.
type webhookView struct {
	ID                   string   `json:"id"`
	Name                 string   `json:"name"`
	URL                  string   `json:"url"`
	Secret               string   `json:"secret,omitempty"`
	Events               []string `json:"events"`
	Model                string   `json:"model,omitempty"`
	Active               bool     `json:"active"`
	CreatedBy            string   `json:"created_by,omitempty"`
	CreationTimestamp    int64    `json:"creation_timestamp"`
	LastUpdatedTimestamp int64    `json:"last_updated_timestamp"`
}

func newWebhookView(w *loopml.Webhook) webhookView {
	events := append([]string{}, w.Events...)
	return webhookView{
		ID: w.ID, Name: w.Name, URL: w.URL, Secret: w.Secret, Events: events, Model: w.Model, Active: w.Active,
		CreatedBy: w.CreatedBy, CreationTimestamp: w.CreationTimestamp, LastUpdatedTimestamp: w.LastUpdatedTimestamp,
	}
}

// parseEvents reads a comma-separated list of event types; "" is none (all
// events). The store validates the names.
func parseEvents(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// fmtEvents formats an event filter, "all" when empty.
func fmtEvents(events []string) string {
	if len(events) == 0 {
		return "all"
	}
	return strings.Join(events, ",")
}

// fmtActive formats the active flag.
func fmtActive(a bool) string {
	if a {
		return "yes"
	}
	return "no"
}

// printWebhook prints a webhook as key/value lines.
func printWebhook(w io.Writer, v webhookView) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "ID:\t%s\n", v.ID)
	fmt.Fprintf(tw, "Name:\t%s\n", v.Name)
	fmt.Fprintf(tw, "URL:\t%s\n", v.URL)
	fmt.Fprintf(tw, "Active:\t%s\n", fmtActive(v.Active))
	fmt.Fprintf(tw, "Events:\t%s\n", fmtEvents(v.Events))
	fmt.Fprintf(tw, "Model:\t%s\n", orAll(v.Model))
	fmt.Fprintf(tw, "Created by:\t%s\n", orDash(v.CreatedBy))
	fmt.Fprintf(tw, "Created:\t%s\n", fmtTime(v.CreationTimestamp))
	fmt.Fprintf(tw, "Updated:\t%s\n", fmtTime(v.LastUpdatedTimestamp))
	return tw.Flush()
}

// orAll returns s, or "all" when it is empty (an unset filter).
func orAll(s string) string {
	if s == "" {
		return "all"
	}
	return s
}

// printSecret shows a secret with the warning that it is not shown again.
func printSecret(w io.Writer, secret string) error {
	_, err := fmt.Fprintf(w, "Secret: %s\nStore this secret now: it is not shown again. Receivers verify each delivery's\nX-Loopml-Signature with it; rotate it with `loopml webhooks update ID --rotate-secret`.\n", secret)
	return err
}
