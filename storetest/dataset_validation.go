package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/loopml/loopml"
)

var datasetValidationTests = []test{
	{"QuarantineLatest", testQuarantineLatest},
	{"QuarantineCreate", testQuarantineCreate},
	{"QuarantineReAdd", testQuarantineReAdd},
	{"Record", testValidationRecord},
	{"RecordInvalid", testValidationRecordInvalid},
	{"Rules", testDatasetRules},
	{"RulesHistory", testDatasetRulesHistory},
	{"Workspaces", testValidationWorkspaces},
	{"ConcurrentRules", testConcurrentRules},
}

// validationStore returns s as both dataset services, skipping stores
// without them.
func validationStore(t *testing.T, s Store) (loopml.DatasetService, loopml.DatasetValidationService) {
	t.Helper()
	ds := datasetStore(t, s)
	vs, ok := s.(loopml.DatasetValidationService)
	if !ok {
		t.Skip("store does not implement loopml.DatasetValidationService")
	}
	return ds, vs
}

func testQuarantineLatest(t *testing.T, s Store) {
	ds, vs := validationStore(t, s)
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "ratings", Root: root('1')})
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "ratings", Root: root('2')})
	must(t, ds.SetDatasetTag(ctx, "ratings", "candidate", 2))
	must(t, vs.SetDatasetVersionQuarantine(ctx, "ratings", 2, true))

	for _, tc := range []struct {
		ref         string
		version     int
		quarantined bool
	}{
		{"ratings", 1, false},
		{"ratings@latest", 1, false},
		{"ratings@v2", 2, true},
		{"ratings@candidate", 2, true},
		{"ratings@v1", 1, false},
	} {
		v := mustResolve(t, ds, tc.ref)
		if v.Version != tc.version || v.Quarantined != tc.quarantined {
			t.Errorf("%s: got v%d quarantined=%v, want v%d quarantined=%v", tc.ref, v.Version, v.Quarantined, tc.version, tc.quarantined)
		}
	}
	sum, err := ds.GetDataset(ctx, "ratings")
	must(t, err)
	if sum.Latest != 1 || sum.Versions != 2 || sum.NextVersion != 3 {
		t.Errorf("summary: latest %d versions %d next %d, want 1, 2, 3", sum.Latest, sum.Versions, sum.NextVersion)
	}
	list, err := ds.ListDatasetVersions(ctx, "ratings")
	must(t, err)
	if len(list) != 2 || list[0].Quarantined || !list[1].Quarantined {
		t.Errorf("versions list does not show the quarantine of v2: %+v", list)
	}

	// Every version quarantined: @latest names the way out.
	must(t, vs.SetDatasetVersionQuarantine(ctx, "ratings", 1, true))
	_, err = ds.GetDatasetVersion(ctx, loopml.DatasetRef{Name: "ratings"})
	wantErr(t, err, loopml.ENOTFOUND, "ratings", "quarantine", "v2")
	sum, err = ds.GetDataset(ctx, "ratings")
	must(t, err)
	if sum.Latest != 0 || sum.Versions != 2 {
		t.Errorf("all quarantined: latest %d versions %d, want 0, 2", sum.Latest, sum.Versions)
	}

	// Releasing restores @latest.
	must(t, vs.SetDatasetVersionQuarantine(ctx, "ratings", 2, false))
	if v := mustResolve(t, ds, "ratings"); v.Version != 2 || v.Quarantined {
		t.Errorf("after release: got v%d quarantined=%v, want v2 not quarantined", v.Version, v.Quarantined)
	}

	wantErr(t, vs.SetDatasetVersionQuarantine(ctx, "ratings", 9, true), loopml.ENOTFOUND, "ratings", "9")
	wantErr(t, vs.SetDatasetVersionQuarantine(ctx, "nothing", 1, true), loopml.ENOTFOUND, "nothing")
	must(t, ds.DeleteDatasetVersion(ctx, "ratings", 1))
	wantErr(t, vs.SetDatasetVersionQuarantine(ctx, "ratings", 1, false), loopml.ENOTFOUND, "deleted")
}

func testQuarantineCreate(t *testing.T, s Store) {
	ds, _ := validationStore(t, s)
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "events", Root: root('1'), Validation: loopml.ValidationPassed})
	v2, created := mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "events", Root: root('2'), Quarantined: true, Validation: loopml.ValidationFailed})
	if !created || v2.Version != 2 {
		t.Fatalf("quarantined create: created=%v v%d", created, v2.Version)
	}
	if got := mustResolve(t, ds, "events@v2"); !got.Quarantined || got.Validation != loopml.ValidationFailed {
		t.Errorf("v2: quarantined=%v validation=%q, want true, failed", got.Quarantined, got.Validation)
	}
	if got := mustResolve(t, ds, "events"); got.Version != 1 || got.Validation != loopml.ValidationPassed {
		t.Errorf("latest: v%d validation %q, want v1 passed", got.Version, got.Validation)
	}
	_, _, err := ds.CreateDatasetVersion(ctx, &loopml.DatasetVersion{Name: "events", Root: root('3'), Validation: "maybe"})
	wantErr(t, err, loopml.EINVALID, "maybe")
}

