package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
)

var registryTests = []test{
	{"Models", testRegistryModels},
	{"ModelTags", testRegistryModelTags},
	{"Versions", testRegistryVersions},
	{"VersionErrors", testRegistryVersionErrors},
	{"Stages", testRegistryStages},
	{"Aliases", testRegistryAliases},
	{"AliasHistory", testRegistryAliasHistory},
	{"DeleteVersionWithAlias", testRegistryDeleteVersionWithAlias},
	{"Rename", testRegistryRename},
	{"DeleteModel", testRegistryDeleteModel},
	{"Workspaces", testRegistryWorkspaces},
	{"SearchModels", testRegistrySearchModels},
	{"SearchModelsPaging", testRegistrySearchModelsPaging},
	{"SearchVersions", testRegistrySearchVersions},
	{"SearchVersionsPaging", testRegistrySearchVersionsPaging},
	{"Events", testRegistryEvents},
	{"ResolveURI", testRegistryResolveURI},
}

var registryConcurrencyTests = []test{
	{"AliasMoves", testRegistryConcurrentAliasMoves},
	{"CreateVersions", testRegistryConcurrentCreateVersions},
}

func mustCreateModel(t *testing.T, s Store, name string, tags ...loopml.Tag) *loopml.RegisteredModel {
	t.Helper()
	m := &loopml.RegisteredModel{Name: name, Tags: tags}
	if err := s.CreateRegisteredModel(ctx, m); err != nil {
		t.Fatalf("create registered model %q: %v", name, err)
	}
	return m
}

func mustCreateVersion(t *testing.T, s Store, v loopml.ModelVersion) *loopml.ModelVersion {
	t.Helper()
	if v.Source == "" {
		v.Source = "mlflow-artifacts:/1/run/artifacts/model"
	}
	if err := s.CreateModelVersion(ctx, &v); err != nil {
		t.Fatalf("create version of model %q: %v", v.Name, err)
	}
	return &v
}

func mustGetModel(t *testing.T, s Store, name string) *loopml.RegisteredModel {
	t.Helper()
	m, err := s.GetRegisteredModel(ctx, name)
	if err != nil {
		t.Fatalf("get registered model %q: %v", name, err)
	}
	return m
}

func mustGetVersion(t *testing.T, s Store, name, version string) *loopml.ModelVersion {
	t.Helper()
	v, err := s.GetModelVersion(ctx, name, version)
	if err != nil {
		t.Fatalf("get model version %s/%s: %v", name, version, err)
	}
	return v
}

func mustEvents(t *testing.T, s Store, q loopml.RegistryEventQuery) []loopml.RegistryEvent {
	t.Helper()
	evs, err := s.RegistryEvents(ctx, q)
	if err != nil {
		t.Fatalf("registry events %+v: %v", q, err)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			t.Fatalf("event ids not increasing: %d then %d", evs[i-1].ID, evs[i].ID)
		}
	}
	return evs
}

func versionNumbers(vs []*loopml.ModelVersion) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name + "/" + v.Version + ":" + v.CurrentStage
	}
	return out
}

func modelNames(ms []*loopml.RegisteredModel) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

func eventSummary(evs []loopml.RegistryEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		s := e.Type + " " + e.Model
		if e.Version != "" {
			s += " v" + e.Version
		}
		if e.Alias != "" {
			s += " @" + e.Alias
		}
		if e.FromVersion != "" || e.ToVersion != "" {
			s += " " + e.FromVersion + "->" + e.ToVersion
		}
		if e.FromStage != "" || e.ToStage != "" {
			s += " " + e.FromStage + "->" + e.ToStage
		}
		out[i] = s
	}
	return out
}

func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !equalStrings(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func testRegistryModels(t *testing.T, s Store) {
	before := time.Now().UnixMilli()
	m := mustCreateModel(t, s, "churn", loopml.Tag{Key: "team", Value: "growth"}, loopml.Tag{Key: "team", Value: "ads"})
	if m.CreationTimestamp < before || m.LastUpdatedTimestamp != m.CreationTimestamp {
		t.Fatalf("timestamps %d/%d, created after %d", m.CreationTimestamp, m.LastUpdatedTimestamp, before)
	}
	if m.Workspace != loopml.WorkspaceFromContext(ctx) {
		t.Fatalf("workspace %q", m.Workspace)
	}
	got := mustGetModel(t, s, "churn")
	if got.Name != "churn" || got.CreationTimestamp != m.CreationTimestamp || len(got.Tags) != 1 || got.Tags[0].Value != "ads" {
		t.Fatalf("got %+v", got)
	}
	if len(got.Aliases) != 0 || len(got.LatestVersions) != 0 {
		t.Fatalf("new model has aliases %v or versions %v", got.Aliases, got.LatestVersions)
	}

	wantErr(t, s.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "churn"}), loopml.ECONFLICT, "churn", "already exists")
	wantErr(t, s.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: ""}), loopml.EINVALID, "name")
	wantErr(t, s.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "  "}), loopml.EINVALID, "name")
	wantErr(t, s.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "x", Tags: []loopml.Tag{{Key: ""}}}), loopml.EINVALID)
	_, err := s.GetRegisteredModel(ctx, "nope")
	wantErr(t, err, loopml.ENOTFOUND, "Registered Model with name=nope not found")

	time.Sleep(2 * time.Millisecond)
	up, err := s.UpdateRegisteredModel(ctx, "churn", "predicts churn")
	must(t, err)
	if up.Description != "predicts churn" || up.LastUpdatedTimestamp <= m.CreationTimestamp {
		t.Fatalf("updated model %+v", up)
	}
	if mustGetModel(t, s, "churn").Description != "predicts churn" {
		t.Fatal("description not stored")
	}
	_, err = s.UpdateRegisteredModel(ctx, "nope", "x")
	wantErr(t, err, loopml.ENOTFOUND, "nope")

	must(t, s.DeleteRegisteredModel(ctx, "churn"))
	_, err = s.GetRegisteredModel(ctx, "churn")
	wantErr(t, err, loopml.ENOTFOUND, "churn")
	wantErr(t, s.DeleteRegisteredModel(ctx, "churn"), loopml.ENOTFOUND, "churn")
	// The name is free again.
	mustCreateModel(t, s, "churn")
}

