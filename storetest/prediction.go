package storetest

import (
	"fmt"
	"math"
	"testing"

	"github.com/loopml/loopml"
)

var predictionTests = []test{
	{"LogAndGet", testPredictionLogAndGet},
	{"IdempotentRelog", testPredictionIdempotent},
	{"ShadowKeepsPrimary", testPredictionShadow},
	{"FeedbackBeforePrediction", testFeedbackBeforePrediction},
	{"DuplicateFeedbackLatestWins", testFeedbackLatestWins},
	{"Stats", testPredictionStats},
	{"Retention", testPredictionRetention},
	{"Paging", testPredictionPaging},
	{"Invalid", testPredictionInvalid},
	{"Workspaces", testPredictionWorkspaces},
}

// predictionLog returns s as a PredictionLog, skipping stores without one.
func predictionLog(t *testing.T, s Store) loopml.PredictionLog {
	t.Helper()
	pl, ok := s.(loopml.PredictionLog)
	if !ok {
		t.Skip("store does not implement loopml.PredictionLog")
	}
	return pl
}

// day0 is a fixed epoch-ms timestamp (2026-11-02 00:00 UTC).
const day0 = int64(1793577600000)

const dayMillis = int64(24 * 3600 * 1000)

func pred(id string, ts int64, target string, out string) *loopml.Prediction {
	return &loopml.Prediction{RequestID: id, Endpoint: "recs", Target: target, Model: "recs", Version: "1",
		Protocol: "invocations", Status: 200, Inputs: `{"inputs":[[1,2]]}`, Outputs: out, LatencyUs: 100, Timestamp: ts}
}

func mustLogPredictions(t *testing.T, pl loopml.PredictionLog, ps ...*loopml.Prediction) {
	t.Helper()
	if err := pl.LogPredictions(ctx, ps); err != nil {
		t.Fatalf("log predictions: %v", err)
	}
}

func mustLogFeedback(t *testing.T, pl loopml.PredictionLog, fs ...*loopml.Feedback) {
	t.Helper()
	if err := pl.LogFeedback(ctx, fs); err != nil {
		t.Fatalf("log feedback: %v", err)
	}
}

func mustGetPrediction(t *testing.T, pl loopml.PredictionLog, id string) *loopml.LabeledPrediction {
	t.Helper()
	lp, err := pl.GetPrediction(ctx, "recs", id)
	if err != nil {
		t.Fatalf("get prediction %s: %v", id, err)
	}
	return lp
}

func testPredictionLogAndGet(t *testing.T, s Store) {
	pl := predictionLog(t, s)
	p := &loopml.Prediction{RequestID: "r1", Endpoint: "recs", Target: "models:/recs@champion", Model: "recs", Version: "3",
		Protocol: "infer", Status: 400, Error: "input column 'user_id' is missing", Inputs: `{"a":"é"}`, Outputs: `{"error":"x"}`,
		Truncated: true, LatencyUs: 1234, Timestamp: day0 + 5}
	mustLogPredictions(t, pl, p)
	got := mustGetPrediction(t, pl, "r1")
	want := *p
	want.Workspace = loopml.DefaultWorkspace
	if got.Prediction != want {
		t.Errorf("got %+v\nwant %+v", got.Prediction, want)
	}
	if got.Feedback != nil {
		t.Errorf("feedback = %+v, want none", got.Feedback)
	}
	_, err := pl.GetPrediction(ctx, "recs", "nope")
	wantErr(t, err, loopml.ENOTFOUND, "nope")
	_, err = pl.GetPrediction(ctx, "other", "r1")
	wantErr(t, err, loopml.ENOTFOUND)
	// Text PostgreSQL cannot store is cleaned, not refused.
	mustLogPredictions(t, pl, &loopml.Prediction{RequestID: "bad-utf8", Endpoint: "recs", Status: 400, Inputs: "a\x00b\xffc", Timestamp: day0})
	if got := mustGetPrediction(t, pl, "bad-utf8").Inputs; got != "ab\uFFFDc" {
		t.Errorf("cleaned inputs = %q", got)
	}
	// An empty batch is fine; a zero timestamp becomes now.
	mustLogPredictions(t, pl)
	mustLogPredictions(t, pl, &loopml.Prediction{RequestID: "now", Endpoint: "recs", Status: 200})
	if got := mustGetPrediction(t, pl, "now").Timestamp; got <= day0 {
		t.Errorf("timestamp of a prediction logged without one = %d, want now", got)
	}
}

