package learn

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Tabular learner kinds, as accepted by TabularLearnerByName and recorded
// in model bytes.
const (
	KindLinear   = "linear"
	KindLogistic = "logistic"
)

// TabularLearners returns the names of the built-in tabular learners.
func TabularLearners() []string { return []string{KindLinear, KindLogistic} }

// IsTabular reports whether name is a tabular learner (linear, logistic)
// rather than a recommender.
func IsTabular(name string) bool { return name == KindLinear || name == KindLogistic }

// TabularLearnerByName returns the built-in tabular learner called name.
func TabularLearnerByName(name string) (TabularLearner, error) {
	switch name {
	case KindLinear:
		return Linear{}, nil
	case KindLogistic:
		return Logistic{}, nil
	}
	return nil, fmt.Errorf("tabular learner %q: want one of %v: %w", name, TabularLearners(), ErrInvalidParam)
}

// TabularLearner trains a TabularModel that predicts t.Target from
// t.Features (all other columns when Features is empty).
//
// Fit honours ctx (checked between chunks of rows) and does not modify t.
// Errors wrap ErrNoData, ErrUnknownColumn, ErrBadValue, ErrInvalidParam or
// the context's error.
type TabularLearner interface {
	// Name returns the learner kind, e.g. "linear".
	Name() string
	// Fit trains on t with params (nil: defaults).
	Fit(ctx context.Context, t *Table, params Params) (TabularModel, error)
}

// TabularFeature describes one input column of a tabular model.
type TabularFeature struct {
	// Name is the column name.
	Name string `json:"name"`
	// Numeric is true for a standardised number, false for a one-hot
	// encoded category.
	Numeric bool `json:"numeric"`
	// Integral is true when every training value of a numeric column was
	// a whole number.
	Integral bool `json:"integral"`
	// Optional is true when the column had missing values in training.
	Optional bool `json:"optional"`
}

// TabularModel is a trained tabular model. It is safe for concurrent use;
// UnmarshalBinary must not run concurrently with other methods.
type TabularModel interface {
	// Kind returns the learner kind ("linear" or "logistic").
	Kind() string
	// Target returns the name of the predicted column.
	Target() string
	// Features returns the input columns in the order PredictRow expects.
	Features() []TabularFeature
	// PredictRow predicts one row given as one value per feature (in
	// Features order): numbers (float64, int64, int, float32, a numeric
	// string) for numeric features, strings (numbers and booleans are
	// formatted) for categorical ones, nil for a missing value. A linear
	// model returns the predicted target, a logistic one the probability
	// of class 1. Errors wrap ErrBadValue and name the feature.
	PredictRow(values []any) (float64, error)
	// Predict predicts every row of t, whose columns are found by name.
	Predict(t *Table) ([]float64, error)
	// MarshalBinary encodes the model; UnmarshalTabularModel decodes it.
	MarshalBinary() ([]byte, error)
	// UnmarshalBinary replaces the model with the decoded bytes. Errors
	// wrap ErrBadModel.
	UnmarshalBinary([]byte) error
}

// Column is one column of a Table: numbers (NaN marks a missing value) or
// categories (codes into Levels, -1 marks a missing value).
type Column struct {
	Name string
	// Numeric says which of Floats or Codes holds the values.
	Numeric bool
	// Integral is true when every non-missing number is a whole number.
	Integral bool
	Floats   []float64
	Codes    []int32
	Levels   []string
}

// Len returns the number of values.
func (c *Column) Len() int {
	if c.Numeric {
		return len(c.Floats)
	}
	return len(c.Codes)
}

// Missing reports whether row i is missing.
func (c *Column) Missing(i int) bool {
	if c.Numeric {
		return math.IsNaN(c.Floats[i])
	}
	return c.Codes[i] < 0
}

// String returns row i as text ("" when missing).
func (c *Column) String(i int) string {
	if c.Numeric {
		if math.IsNaN(c.Floats[i]) {
			return ""
		}
		return strconv.FormatFloat(c.Floats[i], 'g', -1, 64)
	}
	if c.Codes[i] < 0 {
		return ""
	}
	return c.Levels[c.Codes[i]]
}

// Table is tabular training data: named, typed columns of equal length, and
// which column to predict from which.
type Table struct {
	// Target is the column to predict.
	Target string
	// Features are the input columns; empty means every column but Target
	// and those in Exclude.
	Features []string
	// Exclude names columns left out when Features is empty (an outcome
	// recorded next to the target, an id).
	Exclude []string

	cols  []*Column
	index map[string]int
	rows  int
}

