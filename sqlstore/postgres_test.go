package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/sqlstore"
)

// TestPostgresLeaseClockSkew: on PostgreSQL leases run on the database's
// clock, so a replica whose clock is an hour fast neither takes over a
// live pipeline run or webhook delivery nor grants leases that outlive
// the others' view of time.
func TestPostgresLeaseClockSkew(t *testing.T) {
	ctx := context.Background()
	dsn := pgSchemaDSN(t)
	open := func(now func() time.Time) *sqlstore.DB {
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	honest := open(nil)
	fast := open(func() time.Time { return time.Now().Add(time.Hour) })
	if err := honest.SubmitPipelineRun(ctx, &loopml.PipelineRun{Pipeline: "p", Source: loopml.PipelineSource{Path: "/srv/p"}}); err != nil {
		t.Fatal(err)
	}
	r, err := honest.ClaimPipelineRun(ctx, "honest", time.Minute)
	if err != nil || r == nil {
		t.Fatalf("claim: %v, %v", r, err)
	}
	if lost, err := fast.ExpirePipelineLeases(ctx); err != nil || len(lost) != 0 {
		t.Fatalf("the fast replica expired %d live runs (%v)", len(lost), err)
	}
	if d := time.Until(time.UnixMilli(r.LeaseExpiresAt)); d < 50*time.Second || d > 70*time.Second {
		t.Fatalf("lease expires in %s, want about a minute", d)
	}
	// A heartbeat by the fast replica's runner (same database clock) does
	// not push the lease an hour ahead either.
	if err := honest.FinishPipelineRun(ctx, r.ID, "honest", loopml.PipelineSucceeded, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := fast.SubmitPipelineRun(ctx, &loopml.PipelineRun{Pipeline: "p", Source: loopml.PipelineSource{Path: "/srv/p"}}); err != nil {
		t.Fatal(err)
	}
	r2, err := fast.ClaimPipelineRun(ctx, "fast", time.Minute)
	if err != nil || r2 == nil {
		t.Fatalf("claim: %v, %v", r2, err)
	}
	r2, err = fast.HeartbeatPipelineRun(ctx, loopml.PipelineHeartbeat{ID: r2.ID, Runner: "fast", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(time.UnixMilli(r2.LeaseExpiresAt)); d > 70*time.Second {
		t.Fatalf("the fast replica's lease expires in %s, want about a minute", d)
	}

	// Webhook deliveries: one leased by the honest replica is not taken
	// over by the fast one.
	w := &loopml.Webhook{Name: "h", URL: "http://127.0.0.1:9/hook", Active: true}
	if err := honest.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := honest.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "m"}); err != nil {
		t.Fatal(err)
	}
	if n, err := honest.EnqueueWebhookDeliveries(ctx, 100); err != nil || n != 1 {
		t.Fatalf("enqueue: %d, %v", n, err)
	}
	if tasks, err := honest.ClaimWebhookDeliveries(ctx, "honest", 10, time.Minute); err != nil || len(tasks) != 1 {
		t.Fatalf("honest claim: %d, %v", len(tasks), err)
	}
	if tasks, err := fast.ClaimWebhookDeliveries(ctx, "fast", 10, time.Minute); err != nil || len(tasks) != 0 {
		t.Fatalf("the fast replica took over %d leased deliveries (%v)", len(tasks), err)
	}
}
