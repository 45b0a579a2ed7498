package profile_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/loopml/loopml/profile"
	"github.com/parquet-go/parquet-go"
)

// BenchmarkParquet profiles a Parquet file of 1M rows (200k with -short)
// of the 14 columns of pqRecord (numbers, strings, dates, timestamps,
// decimals, UUIDs, a list) in row groups of 128k rows, and reports rows/s:
//
//	go test -run '^$' -bench Parquet -benchtime 1x ./profile/
func BenchmarkParquet(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 200_000
	}
	path := filepath.Join(b.TempDir(), "bench.parquet")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := parquet.NewGenericWriter[pqRecord](f, parquet.MaxRowsPerRowGroup(128<<10))
	block := pqRecords(10_000)
	for written := 0; written < n; written += len(block) {
		if _, err := w.Write(block[:min(len(block), n-written)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	fi, _ := os.Stat(path)
	b.SetBytes(fi.Size())
	for b.Loop() {
		p, err := profile.ProfileFile(context.Background(), path, profile.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if p.Rows() != int64(n) {
			b.Fatalf("rows = %d, want %d", p.Rows(), n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
