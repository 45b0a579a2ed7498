package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/cas"
)

// CacheDir is the artifact-store directory that holds cache entries, one
// JSON file per key: pipeline-cache/<key hex>.json. Entries live in the
// artifact store so that machines sharing a store share the cache.
const CacheDir = "pipeline-cache"

// cacheFormat versions the key derivation; bumping it invalidates every
// entry.
const cacheFormat = "loopml-pipeline-cache-v1"

// CacheEntry records the outputs of a stage run that succeeded, under its
// cache key.
type CacheEntry struct {
	Key      string             `json:"key"`
	Pipeline string             `json:"pipeline"`
	Stage    string             `json:"stage"`
	RunID    string             `json:"run_id"`
	Created  time.Time          `json:"created"`
	Outs     []OutDigest        `json:"outs"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
}

// OutDigest is one stored output: the cas root of the tree holding it (a
// directory's contents, or a file under its base name).
type OutDigest struct {
	Path string     `json:"path"`
	Dir  bool       `json:"dir"`
	Root cas.Digest `json:"root"`
	Size int64      `json:"size"`
}

// keyInput is what a cache key is the digest of, as canonical JSON.
type keyInput struct {
	Format  string            `json:"format"`
	Stage   string            `json:"stage"`
	Cmd     string            `json:"cmd,omitempty"`
	Argv    []string          `json:"argv,omitempty"`
	Uses    string            `json:"uses,omitempty"`
	With    map[string]any    `json:"with,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Wd      string            `json:"wd,omitempty"`
	Outs    []string          `json:"outs,omitempty"`
	Metrics []string          `json:"metrics,omitempty"`
	Model   *ModelSpec        `json:"model,omitempty"`
	Gate    string            `json:"gate,omitempty"`
	Deps    []keyDep          `json:"deps,omitempty"`
}

type keyDep struct {
	Dep    string `json:"dep"`
	Digest string `json:"digest"`
}

// cacheKey digests the stage's definition and the digests of its deps.
func cacheKey(st *Stage, deps []keyDep) (string, error) {
	in := keyInput{Format: cacheFormat, Stage: st.Name, Cmd: st.Cmd, Argv: st.Argv, Uses: st.Uses, With: st.With,
		Params: st.Params, Env: st.Env, Wd: st.Wd, Outs: st.Outs, Metrics: st.Metrics, Model: st.Model, Deps: deps}
	if st.Gate != nil {
		in.Gate = st.Gate.Condition + "|" + st.Gate.Champion
	}
	b, err := json.Marshal(in) // map keys are sorted: canonical
	if err != nil {
		return "", loopml.WrapError(loopml.EINVALID, err, "stage %s: cache key: %v", st.Name, err)
	}
	return cas.Sum(b).Hex(), nil
}

func entryPath(key string) string { return CacheDir + "/" + key + ".json" }

// Cache stores stage outputs in a content-addressed store and records
// entries by key. All methods are safe for concurrent use.
type Cache struct {
	Store    loopml.ArtifactStore
	IndexDir string // cas's stat index: unchanged files are not re-read
}

// hashPath stores path (a file or directory) in cas and returns its root.
func (c *Cache) hashPath(ctx context.Context, path string) (cas.Manifest, error) {
	m, _, err := cas.Add(ctx, c.Store, []string{path}, cas.AddOptions{IndexDir: c.IndexDir})
	return m, err
}

// Lookup returns the entry of key whose every output object is present and
// verifies, or nil (a miss). A damaged entry is a miss, with the reason.
func (c *Cache) Lookup(ctx context.Context, key string) (*CacheEntry, string, error) {
	rc, err := c.Store.Open(ctx, entryPath(key))
	if loopml.ErrorCode(err) == loopml.ENOTFOUND {
		return nil, "no entry", nil
	}
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	var e CacheEntry
	if err := json.NewDecoder(rc).Decode(&e); err != nil || e.Key != key {
		return nil, "unreadable entry", nil
	}
	for _, o := range e.Outs {
		m, err := cas.LoadManifest(ctx, c.Store, o.Root)
		if err == nil {
			err = cas.Verify(ctx, c.Store, m)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			return nil, fmt.Sprintf("output %s: %s", o.Path, loopml.ErrorMessage(err)), nil
		}
	}
	return &e, "", nil
}

