package delivery_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/loopml/loopml/learn"
	"github.com/loopml/loopml/learn/delivery"
)

var (
	benchMu     sync.Mutex
	benchTables = map[int]*learn.Table{}
)

// benchTable returns the generated table of rows orders (seed 1), read
// once per size.
func benchTable(b *testing.B, rows int) *learn.Table {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if t, ok := benchTables[rows]; ok {
		return t
	}
	var buf bytes.Buffer
	if err := delivery.Generate(delivery.Config{Seed: 1, Rows: rows}, &buf); err != nil {
		b.Fatal(err)
	}
	t, err := learn.ReadTable(context.Background(), &buf, learn.TableOptions{})
	if err != nil {
		b.Fatal(err)
	}
	benchTables[rows] = t
	return t
}

// BenchmarkFit measures linear (target delivery_minutes) and logistic
// (target late) fits on 20k and 1M generated orders:
//
//	go test ./learn/delivery -run X -bench Fit -benchtime 3x
func BenchmarkFit(b *testing.B) {
	for _, rows := range []int{20_000, 1_000_000} {
		for _, tc := range []struct {
			l               learn.TabularLearner
			target, exclude string
		}{{learn.Linear{}, "delivery_minutes", "late"}, {learn.Logistic{}, "late", "delivery_minutes"}} {
			b.Run(fmt.Sprintf("%s/rows=%d", tc.l.Name(), rows), func(b *testing.B) {
				base := benchTable(b, rows)
				t := *base
				t.Target, t.Exclude = tc.target, []string{tc.exclude}
				b.ReportAllocs()
				cpu0 := cpuTime()
				for b.Loop() {
					if _, err := tc.l.Fit(context.Background(), &t, nil); err != nil {
						b.Fatal(err)
					}
				}
				// CPU seconds per fit (all goroutines): steadier than wall
				// time on a shared machine.
				b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			})
		}
	}
}

// BenchmarkReadTable measures parsing 20k generated orders from CSV.
func BenchmarkReadTable(b *testing.B) {
	var buf bytes.Buffer
	if err := delivery.Generate(delivery.Config{Seed: 1, Rows: 20_000}, &buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := learn.ReadTable(context.Background(), bytes.NewReader(buf.Bytes()), learn.TableOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
