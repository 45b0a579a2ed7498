package artifacttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/loopml/loopml"
)

// batchStore is a store whose Put goes through an ArtifactBatch, so that
// the Put cases of the suite check the batch's Put contract too.
type batchStore struct {
	loopml.ArtifactStore
	b loopml.ArtifactBatch
}

func (s batchStore) Put(ctx context.Context, p string, r io.Reader) (int64, error) {
	return s.b.Put(ctx, p, r)
}

// runBatch runs the batch cases: the store's own batch when it implements
// loopml.ArtifactBatcher, else the durable fallback of
// loopml.NewArtifactBatch.
func runBatch(t *testing.T, open func(t *testing.T) loopml.ArtifactStore) {
	wrap := func(t *testing.T) loopml.ArtifactStore {
		s := open(t)
		b := loopml.NewArtifactBatch(s)
		t.Cleanup(func() {
			if err := b.Sync(context.Background()); err != nil {
				t.Errorf("Sync at the end: %v", err)
			}
		})
		return batchStore{s, b}
	}
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, wrap(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, wrap(t)) })
	t.Run("InvalidPaths", func(t *testing.T) { testInvalidPaths(t, wrap) })
	t.Run("PutOnDirectory", func(t *testing.T) { testPutOnDirectory(t, wrap(t)) })
	t.Run("ConcurrentPuts", func(t *testing.T) { testConcurrentPuts(t, wrap(t)) })
	t.Run("Large", func(t *testing.T) { testLarge(t, wrap(t)) })
	t.Run("CancelledPut", func(t *testing.T) { testCancelledPut(t, wrap(t)) })
	t.Run("FailedReader", func(t *testing.T) { testFailedReader(t, wrap(t)) })
	t.Run("ManyObjectsThenSync", func(t *testing.T) { testBatchMany(t, open(t)) })
	t.Run("Sync", func(t *testing.T) { testBatchSync(t, open(t)) })
}

// testBatchMany writes objects laid out like cas's (2-hex-digit fan-out
// directories) from several goroutines, checks each is visible as soon as
// its Put returns, syncs, and checks them all.
func testBatchMany(t *testing.T, s loopml.ArtifactStore) {
	ctx := context.Background()
	b := loopml.NewArtifactBatch(s)
	const n, writers = 300, 8
	content := func(i int) []byte { return []byte(strings.Repeat(fmt.Sprintf("object %d;", i), i%7+1)) }
	name := func(i int) string { return fmt.Sprintf("objects/%02x/obj-%04d", i%23, i) }
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				want := content(i)
				if got, err := b.Put(ctx, name(i), bytes.NewReader(want)); err != nil || got != int64(len(want)) {
					errs <- fmt.Errorf("batch Put(%q) = %d, %v; want %d bytes", name(i), got, err, len(want))
					return
				}
				rc, err := s.Open(ctx, name(i))
				if err != nil {
					errs <- fmt.Errorf("Open(%q) right after its batch Put: %v", name(i), err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("read %q before Sync = %q, %v; want %q", name(i), trunc(got), err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	files := 0
	for _, p := range tree(t, s, "") {
		if !strings.HasSuffix(p, "/") {
			files++
		}
	}
	if files != n {
		t.Fatalf("after Sync the store holds %d files, want %d (temporary files must not show)", files, n)
	}
	for i := range n {
		if got := MustRead(t, s, name(i)); !bytes.Equal(got, content(i)) {
			t.Fatalf("after Sync %q = %q, want %q", name(i), trunc(got), content(i))
		}
	}
}

// testBatchSync checks Sync's own contract: it may be called with nothing
// pending and several times; a cancelled context gives an error, and a
// later Sync still succeeds; Puts after a Sync are covered by the next.
func testBatchSync(t *testing.T, s loopml.ArtifactStore) {
	ctx := context.Background()
	b := loopml.NewArtifactBatch(s)
	if err := b.Sync(ctx); err != nil {
		t.Fatalf("Sync of an empty batch: %v", err)
	}
	if _, err := b.Put(ctx, "a/one", strings.NewReader("1")); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Sync(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sync with a cancelled context = %v, want context.Canceled", err)
	}
	for i := range 2 {
		if err := b.Sync(ctx); err != nil {
			t.Fatalf("Sync #%d: %v", i+1, err)
		}
	}
	if _, err := b.Put(ctx, "b/two", strings.NewReader("2")); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatalf("Sync after a second Put: %v", err)
	}
	if got := strings.Join(tree(t, s, ""), ","); got != "a/,a/one,b/,b/two" {
		t.Fatalf("tree = %q, want a/,a/one,b/,b/two", got)
	}
	// A second batch on the same store is independent of the first.
	b2 := loopml.NewArtifactBatch(s)
	if _, err := b2.Put(ctx, "a/one", strings.NewReader("one")); err != nil {
		t.Fatal(err)
	}
	if err := b2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := MustRead(t, s, "a/one"); string(got) != "one" {
		t.Fatalf("a/one = %q after the second batch, want one", got)
	}
}