func testPredictionIdempotent(t *testing.T, s Store) {
	pl := predictionLog(t, s)
	mustLogPredictions(t, pl, pred("r1", day0, "t", "1"), pred("r2", day0+1, "t", "2"))
	// A retried batch (and a duplicate inside one batch) changes nothing.
	again := pred("r1", day0+99, "t", "99")
	mustLogPredictions(t, pl, again, pred("r2", day0+1, "t", "2"), pred("r3", day0+2, "t", "3"), pred("r3", day0+3, "t", "33"))
	if got := mustGetPrediction(t, pl, "r1"); got.Outputs != "1" || got.Timestamp != day0 {
		t.Errorf("re-logged r1 = %+v, want the first one kept", got.Prediction)
	}
	page, _, err := pl.ListPredictions(ctx, loopml.PredictionQuery{Endpoint: "recs"})
	must(t, err)
	if len(page) != 3 {
		t.Fatalf("got %d predictions, want 3", len(page))
	}
	if got := mustGetPrediction(t, pl, "r3"); got.Outputs != "3" {
		t.Errorf("r3 outputs = %q, want the first of the batch", got.Outputs)
	}
}

func testPredictionShadow(t *testing.T, s Store) {
	pl := predictionLog(t, s)
	sh := pred("r1", day0, "models:/recs/9", "5")
	sh.Shadow = true
	sh2 := pred("r1", day0, "models:/recs/10", "6")
	sh2.Shadow = true
	mustLogPredictions(t, pl, sh)
	mustLogPredictions(t, pl, pred("r1", day0, "models:/recs@champion", "4"), sh2)
	got := mustGetPrediction(t, pl, "r1")
	if got.Shadow || got.Target != "models:/recs@champion" {
		t.Errorf("get returned %+v, want the primary prediction", got.Prediction)
	}
	page, _, err := pl.ListPredictions(ctx, loopml.PredictionQuery{Endpoint: "recs"})
	must(t, err)
	if len(page) != 3 {
		t.Fatalf("got %d rows, want primary + 2 shadows", len(page))
	}
	shadows := 0
	for _, p := range page {
		if p.Shadow {
			shadows++
		}
	}
	if shadows != 2 {
		t.Errorf("%d shadow rows, want 2", shadows)
	}
	// Feedback joins every slot of the request; stats count the primary only.
	mustLogFeedback(t, pl, &loopml.Feedback{RequestID: "r1", Endpoint: "recs", Label: "4", Timestamp: day0 + 10})
	page, _, err = pl.ListPredictions(ctx, loopml.PredictionQuery{Endpoint: "recs", Target: "models:/recs/9"})
	must(t, err)
	if len(page) != 1 || page[0].Feedback == nil || page[0].Feedback.Label != "4" {
		t.Errorf("shadow with feedback = %+v", page)
	}
	st, err := pl.TargetStats(ctx, "recs", day0, day0+dayMillis)
	must(t, err)
	if len(st) != 1 || st[0].Target != "models:/recs@champion" || st[0].Requests != 1 {
		t.Errorf("stats = %+v, want only the primary target", st)
	}
}

func testFeedbackBeforePrediction(t *testing.T, s Store) {
	pl := predictionLog(t, s)
	mustLogFeedback(t, pl, &loopml.Feedback{RequestID: "late", Endpoint: "recs", Label: "4.5", Timestamp: day0 + 50})
	_, err := pl.GetPrediction(ctx, "recs", "late")
	wantErr(t, err, loopml.ENOTFOUND)
	mustLogPredictions(t, pl, pred("late", day0, "t", `{"predictions":[4.0]}`))
	got := mustGetPrediction(t, pl, "late")
	if got.Feedback == nil || got.Feedback.Label != "4.5" || got.Feedback.Timestamp != day0+50 || got.Feedback.HasReward {
		t.Fatalf("feedback = %+v, want label 4.5 joined", got.Feedback)
	}
	st, err := pl.TargetStats(ctx, "recs", day0, day0+dayMillis)
	must(t, err)
	if len(st) != 1 || st[0].Labeled != 1 || math.Abs(st[0].MAE-0.5) > 1e-9 || math.Abs(st[0].RMSE-0.5) > 1e-9 {
		t.Errorf("stats = %+v, want 1 labeled, MAE = RMSE = 0.5", st)
	}
}

