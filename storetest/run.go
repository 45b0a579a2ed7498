package storetest

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

var runTests = []test{
	{"Create", testCreateRun},
	{"CreateNames", testCreateRunNames},
	{"CreateErrors", testCreateRunErrors},
	{"IDsTimeOrdered", testRunIDsOrdered},
	{"Get", testGetRun},
	{"Update", testUpdateRun},
	{"DeleteRestore", testDeleteRestoreRun},
	{"DeleteTag", testDeleteTag},
	{"LogInputs", testLogInputs},
}

func testCreateRun(t *testing.T, s Store) {
	e := mustCreateExperiment(t, s, "exp")
	wctx := loopml.NewContextWithPrincipal(ctx, "bob")
	r := &loopml.Run{ExperimentID: e.ID, Name: "my-run", UserID: "bob", StartTime: 1700000000123,
		Tags: []loopml.Tag{{Key: "t1", Value: "v1"}, {Key: loopml.TagParentRunID, Value: "abc"}}}
	must(t, s.CreateRun(wctx, r))
	if !runIDPattern.MatchString(r.ID) {
		t.Fatalf("got run id %q, want 32 lowercase hex digits", r.ID)
	}
	if r.Status != loopml.RunRunning || r.LifecycleStage != loopml.LifecycleActive || r.Name != "my-run" {
		t.Fatalf("got %+v", r)
	}
	if want := e.ArtifactLocation + "/" + r.ID + "/artifacts"; r.ArtifactURI != want {
		t.Fatalf("got artifact uri %q, want %q", r.ArtifactURI, want)
	}
	got := mustGetRun(t, s, r.ID)
	if got.ID != r.ID || got.ExperimentID != e.ID || got.Name != "my-run" || got.UserID != "bob" ||
		got.StartTime != 1700000000123 || got.EndTime != 0 || got.Status != loopml.RunRunning ||
		got.ArtifactURI != r.ArtifactURI || got.LifecycleStage != loopml.LifecycleActive {
		t.Fatalf("got run %+v, want %+v", got, r)
	}
	for k, v := range map[string]string{"t1": "v1", loopml.TagParentRunID: "abc", loopml.TagRunName: "my-run", loopml.TagUser: "bob"} {
		if got, ok := tagValue(got.Tags, k); !ok || got != v {
			t.Fatalf("tag %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if len(got.Metrics) != 0 || len(got.Params) != 0 || len(got.Inputs) != 0 {
		t.Fatalf("new run has data: %+v", got)
	}
}

var generatedName = regexp.MustCompile(`^[a-z]+-[a-z]+-[0-9]+$`)

func testCreateRunNames(t *testing.T, s Store) {
	tests := []struct {
		name     string
		run      loopml.Run
		wantName string // "" = generated
		wantUser string
	}{
		{"generated", loopml.Run{}, "", ""},
		{"from name", loopml.Run{Name: "n1"}, "n1", ""},
		{"from tag", loopml.Run{Tags: []loopml.Tag{{Key: loopml.TagRunName, Value: "n2"}}}, "n2", ""},
		{"name and equal tag", loopml.Run{Name: "n3", Tags: []loopml.Tag{{Key: loopml.TagRunName, Value: "n3"}}}, "n3", ""},
		{"user from tag", loopml.Run{Tags: []loopml.Tag{{Key: loopml.TagUser, Value: "carol"}}}, "", "carol"},
		{"user id", loopml.Run{UserID: "dave"}, "", "dave"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustCreateRun(t, s, "0", tc.run)
			got := mustGetRun(t, s, r.ID)
			if tc.wantName == "" {
				if !generatedName.MatchString(got.Name) {
					t.Fatalf("generated name %q is not like clever-owl-123", got.Name)
				}
			} else if got.Name != tc.wantName {
				t.Fatalf("got name %q, want %q", got.Name, tc.wantName)
			}
			if r.Name != got.Name {
				t.Fatalf("CreateRun set name %q, stored %q", r.Name, got.Name)
			}
			if v, _ := tagValue(got.Tags, loopml.TagRunName); v != got.Name {
				t.Fatalf("tag %s = %q, name %q: not in sync", loopml.TagRunName, v, got.Name)
			}
			if got.UserID != tc.wantUser {
				t.Fatalf("got user %q, want %q", got.UserID, tc.wantUser)
			}
			if v, ok := tagValue(got.Tags, loopml.TagUser); tc.wantUser != "" && v != tc.wantUser || tc.wantUser == "" && ok {
				t.Fatalf("tag %s = %q (present %v), want %q", loopml.TagUser, v, ok, tc.wantUser)
			}
		})
	}
}

func testCreateRunErrors(t *testing.T, s Store) {
	e := mustCreateExperiment(t, s, "e")
	gone := mustCreateExperiment(t, s, "gone")
	must(t, s.DeleteExperiment(ctx, gone.ID))
	tests := []struct {
		name string
		run  loopml.Run
		code string
		msg  string
	}{
		{"unknown experiment", loopml.Run{ExperimentID: "987654"}, loopml.ENOTFOUND, "987654"},
		{"non-numeric experiment", loopml.Run{ExperimentID: "abc"}, loopml.ENOTFOUND, "abc"},
		{"deleted experiment", loopml.Run{ExperimentID: gone.ID}, loopml.EINVALID, gone.ID},
		{"bad tag key", loopml.Run{ExperimentID: e.ID, Tags: []loopml.Tag{{Key: "", Value: "x"}}}, loopml.EINVALID, "tag"},
		{"long tag value", loopml.Run{ExperimentID: e.ID, Tags: []loopml.Tag{{Key: "big", Value: strings.Repeat("x", loopml.MaxTagValueLength+1)}}}, loopml.EINVALID, "big"},
		{"name differs from tag", loopml.Run{ExperimentID: e.ID, Name: "a", Tags: []loopml.Tag{{Key: loopml.TagRunName, Value: "b"}}}, loopml.EINVALID, loopml.TagRunName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.run
			wantErr(t, s.CreateRun(ctx, &r), tc.code, tc.msg)
		})
	}
	runs, _, err := s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{e.ID, gone.ID}, ViewType: loopml.AllView})
	must(t, err)
	if len(runs) != 0 {
		t.Fatalf("failed creations left %d runs", len(runs))
	}
}

