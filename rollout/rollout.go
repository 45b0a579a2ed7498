// Package rollout runs canary rollouts of serving endpoints: it shifts the
// traffic share of a candidate model step by step, compares the candidate
// with the baseline targets on error rate, p99 latency and, where feedback
// exists, RMSE/MAE or mean reward, rolls back automatically when a guard
// fails and promotes the candidate (moving an alias) when every step
// passes.
//
// The rollout's state lives in the stored endpoint (loopml.Endpoint.Rollout)
// and every transition is a compare-and-set on the endpoint's generation,
// so several replicas may run a Controller on one database: for each
// transition exactly one of them succeeds, the others see ECONFLICT and
// skip. Each transition appends registry events (rollout_step,
// rollout_promoted, rollout_rolled_back) with the numbers it was based on.
//
// The package is an adapter over root interfaces: it imports only the root
// package loopml and the standard library.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/loopml/loopml"
)

// Stats summarises the traffic of an endpoint's targets over a time window:
// loopml.PredictionLog (all replicas) or serving.TrafficStats (this
// process).
type Stats interface {
	TargetStats(ctx context.Context, endpoint string, since, until int64) ([]loopml.TargetStats, error)
}

// Principal is the principal recorded for the controller's changes.
const Principal = "rollout-controller"

// promotionTakeover is how long a promotion may stay unfinished before
// another controller finishes it.
const promotionTakeover = 10 * time.Second

// DefaultTick is how often a Controller looks at the rollouts when its
// Tick is 0.
const DefaultTick = time.Second

// Controller advances the active rollouts of the endpoints of one
// workspace (the workspace of the context given to Run or Step). Set
// Endpoints, Registry and Stats; the other fields are optional. Safe for
// concurrent use, also with other Controllers on the same store.
type Controller struct {
	Endpoints loopml.EndpointService
	// Registry moves the promote alias.
	Registry loopml.ModelRegistry
	Stats    Stats
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Tick is the period of Run; 0 is DefaultTick.
	Tick time.Duration
	// Health, when set, reports a candidate that cannot be loaded: the
	// rollout is rolled back (guard "load") when the candidate still has
	// a load error one IntervalMs after its step (or shadow phase) began.
	Health TargetHealth
	// Logger receives every transition and error; nil discards them.
	Logger *slog.Logger
}

// TargetHealth reports why an endpoint's target model is not loaded (its
// load or resolution error), "" when it is loaded or still loading:
// serving.Gateway.TargetError.
type TargetHealth interface {
	TargetError(endpoint, model string) string
}

func (c *Controller) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Controller) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run calls Step every Tick until ctx ends; errors are logged.
func (c *Controller) Run(ctx context.Context) {
	tick := c.Tick
	if tick <= 0 {
		tick = DefaultTick
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.Step(ctx); err != nil && ctx.Err() == nil {
			c.logger().Error("rollout controller step failed", "err", err)
		}
	}
}

// Step looks once at every endpoint with an active rollout and makes the
// transition that is due, if any. Another controller having made it first
// (ECONFLICT) is not an error.
func (c *Controller) Step(ctx context.Context) error {
	if c.Endpoints == nil || c.Stats == nil {
		return loopml.Errorf(loopml.EINVALID, "rollout controller: Endpoints and Stats are required")
	}
	ctx = loopml.NewContextWithPrincipal(ctx, Principal)
	list, err := c.Endpoints.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range list {
		if !e.Rollout.Active() {
			continue
		}
		if err := c.advance(ctx, e); err != nil && loopml.ErrorCode(err) != loopml.ECONFLICT {
			errs = append(errs, fmt.Errorf("endpoint %s: %w", e.Name, err))
		}
	}
	return errors.Join(errs...)
}

