package cas_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/cas"
	"github.com/zeebo/blake3"
)

// envInt returns the integer environment variable name, or def.
func envInt(b *testing.B, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		b.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// BenchmarkAddLargeFileVsB3sum generates one large file (4 GiB, or
// LOOPML_BENCH_FILE_SIZE bytes) in a temporary directory, times `b3sum`
// reading it and Add storing it in a fresh local blobstore, side by side,
// and reports both throughputs and their ratio (b3sum time / add time; 1.0
// means as fast as b3sum), with a breakdown: the chunker alone, one
// BLAKE3 pass alone (one core), Add into a store that discards writes, and
// the time Add spent in the final durable sync. With LOOPML_BENCH_COLD=1
// the page cache is dropped (/proc/sys/vm/drop_caches, needs root) before
// each timed read, for the cold-cache figures. Heavy: run it alone with
// -benchtime 1x. The files are deleted afterwards.
func BenchmarkAddLargeFileVsB3sum(b *testing.B) {
	b3, err := exec.LookPath("b3sum")
	if err != nil {
		b.Skip("b3sum not installed (apt-get install -y b3sum)")
	}
	size := envInt(b, "LOOPML_BENCH_FILE_SIZE", 4<<30)
	dir := b.TempDir()
	p := filepath.Join(dir, "large.bin")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 4<<20)
	r := rand.NewChaCha8([32]byte{42})
	buf := make([]byte, 4<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		_, _ = r.Read(buf)
		if _, err := w.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()

	cold := os.Getenv("LOOPML_BENCH_COLD") == "1"
	dropCaches := func() {
		if !cold {
			return
		}
		if err := exec.Command("sync").Run(); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200); err != nil {
			b.Fatalf("LOOPML_BENCH_COLD: cannot drop the page cache: %v", err)
		}
	}
	for b.Loop() {
		// Warm the page cache equally for both, then time each.
		if out, err := exec.Command(b3, p).CombinedOutput(); err != nil {
			b.Fatalf("b3sum: %v: %s", err, out)
		}
		// Breakdown, from the warm cache: the chunker alone, then one
		// BLAKE3 pass on one core (Add makes two: the file and its chunks).
		t0 := time.Now()
		chunks := 0
		if f, err := os.Open(p); err != nil {
			b.Fatal(err)
		} else {
			c, _ := cas.NewChunker(bufio.NewReaderSize(f, 4<<20), cas.ChunkParams{})
			for {
				if _, err := c.Next(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
				chunks++
			}
			f.Close()
		}
		tchunk := time.Since(t0)
		t0 = time.Now()
		if f, err := os.Open(p); err != nil {
			b.Fatal(err)
		} else {
			h := blake3.New()
			if _, err := io.CopyBuffer(h, f, make([]byte, 4<<20)); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		thash := time.Since(t0)

		dropCaches()
		t0 = time.Now()
		out, err := exec.Command(b3, p).Output()
		if err != nil {
			b.Fatalf("b3sum: %v", err)
		}
		tb3 := time.Since(t0)

		// The same Add into a store that discards writes: hashing,
		// chunking and the pipeline without the store's durable writes.
		dropCaches()
		t0 = time.Now()
		if _, _, err := cas.Add(context.Background(), discardStore{}, []string{p}, cas.AddOptions{}); err != nil {
			b.Fatal(err)
		}
		tnull := time.Since(t0)

		store, err := blobstore.NewLocal(filepath.Join(dir, "store"))
		if err != nil {
			b.Fatal(err)
		}
		dropCaches()
		t0 = time.Now()
		m, st, err := cas.Add(context.Background(), store, []string{p}, cas.AddOptions{})
		tadd := time.Since(t0)
		store.Close()
		if err != nil {
			b.Fatal(err)
		}
		if got, want := m.Entries[0].Digest.Hex(), string(out[:64]); got != want {
			b.Fatalf("Add digest %s, b3sum %s", got, want)
		}
		mbs := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
		b.ReportMetric(mbs(tb3), "b3sum-MB/s")
		b.ReportMetric(mbs(tadd), "add-MB/s")
		b.ReportMetric(tb3.Seconds()/tadd.Seconds(), "ratio")
		b.ReportMetric(mbs(tnull), "add-discard-MB/s")
		b.ReportMetric(tb3.Seconds()/tnull.Seconds(), "ratio-discard")
		b.ReportMetric(mbs(tchunk), "chunk-only-MB/s")
		b.ReportMetric(mbs(thash), "blake3-1core-MB/s")
		b.ReportMetric(st.SyncTime.Seconds(), "final-sync-s")
		b.Logf("%d bytes (cold cache: %v): b3sum %v (%.0f MB/s); add to blobstore %v (%.0f MB/s, %d chunks, %d bytes uploaded, %v of it in the final sync), ratio %.3f; add discarding writes %v (%.0f MB/s), ratio %.2f; breakdown (warm): chunker alone %v (%.0f MB/s, %d chunks), one BLAKE3 pass on one core %v (%.0f MB/s)",
			size, cold, tb3, mbs(tb3), tadd, mbs(tadd), len(m.Entries[0].Chunks), st.BytesUploaded, st.SyncTime, tb3.Seconds()/tadd.Seconds(),
			tnull, mbs(tnull), tb3.Seconds()/tnull.Seconds(), tchunk, mbs(tchunk), chunks, thash, mbs(thash))
		if err := os.RemoveAll(filepath.Join(dir, "store")); err != nil {
			b.Fatal(err)
		}
	}
}

// discardStore is an ArtifactStore that holds nothing and discards writes.
type discardStore struct{}

func (discardStore) Put(_ context.Context, _ string, r io.Reader) (int64, error) {
	return io.Copy(io.Discard, r)
}
func (discardStore) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, loopml.Errorf(loopml.ENOTFOUND, "not found")
}
func (discardStore) Stat(context.Context, string) (loopml.ArtifactInfo, error) {
	return loopml.ArtifactInfo{}, loopml.Errorf(loopml.ENOTFOUND, "not found")
}
func (discardStore) List(context.Context, string) ([]loopml.ArtifactInfo, error) { return nil, nil }
func (discardStore) Delete(context.Context, string) error                        { return nil }

// BenchmarkAddSmallFiles generates 200,000 files (or LOOPML_BENCH_FILES) of
// 1–10 KB in 1,000-file directories, then times a first Add (with an index)
// into a fresh local blobstore and a re-add of the unchanged tree, and
// reports both in seconds (LOOPML_BENCH_WORKERS sets AddOptions.Workers).
// Heavy: run it alone with -benchtime 1x.
func BenchmarkAddSmallFiles(b *testing.B) {
	n := envInt(b, "LOOPML_BENCH_FILES", 200_000)
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	r := rand.New(rand.NewChaCha8([32]byte{43}))
	buf := make([]byte, 10_000)
	for i := range n {
		d := filepath.Join(src, fmt.Sprintf("d%03d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		sz := 1000 + r.IntN(9001)
		for k := 0; k < sz; k += 8 {
			v := r.Uint64()
			for j := 0; j < 8 && k+j < sz; j++ {
				buf[k+j] = byte(v >> (8 * j))
			}
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%06d.bin", i)), buf[:sz], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(cas.RacyWindow) // let the last files leave the racy window

	for b.Loop() {
		store, err := blobstore.NewLocal(filepath.Join(dir, "store"))
		if err != nil {
			b.Fatal(err)
		}
		opts := cas.AddOptions{IndexDir: filepath.Join(dir, "index"), Workers: int(envInt(b, "LOOPML_BENCH_WORKERS", 0))}
		t0 := time.Now()
		m1, st1, err := cas.Add(context.Background(), store, []string{src}, opts)
		first := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		t0 = time.Now()
		m2, st2, err := cas.Add(context.Background(), store, []string{src}, opts)
		again := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		store.Close()
		if m1.Root != m2.Root || st2.ObjectsUploaded != 0 {
			b.Fatalf("re-add changed something: %+v", st2)
		}
		b.ReportMetric(first.Seconds(), "first-add-s")
		b.ReportMetric(again.Seconds(), "re-add-s")
		b.Logf("%d files, %d bytes: first add %v (%+v); re-add %v (%+v)", n, m1.Size, first, st1, again, st2)
		if err := os.RemoveAll(filepath.Join(dir, "store")); err != nil {
			b.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
			b.Fatal(err)
		}
	}
}
