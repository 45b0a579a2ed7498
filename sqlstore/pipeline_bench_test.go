package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/sqlstore"
)

// BenchmarkPipelineRunLifecycle measures the store's share of one
// server-side pipeline run: submit, claim, one heartbeat, finish.
func BenchmarkPipelineRunLifecycle(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var db *sqlstore.DB
			if backend == "sqlite" {
				db = openSQLite(b)
			} else {
				db = openPostgres(b)
			}
			ctx := context.Background()
			src := loopml.PipelineSource{Path: "/srv/p"}
			b.ResetTimer()
			for range b.N {
				r := &loopml.PipelineRun{Pipeline: "p", Source: src}
				if err := db.SubmitPipelineRun(ctx, r); err != nil {
					b.Fatal(err)
				}
				c, err := db.ClaimPipelineRun(ctx, "bench", time.Minute)
				if err != nil || c == nil {
					b.Fatalf("claim: %v, %v", c, err)
				}
				if _, err := db.HeartbeatPipelineRun(ctx, loopml.PipelineHeartbeat{ID: c.ID, Runner: "bench", Lease: time.Minute}); err != nil {
					b.Fatal(err)
				}
				if err := db.FinishPipelineRun(ctx, c.ID, "bench", loopml.PipelineSucceeded, "", "t"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