// advance makes the transition due for e's rollout.
func (c *Controller) advance(ctx context.Context, e *loopml.Endpoint) error {
	log := c.logger().With("endpoint", e.Name, "candidate", e.Rollout.Candidate)
	now := c.now().UnixMilli()
	r := e.Rollout
	if r.State == loopml.RolloutPromoting {
		// The replica that claimed the promotion finishes it at once; if
		// it is still unfinished a while later, that replica died.
		if now-r.StepStartedAt < promotionTakeover.Milliseconds() {
			return nil
		}
		return c.finishPromotion(ctx, e, now)
	}
	var stats []loopml.TargetStats
	if r.Step >= 0 {
		var err error
		if stats, err = c.Stats.TargetStats(ctx, e.Name, r.StepStartedAt, now+1); err != nil {
			return fmt.Errorf("read target stats: %w", err)
		}
	}
	d := Judge(r, stats, now)
	if c.Health != nil && d.Action != ActionRollback && now-r.StepStartedAt >= r.IntervalMs {
		if msg := c.Health.TargetError(e.Name, r.Candidate); msg != "" {
			d = Decision{Action: ActionRollback, Guard: "load", Candidate: d.Candidate, Baseline: d.Baseline,
				Reason: fmt.Sprintf("guard load failed: the candidate cannot be served: %s", msg)}
		}
	}
	detail := loopml.RolloutDetail{Candidate: r.Candidate, Step: r.Step, Guard: d.Guard, Observed: d.Observed, Limit: d.Limit}
	if r.Step >= 0 {
		detail.Percent = r.Steps[r.Step]
		cs, bs := d.Candidate, d.Baseline
		detail.CandidateStats, detail.BaselineStats = &cs, &bs
	}
	switch d.Action {
	case ActionWait:
		return nil
	case ActionRollback:
		loopml.FinishRollout(e, loopml.RolloutRolledBack, d.Reason, now)
		detail.Targets = e.Targets
		if err := c.Endpoints.UpdateEndpoint(ctx, e, loopml.EndpointChange{Event: loopml.EventRolloutRolledBack, Reason: d.Reason, Detail: detail.JSON()}); err != nil {
			return err
		}
		log.Warn("rollout rolled back", "guard", d.Guard, "observed", d.Observed, "limit", d.Limit, "reason", d.Reason)
		return nil
	case ActionAdvance:
		r.Step++
		r.StepStartedAt = now
		loopml.SetRolloutShare(e, r.Steps[r.Step])
		detail.Targets = e.Targets
		reason := fmt.Sprintf("step %d/%d: candidate at %d%%", r.Step+1, len(r.Steps), r.Steps[r.Step])
		if err := c.Endpoints.UpdateEndpoint(ctx, e, loopml.EndpointChange{Event: loopml.EventRolloutStep, Reason: reason, Detail: detail.JSON()}); err != nil {
			return err
		}
		log.Info("rollout step", "step", r.Step+1, "percent", r.Steps[r.Step])
		return nil
	case ActionPromote:
		if r.PromoteAlias == "" {
			loopml.FinishRollout(e, loopml.RolloutPromoted, d.Reason, now)
			detail.Targets = e.Targets
			if err := c.Endpoints.UpdateEndpoint(ctx, e, loopml.EndpointChange{Event: loopml.EventRolloutPromoted, Reason: d.Reason, Detail: detail.JSON()}); err != nil {
				return err
			}
			log.Info("rollout promoted")
			return nil
		}
		// Claim the promotion (one replica wins), then move the alias,
		// then point the endpoint at the alias. A replica that finds the
		// state "promoting" (this one crashed in between) finishes it.
		loopml.FinishRollout(e, loopml.RolloutPromoting, d.Reason, now)
		r.StepStartedAt = now
		detail.Targets = e.Targets
		if err := c.Endpoints.UpdateEndpoint(ctx, e, loopml.EndpointChange{Event: loopml.EventRolloutStep, Reason: "all steps passed: moving alias " + r.PromoteAlias, Detail: detail.JSON()}); err != nil {
			return err
		}
		return c.finishPromotion(ctx, e, now)
	}
	return nil
}