// Restore writes the outputs of e below dir, replacing what is there
// unless it already has the same content.
func (c *Cache) Restore(ctx context.Context, e *CacheEntry, dir string) error {
	for _, o := range e.Outs {
		p := filepath.Join(dir, filepath.FromSlash(o.Path))
		if _, err := os.Lstat(p); err == nil {
			if m, err := c.hashPath(ctx, p); err == nil && m.Root == o.Root {
				continue
			}
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("restore %s: %w", o.Path, err)
			}
		}
		m, err := cas.LoadManifest(ctx, c.Store, o.Root)
		if err != nil {
			return err
		}
		dest := p
		if !o.Dir {
			dest = filepath.Dir(p)
		}
		if err := cas.Checkout(ctx, c.Store, m, dest); err != nil {
			return fmt.Errorf("restore %s: %w", o.Path, err)
		}
	}
	return nil
}

// Save stores the outputs (objects first) and then writes the entry, so
// an entry never refers to objects that are not stored.
func (c *Cache) Save(ctx context.Context, e *CacheEntry) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	_, err = c.Store.Put(ctx, entryPath(e.Key), bytes.NewReader(b))
	return err
}

// storeOuts stores each output in cas and returns their digests; a
// declared output the stage did not produce is an error naming all of
// them.
func (c *Cache) storeOuts(ctx context.Context, dir string, outs []string) ([]OutDigest, error) {
	var missing []string
	for _, o := range outs {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(o))); err != nil {
			missing = append(missing, o)
		}
	}
	if len(missing) > 0 {
		return nil, loopml.Errorf(loopml.EINVALID, "outputs not produced: %s", strings.Join(missing, ", "))
	}
	res := make([]OutDigest, 0, len(outs))
	for _, o := range outs {
		p := filepath.Join(dir, filepath.FromSlash(o))
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		m, err := c.hashPath(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("store output %s: %w", o, err)
		}
		res = append(res, OutDigest{Path: o, Dir: fi.IsDir(), Root: m.Root, Size: m.Size})
	}
	return res, nil
}

// Entries lists every cache entry (unreadable ones are skipped).
func (c *Cache) Entries(ctx context.Context) ([]*CacheEntry, error) {
	infos, err := c.Store.List(ctx, CacheDir)
	if err != nil {
		return nil, err
	}
	var out []*CacheEntry
	for _, fi := range infos {
		if fi.IsDir || !strings.HasSuffix(fi.Path, ".json") {
			continue
		}
		rc, err := c.Store.Open(ctx, fi.Path)
		if err != nil {
			continue
		}
		var e CacheEntry
		err = json.NewDecoder(rc).Decode(&e)
		rc.Close()
		if err != nil || e.Key == "" || entryPath(e.Key) != fi.Path {
			continue
		}
		out = append(out, &e)
	}
	return out, nil
}

// GCOptions configures GC.
type GCOptions struct {
	// KeepLast keeps only the newest KeepLast entries of each pipeline
	// stage (0: keep all that are intact).
	KeepLast int
	// DryRun reports what would be removed without removing it.
	DryRun bool
}

// GCResult says what GC removed.
type GCResult struct {
	Kept    int
	Removed []*CacheEntry
	// Broken counts removed entries whose outputs were missing or damaged.
	Broken int
}

// GC removes cache entries: those whose outputs are missing or damaged,
// and, with KeepLast, all but the newest KeepLast of each pipeline stage.
// Objects are not deleted: they are shared with dataset versions and
// other entries, and cas has no reference-counting collector yet.
func (c *Cache) GC(ctx context.Context, o GCOptions) (*GCResult, error) {
	entries, err := c.Entries(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Created.After(entries[j].Created) })
	res := &GCResult{}
	seen := map[string]int{}
	for _, e := range entries {
		drop := false
		if got, _, err := c.Lookup(ctx, e.Key); err != nil {
			return nil, err
		} else if got == nil {
			drop = true
			res.Broken++
		}
		id := e.Pipeline + "\x00" + e.Stage
		if !drop {
			seen[id]++
			if o.KeepLast > 0 && seen[id] > o.KeepLast {
				drop = true
			}
		}
		if !drop {
			res.Kept++
			continue
		}
		res.Removed = append(res.Removed, e)
		if !o.DryRun {
			if err := c.Store.Delete(ctx, entryPath(e.Key)); err != nil {
				return nil, errors.Join(fmt.Errorf("remove cache entry %s", e.Key), err)
			}
		}
	}
	return res, nil
}