func testFeedbackLatestWins(t *testing.T, s Store) {
	pl := predictionLog(t, s)
	mustLogPredictions(t, pl, pred("r1", day0, "t", "3"))
	mustLogFeedback(t, pl, &loopml.Feedback{RequestID: "r1", Endpoint: "recs", Label: "1", Timestamp: day0 + 10})
	mustLogFeedback(t, pl, &loopml.Feedback{RequestID: "r1", Endpoint: "recs", Label: "2", Timestamp: day0 + 20})
	// Out of order: an older feedback arriving later does not win.
	mustLogFeedback(t, pl, &loopml.Feedback{RequestID: "r1", Endpoint: "recs", Label: "0", Timestamp: day0 + 15})
	if f := mustGetPrediction(t, pl, "r1").Feedback; f == nil || f.Label != "2" {
		t.Fatalf("feedback = %+v, want label 2 (the latest)", f)
	}
	// Duplicates inside one batch: the latest wins; a reward replaces a label.
	mustLogFeedback(t, pl,
		&loopml.Feedback{RequestID: "r1", Endpoint: "recs", Reward: 1, HasReward: true, Timestamp: day0 + 40},
		&loopml.Feedback{RequestID: "r1", Endpoint: "recs", Label: "7", Timestamp: day0 + 30})
	f := mustGetPrediction(t, pl, "r1").Feedback
	if f == nil || !f.HasReward || f.Reward != 1 || f.Label != "" || f.Timestamp != day0+40 {
		t.Fatalf("feedback = %+v, want reward 1 at +40", f)
	}
}

func testPredictionStats(t *testing.T, s Store) {
	pl := predictionLog(t, s)
	var ps []*loopml.Prediction
	// Target a: 100 requests, latency 1..100 µs, 3 errors (500), versions 1 (60) and 2 (40).
	for i := 1; i <= 100; i++ {
		p := pred(fmt.Sprintf("a%03d", i), day0+int64(i), "a", fmt.Sprintf(`{"predictions":[%d]}`, 3))
		p.LatencyUs = int64(i)
		if i <= 3 {
			p.Status, p.Error = 500, "boom"
		}
		if i > 60 {
			p.Version = "2"
		}
		ps = append(ps, p)
	}
	// Target b: 10 requests of 1000 µs, a 400 (not an error of the target).
	for i := 1; i <= 10; i++ {
		p := pred(fmt.Sprintf("b%02d", i), day0+int64(i), "b", "2.5")
		p.LatencyUs = 1000
		if i == 1 {
			p.Status = 400
		}
		ps = append(ps, p)
	}
	// Outside the window.
	ps = append(ps, pred("old", day0-1, "a", "0"), pred("new", day0+dayMillis, "a", "0"))
	mustLogPredictions(t, pl, ps...)
	mustLogFeedback(t, pl,
		&loopml.Feedback{RequestID: "a001", Endpoint: "recs", Label: "5"},     // |3-5| = 2
		&loopml.Feedback{RequestID: "a002", Endpoint: "recs", Label: "[1]"},   // |3-1| = 2
		&loopml.Feedback{RequestID: "a003", Endpoint: "recs", Label: `"3"`},   // 0
		&loopml.Feedback{RequestID: "a004", Endpoint: "recs", Label: `"cat"`}, // labeled, not numeric
		&loopml.Feedback{RequestID: "b01", Endpoint: "recs", Reward: 1, HasReward: true},
		&loopml.Feedback{RequestID: "b02", Endpoint: "recs", Reward: 0, HasReward: true},
		&loopml.Feedback{RequestID: "b03", Endpoint: "recs", Label: "1.5"}, // |2.5-1.5| = 1
		&loopml.Feedback{RequestID: "old", Endpoint: "recs", Label: "100"},
	)
	st, err := pl.TargetStats(ctx, "recs", day0, day0+dayMillis)
	must(t, err)
	if len(st) != 2 {
		t.Fatalf("got %d targets, want 2: %+v", len(st), st)
	}
	a, b := st[0], st[1]
	wantA := loopml.TargetStats{Target: "a", Version: "1", Requests: 100, Errors: 3, LatencyP50Us: 50, LatencyP99Us: 99,
		Labeled: 4, RMSE: math.Sqrt(8.0 / 3), MAE: 4.0 / 3}
	if a.Target != wantA.Target || a.Version != wantA.Version || a.Requests != wantA.Requests || a.Errors != wantA.Errors ||
		a.LatencyP50Us != wantA.LatencyP50Us || a.LatencyP99Us != wantA.LatencyP99Us || a.Labeled != wantA.Labeled ||
		math.Abs(a.RMSE-wantA.RMSE) > 1e-9 || math.Abs(a.MAE-wantA.MAE) > 1e-9 || a.MeanReward != 0 {
		t.Errorf("target a:\n got %+v\nwant %+v", a, wantA)
	}
	if b.Target != "b" || b.Requests != 10 || b.Errors != 0 || b.LatencyP50Us != 1000 || b.LatencyP99Us != 1000 ||
		b.Labeled != 3 || b.MeanReward != 0.5 || math.Abs(b.MAE-1) > 1e-9 || math.Abs(b.RMSE-1) > 1e-9 {
		t.Errorf("target b: got %+v", b)
	}
	// An empty window and an unknown endpoint have no targets.
	st, err = pl.TargetStats(ctx, "recs", day0+2*dayMillis, day0+3*dayMillis)
	must(t, err)
	if len(st) != 0 {
		t.Errorf("empty window: %+v", st)
	}
	st, err = pl.TargetStats(ctx, "nope", 0, 0)
	must(t, err)
	if len(st) != 0 {
		t.Errorf("unknown endpoint: %+v", st)
	}
	// until 0 means now: everything logged so far.
	st, err = pl.TargetStats(ctx, "recs", 0, 0)
	must(t, err)
	if len(st) != 2 || st[0].Requests != 102 {
		t.Errorf("until now: %+v", st)
	}
}

