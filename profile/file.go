package profile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
)

// DefaultBatchSize is the number of rows per batch handed to a worker.
const DefaultBatchSize = 1024

// Options configures [ProfileReader], [ProfileFile], [ProfileFiles] and
// [ProfileSource]. The zero value profiles by extension with default
// sketches on GOMAXPROCS workers and skips bad rows.
type Options struct {
	// Config sets the sketch sizes and fixed histogram edges.
	Config Config
	// Format overrides the format chosen by file extension.
	Format Format
	// Strict makes the first bad row or unreadable file an error instead
	// of an Issue of the profile.
	Strict bool
	// Workers is the number of profiling goroutines; ≤ 0 means
	// runtime.GOMAXPROCS(0). With one worker results are deterministic.
	Workers int
	// BatchSize is the number of rows per batch; ≤ 0 means
	// DefaultBatchSize. Memory holds about 2·Workers batches of rows.
	BatchSize int
	// Logger receives a debug record per skipped row; nil discards.
	Logger *slog.Logger
}

// Source is a stream of rows, as [Reader] provides.
type Source interface {
	// Columns returns the column names known so far; the list may only
	// grow, and Read's values are aligned with it.
	Columns() []string
	// Read returns the next row, which the caller then owns; io.EOF at
	// the end; a *RowError for a skipped bad row; any other error ends the
	// stream.
	Read() ([]string, error)
}

type batch struct {
	cols []string
	rows [][]string
}

// ProfileSource profiles every row of src. One goroutine reads; Workers
// goroutines each profile batches of BatchSize rows, and their profiles are
// merged. Bad rows become Issues of the profile (or, if Strict, the
// error). name labels the source in logs. It stops with ctx's error when
// ctx is cancelled.
func ProfileSource(ctx context.Context, src Source, name string, opts Options) (*Profile, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	size := opts.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	batches := make(chan batch, workers)
	parts := make([]*Profile, workers)
	var wg sync.WaitGroup
	for w := range parts {
		parts[w] = New(opts.Config)
		wg.Add(1)
		go func(p *Profile) {
			defer wg.Done()
			ncols := -1
			for b := range batches {
				if len(b.cols) != ncols {
					p.SetColumns(b.cols)
					ncols = len(b.cols)
				}
				for _, row := range b.rows {
					p.Add(row)
				}
			}
		}(parts[w])
	}

	out := New(opts.Config)
	err := func() error {
		defer close(batches)
		cur := batch{rows: make([][]string, 0, size)}
		send := func() error {
			if len(cur.rows) == 0 {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			cur.cols = src.Columns()
			select {
			case batches <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
			cur = batch{rows: make([][]string, 0, size)}
			return nil
		}
		for {
			row, err := src.Read()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return send()
				}
				var re *RowError
				if !errors.As(err, &re) {
					return fmt.Errorf("profile %s: %w", name, err)
				}
				if opts.Strict {
					return err
				}
				log.DebugContext(ctx, "skipped bad row", "file", re.File, "line", re.Line, "reason", re.Reason)
				out.AddIssue(re.Issue())
				continue
			}
			// A row may outgrow the column list of the rows before it (a new
			// JSON key): send those rows first so each batch has one list.
			if len(cur.rows) > 0 && len(row) != len(cur.rows[0]) {
				if err := send(); err != nil {
					return err
				}
			}
			cur.rows = append(cur.rows, row)
			if len(cur.rows) == size {
				if err := send(); err != nil {
					return err
				}
			}
		}
	}()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	out.SetColumns(src.Columns())
	for _, p := range parts {
		if err := out.Merge(p); err != nil {
			return nil, fmt.Errorf("profile %s: %w", name, err)
		}
	}
	return out, nil
}

// ProfileReader profiles a CSV, TSV or JSON Lines stream (gzip allowed);
// name is used for the format (unless opts.Format is set) and in issues.
func ProfileReader(ctx context.Context, r io.Reader, name string, opts Options) (*Profile, error) {
	rd, err := NewReader(r, name, opts.Format)
	if err != nil {
		return nil, err
	}
	p, err := ProfileSource(ctx, rd, name, opts)
	if cerr := rd.Close(); err == nil && cerr != nil {
		return nil, fmt.Errorf("%s: %w", name, cerr)
	}
	return p, err
}

// ProfileFile profiles the file at path; see [ProfileReader].
func ProfileFile(ctx context.Context, path string, opts Options) (*Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ProfileReader(ctx, f, path, opts)
}

// ProfileFiles profiles several files as one table (columns matched by
// name) by merging their profiles. A file that cannot be opened or read
// becomes an Issue with line 0 and the others are still profiled, unless
// opts.Strict, when the first problem is returned. Cancellation is always
// returned as an error.
func ProfileFiles(ctx context.Context, paths []string, opts Options) (*Profile, error) {
	out := New(opts.Config)
	for _, path := range paths {
		p, err := ProfileFile(ctx, path, opts)
		if err != nil {
			if opts.Strict || ctx.Err() != nil {
				return nil, err
			}
			out.AddIssue(Issue{File: path, Reason: err.Error()})
			continue
		}
		if err := out.Merge(p); err != nil {
			return nil, err
		}
	}
	return out, nil
}
