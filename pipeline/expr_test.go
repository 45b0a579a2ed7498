package pipeline_test

import (
	"strings"
	"testing"

	"github.com/loopml/loopml/pipeline"
)

func TestEvalConditions(t *testing.T) {
	vars := map[string]any{
		"metrics.rmse": 0.8, "metrics.ndcg_at_10": 0.2, "train-mf.metrics.rmse": 0.7,
		"params.learner": "mf", "params.k": "32", "champion.metrics.rmse": 0.9,
	}
	env := func(ref string) (any, bool) { v, ok := vars[ref]; return v, ok }
	noChamp := func(ref string) (any, bool) {
		if strings.HasPrefix(ref, "champion.") {
			return nil, false
		}
		return env(ref)
	}
	tests := []struct {
		cond string
		env  pipeline.Resolver
		want bool
		err  string
	}{
		{"metrics.rmse < champion.metrics.rmse && metrics.ndcg_at_10 > 0.1", env, true, ""},
		{"metrics.rmse < champion.metrics.rmse && metrics.ndcg_at_10 > 0.3", env, false, ""},
		{"metrics.rmse > champion.metrics.rmse", env, false, ""},
		{"metrics.rmse > champion.metrics.rmse", noChamp, true, ""},
		{"!(metrics.rmse > champion.metrics.rmse) && metrics.ndcg_at_10 >= 0.2", noChamp, false, ""}, // the comparison is true, its negation false
		{"metrics.rmse < champion.metrics.rmse * 1.05 && metrics.rmse / 2 == 0.4", env, true, ""},
		{"metrics.rmse * 10 < champion.metrics.rmse", noChamp, true, ""},
		{"metrics.ndcg_at_10 > 0.3 || train-mf.metrics.rmse <= 0.7", env, true, ""},
		{"params.learner == \"mf\" && params.k == 32 && params.k != 1e3", env, true, ""},
		{"!(metrics.rmse == 0.8)", env, false, ""},
		{"metrics.rmse < -1.5e-3", env, false, ""},
		{"true && !false", env, true, ""},
		{"metrics.mae < 1", env, false, "metrics.mae is not defined"},
		{"params.learner < 1", env, false, "only == and != compare strings"},
		{"1 < params.learner", env, false, "cannot compare"},
		{"metrics.rmse", env, false, "not a comparison"},
	}
	for _, tt := range tests {
		e, err := pipeline.ParseExpr(tt.cond)
		if err != nil {
			t.Errorf("%s: parse: %v", tt.cond, err)
			continue
		}
		got, err := pipeline.Eval(e, tt.env)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.cond, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s = %v, %v; want %v", tt.cond, got, err, tt.want)
		}
	}
}

func TestParseExprErrors(t *testing.T) {
	for src, want := range map[string]string{
		"":                             "empty condition",
		"metrics.a <":                  "ends where an operand was expected",
		"(metrics.a < 1":               "missing ')'",
		"metrics.a < 1 )":              `unexpected ")" at offset 14`,
		"metrics.a $ 1":                "unexpected character '$' at offset 10",
		"\"abc":                        "unterminated string",
		"1.2.3 < 1":                    "bad number",
		"metrics.a < < 1":              `unexpected "<"`,
		strings.Repeat("(", 200) + "1": "nested too deeply",
	} {
		_, err := pipeline.ParseExpr(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseExpr(%q) = %v, want %q", src, err, want)
		}
	}
}

func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"metrics.rmse < champion.metrics.rmse && metrics.ndcg_at_10 > 0.1", "!(a == \"x\") || b >= -1e3", "((1))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := pipeline.ParseExpr(src)
		if err != nil {
			return
		}
		// Printing and re-parsing gives the same expression.
		e2, err := pipeline.ParseExpr(e.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", src, e.String(), err)
		}
		if e2.String() != e.String() {
			t.Fatalf("%q -> %q -> %q", src, e.String(), e2.String())
		}
		_, _ = pipeline.Eval(e, func(string) (any, bool) { return 1.0, true })
	})
}
