package cas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loopml/loopml"
	"github.com/zeebo/blake3"
)

// RacyWindow is how recent a file's modification time may be for Add to
// record it in the index: a file modified less than RacyWindow before it
// was hashed could change again within the filesystem's timestamp
// granularity without its stat changing, so it is hashed again next time
// instead (as git does for "racily clean" entries).
const RacyWindow = time.Second

// AddOptions configures Add. The zero value works: no index, default
// parallelism and chunking, no logging.
type AddOptions struct {
	// IndexDir is the directory of the local index (for example
	// $LOOPML_HOME/index); "" disables the index.
	IndexDir string
	// Workers is the number of files hashed and uploaded in parallel; 0
	// means 32 (uploads of small files wait mostly on the store). Of
	// these, at most max(2, GOMAXPROCS) read files of at least the
	// minimum chunk size at once, each with up to 2×Max bytes of buffer
	// plus a shared pool of chunk buffers: memory stays bounded (about
	// 100 MiB with the default chunking on 2 cores) whatever the file sizes.
	Workers int
	// Chunking sets the chunker; the zero value means the defaults, which
	// every version should use so that objects deduplicate.
	Chunking ChunkParams
	// Logger receives warnings (skipped symbolic links, an ignored index);
	// nil discards them.
	Logger *slog.Logger
	// LocalFile, when set, is called after a successful Add, from Add's
	// goroutine, once per regular file of the version with its path in
	// the version and the absolute path of the local file it was added
	// from, so that a caller can read the file again without fetching it
	// from the store (through OpenLocal, which notices a file changed
	// since).
	LocalFile func(path, local string)
}

// Stats counts the work of one Add.
type Stats struct {
	Files           int64         // regular files in the version
	Dirs            int64         // directories in the version, the root excluded
	Skipped         int64         // symbolic links and special files not stored
	IndexHits       int64         // files whose digest came from the index, unread
	BytesHashed     int64         // bytes read and hashed
	BytesUploaded   int64         // bytes written to the store
	ObjectsUploaded int64         // objects written to the store (content and trees)
	ObjectsSkipped  int64         // objects not written because already present
	SyncTime        time.Duration // time spent making written objects durable (the store's batch Syncs)
}

// fileJob is one regular file to add.
type fileJob struct {
	rel    string // slash-separated path in the version
	abs    string
	mode   fs.FileMode
	key    statKey // from the walk
	size   int64
	digest Digest
	chunks []Chunk
	stored bool // its objects are known to be in the store
}

// adder holds the state of one Add.
type adder struct {
	store    loopml.ArtifactStore
	batch    loopml.ArtifactBatch // objects are written through it and synced before trees refer to them
	opts     AddOptions
	params   ChunkParams
	log      *slog.Logger
	ix       *index
	known    sync.Map // Digest → struct{}: objects known present
	mu       sync.Mutex
	inflight map[Digest]*flight // objects being checked or uploaded
	chunkers sync.Pool
	bufs     chan []byte   // free chunk buffers for parallel chunk uploads
	large    chan struct{} // limits how many files of Min bytes or more are read at once
	stats    struct {
		skipped, hits, hashed, upBytes, upObjects, present, syncNs atomic.Int64
	}
}

