package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/spf13/cobra"
)

// newEndpointsCommand groups the serving endpoint commands.
func newEndpointsCommand(getenv func(string) (string, bool)) *cobra.Command {
	endpoints := &cobra.Command{
		Use:   "endpoints",
		Short: "Manage stored serving endpoints and their canary rollouts",
		Long: `Endpoints route inference traffic to registered models. An endpoint has
weighted targets (model URIs such as models:/recs@champion or models:/recs/7),
optional shadow targets that get a copy of the traffic, and a sticky header.
"loopml server" serves the stored endpoints on its own port and follows every
change within a second; "loopml serve --tracking-uri URL" serves them from a
serving-only replica.

"loopml endpoints rollout" shifts traffic to a candidate step by step,
comparing it with the current targets, and rolls back or promotes it
automatically. Every change is recorded in the registry history of the
models concerned ("loopml models history NAME").`,
	}
	endpoints.AddCommand(
		newEndpointsCreateCommand(getenv), newEndpointsUpdateCommand(getenv), newEndpointsListCommand(getenv),
		newEndpointsShowCommand(getenv), newEndpointsDeleteCommand(getenv), newEndpointsRolloutCommand(getenv),
	)
	return endpoints
}

// endpointAdmin is what the endpoint commands use: the endpoint store and
// the rollout start/abort operations, over HTTP or on the local store.
type endpointAdmin interface {
	loopml.EndpointService
	StartEndpointRollout(ctx context.Context, name string, r loopml.Rollout) (*loopml.Endpoint, error)
	AbortEndpointRollout(ctx context.Context, name, reason string) (*loopml.Endpoint, error)
	RolloutStatus(ctx context.Context, name string) (*loopml.Endpoint, []loopml.TargetStats, error)
}

var _ endpointAdmin = (*httpapi.Client)(nil)

// localEndpoints runs the rollout operations on a local store; log, when
// set, gives the rollout status its step stats.
type localEndpoints struct {
	loopml.EndpointService
	log loopml.PredictionLog
}

func (l localEndpoints) RolloutStatus(ctx context.Context, name string) (*loopml.Endpoint, []loopml.TargetStats, error) {
	e, err := l.GetEndpoint(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if e.Rollout == nil {
		return nil, nil, loopml.Errorf(loopml.ENOTFOUND, "endpoint %q has no rollout", name)
	}
	var st []loopml.TargetStats
	if l.log != nil && e.Rollout.Active() && e.Rollout.Step >= 0 {
		st, _ = l.log.TargetStats(ctx, name, e.Rollout.StepStartedAt, 0) // best effort
	}
	return e, st, nil
}

func (l localEndpoints) StartEndpointRollout(ctx context.Context, name string, r loopml.Rollout) (*loopml.Endpoint, error) {
	return loopml.StartEndpointRollout(ctx, l.EndpointService, name, r, time.Now().UnixMilli())
}

func (l localEndpoints) AbortEndpointRollout(ctx context.Context, name, reason string) (*loopml.Endpoint, error) {
	return loopml.AbortEndpointRollout(ctx, l.EndpointService, name, reason, time.Now().UnixMilli())
}

// parseTargets reads --target/--shadow values "MODEL_URI[=WEIGHT]".
// Targets without a weight share what the weighted ones leave of 100
// (all of it when none has a weight).
func parseTargets(flag string, vals []string) ([]loopml.EndpointTarget, error) {
	var out []loopml.EndpointTarget
	sum, unweighted := 0, 0
	for i, v := range vals {
		model, w, hasW := strings.Cut(v, "=")
		t := loopml.EndpointTarget{Model: strings.TrimSpace(model), Weight: -1}
		if _, err := loopml.ParseModelURI(t.Model); err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "--%s %q: %s", flag, v, loopml.ErrorMessage(err))
		}
		if hasW {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n < 0 {
				return nil, loopml.Errorf(loopml.EINVALID, "--%s %q: weight %q must be a whole number >= 0", flag, v, w)
			}
			t.Weight = n
			sum += n
		} else {
			unweighted++
		}
		_ = i
		out = append(out, t)
	}
	if unweighted > 0 {
		rest := 100 - sum
		if rest < 0 {
			return nil, loopml.Errorf(loopml.EINVALID, "--%s: the given weights add up to %d, leaving nothing for the %d target(s) without a weight (give every target a weight)", flag, sum, unweighted)
		}
		share, extra := rest/unweighted, rest%unweighted
		for i := range out {
			if out[i].Weight < 0 {
				out[i].Weight = share
				if extra > 0 {
					out[i].Weight++
					extra--
				}
			}
		}
	}
	return out, nil
}

