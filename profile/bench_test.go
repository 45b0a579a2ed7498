package profile_test

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopml/loopml/profile"
)

const movieLens = "/work/shared/data/movielens-latest-small/ratings.csv"

// BenchmarkMovieLensRatings profiles the MovieLens ratings (100k rows,
// 4 columns); target ≤ 0.5 s per profile.
func BenchmarkMovieLensRatings(b *testing.B) {
	if _, err := os.Stat(movieLens); err != nil {
		b.Skipf("MovieLens ratings not available: %v", err)
	}
	for b.Loop() {
		p, err := profile.ProfileFile(context.Background(), movieLens, profile.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if p.Rows() != 100836 {
			b.Fatalf("rows = %d, want 100836", p.Rows())
		}
	}
}

// synthetic is a generator Source of n rows × 20 columns of mixed types,
// drawn from per-column pools of preformatted values so that generating
// costs little next to profiling.
type synthetic struct {
	cols  []string
	pools [][]string
	r     *rand.Rand
	n     int
	block []string
}

func newSynthetic(n int) *synthetic {
	r := rand.New(rand.NewPCG(1, 2))
	s := &synthetic{r: r, n: n}
	add := func(name string, size int, gen func(i int) string) {
		pool := make([]string, size)
		for i := range pool {
			pool[i] = gen(i)
		}
		s.cols = append(s.cols, name)
		s.pools = append(s.pools, pool)
	}
	// Pools of 4096 values (1<<16 for one column) keep the generator's
	// random reads mostly in cache; each still exceeds the exact limit, so
	// every sketch is exercised.
	const big = 1 << 12
	for k := range 6 {
		add("f"+strconv.Itoa(k), big, func(int) string {
			return strconv.FormatFloat(r.NormFloat64()*float64(k+1)*10+float64(k), 'f', 4, 64)
		})
	}
	for k, hi := range []int{10, 100, 1000, 100000, 1 << 30} {
		add("i"+strconv.Itoa(k), big, func(int) string { return strconv.Itoa(r.IntN(hi)) })
	}
	for k, card := range []int{5, 50, 500, 20000} {
		add("c"+strconv.Itoa(k), big, func(int) string { return "cat_" + strconv.Itoa(int(r.ExpFloat64()*float64(card)/4)%card) })
	}
	add("b0", 2, func(i int) string { return strconv.FormatBool(i == 0) })
	add("b1", 3, func(i int) string { return []string{"true", "false", ""}[i] })
	add("day", 3650, func(i int) string { return time.Date(2015, 1, 1+i, 0, 0, 0, 0, time.UTC).Format(time.DateOnly) })
	add("updated_at", 1<<16, func(int) string { return strconv.Itoa(1_500_000_000 + r.IntN(200_000_000)) })
	add("sparse", big, func(i int) string {
		if i%5 == 0 {
			return "NA"
		}
		return strconv.FormatFloat(r.ExpFloat64(), 'g', 6, 64)
	})
	return s
}

func (s *synthetic) Columns() []string { return s.cols }

func (s *synthetic) Read() ([]string, error) {
	if s.n == 0 {
		return nil, io.EOF
	}
	s.n--
	w := len(s.cols)
	if len(s.block) < w {
		s.block = make([]string, 1024*w)
	}
	row := s.block[:w:w]
	s.block = s.block[w:]
	for i, pool := range s.pools {
		row[i] = pool[s.r.Uint64()&(1<<62-1)%uint64(len(pool))]
	}
	return row, nil
}

// BenchmarkSynthetic10M profiles 10M rows × 20 columns from a generator
// (target ≤ 20 s on 2 cores, memory bounded by the sketches). Run it once:
//
//	go test -run '^$' -bench Synthetic10M -benchtime 1x ./profile/
//
// It reports the peak live heap sampled every 100 ms.
func BenchmarkSynthetic10M(b *testing.B) {
	rows := 10_000_000
	if testing.Short() {
		rows = 200_000
	}
	for b.Loop() {
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ms runtime.MemStats
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		p, err := profile.ProfileSource(context.Background(), newSynthetic(rows), "synthetic", profile.Options{})
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		if p.Rows() != int64(rows) {
			b.Fatalf("rows = %d, want %d", p.Rows(), rows)
		}
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	}
}
