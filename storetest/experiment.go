package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml"
)

var experimentTests = []test{
	{"DefaultExists", testDefaultExperiment},
	{"Create", testCreateExperiment},
	{"CreateErrors", testCreateExperimentErrors},
	{"GetNotFound", testGetExperimentNotFound},
	{"Rename", testRenameExperiment},
	{"DeleteRestore", testDeleteRestoreExperiment},
	{"SetTag", testSetExperimentTag},
	{"Workspace", testExperimentWorkspace},
	{"SearchPaging", testSearchExperimentsPaging},
	{"SearchErrors", testSearchExperimentsErrors},
	{"SearchFilterOrder", testSearchExperimentsFilterOrder},
}

func testDefaultExperiment(t *testing.T, s Store) {
	for _, get := range []func() (*loopml.Experiment, error){
		func() (*loopml.Experiment, error) { return s.GetExperiment(ctx, loopml.DefaultExperimentID) },
		func() (*loopml.Experiment, error) { return s.GetExperimentByName(ctx, loopml.DefaultExperimentName) },
	} {
		e, err := get()
		must(t, err)
		if e.ID != "0" || e.Name != "Default" || e.ArtifactLocation != "mlflow-artifacts:/0" || e.LifecycleStage != loopml.LifecycleActive {
			t.Fatalf("got default experiment %+v, want id 0, name Default, location mlflow-artifacts:/0, active", e)
		}
		if e.Workspace != loopml.DefaultWorkspace {
			t.Fatalf("got workspace %q, want %q", e.Workspace, loopml.DefaultWorkspace)
		}
	}
	wantErr(t, s.DeleteExperiment(ctx, "0"), loopml.EINVALID, "0")
	r := mustCreateRun(t, s, "0", loopml.Run{})
	if r.ArtifactURI != "mlflow-artifacts:/0/"+r.ID+"/artifacts" {
		t.Fatalf("got artifact uri %q", r.ArtifactURI)
	}
}

func testCreateExperiment(t *testing.T, s Store) {
	before := time.Now().UnixMilli()
	e := mustCreateExperiment(t, s, "first", loopml.Tag{Key: "team", Value: "a"}, loopml.Tag{Key: "mlflow.note.content", Value: "hello"})
	after := time.Now().UnixMilli()
	if e.ID == "" || e.ID == "0" || strings.TrimLeft(e.ID, "0123456789") != "" {
		t.Fatalf("got id %q, want a decimal id other than 0", e.ID)
	}
	if e.ArtifactLocation != "mlflow-artifacts:/"+e.ID {
		t.Fatalf("got artifact location %q, want mlflow-artifacts:/%s", e.ArtifactLocation, e.ID)
	}
	if e.LifecycleStage != loopml.LifecycleActive || e.Workspace != loopml.DefaultWorkspace {
		t.Fatalf("got lifecycle %q workspace %q", e.LifecycleStage, e.Workspace)
	}
	if e.CreationTime < before || e.CreationTime > after || e.LastUpdateTime != e.CreationTime {
		t.Fatalf("got creation %d update %d, want within [%d, %d] and equal", e.CreationTime, e.LastUpdateTime, before, after)
	}
	got, err := s.GetExperiment(ctx, e.ID)
	must(t, err)
	if got.Name != "first" || got.ArtifactLocation != e.ArtifactLocation || got.CreationTime != e.CreationTime {
		t.Fatalf("got %+v, want %+v", got, e)
	}
	if v, _ := tagValue(got.Tags, "team"); v != "a" || len(got.Tags) != 2 {
		t.Fatalf("got tags %+v, want team=a and mlflow.note.content", got.Tags)
	}
	byName, err := s.GetExperimentByName(ctx, "first")
	must(t, err)
	if byName.ID != e.ID {
		t.Fatalf("got id %s by name, want %s", byName.ID, e.ID)
	}
	e2 := &loopml.Experiment{Name: "second", ArtifactLocation: "file:///tmp/somewhere"}
	must(t, s.CreateExperiment(ctx, e2))
	if e2.ArtifactLocation != "file:///tmp/somewhere" {
		t.Fatalf("custom artifact location not kept: %q", e2.ArtifactLocation)
	}
	if e2.ID == e.ID {
		t.Fatalf("two experiments got id %s", e.ID)
	}
	r := mustCreateRun(t, s, e2.ID, loopml.Run{})
	if r.ArtifactURI != "file:///tmp/somewhere/"+r.ID+"/artifacts" {
		t.Fatalf("got run artifact uri %q", r.ArtifactURI)
	}
}

