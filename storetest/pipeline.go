package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
)

var pipelineTests = []test{
	{"TriggerCRUD", testPipelineTriggerCRUD},
	{"TriggerValidation", testPipelineTriggerValidation},
	{"FireOnce", testPipelineFireOnce},
	{"Policies", testPipelinePolicies},
	{"ClaimOnce", testPipelineClaimOnce},
	{"LeaseExpiry", testPipelineLeaseExpiry},
	{"Cancel", testPipelineCancel},
	{"Workspaces", testPipelineWorkspaces},
}

// pipelineStore returns s as a PipelineService, skipping stores without
// one.
func pipelineStore(t *testing.T, s Store) loopml.PipelineService {
	t.Helper()
	ps, ok := s.(loopml.PipelineService)
	if !ok {
		t.Skip("store does not implement loopml.PipelineService")
	}
	return ps
}

var testSource = loopml.PipelineSource{Path: "/srv/pipelines/movielens"}

func testPipelineTriggerCRUD(t *testing.T, s Store) {
	ps := pipelineStore(t, s)
	tr := &loopml.PipelineTrigger{Name: "nightly", Pipeline: "movielens", Source: testSource, Kind: loopml.TriggerCron,
		Schedule: "0 3 * * *", Policy: loopml.PipelinePolicyQueue, Enabled: true}
	must(t, ps.CreatePipelineTrigger(ctx, tr))
	if tr.Workspace != loopml.DefaultWorkspace || tr.CreationTimestamp == 0 || tr.CreatedBy == "" {
		t.Fatalf("created trigger not filled in: %+v", tr)
	}
	wantErr(t, ps.CreatePipelineTrigger(ctx, &loopml.PipelineTrigger{Name: "nightly", Source: testSource, Kind: loopml.TriggerAPI}), loopml.ECONFLICT, "nightly")
	must(t, ps.CreatePipelineTrigger(ctx, &loopml.PipelineTrigger{Name: "hook", Pipeline: "movielens",
		Source: loopml.PipelineSource{Spec: "stages: {}\n", Dir: "/srv/work", Set: []string{"mf.k=8"}}, Kind: loopml.TriggerAPI}))
	got, err := ps.GetPipelineTrigger(ctx, "hook")
	must(t, err)
	if got.Policy != loopml.PipelinePolicySkip || got.Enabled || got.Source.Spec != "stages: {}\n" || got.Source.Dir != "/srv/work" ||
		len(got.Source.Set) != 1 || got.Source.Set[0] != "mf.k=8" {
		t.Fatalf("get trigger = %+v", got)
	}
	list, err := ps.ListPipelineTriggers(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "hook" || list[1].Name != "nightly" || list[1].Schedule != "0 3 * * *" {
		t.Fatalf("list triggers = %+v", list)
	}
	scan, err := ps.ScanPipelineTriggers(ctx)
	must(t, err)
	if len(scan) != 1 || scan[0].Name != "nightly" {
		t.Fatalf("scan = %+v, want the enabled trigger only", scan)
	}
	must(t, ps.DeletePipelineTrigger(ctx, "hook"))
	wantErr(t, ps.DeletePipelineTrigger(ctx, "hook"), loopml.ENOTFOUND, "hook")
	_, err = ps.GetPipelineTrigger(ctx, "hook")
	wantErr(t, err, loopml.ENOTFOUND, "hook")
}

func testPipelineTriggerValidation(t *testing.T, s Store) {
	ps := pipelineStore(t, s)
	for _, tc := range []struct {
		tr    loopml.PipelineTrigger
		field string
	}{
		{loopml.PipelineTrigger{Source: testSource, Kind: loopml.TriggerAPI}, "'name'"},
		{loopml.PipelineTrigger{Name: "a b", Source: testSource, Kind: loopml.TriggerAPI}, "'name'"},
		{loopml.PipelineTrigger{Name: "t", Kind: loopml.TriggerAPI}, "'path'"},
		{loopml.PipelineTrigger{Name: "t", Source: loopml.PipelineSource{Spec: "x: 1"}, Kind: loopml.TriggerAPI}, "'dir'"},
		{loopml.PipelineTrigger{Name: "t", Source: loopml.PipelineSource{Path: "/p", Spec: "x: 1", Dir: "/d"}, Kind: loopml.TriggerAPI}, "'spec'"},
		{loopml.PipelineTrigger{Name: "t", Source: testSource}, "'kind'"},
		{loopml.PipelineTrigger{Name: "t", Source: testSource, Kind: "hourly"}, "'kind'"},
		{loopml.PipelineTrigger{Name: "t", Source: testSource, Kind: loopml.TriggerCron}, "'schedule'"},
		{loopml.PipelineTrigger{Name: "t", Source: testSource, Kind: loopml.TriggerData}, "'dataset'"},
		{loopml.PipelineTrigger{Name: "t", Source: testSource, Kind: loopml.TriggerModel}, "'model'"},
		{loopml.PipelineTrigger{Name: "t", Source: testSource, Kind: loopml.TriggerAPI, Policy: "later"}, "'policy'"},
		{loopml.PipelineTrigger{Name: "t", Source: loopml.PipelineSource{Path: "/p", Set: []string{"k"}}, Kind: loopml.TriggerAPI}, "'set'"},
	} {
		wantErr(t, ps.CreatePipelineTrigger(ctx, &tc.tr), loopml.EINVALID, tc.field)
	}
	wantErr(t, ps.SubmitPipelineRun(ctx, &loopml.PipelineRun{Pipeline: "p"}), loopml.EINVALID, "'path'")
	wantErr(t, ps.SubmitPipelineRun(ctx, &loopml.PipelineRun{Pipeline: "p", Source: testSource, Policy: "x"}), loopml.EINVALID, "'policy'")
	_, err := ps.ClaimPipelineRun(ctx, "", time.Second)
	wantErr(t, err, loopml.EINVALID, "'runner'")
	wantErr(t, ps.FinishPipelineRun(ctx, "x", "r", "done", "", ""), loopml.EINVALID, "'status'")
	_, err = ps.GetPipelineRun(ctx, "nope")
	wantErr(t, err, loopml.ENOTFOUND, "nope")
}

// testPipelineFireOnce races schedulers firing one tick: exactly one run.
func testPipelineFireOnce(t *testing.T, s Store) {
	ps := pipelineStore(t, s)
	must(t, ps.CreatePipelineTrigger(ctx, &loopml.PipelineTrigger{Name: "cron", Pipeline: "p", Source: testSource,
		Kind: loopml.TriggerCron, Schedule: "* * * * *", Policy: loopml.PipelinePolicyQueue, Enabled: true}))
	// First look: the state moves, nothing starts.
	r, err := ps.FirePipelineTrigger(ctx, loopml.PipelineFire{Trigger: "cron", Check: true, To: loopml.PipelineTriggerState{NextFireAt: 1000}})
	must(t, err)
	if r != nil {
		t.Fatalf("initialising fire started run %+v", r)
	}
	const n = 8
	var wg sync.WaitGroup
	runs := make(chan *loopml.PipelineRun, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := ps.FirePipelineTrigger(ctx, loopml.PipelineFire{Trigger: "cron", StartedBy: "schedule * * * * *", Check: true, Start: true,
				From: loopml.PipelineTriggerState{NextFireAt: 1000}, To: loopml.PipelineTriggerState{NextFireAt: 61000}})
			if err != nil {
				t.Error(err)
			}
			if r != nil {
				runs <- r
			}
		}()
	}
	wg.Wait()
	close(runs)
	var got []*loopml.PipelineRun
	for r := range runs {
		got = append(got, r)
	}
	if len(got) != 1 {
		t.Fatalf("%d schedulers firing one tick started %d runs, want 1", n, len(got))
	}
	if r := got[0]; r.Trigger != "cron" || r.StartedBy != "schedule * * * * *" || r.Status != loopml.PipelineQueued || r.Pipeline != "p" ||
		r.Source.Path != testSource.Path || r.Policy != loopml.PipelinePolicyQueue {
		t.Fatalf("fired run = %+v", r)
	}
	tr, err := ps.GetPipelineTrigger(ctx, "cron")
	must(t, err)
	if tr.NextFireAt != 61000 {
		t.Fatalf("next_fire_at = %d, want 61000", tr.NextFireAt)
	}
	// Cursor state (data triggers) moves the same way.
	r, err = ps.FirePipelineTrigger(ctx, loopml.PipelineFire{Trigger: "cron", Check: true, Start: true,
		From: loopml.PipelineTriggerState{NextFireAt: 61000}, To: loopml.PipelineTriggerState{NextFireAt: 61000, Cursor: "7"}})
	must(t, err)
	again, err := ps.FirePipelineTrigger(ctx, loopml.PipelineFire{Trigger: "cron", Check: true, Start: true,
		From: loopml.PipelineTriggerState{NextFireAt: 61000}, To: loopml.PipelineTriggerState{NextFireAt: 61000, Cursor: "7"}})
	must(t, err)
	if r == nil || again != nil {
		t.Fatalf("cursor fire = %v, again = %v; want one run", r, again)
	}
	_, err = ps.FirePipelineTrigger(ctx, loopml.PipelineFire{Trigger: "missing"})
	wantErr(t, err, loopml.ENOTFOUND, "missing")
}

