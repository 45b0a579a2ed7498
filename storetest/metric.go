package storetest

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/loopml/loopml"
)

var logBatchTests = []test{
	{"Write", testLogBatchWrite},
	{"Latest", testLatestMetric},
	{"NaNInf", testNaNInf},
	{"ParamsWriteOnce", testParamsWriteOnce},
	{"Invalid", testLogBatchInvalid},
	{"UnknownRun", testLogBatchUnknownRun},
}

var historyTests = []test{
	{"Order", testHistoryOrder},
	{"Paging", testHistoryPaging},
	{"Errors", testHistoryErrors},
	{"BulkInterval", testBulkInterval},
	{"BulkIntervalErrors", testBulkIntervalErrors},
}

var concurrencyTests = []test{
	{"SameRun", testConcurrentSameRun},
	{"ConflictAmongMany", testConflictAmongMany},
	{"ManyRuns", testConcurrentManyRuns},
}

func testLogBatchWrite(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{})
	mustLogBatch(t, s, r.ID, loopml.Batch{
		Metrics: []loopml.Metric{{Key: "m", Value: 1, Timestamp: 1, Step: 0}, {Key: "m", Value: 2, Timestamp: 2, Step: 1}, {Key: "other/x", Value: -3.5, Timestamp: 5, Step: 7}},
		Params:  []loopml.Param{{Key: "p", Value: "v"}, {Key: "p", Value: "v"}, {Key: "empty", Value: ""}},
		Tags:    []loopml.Tag{{Key: "t", Value: "1"}, {Key: "t", Value: "2"}},
	})
	mustLogBatch(t, s, r.ID, loopml.Batch{Tags: []loopml.Tag{{Key: "t", Value: "3"}}, Metrics: []loopml.Metric{{Key: "m", Value: 3, Timestamp: 3, Step: 2}}})
	mustLogBatch(t, s, r.ID, loopml.Batch{}) // empty batch is fine
	got := mustGetRun(t, s, r.ID)
	if v, _ := tagValue(got.Tags, "t"); v != "3" {
		t.Fatalf("tag t = %q, want 3 (overwritten)", v)
	}
	if len(got.Params) != 2 {
		t.Fatalf("got params %+v", got.Params)
	}
	if v, ok := paramValue(got.Params, "empty"); !ok || v != "" {
		t.Fatalf("empty param %q %v", v, ok)
	}
	if m, _ := metricByKey(got.Metrics, "m"); !sameMetric(m, loopml.Metric{Key: "m", Value: 3, Timestamp: 3, Step: 2}) {
		t.Fatalf("latest m %+v", m)
	}
	if h := allHistory(t, s, r.ID, "m", 0); len(h) != 3 {
		t.Fatalf("history of m has %d points, want 3", len(h))
	}
	if h := allHistory(t, s, r.ID, "other/x", 0); len(h) != 1 || !sameMetric(h[0], loopml.Metric{Key: "other/x", Value: -3.5, Timestamp: 5, Step: 7}) {
		t.Fatalf("history of other/x: %s", fmtMetrics(h))
	}
}