func testRegistryModelTags(t *testing.T, s Store) {
	mustCreateModel(t, s, "m")
	must(t, s.SetRegisteredModelTag(ctx, "m", loopml.Tag{Key: "b", Value: "1"}))
	must(t, s.SetRegisteredModelTag(ctx, "m", loopml.Tag{Key: "a", Value: "2"}))
	must(t, s.SetRegisteredModelTag(ctx, "m", loopml.Tag{Key: "b", Value: "3"}))
	tags := mustGetModel(t, s, "m").Tags
	if len(tags) != 2 || tags[0] != (loopml.Tag{Key: "a", Value: "2"}) || tags[1] != (loopml.Tag{Key: "b", Value: "3"}) {
		t.Fatalf("tags %v", tags)
	}
	must(t, s.DeleteRegisteredModelTag(ctx, "m", "a"))
	must(t, s.DeleteRegisteredModelTag(ctx, "m", "never-set"))
	if tags := mustGetModel(t, s, "m").Tags; len(tags) != 1 || tags[0].Key != "b" {
		t.Fatalf("tags after delete %v", tags)
	}
	wantErr(t, s.SetRegisteredModelTag(ctx, "nope", loopml.Tag{Key: "a", Value: "1"}), loopml.ENOTFOUND, "nope")
	wantErr(t, s.DeleteRegisteredModelTag(ctx, "nope", "a"), loopml.ENOTFOUND, "nope")
	wantErr(t, s.SetRegisteredModelTag(ctx, "m", loopml.Tag{Key: "", Value: "1"}), loopml.EINVALID)
}

func testRegistryVersions(t *testing.T, s Store) {
	mustCreateModel(t, s, "m")
	sources := []string{
		"mlflow-artifacts:/1/abc/artifacts/model",
		"runs:/0123456789abcdef0123456789abcdef/model",
		"models:/other/3",
		"/plain/path/model",
	}
	for i, src := range sources {
		v := mustCreateVersion(t, s, loopml.ModelVersion{
			Name: "m", Source: src, RunID: "run" + itoa(int64(i)), RunLink: "http://x/run/" + itoa(int64(i)),
			Description: "d" + itoa(int64(i)), Signature: `{"inputs":"[]"}`, SizeBytes: 100 + int64(i), Digest: "blake3:ab",
			Tags: []loopml.Tag{{Key: "k", Value: "v" + itoa(int64(i))}},
		})
		if v.Version != itoa(int64(i+1)) || v.Status != loopml.VersionReady || v.CurrentStage != loopml.StageNone || v.CreationTimestamp == 0 {
			t.Fatalf("created version %+v", v)
		}
		got := mustGetVersion(t, s, "m", v.Version)
		if got.Name != "m" || got.Source != src || got.RunID != "run"+itoa(int64(i)) || got.RunLink != v.RunLink ||
			got.Description != v.Description || got.Signature != v.Signature || got.SizeBytes != v.SizeBytes || got.Digest != v.Digest ||
			got.Status != loopml.VersionReady || got.CurrentStage != loopml.StageNone || got.CreationTimestamp != v.CreationTimestamp {
			t.Fatalf("got %+v, want %+v", got, v)
		}
		if len(got.Tags) != 1 || got.Tags[0].Value != "v"+itoa(int64(i)) {
			t.Fatalf("version tags %v", got.Tags)
		}
	}
	m := mustGetModel(t, s, "m")
	if len(m.LatestVersions) != 1 || m.LatestVersions[0].Version != "4" {
		t.Fatalf("latest versions %v", versionNumbers(m.LatestVersions))
	}

	time.Sleep(2 * time.Millisecond)
	up, err := s.UpdateModelVersion(ctx, "m", "2", "better")
	must(t, err)
	if up.Description != "better" || up.LastUpdatedTimestamp <= up.CreationTimestamp || up.Source != sources[1] {
		t.Fatalf("updated %+v", up)
	}

	must(t, s.SetModelVersionTag(ctx, "m", "2", loopml.Tag{Key: "k", Value: "new"}))
	must(t, s.SetModelVersionTag(ctx, "m", "2", loopml.Tag{Key: "a", Value: "x"}))
	if tags := mustGetVersion(t, s, "m", "2").Tags; len(tags) != 2 || tags[0] != (loopml.Tag{Key: "a", Value: "x"}) || tags[1] != (loopml.Tag{Key: "k", Value: "new"}) {
		t.Fatalf("tags %v", tags)
	}
	must(t, s.DeleteModelVersionTag(ctx, "m", "2", "k"))
	must(t, s.DeleteModelVersionTag(ctx, "m", "2", "never"))
	if tags := mustGetVersion(t, s, "m", "2").Tags; len(tags) != 1 || tags[0].Key != "a" {
		t.Fatalf("tags after delete %v", tags)
	}

	// Deleted numbers are not reused.
	must(t, s.DeleteModelVersion(ctx, "m", "4"))
	_, err = s.GetModelVersion(ctx, "m", "4")
	wantErr(t, err, loopml.ENOTFOUND, "Model Version (name=m, version=4) not found")
	if v := mustCreateVersion(t, s, loopml.ModelVersion{Name: "m"}); v.Version != "5" {
		t.Fatalf("version after deleting 4: %s, want 5", v.Version)
	}
	// Numbering is per model.
	mustCreateModel(t, s, "other")
	if v := mustCreateVersion(t, s, loopml.ModelVersion{Name: "other"}); v.Version != "1" {
		t.Fatalf("first version of a second model: %s", v.Version)
	}
}

