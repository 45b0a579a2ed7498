package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
)

func TestPredictionAPI(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.Predictions = c.Experiments.(loopml.PredictionLog) })
	ctx := context.Background()
	var ps []*loopml.Prediction
	for i := range 5 {
		ps = append(ps, &loopml.Prediction{RequestID: fmt.Sprintf("r%d", i), Endpoint: "recs", Target: "models:/recs@champion",
			Model: "recs", Version: "1", Protocol: "invocations", Status: 200, Inputs: `{"inputs": [[1, 2]]}`,
			Outputs: `{"predictions": [3.5]}`, LatencyUs: int64(100 * (i + 1)), Timestamp: 1_000 + int64(i)})
	}
	ps[4].Shadow, ps[4].Target, ps[4].RequestID = true, "models:/recs/2", "r3"
	ps[2].Status, ps[2].Error, ps[2].Truncated = 400, "bad \"input\"", true
	if err := e.db.LogPredictions(ctx, ps); err != nil {
		t.Fatal(err)
	}
	if err := e.db.LogFeedback(ctx, []*loopml.Feedback{
		{RequestID: "r0", Endpoint: "recs", Label: "4", Timestamp: 2_000},
		{RequestID: "r1", Endpoint: "recs", Reward: 1, HasReward: true, Timestamp: 2_001},
	}); err != nil {
		t.Fatal(err)
	}
	c := httpapi.NewClient(e.srv.URL, nil)

	got, err := c.GetPrediction(ctx, "recs", "r0")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.db.GetPrediction(ctx, "recs", "r0")
	if got.Prediction != want.Prediction || got.Feedback == nil || *got.Feedback != *want.Feedback {
		t.Errorf("client got %+v %+v\nstore has %+v %+v", got.Prediction, got.Feedback, want.Prediction, want.Feedback)
	}
	var all []*loopml.LabeledPrediction
	tok := ""
	for {
		page, next, err := c.ListPredictions(ctx, loopml.PredictionQuery{Endpoint: "recs", MaxResults: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		tok = next
	}
	direct, _, _ := e.db.ListPredictions(ctx, loopml.PredictionQuery{Endpoint: "recs"})
	if len(all) != 5 || len(direct) != 5 {
		t.Fatalf("paged %d over HTTP, %d in the store, want 5", len(all), len(direct))
	}
	for i := range all {
		if all[i].Prediction != direct[i].Prediction || (all[i].Feedback == nil) != (direct[i].Feedback == nil) ||
			all[i].Feedback != nil && *all[i].Feedback != *direct[i].Feedback {
			t.Errorf("prediction %d: HTTP %+v, store %+v", i, all[i], direct[i])
		}
	}
	page, _, err := c.ListPredictions(ctx, loopml.PredictionQuery{Endpoint: "recs", Since: 1_001, Until: 1_003, Target: "models:/recs@champion"})
	if err != nil || len(page) != 2 {
		t.Errorf("window: %d predictions, %v; want 2", len(page), err)
	}
	st, err := c.TargetStats(ctx, "recs", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Requests != 4 || st[0].Labeled != 2 || st[0].MeanReward != 1 || st[0].MAE != 0.5 || st[0].LatencyP99Us != 400 {
		t.Errorf("stats %+v", st)
	}

	for _, tt := range []struct {
		path   string
		status int
		msg    string
	}{
		{"predictions/get?endpoint=recs&request_id=nope", 404, "nope"},
		{"predictions/get?request_id=r0", 400, "endpoint"},
		{"predictions/get?endpoint=recs", 400, "request_id"},
		{"predictions/list", 400, "endpoint"},
		{"predictions/list?endpoint=recs&since=yesterday", 400, "since"},
		{"predictions/list?endpoint=recs&max_results=100000", 400, "max_results"},
		{"predictions/list?endpoint=recs&page_token=zz", 400, "page_token"},
		{"predictions/stats", 400, "endpoint"},
	} {
		r := e.do("GET", "/api/2.0/loopml/"+tt.path, "")
		if r.status != tt.status || !strings.Contains(string(r.body), tt.msg) {
			t.Errorf("GET %s: %d %s, want %d with %q", tt.path, r.status, r.body, tt.status, tt.msg)
		}
	}
}

func TestPredictionAPIWithoutStore(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/2.0/loopml/predictions/list?endpoint=recs", "")
	if r.status != http.StatusNotImplemented {
		t.Errorf("status %d %s, want 501", r.status, r.body)
	}
}
