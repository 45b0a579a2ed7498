package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/sqlstore"
)

// BenchmarkLogPredictions measures the prediction log's write path: batches
// of 512 one-row invocations (what the gateway's writer sends at load),
// reported as predictions/s. With LOOPML_TEST_POSTGRES_DSN set it runs on
// PostgreSQL too.
func BenchmarkLogPredictions(b *testing.B) {
	stores := map[string]func(testing.TB) *sqlstore.DB{"sqlite": openSQLite}
	if os.Getenv(pgEnv) != "" {
		stores["postgres"] = openPostgres
	}
	for name, open := range stores {
		for _, ordered := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/time-ordered-ids=%v", name, ordered), func(b *testing.B) {
				db := open(b)
				ctx := context.Background()
				batch := 512
				if v, err := strconv.Atoi(os.Getenv("LOOPML_BENCH_PRED_BATCH")); err == nil && v > 0 {
					batch = v
				}
				ps := make([]*loopml.Prediction, batch)
				n := 0
				now := time.Now().UnixMilli()
				b.ResetTimer()
				for b.Loop() {
					for i := range ps {
						n++
						id := fmt.Sprintf("%032x", uint64(n)*0x9e3779b97f4a7c15)
						if ordered { // as the gateway generates them: a millisecond timestamp first
							id = fmt.Sprintf("%012x%020x", now+int64(n/50), uint64(n)*0x9e3779b97f4a7c15)
						}
						ps[i] = &loopml.Prediction{RequestID: id, Endpoint: "recs",
							Target: "models:/recs@champion", Model: "recs", Version: "1", Protocol: "invocations", Status: 200,
							Inputs:  `{"dataframe_records": [{"user_id": 1234, "item_id": 5678}]}`,
							Outputs: `{"predictions":[3.871935]}`, LatencyUs: 85, Timestamp: now + int64(n/50)}
					}
					if err := db.LogPredictions(ctx, ps); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "predictions/s")
			})
		}
	}
}

// BenchmarkDeletePredictionsDay measures retention: deleting one day of
// 100,000 predictions (and their feedback) out of two days.
func BenchmarkDeletePredictionsDay(b *testing.B) {
	db := openSQLite(b)
	ctx := context.Background()
	const perDay = 100_000
	day := int64(24 * 3600 * 1000)
	start := time.Now().UnixMilli() / day * day
	for b.Loop() {
		b.StopTimer()
		var ps []*loopml.Prediction
		for d := range int64(2) {
			for i := range perDay {
				ps = append(ps, &loopml.Prediction{RequestID: fmt.Sprintf("r%d-%d-%d", b.N, d, i), Endpoint: "recs", Status: 200,
					Inputs: `{"inputs": [[1, 2]]}`, Outputs: `{"predictions": [1]}`, Timestamp: start + d*day + int64(i)})
				if len(ps) == 2048 {
					if err := db.LogPredictions(ctx, ps); err != nil {
						b.Fatal(err)
					}
					ps = ps[:0]
				}
			}
		}
		if err := db.LogPredictions(ctx, ps); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n, err := db.DeletePredictions(ctx, "recs", start+day)
		if err != nil || n != perDay {
			b.Fatalf("deleted %d, %v", n, err)
		}
		b.StopTimer()
		if _, err := db.DeletePredictions(ctx, "recs", start+2*day); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