func testLatestMetric(t *testing.T, s Store) {
	nan := math.NaN()
	tests := []struct {
		name string
		pts  []loopml.Metric // Key is filled in
		want loopml.Metric
	}{
		{"higher step wins over later time", []loopml.Metric{{Value: 1, Timestamp: 100, Step: 5}, {Value: 2, Timestamp: 50, Step: 6}}, loopml.Metric{Value: 2, Timestamp: 50, Step: 6}},
		{"lower step loses", []loopml.Metric{{Value: 1, Timestamp: 10, Step: 6}, {Value: 2, Timestamp: 50, Step: 5}}, loopml.Metric{Value: 1, Timestamp: 10, Step: 6}},
		{"same step later time", []loopml.Metric{{Value: 9, Timestamp: 20, Step: 1}, {Value: 1, Timestamp: 10, Step: 1}}, loopml.Metric{Value: 9, Timestamp: 20, Step: 1}},
		{"same step and time larger value", []loopml.Metric{{Value: 1, Timestamp: 10, Step: 1}, {Value: 3, Timestamp: 10, Step: 1}, {Value: 2, Timestamp: 10, Step: 1}}, loopml.Metric{Value: 3, Timestamp: 10, Step: 1}},
		{"NaN is largest", []loopml.Metric{{Value: 5, Timestamp: 10, Step: 1}, {Value: nan, Timestamp: 10, Step: 1}, {Value: math.Inf(1), Timestamp: 10, Step: 1}}, loopml.Metric{Value: nan, Timestamp: 10, Step: 1}},
		{"negative steps", []loopml.Metric{{Value: 1, Timestamp: 10, Step: -5}, {Value: 2, Timestamp: 5, Step: -1}}, loopml.Metric{Value: 2, Timestamp: 5, Step: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := strings.ReplaceAll(tc.name, " ", "_")
			want := tc.want
			want.Key = key
			pts := make([]loopml.Metric, len(tc.pts))
			for i, p := range tc.pts {
				p.Key = key
				pts[i] = p
			}
			// All in one batch.
			one := mustCreateRun(t, s, "0", loopml.Run{})
			mustLogBatch(t, s, one.ID, loopml.Batch{Metrics: pts})
			// One batch per point, in order and in reverse order.
			fwd := mustCreateRun(t, s, "0", loopml.Run{})
			rev := mustCreateRun(t, s, "0", loopml.Run{})
			for i := range pts {
				mustLogBatch(t, s, fwd.ID, loopml.Batch{Metrics: pts[i : i+1]})
				mustLogBatch(t, s, rev.ID, loopml.Batch{Metrics: pts[len(pts)-1-i : len(pts)-i]})
			}
			for _, r := range []*loopml.Run{one, fwd, rev} {
				got, ok := metricByKey(mustGetRun(t, s, r.ID).Metrics, key)
				if !ok || !sameMetric(got, want) {
					t.Fatalf("latest = %+v, want %+v", got, want)
				}
			}
			runs, _, err := s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{"0"}, Filter: "attributes.run_id = '" + one.ID + "'"})
			must(t, err)
			if len(runs) != 1 {
				t.Fatalf("search found %d runs", len(runs))
			}
			if got, _ := metricByKey(runs[0].Metrics, key); !sameMetric(got, want) {
				t.Fatalf("latest in search = %+v, want %+v", got, want)
			}
		})
	}
}

func testNaNInf(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{})
	vals := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, -0.0, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e-300, 42.125}
	var pts []loopml.Metric
	for i, v := range vals {
		pts = append(pts, loopml.Metric{Key: "x", Value: v, Timestamp: int64(i), Step: int64(i)})
		pts = append(pts, loopml.Metric{Key: fmt.Sprintf("k%d", i), Value: v, Timestamp: 1, Step: 1})
	}
	mustLogBatch(t, s, r.ID, loopml.Batch{Metrics: pts})
	h := allHistory(t, s, r.ID, "x", 0)
	if len(h) != len(vals) {
		t.Fatalf("got %d points, want %d", len(h), len(vals))
	}
	for i, v := range vals {
		if !sameFloat(h[i].Value, v) {
			t.Fatalf("point %d: got %v, want %v", i, h[i].Value, v)
		}
	}
	got := mustGetRun(t, s, r.ID)
	for i, v := range vals {
		m, ok := metricByKey(got.Metrics, fmt.Sprintf("k%d", i))
		if !ok || !sameFloat(m.Value, v) {
			t.Fatalf("latest k%d = %v, want %v", i, m.Value, v)
		}
	}
}

func testParamsWriteOnce(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{})
	mustLogBatch(t, s, r.ID, loopml.Batch{Params: []loopml.Param{{Key: "lr", Value: "0.1"}}})
	mustLogBatch(t, s, r.ID, loopml.Batch{Params: []loopml.Param{{Key: "lr", Value: "0.1"}}}) // same value: fine
	err := s.LogBatch(ctx, r.ID, loopml.Batch{
		Params:  []loopml.Param{{Key: "new", Value: "1"}, {Key: "lr", Value: "0.2"}},
		Metrics: []loopml.Metric{{Key: "m", Value: 1}},
		Tags:    []loopml.Tag{{Key: "t", Value: "x"}, {Key: loopml.TagRunName, Value: "renamed"}},
	})
	wantErr(t, err, loopml.EINVALID, "lr", "0.1", "0.2")
	// All or nothing: nothing of the failed batch was written.
	got := mustGetRun(t, s, r.ID)
	if len(got.Params) != 1 || len(got.Metrics) != 0 {
		t.Fatalf("failed batch wrote params %+v metrics %+v", got.Params, got.Metrics)
	}
	if _, ok := tagValue(got.Tags, "t"); ok || got.Name == "renamed" {
		t.Fatalf("failed batch wrote tags: %+v name %q", got.Tags, got.Name)
	}
	if h := allHistory(t, s, r.ID, "m", 0); len(h) != 0 {
		t.Fatalf("failed batch wrote %d points", len(h))
	}
	// Duplicate keys with different values inside one batch.
	err = s.LogBatch(ctx, r.ID, loopml.Batch{Params: []loopml.Param{{Key: "d", Value: "1"}, {Key: "d", Value: "2"}}})
	wantErr(t, err, loopml.EINVALID, "d")
}

