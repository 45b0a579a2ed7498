package pipeline_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml/pipeline"
)

// noopSpec is a pipeline of n stages, each a no-op command writing one
// small output, chained in groups of five so that the DAG has both depth
// and width.
func noopSpec(n int) string {
	var b strings.Builder
	b.WriteString("name: bench\nstages:\n")
	for i := range n {
		fmt.Fprintf(&b, "  s%d:\n    cmd: echo %d > out/s%d.txt\n    outs: [out/s%d.txt]\n", i, i, i, i)
		if i%5 != 0 {
			fmt.Fprintf(&b, "    deps: [out/s%d.txt]\n", i-1)
		}
	}
	return b.String()
}

// BenchmarkCachedPipeline50 measures a fully cached run of a 50-stage
// pipeline: cache keys, lookups with verification, output restores and
// the nested tracking runs (target: ≤ 1 s per run).
func BenchmarkCachedPipeline50(b *testing.B) {
	e := newEnv(&testing.T{})
	e.write(map[string]string{"out/.keep": ""})
	s := e.parse(noopSpec(50))
	if _, err := e.run(context.Background(), s, pipeline.Options{Jobs: 2}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := e.run(context.Background(), s, pipeline.Options{Jobs: 2})
		if err != nil {
			b.Fatal(err)
		}
		if res.Stages[49].Status != pipeline.StatusCached {
			b.Fatalf("stage not cached: %s", res.Stages[49].Status)
		}
	}
}

// BenchmarkStageOverhead measures the runner's cost per executed stage
// beyond its command: the command is "true" and the time of running it
// alone (fork/exec of sh) is subtracted (target: ≤ 50 ms per stage).
func BenchmarkStageOverhead(b *testing.B) {
	e := newEnv(&testing.T{})
	e.write(map[string]string{"out/.keep": ""})
	const n = 10
	s := e.parse(noopSpec(n))
	var exec time.Duration
	for b.Loop() {
		res, err := e.run(context.Background(), s, pipeline.Options{Jobs: 1, Force: true})
		if err != nil {
			b.Fatal(err)
		}
		_ = res
	}
	// The bare command, for reference.
	start := time.Now()
	for range 20 {
		if _, err := (pipeline.LocalExecutor{}).Exec(context.Background(), pipeline.Job{Shell: "echo 1 > /dev/null", Env: []string{"PATH=/usr/bin:/bin"}}); err != nil {
			b.Fatal(err)
		}
	}
	exec = time.Since(start) / 20
	perStage := time.Duration(b.Elapsed().Nanoseconds()/int64(b.N)/n) - exec
	b.ReportMetric(float64(perStage.Microseconds())/1000, "ms-overhead/stage")
	b.ReportMetric(float64(exec.Microseconds())/1000, "ms-cmd")
}