func testRegistryVersionErrors(t *testing.T, s Store) {
	mustCreateModel(t, s, "m")
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "m"})
	wantErr(t, s.CreateModelVersion(ctx, &loopml.ModelVersion{Name: "nope", Source: "x"}), loopml.ENOTFOUND, "Registered Model with name=nope not found")
	wantErr(t, s.CreateModelVersion(ctx, &loopml.ModelVersion{Name: "m"}), loopml.EINVALID, "source")
	wantErr(t, s.CreateModelVersion(ctx, &loopml.ModelVersion{Source: "x"}), loopml.EINVALID, "name")
	_, err := s.GetModelVersion(ctx, "m", "9")
	wantErr(t, err, loopml.ENOTFOUND, "Model Version (name=m, version=9) not found")
	_, err = s.GetModelVersion(ctx, "nope", "1")
	wantErr(t, err, loopml.ENOTFOUND, "Registered Model with name=nope not found")
	for _, bad := range []string{"abc", "", "0", "-1", "1.5"} {
		_, err = s.GetModelVersion(ctx, "m", bad)
		wantErr(t, err, loopml.EINVALID, "version")
	}
	_, err = s.UpdateModelVersion(ctx, "m", "9", "x")
	wantErr(t, err, loopml.ENOTFOUND, "version=9")
	wantErr(t, s.DeleteModelVersion(ctx, "m", "9"), loopml.ENOTFOUND, "version=9")
	wantErr(t, s.SetModelVersionTag(ctx, "m", "9", loopml.Tag{Key: "a", Value: "b"}), loopml.ENOTFOUND, "version=9")
	wantErr(t, s.DeleteModelVersionTag(ctx, "m", "9", "a"), loopml.ENOTFOUND, "version=9")
	wantErr(t, s.SetModelVersionTag(ctx, "m", "1", loopml.Tag{Key: ""}), loopml.EINVALID)
}

func testRegistryStages(t *testing.T, s Store) {
	mustCreateModel(t, s, "m")
	for i := 0; i < 4; i++ {
		mustCreateVersion(t, s, loopml.ModelVersion{Name: "m"})
	}
	v, err := s.TransitionModelVersionStage(ctx, "m", "1", "production", false)
	must(t, err)
	if v.CurrentStage != loopml.StageProduction || v.Version != "1" {
		t.Fatalf("transitioned %+v", v)
	}
	_, err = s.TransitionModelVersionStage(ctx, "m", "2", "STAGING", false)
	must(t, err)
	_, err = s.TransitionModelVersionStage(ctx, "m", "3", "Production", false)
	must(t, err)
	latest, err := s.GetLatestVersions(ctx, "m", nil)
	must(t, err)
	wantStrings(t, "latest versions", versionNumbers(latest), []string{"m/4:None", "m/2:Staging", "m/3:Production"})
	latest, err = s.GetLatestVersions(ctx, "m", []string{"production", "Staging"})
	must(t, err)
	wantStrings(t, "latest staging+production", versionNumbers(latest), []string{"m/2:Staging", "m/3:Production"})
	latest, err = s.GetLatestVersions(ctx, "m", []string{"Archived"})
	must(t, err)
	if len(latest) != 0 {
		t.Fatalf("latest archived %v", versionNumbers(latest))
	}
	_, err = s.GetLatestVersions(ctx, "m", []string{"Prod"})
	wantErr(t, err, loopml.EINVALID, "Prod")
	_, err = s.GetLatestVersions(ctx, "nope", nil)
	wantErr(t, err, loopml.ENOTFOUND, "nope")

	// archive_existing_versions: 1 and 3 are in Production; moving 4 there
	// archives both, and leaves Staging alone.
	v, err = s.TransitionModelVersionStage(ctx, "m", "4", "Production", true)
	must(t, err)
	if v.CurrentStage != loopml.StageProduction {
		t.Fatalf("stage %q", v.CurrentStage)
	}
	for ver, stage := range map[string]string{"1": loopml.StageArchived, "2": loopml.StageStaging, "3": loopml.StageArchived, "4": loopml.StageProduction} {
		if got := mustGetVersion(t, s, "m", ver).CurrentStage; got != stage {
			t.Fatalf("version %s stage %q, want %q", ver, got, stage)
		}
	}
	wantStrings(t, "model latest versions", versionNumbers(mustGetModel(t, s, "m").LatestVersions),
		[]string{"m/2:Staging", "m/4:Production", "m/3:Archived"})

	_, err = s.TransitionModelVersionStage(ctx, "m", "1", "Deployed", false)
	wantErr(t, err, loopml.EINVALID, "Deployed")
	_, err = s.TransitionModelVersionStage(ctx, "m", "1", "Archived", true)
	wantErr(t, err, loopml.EINVALID)
	_, err = s.TransitionModelVersionStage(ctx, "m", "9", "Staging", false)
	wantErr(t, err, loopml.ENOTFOUND, "version=9")
	_, err = s.TransitionModelVersionStage(ctx, "nope", "1", "Staging", false)
	wantErr(t, err, loopml.ENOTFOUND, "nope")

	var got []string
	for _, e := range mustEvents(t, s, loopml.RegistryEventQuery{Model: "m"}) {
		if e.Type == loopml.EventStageTransition {
			got = append(got, eventSummary([]loopml.RegistryEvent{e})[0])
			if e.Version == "1" && e.ToStage == loopml.StageArchived && !strings.Contains(e.Reason, "4") {
				t.Fatalf("archive event reason %q does not name version 4", e.Reason)
			}
		}
	}
	wantStrings(t, "stage events", got, []string{
		"stage_transition m v1 None->Production",
		"stage_transition m v2 None->Staging",
		"stage_transition m v3 None->Production",
		"stage_transition m v4 None->Production",
		"stage_transition m v1 Production->Archived",
		"stage_transition m v3 Production->Archived",
	})
}