// finishPromotion moves the promote alias to the candidate's version and
// makes the alias the endpoint's only target.
func (c *Controller) finishPromotion(ctx context.Context, e *loopml.Endpoint, now int64) error {
	r := e.Rollout
	u, err := loopml.ParseModelURI(r.Candidate)
	if err != nil {
		return err
	}
	if c.Registry == nil {
		return loopml.Errorf(loopml.EINVALID, "rollout controller: a Registry is needed to move alias %s", r.PromoteAlias)
	}
	if err := c.Registry.SetAlias(ctx, u.Name, r.PromoteAlias, u.Version); err != nil {
		return fmt.Errorf("move alias %s of %s to version %s: %w", r.PromoteAlias, u.Name, u.Version, err)
	}
	reason := r.Reason
	if reason == "" {
		reason = "all steps passed"
	}
	loopml.FinishRollout(e, loopml.RolloutPromoted, reason+"; alias "+r.PromoteAlias+" moved to version "+u.Version, now)
	detail := loopml.RolloutDetail{Candidate: r.Candidate, Step: r.Step, Percent: 100, Targets: e.Targets}
	if err := c.Endpoints.UpdateEndpoint(ctx, e, loopml.EndpointChange{Event: loopml.EventRolloutPromoted, Reason: e.Rollout.Reason, Detail: detail.JSON()}); err != nil {
		return err
	}
	c.logger().Info("rollout promoted", "endpoint", e.Name, "alias", r.PromoteAlias, "version", u.Version)
	return nil
}

// Actions a Decision may take.
const (
	ActionWait     = "wait"
	ActionAdvance  = "advance"  // to the next step (or from the shadow phase to the first)
	ActionPromote  = "promote"  // the last step passed
	ActionRollback = "rollback" // a guard failed
)

// Decision is what Judge decided for a rollout, with the numbers.
type Decision struct {
	Action string
	Reason string
	// Guard names the failing guard of a rollback: error_rate, p99_ratio,
	// rmse, mae, mean_reward (Observed and Limit are its numbers) or load
	// (the candidate cannot be loaded; see Controller.Health).
	Guard     string
	Observed  float64
	Limit     float64
	Candidate loopml.TargetStats // the candidate's traffic in the step
	Baseline  loopml.TargetStats // the other targets' traffic, merged
}