func submit(t *testing.T, ps loopml.PipelineService, pipeline, policy string) *loopml.PipelineRun {
	t.Helper()
	r := &loopml.PipelineRun{Pipeline: pipeline, Source: testSource, Policy: policy, StartedBy: "api"}
	must(t, ps.SubmitPipelineRun(ctx, r))
	return r
}

func getPRun(t *testing.T, ps loopml.PipelineService, id string) *loopml.PipelineRun {
	t.Helper()
	r, err := ps.GetPipelineRun(ctx, id)
	must(t, err)
	return r
}

func testPipelinePolicies(t *testing.T, s Store) {
	ps := pipelineStore(t, s)
	a := submit(t, ps, "p", loopml.PipelinePolicySkip)
	if a.ID == "" || a.Status != loopml.PipelineQueued || a.QueuedAt == 0 || a.CreatedBy == "" {
		t.Fatalf("submitted run = %+v", a)
	}
	// skip: refused while one is queued (and while running).
	err := ps.SubmitPipelineRun(ctx, &loopml.PipelineRun{Pipeline: "p", Source: testSource, Policy: loopml.PipelinePolicySkip})
	wantErr(t, err, loopml.ECONFLICT, "policy skip", a.ID)
	// Another pipeline is not affected.
	other := submit(t, ps, "q", loopml.PipelinePolicySkip)

	c, err := ps.ClaimPipelineRun(ctx, "r1", time.Minute)
	must(t, err)
	if c == nil || c.ID != a.ID || c.Status != loopml.PipelineRunning || c.Runner != "r1" || c.StartTime == 0 || c.LeaseExpiresAt <= c.StartTime {
		t.Fatalf("claim = %+v, want run %s running", c, a.ID)
	}
	err = ps.SubmitPipelineRun(ctx, &loopml.PipelineRun{Pipeline: "p", Source: testSource, Policy: loopml.PipelinePolicySkip})
	wantErr(t, err, loopml.ECONFLICT, "policy skip")

	// queue: waits; not claimable while p runs, but q's run is.
	b := submit(t, ps, "p", loopml.PipelinePolicyQueue)
	c, err = ps.ClaimPipelineRun(ctx, "r2", time.Minute)
	must(t, err)
	if c == nil || c.ID != other.ID {
		t.Fatalf("claim while p runs = %+v, want q's run %s", c, other.ID)
	}
	c, err = ps.ClaimPipelineRun(ctx, "r2", time.Minute)
	must(t, err)
	if c != nil {
		t.Fatalf("claimed %s (pipeline %s) while its pipeline runs", c.ID, c.Pipeline)
	}
	must(t, ps.FinishPipelineRun(ctx, a.ID, "r1", loopml.PipelineSucceeded, "", "trk1"))
	wantErr(t, ps.FinishPipelineRun(ctx, a.ID, "r1", loopml.PipelineFailed, "again", ""), loopml.ECONFLICT, a.ID)
	if r := getPRun(t, ps, a.ID); r.Status != loopml.PipelineSucceeded || r.TrackingRunID != "trk1" || r.EndTime == 0 {
		t.Fatalf("finished run = %+v", r)
	}
	c, err = ps.ClaimPipelineRun(ctx, "r2", time.Minute)
	must(t, err)
	if c == nil || c.ID != b.ID {
		t.Fatalf("claim after p finished = %+v, want queued run %s", c, b.ID)
	}

	// replace: queued runs are cancelled, the running one asked to stop.
	d := submit(t, ps, "p", loopml.PipelinePolicyQueue)
	e := submit(t, ps, "p", loopml.PipelinePolicyReplace)
	if r := getPRun(t, ps, d.ID); r.Status != loopml.PipelineCancelled || !strings.Contains(r.Reason, "replaced by run "+e.ID) {
		t.Fatalf("queued run after replace = %+v", r)
	}
	hb, err := ps.HeartbeatPipelineRun(ctx, loopml.PipelineHeartbeat{ID: b.ID, Runner: "r2", Lease: time.Minute, TrackingRunID: "trk2"})
	must(t, err)
	if !hb.CancelRequested || hb.TrackingRunID != "trk2" || !strings.Contains(hb.Reason, e.ID) {
		t.Fatalf("heartbeat of the replaced run = %+v, want cancel requested", hb)
	}
	must(t, ps.FinishPipelineRun(ctx, b.ID, "r2", loopml.PipelineCancelled, "context canceled", ""))
	if r := getPRun(t, ps, b.ID); r.Status != loopml.PipelineCancelled || !strings.Contains(r.Reason, "replaced by run "+e.ID) || r.TrackingRunID != "trk2" {
		t.Fatalf("replaced run = %+v", r)
	}
	c, err = ps.ClaimPipelineRun(ctx, "r1", time.Minute)
	must(t, err)
	if c == nil || c.ID != e.ID {
		t.Fatalf("claim = %+v, want the replacing run %s", c, e.ID)
	}
	list, err := ps.ListPipelineRuns(ctx, loopml.PipelineRunQuery{Pipeline: "p"})
	must(t, err)
	if len(list) != 4 || list[0].ID != e.ID {
		t.Fatalf("list runs of p = %d runs, first %v; want 4, newest first", len(list), list)
	}
	list, err = ps.ListPipelineRuns(ctx, loopml.PipelineRunQuery{Status: loopml.PipelineCancelled})
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("cancelled runs = %d, want 2", len(list))
	}
}