func testLogBatchInvalid(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{})
	many := func(n int) []loopml.Metric {
		ms := make([]loopml.Metric, n)
		for i := range ms {
			ms[i] = loopml.Metric{Key: "m", Value: float64(i), Step: int64(i)}
		}
		return ms
	}
	params := func(n int) []loopml.Param {
		ps := make([]loopml.Param, n)
		for i := range ps {
			ps[i] = loopml.Param{Key: fmt.Sprintf("p%d", i), Value: "v"}
		}
		return ps
	}
	tests := []struct {
		name string
		b    loopml.Batch
		msg  string
	}{
		{"too many metrics", loopml.Batch{Metrics: many(loopml.MaxBatchMetrics + 1)}, "metrics"},
		{"too many params", loopml.Batch{Params: params(loopml.MaxBatchParams + 1)}, "params"},
		{"too many in total", loopml.Batch{Metrics: many(loopml.MaxBatchMetrics), Params: params(1)}, "total"},
		{"bad metric key", loopml.Batch{Metrics: []loopml.Metric{{Key: "ok", Value: 1}, {Key: "bad*key", Value: 1}}}, "bad*key"},
		{"empty param key", loopml.Batch{Params: []loopml.Param{{Key: "", Value: "x"}}}, "param"},
		{"dotdot metric key", loopml.Batch{Metrics: []loopml.Metric{{Key: "../x", Value: 1}}}, "../x"},
		{"long param value", loopml.Batch{Params: []loopml.Param{{Key: "big", Value: strings.Repeat("x", loopml.MaxParamValueLength+1)}}}, "big"},
		{"long tag value", loopml.Batch{Tags: []loopml.Tag{{Key: "bigtag", Value: strings.Repeat("x", loopml.MaxTagValueLength+1)}}}, "bigtag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, s.LogBatch(ctx, r.ID, tc.b), loopml.EINVALID, tc.msg)
		})
	}
	got := mustGetRun(t, s, r.ID)
	if len(got.Metrics) != 0 || len(got.Params) != 0 {
		t.Fatalf("invalid batches wrote metrics %v params %v", got.Metrics, got.Params)
	}
	if h := allHistory(t, s, r.ID, "ok", 0); len(h) != 0 {
		t.Fatal("invalid batch wrote a point")
	}
	// The limits themselves are fine.
	mustLogBatch(t, s, r.ID, loopml.Batch{Metrics: many(loopml.MaxBatchMetrics)})
	if h := allHistory(t, s, r.ID, "m", 0); len(h) != loopml.MaxBatchMetrics {
		t.Fatalf("got %d points, want %d", len(h), loopml.MaxBatchMetrics)
	}
}

func testLogBatchUnknownRun(t *testing.T, s Store) {
	const id = "abcdefabcdefabcdefabcdefabcdef00"
	wantErr(t, s.LogBatch(ctx, id, loopml.Batch{Metrics: []loopml.Metric{{Key: "m", Value: 1}}}), loopml.ENOTFOUND, id)
	wantErr(t, s.LogBatch(ctx, id, loopml.Batch{}), loopml.ENOTFOUND, id)
}