func testRegistryAliases(t *testing.T, s Store) {
	mustCreateModel(t, s, "m")
	for i := 0; i < 3; i++ {
		mustCreateVersion(t, s, loopml.ModelVersion{Name: "m"})
	}
	must(t, s.SetAlias(ctx, "m", "champion", "1"))
	must(t, s.SetAlias(ctx, "m", "challenger", "2"))
	must(t, s.SetAlias(ctx, "m", "best", "1"))
	v, err := s.GetVersionByAlias(ctx, "m", "champion")
	must(t, err)
	if v.Version != "1" || v.Name != "m" {
		t.Fatalf("champion is %s/%s", v.Name, v.Version)
	}
	wantStrings(t, "aliases of version 1", v.Aliases, []string{"best", "champion"})
	m := mustGetModel(t, s, "m")
	if fmt.Sprint(m.Aliases) != "[{best 1} {challenger 2} {champion 1}]" {
		t.Fatalf("model aliases %v", m.Aliases)
	}

	// Move.
	must(t, s.SetAlias(ctx, "m", "champion", "3"))
	v, err = s.GetVersionByAlias(ctx, "m", "champion")
	must(t, err)
	if v.Version != "3" {
		t.Fatalf("champion after move is %s", v.Version)
	}
	wantStrings(t, "aliases of version 1 after move", mustGetVersion(t, s, "m", "1").Aliases, []string{"best"})

	// Delete.
	must(t, s.DeleteAlias(ctx, "m", "best"))
	_, err = s.GetVersionByAlias(ctx, "m", "best")
	wantErr(t, err, loopml.ENOTFOUND, "Registered model alias best not found", "m")
	wantErr(t, s.DeleteAlias(ctx, "m", "best"), loopml.ENOTFOUND, "best")

	// Errors.
	for _, bad := range []string{"latest", "LATEST", "3", "v3", "V12", ""} {
		wantErr(t, s.SetAlias(ctx, "m", bad, "1"), loopml.EINVALID)
	}
	wantErr(t, s.SetAlias(ctx, "m", "x", "9"), loopml.ENOTFOUND, "version=9")
	wantErr(t, s.SetAlias(ctx, "nope", "x", "1"), loopml.ENOTFOUND, "nope")
	wantErr(t, s.DeleteAlias(ctx, "nope", "x"), loopml.ENOTFOUND, "nope")
	_, err = s.GetVersionByAlias(ctx, "nope", "champion")
	wantErr(t, err, loopml.ENOTFOUND, "nope")

	wantStrings(t, "alias events", eventSummary(mustEvents(t, s, loopml.RegistryEventQuery{Model: "m", Alias: "champion"})),
		[]string{"alias_set m @champion ->1", "alias_set m @champion 1->3"})
	wantStrings(t, "alias events", eventSummary(mustEvents(t, s, loopml.RegistryEventQuery{Model: "m", Alias: "best"})),
		[]string{"alias_set m @best ->1", "alias_deleted m @best 1->"})
}

// testRegistryAliasHistory answers "which version was champion at time T"
// after several moves, from the event log.
func testRegistryAliasHistory(t *testing.T, s Store) {
	mustCreateModel(t, s, "m")
	for i := 0; i < 3; i++ {
		mustCreateVersion(t, s, loopml.ModelVersion{Name: "m"})
	}
	steps := []struct {
		set  string // "" deletes
		want string
	}{{"1", "1"}, {"2", "2"}, {"", ""}, {"3", "3"}, {"1", "1"}}
	var times []int64
	for _, st := range steps {
		time.Sleep(3 * time.Millisecond) // distinct event times
		if st.set == "" {
			must(t, s.DeleteAlias(ctx, "m", "champion"))
		} else {
			must(t, s.SetAlias(ctx, "m", "champion", st.set))
		}
		// Another alias moves in between and must not interfere.
		must(t, s.SetAlias(ctx, "m", "other", "2"))
		evs := mustEvents(t, s, loopml.RegistryEventQuery{Model: "m", Alias: "champion"})
		times = append(times, evs[len(evs)-1].Time)
	}
	evs := mustEvents(t, s, loopml.RegistryEventQuery{Model: "m"})
	if len(evs) < 2*len(steps) {
		t.Fatalf("%d events", len(evs))
	}
	if got := loopml.AliasAt(evs, "champion", times[0]-1); got != "" {
		t.Fatalf("champion before the first set: %q", got)
	}
	for i, st := range steps {
		if got := loopml.AliasAt(evs, "champion", times[i]); got != st.want {
			t.Fatalf("champion at step %d (t=%d): %q, want %q", i, times[i], got, st.want)
		}
		if i+1 < len(steps) && times[i+1] > times[i]+1 {
			if got := loopml.AliasAt(evs, "champion", times[i+1]-1); got != st.want {
				t.Fatalf("champion just before step %d: %q, want %q", i+1, got, st.want)
			}
		}
	}
	// Until bounds the log the same way.
	upto := mustEvents(t, s, loopml.RegistryEventQuery{Model: "m", Alias: "champion", Until: times[1]})
	if len(upto) != 2 || loopml.AliasAt(upto, "champion", 1<<62) != "2" {
		t.Fatalf("events until step 1: %v", eventSummary(upto))
	}
}

func testRegistryDeleteVersionWithAlias(t *testing.T, s Store) {
	mustCreateModel(t, s, "m")
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "m"})
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "m"})
	must(t, s.SetAlias(ctx, "m", "champion", "2"))
	must(t, s.SetAlias(ctx, "m", "prod", "2"))
	must(t, s.SetAlias(ctx, "m", "old", "1"))
	must(t, s.DeleteModelVersion(ctx, "m", "2"))
	_, err := s.GetVersionByAlias(ctx, "m", "champion")
	wantErr(t, err, loopml.ENOTFOUND, "champion")
	m := mustGetModel(t, s, "m")
	if fmt.Sprint(m.Aliases) != "[{old 1}]" {
		t.Fatalf("aliases after deleting version 2: %v", m.Aliases)
	}
	evs := mustEvents(t, s, loopml.RegistryEventQuery{Model: "m", AfterID: 0})
	tail := evs[len(evs)-3:]
	wantStrings(t, "delete events", eventSummary(tail), []string{
		"alias_deleted m @champion 2->",
		"alias_deleted m @prod 2->",
		"version_deleted m v2 None->",
	})
	for _, e := range tail[:2] {
		if !strings.Contains(e.Reason, "2") {
			t.Fatalf("alias_deleted reason %q does not name the version", e.Reason)
		}
	}
	if got := loopml.AliasAt(evs, "champion", tail[2].Time); got != "" {
		t.Fatalf("champion after deletion: %q", got)
	}
	// The alias can be set again on a remaining version.
	must(t, s.SetAlias(ctx, "m", "champion", "1"))
}