// testPipelineClaimOnce races runners for one queued run.
func testPipelineClaimOnce(t *testing.T, s Store) {
	ps := pipelineStore(t, s)
	const runs, runners = 5, 6
	for i := range runs {
		submit(t, ps, "p"+string(rune('a'+i)), loopml.PipelinePolicyQueue)
	}
	var mu sync.Mutex
	claimed := map[string]string{}
	var wg sync.WaitGroup
	for i := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "runner-" + string(rune('0'+i))
			for range runs {
				r, err := ps.ClaimPipelineRun(ctx, name, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if r == nil {
					continue
				}
				mu.Lock()
				if prev, ok := claimed[r.ID]; ok {
					t.Errorf("run %s claimed by %s and %s", r.ID, prev, name)
				}
				claimed[r.ID] = name
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != runs {
		t.Fatalf("claimed %d runs, want %d", len(claimed), runs)
	}
	for id, by := range claimed {
		if r := getPRun(t, ps, id); r.Runner != by || r.Status != loopml.PipelineRunning {
			t.Fatalf("run %s = %+v, want running by %s", id, r, by)
		}
	}
}

func testPipelineLeaseExpiry(t *testing.T, s Store) {
	ps := pipelineStore(t, s)
	a := submit(t, ps, "p", loopml.PipelinePolicyQueue)
	b := submit(t, ps, "q", loopml.PipelinePolicyQueue)
	ca, err := ps.ClaimPipelineRun(ctx, "dead", 20*time.Millisecond)
	must(t, err)
	cb, err := ps.ClaimPipelineRun(ctx, "alive", time.Minute)
	must(t, err)
	if ca == nil || cb == nil || ca.ID != a.ID || cb.ID != b.ID {
		t.Fatalf("claims = %v, %v", ca, cb)
	}
	time.Sleep(40 * time.Millisecond)
	exp, err := ps.ExpirePipelineLeases(ctx)
	must(t, err)
	if len(exp) != 1 || exp[0].ID != a.ID {
		t.Fatalf("expired = %v, want only %s", exp, a.ID)
	}
	r := getPRun(t, ps, a.ID)
	if r.Status != loopml.PipelineFailed || !strings.Contains(r.Reason, "runner dead lost its lease at ") || r.EndTime == 0 {
		t.Fatalf("expired run = %+v", r)
	}
	// The dead runner's late calls are refused.
	_, err = ps.HeartbeatPipelineRun(ctx, loopml.PipelineHeartbeat{ID: a.ID, Runner: "dead", Lease: time.Minute})
	wantErr(t, err, loopml.ECONFLICT, "no longer owns")
	wantErr(t, ps.FinishPipelineRun(ctx, a.ID, "dead", loopml.PipelineSucceeded, "", ""), loopml.ECONFLICT, "no longer owns")
	// Nothing left to expire; a renewed lease is not expired.
	_, err = ps.HeartbeatPipelineRun(ctx, loopml.PipelineHeartbeat{ID: b.ID, Runner: "alive", Lease: time.Minute})
	must(t, err)
	exp, err = ps.ExpirePipelineLeases(ctx)
	must(t, err)
	if len(exp) != 0 {
		t.Fatalf("second expiry = %v, want none", exp)
	}
}

func testPipelineCancel(t *testing.T, s Store) {
	ps := pipelineStore(t, s)
	a := submit(t, ps, "p", loopml.PipelinePolicyQueue)
	b := submit(t, ps, "q", loopml.PipelinePolicyQueue)
	r, err := ps.CancelPipelineRun(ctx, a.ID, "")
	must(t, err)
	if r.Status != loopml.PipelineCancelled || !strings.Contains(r.Reason, "cancelled by") {
		t.Fatalf("cancelled queued run = %+v", r)
	}
	c, err := ps.ClaimPipelineRun(ctx, "r", time.Minute)
	must(t, err)
	if c == nil || c.ID != b.ID {
		t.Fatalf("claim = %v, want %s (the cancelled run is not claimable)", c, b.ID)
	}
	r, err = ps.CancelPipelineRun(ctx, b.ID, "stop it")
	must(t, err)
	if r.Status != loopml.PipelineRunning || !r.CancelRequested {
		t.Fatalf("cancel of a running run = %+v, want running with cancel requested", r)
	}
	must(t, ps.FinishPipelineRun(ctx, b.ID, "r", loopml.PipelineCancelled, "killed", ""))
	r, err = ps.CancelPipelineRun(ctx, b.ID, "again")
	must(t, err)
	if r.Status != loopml.PipelineCancelled || r.Reason != "stop it" {
		t.Fatalf("ended run after a second cancel = %+v", r)
	}
	_, err = ps.CancelPipelineRun(ctx, "nope", "")
	wantErr(t, err, loopml.ENOTFOUND, "nope")
}

func testPipelineWorkspaces(t *testing.T, s Store) {
	ps := pipelineStore(t, s)
	other := loopml.NewContextWithWorkspace(ctx, "team-b")
	must(t, ps.CreatePipelineTrigger(other, &loopml.PipelineTrigger{Name: "t", Source: testSource, Kind: loopml.TriggerAPI, Enabled: true}))
	must(t, ps.CreatePipelineTrigger(ctx, &loopml.PipelineTrigger{Name: "t", Source: testSource, Kind: loopml.TriggerAPI, Enabled: true}))
	r := &loopml.PipelineRun{Pipeline: "p", Source: testSource}
	must(t, ps.SubmitPipelineRun(other, r))
	if _, err := ps.GetPipelineRun(ctx, r.ID); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Fatalf("run of team-b seen from default: %v", err)
	}
	// Same pipeline name in another workspace is another pipeline.
	submit(t, ps, "p", loopml.PipelinePolicySkip)
	scan, err := ps.ScanPipelineTriggers(ctx)
	must(t, err)
	if len(scan) != 2 {
		t.Fatalf("scan = %d triggers, want both workspaces", len(scan))
	}
	c, err := ps.ClaimPipelineRun(ctx, "r", time.Minute)
	must(t, err)
	if c == nil || c.Workspace != "team-b" || c.ID != r.ID {
		t.Fatalf("claim = %+v, want team-b's run first", c)
	}
}
