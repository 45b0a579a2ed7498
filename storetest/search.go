package storetest

import (
	"math"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

var searchRunsTests = []test{
	{"FilterOrder", testSearchRunsFilterOrder},
	{"Paging", testSearchRunsPaging},
	{"Errors", testSearchRunsErrors},
	{"TieBreak", testSearchRunsTieBreak},
}

// searchFixture creates runs alpha (start 1000), beta (2000), gamma (3000)
// and delta (4000) in one experiment and eps (500) in another.
type searchFixture struct {
	exp, exp2                      string
	alpha, beta, gamma, delta, eps *loopml.Run
}

func newSearchFixture(t *testing.T, s Store) *searchFixture {
	f := &searchFixture{exp: mustCreateExperiment(t, s, "search").ID, exp2: mustCreateExperiment(t, s, "search2").ID}
	f.alpha = mustCreateRun(t, s, f.exp, loopml.Run{Name: "alpha", StartTime: 1000, UserID: "u1"})
	f.beta = mustCreateRun(t, s, f.exp, loopml.Run{Name: "beta", StartTime: 2000, UserID: "u2"})
	f.gamma = mustCreateRun(t, s, f.exp, loopml.Run{Name: "gamma", StartTime: 3000})
	f.delta = mustCreateRun(t, s, f.exp, loopml.Run{Name: "delta", StartTime: 4000})
	f.eps = mustCreateRun(t, s, f.exp2, loopml.Run{Name: "eps", StartTime: 500})
	mustLogBatch(t, s, f.alpha.ID, loopml.Batch{
		Metrics: []loopml.Metric{{Key: "rmse", Value: 0.5, Step: 1}, {Key: "acc", Value: 0.9}},
		Params:  []loopml.Param{{Key: "model", Value: "tree"}, {Key: "lr", Value: "0.1"}},
		Tags:    []loopml.Tag{{Key: "team", Value: "Vision"}},
	})
	mustLogBatch(t, s, f.beta.ID, loopml.Batch{
		Metrics: []loopml.Metric{{Key: "rmse", Value: 0.3}},
		Params:  []loopml.Param{{Key: "model", Value: "linear"}},
		Tags:    []loopml.Tag{{Key: "team", Value: "nlp"}},
	})
	mustLogBatch(t, s, f.gamma.ID, loopml.Batch{Metrics: []loopml.Metric{{Key: "rmse", Value: math.NaN()}}})
	mustLogBatch(t, s, f.eps.ID, loopml.Batch{Metrics: []loopml.Metric{{Key: "rmse", Value: 0.1}}})
	must(t, s.LogInputs(ctx, f.alpha.ID, []loopml.DatasetInput{{Dataset: loopml.Dataset{Name: "iris", Digest: "d1"}, Tags: []loopml.Tag{{Key: loopml.TagDatasetContext, Value: "training"}}}}))
	must(t, s.LogInputs(ctx, f.beta.ID, []loopml.DatasetInput{{Dataset: loopml.Dataset{Name: "wine", Digest: "d2"}, Tags: []loopml.Tag{{Key: loopml.TagDatasetContext, Value: "eval"}}}}))
	status, end := loopml.RunFinished, int64(5000)
	_, err := s.UpdateRun(ctx, f.alpha.ID, loopml.RunUpdate{Status: &status, EndTime: &end})
	must(t, err)
	return f
}

func testSearchRunsFilterOrder(t *testing.T, s Store) {
	f := newSearchFixture(t, s)
	tests := []struct {
		filter  string
		orderBy []string
		want    []string // run names, in order
	}{
		{"", nil, []string{"delta", "gamma", "beta", "alpha"}},
		{"metrics.rmse < 0.4", nil, []string{"beta"}},
		{"metrics.rmse >= 0.3", nil, []string{"beta", "alpha"}},
		{"metrics.rmse = 0.5", nil, []string{"alpha"}},
		{"metrics.acc > 0", nil, []string{"alpha"}},
		{"metrics.nothing > 0", nil, nil},
		{"params.model = 'tree'", nil, []string{"alpha"}},
		{"params.model != 'tree'", nil, []string{"beta"}},
		{"params.model LIKE 't%'", nil, []string{"alpha"}},
		{"params.model LIKE '%e%'", nil, []string{"beta", "alpha"}},
		{"params.model ILIKE 'TR_E'", nil, []string{"alpha"}},
		{"tags.team LIKE 'v%'", nil, nil},
		{"tags.team ILIKE 'v%'", nil, []string{"alpha"}},
		{"tags.team = 'nlp'", nil, []string{"beta"}},
		{"params.model IN ('tree', 'x')", nil, []string{"alpha"}},
		{"params.model NOT IN ('tree')", nil, []string{"beta"}},
		{"tags.team IN ('nlp', 'Vision')", nil, []string{"beta", "alpha"}},
		{"tags.`mlflow.runName` = 'gamma'", nil, []string{"gamma"}},
		{"attributes.run_name = 'beta'", nil, []string{"beta"}},
		{"attributes.run_name LIKE '%a'", nil, []string{"delta", "gamma", "beta", "alpha"}},
		{"attributes.status = 'FINISHED'", nil, []string{"alpha"}},
		{"attributes.status != 'FINISHED'", nil, []string{"delta", "gamma", "beta"}},
		{"attributes.user_id = 'u2'", nil, []string{"beta"}},
		{"attributes.start_time > 1500", nil, []string{"delta", "gamma", "beta"}},
		{"attributes.start_time >= 2000 AND attributes.start_time < 4000", nil, []string{"gamma", "beta"}},
		{"attributes.end_time > 0", nil, []string{"alpha"}},
		{"attributes.run_id IN ('" + f.alpha.ID + "', '" + f.gamma.ID + "')", nil, []string{"gamma", "alpha"}},
		{"attributes.run_id NOT IN ('" + f.alpha.ID + "')", nil, []string{"delta", "gamma", "beta"}},
		{"attributes.run_id = '" + f.beta.ID + "'", nil, []string{"beta"}},
		{"attributes.artifact_uri LIKE '%" + f.delta.ID + "%'", nil, []string{"delta"}},
		{"dataset.name = 'iris'", nil, []string{"alpha"}},
		{"dataset.digest = 'd2'", nil, []string{"beta"}},
		{"dataset.name IN ('iris', 'nope')", nil, []string{"alpha"}},
		{"dataset.name NOT IN ('iris')", nil, []string{"beta"}},
		{"dataset.context LIKE 'ev%'", nil, []string{"beta"}},
		{"dataset.context = 'training'", nil, []string{"alpha"}},
		{"metrics.rmse < 0.6 AND params.model = 'tree' AND tags.team = 'Vision'", nil, []string{"alpha"}},
		{"", []string{"metrics.rmse ASC"}, []string{"beta", "alpha", "gamma", "delta"}},
		{"", []string{"metrics.rmse DESC"}, []string{"gamma", "alpha", "beta", "delta"}},
		{"", []string{"params.model ASC"}, []string{"beta", "alpha", "delta", "gamma"}},
		{"", []string{"params.model DESC"}, []string{"alpha", "beta", "delta", "gamma"}},
		{"", []string{"tags.team ASC"}, []string{"alpha", "beta", "delta", "gamma"}},
		{"", []string{"attributes.run_name ASC"}, []string{"alpha", "beta", "delta", "gamma"}},
		{"", []string{"attributes.run_name DESC"}, []string{"gamma", "delta", "beta", "alpha"}},
		{"", []string{"attributes.start_time ASC"}, []string{"alpha", "beta", "gamma", "delta"}},
		{"", []string{"attributes.end_time DESC"}, []string{"alpha", "delta", "gamma", "beta"}},
		{"", []string{"attributes.end_time ASC"}, []string{"alpha", "delta", "gamma", "beta"}},
		{"", []string{"metrics.acc DESC", "params.model ASC"}, []string{"alpha", "beta", "delta", "gamma"}},
		{"metrics.rmse > 0", []string{"metrics.rmse DESC"}, []string{"alpha", "beta"}},
	}
	for _, tc := range tests {
		t.Run(tc.filter+"|"+strings.Join(tc.orderBy, ","), func(t *testing.T) {
			runs, tok, err := s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{f.exp}, Filter: tc.filter, OrderBy: tc.orderBy})
			if err != nil {
				t.Fatalf("search filter %q order %v: %v", tc.filter, tc.orderBy, err)
			}
			if got := runNames(runs); !equalStrings(got, tc.want) {
				t.Fatalf("filter %q order %v: got %q, want %q", tc.filter, tc.orderBy, got, tc.want)
			}
			if tok != "" {
				t.Fatalf("single page returned token %q", tok)
			}
		})
	}
	// Several experiments at once.
	runs, _, err := s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{f.exp, f.exp2}, Filter: "metrics.rmse < 0.4"})
	must(t, err)
	if got := runNames(runs); !equalStrings(got, []string{"beta", "eps"}) {
		t.Fatalf("two experiments: got %q", got)
	}
	// Runs come back with their data.
	runs, _, err = s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{f.exp}, Filter: "attributes.run_name = 'alpha'"})
	must(t, err)
	a := runs[0]
	if len(a.Params) != 2 || len(a.Metrics) != 2 || len(a.Inputs) != 1 || a.Status != loopml.RunFinished || a.EndTime != 5000 || a.UserID != "u1" {
		t.Fatalf("search result lacks data: %+v", a)
	}
	if v, _ := tagValue(a.Tags, "team"); v != "Vision" {
		t.Fatalf("search result tag team %q", v)
	}
	// No experiment ids: no runs.
	runs, tok, err := s.SearchRuns(ctx, loopml.RunSearch{})
	must(t, err)
	if len(runs) != 0 || tok != "" {
		t.Fatalf("search without experiments returned %d runs", len(runs))
	}
	// Deleted runs are hidden unless asked for.
	must(t, s.DeleteRun(ctx, f.beta.ID))
	runs, _, err = s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{f.exp}, Filter: "metrics.rmse < 0.4"})
	must(t, err)
	if len(runs) != 0 {
		t.Fatalf("deleted run found by active search: %q", runNames(runs))
	}
	runs, _, err = s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{f.exp}, Filter: "metrics.rmse < 0.4", ViewType: loopml.AllView})
	must(t, err)
	if got := runNames(runs); !equalStrings(got, []string{"beta"}) {
		t.Fatalf("ALL view got %q", got)
	}
}