func testCreateExperimentErrors(t *testing.T, s Store) {
	mustCreateExperiment(t, s, "taken")
	gone := mustCreateExperiment(t, s, "gone")
	must(t, s.DeleteExperiment(ctx, gone.ID))
	tests := []struct {
		name string
		e    loopml.Experiment
		code string
		msg  string
	}{
		{"empty name", loopml.Experiment{Name: ""}, loopml.EINVALID, "name"},
		{"blank name", loopml.Experiment{Name: "   "}, loopml.EINVALID, "name"},
		{"long name", loopml.Experiment{Name: strings.Repeat("x", loopml.MaxExperimentNameLen+1)}, loopml.EINVALID, "name"},
		{"duplicate", loopml.Experiment{Name: "taken"}, loopml.ECONFLICT, "taken"},
		{"duplicate of deleted", loopml.Experiment{Name: "gone"}, loopml.ECONFLICT, "gone"},
		{"bad tag key", loopml.Experiment{Name: "x", Tags: []loopml.Tag{{Key: "", Value: "v"}}}, loopml.EINVALID, "tag"},
		{"long tag value", loopml.Experiment{Name: "y", Tags: []loopml.Tag{{Key: "k", Value: strings.Repeat("v", loopml.MaxTagValueLength+1)}}}, loopml.EINVALID, "k"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.e
			wantErr(t, s.CreateExperiment(ctx, &e), tc.code, tc.msg)
			if e.ID != "" {
				t.Fatalf("failed create set id %q", e.ID)
			}
		})
	}
	// Nothing of the failed creations exists.
	for _, name := range []string{"x", "y"} {
		_, err := s.GetExperimentByName(ctx, name)
		wantErr(t, err, loopml.ENOTFOUND, name)
	}
}

func testGetExperimentNotFound(t *testing.T, s Store) {
	for _, id := range []string{"12345", "abc", "", "-1"} {
		_, err := s.GetExperiment(ctx, id)
		wantErr(t, err, loopml.ENOTFOUND, id)
	}
	_, err := s.GetExperimentByName(ctx, "nope")
	wantErr(t, err, loopml.ENOTFOUND, "nope")
}

func testRenameExperiment(t *testing.T, s Store) {
	e := mustCreateExperiment(t, s, "old")
	mustCreateExperiment(t, s, "other")
	time.Sleep(2 * time.Millisecond)
	must(t, s.RenameExperiment(ctx, e.ID, "new"))
	got, err := s.GetExperimentByName(ctx, "new")
	must(t, err)
	if got.ID != e.ID || got.LastUpdateTime <= e.LastUpdateTime || got.CreationTime != e.CreationTime {
		t.Fatalf("after rename got %+v; want id %s, last_update_time after %d", got, e.ID, e.LastUpdateTime)
	}
	_, err = s.GetExperimentByName(ctx, "old")
	wantErr(t, err, loopml.ENOTFOUND, "old")
	wantErr(t, s.RenameExperiment(ctx, e.ID, "other"), loopml.ECONFLICT, "other")
	wantErr(t, s.RenameExperiment(ctx, e.ID, ""), loopml.EINVALID, "name")
	wantErr(t, s.RenameExperiment(ctx, "999999", "x"), loopml.ENOTFOUND, "999999")
	must(t, s.DeleteExperiment(ctx, e.ID))
	wantErr(t, s.RenameExperiment(ctx, e.ID, "newer"), loopml.EINVALID, e.ID)
}