func testRegistryRename(t *testing.T, s Store) {
	mustCreateModel(t, s, "old", loopml.Tag{Key: "k", Value: "v"})
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "old"})
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "old"})
	must(t, s.SetAlias(ctx, "old", "champion", "2"))
	mustCreateModel(t, s, "taken")

	_, err := s.RenameRegisteredModel(ctx, "old", "taken")
	wantErr(t, err, loopml.ECONFLICT, "taken")
	_, err = s.RenameRegisteredModel(ctx, "nope", "x")
	wantErr(t, err, loopml.ENOTFOUND, "nope")
	_, err = s.RenameRegisteredModel(ctx, "old", "")
	wantErr(t, err, loopml.EINVALID)

	m, err := s.RenameRegisteredModel(ctx, "old", "new")
	must(t, err)
	if m.Name != "new" || len(m.Tags) != 1 || fmt.Sprint(m.Aliases) != "[{champion 2}]" || len(m.LatestVersions) != 1 || m.LatestVersions[0].Name != "new" {
		t.Fatalf("renamed model %+v", m)
	}
	_, err = s.GetRegisteredModel(ctx, "old")
	wantErr(t, err, loopml.ENOTFOUND, "old")
	_, err = s.GetModelVersion(ctx, "old", "1")
	wantErr(t, err, loopml.ENOTFOUND, "old")
	_, err = s.GetVersionByAlias(ctx, "old", "champion")
	wantErr(t, err, loopml.ENOTFOUND, "old")
	v, err := s.GetVersionByAlias(ctx, "new", "champion")
	must(t, err)
	if v.Name != "new" || v.Version != "2" {
		t.Fatalf("champion of renamed model: %s/%s", v.Name, v.Version)
	}
	if mustGetVersion(t, s, "new", "1").Name != "new" {
		t.Fatal("version 1 did not follow the rename")
	}
	// New versions continue the numbering.
	if v := mustCreateVersion(t, s, loopml.ModelVersion{Name: "new"}); v.Version != "3" {
		t.Fatalf("version after rename: %s", v.Version)
	}
	must(t, s.SetAlias(ctx, "new", "champion", "3"))

	// The history from before the rename is found under the new name.
	evs := mustEvents(t, s, loopml.RegistryEventQuery{Model: "new"})
	wantStrings(t, "events of the renamed model", eventSummary(evs), []string{
		"model_created new", "version_created new v1 ->None", "version_created new v2 ->None",
		"alias_set new @champion ->2", "model_renamed new", "version_created new v3 ->None", "alias_set new @champion 2->3",
	})
	if r := evs[4].Reason; !strings.Contains(r, "old") || !strings.Contains(r, "new") {
		t.Fatalf("rename reason %q", r)
	}
	if got := loopml.AliasAt(evs, "champion", evs[4].Time); got != "2" && evs[6].Time > evs[4].Time {
		t.Fatalf("champion at rename time: %q", got)
	}
	// The old name now belongs to nobody: the model can be created again.
	mustCreateModel(t, s, "old")
	if vs, _, err := s.SearchModelVersions(ctx, loopml.ModelVersionSearch{Filter: "name = 'old'"}); err != nil || len(vs) != 0 {
		t.Fatalf("versions of the new 'old' model: %v, %v", versionNumbers(vs), err)
	}
}

func testRegistryDeleteModel(t *testing.T, s Store) {
	mustCreateModel(t, s, "m")
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "m", Tags: []loopml.Tag{{Key: "a", Value: "b"}}})
	must(t, s.SetAlias(ctx, "m", "champion", "1"))
	must(t, s.SetRegisteredModelTag(ctx, "m", loopml.Tag{Key: "k", Value: "v"}))
	must(t, s.DeleteRegisteredModel(ctx, "m"))
	_, err := s.GetModelVersion(ctx, "m", "1")
	wantErr(t, err, loopml.ENOTFOUND, "m")
	if vs, _, err := s.SearchModelVersions(ctx, loopml.ModelVersionSearch{}); err != nil || len(vs) != 0 {
		t.Fatalf("versions after delete: %v %v", versionNumbers(vs), err)
	}
	// The deleted model's history remains.
	evs := mustEvents(t, s, loopml.RegistryEventQuery{Model: "m"})
	wantStrings(t, "events of a deleted model", eventSummary(evs), []string{
		"model_created m", "version_created m v1 ->None", "alias_set m @champion ->1",
		"alias_deleted m @champion 1->", "model_deleted m",
	})
	// A new model with the same name starts again from version 1 and
	// without tags.
	mustCreateModel(t, s, "m")
	if v := mustCreateVersion(t, s, loopml.ModelVersion{Name: "m"}); v.Version != "1" {
		t.Fatalf("first version of recreated model: %s", v.Version)
	}
	if tags := mustGetModel(t, s, "m").Tags; len(tags) != 0 {
		t.Fatalf("recreated model has tags %v", tags)
	}
	_, err = s.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "never-existed"})
	wantErr(t, err, loopml.ENOTFOUND, "never-existed")
}

