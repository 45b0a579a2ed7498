package loopml_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

func TestValidateEndpoint(t *testing.T) {
	ok := []loopml.EndpointTarget{{Model: "models:/recs@champion", Weight: 1}}
	tests := []struct {
		name string
		e    *loopml.Endpoint
		want string // "" = valid; else a substring of the EINVALID message
	}{
		{"valid", &loopml.Endpoint{Name: "recs-v2.a_b", Targets: ok, StickyHeader: "X-User-Id"}, ""},
		{"nil", nil, "'endpoint'"},
		{"no name", &loopml.Endpoint{Targets: ok}, "'name'"},
		{"slash in name", &loopml.Endpoint{Name: "a/b", Targets: ok}, "'name'"},
		{"long name", &loopml.Endpoint{Name: strings.Repeat("n", loopml.MaxEndpointNameLen+1), Targets: ok}, "'name'"},
		{"no targets", &loopml.Endpoint{Name: "e"}, "'targets'"},
		{"bad uri", &loopml.Endpoint{Name: "e", Targets: []loopml.EndpointTarget{{Model: "s3://bucket/model"}}}, "'targets[0].model'"},
		{"negative weight", &loopml.Endpoint{Name: "e", Targets: []loopml.EndpointTarget{{Model: "models:/m/1", Weight: -1}}}, "'targets[0].weight'"},
		{"duplicate", &loopml.Endpoint{Name: "e", Targets: []loopml.EndpointTarget{{Model: "models:/m/1"}, {Model: "models:m/1"}}}, "listed twice"},
		{"bad shadow", &loopml.Endpoint{Name: "e", Targets: ok, Shadow: []loopml.EndpointTarget{{Model: "m"}}}, "'shadow[0].model'"},
		{"bad header", &loopml.Endpoint{Name: "e", Targets: ok, StickyHeader: "X:User"}, "'sticky_header'"},
		{"bad rollout", &loopml.Endpoint{Name: "e", Targets: ok, Rollout: &loopml.Rollout{Candidate: "models:/m/2"}}, "'rollout.interval'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := loopml.ValidateEndpoint(tt.e)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.want) {
				t.Fatalf("got %v, want EINVALID mentioning %s", err, tt.want)
			}
		})
	}
}

func TestValidateRollout(t *testing.T) {
	r := loopml.Rollout{Candidate: "models:/m/2", IntervalMs: 1000}
	if err := loopml.ValidateRollout(&r); err != nil {
		t.Fatal(err)
	}
	if r.Strategy != loopml.RolloutCanary || fmt.Sprint(r.Steps) != "[5 25 50 100]" || r.MinSamples != loopml.DefaultRolloutMinSamples {
		t.Fatalf("defaults not filled in: %+v", r)
	}
	for _, tc := range []struct {
		r    loopml.Rollout
		want string
	}{
		{loopml.Rollout{Candidate: "nope", IntervalMs: 1}, "'rollout.to'"},
		{loopml.Rollout{Candidate: "models:/m@next", IntervalMs: 1, PromoteAlias: "champion"}, "must name a version"},
		{loopml.Rollout{Candidate: "models:/m/2", IntervalMs: 1, PromoteAlias: "latest"}, "'rollout.promote_alias'"},
		{loopml.Rollout{Candidate: "models:/m/2", IntervalMs: 1, Strategy: "linear"}, "'rollout.strategy'"},
		{loopml.Rollout{Candidate: "models:/m/2", IntervalMs: 1, Steps: []int{10, 10}}, "'rollout.steps[1]'"},
		{loopml.Rollout{Candidate: "models:/m/2", IntervalMs: 1, Steps: []int{50, 101}}, "'rollout.steps[1]'"},
		{loopml.Rollout{Candidate: "models:/m/2", IntervalMs: 1, ShadowFirstMs: -1}, "'rollout.shadow_first'"},
		{loopml.Rollout{Candidate: "models:/m/2", IntervalMs: 1, MaxP99Ratio: -2}, "'rollout.max_p99_ratio'"},
		{loopml.Rollout{Candidate: "models:/m/2", IntervalMs: 1, MinSamples: -1}, "'rollout.min_samples'"},
	} {
		if err := loopml.ValidateRollout(&tc.r); loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tc.want) {
			t.Errorf("%+v: got %v, want EINVALID mentioning %s", tc.r, err, tc.want)
		}
	}
}