// NewTable builds a table from columns of equal length with distinct
// names. Numeric columns may hold NaN (missing) but not ±Inf.
func NewTable(cols ...*Column) (*Table, error) {
	t := &Table{index: map[string]int{}}
	for n, c := range cols {
		if c == nil || c.Name == "" {
			return nil, fmt.Errorf("column %d has no name: %w", n, ErrBadValue)
		}
		if _, dup := t.index[c.Name]; dup {
			return nil, fmt.Errorf("column %q appears twice: %w", c.Name, ErrBadValue)
		}
		if n == 0 {
			t.rows = c.Len()
		} else if c.Len() != t.rows {
			return nil, fmt.Errorf("column %q has %d rows, want %d: %w", c.Name, c.Len(), t.rows, ErrBadValue)
		}
		if c.Numeric {
			for i, v := range c.Floats {
				if math.IsInf(v, 0) {
					return nil, fmt.Errorf("column %q row %d: %v: %w", c.Name, i, v, ErrBadValue)
				}
			}
		} else {
			for i, code := range c.Codes {
				if int(code) >= len(c.Levels) || code < -1 {
					return nil, fmt.Errorf("column %q row %d: code %d out of range: %w", c.Name, i, code, ErrBadValue)
				}
			}
		}
		t.index[c.Name] = n
		t.cols = append(t.cols, c)
	}
	return t, nil
}

// Len returns the number of rows.
func (t *Table) Len() int { return t.rows }

// Columns returns the column names in file order.
func (t *Table) Columns() []string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.Name
	}
	return out
}

// Column returns the named column.
func (t *Table) Column(name string) (*Column, bool) {
	i, ok := t.index[name]
	if !ok {
		return nil, false
	}
	return t.cols[i], true
}

// FeatureNames returns the feature columns: Features, or every column but
// Target. An unknown column is ErrUnknownColumn; the target among the
// features is ErrInvalidParam.
func (t *Table) FeatureNames() ([]string, error) {
	if len(t.Features) == 0 {
		skip := map[string]bool{t.Target: true}
		for _, e := range t.Exclude {
			if _, ok := t.index[e]; !ok {
				return nil, fmt.Errorf("excluded column %q not in the data (columns: %s): %w", e, strings.Join(t.Columns(), ", "), ErrUnknownColumn)
			}
			skip[e] = true
		}
		var out []string
		for _, c := range t.cols {
			if !skip[c.Name] {
				out = append(out, c.Name)
			}
		}
		return out, nil
	}
	if len(t.Exclude) > 0 {
		return nil, fmt.Errorf("give either the feature columns or the columns to exclude, not both: %w", ErrInvalidParam)
	}
	seen := map[string]bool{}
	for _, f := range t.Features {
		if _, ok := t.index[f]; !ok {
			return nil, fmt.Errorf("feature column %q not in the data (columns: %s): %w", f, strings.Join(t.Columns(), ", "), ErrUnknownColumn)
		}
		if f == t.Target {
			return nil, fmt.Errorf("feature column %q is the target: %w", f, ErrInvalidParam)
		}
		if seen[f] {
			return nil, fmt.Errorf("feature column %q is given twice: %w", f, ErrInvalidParam)
		}
		seen[f] = true
	}
	return append([]string(nil), t.Features...), nil
}

// Subset returns the rows idx of t (in that order) as a new table with the
// same Target and Features.
func (t *Table) Subset(idx []int) *Table {
	out := &Table{Target: t.Target, Features: t.Features, Exclude: t.Exclude, index: t.index, rows: len(idx)}
	for _, c := range t.cols {
		nc := &Column{Name: c.Name, Numeric: c.Numeric, Integral: c.Integral, Levels: c.Levels}
		if c.Numeric {
			nc.Floats = make([]float64, len(idx))
			for n, i := range idx {
				nc.Floats[n] = c.Floats[i]
			}
		} else {
			nc.Codes = make([]int32, len(idx))
			for n, i := range idx {
				nc.Codes[n] = c.Codes[i]
			}
		}
		out.cols = append(out.cols, nc)
	}
	return out
}

// SplitTable splits t at random (seeded) into a training and a test table
// holding about 1−testFraction and testFraction of the rows. Both parts
// get at least one row; t needs at least two.
func SplitTable(t *Table, testFraction float64, seed uint64) (train, test *Table, err error) {
	if !(testFraction > 0 && testFraction < 1) {
		return nil, nil, fmt.Errorf("test fraction %v: want a value in (0, 1): %w", testFraction, ErrInvalidParam)
	}
	if t == nil || t.rows < 2 {
		return nil, nil, fmt.Errorf("split needs at least 2 rows: %w", ErrNoData)
	}
	perm := rand.New(rand.NewPCG(seed, 0x7461626c)).Perm(t.rows)
	nt := min(max(int(math.Round(testFraction*float64(t.rows))), 1), t.rows-1)
	te, tr := perm[:nt], perm[nt:]
	sort.Ints(te)
	sort.Ints(tr)
	return t.Subset(tr), t.Subset(te), nil
}