func testRegistryWorkspaces(t *testing.T, s Store) {
	a := loopml.NewContextWithWorkspace(ctx, "team-a")
	b := loopml.NewContextWithWorkspace(ctx, "team-b")
	must(t, s.CreateRegisteredModel(a, &loopml.RegisteredModel{Name: "m"}))
	must(t, s.CreateRegisteredModel(b, &loopml.RegisteredModel{Name: "m"}))
	va := &loopml.ModelVersion{Name: "m", Source: "a"}
	must(t, s.CreateModelVersion(a, va))
	must(t, s.SetAlias(a, "m", "champion", "1"))
	if _, err := s.GetVersionByAlias(b, "m", "champion"); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Fatalf("alias leaked across workspaces: %v", err)
	}
	ms, _, err := s.SearchRegisteredModels(b, loopml.RegisteredModelSearch{})
	must(t, err)
	if len(ms) != 1 || ms[0].Workspace != "team-b" || len(ms[0].LatestVersions) != 0 {
		t.Fatalf("models of team-b: %+v", ms)
	}
	if evs := mustEvents(t, s, loopml.RegistryEventQuery{}); len(evs) != 0 {
		t.Fatalf("default workspace sees events %v", eventSummary(evs))
	}
	_, err = s.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "m"})
	wantErr(t, err, loopml.ENOTFOUND, "m")
	evsB, err := s.RegistryEvents(b, loopml.RegistryEventQuery{})
	must(t, err)
	wantStrings(t, "team-b events", eventSummary(evsB), []string{"model_created m"})
}

// newRegistrySearchFixture creates models alpha, Beta, gamma, delta-x (in
// creation order, tags on some) and versions:
//
//	alpha: 1 (run r1, src s3://b/alpha/1), 2 (run r2), 3 (run r1, tag flavor=sk)
//	Beta:  1 (run r3, tag flavor=torch)
//	gamma: 1, 2
func newRegistrySearchFixture(t *testing.T, s Store) {
	mustCreateModel(t, s, "alpha", loopml.Tag{Key: "team", Value: "Vision"})
	mustCreateModel(t, s, "Beta", loopml.Tag{Key: "team", Value: "nlp"})
	mustCreateModel(t, s, "gamma")
	mustCreateModel(t, s, "delta-x", loopml.Tag{Key: "team", Value: "vision"})
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "alpha", RunID: "r1", Source: "s3://b/alpha/1"})
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "alpha", RunID: "r2", Source: "s3://b/alpha/2"})
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "alpha", RunID: "r1", Source: "s3://b/alpha/3", Tags: []loopml.Tag{{Key: "flavor", Value: "sk"}}})
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "Beta", RunID: "r3", Source: "runs:/r3/model", Tags: []loopml.Tag{{Key: "flavor", Value: "torch"}}})
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "gamma", Source: "/p/g1"})
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "gamma", Source: "/p/g2"})
}

func testRegistrySearchModels(t *testing.T, s Store) {
	newRegistrySearchFixture(t, s)
	time.Sleep(2 * time.Millisecond)
	_, err := s.UpdateRegisteredModel(ctx, "gamma", "touched last")
	must(t, err)
	tests := []struct {
		filter  string
		orderBy []string
		want    []string
	}{
		{"", nil, []string{"Beta", "alpha", "delta-x", "gamma"}},
		{"name = 'alpha'", nil, []string{"alpha"}},
		{"name != 'alpha'", nil, []string{"Beta", "delta-x", "gamma"}},
		{"name LIKE '%a'", nil, []string{"Beta", "alpha", "gamma"}},
		{"name LIKE 'b%'", nil, nil},
		{"name ILIKE 'b%'", nil, []string{"Beta"}},
		{"name LIKE 'delta_x'", nil, []string{"delta-x"}},
		{"tags.team = 'vision'", nil, []string{"delta-x"}},
		{"tags.team ILIKE 'VISION'", nil, []string{"alpha", "delta-x"}},
		{"tags.team != 'nlp'", nil, []string{"alpha", "delta-x"}},
		{"tags.team ILIKE 'v%' AND name LIKE 'a%'", nil, []string{"alpha"}},
		{"", []string{"name DESC"}, []string{"gamma", "delta-x", "alpha", "Beta"}},
		{"", []string{"creation_timestamp DESC"}, nil}, // checked below
		{"", []string{"last_updated_timestamp DESC"}, nil},
	}
	for _, tc := range tests {
		ms, next, err := s.SearchRegisteredModels(ctx, loopml.RegisteredModelSearch{Filter: tc.filter, OrderBy: tc.orderBy})
		if err != nil {
			t.Fatalf("filter %q order %v: %v", tc.filter, tc.orderBy, err)
		}
		if next != "" {
			t.Fatalf("filter %q: unexpected page token", tc.filter)
		}
		got := modelNames(ms)
		switch {
		case len(tc.orderBy) == 1 && tc.orderBy[0] == "creation_timestamp DESC":
			for i := 1; i < len(ms); i++ {
				if ms[i].CreationTimestamp > ms[i-1].CreationTimestamp {
					t.Fatalf("not ordered by creation_timestamp DESC: %v", got)
				}
			}
			if len(ms) != 4 {
				t.Fatalf("got %v", got)
			}
		case len(tc.orderBy) == 1 && tc.orderBy[0] == "last_updated_timestamp DESC":
			if len(ms) != 4 || ms[0].Name != "gamma" {
				t.Fatalf("last updated first: %v", got)
			}
		default:
			wantStrings(t, fmt.Sprintf("filter %q order %v", tc.filter, tc.orderBy), got, tc.want)
		}
	}
	ms, _, err := s.SearchRegisteredModels(ctx, loopml.RegisteredModelSearch{Filter: "name = 'alpha'"})
	must(t, err)
	if len(ms[0].Tags) != 1 || len(ms[0].LatestVersions) != 1 || ms[0].LatestVersions[0].Version != "3" {
		t.Fatalf("search result lacks details: %+v", ms[0])
	}

	for _, bad := range []loopml.RegisteredModelSearch{
		{Filter: "name = "},
		{Filter: "version_number = 1"},
		{Filter: "name > 'a'"},
		{Filter: "name = 'a' OR name = 'b'"},
		{OrderBy: []string{"version_number"}},
		{OrderBy: []string{"name SIDEWAYS"}},
		{MaxResults: -1},
		{MaxResults: loopml.MaxSearchModelsResults + 1},
		{PageToken: "not a token!"},
	} {
		_, _, err := s.SearchRegisteredModels(ctx, bad)
		wantErr(t, err, loopml.EINVALID)
	}
}

