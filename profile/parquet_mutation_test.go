package profile_test

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/loopml/loopml/profile"
	"github.com/parquet-go/parquet-go"
)

// TestParquetMutations reads 500 randomly damaged copies of a valid file
// (1–4 bytes overwritten; fixed seed): each must give rows or an error
// within a few seconds, never a panic (parquet-go panics on some malformed
// footers and pages; the reader recovers) or a hang. FuzzParquet explores
// further with go test -fuzz.
func TestParquetMutations(t *testing.T) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[pqRecord](&buf)
	if _, err := w.Write(pqRecords(20)); err != nil {
		t.Fatal(err)
	}
	must(t, w.Close())
	valid := buf.Bytes()
	r := rand.New(rand.NewPCG(7, 9))
	n := 500
	if testing.Short() {
		n = 200
	}
	for it := range n {
		d := bytes.Clone(valid)
		for range 1 + r.IntN(4) {
			d[r.IntN(len(d))] = byte(r.IntN(256))
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			rd, err := profile.NewReader(bytes.NewReader(d), "m.parquet", "")
			if err != nil {
				return
			}
			defer rd.Close()
			for range 10_000 {
				if _, err := rd.Read(); err != nil {
					return
				}
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("mutation %d: reading did not finish in 10 s", it)
		}
	}
}