func testSearchRunsPaging(t *testing.T, s Store) {
	e := mustCreateExperiment(t, s, "paging")
	var want []string
	for i := range 11 {
		r := mustCreateRun(t, s, e.ID, loopml.Run{StartTime: int64(1000 - i)})
		want = append(want, r.ID) // start_time DESC = creation order
	}
	for _, size := range []int{1, 3, 5, 11, 12} {
		var got []string
		tok := ""
		pages := 0
		for {
			runs, next, err := s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{e.ID}, MaxResults: size, PageToken: tok})
			must(t, err)
			pages++
			if len(runs) > size {
				t.Fatalf("page of %d runs, max %d", len(runs), size)
			}
			got = append(got, runIDs(runs)...)
			if next == "" {
				break
			}
			tok = next
			if pages > 20 {
				t.Fatal("paging does not end")
			}
		}
		if !equalStrings(got, want) {
			t.Fatalf("page size %d: got %q, want %q", size, got, want)
		}
		if wantPages := (11 + size - 1) / size; pages != wantPages {
			t.Fatalf("page size %d: %d pages, want %d", size, pages, wantPages)
		}
	}
	runs, _, err := s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{e.ID}})
	must(t, err)
	if len(runs) != 11 {
		t.Fatalf("default max_results returned %d runs", len(runs))
	}
}