func testRegistrySearchModelsPaging(t *testing.T, s Store) {
	var want []string
	for i := 0; i < 11; i++ {
		name := fmt.Sprintf("m%02d", i)
		mustCreateModel(t, s, name)
		want = append(want, name)
	}
	for _, size := range []int{1, 3, 11, 20} {
		var got []string
		tok := ""
		for pages := 0; ; pages++ {
			ms, next, err := s.SearchRegisteredModels(ctx, loopml.RegisteredModelSearch{MaxResults: size, PageToken: tok})
			must(t, err)
			if len(ms) > size {
				t.Fatalf("page of %d with max %d", len(ms), size)
			}
			got = append(got, modelNames(ms)...)
			if next == "" {
				break
			}
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			tok = next
		}
		wantStrings(t, fmt.Sprintf("pages of %d", size), got, want)
	}
}

func testRegistrySearchVersions(t *testing.T, s Store) {
	newRegistrySearchFixture(t, s)
	tests := []struct {
		filter  string
		orderBy []string
		want    []string
	}{
		{"", nil, []string{"Beta/1:None", "alpha/3:None", "alpha/2:None", "alpha/1:None", "gamma/2:None", "gamma/1:None"}},
		{"name = 'alpha'", nil, []string{"alpha/3:None", "alpha/2:None", "alpha/1:None"}},
		{"name ILIKE 'beta'", nil, []string{"Beta/1:None"}},
		{"name = 'alpha' AND version_number >= 2", nil, []string{"alpha/3:None", "alpha/2:None"}},
		{"version_number = 2", nil, []string{"alpha/2:None", "gamma/2:None"}},
		{"version_number != 1 AND version_number < 3", nil, []string{"alpha/2:None", "gamma/2:None"}},
		{"run_id = 'r1'", nil, []string{"alpha/3:None", "alpha/1:None"}},
		{"run_id IN ('r2', 'r3')", nil, []string{"Beta/1:None", "alpha/2:None"}},
		{"run_id NOT IN ('r1', '') AND name != 'gamma'", nil, []string{"Beta/1:None", "alpha/2:None"}},
		{"source_path LIKE 's3://b/%'", nil, []string{"alpha/3:None", "alpha/2:None", "alpha/1:None"}},
		{"source_path = '/p/g1'", nil, []string{"gamma/1:None"}},
		{"tags.flavor = 'sk'", nil, []string{"alpha/3:None"}},
		{"tags.flavor LIKE '%o%'", nil, []string{"Beta/1:None"}},
		{"name = 'alpha'", []string{"version_number ASC"}, []string{"alpha/1:None", "alpha/2:None", "alpha/3:None"}},
		{"", []string{"name DESC"}, []string{"gamma/2:None", "gamma/1:None", "alpha/3:None", "alpha/2:None", "alpha/1:None", "Beta/1:None"}},
		{"version_number = 1", []string{"creation_timestamp DESC"}, nil},
	}
	for _, tc := range tests {
		vs, next, err := s.SearchModelVersions(ctx, loopml.ModelVersionSearch{Filter: tc.filter, OrderBy: tc.orderBy})
		if err != nil {
			t.Fatalf("filter %q order %v: %v", tc.filter, tc.orderBy, err)
		}
		if next != "" {
			t.Fatalf("filter %q: unexpected page token", tc.filter)
		}
		if tc.want == nil {
			for i := 1; i < len(vs); i++ {
				if vs[i].CreationTimestamp > vs[i-1].CreationTimestamp {
					t.Fatalf("not ordered by creation_timestamp DESC: %v", versionNumbers(vs))
				}
			}
			if len(vs) != 3 {
				t.Fatalf("got %v", versionNumbers(vs))
			}
			continue
		}
		wantStrings(t, fmt.Sprintf("filter %q order %v", tc.filter, tc.orderBy), versionNumbers(vs), tc.want)
	}
	vs, _, err := s.SearchModelVersions(ctx, loopml.ModelVersionSearch{Filter: "tags.flavor = 'torch'"})
	must(t, err)
	if len(vs[0].Tags) != 1 || vs[0].RunID != "r3" || vs[0].Source != "runs:/r3/model" {
		t.Fatalf("search result lacks details: %+v", vs[0])
	}
	for _, bad := range []loopml.ModelVersionSearch{
		{Filter: "version_number = 'x'"},
		{Filter: "run_id LIKE 'r%'"},
		{Filter: "source_path IN ('a')"},
		{Filter: "metrics.x > 1"},
		{OrderBy: []string{"run_id"}},
		{MaxResults: -1},
		{MaxResults: loopml.MaxSearchVersionsResults + 1},
		{PageToken: "%%%"},
	} {
		_, _, err := s.SearchModelVersions(ctx, bad)
		wantErr(t, err, loopml.EINVALID)
	}
}

func testRegistrySearchVersionsPaging(t *testing.T, s Store) {
	mustCreateModel(t, s, "a")
	mustCreateModel(t, s, "b")
	var want []string
	for i := 7; i >= 1; i-- {
		want = append(want, "a/"+itoa(int64(i))+":None")
	}
	for i := 0; i < 7; i++ {
		mustCreateVersion(t, s, loopml.ModelVersion{Name: "a"})
	}
	for i := 0; i < 3; i++ {
		mustCreateVersion(t, s, loopml.ModelVersion{Name: "b"})
	}
	want = append(want, "b/3:None", "b/2:None", "b/1:None")
	for _, size := range []int{1, 4, 10, 11} {
		var got []string
		tok := ""
		for pages := 0; ; pages++ {
			vs, next, err := s.SearchModelVersions(ctx, loopml.ModelVersionSearch{MaxResults: size, PageToken: tok})
			must(t, err)
			if len(vs) > size {
				t.Fatalf("page of %d with max %d", len(vs), size)
			}
			got = append(got, versionNumbers(vs)...)
			if next == "" {
				break
			}
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			tok = next
		}
		wantStrings(t, fmt.Sprintf("pages of %d", size), got, want)
	}
}

