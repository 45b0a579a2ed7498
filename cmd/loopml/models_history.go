package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

// eventView is the JSON form of a registry event.
type eventView struct {
	ID          int64  `json:"id"`
	Time        int64  `json:"time"`
	Principal   string `json:"principal,omitempty"`
	Type        string `json:"type"`
	Model       string `json:"model"`
	Version     string `json:"version,omitempty"`
	Alias       string `json:"alias,omitempty"`
	FromVersion string `json:"from_version,omitempty"`
	ToVersion   string `json:"to_version,omitempty"`
	FromStage   string `json:"from_stage,omitempty"`
	ToStage     string `json:"to_stage,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// Endpoint and Detail are set for endpoint and rollout events.
	Endpoint string          `json:"endpoint,omitempty"`
	Detail   json.RawMessage `json:"detail,omitempty"`
}

// allEvents reads every event of model (and alias, when set) page by page.
func allEvents(ctx context.Context, reg loopml.ModelRegistry, model, alias string) ([]loopml.RegistryEvent, error) {
	const page = 1000
	var out []loopml.RegistryEvent
	var after int64
	for {
		evs, err := reg.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: model, Alias: alias, AfterID: after, MaxResults: page})
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
		if len(evs) < page {
			return out, nil
		}
		after = evs[len(evs)-1].ID
	}
}

// fmtChange formats an event's before → after state.
func fmtChange(e eventView) string {
	switch {
	case e.FromStage != "" || e.ToStage != "":
		return orDash(e.FromStage) + " -> " + orDash(e.ToStage)
	case e.FromVersion != "" || e.ToVersion != "":
		return orDash(e.FromVersion) + " -> " + orDash(e.ToVersion)
	}
	return "-"
}

func newModelsHistoryCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o     clientOptions
		alias string
		at    string
	)
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "Show the registry event log of a model, or which version an alias held at a time",
		Example: `  loopml models history churn
  loopml models history churn --alias champion
  loopml models history churn --alias champion --at 2026-01-02T15:04:05Z`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			var t int64
			if at != "" {
				if alias == "" {
					return loopml.Errorf(loopml.EINVALID, "--at needs --alias: which alias to look up")
				}
				var err error
				if t, err = parseTime(at); err != nil {
					return err
				}
			}
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if at != "" {
				version, err := svc.aliasAt(ctx, name, alias, t)
				if err != nil {
					return err
				}
				if o.output == "json" {
					return writeJSON(out, struct {
						Name    string `json:"name"`
						Alias   string `json:"alias"`
						Time    int64  `json:"time"`
						Version string `json:"version,omitempty"`
					}{name, alias, t, version})
				}
				if version == "" {
					_, err = fmt.Fprintf(out, "At %s alias %s of model %s pointed at no version\n", fmtTime(t), alias, name)
				} else {
					_, err = fmt.Fprintf(out, "At %s alias %s of model %s pointed at version %s\n", fmtTime(t), alias, name, version)
				}
				return err
			}
			evs, err := allEvents(ctx, svc.registry, name, alias)
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				if _, err := svc.registry.GetRegisteredModel(ctx, name); err != nil {
					return err
				}
			}
			views := make([]eventView, len(evs))
			for i, e := range evs {
				views[i] = eventView{
					ID: e.ID, Time: e.Time, Principal: e.Principal, Type: e.Type, Model: e.Model, Version: e.Version,
					Alias: e.Alias, FromVersion: e.FromVersion, ToVersion: e.ToVersion, FromStage: e.FromStage,
					ToStage: e.ToStage, Reason: e.Reason, Endpoint: e.Endpoint,
				}
				if json.Valid([]byte(e.Detail)) {
					views[i].Detail = json.RawMessage(e.Detail)
				}
			}
			if o.output == "json" {
				return writeJSON(out, views)
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "ID\tTIME\tEVENT\tVERSION\tALIAS\tCHANGE\tBY\tREASON")
			for _, e := range views {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, fmtTime(e.Time), e.Type, orDash(e.Version),
					orDash(e.Alias), fmtChange(e), orDash(e.Principal), orDash(endpointReason(e)))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVar(&alias, "alias", "", "only events of this alias (e.g. champion)")
	f.StringVar(&at, "at", "", "with --alias: print which version the alias held at this time (RFC 3339 or epoch ms)")
	return cmd
}

// endpointReason is the REASON column of an event: for endpoint and
// rollout events, the endpoint and the targets (or the reason) too.
func endpointReason(e eventView) string {
	if e.Endpoint == "" {
		return e.Reason
	}
	s := "endpoint " + e.Endpoint
	var d struct {
		Targets []loopml.EndpointTarget `json:"targets"`
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	} else if json.Unmarshal(e.Detail, &d) == nil && len(d.Targets) > 0 {
		s += ": " + fmtTargets(d.Targets)
	}
	return s
}