// testQuarantineReAdd: re-adding the tree of a quarantined newest version
// returns it (still quarantined) rather than creating a duplicate.
func testQuarantineReAdd(t *testing.T, s Store) {
	ds, _ := validationStore(t, s)
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "clicks", Root: root('1')})
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "clicks", Root: root('2'), Quarantined: true})
	again, created := mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "clicks", Root: root('2')})
	if created || again.Version != 2 || !again.Quarantined {
		t.Fatalf("re-add of quarantined tree: created=%v v%d quarantined=%v, want existing v2 quarantined", created, again.Version, again.Quarantined)
	}
	// The latest (v1) tree again: v1 is not the newest, so a new version.
	v3, created := mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "clicks", Root: root('1')})
	if !created || v3.Version != 3 {
		t.Fatalf("re-add of v1's tree after v2: created=%v v%d, want new v3", created, v3.Version)
	}
}

func testValidationRecord(t *testing.T, s Store) {
	ds, vs := validationStore(t, s)
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "ratings", Root: root('1')})
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "ratings", Root: root('2')})

	_, err := vs.LatestDatasetValidation(ctx, loopml.DatasetRef{Name: "ratings", Version: 1})
	wantErr(t, err, loopml.ENOTFOUND, "never validated")
	list, err := vs.ListDatasetValidations(ctx, "ratings", 0)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("no validation yet, got %d", len(list))
	}

	first := &loopml.DatasetValidation{Name: "ratings", Version: 1, Status: loopml.ValidationFailed, RulesDigest: loopml.RulesDigest("a: 1"),
		ReportRef: "datasets/ratings/v1/validation/1.json", Summary: "1 of 3 checks failed: rating max", Failed: 1, Checks: 3, Strict: true}
	must(t, vs.RecordDatasetValidation(ctx, first))
	if first.ID == 0 || first.CreationTimestamp == 0 || first.Workspace != loopml.WorkspaceFromContext(ctx) || first.CreatedBy == "" {
		t.Fatalf("recorded validation not filled in: %+v", first)
	}
	second := &loopml.DatasetValidation{Name: "ratings", Version: 1, Status: loopml.ValidationPassed, Failed: 0, Checks: 3}
	must(t, vs.RecordDatasetValidation(ctx, second))
	third := &loopml.DatasetValidation{Name: "ratings", Version: 2, Status: loopml.ValidationError, Summary: "rules unreadable"}
	must(t, vs.RecordDatasetValidation(ctx, third))
	if !(first.ID < second.ID && second.ID < third.ID) {
		t.Fatalf("ids not increasing: %d %d %d", first.ID, second.ID, third.ID)
	}

	got, err := vs.LatestDatasetValidation(ctx, loopml.DatasetRef{Name: "ratings", Version: 1})
	must(t, err)
	if got.ID != second.ID || got.Status != loopml.ValidationPassed {
		t.Errorf("latest of v1: got %+v, want the second", got)
	}
	got, err = vs.LatestDatasetValidation(ctx, loopml.DatasetRef{Name: "ratings"})
	must(t, err)
	if got.ID != third.ID || got.Version != 2 {
		t.Errorf("latest of @latest: got %+v, want the third", got)
	}
	list, err = vs.ListDatasetValidations(ctx, "ratings", 1)
	must(t, err)
	if len(list) != 2 || *list[0] != *second || *list[1] != *first {
		t.Errorf("validations of v1, newest first:\n got %+v\nwant %+v, %+v", list, second, first)
	}
	list, err = vs.ListDatasetValidations(ctx, "ratings", 0)
	must(t, err)
	if len(list) != 3 || list[0].ID != third.ID {
		t.Errorf("all validations: got %d, newest %+v", len(list), list)
	}
	// The version carries the status of its newest validation.
	if v := mustResolve(t, ds, "ratings@v1"); v.Validation != loopml.ValidationPassed {
		t.Errorf("v1 validation status %q, want passed", v.Validation)
	}
	if v := mustResolve(t, ds, "ratings@v2"); v.Validation != loopml.ValidationError {
		t.Errorf("v2 validation status %q, want error", v.Validation)
	}
	// Validations outlive a deleted version in the list.
	must(t, ds.DeleteDatasetVersion(ctx, "ratings", 2))
	list, err = vs.ListDatasetValidations(ctx, "ratings", 2)
	must(t, err)
	if len(list) != 1 {
		t.Errorf("validations of deleted v2: got %d, want 1", len(list))
	}
	wantErr(t, vs.RecordDatasetValidation(ctx, &loopml.DatasetValidation{Name: "ratings", Version: 2, Status: loopml.ValidationPassed}),
		loopml.ENOTFOUND, "deleted")
}