func testSearchRunsErrors(t *testing.T, s Store) {
	tests := []struct {
		name string
		q    loopml.RunSearch
		msg  string
	}{
		{"max results too big", loopml.RunSearch{ExperimentIDs: []string{"0"}, MaxResults: loopml.MaxSearchRunsResults + 1}, "max_results"},
		{"negative max results", loopml.RunSearch{ExperimentIDs: []string{"0"}, MaxResults: -5}, "max_results"},
		{"bad token", loopml.RunSearch{ExperimentIDs: []string{"0"}, PageToken: "not a token"}, "token"},
		{"token without offset", loopml.RunSearch{ExperimentIDs: []string{"0"}, PageToken: "e30="}, "token"},
		{"bad experiment id", loopml.RunSearch{ExperimentIDs: []string{"x1"}}, "x1"},
		{"bad view", loopml.RunSearch{ExperimentIDs: []string{"0"}, ViewType: 7}, "view"},
		{"bad filter", loopml.RunSearch{ExperimentIDs: []string{"0"}, Filter: "metrics.rmse <"}, ""},
		{"string for metric", loopml.RunSearch{ExperimentIDs: []string{"0"}, Filter: "metrics.rmse = 'x'"}, ""},
		{"bad order", loopml.RunSearch{ExperimentIDs: []string{"0"}, OrderBy: []string{"metrics.rmse SIDEWAYS"}}, ""},
		{"bad order attribute", loopml.RunSearch{ExperimentIDs: []string{"0"}, OrderBy: []string{"attributes.nope ASC"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.SearchRuns(ctx, tc.q)
			wantErr(t, err, loopml.EINVALID, tc.msg)
		})
	}
}

func testSearchRunsTieBreak(t *testing.T, s Store) {
	e := mustCreateExperiment(t, s, "ties")
	var ids []string
	for range 6 {
		ids = append(ids, mustCreateRun(t, s, e.ID, loopml.Run{StartTime: 42}).ID)
	}
	runs, _, err := s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{e.ID}})
	must(t, err)
	if got := runIDs(runs); !equalStrings(got, sortedCopy(ids)) {
		t.Fatalf("equal start times: got %q, want run ids ascending", got)
	}
}