func testPredictionRetention(t *testing.T, s Store) {
	pl := predictionLog(t, s)
	var ps []*loopml.Prediction
	for d := int64(0); d < 5; d++ {
		for i := range 4 {
			ps = append(ps, pred(fmt.Sprintf("d%d-%d", d, i), day0+d*dayMillis+int64(i)*1000, "t", "1"))
		}
	}
	other := pred("o1", day0, "t", "1")
	other.Endpoint = "other"
	ps = append(ps, other)
	mustLogPredictions(t, pl, ps...)
	mustLogFeedback(t, pl,
		&loopml.Feedback{RequestID: "d0-1", Endpoint: "recs", Label: "1", Timestamp: day0 + 4*dayMillis}, // late feedback of a deleted prediction
		&loopml.Feedback{RequestID: "ghost", Endpoint: "recs", Label: "1", Timestamp: day0},              // never met a prediction
		&loopml.Feedback{RequestID: "d3-0", Endpoint: "recs", Label: "1", Timestamp: day0 + 3*dayMillis},
	)
	// Delete days 0 and 1 and the first two predictions of day 2.
	n, err := pl.DeletePredictions(ctx, "recs", day0+2*dayMillis+1500)
	must(t, err)
	if n != 10 {
		t.Errorf("deleted %d, want 10", n)
	}
	page, _, err := pl.ListPredictions(ctx, loopml.PredictionQuery{Endpoint: "recs"})
	must(t, err)
	if len(page) != 10 || page[0].RequestID != "d2-2" {
		t.Errorf("left %d predictions starting at %s, want 10 from d2-2", len(page), page[0].RequestID)
	}
	// The feedback of a deleted prediction is gone: a re-logged prediction
	// does not meet it again. Kept feedback still joins.
	mustLogPredictions(t, pl, pred("d0-1", day0+4*dayMillis, "t", "1"), pred("ghost", day0+4*dayMillis, "t", "1"))
	if f := mustGetPrediction(t, pl, "d0-1").Feedback; f != nil {
		t.Errorf("feedback of a deleted prediction survived: %+v", f)
	}
	if f := mustGetPrediction(t, pl, "ghost").Feedback; f != nil {
		t.Errorf("old orphan feedback survived: %+v", f)
	}
	if f := mustGetPrediction(t, pl, "d3-0").Feedback; f == nil {
		t.Error("feedback of a kept prediction was deleted")
	}
	// Other endpoints are untouched; "" means every endpoint; repeating is a no-op.
	if _, err := pl.GetPrediction(ctx, "other", "o1"); err != nil {
		t.Errorf("other endpoint's prediction: %v", err)
	}
	n, err = pl.DeletePredictions(ctx, "recs", day0+2*dayMillis+1500)
	must(t, err)
	if n != 0 {
		t.Errorf("second delete removed %d", n)
	}
	n, err = pl.DeletePredictions(ctx, "", day0+dayMillis)
	must(t, err)
	if n != 1 {
		t.Errorf("delete on every endpoint removed %d, want 1 (other/o1)", n)
	}
	_, err = pl.DeletePredictions(ctx, "recs", 0)
	wantErr(t, err, loopml.EINVALID, "before")
}