func testRunIDsOrdered(t *testing.T, s Store) {
	var ids []string
	for range 20 {
		ids = append(ids, mustCreateRun(t, s, "0", loopml.Run{}).ID)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatalf("run ids are not time-ordered: %q", ids)
	}
}

func testGetRun(t *testing.T, s Store) {
	_, err := s.GetRun(ctx, "0123456789abcdef0123456789abcdef")
	wantErr(t, err, loopml.ENOTFOUND, "0123456789abcdef0123456789abcdef")
	_, err = s.GetRun(ctx, "")
	wantErr(t, err, loopml.ENOTFOUND)
	r := mustCreateRun(t, s, "0", loopml.Run{Name: "full"})
	mustLogBatch(t, s, r.ID, loopml.Batch{
		Metrics: []loopml.Metric{{Key: "loss", Value: 0.5, Timestamp: 10, Step: 1}, {Key: "acc", Value: 0.9, Timestamp: 10, Step: 1}},
		Params:  []loopml.Param{{Key: "lr", Value: "0.01"}, {Key: "batch", Value: "32"}},
		Tags:    []loopml.Tag{{Key: "k", Value: "v"}},
	})
	must(t, s.LogInputs(ctx, r.ID, []loopml.DatasetInput{{
		Dataset: loopml.Dataset{Name: "ds", Digest: "d1", SourceType: "local", Source: "{}", Schema: "{}", Profile: "{}"},
		Tags:    []loopml.Tag{{Key: loopml.TagDatasetContext, Value: "training"}},
	}}))
	got := mustGetRun(t, s, r.ID)
	if len(got.Metrics) != 2 || len(got.Params) != 2 || len(got.Inputs) != 1 {
		t.Fatalf("got metrics %v params %v inputs %v", got.Metrics, got.Params, got.Inputs)
	}
	if m, _ := metricByKey(got.Metrics, "loss"); !sameMetric(m, loopml.Metric{Key: "loss", Value: 0.5, Timestamp: 10, Step: 1}) {
		t.Fatalf("got loss %+v", m)
	}
	if v, _ := paramValue(got.Params, "lr"); v != "0.01" {
		t.Fatalf("got lr %q", v)
	}
	if v, _ := tagValue(got.Tags, "k"); v != "v" {
		t.Fatalf("got tag k %q", v)
	}
	in := got.Inputs[0]
	if in.Dataset != (loopml.Dataset{Name: "ds", Digest: "d1", SourceType: "local", Source: "{}", Schema: "{}", Profile: "{}"}) {
		t.Fatalf("got dataset %+v", in.Dataset)
	}
	if v, _ := tagValue(in.Tags, loopml.TagDatasetContext); v != "training" || len(in.Tags) != 1 {
		t.Fatalf("got input tags %+v", in.Tags)
	}
}