// Judge decides what is due for rollout r at time now (epoch ms), given
// the stats of the endpoint's targets since the step began:
//
//   - in the shadow phase: advance once ShadowFirstMs has passed;
//   - once the candidate has MinSamples requests, every guard is checked
//     at each look (so a bad candidate is rolled back without waiting for
//     the end of the step): error rate above MaxErrorRate, p99 latency
//     above MaxP99Ratio times the baseline's, or RMSE, MAE or mean reward
//     worse than the baseline's by more than MaxMetricRegression
//     (relative; only when both sides have feedback);
//   - when IntervalMs has passed and the guards hold: advance, or promote
//     after the last step; with fewer than MinSamples candidate requests
//     the step is extended until they arrive.
func Judge(r *loopml.Rollout, stats []loopml.TargetStats, now int64) Decision {
	elapsed := now - r.StepStartedAt
	if r.Step < 0 {
		if elapsed >= r.ShadowFirstMs {
			return Decision{Action: ActionAdvance, Reason: "shadow phase done"}
		}
		return Decision{Action: ActionWait, Reason: "shadow phase"}
	}
	d := Decision{Action: ActionWait}
	d.Candidate, d.Baseline = split(r.Candidate, stats)
	cand, base := d.Candidate, d.Baseline
	if cand.Requests < max(r.MinSamples, 1) {
		d.Reason = fmt.Sprintf("waiting for samples: %d of %d candidate requests", cand.Requests, r.MinSamples)
		return d
	}
	fail := func(guard string, observed, limit float64, format string, args ...any) Decision {
		d.Action, d.Guard, d.Observed, d.Limit = ActionRollback, guard, observed, limit
		d.Reason = fmt.Sprintf("guard %s failed at step %d (%d%%): ", guard, r.Step+1, r.Steps[r.Step]) + fmt.Sprintf(format, args...)
		return d
	}
	if rate := float64(cand.Errors) / float64(cand.Requests); rate > r.MaxErrorRate {
		return fail("error_rate", rate, r.MaxErrorRate, "candidate error rate %.4f (%d of %d) > %.4f", rate, cand.Errors, cand.Requests, r.MaxErrorRate)
	}
	if r.MaxP99Ratio > 0 && base.Requests > 0 && base.LatencyP99Us > 0 {
		if ratio := cand.LatencyP99Us / base.LatencyP99Us; ratio > r.MaxP99Ratio {
			return fail("p99_ratio", ratio, r.MaxP99Ratio, "candidate p99 %.0fus / baseline p99 %.0fus = %.2f > %.2f", cand.LatencyP99Us, base.LatencyP99Us, ratio, r.MaxP99Ratio)
		}
	}
	if r.MaxMetricRegression > 0 && cand.Labeled > 0 && base.Labeled > 0 {
		for _, m := range []struct {
			name        string
			cand, base  float64
			higherIsBad bool
		}{
			{"rmse", cand.RMSE, base.RMSE, true},
			{"mae", cand.MAE, base.MAE, true},
			{"mean_reward", cand.MeanReward, base.MeanReward, false},
		} {
			if m.base == 0 || math.IsNaN(m.base) || math.IsNaN(m.cand) {
				continue
			}
			reg := (m.cand - m.base) / math.Abs(m.base)
			if !m.higherIsBad {
				reg = -reg
			}
			if reg > r.MaxMetricRegression {
				return fail(m.name, reg, r.MaxMetricRegression, "candidate %s %.4g vs baseline %.4g: %.1f%% worse > %.1f%%", m.name, m.cand, m.base, 100*reg, 100*r.MaxMetricRegression)
			}
		}
	}
	if elapsed < r.IntervalMs {
		d.Reason = "step in progress, guards hold"
		return d
	}
	if r.Step+1 >= len(r.Steps) {
		d.Action = ActionPromote
		d.Reason = fmt.Sprintf("all %d steps passed (last: %d candidate requests, %d errors)", len(r.Steps), cand.Requests, cand.Errors)
		return d
	}
	d.Action = ActionAdvance
	d.Reason = fmt.Sprintf("step %d passed", r.Step+1)
	return d
}

// split returns the stats of the candidate and the merged stats of every
// other target (counts summed, latencies and metrics averaged weighted by
// requests or labels).
func split(candidate string, stats []loopml.TargetStats) (cand, base loopml.TargetStats) {
	cu, _ := loopml.ParseModelURI(candidate)
	cand.Target = cu.String()
	base.Target = "baseline"
	var p50, p99, rmse, mae, reward float64
	for _, s := range stats {
		if u, err := loopml.ParseModelURI(s.Target); err == nil && u.String() == cu.String() {
			cand = s
			continue
		}
		base.Requests += s.Requests
		base.Errors += s.Errors
		p50 += s.LatencyP50Us * float64(s.Requests)
		p99 += s.LatencyP99Us * float64(s.Requests)
		base.Labeled += s.Labeled
		rmse += s.RMSE * float64(s.Labeled)
		mae += s.MAE * float64(s.Labeled)
		reward += s.MeanReward * float64(s.Labeled)
	}
	if base.Requests > 0 {
		base.LatencyP50Us = p50 / float64(base.Requests)
		base.LatencyP99Us = p99 / float64(base.Requests)
	}
	if base.Labeled > 0 {
		base.RMSE = rmse / float64(base.Labeled)
		base.MAE = mae / float64(base.Labeled)
		base.MeanReward = reward / float64(base.Labeled)
	}
	return cand, base
}