// Add stores the files named by paths as a new version and returns its
// manifest. Each path is a file, a directory or a glob pattern
// (filepath.Match syntax, used when the path itself does not exist). A
// directory given literally contributes its contents to the version root;
// a file, or anything a glob matched, contributes itself under its base
// name; so "data" and "data/*" give the same version (except for hidden
// files). Two sources of the same path give EINVALID; a path that matches
// nothing gives ENOTFOUND.
//
// Files are hashed and chunked by opts.Workers goroutines, each streaming
// its file in bounded memory; objects are uploaded only if the store does
// not already hold them (checked with Stat). Content objects are stored
// first, then tree objects bottom-up, the root last, so a cancelled or
// failed Add leaves no root referring to missing objects, and running it
// again resumes, skipping the objects already stored. Adding an unchanged
// tree uploads nothing and returns the same root digest. With an index
// (opts.IndexDir), unchanged files are not read at all.
func Add(ctx context.Context, store loopml.ArtifactStore, paths []string, opts AddOptions) (Manifest, Stats, error) {
	if err := opts.Chunking.Validate(); err != nil {
		return Manifest{}, Stats{}, err
	}
	if len(paths) == 0 {
		return Manifest{}, Stats{}, loopml.Errorf(loopml.EINVALID, "invalid paths: at least one file, directory or glob is required")
	}
	a := &adder{store: store, batch: loopml.NewArtifactBatch(store), opts: opts, params: opts.Chunking.withDefaults(), log: opts.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	k := workers(opts.Workers)
	nl := max(2, runtime.GOMAXPROCS(0))
	a.large = make(chan struct{}, nl)
	a.bufs = make(chan []byte, 4*nl)
	for range 4 * nl {
		a.bufs <- nil // allocated on first use
	}
	a.chunkers.New = func() any { c, _ := NewChunker(nil, a.params); return c }

	col := collector{files: make(map[string]*fileJob), dirs: make(map[string]fs.FileMode), log: a.log}
	for _, p := range paths {
		if err := col.add(p); err != nil {
			return Manifest{}, Stats{}, err
		}
	}
	a.stats.skipped.Store(col.skipped)
	jobs := make([]*fileJob, 0, len(col.files))
	for _, j := range col.files {
		jobs = append(jobs, j)
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].rel < jobs[j].rel })

	a.ix = loadIndex(opts.IndexDir, a.params, a.log)
	m, err := a.run(ctx, jobs, col.dirs, k)
	if err == nil {
		seen := make(map[string]bool, len(jobs))
		for _, j := range jobs {
			seen[j.abs] = true
		}
		for _, r := range col.roots {
			a.ix.prune(r, seen)
		}
	}
	// The index only ever records files whose objects are stored, so it is
	// saved after a failure too: the next run resumes without rehashing.
	// After a failure the objects written so far are synced first, so that
	// the index records nothing a power loss could take back.
	var serr error
	if err != nil {
		serr = a.batch.Sync(context.WithoutCancel(ctx))
	}
	if serr == nil {
		serr = a.ix.save()
	}
	if serr != nil {
		a.log.Warn("could not save the cas index", "dir", opts.IndexDir, "err", serr)
	}
	st := Stats{
		Files: int64(len(jobs)), Dirs: int64(len(col.dirs)), Skipped: a.stats.skipped.Load(),
		IndexHits: a.stats.hits.Load(), BytesHashed: a.stats.hashed.Load(),
		BytesUploaded: a.stats.upBytes.Load(), ObjectsUploaded: a.stats.upObjects.Load(),
		ObjectsSkipped: a.stats.present.Load(), SyncTime: time.Duration(a.stats.syncNs.Load()),
	}
	if err != nil {
		return Manifest{}, st, err
	}
	if opts.LocalFile != nil {
		for _, j := range jobs {
			opts.LocalFile(j.rel, j.abs)
		}
	}
	return m, st, nil
}

// run hashes and uploads the files, then commits the tree.
func (a *adder) run(ctx context.Context, jobs []*fileJob, dirs map[string]fs.FileMode, k int) (Manifest, error) {
	err := forEach(ctx, len(jobs), k, func(i int) error {
		j := jobs[i]
		if e, ok := a.ix.lookup(j.abs, j.key); ok {
			j.size, j.digest, j.chunks = j.key.size, e.digest, e.chunks
			a.stats.hits.Add(1)
			return nil
		}
		return a.hashFile(ctx, j)
	})
	if err != nil {
		return Manifest{}, err
	}
	root, err := buildTree(jobs, dirs)
	if err != nil {
		return Manifest{}, err
	}
	if err := a.commit(ctx, root, k); err != nil {
		return Manifest{}, err
	}
	m := Manifest{Root: root.digest, Size: root.size, Files: int64(len(jobs))}
	root.entries("", &m.Entries)
	sort.Slice(m.Entries, func(i, j int) bool { return m.Entries[i].Path < m.Entries[j].Path })
	return m, nil
}