func testValidationRecordInvalid(t *testing.T, s Store) {
	ds, vs := validationStore(t, s)
	mustCreateDataset(t, ds, loopml.DatasetVersion{Name: "ratings", Root: root('1')})
	for _, tc := range []struct {
		val  *loopml.DatasetValidation
		code string
		msg  string
	}{
		{nil, loopml.EINVALID, "validation"},
		{&loopml.DatasetValidation{Name: "bad name", Version: 1, Status: "passed"}, loopml.EINVALID, "bad name"},
		{&loopml.DatasetValidation{Name: "ratings", Version: 0, Status: "passed"}, loopml.EINVALID, "version"},
		{&loopml.DatasetValidation{Name: "ratings", Version: 1, Status: "ok"}, loopml.EINVALID, `"ok"`},
		{&loopml.DatasetValidation{Name: "ratings", Version: 1, Status: "failed", Failed: 3, Checks: 2}, loopml.EINVALID, "failed 3 of 2"},
		{&loopml.DatasetValidation{Name: "ratings", Version: 7, Status: "passed"}, loopml.ENOTFOUND, "version 7"},
		{&loopml.DatasetValidation{Name: "other", Version: 1, Status: "passed"}, loopml.ENOTFOUND, "other"},
	} {
		wantErr(t, vs.RecordDatasetValidation(ctx, tc.val), tc.code, tc.msg)
	}
	_, err := vs.ListDatasetValidations(ctx, "other", 0)
	wantErr(t, err, loopml.ENOTFOUND, "other")
	_, err = vs.LatestDatasetValidation(ctx, loopml.DatasetRef{Name: "ratings", Version: 4})
	wantErr(t, err, loopml.ENOTFOUND, "version 4")
}

func testDatasetRules(t *testing.T, s Store) {
	_, vs := validationStore(t, s)
	// Rules can be attached before the dataset has a version.
	_, err := vs.GetDatasetRules(ctx, "ratings")
	wantErr(t, err, loopml.ENOTFOUND, "no rules")
	wantErr(t, vs.DeleteDatasetRules(ctx, "ratings"), loopml.ENOTFOUND, "no rules")

	const y1 = "row_count: {min: 1}\n"
	r1, err := vs.SetDatasetRules(ctx, "ratings", y1)
	must(t, err)
	if r1.Revision != 1 || r1.YAML != y1 || r1.Digest != loopml.RulesDigest(y1) || r1.CreatedBy == "" || r1.CreationTimestamp == 0 || r1.Workspace != loopml.WorkspaceFromContext(ctx) {
		t.Fatalf("first rules: %+v", r1)
	}
	const y2 = "required_columns: [rating]\n"
	r2, err := vs.SetDatasetRules(ctx, "ratings", y2)
	must(t, err)
	if r2.Revision != 2 {
		t.Fatalf("second revision %d, want 2", r2.Revision)
	}
	got, err := vs.GetDatasetRules(ctx, "ratings")
	must(t, err)
	if *got != *r2 {
		t.Fatalf("get rules:\n got %+v\nwant %+v", got, r2)
	}
	must(t, vs.DeleteDatasetRules(ctx, "ratings"))
	_, err = vs.GetDatasetRules(ctx, "ratings")
	wantErr(t, err, loopml.ENOTFOUND, "no rules")
	wantErr(t, vs.DeleteDatasetRules(ctx, "ratings"), loopml.ENOTFOUND, "no rules")
	r4, err := vs.SetDatasetRules(ctx, "ratings", y1)
	must(t, err)
	if r4.Revision != 4 {
		t.Errorf("revision after removal %d, want 4 (removal is a revision)", r4.Revision)
	}

	_, err = vs.SetDatasetRules(ctx, "ratings", "  \n")
	wantErr(t, err, loopml.EINVALID, "empty")
	_, err = vs.SetDatasetRules(ctx, "bad/name", y1)
	wantErr(t, err, loopml.EINVALID, "bad/name")
	_, err = vs.SetDatasetRules(ctx, "ratings", strings.Repeat("#", loopml.MaxDatasetRulesSize+1))
	wantErr(t, err, loopml.EINVALID, "exceed")
}

