package learn

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// CSVOptions says how to read an interactions CSV file. The zero value reads
// a comma-separated file with a header, recognising the columns by name and
// keeping the last of duplicate (user, item) rows.
type CSVOptions struct {
	// UserColumn, ItemColumn, RatingColumn and TimeColumn name the header
	// columns to read. Empty means recognise by name: user is userId,
	// user_id or user; item is movieId, movie_id, itemId, item_id or item;
	// rating is rating, score or value; time is timestamp, time or ts
	// (case-insensitive). A named column that is absent is ErrUnknownColumn.
	UserColumn, ItemColumn, RatingColumn, TimeColumn string
	// Comma is the field separator; 0 means ','.
	Comma rune
	// Duplicates is the policy for repeated (user, item) pairs; "" is last.
	Duplicates DuplicatePolicy
}

var (
	userNames   = []string{"userid", "user_id", "user"}
	itemNames   = []string{"movieid", "movie_id", "itemid", "item_id", "item"}
	ratingNames = []string{"rating", "score", "value"}
	timeNames   = []string{"timestamp", "time", "ts"}
)

// LoadCSVFile reads the interactions CSV file at path; see LoadCSV.
func LoadCSVFile(ctx context.Context, path string, opts CSVOptions) (*Interactions, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := LoadCSV(ctx, f, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// LoadCSV reads interactions from a CSV stream with a header row. User and
// item columns are required. Without a rating column every row has rating 1
// (implicit feedback); without a time column every row has time 0. Ratings
// must be finite numbers; times are integer or fractional Unix seconds or
// RFC 3339. Errors name the line and column and wrap ErrNoData,
// ErrUnknownColumn, ErrBadValue or ErrDuplicate. ctx is checked every 64k rows.
func LoadCSV(ctx context.Context, r io.Reader, opts CSVOptions) (*Interactions, error) {
	cr := csv.NewReader(r)
	if opts.Comma != 0 {
		cr.Comma = opts.Comma
	}
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("empty file, want a header: %w", ErrNoData)
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w: %w", ErrBadValue, err)
	}
	header = append([]string(nil), header...)
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	col := func(field, named string, names []string, required bool) (int, error) {
		if named != "" {
			for i, h := range header {
				if strings.TrimSpace(h) == named {
					return i, nil
				}
			}
			return -1, fmt.Errorf("%s column %q not in header %q: %w", field, named, strings.Join(header, ","), ErrUnknownColumn)
		}
		for _, n := range names {
			for i, h := range header {
				if strings.EqualFold(strings.TrimSpace(h), n) {
					return i, nil
				}
			}
		}
		if required {
			return -1, fmt.Errorf("no %s column in header %q (want one of %s): %w", field, strings.Join(header, ","), strings.Join(names, ", "), ErrUnknownColumn)
		}
		return -1, nil
	}
	uc, err := col("user", opts.UserColumn, userNames, true)
	if err != nil {
		return nil, err
	}
	ic, err := col("item", opts.ItemColumn, itemNames, true)
	if err != nil {
		return nil, err
	}
	rc, err := col("rating", opts.RatingColumn, ratingNames, false)
	if err != nil {
		return nil, err
	}
	tc, err := col("time", opts.TimeColumn, timeNames, false)
	if err != nil {
		return nil, err
	}
	need := max(uc, ic, rc, tc) + 1
	d := NewInteractions()
	var lines []int
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadValue, err) // csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		if len(lines)&0xffff == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) < need {
			return nil, fmt.Errorf("line %d: %d fields, want at least %d: %w", line, len(rec), need, ErrBadValue)
		}
		user, item := strings.TrimSpace(rec[uc]), strings.TrimSpace(rec[ic])
		if user == "" {
			return nil, fmt.Errorf("line %d: column %q: empty user: %w", line, header[uc], ErrBadValue)
		}
		if item == "" {
			return nil, fmt.Errorf("line %d: column %q: empty item: %w", line, header[ic], ErrBadValue)
		}
		rating := float32(1)
		if rc >= 0 {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[rc]), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
				return nil, fmt.Errorf("line %d: column %q: rating %q is not a finite number: %w", line, header[rc], rec[rc], ErrBadValue)
			}
			rating = float32(v)
		}
		var ts int64
		if tc >= 0 {
			ts, err = parseTime(strings.TrimSpace(rec[tc]))
			if err != nil {
				return nil, fmt.Errorf("line %d: column %q: time %q: %w", line, header[tc], rec[tc], err)
			}
		}
		d.Add(user, item, rating, ts)
		lines = append(lines, line)
	}
	if len(d.Rows) == 0 {
		return nil, fmt.Errorf("header but no rows: %w", ErrNoData)
	}
	return d.dedup(opts.Duplicates, lines)
}

// parseTime accepts Unix seconds (integer or fractional) or RFC 3339.
func parseTime(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e17 {
			return 0, fmt.Errorf("not a finite Unix time: %w", ErrBadValue)
		}
		return int64(math.Floor(v)), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	return 0, fmt.Errorf("want Unix seconds or RFC 3339: %w", ErrBadValue)
}