// hashFile reads file j once, computing its digest and chunks and storing
// every object the store lacks, and records it in the index.
func (a *adder) hashFile(ctx context.Context, j *fileJob) error {
	f, err := os.Open(j.abs)
	if err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "read %q: %v", j.abs, err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "read %q: %v", j.abs, err)
	}
	if before.Size() >= int64(a.params.Min) {
		select {
		case a.large <- struct{}{}:
			defer func() { <-a.large }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	start := time.Now()
	ch := a.chunkers.Get().(*Chunker)
	defer a.chunkers.Put(ch)
	ch.Reset(readerCtx{ctx, f})

	readErr := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return loopml.WrapError(loopml.EINVALID, err, "read %q: %v", j.abs, err)
	}
	first, err := ch.Next()
	switch {
	case err == io.EOF:
		first = nil
	case err != nil:
		return readErr(err)
	}
	if err == io.EOF || ch.Done() {
		// One object: the file itself.
		a.stats.hashed.Add(int64(len(first)))
		d := Sum(first)
		if err := a.ensure(ctx, d, first); err != nil {
			return err
		}
		j.size, j.digest, j.chunks = int64(len(first)), d, nil
	} else if err := a.hashChunked(ctx, j, ch, first); err != nil {
		return err
	}
	j.stored = true
	after, err := f.Stat()
	if err == nil && keyOf(before) == keyOf(after) && after.Size() == j.size &&
		after.ModTime().Before(start.Add(-RacyWindow)) {
		a.ix.put(j.abs, indexEntry{key: keyOf(after), digest: j.digest, chunks: j.chunks})
	}
	return nil
}

// hashChunked handles a file of several chunks. The calling goroutine only
// finds the cuts and copies each chunk into a buffer from the shared pool;
// one goroutine per chunk hashes and uploads it, and one goroutine per
// file feeds the chunks in order to the whole-file hash. A buffer returns
// to the pool when both are done with it, which bounds memory.
func (a *adder) hashChunked(ctx context.Context, j *fileJob, ch *Chunker, chunk []byte) error {
	type piece struct {
		data []byte
		refs *atomic.Int32
		buf  []byte
	}
	release := func(p piece) {
		if p.refs.Add(-1) == 0 {
			a.bufs <- p.buf
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		upErr   error
		chunks  []Chunk
		digests []*Digest
		size    int64
		whole   Digest
	)
	ordered := make(chan piece, cap(a.bufs))
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		fh := blake3.New()
		for p := range ordered {
			fh.Write(p.data)
			release(p)
		}
		whole = Digest(fh.Sum(nil))
	}()
	finish := func() {
		close(ordered)
		wg.Wait()
		<-hashed
	}
	for {
		size += int64(len(chunk))
		a.stats.hashed.Add(int64(len(chunk)))
		var buf []byte
		select {
		case buf = <-a.bufs:
		case <-ctx.Done():
			finish()
			return ctx.Err()
		}
		if cap(buf) < a.params.Max {
			buf = make([]byte, a.params.Max)
		}
		p := piece{data: buf[:copy(buf[:cap(buf)], chunk)], refs: new(atomic.Int32), buf: buf}
		p.refs.Store(2)
		ordered <- p
		d := new(Digest)
		chunks = append(chunks, Chunk{Size: int64(len(p.data))})
		digests = append(digests, d)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release(p)
			*d = Sum(p.data)
			if err := a.ensure(ctx, *d, p.data); err != nil {
				mu.Lock()
				if upErr == nil {
					upErr = err
				}
				mu.Unlock()
			}
		}()
		mu.Lock()
		failed := upErr != nil
		mu.Unlock()
		if failed {
			break
		}
		var err error
		chunk, err = ch.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			finish()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return loopml.WrapError(loopml.EINVALID, err, "read %q: %v", j.abs, err)
		}
	}
	finish()
	if upErr != nil {
		return upErr
	}
	for i, d := range digests {
		chunks[i].Digest = *d
	}
	j.size, j.digest, j.chunks = size, whole, chunks
	return nil
}

