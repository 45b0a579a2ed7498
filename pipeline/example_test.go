package pipeline_test

import (
	"fmt"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/pipeline"
)

// A gate condition compares upstream metrics with the champion's; with no
// champion yet, comparisons against it hold.
func ExampleEval() {
	e, err := pipeline.ParseExpr("metrics.rmse < champion.metrics.rmse * 1.02 && metrics.ndcg_at_10 > 0.1")
	if err != nil {
		panic(err)
	}
	metrics := map[string]any{"metrics.rmse": 0.85, "metrics.ndcg_at_10": 0.18, "champion.metrics.rmse": 0.84}
	withChampion := func(ref string) (any, bool) { v, ok := metrics[ref]; return v, ok }
	noChampion := func(ref string) (any, bool) {
		if ref == "champion.metrics.rmse" {
			return nil, false
		}
		return withChampion(ref)
	}
	ok1, _ := pipeline.Eval(e, withChampion)
	ok2, _ := pipeline.Eval(e, noChampion)
	fmt.Println(ok1, ok2)
	// Output: true true
}

// Parse reports every problem with its file and line.
func ExampleParse() {
	_, err := pipeline.Parse([]byte(`
stages:
  train:
    cmd: python train.py
    outs: [model]
    retries: lots
  eval:
    cmd: python eval.py
    deps: [model, report.outs]
`), "loopml.yaml", pipeline.ParseOptions{})
	fmt.Println(loopml.ErrorMessage(err))
	// Output:
	// loopml.yaml:6: stage "train": retries: expected an integer from 0 to 100, got "lots"
	// loopml.yaml:7: stage "eval": dep "report.outs" names unknown stage "report"
}