func testUpdateRun(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{Name: "before", StartTime: 100})
	status, end, name := loopml.RunFinished, int64(200), "after"
	got, err := s.UpdateRun(ctx, r.ID, loopml.RunUpdate{Status: &status, EndTime: &end, Name: &name})
	must(t, err)
	if got.Status != loopml.RunFinished || got.EndTime != 200 || got.Name != "after" || got.StartTime != 100 {
		t.Fatalf("UpdateRun returned %+v", got)
	}
	if v, _ := tagValue(got.Tags, loopml.TagRunName); v != "after" {
		t.Fatalf("tag %s = %q after rename, want after", loopml.TagRunName, v)
	}
	stored := mustGetRun(t, s, r.ID)
	if stored.Status != loopml.RunFinished || stored.EndTime != 200 || stored.Name != "after" {
		t.Fatalf("stored %+v", stored)
	}
	// Partial update leaves the rest alone.
	failed := loopml.RunFailed
	got, err = s.UpdateRun(ctx, r.ID, loopml.RunUpdate{Status: &failed})
	must(t, err)
	if got.Status != loopml.RunFailed || got.EndTime != 200 || got.Name != "after" {
		t.Fatalf("partial update gave %+v", got)
	}
	bad := "DONE"
	_, err = s.UpdateRun(ctx, r.ID, loopml.RunUpdate{Status: &bad})
	wantErr(t, err, loopml.EINVALID, "status")
	_, err = s.UpdateRun(ctx, "ffffffffffffffffffffffffffffffff", loopml.RunUpdate{Status: &status})
	wantErr(t, err, loopml.ENOTFOUND, "ffffffffffffffffffffffffffffffff")
	// Renaming with the tag renames the run.
	mustLogBatch(t, s, r.ID, loopml.Batch{Tags: []loopml.Tag{{Key: loopml.TagRunName, Value: "via-tag"}}})
	if got := mustGetRun(t, s, r.ID); got.Name != "via-tag" {
		t.Fatalf("after logging tag %s got name %q", loopml.TagRunName, got.Name)
	}
}

func testDeleteRestoreRun(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{})
	keep := mustCreateRun(t, s, "0", loopml.Run{})
	must(t, s.DeleteRun(ctx, r.ID))
	if got := mustGetRun(t, s, r.ID); got.LifecycleStage != loopml.LifecycleDeleted {
		t.Fatalf("deleted run is %q", got.LifecycleStage)
	}
	search := func(v loopml.ViewType) []string {
		runs, _, err := s.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{"0"}, ViewType: v})
		must(t, err)
		return sortedCopy(runIDs(runs))
	}
	if got := search(loopml.ActiveOnly); !equalStrings(got, []string{keep.ID}) {
		t.Fatalf("active search got %q, want only %s", got, keep.ID)
	}
	if got := search(loopml.DeletedOnly); !equalStrings(got, []string{r.ID}) {
		t.Fatalf("deleted search got %q, want only %s", got, r.ID)
	}
	if got := search(loopml.AllView); len(got) != 2 {
		t.Fatalf("all search got %q", got)
	}
	wantErr(t, s.LogBatch(ctx, r.ID, loopml.Batch{Params: []loopml.Param{{Key: "p", Value: "1"}}}), loopml.EINVALID, r.ID)
	wantErr(t, s.DeleteTag(ctx, r.ID, loopml.TagRunName), loopml.EINVALID, r.ID)
	wantErr(t, s.LogInputs(ctx, r.ID, []loopml.DatasetInput{{Dataset: loopml.Dataset{Name: "d", Digest: "x"}}}), loopml.EINVALID, r.ID)
	must(t, s.RestoreRun(ctx, r.ID))
	if got := mustGetRun(t, s, r.ID); got.LifecycleStage != loopml.LifecycleActive {
		t.Fatalf("restored run is %q", got.LifecycleStage)
	}
	mustLogBatch(t, s, r.ID, loopml.Batch{Params: []loopml.Param{{Key: "p", Value: "1"}}})
	const missing = "0000000000000000000000000000beef"
	wantErr(t, s.DeleteRun(ctx, missing), loopml.ENOTFOUND, missing)
	wantErr(t, s.RestoreRun(ctx, missing), loopml.ENOTFOUND, missing)
}