func testHistoryOrder(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{})
	// Logged out of order, with exact duplicates: history is by step, then
	// timestamp, then logging order, duplicates included.
	mustLogBatch(t, s, r.ID, loopml.Batch{Metrics: []loopml.Metric{
		{Key: "m", Value: 3, Timestamp: 30, Step: 2},
		{Key: "m", Value: 1, Timestamp: 10, Step: 0},
		{Key: "m", Value: 2.5, Timestamp: 25, Step: 1},
		{Key: "m", Value: 2, Timestamp: 20, Step: 1},
	}})
	mustLogBatch(t, s, r.ID, loopml.Batch{Metrics: []loopml.Metric{
		{Key: "m", Value: 7, Timestamp: 20, Step: 1},
		{Key: "m", Value: 1, Timestamp: 10, Step: 0},
		{Key: "other", Value: 0, Timestamp: 1, Step: 0},
	}})
	want := []loopml.Metric{
		{Key: "m", Value: 1, Timestamp: 10, Step: 0},
		{Key: "m", Value: 1, Timestamp: 10, Step: 0},
		{Key: "m", Value: 2, Timestamp: 20, Step: 1},
		{Key: "m", Value: 7, Timestamp: 20, Step: 1},
		{Key: "m", Value: 2.5, Timestamp: 25, Step: 1},
		{Key: "m", Value: 3, Timestamp: 30, Step: 2},
	}
	for _, size := range []int{0, 1, 2, 4, 6, 100} {
		got := allHistory(t, s, r.ID, "m", size)
		if len(got) != len(want) {
			t.Fatalf("page size %d: got %s, want %s", size, fmtMetrics(got), fmtMetrics(want))
		}
		for i := range want {
			if !sameMetric(got[i], want[i]) {
				t.Fatalf("page size %d: got %s, want %s", size, fmtMetrics(got), fmtMetrics(want))
			}
		}
	}
	h, tok, err := s.GetMetricHistory(ctx, loopml.MetricHistoryQuery{RunID: r.ID, Key: "nope"})
	must(t, err)
	if len(h) != 0 || tok != "" {
		t.Fatalf("unknown key gave %d points, token %q", len(h), tok)
	}
}

func testHistoryPaging(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{})
	const n = 2500
	for start := 0; start < n; start += 1000 {
		var ms []loopml.Metric
		for i := start; i < min(start+1000, n); i++ {
			ms = append(ms, loopml.Metric{Key: "loss", Value: float64(i) / 7, Timestamp: int64(1000 + i), Step: int64(i)})
		}
		mustLogBatch(t, s, r.ID, loopml.Batch{Metrics: ms})
	}
	page, tok, err := s.GetMetricHistory(ctx, loopml.MetricHistoryQuery{RunID: r.ID, Key: "loss", MaxResults: 1000})
	must(t, err)
	if len(page) != 1000 || tok == "" {
		t.Fatalf("first page: %d points, token %q", len(page), tok)
	}
	page2, tok2, err := s.GetMetricHistory(ctx, loopml.MetricHistoryQuery{RunID: r.ID, Key: "loss", MaxResults: 1000, PageToken: tok})
	must(t, err)
	if len(page2) != 1000 || page2[0].Step != 1000 || tok2 == "" {
		t.Fatalf("second page: %d points from step %d, token %q", len(page2), page2[0].Step, tok2)
	}
	page3, tok3, err := s.GetMetricHistory(ctx, loopml.MetricHistoryQuery{RunID: r.ID, Key: "loss", MaxResults: 1000, PageToken: tok2})
	must(t, err)
	if len(page3) != 500 || tok3 != "" {
		t.Fatalf("last page: %d points, token %q; want 500 and no token", len(page3), tok3)
	}
	// Exactly full last page: no token.
	full, tok, err := s.GetMetricHistory(ctx, loopml.MetricHistoryQuery{RunID: r.ID, Key: "loss", MaxResults: n})
	must(t, err)
	if len(full) != n || tok != "" {
		t.Fatalf("full page: %d points, token %q", len(full), tok)
	}
	all := allHistory(t, s, r.ID, "loss", 0)
	if len(all) != n {
		t.Fatalf("all history: %d points, want %d", len(all), n)
	}
	for i, m := range all {
		if m.Step != int64(i) || m.Value != float64(i)/7 || m.Timestamp != int64(1000+i) || m.Key != "loss" {
			t.Fatalf("point %d = %+v", i, m)
		}
	}
}

func testHistoryErrors(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{})
	mustLogBatch(t, s, r.ID, loopml.Batch{Metrics: []loopml.Metric{{Key: "m", Value: 1}}})
	const missing = "1234567890abcdef1234567890abcdef"
	tests := []struct {
		name string
		q    loopml.MetricHistoryQuery
		code string
		msg  string
	}{
		{"unknown run", loopml.MetricHistoryQuery{RunID: missing, Key: "m"}, loopml.ENOTFOUND, missing},
		{"missing key", loopml.MetricHistoryQuery{RunID: r.ID}, loopml.EINVALID, "metric_key"},
		{"bad token", loopml.MetricHistoryQuery{RunID: r.ID, Key: "m", PageToken: "%%%"}, loopml.EINVALID, "token"},
		{"foreign token", loopml.MetricHistoryQuery{RunID: r.ID, Key: "m", PageToken: "eyJmb28iOiAxfQ=="}, loopml.EINVALID, "token"},
		{"negative max", loopml.MetricHistoryQuery{RunID: r.ID, Key: "m", MaxResults: -1}, loopml.EINVALID, "max_results"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.GetMetricHistory(ctx, tc.q)
			wantErr(t, err, tc.code, tc.msg)
		})
	}
}