func testDatasetRulesHistory(t *testing.T, s Store) {
	_, vs := validationStore(t, s)
	if list, err := vs.ListDatasetRules(ctx, "ratings"); err != nil || len(list) != 0 {
		t.Fatalf("history before any rules: %d revisions (%v), want none", len(list), err)
	}
	const y1, y3 = "row_count: {min: 1}\n", "required_columns: [rating]\n"
	r1, err := vs.SetDatasetRules(ctx, "ratings", y1)
	must(t, err)
	must(t, vs.DeleteDatasetRules(ctx, "ratings"))
	r3, err := vs.SetDatasetRules(ctx, "ratings", y3)
	must(t, err)
	_, err = vs.SetDatasetRules(ctx, "other", y1)
	must(t, err)

	list, err := vs.ListDatasetRules(ctx, "ratings")
	must(t, err)
	if len(list) != 3 {
		t.Fatalf("history has %d revisions, want 3: %+v", len(list), list)
	}
	if *list[0] != *r3 || *list[2] != *r1 {
		t.Errorf("history newest first:\n got %+v, %+v\nwant %+v, %+v", list[0], list[2], r3, r1)
	}
	if rm := list[1]; rm.Revision != 2 || rm.YAML != "" || rm.Digest != "" || rm.Name != "ratings" || rm.CreationTimestamp == 0 {
		t.Errorf("removal revision %+v, want revision 2 without rules", rm)
	}
	_, err = vs.ListDatasetRules(ctx, "bad/name")
	wantErr(t, err, loopml.EINVALID, "bad/name")
}

func testValidationWorkspaces(t *testing.T, s Store) {
	ds, vs := validationStore(t, s)
	a := loopml.NewContextWithWorkspace(ctx, "team-a")
	b := loopml.NewContextWithWorkspace(ctx, "team-b")
	if _, _, err := ds.CreateDatasetVersion(a, &loopml.DatasetVersion{Name: "shared", Root: root('1')}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ds.CreateDatasetVersion(b, &loopml.DatasetVersion{Name: "shared", Root: root('2')}); err != nil {
		t.Fatal(err)
	}
	must(t, vs.SetDatasetVersionQuarantine(a, "shared", 1, true))
	if v, err := ds.GetDatasetVersion(b, loopml.DatasetRef{Name: "shared"}); err != nil || v.Quarantined {
		t.Fatalf("quarantine leaked into another workspace: %+v %v", v, err)
	}
	val := &loopml.DatasetValidation{Name: "shared", Version: 1, Status: loopml.ValidationFailed}
	must(t, vs.RecordDatasetValidation(a, val))
	if val.Workspace != "team-a" {
		t.Errorf("validation workspace %q, want team-a", val.Workspace)
	}
	if list, err := vs.ListDatasetValidations(b, "shared", 0); err != nil || len(list) != 0 {
		t.Errorf("team-b sees %d validations (%v), want 0", len(list), err)
	}
	if _, err := vs.SetDatasetRules(a, "shared", "row_count: {min: 1}"); err != nil {
		t.Fatal(err)
	}
	_, err := vs.GetDatasetRules(b, "shared")
	wantErr(t, err, loopml.ENOTFOUND, "no rules")
	if list, err := vs.ListDatasetRules(b, "shared"); err != nil || len(list) != 0 {
		t.Errorf("team-b sees %d rules revisions (%v), want none", len(list), err)
	}
}

// ValidationStore is what RunDatasetValidations tests: dataset versions
// and their validations, rules and quarantine.
type ValidationStore interface {
	loopml.DatasetService
	loopml.DatasetValidationService
}

// RunDatasetValidations runs only the DatasetValidation group against a
// backend that implements nothing else (an HTTP client, say), skipping the
// named tests.
func RunDatasetValidations(t *testing.T, open func(t *testing.T) ValidationStore, skip ...string) {
	for _, tc := range datasetValidationTests {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range skip {
				if s == tc.name {
					t.Skipf("%s is not supported by this backend", tc.name)
				}
			}
			tc.fn(t, validationOnly{ValidationStore: open(t)})
		})
	}
}

// validationOnly is a Store whose only working parts are its dataset
// services; the validation tests use nothing else.
type validationOnly struct {
	Store
	ValidationStore
}

// testConcurrentRules: concurrent rule changes of one dataset all succeed,
// each as its own revision.
func testConcurrentRules(t *testing.T, s Store) {
	_, vs := validationStore(t, s)
	const n = 8
	revs := make(chan int, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := vs.SetDatasetRules(ctx, "busy", fmt.Sprintf("row_count: {min: %d}\n", i))
			if err != nil {
				errs <- err
				return
			}
			revs <- r.Revision
		}()
	}
	wg.Wait()
	close(revs)
	close(errs)
	for err := range errs {
		t.Errorf("concurrent set: %v", err)
	}
	seen := map[int]bool{}
	for r := range revs {
		if seen[r] || r < 1 || r > n {
			t.Errorf("revision %d duplicated or out of 1..%d", r, n)
		}
		seen[r] = true
	}
	got, err := vs.GetDatasetRules(ctx, "busy")
	must(t, err)
	if got.Revision != n {
		t.Errorf("current revision %d, want %d", got.Revision, n)
	}
}