// endpointView is the JSON form of an endpoint.
type endpointView = httpapi.EndpointJSON

// fmtTargets formats targets as "model=weight, ...", with percentages.
func fmtTargets(ts []loopml.EndpointTarget) string {
	if len(ts) == 0 {
		return "-"
	}
	sum := 0
	for _, t := range ts {
		sum += t.Weight
	}
	var parts []string
	for _, t := range ts {
		pct := 100 / float64(len(ts))
		if sum > 0 {
			pct = 100 * float64(t.Weight) / float64(sum)
		}
		parts = append(parts, fmt.Sprintf("%s (%s%%)", t.Model, strconv.FormatFloat(pct, 'f', -1, 64)))
	}
	return strings.Join(parts, ", ")
}

func fmtShadow(ts []loopml.EndpointTarget) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, t.Model)
	}
	return orDash(strings.Join(parts, ", "))
}

// fmtRollout summarises a rollout on one line.
func fmtRollout(r *loopml.Rollout) string {
	if r == nil {
		return "-"
	}
	where := "shadow phase"
	if r.Step >= 0 && r.Step < len(r.Steps) {
		where = fmt.Sprintf("step %d/%d (%d%%)", r.Step+1, len(r.Steps), r.Steps[r.Step])
	}
	s := fmt.Sprintf("%s to %s, %s", r.State, r.Candidate, where)
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

// printEndpoint prints an endpoint as key/value lines, or JSON.
func printEndpoint(w io.Writer, output string, e *loopml.Endpoint) error {
	if output == "json" {
		return writeJSON(w, httpapi.ToEndpointJSON(e))
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "Name:\t%s\n", e.Name)
	fmt.Fprintf(tw, "Targets:\t%s\n", fmtTargets(e.Targets))
	fmt.Fprintf(tw, "Shadow:\t%s\n", fmtShadow(e.Shadow))
	fmt.Fprintf(tw, "Sticky header:\t%s\n", orDash(e.StickyHeader))
	fmt.Fprintf(tw, "Default:\t%s\n", fmtActive(e.Default))
	fmt.Fprintf(tw, "Rollout:\t%s\n", fmtRollout(e.Rollout))
	if r := e.Rollout; r != nil {
		fmt.Fprintf(tw, "  Steps:\t%v every %s", r.Steps, time.Duration(r.IntervalMs)*time.Millisecond)
		if r.ShadowFirstMs > 0 {
			fmt.Fprintf(tw, " after %s in shadow", time.Duration(r.ShadowFirstMs)*time.Millisecond)
		}
		fmt.Fprintln(tw)
		fmt.Fprintf(tw, "  Guards:\terror rate <= %v, p99 ratio <= %v, metric regression <= %v, min samples %d\n",
			r.MaxErrorRate, orOff(r.MaxP99Ratio), orOff(r.MaxMetricRegression), r.MinSamples)
		fmt.Fprintf(tw, "  Promote alias:\t%s\n", orDash(r.PromoteAlias))
		fmt.Fprintf(tw, "  Started:\t%s by %s\n", fmtTime(r.StartedAt), orDash(r.StartedBy))
		if r.FinishedAt != 0 {
			fmt.Fprintf(tw, "  Finished:\t%s\n", fmtTime(r.FinishedAt))
		}
	}
	fmt.Fprintf(tw, "Generation:\t%d\n", e.Generation)
	fmt.Fprintf(tw, "Created:\t%s by %s\n", fmtTime(e.CreationTimestamp), orDash(e.CreatedBy))
	fmt.Fprintf(tw, "Updated:\t%s\n", fmtTime(e.LastUpdatedTimestamp))
	return tw.Flush()
}

func orOff(v float64) string {
	if v == 0 {
		return "off"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// printStepStats prints the current step's traffic per target.
func printStepStats(w io.Writer, st []loopml.TargetStats) error {
	if len(st) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nCurrent step (prediction log):")
	tw := newTable(w)
	fmt.Fprintln(tw, "TARGET\tVERSION\tREQUESTS\tERRORS\tP50 MS\tP99 MS\tLABELED\tRMSE\tMEAN REWARD")
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%.3f\t%d\t%s\t%s\n", s.Target, orDash(s.Version), s.Requests, s.Errors,
			s.LatencyP50Us/1000, s.LatencyP99Us/1000, s.Labeled, fmtFloat(s.RMSE), fmtFloat(s.MeanReward))
	}
	return tw.Flush()
}
