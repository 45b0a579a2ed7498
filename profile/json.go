package profile

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/axiomhq/hyperloglog"
)

// FormatVersion identifies the JSON form of a profile.
const FormatVersion = "loopml.profile/v1"

type profileJSON struct {
	Format  string       `json:"format"`
	Rows    int64        `json:"rows"`
	BadRows int64        `json:"bad_rows"`
	Issues  []Issue      `json:"issues,omitempty"`
	Config  Config       `json:"config"`
	Schema  Schema       `json:"schema"`
	Columns []columnJSON `json:"columns"`
}

type columnJSON struct {
	ColumnSummary
	State columnState `json:"state"`
}

// columnState is everything needed to restore a column's accumulator.
type columnState struct {
	Present int64      `json:"present"`
	Types   TypeCounts `json:"types"`
	N       int64      `json:"n"`
	Min     float64    `json:"min"`
	Max     float64    `json:"max"`
	Mean    float64    `json:"mean"`
	M2      float64    `json:"m2"`
	LenMin  int64      `json:"len_min"`
	LenMax  int64      `json:"len_max"`
	LenSum  int64      `json:"len_sum"`
	// HLL and TDigest are the sketches' binary encodings (base64 in JSON).
	// HLL is absent while the counts are exact.
	HLL     []byte `json:"hll,omitempty"`
	TDigest []byte `json:"tdigest"`
	// Counts are the exact value counts (Exact) or the Misra–Gries
	// counters, by decreasing count.
	Counts     []ValueCount `json:"counts"`
	Exact      bool         `json:"exact"`
	ErrorBound int64        `json:"error_bound"`
	// Edges and Hist are the fixed histogram, if any.
	Edges []float64 `json:"edges,omitempty"`
	Hist  []int64   `json:"hist,omitempty"`
}

// MarshalJSON encodes the profile as a JSON object:
//
//	format    "loopml.profile/v1"
//	rows      row count; bad_rows: rows skipped as malformed; issues: [{file, line, reason}]
//	config    {bins, exact_limit, counters, compression}
//	schema    {fields: [{name, type, unit, nullable, kind, possibly_categorical}]}
//	columns   [ColumnSummary fields…, state: {…}]
//
// Each column carries its readable summary (as [ColumnSummary]) for
// consumers in any language, and a "state" object from which
// UnmarshalJSON restores the accumulator: exact counters, Welford moments,
// fixed histogram, the exact or Misra–Gries value counts, and the
// HyperLogLog and t-digest sketches as base64 of their binary encodings.
// Columns keep their order and counts are sorted, so equal profiles encode
// to equal bytes.
func (p *Profile) MarshalJSON() ([]byte, error) {
	out := profileJSON{
		Format: FormatVersion, Rows: p.rows, BadRows: p.BadRows, Issues: p.Issues,
		Config: p.cfg, Schema: p.Schema(), Columns: make([]columnJSON, len(p.cols)),
	}
	for i, c := range p.cols {
		st, err := c.state()
		if err != nil {
			return nil, fmt.Errorf("marshal profile: column %q: %w", c.name, err)
		}
		out.Columns[i] = columnJSON{ColumnSummary: c.summary(p.rows, p.cfg.Bins), State: st}
	}
	return json.Marshal(out)
}

func (c *column) state() (columnState, error) {
	s := columnState{
		Present: c.present,
		Types: TypeCounts{
			Integer: c.types[classInteger], Float: c.types[classFloat], Boolean: c.types[classBoolean],
			Timestamp: c.types[classTimestamp], String: c.types[classString],
		},
		N: c.n, Min: c.min, Max: c.max, Mean: c.mean, M2: c.m2,
		LenMin: c.lenMin, LenMax: c.lenMax, LenSum: c.lenSum,
		Counts: c.freq.sorted(), Exact: c.freq.exact, ErrorBound: c.freq.errBound,
		Edges: c.edges, Hist: c.hist,
	}
	var err error
	if c.hll != nil {
		c.hll.Estimate() // compacts a sparse form, which makes the encoding canonical
		if s.HLL, err = c.hll.MarshalBinary(); err != nil {
			return s, fmt.Errorf("hll: %w", err)
		}
	}
	if s.TDigest, err = c.dig.marshal(); err != nil {
		return s, fmt.Errorf("tdigest: %w", err)
	}
	return s, nil
}