func testDeleteRestoreExperiment(t *testing.T, s Store) {
	e := mustCreateExperiment(t, s, "doomed")
	r1 := mustCreateRun(t, s, e.ID, loopml.Run{Name: "r1"})
	r2 := mustCreateRun(t, s, e.ID, loopml.Run{Name: "r2"})
	time.Sleep(2 * time.Millisecond)
	must(t, s.DeleteExperiment(ctx, e.ID))
	got, err := s.GetExperiment(ctx, e.ID)
	must(t, err)
	if got.LifecycleStage != loopml.LifecycleDeleted || got.LastUpdateTime <= e.LastUpdateTime {
		t.Fatalf("after delete got lifecycle %q last_update_time %d (was %d)", got.LifecycleStage, got.LastUpdateTime, e.LastUpdateTime)
	}
	for _, id := range []string{r1.ID, r2.ID} {
		if r := mustGetRun(t, s, id); r.LifecycleStage != loopml.LifecycleDeleted {
			t.Fatalf("run %s of deleted experiment is %q, want deleted", id, r.LifecycleStage)
		}
	}
	runs, _, err := s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{e.ID}})
	must(t, err)
	if len(runs) != 0 {
		t.Fatalf("active search found %d runs of a deleted experiment", len(runs))
	}
	runs, _, err = s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{e.ID}, ViewType: loopml.DeletedOnly})
	must(t, err)
	if len(runs) != 2 {
		t.Fatalf("deleted-only search found %d runs, want 2", len(runs))
	}
	exps, _, err := s.SearchExperiments(ctx, loopml.ExperimentSearch{})
	must(t, err)
	for _, x := range exps {
		if x.ID == e.ID {
			t.Fatal("active experiment search returned a deleted experiment")
		}
	}
	// Creating in or logging to a deleted experiment is refused.
	err = s.CreateRun(ctx, &loopml.Run{ExperimentID: e.ID})
	wantErr(t, err, loopml.EINVALID, e.ID)
	wantErr(t, s.LogBatch(ctx, r1.ID, loopml.Batch{Metrics: []loopml.Metric{{Key: "m", Value: 1}}}), loopml.EINVALID, r1.ID)
	wantErr(t, s.SetExperimentTag(ctx, e.ID, loopml.Tag{Key: "k", Value: "v"}), loopml.EINVALID, e.ID)
	wantErr(t, s.DeleteExperiment(ctx, e.ID), loopml.EINVALID, e.ID)
	// Restore brings the runs back.
	must(t, s.RestoreExperiment(ctx, e.ID))
	got, err = s.GetExperiment(ctx, e.ID)
	must(t, err)
	if got.LifecycleStage != loopml.LifecycleActive {
		t.Fatalf("after restore got lifecycle %q", got.LifecycleStage)
	}
	if r := mustGetRun(t, s, r1.ID); r.LifecycleStage != loopml.LifecycleActive {
		t.Fatalf("run after restore is %q", r.LifecycleStage)
	}
	mustLogBatch(t, s, r1.ID, loopml.Batch{Metrics: []loopml.Metric{{Key: "m", Value: 1}}})
	wantErr(t, s.RestoreExperiment(ctx, e.ID), loopml.EINVALID, e.ID)
	wantErr(t, s.DeleteExperiment(ctx, "424242"), loopml.ENOTFOUND, "424242")
	wantErr(t, s.RestoreExperiment(ctx, "424242"), loopml.ENOTFOUND, "424242")
}

func testSetExperimentTag(t *testing.T, s Store) {
	e := mustCreateExperiment(t, s, "tagged")
	time.Sleep(2 * time.Millisecond)
	must(t, s.SetExperimentTag(ctx, e.ID, loopml.Tag{Key: "k", Value: "v1"}))
	must(t, s.SetExperimentTag(ctx, e.ID, loopml.Tag{Key: "k", Value: "v2"}))
	must(t, s.SetExperimentTag(ctx, e.ID, loopml.Tag{Key: "a.b", Value: ""}))
	got, err := s.GetExperiment(ctx, e.ID)
	must(t, err)
	if len(got.Tags) != 2 {
		t.Fatalf("got tags %+v, want 2", got.Tags)
	}
	if v, _ := tagValue(got.Tags, "k"); v != "v2" {
		t.Fatalf("got k=%q, want v2 (overwritten)", v)
	}
	if got.LastUpdateTime <= e.LastUpdateTime {
		t.Fatalf("set tag did not bump last_update_time (%d -> %d)", e.LastUpdateTime, got.LastUpdateTime)
	}
	wantErr(t, s.SetExperimentTag(ctx, "777777", loopml.Tag{Key: "k", Value: "v"}), loopml.ENOTFOUND, "777777")
	wantErr(t, s.SetExperimentTag(ctx, e.ID, loopml.Tag{Key: "", Value: "v"}), loopml.EINVALID, "key")
	wantErr(t, s.SetExperimentTag(ctx, e.ID, loopml.Tag{Key: "big", Value: strings.Repeat("x", loopml.MaxTagValueLength+1)}), loopml.EINVALID, "big")
}