func testPredictionPaging(t *testing.T, s Store) {
	pl := predictionLog(t, s)
	var ps []*loopml.Prediction
	for i := range 25 {
		// Three per millisecond across a day boundary, targets alternating.
		ts := day0 + dayMillis - 5 + int64(i/3)
		ps = append(ps, pred(fmt.Sprintf("r%02d", 24-i), ts, []string{"a", "b"}[i%2], "1"))
	}
	mustLogPredictions(t, pl, ps...)
	var all []*loopml.LabeledPrediction
	tok := ""
	for pages := 0; ; pages++ {
		page, next, err := pl.ListPredictions(ctx, loopml.PredictionQuery{Endpoint: "recs", MaxResults: 7, PageToken: tok})
		must(t, err)
		if len(page) > 7 {
			t.Fatalf("page of %d > 7", len(page))
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		tok = next
	}
	if len(all) != 25 {
		t.Fatalf("paged %d predictions, want 25", len(all))
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.Timestamp > b.Timestamp || (a.Timestamp == b.Timestamp && a.RequestID >= b.RequestID) {
			t.Fatalf("not in (timestamp, request id) order at %d: %s@%d then %s@%d", i, a.RequestID, a.Timestamp, b.RequestID, b.Timestamp)
		}
	}
	// Window [since, until) and target filter.
	page, _, err := pl.ListPredictions(ctx, loopml.PredictionQuery{Endpoint: "recs", Since: day0 + dayMillis - 4, Until: day0 + dayMillis})
	must(t, err)
	if len(page) != 12 {
		t.Errorf("window holds %d, want 12", len(page))
	}
	page, _, err = pl.ListPredictions(ctx, loopml.PredictionQuery{Endpoint: "recs", Target: "a"})
	must(t, err)
	if len(page) != 13 {
		t.Errorf("target a has %d, want 13", len(page))
	}
	_, _, err = pl.ListPredictions(ctx, loopml.PredictionQuery{Endpoint: "recs", PageToken: "!!"})
	wantErr(t, err, loopml.EINVALID, "page_token")
	_, _, err = pl.ListPredictions(ctx, loopml.PredictionQuery{})
	wantErr(t, err, loopml.EINVALID, "endpoint")
}

func testPredictionInvalid(t *testing.T, s Store) {
	pl := predictionLog(t, s)
	err := pl.LogPredictions(ctx, []*loopml.Prediction{pred("ok", day0, "t", "1"), {Endpoint: "recs"}})
	wantErr(t, err, loopml.EINVALID, "predictions[1]", "request_id")
	err = pl.LogPredictions(ctx, []*loopml.Prediction{{RequestID: "x"}})
	wantErr(t, err, loopml.EINVALID, "endpoint")
	if _, err := pl.GetPrediction(ctx, "recs", "ok"); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Errorf("a refused batch stored something: %v", err)
	}
	for _, tc := range []struct {
		f    loopml.Feedback
		want string
	}{
		{loopml.Feedback{Endpoint: "recs", Label: "1"}, "request_id"},
		{loopml.Feedback{RequestID: "r", Label: "1"}, "endpoint"},
		{loopml.Feedback{RequestID: "r", Endpoint: "recs"}, "label or reward"},
		{loopml.Feedback{RequestID: "r", Endpoint: "recs", Label: "{"}, "label"},
		{loopml.Feedback{RequestID: "r", Endpoint: "recs", Reward: math.NaN(), HasReward: true}, "reward"},
	} {
		err := pl.LogFeedback(ctx, []*loopml.Feedback{&tc.f})
		wantErr(t, err, loopml.EINVALID, "feedback[0]", tc.want)
	}
}

func testPredictionWorkspaces(t *testing.T, s Store) {
	pl := predictionLog(t, s)
	team := loopml.NewContextWithWorkspace(ctx, "team")
	must(t, pl.LogPredictions(team, []*loopml.Prediction{pred("r1", day0, "t", "1")}))
	must(t, pl.LogFeedback(team, []*loopml.Feedback{{RequestID: "r1", Endpoint: "recs", Label: "2"}}))
	if _, err := pl.GetPrediction(ctx, "recs", "r1"); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Errorf("default workspace sees team's prediction: %v", err)
	}
	lp, err := pl.GetPrediction(team, "recs", "r1")
	must(t, err)
	if lp.Workspace != "team" || lp.Feedback == nil {
		t.Errorf("team prediction = %+v", lp)
	}
	n, err := pl.DeletePredictions(ctx, "", day0+dayMillis)
	must(t, err)
	if n != 0 {
		t.Errorf("default-workspace retention deleted %d team predictions", n)
	}
}