func weights(ts []loopml.EndpointTarget) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s=%d", t.Model, t.Weight))
	}
	return strings.Join(parts, " ")
}

func TestRolloutTransitions(t *testing.T) {
	e := &loopml.Endpoint{Name: "recs",
		Targets: []loopml.EndpointTarget{{Model: "models:/recs@champion", Weight: 3}, {Model: "models:/recs@challenger", Weight: 1}},
		Shadow:  []loopml.EndpointTarget{{Model: "models:/recs/8"}}}
	if err := loopml.StartRollout(e, loopml.Rollout{Candidate: "models:recs/8", Steps: []int{10, 100}, IntervalMs: 1}, 1000, "ann"); err != nil {
		t.Fatal(err)
	}
	// The candidate is canonicalised, leaves the shadow targets, and gets
	// 10% (in basis points); the baseline keeps its 3:1 split of the rest.
	if got, want := weights(e.Targets), "models:/recs@champion=6750 models:/recs@challenger=2250 models:/recs/8=1000"; got != want {
		t.Fatalf("first step: %s, want %s", got, want)
	}
	if len(e.Shadow) != 0 || e.Rollout.StartedBy != "ann" || e.Rollout.State != loopml.RolloutRunning {
		t.Fatalf("after start: shadow %v, rollout %+v", e.Shadow, e.Rollout)
	}
	if err := loopml.StartRollout(e, loopml.Rollout{Candidate: "models:/recs/9", IntervalMs: 1}, 1, ""); err == nil {
		t.Fatal("a second rollout started while one is active")
	}
	loopml.SetRolloutShare(e, 100)
	if got, want := weights(e.Targets), "models:/recs@champion=0 models:/recs@challenger=0 models:/recs/8=10000"; got != want {
		t.Fatalf("last step: %s, want %s", got, want)
	}
	rolled := e.Clone()
	loopml.FinishRollout(rolled, loopml.RolloutRolledBack, "guard error_rate failed", 2000)
	if got, want := weights(rolled.Targets), "models:/recs@champion=3 models:/recs@challenger=1"; got != want || rolled.Rollout.FinishedAt != 2000 {
		t.Fatalf("rolled back: %s (want %s), %+v", got, want, rolled.Rollout)
	}
	if e.Rollout.State != loopml.RolloutRunning {
		t.Fatal("Clone shares the rollout")
	}
	promoted := e.Clone()
	promoted.Rollout.PromoteAlias = "champion"
	loopml.FinishRollout(promoted, loopml.RolloutPromoted, "ok", 3000)
	if got := weights(promoted.Targets); got != "models:/recs@champion=100" {
		t.Fatalf("promoted with alias: %s", got)
	}
	plain := e.Clone()
	loopml.FinishRollout(plain, loopml.RolloutPromoted, "ok", 3000)
	if got := weights(plain.Targets); got != "models:/recs/8=100" {
		t.Fatalf("promoted without alias: %s", got)
	}
	if got := fmt.Sprint(e.Models()); got != "[recs]" {
		t.Fatalf("Models() = %s", got)
	}

	// Equal (zero) weights stay equal shares.
	z := &loopml.Endpoint{Name: "z", Targets: []loopml.EndpointTarget{{Model: "models:/a/1"}, {Model: "models:/b/1"}}}
	if err := loopml.StartRollout(z, loopml.Rollout{Candidate: "models:/c/1", Steps: []int{20, 100}, IntervalMs: 1}, 0, ""); err != nil {
		t.Fatal(err)
	}
	if got, want := weights(z.Targets), "models:/a/1=4000 models:/b/1=4000 models:/c/1=2000"; got != want {
		t.Fatalf("zero weights: %s, want %s", got, want)
	}
	// Shadow first: the candidate mirrors traffic only.
	s := &loopml.Endpoint{Name: "s", Targets: []loopml.EndpointTarget{{Model: "models:/a/1"}}}
	if err := loopml.StartRollout(s, loopml.Rollout{Candidate: "models:/a/2", IntervalMs: 1, ShadowFirstMs: 5}, 0, ""); err != nil {
		t.Fatal(err)
	}
	if s.Rollout.Step != -1 || weights(s.Targets) != "models:/a/1=0" || weights(s.Shadow) != "models:/a/2=0" {
		t.Fatalf("shadow first: %+v %s / %s", s.Rollout, weights(s.Targets), weights(s.Shadow))
	}
	if err := loopml.StartRollout(&loopml.Endpoint{Name: "x", Targets: []loopml.EndpointTarget{{Model: "models:/a/1"}}},
		loopml.Rollout{Candidate: "models:/a/1", IntervalMs: 1}, 0, ""); err == nil || !strings.Contains(err.Error(), "already a target") {
		t.Fatalf("candidate already a target: %v", err)
	}
}