// UnmarshalJSON restores a profile encoded by MarshalJSON from its rows,
// bad_rows, issues, config and the columns' state; the readable summaries
// are recomputed, not read. It rejects other formats and inconsistent
// state, naming the offending column and field.
func (p *Profile) UnmarshalJSON(b []byte) error {
	var in profileJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("unmarshal profile: %w", err)
	}
	if in.Format != FormatVersion {
		return fmt.Errorf("unmarshal profile: format: got %q, want %q", in.Format, FormatVersion)
	}
	if in.Rows < 0 || in.BadRows < 0 {
		return fmt.Errorf("unmarshal profile: rows: negative count")
	}
	q := New(in.Config)
	q.rows, q.BadRows, q.Issues = in.Rows, in.BadRows, in.Issues
	for i, cj := range in.Columns {
		if _, dup := q.index[cj.Name]; dup {
			return fmt.Errorf("unmarshal profile: columns[%d]: duplicate name %q", i, cj.Name)
		}
		c, err := restoreColumn(cj.Name, cj.State, &q.cfg, in.Rows)
		if err != nil {
			return fmt.Errorf("unmarshal profile: column %q: %w", cj.Name, err)
		}
		q.index[c.name] = c
		q.cols = append(q.cols, c)
	}
	*p = *q
	return nil
}

func restoreColumn(name string, s columnState, cfg *Config, rows int64) (*column, error) {
	c := newColumn(name, &Config{Compression: cfg.Compression, ExactLimit: cfg.ExactLimit, Counters: cfg.Counters})
	t := s.Types
	if s.Present < 0 || s.Present > rows {
		return nil, fmt.Errorf("state.present: %d outside [0, %d]", s.Present, rows)
	}
	if min(t.Integer, t.Float, t.Boolean, t.Timestamp, t.String) < 0 ||
		t.Integer+t.Float+t.Boolean+t.Timestamp+t.String != s.Present {
		return nil, fmt.Errorf("state.types: counts do not add up to present")
	}
	if s.N != t.Integer+t.Float+t.Timestamp {
		return nil, fmt.Errorf("state.n: got %d, want the %d numeric values", s.N, t.Integer+t.Float+t.Timestamp)
	}
	if s.N > 0 && !(s.Min <= s.Mean && s.Mean <= s.Max && s.M2 >= 0) {
		return nil, fmt.Errorf("state: min ≤ mean ≤ max and m2 ≥ 0 do not hold")
	}
	if s.LenMin < 0 || s.LenMax < s.LenMin || s.LenSum < 0 {
		return nil, fmt.Errorf("state.len_*: invalid lengths")
	}
	if s.ErrorBound < 0 || (s.Exact && s.ErrorBound != 0) {
		return nil, fmt.Errorf("state.error_bound: invalid")
	}
	c.present, c.n, c.min, c.max, c.mean, c.m2 = s.Present, s.N, s.Min, s.Max, s.Mean, s.M2
	c.types[classInteger], c.types[classFloat], c.types[classBoolean] = t.Integer, t.Float, t.Boolean
	c.types[classTimestamp], c.types[classString] = t.Timestamp, t.String
	c.lenMin, c.lenMax, c.lenSum = s.LenMin, s.LenMax, s.LenSum
	c.freq.exact, c.freq.errBound = s.Exact, s.ErrorBound
	for _, vc := range s.Counts {
		if vc.Count <= 0 {
			return nil, fmt.Errorf("state.counts: value %q: count %d not positive", vc.Value, vc.Count)
		}
		c.freq.put(hashString(vc.Value), vc.Value, vc.Count)
	}
	if s.Exact && c.freq.used > c.freq.limit {
		return nil, fmt.Errorf("state.counts: %d exact values exceed exact_limit %d", c.freq.used, c.freq.limit)
	}
	if len(s.HLL) > 0 {
		hll := new(hyperloglog.Sketch)
		if err := hll.UnmarshalBinary(s.HLL); err != nil {
			return nil, fmt.Errorf("state.hll: %w", err)
		}
		c.hll = hll
	} else if !s.Exact {
		return nil, fmt.Errorf("state.hll: missing for inexact counts")
	}
	if err := c.dig.unmarshal(s.TDigest); err != nil {
		return nil, fmt.Errorf("state.tdigest: %w", err)
	}
	// The sketches start when the exact table spills: empty before, and
	// then holding every numeric value.
	if want := map[bool]float64{true: 0, false: float64(s.N)}[s.Exact]; c.dig.total != want {
		return nil, fmt.Errorf("state.tdigest: holds %v values, want %v", c.dig.total, want)
	}
	if s.Hist != nil || s.Edges != nil {
		if len(s.Hist) != len(s.Edges)+1 {
			return nil, fmt.Errorf("state.hist: got %d counts for %d edges", len(s.Hist), len(s.Edges))
		}
		if err := checkEdges(s.Edges); err != nil {
			return nil, fmt.Errorf("state.edges: %w", err)
		}
		c.edges, c.hist = slices.Clone(s.Edges), slices.Clone(s.Hist)
	}
	return c, nil
}

// checkEdges reports edges that are not finite and strictly increasing.
func checkEdges(edges []float64) error {
	for i, e := range edges {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return fmt.Errorf("edge %d is not finite", i)
		}
		if i > 0 && !(edges[i-1] < e) {
			return fmt.Errorf("edges are not strictly increasing at %d", i)
		}
	}
	return nil
}