// present reports whether object d of the given size is in the store,
// remembering positive answers.
func (a *adder) present(ctx context.Context, d Digest, size int64) (bool, error) {
	if _, ok := a.known.Load(d); ok {
		return true, nil
	}
	fi, err := a.store.Stat(ctx, d.ObjectPath())
	switch {
	case err == nil && !fi.IsDir && fi.Size == size:
		a.known.Store(d, struct{}{})
		return true, nil
	case err == nil, loopml.ErrorCode(err) == loopml.ENOTFOUND:
		return false, nil // a wrong size is a damaged object: rewrite it
	}
	return false, fmt.Errorf("check object %s: %w", d, err)
}

// flight is one check-and-upload of an object that other goroutines
// needing the same object wait for.
type flight struct {
	done chan struct{}
	err  error
}

// ensure stores data as object d unless it is already present. Concurrent
// calls for the same object upload it once.
func (a *adder) ensure(ctx context.Context, d Digest, data []byte) error {
	if _, ok := a.known.Load(d); ok {
		a.stats.present.Add(1)
		return nil
	}
	a.mu.Lock()
	if f, ok := a.inflight[d]; ok {
		a.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if f.err == nil {
			a.stats.present.Add(1)
		}
		return f.err
	}
	if a.inflight == nil {
		a.inflight = make(map[Digest]*flight)
	}
	f := &flight{done: make(chan struct{})}
	a.inflight[d] = f
	a.mu.Unlock()

	ok, err := a.present(ctx, d, int64(len(data)))
	if err == nil {
		if ok {
			a.stats.present.Add(1)
		} else {
			err = a.put(ctx, d, data)
		}
	}
	f.err = err
	close(f.done)
	a.mu.Lock()
	delete(a.inflight, d)
	a.mu.Unlock()
	return err
}

// sync makes the objects written so far durable.
func (a *adder) sync(ctx context.Context) error {
	t0 := time.Now()
	err := a.batch.Sync(ctx)
	a.stats.syncNs.Add(int64(time.Since(t0)))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("sync stored objects: %w", err)
	}
	return nil
}

// put writes object d through the batch; it is durable after the next
// sync.
func (a *adder) put(ctx context.Context, d Digest, data []byte) error {
	n, err := a.batch.Put(ctx, d.ObjectPath(), bytes.NewReader(data))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("store object %s: %w", d, err)
	}
	a.known.Store(d, struct{}{})
	a.stats.upBytes.Add(n)
	a.stats.upObjects.Add(1)
	return nil
}

// node is a file or directory of the tree being committed.
type node struct {
	name     string
	dir      bool
	mode     fs.FileMode
	size     int64
	digest   Digest
	chunks   []Chunk
	job      *fileJob
	children []*node
	enc      []byte // tree object of a directory
	depth    int
}

// buildTree assembles the Merkle tree and computes every directory's
// tree object and digest.
func buildTree(jobs []*fileJob, dirs map[string]fs.FileMode) (*node, error) {
	root := &node{dir: true}
	nodes := map[string]*node{"": root}
	var dir func(p string) *node
	dir = func(p string) *node {
		if n, ok := nodes[p]; ok {
			return n
		}
		parent := ""
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			parent = p[:i]
		}
		pn := dir(parent)
		mode, ok := dirs[p]
		if !ok {
			mode = 0o755
		}
		n := &node{name: path.Base(p), dir: true, mode: mode, depth: pn.depth + 1}
		pn.children = append(pn.children, n)
		nodes[p] = n
		return n
	}
	for p := range dirs {
		dir(p)
	}
	for _, j := range jobs {
		parent := ""
		if i := strings.LastIndexByte(j.rel, '/'); i >= 0 {
			parent = j.rel[:i]
		}
		pn := dir(parent)
		pn.children = append(pn.children, &node{name: path.Base(j.rel), mode: j.mode, size: j.size,
			digest: j.digest, chunks: j.chunks, job: j, depth: pn.depth + 1})
	}
	if err := root.encode(); err != nil {
		return nil, err
	}
	return root, nil
}