func testDeleteTag(t *testing.T, s Store) {
	r := mustCreateRun(t, s, "0", loopml.Run{})
	mustLogBatch(t, s, r.ID, loopml.Batch{Tags: []loopml.Tag{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}})
	must(t, s.DeleteTag(ctx, r.ID, "a"))
	got := mustGetRun(t, s, r.ID)
	if _, ok := tagValue(got.Tags, "a"); ok {
		t.Fatal("deleted tag still there")
	}
	if v, _ := tagValue(got.Tags, "b"); v != "2" {
		t.Fatalf("other tag b = %q", v)
	}
	wantErr(t, s.DeleteTag(ctx, r.ID, "a"), loopml.ENOTFOUND, "a")
	wantErr(t, s.DeleteTag(ctx, r.ID, "never"), loopml.ENOTFOUND, "never")
	wantErr(t, s.DeleteTag(ctx, "00000000000000000000000000000001", "b"), loopml.ENOTFOUND, "00000000000000000000000000000001")
}

func testLogInputs(t *testing.T, s Store) {
	e := mustCreateExperiment(t, s, "data")
	r1 := mustCreateRun(t, s, e.ID, loopml.Run{})
	r2 := mustCreateRun(t, s, e.ID, loopml.Run{})
	train := loopml.DatasetInput{Dataset: loopml.Dataset{Name: "iris", Digest: "abc", SourceType: "local", Source: `{"uri":"/x"}`},
		Tags: []loopml.Tag{{Key: loopml.TagDatasetContext, Value: "training"}}}
	eval := loopml.DatasetInput{Dataset: loopml.Dataset{Name: "iris", Digest: "def"},
		Tags: []loopml.Tag{{Key: loopml.TagDatasetContext, Value: "eval"}}}
	must(t, s.LogInputs(ctx, r1.ID, []loopml.DatasetInput{train}))
	must(t, s.LogInputs(ctx, r1.ID, []loopml.DatasetInput{train, eval})) // idempotent for train
	must(t, s.LogInputs(ctx, r2.ID, []loopml.DatasetInput{train}))
	must(t, s.LogInputs(ctx, r1.ID, nil))
	got := mustGetRun(t, s, r1.ID)
	if len(got.Inputs) != 2 {
		t.Fatalf("got %d inputs, want 2 (deduplicated): %+v", len(got.Inputs), got.Inputs)
	}
	digests := []string{got.Inputs[0].Dataset.Digest, got.Inputs[1].Dataset.Digest}
	sort.Strings(digests)
	if !equalStrings(digests, []string{"abc", "def"}) {
		t.Fatalf("got digests %q", digests)
	}
	for _, in := range got.Inputs {
		want := "training"
		if in.Dataset.Digest == "def" {
			want = "eval"
		}
		if v, _ := tagValue(in.Tags, loopml.TagDatasetContext); v != want {
			t.Fatalf("dataset %s context %q, want %q", in.Dataset.Digest, v, want)
		}
	}
	if got := mustGetRun(t, s, r2.ID); len(got.Inputs) != 1 || got.Inputs[0].Dataset.Source != `{"uri":"/x"}` {
		t.Fatalf("run 2 inputs %+v", got.Inputs)
	}
	wantErr(t, s.LogInputs(ctx, r1.ID, []loopml.DatasetInput{{Dataset: loopml.Dataset{Digest: "x"}}}), loopml.EINVALID, "name")
	wantErr(t, s.LogInputs(ctx, r1.ID, []loopml.DatasetInput{{Dataset: loopml.Dataset{Name: "x"}}}), loopml.EINVALID, "digest")
	wantErr(t, s.LogInputs(ctx, r1.ID, []loopml.DatasetInput{{Dataset: loopml.Dataset{Name: "x", Digest: "y"}, Tags: []loopml.Tag{{Key: ""}}}}), loopml.EINVALID, "tag")
	wantErr(t, s.LogInputs(ctx, "00000000000000000000000000000002", []loopml.DatasetInput{train}), loopml.ENOTFOUND, "00000000000000000000000000000002")
	if got := mustGetRun(t, s, r1.ID); len(got.Inputs) != 2 {
		t.Fatalf("failed log-inputs changed inputs: %d", len(got.Inputs))
	}
}
