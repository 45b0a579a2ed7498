package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/spf13/cobra"
)

func newEndpointsRolloutCommand(getenv func(string) (string, bool)) *cobra.Command {
	var (
		o          clientOptions
		to         string
		strategy   string
		steps      string
		interval   time.Duration
		shadowFor  time.Duration
		maxErr     float64
		maxP99     float64
		maxMetric  float64
		minSamples int64
		alias      string
		status     bool
		abort      bool
		reason     string
	)
	cmd := &cobra.Command{
		Use:   "rollout NAME --to MODEL_URI [flags] | --status | --abort",
		Short: "Start, watch or abort a canary rollout of a new model to an endpoint",
		Long: `Start a canary rollout: the candidate (--to) joins the endpoint's targets
and its share of the traffic moves through --steps, each held for --interval.
At every step the candidate is compared with the current targets (the
baseline) on the requests of the step: error rate (HTTP 5xx) against
--max-error-rate, p99 latency against --max-p99-ratio times the baseline's,
and, where feedback was logged, RMSE/MAE or mean reward against
--max-metric-regression (relative). A step is judged once the candidate has
--min-samples requests. A failing guard rolls back at once (the baseline
serves alone again); passing every step promotes the candidate: with
--promote-alias the alias moves to its version and the endpoint serves the
alias alone, otherwise the candidate alone. --shadow-first runs the candidate
on mirrored traffic before the first step.

The controller runs inside "loopml server" (on every replica; each transition
is a compare-and-set, so one replica makes it). Each step, promotion and
rollback is recorded in the registry history with the numbers it was based on.`,
		Example: `  loopml endpoints rollout recs --to models:/recs/8 --steps 5,25,50,100 --interval 10m --promote-alias champion
  loopml endpoints rollout recs --to models:/recs/8 --shadow-first 10m --max-p99-ratio 1.5 --max-metric-regression 0.05
  loopml endpoints rollout recs --status
  loopml endpoints rollout recs --abort --reason "bad offline eval"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			modes := 0
			for _, b := range []bool{to != "", status, abort} {
				if b {
					modes++
				}
			}
			if modes != 1 {
				return loopml.Errorf(loopml.EINVALID, "give exactly one of --to MODEL_URI (start), --status or --abort")
			}
			var r loopml.Rollout
			if to != "" {
				var err error
				if r, err = rolloutFromFlags(to, strategy, steps, interval, shadowFor, maxErr, maxP99, maxMetric, minSamples, alias); err != nil {
					return err
				}
			}
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			ctx := cmd.Context()
			var e *loopml.Endpoint
			switch {
			case status:
				var st []loopml.TargetStats
				if e, st, err = svc.endpoints.RolloutStatus(ctx, args[0]); err != nil {
					return err
				}
				if o.output == "json" {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"endpoint": httpapi.ToEndpointJSON(e), "step_stats": st})
				}
				if err := printEndpoint(cmd.OutOrStdout(), o.output, e); err != nil {
					return err
				}
				return printStepStats(cmd.OutOrStdout(), st)
			case abort:
				e, err = svc.endpoints.AbortEndpointRollout(ctx, args[0], reason)
			default:
				e, err = svc.endpoints.StartEndpointRollout(ctx, args[0], r)
			}
			if err != nil {
				return err
			}
			return printEndpoint(cmd.OutOrStdout(), o.output, e)
		},
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "the candidate model URI (e.g. models:/recs/8)")
	f.StringVar(&strategy, "strategy", loopml.RolloutCanary, "rollout strategy (canary)")
	f.StringVar(&steps, "steps", "5,25,50,100", "the candidate's traffic percentages, increasing")
	f.DurationVar(&interval, "interval", 10*time.Minute, "how long each step lasts")
	f.DurationVar(&shadowFor, "shadow-first", 0, "run the candidate as a shadow target this long before the first step")
	f.Float64Var(&maxErr, "max-error-rate", loopml.DefaultRolloutMaxErrorRate, "roll back when the candidate's error rate exceeds this")
	f.Float64Var(&maxP99, "max-p99-ratio", 0, "roll back when candidate p99 / baseline p99 exceeds this (0 = off)")
	f.Float64Var(&maxMetric, "max-metric-regression", 0, "roll back when RMSE/MAE or mean reward is worse than the baseline's by more than this fraction (0 = off)")
	f.Int64Var(&minSamples, "min-samples", loopml.DefaultRolloutMinSamples, "candidate requests a step needs before it is judged")
	f.StringVar(&alias, "promote-alias", "", "on success, move this alias to the candidate's version and serve the alias")
	f.BoolVar(&status, "status", false, "show the endpoint's rollout")
	f.BoolVar(&abort, "abort", false, "abort the rollout in progress (the baseline serves alone again)")
	f.StringVar(&reason, "reason", "", "with --abort: why, for the registry history")
	return cmd
}

// rolloutFromFlags builds the rollout of the start flags.
func rolloutFromFlags(to, strategy, steps string, interval, shadowFor time.Duration, maxErr, maxP99, maxMetric float64, minSamples int64, alias string) (loopml.Rollout, error) {
	r := loopml.Rollout{
		Candidate: to, Strategy: strategy, IntervalMs: interval.Milliseconds(), ShadowFirstMs: shadowFor.Milliseconds(),
		MaxErrorRate: maxErr, MaxP99Ratio: maxP99, MaxMetricRegression: maxMetric, MinSamples: minSamples, PromoteAlias: alias,
	}
	for _, p := range strings.Split(steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), "%")))
		if err != nil {
			return r, loopml.Errorf(loopml.EINVALID, "--steps %q: %q is not a whole percentage", steps, p)
		}
		r.Steps = append(r.Steps, n)
	}
	if minSamples <= 0 {
		return r, loopml.Errorf(loopml.EINVALID, "--min-samples %d must be positive", minSamples)
	}
	return r, loopml.ValidateRollout(&r)
}