// TableOptions says how to read a CSV table.
type TableOptions struct {
	// Comma is the field separator; 0 means ','.
	Comma rune
	// Categorical names columns to read as categories even when every
	// value is a number (e.g. a numeric store id).
	Categorical []string
}

// missingCell reports whether a CSV cell means "no value": empty, NA,
// N/A, null or None (after trimming spaces).
func missingCell(s string) bool {
	switch s {
	case "", "NA", "N/A", "null", "NULL", "None":
		return true
	}
	return false
}

// LoadTableFile reads the CSV table at path; see ReadTable.
func LoadTableFile(ctx context.Context, path string, opts TableOptions) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadTable(ctx, f, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// colBuilder accumulates one column while reading: numbers until the
// first non-numeric cell, categories from then on.
type colBuilder struct {
	name     string
	numeric  bool
	integral bool
	floats   []float64
	codes    []int32
	levels   []string
	index    map[string]int32
}

func (b *colBuilder) code(s string) int32 {
	c, ok := b.index[s]
	if !ok {
		c = int32(len(b.levels))
		b.levels = append(b.levels, s)
		b.index[s] = c
	}
	return c
}

// toCategorical converts the numbers read so far to categories (formatted
// with the shortest representation).
func (b *colBuilder) toCategorical() {
	b.numeric = false
	b.index = map[string]int32{}
	b.codes = make([]int32, len(b.floats), max(cap(b.floats), 16))
	for i, v := range b.floats {
		if math.IsNaN(v) {
			b.codes[i] = -1
		} else {
			b.codes[i] = b.code(strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	b.floats = nil
}

// ReadTable reads a CSV stream with a header row into a Table. A column is
// numeric when every non-missing cell parses as a number, else
// categorical. Missing cells are empty or one of NA, N/A, null, None.
// "NaN" or "Inf" in a numeric column is ErrBadValue naming the line and
// column (leave the cell empty for a missing value). No rows is ErrNoData.
// ctx is checked every 64k rows.
func ReadTable(ctx context.Context, r io.Reader, opts TableOptions) (*Table, error) {
	cr := csv.NewReader(r)
	if opts.Comma != 0 {
		cr.Comma = opts.Comma
	}
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("empty file, want a header row: %w", ErrNoData)
	}
	if err != nil {
		return nil, fmt.Errorf("header: %v: %w", err, ErrBadValue)
	}
	bs := make([]*colBuilder, len(header))
	seen := map[string]bool{}
	for j, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if h == "" {
			return nil, fmt.Errorf("header: column %d has no name: %w", j+1, ErrBadValue)
		}
		if seen[h] {
			return nil, fmt.Errorf("header: column %q appears twice: %w", h, ErrBadValue)
		}
		seen[h] = true
		bs[j] = &colBuilder{name: h, numeric: true, integral: true}
	}
	for _, c := range opts.Categorical {
		found := false
		for _, b := range bs {
			if b.name == c {
				b.toCategorical()
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("categorical column %q not in the header (columns: %s): %w", c, strings.Join(header, ", "), ErrUnknownColumn)
		}
	}
	line := 1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line++
		if err != nil {
			return nil, fmt.Errorf("line %d: %v: %w", line, err, ErrBadValue)
		}
		if line%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		for j, b := range bs {
			s := strings.TrimSpace(rec[j])
			miss := missingCell(s)
			if b.numeric {
				if miss {
					b.floats = append(b.floats, math.NaN())
					continue
				}
				v, perr := strconv.ParseFloat(s, 64)
				if perr == nil || errors.Is(perr, strconv.ErrRange) {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						return nil, fmt.Errorf("line %d, column %q: %q is not a finite number (leave the cell empty for a missing value): %w", line, b.name, s, ErrBadValue)
					}
					if v != math.Trunc(v) {
						b.integral = false
					}
					b.floats = append(b.floats, v)
					continue
				}
				b.toCategorical()
			}
			if miss {
				b.codes = append(b.codes, -1)
			} else {
				b.codes = append(b.codes, b.code(s))
			}
		}
	}
	if line == 1 {
		return nil, fmt.Errorf("no rows after the header: %w", ErrNoData)
	}
	cols := make([]*Column, len(bs))
	for j, b := range bs {
		c := &Column{Name: b.name, Numeric: b.numeric}
		if b.numeric {
			c.Floats, c.Integral = b.floats, b.integral
		} else {
			c.Codes, c.Levels = b.codes, b.levels
		}
		cols[j] = c
	}
	return NewTable(cols...)
}