func testRegistryEvents(t *testing.T, s Store) {
	who := loopml.NewContextWithPrincipal(ctx, "alice")
	must(t, s.CreateRegisteredModel(who, &loopml.RegisteredModel{Name: "m"}))
	mustCreateModel(t, s, "n")
	v := &loopml.ModelVersion{Name: "m", Source: "x"}
	must(t, s.CreateModelVersion(who, v))
	if v.UserID != "alice" || mustGetVersion(t, s, "m", "1").UserID != "alice" || mustGetModel(t, s, "m").UserID != "alice" {
		t.Fatalf("creator not recorded: %q", v.UserID)
	}
	must(t, s.SetAlias(who, "m", "champion", "1"))
	all := mustEvents(t, s, loopml.RegistryEventQuery{})
	wantStrings(t, "all events", eventSummary(all), []string{
		"model_created m", "model_created n", "version_created m v1 ->None", "alias_set m @champion ->1",
	})
	for _, e := range all {
		if e.Time == 0 || e.Workspace != loopml.WorkspaceFromContext(ctx) {
			t.Fatalf("event %+v", e)
		}
		if e.Model == "m" && e.Principal != "alice" {
			t.Fatalf("event %+v lacks the principal", e)
		}
	}
	after := mustEvents(t, s, loopml.RegistryEventQuery{AfterID: all[1].ID})
	if len(after) != 2 || after[0].ID != all[2].ID {
		t.Fatalf("events after %d: %v", all[1].ID, eventSummary(after))
	}
	if got := mustEvents(t, s, loopml.RegistryEventQuery{MaxResults: 3}); len(got) != 3 || got[2].ID != all[2].ID {
		t.Fatalf("max 3: %v", eventSummary(got))
	}
	if got := mustEvents(t, s, loopml.RegistryEventQuery{Model: "n"}); len(got) != 1 || got[0].Type != loopml.EventModelCreated {
		t.Fatalf("events of n: %v", eventSummary(got))
	}
	if got := mustEvents(t, s, loopml.RegistryEventQuery{Until: all[0].Time - 1}); len(got) != 0 {
		t.Fatalf("events before the first: %v", eventSummary(got))
	}
	_, err := s.RegistryEvents(ctx, loopml.RegistryEventQuery{MaxResults: -1})
	wantErr(t, err, loopml.EINVALID)
}

// testRegistryResolveURI resolves every models:/ URI form against the store.
func testRegistryResolveURI(t *testing.T, s Store) {
	mustCreateModel(t, s, "m")
	for i := 0; i < 3; i++ {
		mustCreateVersion(t, s, loopml.ModelVersion{Name: "m"})
	}
	_, err := s.TransitionModelVersionStage(ctx, "m", "2", "Production", false)
	must(t, err)
	must(t, s.SetAlias(ctx, "m", "champion", "1"))
	tests := []struct{ uri, want string }{
		{"models:/m/2", "2"}, {"models:/m@champion", "1"}, {"models:/m/Production", "2"},
		{"models:/m/latest", "3"}, {"m/3", "3"},
	}
	for _, tc := range tests {
		u, err := loopml.ParseModelURI(tc.uri)
		must(t, err)
		v, err := loopml.ResolveModelURI(ctx, s, u)
		if err != nil {
			t.Fatalf("resolve %s: %v", tc.uri, err)
		}
		if v.Version != tc.want {
			t.Fatalf("resolve %s: version %s, want %s", tc.uri, v.Version, tc.want)
		}
	}
	for _, bad := range []string{"models:/m/9", "models:/m@nobody", "models:/m/Staging", "models:/nope/latest"} {
		u, err := loopml.ParseModelURI(bad)
		must(t, err)
		_, err = loopml.ResolveModelURI(ctx, s, u)
		wantErr(t, err, loopml.ENOTFOUND)
	}
}

// testRegistryConcurrentAliasMoves moves one alias from many goroutines:
// every move is recorded, each event's FromVersion is the previous event's
// ToVersion, and the final state is the last event's ToVersion.
func testRegistryConcurrentAliasMoves(t *testing.T, s Store) {
	mustCreateModel(t, s, "m")
	const versions, workers, moves = 5, 16, 8
	for i := 0; i < versions; i++ {
		mustCreateVersion(t, s, loopml.ModelVersion{Name: "m"})
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*moves)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < moves; i++ {
				if err := s.SetAlias(ctx, "m", "champion", itoa(int64((w+i)%versions+1))); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	evs := mustEvents(t, s, loopml.RegistryEventQuery{Model: "m", Alias: "champion"})
	if len(evs) != workers*moves {
		t.Fatalf("%d alias events, want %d", len(evs), workers*moves)
	}
	prev := ""
	for i, e := range evs {
		if e.Type != loopml.EventAliasSet || e.FromVersion != prev {
			t.Fatalf("event %d: %s, want from %q", i, eventSummary([]loopml.RegistryEvent{e})[0], prev)
		}
		prev = e.ToVersion
	}
	v, err := s.GetVersionByAlias(ctx, "m", "champion")
	must(t, err)
	if v.Version != prev {
		t.Fatalf("champion is %s, last event says %s", v.Version, prev)
	}
	if got := loopml.AliasAt(evs, "champion", evs[len(evs)-1].Time); got != prev {
		t.Fatalf("AliasAt now: %s, want %s", got, prev)
	}
}

// testRegistryConcurrentCreateVersions creates versions from many
// goroutines: numbers are 1..n without gaps or duplicates.
func testRegistryConcurrentCreateVersions(t *testing.T, s Store) {
	mustCreateModel(t, s, "m")
	const workers, each = 8, 5
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				v := &loopml.ModelVersion{Name: "m", Source: "x"}
				if err := s.CreateModelVersion(ctx, v); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				seen[v.Version] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := 1; i <= workers*each; i++ {
		if !seen[itoa(int64(i))] {
			t.Fatalf("version %d missing; got %v", i, seen)
		}
	}
}
