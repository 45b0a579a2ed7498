package serving_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/serving"
	"github.com/loopml/loopml/training"
)

// shadowAnswers sends bodies to the endpoint, waits for the shadow copies
// and returns the logged predictions by request id and shadow flag.
func shadowAnswers(t *testing.T, g *serving.Gateway, url, contentType string, bodies []string, store *memLog) map[string]*loopml.Prediction {
	t.Helper()
	for i, b := range bodies {
		resp, out := do(t, "POST", url, contentType, b, "X-Request-Id", fmt.Sprint("req-", i))
		if resp.StatusCode != 200 {
			t.Fatalf("body %d: status %d %v", i, resp.StatusCode, out)
		}
	}
	waitFor(t, func() bool { done, _ := g.ShadowStats(); return done == int64(len(bodies)) })
	g.Close() // drains the log
	got := map[string]*loopml.Prediction{}
	for _, p := range store.preds {
		got[fmt.Sprintf("%s/%v", p.RequestID, p.Shadow)] = p
	}
	return got
}

// TestShadowTabular: a tabular shadow target scores a copy of each
// /invocations request (JSON and CSV) and its answers are logged.
func TestShadowTabular(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	data := deliveryData(t, 600)
	deps := training.Deps{Experiments: e.db, Runs: e.db, Registry: e.db, Artifacts: e.arts}
	for _, reg := range []string{"eta", "eta"} { // versions 1 and 2
		o := training.TrainOptions{Learner: learn.KindLinear, Target: "delivery_minutes", Exclude: []string{"late"},
			Data: training.DataSource{Path: data}, Register: reg}
		if _, err := training.Train(ctx, o, deps); err != nil {
			t.Fatal(err)
		}
	}
	store := &memLog{}
	g, srv := e.logGateway(t, store, serving.PredictionLogConfig{}, serving.EndpointSpec{Name: "eta",
		Targets: []serving.TargetSpec{{Model: "models:/eta/1"}}, Shadow: []serving.TargetSpec{{Model: "models:/eta/2"}}})
	cols := `["distance_km", "items", "hour", "weekday", "weather", "courier", "prep_minutes"]`
	got := shadowAnswers(t, g, srv.URL+"/endpoints/eta/invocations", "application/json", []string{
		`{"dataframe_split": {"columns": ` + cols + `, "data": [[2.5, 3, 19, "sat", "snow", "bike", 12.0]]}}`,
		`{"dataframe_split": {"columns": ` + cols + `, "data": [[1.0, 1, 11, "tue", "rain", "car", 5.0], [3.0, 2, 12, "mon", "clear", "car", 7.0]]}}`,
	}, store)
	for i := range 2 {
		p, sh := got[fmt.Sprint("req-", i, "/false")], got[fmt.Sprint("req-", i, "/true")]
		if p == nil || sh == nil {
			t.Fatalf("request %d: logged %v", i, got)
		}
		if sh.Status != 200 || sh.Version != "2" || sh.Target != "models:/eta/2" || !strings.HasPrefix(sh.Outputs, `{"predictions":[`) || sh.Inputs != p.Inputs {
			t.Errorf("request %d: shadow logged %+v (primary %+v)", i, sh, p)
		}
		if strings.Count(sh.Outputs, ",") != strings.Count(p.Outputs, ",") {
			t.Errorf("request %d: shadow answered %s, primary %s", i, sh.Outputs, p.Outputs)
		}
	}
}

// TestShadowProcess: process-served shadow targets (Python children)
// receive a copy of each /invocations request, whether the primary is a
// process-served model or a loopml recommender; their answers, errors
// included, are logged and never returned.
func TestShadowProcess(t *testing.T) {
	score := pythonScorer(t)
	e := newEnv(t)
	var versions []string
	for _, dir := range []string{"py-a", "py-b"} {
		versions = append(versions, e.putPackage(t, dir+"/model", map[string]string{
			"MLmodel":  "flavors:\n  loopml_process:\n    command: [python3, score.py]\n",
			"score.py": string(score),
		}))
	}
	t.Run("process primary", func(t *testing.T) {
		store := &memLog{}
		g, srv := e.logGateway(t, store, serving.PredictionLogConfig{}, serving.EndpointSpec{Name: "py",
			Targets: []serving.TargetSpec{{Model: "models:/recs/" + versions[0]}}, Shadow: []serving.TargetSpec{{Model: "models:/recs/" + versions[1]}}})
		body := `{"dataframe_records": [{"x": 1, "y": 2}]}` // score.py: 2x + 3y + 1 = 9
		got := shadowAnswers(t, g, srv.URL+"/endpoints/py/invocations", "application/json", []string{body, body}, store)
		for i := range 2 {
			sh := got[fmt.Sprint("req-", i, "/true")]
			if sh == nil || sh.Status != 200 || sh.Version != versions[1] || !strings.Contains(sh.Outputs, "9") || sh.Inputs != body {
				t.Errorf("request %d: shadow logged %+v", i, sh)
			}
		}
	})
	t.Run("recommender primary", func(t *testing.T) {
		store := &memLog{}
		g, srv := e.logGateway(t, store, serving.PredictionLogConfig{}, serving.EndpointSpec{Name: "recs",
			Targets: []serving.TargetSpec{{Model: "models:/recs@champion"}}, Shadow: []serving.TargetSpec{{Model: "models:/recs/" + versions[1]}}})
		body := fmt.Sprintf(`{"dataframe_records": [{"user_id": %s, "item_id": %s}]}`, e.users[0], e.items[0])
		got := shadowAnswers(t, g, srv.URL+"/endpoints/recs/invocations", "application/json", []string{body}, store)
		// score.py wants x and y: the shadow's refusal is logged, the
		// client got the recommender's answer.
		if p, sh := got["req-0/false"], got["req-0/true"]; p == nil || p.Status != 200 || sh == nil || sh.Status != 400 || !strings.Contains(sh.Error, "missing column") {
			t.Errorf("logged primary %+v, shadow %+v", p, sh)
		}
	})
}
