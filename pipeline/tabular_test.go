package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/loopml/loopml/learn/delivery"
	"github.com/loopml/loopml/pipeline"
)

// TestTabularBuiltins trains and evaluates the tabular learners as
// built-in steps on the synthetic delivery data.
func TestTabularBuiltins(t *testing.T) {
	e := newEnv(t)
	var csv bytes.Buffer
	if err := delivery.Generate(delivery.Config{Seed: 1, Rows: 3000}, &csv); err != nil {
		t.Fatal(err)
	}
	e.write(map[string]string{"deliveries.csv": csv.String()})
	s := e.parse(`stages:
  train-linear:
    uses: loopml/linear
    with: {data: deliveries.csv, target: delivery_minutes, exclude: [late]}
  eval-logistic:
    uses: loopml/eval
    with:
      learner: logistic
      data: deliveries.csv
      target: late
      exclude: delivery_minutes
      params: {l2: 1}
`)
	res, err := e.run(context.Background(), s, pipeline.Options{})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, e.out.String())
	}
	for name, st := range statuses(res) {
		if st != "succeeded" {
			t.Fatalf("stage %s: %s\n%s", name, st, e.out.String())
		}
	}
	var lin, logi map[string]float64
	if err := json.Unmarshal([]byte(e.read("metrics/train-linear.json")), &lin); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(e.read("metrics/eval-logistic.json")), &logi); err != nil {
		t.Fatal(err)
	}
	t.Logf("linear %v, logistic %v", lin, logi)
	if len(lin) == 0 {
		t.Fatalf("linear training logged no metrics")
	}
	auc, ok := logi["auc"]
	if !ok || auc < 0.8 {
		t.Fatalf("logistic eval auc = %v (present %v), want >= 0.8; metrics %v", auc, ok, logi)
	}
	if got := e.read("models/train-linear/MLmodel"); !bytes.Contains([]byte(got), []byte("delivery_minutes")) && !bytes.Contains([]byte(got), []byte("distance_km")) {
		t.Fatalf("MLmodel of the linear package names no feature:\n%s", got)
	}
}