func testBulkInterval(t *testing.T, s Store) {
	var runs []*loopml.Run
	for i := range 3 {
		r := mustCreateRun(t, s, "0", loopml.Run{})
		runs = append(runs, r)
		var ms []loopml.Metric
		for step := 0; step < 100-i; step++ { // run i logs steps 0..99-i
			ms = append(ms, loopml.Metric{Key: "acc", Value: float64(step) + float64(i)/10, Timestamp: int64(step), Step: int64(step)})
		}
		mustLogBatch(t, s, r.ID, loopml.Batch{Metrics: ms})
	}
	ids := []string{runs[2].ID, runs[0].ID, runs[1].ID}
	got, err := s.GetMetricHistoryBulkInterval(ctx, loopml.MetricBulkIntervalQuery{RunIDs: ids, Key: "acc", MaxResults: 10})
	must(t, err)
	steps := map[int64]bool{}
	perRun := map[string]int{}
	for i, m := range got {
		steps[m.Step] = true
		perRun[m.RunID]++
		if m.Key != "acc" {
			t.Fatalf("point %d has key %q", i, m.Key)
		}
		if i > 0 {
			p := got[i-1]
			if p.RunID > m.RunID || p.RunID == m.RunID && p.Step >= m.Step {
				t.Fatalf("points not ordered by run id then step: %+v before %+v", p, m)
			}
		}
		idx := -1
		for j, r := range runs {
			if r.ID == m.RunID {
				idx = j
			}
		}
		if idx < 0 || m.Value != float64(m.Step)+float64(idx)/10 {
			t.Fatalf("point %+v has the wrong run or value", m)
		}
	}
	if len(steps) > 10 || len(steps) < 9 || !steps[0] || !steps[99] {
		t.Fatalf("sampled steps %v: want at most 10, including 0 and 99", steps)
	}
	if perRun[runs[0].ID] != len(steps) {
		t.Fatalf("run 0 has %d points, want one per sampled step (%d)", perRun[runs[0].ID], len(steps))
	}
	// A step range, fewer steps than max: all of them.
	start, end := int64(10), int64(14)
	got, err = s.GetMetricHistoryBulkInterval(ctx, loopml.MetricBulkIntervalQuery{RunIDs: ids[:1], Key: "acc", StartStep: &start, EndStep: &end})
	must(t, err)
	if len(got) != 5 || got[0].Step != 10 || got[4].Step != 14 || got[0].RunID != runs[2].ID {
		t.Fatalf("range 10..14 gave %+v", got)
	}
	// Unknown key: nothing.
	got, err = s.GetMetricHistoryBulkInterval(ctx, loopml.MetricBulkIntervalQuery{RunIDs: ids, Key: "nope"})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("unknown key gave %d points", len(got))
	}
}

func testBulkIntervalErrors(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{})
	tooMany := make([]string, loopml.MaxBulkIntervalRuns+1)
	for i := range tooMany {
		tooMany[i] = r.ID
	}
	start, end := int64(5), int64(4)
	const missing = "fedcba9876543210fedcba9876543210"
	tests := []struct {
		name string
		q    loopml.MetricBulkIntervalQuery
		code string
		msg  string
	}{
		{"no runs", loopml.MetricBulkIntervalQuery{Key: "m"}, loopml.EINVALID, "run_ids"},
		{"too many runs", loopml.MetricBulkIntervalQuery{RunIDs: tooMany, Key: "m"}, loopml.EINVALID, "run_ids"},
		{"no key", loopml.MetricBulkIntervalQuery{RunIDs: []string{r.ID}}, loopml.EINVALID, "metric_key"},
		{"max results too big", loopml.MetricBulkIntervalQuery{RunIDs: []string{r.ID}, Key: "m", MaxResults: loopml.MaxBulkIntervalResults + 1}, loopml.EINVALID, "max_results"},
		{"start after end", loopml.MetricBulkIntervalQuery{RunIDs: []string{r.ID}, Key: "m", StartStep: &start, EndStep: &end}, loopml.EINVALID, "step"},
		{"unknown run", loopml.MetricBulkIntervalQuery{RunIDs: []string{r.ID, missing}, Key: "m"}, loopml.ENOTFOUND, missing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.GetMetricHistoryBulkInterval(ctx, tc.q)
			wantErr(t, err, tc.code, tc.msg)
		})
	}
}