func TestRolloutDetailJSON(t *testing.T) {
	d := loopml.RolloutDetail{Candidate: "models:/m/2", Step: 1, Percent: 50, Guard: "p99_ratio", Observed: 2.5, Limit: 1.5,
		CandidateStats: &loopml.TargetStats{Requests: 10}}
	var back map[string]any
	if err := json.Unmarshal([]byte(d.JSON()), &back); err != nil {
		t.Fatal(err)
	}
	if back["guard"] != "p99_ratio" || back["observed"] != 2.5 || back["candidate_stats"].(map[string]any)["Requests"] != float64(10) {
		t.Fatalf("detail JSON: %s", d.JSON())
	}
}

// FuzzStartRollout feeds endpoint and rollout JSON (as the API accepts
// it) through validation and every rollout transition: nothing panics,
// and a valid endpoint stays valid with non-negative weights.
func FuzzStartRollout(f *testing.F) {
	f.Add(`{"targets": [{"model": "models:/m@champion", "weight": 3}], "rollout": {"candidate": "models:/m/2", "steps": [10, 100], "interval_ms": 5}}`)
	f.Add(`{"targets": [{"model": "models:/a/1"}, {"model": "models:/b/1"}], "rollout": {"candidate": "models:b/2", "interval_ms": 1, "shadow_first_ms": 3}}`)
	f.Add(`{"targets": [{"model": "models:/a/1", "weight": 1000000000}, {"model": "models:/b/1", "weight": 1}], "rollout": {"candidate": "models:/a/2", "steps": [99], "interval_ms": 1}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		var in struct {
			Targets []loopml.EndpointTarget `json:"targets"`
			Rollout loopml.Rollout          `json:"rollout"`
		}
		if json.Unmarshal([]byte(doc), &in) != nil {
			return
		}
		e := &loopml.Endpoint{Name: "e", Targets: in.Targets}
		if loopml.ValidateEndpoint(e) != nil {
			return
		}
		if err := loopml.StartRollout(e, in.Rollout, 1, "p"); err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("StartRollout: %v, want EINVALID", err)
			}
			return
		}
		for _, step := range e.Rollout.Steps {
			loopml.SetRolloutShare(e, step)
			for _, tg := range e.Targets {
				if tg.Weight < 0 {
					t.Fatalf("negative weight at step %d%%: %+v (overflow?)", step, e.Targets)
				}
			}
			if err := loopml.ValidateEndpoint(e); err != nil {
				t.Fatalf("endpoint invalid at step %d%%: %v", step, err)
			}
		}
		for _, st := range []string{loopml.RolloutRolledBack, loopml.RolloutPromoted} {
			c := e.Clone()
			loopml.FinishRollout(c, st, "r", 2)
			if err := loopml.ValidateEndpoint(c); err != nil {
				t.Fatalf("after %s: %v", st, err)
			}
		}
	})
}
