package cas_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/cas"
)

// syncLog is an ArtifactStore with its own batch that records, in order,
// every batched Put (by path) and every Sync ("SYNC").
type syncLog struct {
	loopml.ArtifactStore
	mu     sync.Mutex
	events []string
}

func (s *syncLog) NewArtifactBatch() loopml.ArtifactBatch { return logBatch{s} }

type logBatch struct{ s *syncLog }

func (b logBatch) Put(ctx context.Context, p string, r io.Reader) (int64, error) {
	n, err := b.s.ArtifactStore.Put(ctx, p, r)
	if err == nil {
		b.s.mu.Lock()
		b.s.events = append(b.s.events, p)
		b.s.mu.Unlock()
	}
	return n, err
}

func (b logBatch) Sync(ctx context.Context) error {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	b.s.events = append(b.s.events, "SYNC")
	return ctx.Err()
}

// TestAddSyncOrder checks the durability order Add promises: every object
// is synced before a tree that refers to it is written, trees level by
// level, the root last and synced before Add returns; and Add syncs only
// a few times (not once per object).
func TestAddSyncOrder(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"top.csv": "a,b\n1,2\n"}
	for i := range 30 {
		files[filepath.Join("d"+string(rune('a'+i%3)), "sub", "f"+string(rune('a'+i)))] = string(randBytes(uint64(i), 500+i))
	}
	writeFiles(t, dir, files)
	s := &syncLog{ArtifactStore: newStore(t)}
	m, _ := mustAdd(t, s, []string{dir}, cas.AddOptions{Workers: 4})

	// For each object, the index of its Put and of the first Sync after it.
	syncedAt := map[string]int{}
	pending := []string{}
	putAt := map[string]int{}
	syncs := 0
	for i, e := range s.events {
		if e == "SYNC" {
			syncs++
			for _, p := range pending {
				syncedAt[p] = i
			}
			pending = pending[:0]
			continue
		}
		putAt[e] = i
		pending = append(pending, e)
	}
	if len(pending) > 0 {
		t.Fatalf("objects never synced before Add returned: %v", pending)
	}
	// Directory levels: root, d?, d?/sub → 3 tree levels + the content.
	if syncs > 4 {
		t.Errorf("%d Syncs for %d objects, want at most 4 (content + 3 tree levels)", syncs, len(putAt))
	}
	for _, e := range m.Entries {
		if !e.Dir {
			continue
		}
		tree := e.Digest.ObjectPath()
		for _, c := range m.Entries {
			if !strings.HasPrefix(c.Path, e.Path+"/") || strings.Contains(c.Path[len(e.Path)+1:], "/") {
				continue // not a direct child
			}
			for _, o := range c.Objects() {
				if syncedAt[o.Digest.ObjectPath()] > putAt[tree] {
					t.Errorf("tree of %s written before its child %s was synced", e.Path, c.Path)
				}
			}
			if c.Dir && syncedAt[c.Digest.ObjectPath()] > putAt[tree] {
				t.Errorf("tree of %s written before the tree of %s was synced", e.Path, c.Path)
			}
		}
	}
	root := m.Root.ObjectPath()
	if putAt[root] != len(s.events)-2 || s.events[len(s.events)-1] != "SYNC" {
		t.Errorf("root tree not written last and synced: events end with %q", s.events[max(0, len(s.events)-3):])
	}
}

// TestAddRewritesEmptiedObject simulates what a power loss before a batch's
// Sync may leave on some filesystems: an object present but empty, and no
// tree above it. Adding again must rewrite it (its size is wrong), and the
// version must then verify.
func TestAddRewritesEmptiedObject(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.bin": string(randBytes(1, 5000)), "b/c.bin": string(randBytes(2, 7000))})
	m, _ := mustAdd(t, s, []string{dir}, cas.AddOptions{})
	var victim cas.Entry
	for _, e := range m.Entries {
		if e.Dir {
			if err := s.Delete(context.Background(), e.Digest.ObjectPath()); err != nil {
				t.Fatal(err)
			}
		} else if e.Path == "b/c.bin" {
			victim = e
		}
	}
	if err := s.Delete(context.Background(), m.Root.ObjectPath()); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(s.Dir(), filepath.FromSlash(victim.Digest.ObjectPath())), 0); err != nil {
		t.Fatal(err)
	}
	m2, st := mustAdd(t, s, []string{dir}, cas.AddOptions{})
	if m2.Root != m.Root {
		t.Fatal("re-add gave another root")
	}
	if st.ObjectsUploaded < 2 { // the emptied object and at least the root tree
		t.Fatalf("re-add uploaded %d objects, want the emptied one rewritten: %+v", st.ObjectsUploaded, st)
	}
	if err := cas.Verify(context.Background(), s, m2); err != nil {
		t.Fatalf("Verify after the re-add: %v", err)
	}
}
