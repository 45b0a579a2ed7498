package loopml_test

import (
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

func TestValidatePipelineTrigger(t *testing.T) {
	src := loopml.PipelineSource{Path: "/srv/p"}
	for _, tc := range []struct {
		name  string
		tr    loopml.PipelineTrigger
		field string // "" = valid
	}{
		{"cron", loopml.PipelineTrigger{Name: "n", Source: src, Kind: loopml.TriggerCron, Schedule: "0 3 * * *"}, ""},
		{"data", loopml.PipelineTrigger{Name: "n", Source: src, Kind: loopml.TriggerData, Dataset: "ratings", Policy: "queue"}, ""},
		{"model", loopml.PipelineTrigger{Name: "n", Source: src, Kind: loopml.TriggerModel, Model: "m@champion", Policy: "replace"}, ""},
		{"api with spec text", loopml.PipelineTrigger{Name: "n", Source: loopml.PipelineSource{Spec: "stages: {}", Dir: "/w", Set: []string{"a.b=1"}}, Kind: loopml.TriggerAPI}, ""},
		{"no name", loopml.PipelineTrigger{Source: src, Kind: loopml.TriggerAPI}, "'name'"},
		{"slash in name", loopml.PipelineTrigger{Name: "a/b", Source: src, Kind: loopml.TriggerAPI}, "'name'"},
		{"long name", loopml.PipelineTrigger{Name: strings.Repeat("x", 129), Source: src, Kind: loopml.TriggerAPI}, "'name'"},
		{"no source", loopml.PipelineTrigger{Name: "n", Kind: loopml.TriggerAPI}, "'path'"},
		{"both", loopml.PipelineTrigger{Name: "n", Source: loopml.PipelineSource{Path: "/p", Spec: "x", Dir: "/w"}, Kind: loopml.TriggerAPI}, "'spec'"},
		{"spec without dir", loopml.PipelineTrigger{Name: "n", Source: loopml.PipelineSource{Spec: "x"}, Kind: loopml.TriggerAPI}, "'dir'"},
		{"huge spec", loopml.PipelineTrigger{Name: "n", Source: loopml.PipelineSource{Spec: strings.Repeat("x", loopml.MaxPipelineSpecBytes+1), Dir: "/w"}, Kind: loopml.TriggerAPI}, "'spec'"},
		{"bad set", loopml.PipelineTrigger{Name: "n", Source: loopml.PipelineSource{Path: "/p", Set: []string{"=1"}}, Kind: loopml.TriggerAPI}, "'set'"},
		{"no kind", loopml.PipelineTrigger{Name: "n", Source: src}, "'kind'"},
		{"bad kind", loopml.PipelineTrigger{Name: "n", Source: src, Kind: "webhook"}, "'kind'"},
		{"cron without schedule", loopml.PipelineTrigger{Name: "n", Source: src, Kind: loopml.TriggerCron}, "'schedule'"},
		{"data without dataset", loopml.PipelineTrigger{Name: "n", Source: src, Kind: loopml.TriggerData}, "'dataset'"},
		{"model without model", loopml.PipelineTrigger{Name: "n", Source: src, Kind: loopml.TriggerModel}, "'model'"},
		{"bad policy", loopml.PipelineTrigger{Name: "n", Source: src, Kind: loopml.TriggerAPI, Policy: "drop"}, "'policy'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := loopml.ValidatePipelineTrigger(&tc.tr)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid trigger refused: %v", err)
				}
				if tc.tr.Policy == "" {
					t.Fatal("policy not defaulted")
				}
				return
			}
			if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tc.field) {
				t.Fatalf("got %v, want EINVALID naming %s", err, tc.field)
			}
		})
	}
}

func TestPipelineRunTerminal(t *testing.T) {
	for status, want := range map[string]bool{loopml.PipelineQueued: false, loopml.PipelineRunning: false,
		loopml.PipelineSucceeded: true, loopml.PipelineFailed: true, loopml.PipelineCancelled: true} {
		if got := (&loopml.PipelineRun{Status: status}).Terminal(); got != want {
			t.Errorf("%s: Terminal() = %v", status, got)
		}
	}
}