// encode computes the tree objects of n and the directories below it.
func (n *node) encode() error {
	sort.Slice(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name })
	te := make([]TreeEntry, len(n.children))
	n.size = 0
	for i, c := range n.children {
		if c.dir {
			if err := c.encode(); err != nil {
				return err
			}
		}
		n.size += c.size
		te[i] = TreeEntry{Name: c.name, Dir: c.dir, Mode: c.mode, Size: c.size, Digest: c.digest, Chunks: c.chunks}
	}
	enc, d, err := EncodeTree(te)
	if err != nil {
		return err
	}
	n.enc, n.digest = enc, d
	return nil
}

// entries appends the manifest entries below n (at path p) to out.
func (n *node) entries(p string, out *[]Entry) {
	for _, c := range n.children {
		cp := path.Join(p, c.name)
		*out = append(*out, Entry{Path: cp, Dir: c.dir, Mode: c.mode, Size: c.size, Digest: c.digest, Chunks: c.chunks})
		if c.dir {
			c.entries(cp, out)
		}
	}
}

// commit stores the tree objects the store lacks, children before parents
// and the root last. A tree object already present proves its whole
// subtree present, so it is not descended. Files known only from the index
// are checked (and re-read and uploaded if their objects are missing)
// before any tree that refers to them is written.
func (a *adder) commit(ctx context.Context, root *node, k int) error {
	var missing []*node // post-order
	var pending []*fileJob
	var walk func(n *node) error
	walk = func(n *node) error {
		ok, err := a.present(ctx, n.digest, int64(len(n.enc)))
		if err != nil {
			return err
		}
		if ok {
			a.stats.present.Add(1)
			return nil
		}
		for _, c := range n.children {
			if c.dir {
				if err := walk(c); err != nil {
					return err
				}
			} else if !c.job.stored {
				pending = append(pending, c.job)
			}
		}
		missing = append(missing, n)
		return nil
	}
	if err := walk(root); err != nil {
		return err
	}
	err := forEach(ctx, len(pending), k, func(i int) error { return a.ensureIndexed(ctx, pending[i]) })
	if err != nil {
		return err
	}
	// Content objects are durable before any tree refers to them, and each
	// level of trees before the level above: a tree object that exists
	// (after a crash too) proves its subtree present.
	if err := a.sync(ctx); err != nil {
		return err
	}
	// Deepest first; directories of one depth in parallel.
	sort.SliceStable(missing, func(i, j int) bool { return missing[i].depth > missing[j].depth })
	for lo := 0; lo < len(missing); {
		hi := lo
		for hi < len(missing) && missing[hi].depth == missing[lo].depth {
			hi++
		}
		level := missing[lo:hi]
		if err := forEach(ctx, len(level), k, func(i int) error {
			return a.put(ctx, level[i].digest, level[i].enc)
		}); err != nil {
			return err
		}
		if err := a.sync(ctx); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// ensureIndexed makes sure the objects of a file known from the index are
// stored, re-reading the file if one is missing.
func (a *adder) ensureIndexed(ctx context.Context, j *fileJob) error {
	e := Entry{Digest: j.digest, Size: j.size, Chunks: j.chunks}
	all := true
	for _, o := range e.Objects() {
		ok, err := a.present(ctx, o.Digest, o.Size)
		if err != nil {
			return err
		}
		if !ok {
			all = false
			break
		}
	}
	if all {
		return nil
	}
	re := *j
	if err := a.hashFile(ctx, &re); err != nil {
		return err
	}
	if re.digest != j.digest || re.size != j.size {
		return loopml.Errorf(loopml.ECONFLICT, "file %q changed while it was being added; run add again", j.abs)
	}
	return nil
}

// collector gathers the files and directories named by Add's paths.
type collector struct {
	files   map[string]*fileJob    // by path in the version
	dirs    map[string]fs.FileMode // by path in the version
	roots   []string               // absolute directories walked
	skipped int64
	log     *slog.Logger
}

// add collects one argument of Add.
func (c *collector) add(arg string) error {
	if arg == "" {
		return loopml.Errorf(loopml.EINVALID, "invalid path: empty")
	}
	matches, literal := []string{arg}, true
	if strings.ContainsAny(arg, "*?[") {
		if _, err := os.Lstat(arg); err != nil {
			m, err := filepath.Glob(arg)
			if err != nil {
				return loopml.Errorf(loopml.EINVALID, "invalid glob %q: %v", arg, err)
			}
			if len(m) == 0 {
				return loopml.Errorf(loopml.ENOTFOUND, "no file matches %q", arg)
			}
			matches, literal = m, false
		}
	}
	for _, p := range matches {
		abs, err := filepath.Abs(p)
		if err != nil {
			return loopml.WrapError(loopml.EINVALID, err, "invalid path %q", p)
		}
		fi, err := os.Stat(abs) // arguments are followed if they are symbolic links
		if errors.Is(err, fs.ErrNotExist) {
			return loopml.Errorf(loopml.ENOTFOUND, "path %q not found", p)
		} else if err != nil {
			return loopml.WrapError(loopml.EINVALID, err, "cannot read %q: %v", p, err)
		}
		base := filepath.Base(abs)
		switch {
		case fi.IsDir():
			// Walk the real directory, so a linked argument is followed.
			if abs, err = filepath.EvalSymlinks(abs); err != nil {
				return loopml.WrapError(loopml.EINVALID, err, "cannot read %q: %v", p, err)
			}
			rel := ""
			if !literal {
				rel = base
				if err := c.addDir(rel, abs, fi); err != nil {
					return err
				}
			}
			if err := c.walk(abs, rel); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := c.addFile(base, abs, fi); err != nil {
				return err
			}
		default:
			return loopml.Errorf(loopml.EINVALID, "cannot add %q: not a regular file or directory", p)
		}
	}
	return nil
}

// walk collects the tree below directory abs into the version at rel.
func (c *collector) walk(abs, rel string) error {
	c.roots = append(c.roots, abs)
	return filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return loopml.WrapError(loopml.EINVALID, err, "cannot read %q: %v", p, err)
		}
		if p == abs {
			return nil
		}
		r, _ := filepath.Rel(abs, p)
		r = filepath.ToSlash(r)
		if rel != "" {
			r = rel + "/" + r
		}
		t := d.Type()
		if !t.IsDir() && !t.IsRegular() {
			c.skipped++
			c.log.Warn("skipping a symbolic link or special file", "path", p, "type", t.String())
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile
		} else if err != nil {
			return loopml.WrapError(loopml.EINVALID, err, "cannot read %q: %v", p, err)
		}
		if t.IsDir() {
			return c.addDir(r, p, fi)
		}
		return c.addFile(r, p, fi)
	})
}