func testExperimentWorkspace(t *testing.T, s Store) {
	wctx := loopml.NewContextWithPrincipal(loopml.NewContextWithWorkspace(ctx, "team-a"), "alice")
	e := &loopml.Experiment{Name: "shared-name"}
	must(t, s.CreateExperiment(wctx, e))
	if e.Workspace != "team-a" {
		t.Fatalf("got workspace %q, want team-a", e.Workspace)
	}
	// The same name is free in another workspace.
	d := mustCreateExperiment(t, s, "shared-name")
	if d.ID == e.ID || d.Workspace != loopml.DefaultWorkspace {
		t.Fatalf("got %+v in default workspace", d)
	}
	got, err := s.GetExperimentByName(wctx, "shared-name")
	must(t, err)
	if got.ID != e.ID {
		t.Fatalf("by name in team-a got %s, want %s", got.ID, e.ID)
	}
	_, err = s.GetExperimentByName(wctx, "Default")
	wantErr(t, err, loopml.ENOTFOUND, "Default")
	exps, _, err := s.SearchExperiments(wctx, loopml.ExperimentSearch{})
	must(t, err)
	if len(exps) != 1 || exps[0].ID != e.ID {
		t.Fatalf("search in team-a got %d experiments, want only %s", len(exps), e.ID)
	}
	r := &loopml.Run{ExperimentID: e.ID}
	must(t, s.CreateRun(wctx, r))
	runs, _, err := s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{e.ID}})
	must(t, err)
	if len(runs) != 0 {
		t.Fatal("search from the default workspace found runs of team-a")
	}
	runs, _, err = s.SearchRuns(wctx, loopml.RunSearch{ExperimentIDs: []string{e.ID}})
	must(t, err)
	if len(runs) != 1 {
		t.Fatalf("search from team-a found %d runs, want 1", len(runs))
	}
}

