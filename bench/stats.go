package bench

import (
	"fmt"
	"slices"
	"time"
)

// Latency summarises a set of request latencies. JSON values are
// milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// String formats the summary as "p50=… p90=… p99=…".
func (l *Latency) String() string {
	if l == nil || l.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50=%s p90=%s p99=%s", fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P99))
}

func fmtMS(ms float64) string {
	switch {
	case ms >= 1000:
		return fmt.Sprintf("%.2fs", ms/1000)
	case ms >= 10:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.2fms", ms)
}

// Summarize sorts ds in place and returns its percentiles; nil for no
// samples.
func Summarize(ds []time.Duration) *Latency {
	if len(ds) == 0 {
		return nil
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return &Latency{
		Count: len(ds),
		P50:   ms(Percentile(ds, 50)),
		P90:   ms(Percentile(ds, 90)),
		P99:   ms(Percentile(ds, 99)),
		Max:   ms(ds[len(ds)-1]),
		Mean:  ms(sum / time.Duration(len(ds))),
	}
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value such that at least p percent of
// the samples are less than or equal to it. It returns 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	// rank = ceil(p/100 * n), computed in integers to avoid rounding
	// surprises (e.g. 0.9*10 = 9.000000000000002).
	rank := int((int64(p*1000)*int64(n) + 100*1000 - 1) / (100 * 1000))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}
