package profile

import "math"

// PrintedQuantiles are the quantile levels of a [NumericSummary].
var PrintedQuantiles = []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99}

// TopK is how many frequent values a [ColumnSummary] lists.
const TopK = 10

// TypeCounts counts a column's present cells by their own type.
type TypeCounts struct {
	Integer   int64 `json:"integer"`
	Float     int64 `json:"float"`
	Boolean   int64 `json:"boolean"`
	Timestamp int64 `json:"timestamp"`
	String    int64 `json:"string"`
}

// Quantile is one quantile of a numeric column.
type Quantile struct {
	// P is the level in [0, 1].
	P float64 `json:"p"`
	// Value is the quantile.
	Value float64 `json:"value"`
}

// NumericSummary describes the numeric (integer, float, timestamp) cells
// of a column.
type NumericSummary struct {
	// Count is the number of numeric cells.
	Count int64 `json:"count"`
	// Min and Max are the extreme values.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// Mean is the arithmetic mean.
	Mean float64 `json:"mean"`
	// Stddev is the population standard deviation (ddof = 0).
	Stddev float64 `json:"stddev"`
	// Quantiles are at PrintedQuantiles; exact (numpy's linear
	// interpolation) while the column's distinct values are counted
	// exactly, else t-digest estimates.
	Quantiles []Quantile `json:"quantiles"`
	// Histogram counts the values on fixed or derived bins.
	Histogram *Histogram `json:"histogram,omitempty"`
}

// LengthSummary describes the lengths, in characters, of a column's
// present cells as text.
type LengthSummary struct {
	Min  int64   `json:"min"`
	Max  int64   `json:"max"`
	Mean float64 `json:"mean"`
}

// ColumnSummary is the readable profile of one column.
type ColumnSummary struct {
	Field
	// Count is the number of present (non-missing) values.
	Count int64 `json:"count"`
	// Missing is the number of missing values (absent keys included).
	Missing int64 `json:"missing"`
	// Types counts the present values by type.
	Types TypeCounts `json:"types"`
	// Distinct is the number of distinct present values (by text), exact
	// if DistinctExact, else a HyperLogLog estimate.
	Distinct      int64 `json:"distinct"`
	DistinctExact bool  `json:"distinct_exact"`
	// Numeric is nil when the column has no numeric value.
	Numeric *NumericSummary `json:"numeric,omitempty"`
	// Length is nil when the column has no present value.
	Length *LengthSummary `json:"length,omitempty"`
	// Top lists up to TopK most frequent values; their counts are exact if
	// TopExact, else at most ErrorBound below the true counts.
	Top        []ValueCount `json:"top"`
	TopExact   bool         `json:"top_exact"`
	ErrorBound int64        `json:"error_bound"`
}

// Summaries returns the readable profile of every column.
func (p *Profile) Summaries() []ColumnSummary {
	out := make([]ColumnSummary, len(p.cols))
	for i, c := range p.cols {
		out[i] = c.summary(p.rows, p.cfg.Bins)
	}
	return out
}

// Column returns the readable profile of the named column.
func (p *Profile) Column(name string) (ColumnSummary, bool) {
	c, ok := p.index[name]
	if !ok {
		return ColumnSummary{}, false
	}
	return c.summary(p.rows, p.cfg.Bins), true
}

func (c *column) summary(rows int64, bins int) ColumnSummary {
	s := ColumnSummary{
		Field:   c.field(rows),
		Count:   c.present,
		Missing: rows - c.present,
		Types: TypeCounts{
			Integer: c.types[classInteger], Float: c.types[classFloat], Boolean: c.types[classBoolean],
			Timestamp: c.types[classTimestamp], String: c.types[classString],
		},
		TopExact:   c.freq.exact,
		ErrorBound: c.freq.errBound,
	}
	s.Distinct, s.DistinctExact = c.distinct()
	top := c.freq.sorted()
	s.Top = top[:min(TopK, len(top))]
	if c.present > 0 {
		s.Length = &LengthSummary{Min: c.lenMin, Max: c.lenMax, Mean: float64(c.lenSum) / float64(c.present)}
	}
	if c.n > 0 {
		ns := &NumericSummary{
			Count: c.n, Min: c.min, Max: c.max, Mean: c.mean,
			Stddev:    math.Sqrt(max(c.m2, 0) / float64(c.n)),
			Histogram: c.histogram(bins),
		}
		vals, counts, exact := c.numericValues()
		for _, q := range PrintedQuantiles {
			var v float64
			if exact {
				v = exactQuantile(vals, counts, q)
			} else {
				v = min(max(c.dig.quantile(q), c.min), c.max)
			}
			ns.Quantiles = append(ns.Quantiles, Quantile{P: q, Value: v})
		}
		s.Numeric = ns
	}
	return s
}

// Frequent returns every value counter of the named column by decreasing
// count: all distinct values with exact counts while the column is exact,
// else the Misra–Gries counters (see [ColumnSummary.ErrorBound]).
func (p *Profile) Frequent(name string) []ValueCount {
	c, ok := p.index[name]
	if !ok {
		return nil
	}
	return c.freq.sorted()
}