func testSearchExperimentsPaging(t *testing.T, s Store) {
	var ids []string
	for i := range 7 {
		e := mustCreateExperiment(t, s, "exp-"+string(rune('a'+i)))
		ids = append(ids, e.ID)
	}
	must(t, s.DeleteExperiment(ctx, ids[6]))
	// Default order: creation_time DESC, then id ASC. Collect all active
	// pages of 3: the 6 active ones plus Default.
	var got []*loopml.Experiment
	tok := ""
	pages := 0
	for {
		page, next, err := s.SearchExperiments(ctx, loopml.ExperimentSearch{MaxResults: 3, PageToken: tok})
		must(t, err)
		pages++
		if len(page) > 3 {
			t.Fatalf("page of %d, want at most 3", len(page))
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		tok = next
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(got) != 7 || pages != 3 {
		t.Fatalf("got %d experiments in %d pages, want 7 in 3", len(got), pages)
	}
	seen := map[string]bool{}
	for i, e := range got {
		if seen[e.ID] {
			t.Fatalf("experiment %s returned twice", e.ID)
		}
		seen[e.ID] = true
		if i > 0 {
			prev := got[i-1]
			if prev.CreationTime < e.CreationTime || (prev.CreationTime == e.CreationTime && numLess(e.ID, prev.ID)) {
				t.Fatalf("not ordered by creation_time DESC, id ASC: %s(%d) before %s(%d)", prev.ID, prev.CreationTime, e.ID, e.CreationTime)
			}
		}
	}
	if seen[ids[6]] {
		t.Fatal("deleted experiment in active search")
	}
	// Exactly full last page: no token.
	page, next, err := s.SearchExperiments(ctx, loopml.ExperimentSearch{MaxResults: 7})
	must(t, err)
	if len(page) != 7 || next != "" {
		t.Fatalf("got %d experiments and token %q, want 7 and no token", len(page), next)
	}
	all, _, err := s.SearchExperiments(ctx, loopml.ExperimentSearch{ViewType: loopml.AllView})
	must(t, err)
	if len(all) != 8 {
		t.Fatalf("ALL view got %d, want 8", len(all))
	}
	del, _, err := s.SearchExperiments(ctx, loopml.ExperimentSearch{ViewType: loopml.DeletedOnly})
	must(t, err)
	if len(del) != 1 || del[0].ID != ids[6] {
		t.Fatalf("DELETED_ONLY got %d experiments, want only %s", len(del), ids[6])
	}
}

// numLess compares decimal ids numerically.
func numLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func testSearchExperimentsErrors(t *testing.T, s Store) {
	tests := []struct {
		name string
		q    loopml.ExperimentSearch
		msg  string
	}{
		{"max results too big", loopml.ExperimentSearch{MaxResults: loopml.MaxSearchExperimentsResults + 1}, "max_results"},
		{"negative max results", loopml.ExperimentSearch{MaxResults: -1}, "max_results"},
		{"token not base64", loopml.ExperimentSearch{PageToken: "!!!"}, "token"},
		{"token not json", loopml.ExperimentSearch{PageToken: "bm90IGpzb24="}, "token"},
		{"token negative offset", loopml.ExperimentSearch{PageToken: "eyJvZmZzZXQiOiAtMX0="}, "token"},
		{"bad view", loopml.ExperimentSearch{ViewType: 9}, "view"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.SearchExperiments(ctx, tc.q)
			wantErr(t, err, loopml.EINVALID, tc.msg)
		})
	}
	// A valid MLflow token works: base64 of {"offset": 1}.
	_, _, err := s.SearchExperiments(ctx, loopml.ExperimentSearch{PageToken: "eyJvZmZzZXQiOiAxfQ=="})
	must(t, err)
}

func testSearchExperimentsFilterOrder(t *testing.T, s Store) {
	a := mustCreateExperiment(t, s, "Alpha", loopml.Tag{Key: "team", Value: "vision"})
	time.Sleep(2 * time.Millisecond)
	b := mustCreateExperiment(t, s, "beta", loopml.Tag{Key: "team", Value: "nlp"})
	time.Sleep(2 * time.Millisecond)
	c := mustCreateExperiment(t, s, "alphabet")
	names := func(q loopml.ExperimentSearch) []string {
		t.Helper()
		exps, _, err := s.SearchExperiments(ctx, q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		out := make([]string, len(exps))
		for i, e := range exps {
			out[i] = e.Name
		}
		return out
	}
	tests := []struct {
		filter  string
		orderBy []string
		want    []string
	}{
		{"name = 'beta'", nil, []string{"beta"}},
		{"name != 'beta'", []string{"name ASC"}, []string{"Alpha", "Default", "alphabet"}},
		{"name LIKE 'alpha%'", nil, []string{"alphabet"}},
		{"name ILIKE 'alpha%'", []string{"name ASC"}, []string{"Alpha", "alphabet"}},
		{"name LIKE '%a_e%'", nil, []string{"alphabet"}},
		{"name LIKE 'Alpha%'", nil, []string{"Alpha"}},
		{"tags.team = 'vision'", nil, []string{"Alpha"}},
		{"tags.team != 'vision'", nil, []string{"beta"}},
		{"tags.team LIKE '%l%'", nil, []string{"beta"}},
		{"tags.team ILIKE 'VIS%'", nil, []string{"Alpha"}},
		{"tags.missing = 'x'", nil, nil},
		{"attribute.creation_time >= " + itoa(b.CreationTime), []string{"creation_time ASC"}, []string{"beta", "alphabet"}},
		{"creation_time < " + itoa(b.CreationTime) + " AND name ILIKE '%a%'", nil, []string{"Alpha", "Default"}},
		{"", []string{"name DESC"}, []string{"beta", "alphabet", "Default", "Alpha"}},
		{"", []string{"name ASC"}, []string{"Alpha", "Default", "alphabet", "beta"}},
		{"", nil, []string{"alphabet", "beta", "Alpha", "Default"}},
		{"", []string{"experiment_id DESC"}, []string{"alphabet", "beta", "Alpha", "Default"}},
	}
	_ = a
	_ = c
	for _, tc := range tests {
		t.Run(tc.filter+"|"+strings.Join(tc.orderBy, ","), func(t *testing.T) {
			got := names(loopml.ExperimentSearch{Filter: tc.filter, OrderBy: tc.orderBy})
			if tc.orderBy == nil && tc.filter != "" {
				// Only the set matters when several match at the same ms.
				got, tc.want = sortedCopy(got), sortedCopy(tc.want)
			}
			if !equalStrings(got, tc.want) {
				t.Fatalf("filter %q order %v: got %q, want %q", tc.filter, tc.orderBy, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"name >>> 'x'", "metrics.x > 1", "name = "} {
		_, _, err := s.SearchExperiments(ctx, loopml.ExperimentSearch{Filter: bad})
		wantErr(t, err, loopml.EINVALID)
	}
	_, _, err := s.SearchExperiments(ctx, loopml.ExperimentSearch{OrderBy: []string{"tags.team ASC"}})
	wantErr(t, err, loopml.EINVALID)
}
