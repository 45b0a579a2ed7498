package procserve_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopml/loopml/procserve"
)

// oneRow is a one-row scoring request.
const oneRow = `{"dataframe_split": {"columns": ["x", "y"], "data": [[3, 4]]}}`

// load sends b.N requests from conc goroutines over keep-alive
// connections and reports requests/s and the latency percentiles.
func load(b *testing.B, url string, conc int) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 4 * conc, MaxIdleConnsPerHost: 4 * conc, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	lat := make([][]time.Duration, conc)
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				resp, err := client.Post(url, "application/json", strings.NewReader(oneRow))
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				lat[g] = append(lat[g], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(0, "ns/op")
}

func quietOptions() procserve.Options {
	return procserve.Options{Label: "bench/1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// BenchmarkProxyOverhead compares calling a child directly with calling
// it through the runtime (an HTTP server whose handler is the Runtime),
// same client, same concurrency, one row per request, no batching: the
// difference of the p50s is the proxy's overhead (target ≤ 1 ms).
func BenchmarkProxyOverhead(b *testing.B) {
	children := map[string]*procserve.Runtime{}
	spec := goChild("ok")
	rt, err := procserve.Start(context.Background(), b.TempDir(), spec, quietOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close() })
	children["go"] = rt
	if _, err := exec.LookPath("python3"); err == nil {
		children["python"] = startPython(b, "tcp", "")
	}
	for _, name := range []string{"go", "python"} {
		rt := children[name]
		if rt == nil {
			continue
		}
		_, addr := rt.Addr()
		srv := httptest.NewServer(rt)
		b.Cleanup(srv.Close)
		for _, conc := range []int{1, 8} {
			b.Run(name+"/direct/c"+strconv.Itoa(conc), func(b *testing.B) { load(b, "http://"+addr+"/invocations", conc) })
			b.Run(name+"/proxy/c"+strconv.Itoa(conc), func(b *testing.B) { load(b, srv.URL+"/invocations", conc) })
		}
	}
}

// BenchmarkBatching compares one-row requests sent straight to the
// Python child (SCORE_DELAY_MS=1, one thread per connection) with the same
// requests through the runtime with adaptive batching (target ≥ 5× the
// direct requests/s).
func BenchmarkBatching(b *testing.B) {
	python(b)
	b.Setenv("SCORE_DELAY_MS", "1")
	for _, cost := range []string{"sleep", "cpu"} {
		b.Setenv("SCORE_COST", cost)
		plain := startPython(b, "tcp", "")
		_, addr := plain.Addr()
		batched := startPython(b, "tcp", "{max_rows: 256, max_wait_ms: 2}")
		srv := httptest.NewServer(batched)
		b.Cleanup(srv.Close)
		for _, conc := range []int{64, 256} {
			name := cost + "/c" + strconv.Itoa(conc)
			b.Run(name+"/direct", func(b *testing.B) { load(b, "http://"+addr+"/invocations", conc) })
			b.Run(name+"/batched", func(b *testing.B) { load(b, srv.URL+"/invocations", conc) })
		}
	}
}