func testConcurrentSameRun(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{})
	const workers, batches, per = 16, 10, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*batches)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				ms := make([]loopml.Metric, per)
				for i := range ms {
					step := int64((b*per+i)*workers + w) // unique steps across workers
					ms[i] = loopml.Metric{Key: "m", Value: float64(step), Timestamp: 1, Step: step}
				}
				if err := s.LogBatch(ctx, r.ID, loopml.Batch{Metrics: ms, Params: []loopml.Param{{Key: "shared", Value: "same"}}, Tags: []loopml.Tag{{Key: "w", Value: "x"}}}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	h := allHistory(t, s, r.ID, "m", 0)
	if len(h) != workers*batches*per {
		t.Fatalf("got %d points, want %d (lost points)", len(h), workers*batches*per)
	}
	for i, m := range h {
		if m.Step != int64(i) {
			t.Fatalf("point %d has step %d", i, m.Step)
		}
	}
	top := int64(workers*batches*per - 1)
	if m, _ := metricByKey(mustGetRun(t, s, r.ID).Metrics, "m"); m.Step != top || m.Value != float64(top) {
		t.Fatalf("latest = %+v, want step %d", m, top)
	}
}

// testConflictAmongMany sends many concurrent batches of which some change a
// param: only those fail, the others are all written.
func testConflictAmongMany(t *testing.T, s Store) {
	const n = 24
	runs := make([]*loopml.Run, n)
	for i := range runs {
		runs[i] = mustCreateRun(t, s, "0", loopml.Run{})
		mustLogBatch(t, s, runs[i].ID, loopml.Batch{Params: []loopml.Param{{Key: "fixed", Value: "a"}}})
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v := "a"
			if i%5 == 2 {
				v = "b" // conflicts
			}
			ms := make([]loopml.Metric, 200)
			for j := range ms {
				ms[j] = loopml.Metric{Key: "m", Value: float64(j), Step: int64(j)}
			}
			errs[i] = s.LogBatch(ctx, runs[i].ID, loopml.Batch{Metrics: ms, Params: []loopml.Param{{Key: "p", Value: "x"}, {Key: "fixed", Value: v}}, Tags: []loopml.Tag{{Key: "t", Value: "y"}}})
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range runs {
		got := mustGetRun(t, s, r.ID)
		h := allHistory(t, s, r.ID, "m", 0)
		if i%5 == 2 {
			wantErr(t, errs[i], loopml.EINVALID, "fixed", "'a'", "'b'")
			if len(h) != 0 || len(got.Params) != 1 {
				t.Fatalf("failed batch %d wrote %d points, params %+v", i, len(h), got.Params)
			}
			if _, ok := tagValue(got.Tags, "t"); ok {
				t.Fatalf("failed batch %d wrote a tag", i)
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("batch %d: %v", i, errs[i])
		}
		if len(h) != 200 || len(got.Params) != 2 {
			t.Fatalf("batch %d: %d points, params %+v", i, len(h), got.Params)
		}
		if v, _ := tagValue(got.Tags, "t"); v != "y" {
			t.Fatalf("batch %d: tag t %q", i, v)
		}
	}
}

func testConcurrentManyRuns(t *testing.T, s Store) {
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n*20)
	ids := make([]string, n)
	for i := range n {
		ids[i] = mustCreateRun(t, s, "0", loopml.Run{}).ID
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range 20 {
				ms := []loopml.Metric{{Key: fmt.Sprintf("k%d", b%3), Value: float64(b), Step: int64(b), Timestamp: int64(b)}}
				var err error
				if b%7 == 3 {
					// Interleave reads with the writes.
					_, err = s.GetRun(ctx, ids[i])
				} else {
					err = s.LogBatch(ctx, ids[i], loopml.Batch{Metrics: ms, Tags: []loopml.Tag{{Key: "b", Value: fmt.Sprint(b)}}})
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, id := range ids {
		got := mustGetRun(t, s, id)
		if v, _ := tagValue(got.Tags, "b"); v != "19" {
			t.Fatalf("run %s tag b = %q, want 19", id, v)
		}
		total := 0
		for k := range 3 {
			total += len(allHistory(t, s, id, fmt.Sprintf("k%d", k), 0))
		}
		if total != 17 { // 20 minus the 3 reads (b = 3, 10, 17)
			t.Fatalf("run %s has %d points, want 17", id, total)
		}
	}
}