// checkRel validates every segment of a path in the version.
func checkRel(rel, abs string) error {
	for _, s := range strings.Split(rel, "/") {
		if err := checkName(s); err != nil {
			return loopml.Errorf(loopml.EINVALID, "cannot add %q: %s", abs, loopml.ErrorMessage(err))
		}
	}
	return nil
}

// addDir records directory rel.
func (c *collector) addDir(rel, abs string, fi fs.FileInfo) error {
	if err := checkRel(rel, abs); err != nil {
		return err
	}
	if _, ok := c.files[rel]; ok {
		return loopml.Errorf(loopml.EINVALID, "path %q is given twice (from %q)", rel, abs)
	}
	if _, ok := c.dirs[rel]; !ok {
		c.dirs[rel] = fi.Mode().Perm()
	}
	return nil
}

// addFile records regular file rel.
func (c *collector) addFile(rel, abs string, fi fs.FileInfo) error {
	if err := checkRel(rel, abs); err != nil {
		return err
	}
	_, isDir := c.dirs[rel]
	if _, ok := c.files[rel]; ok || isDir {
		return loopml.Errorf(loopml.EINVALID, "path %q is given twice (from %q)", rel, abs)
	}
	c.files[rel] = &fileJob{rel: rel, abs: abs, mode: fi.Mode().Perm(), key: keyOf(fi)}
	return nil
}
