package profile

import (
	"fmt"
	"math"
	"slices"
)

// Defaults for the zero fields of [Config].
const (
	DefaultBins        = 10
	DefaultExactLimit  = 1000
	DefaultCounters    = 256
	DefaultCompression = 100
	// DefaultMaxIssues bounds the row issues a profile keeps (BadRows
	// still counts them all).
	DefaultMaxIssues = 100
)

// Config sets the sketch sizes of a [Profile]. The zero value uses the
// defaults above.
type Config struct {
	// Bins is the number of bins of derived histograms; ≤ 0 means
	// DefaultBins.
	Bins int `json:"bins"`
	// Edges fixes the histogram edges (strictly increasing cut points) of
	// the named numeric columns before counting, so that their histogram
	// counts are exact and mergeable; see [EdgesOf].
	Edges map[string][]float64 `json:"-"`
	// ExactLimit is how many distinct values per column are counted
	// exactly before switching to sketches; ≤ 0 means DefaultExactLimit.
	ExactLimit int `json:"exact_limit"`
	// Counters is the size of the Misra–Gries summary of frequent values;
	// ≤ 0 means DefaultCounters.
	Counters int `json:"counters"`
	// Compression is the t-digest compression; < 1 means
	// DefaultCompression.
	Compression float64 `json:"compression"`
}

// Validate reports edges that are not finite and strictly increasing.
func (c Config) Validate() error {
	for name, e := range c.Edges {
		if err := checkEdges(e); err != nil {
			return fmt.Errorf("profile config: edges of column %q: %w", name, err)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Bins <= 0 {
		c.Bins = DefaultBins
	}
	if c.ExactLimit <= 0 {
		c.ExactLimit = DefaultExactLimit
	}
	if c.Counters <= 0 {
		c.Counters = DefaultCounters
	}
	if c.Compression < 1 {
		c.Compression = DefaultCompression
	}
	return c
}

// Issue is a problem found while reading: a skipped row or an unreadable
// file.
type Issue struct {
	// File names the input file.
	File string `json:"file"`
	// Line is the 1-based line of the row, or 0 for the whole file.
	Line int64 `json:"line,omitempty"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
}

func (i Issue) String() string {
	if i.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", i.File, i.Line, i.Reason)
	}
	return fmt.Sprintf("%s: %s", i.File, i.Reason)
}

// Profile is the mergeable profile of a table: its row count and one
// column profile per column, from which the schema is inferred. Build one
// with [New] and [Profile.SetColumns]/[Profile.Add], or with
// [ProfileReader]; combine profiles with [Profile.Merge]. A Profile is not
// safe for concurrent use; even its read methods flush internal buffers.
type Profile struct {
	cfg   Config
	rows  int64
	cols  []*column
	index map[string]*column
	pos   []*column

	// BadRows counts the rows skipped as malformed.
	BadRows int64
	// Issues lists the first DefaultMaxIssues problems found while reading.
	Issues []Issue
}

// New returns an empty profile with the given configuration.
func New(cfg Config) *Profile {
	c := cfg.withDefaults()
	return &Profile{cfg: c, index: make(map[string]*column)}
}

// Config returns the profile's configuration with defaults filled in.
func (p *Profile) Config() Config { return p.cfg }

// Rows returns the number of rows added.
func (p *Profile) Rows() int64 { return p.rows }

// Names returns the column names in order of first appearance.
func (p *Profile) Names() []string {
	out := make([]string, len(p.cols))
	for i, c := range p.cols {
		out[i] = c.name
	}
	return out
}

// SetColumns sets the column names of the values passed to later calls of
// Add, creating the columns not seen before (with every earlier row
// counted as missing). Duplicate names share one column.
func (p *Profile) SetColumns(names []string) {
	p.pos = p.pos[:0]
	for _, n := range names {
		p.pos = append(p.pos, p.column(n))
	}
}

func (p *Profile) column(name string) *column {
	c, ok := p.index[name]
	if !ok {
		c = newColumn(name, &p.cfg)
		p.index[name] = c
		p.cols = append(p.cols, c)
	}
	return c
}

// Add records one row; values[i] belongs to the i-th name of the last
// SetColumns call. Values beyond the names are ignored; columns without a
// value count the row as missing.
func (p *Profile) Add(values []string) {
	p.rows++
	n := min(len(values), len(p.pos))
	for i, v := range values[:n] {
		p.pos[i].add(v)
	}
}

// AddIssue records a skipped row or unreadable file.
func (p *Profile) AddIssue(is Issue) {
	if is.Line > 0 {
		p.BadRows++
	}
	if len(p.Issues) < DefaultMaxIssues {
		p.Issues = append(p.Issues, is)
	}
}

// Merge adds the profile of other rows into p, so that afterwards p is the
// profile of the union of both row sets. Columns are matched by name;
// columns new to p are appended. other is not modified. It returns an error,
// leaving p unchanged, if a column has fixed histogram edges on both sides
// and they differ; a column with fixed edges on one side only loses them
// (its histogram is then derived when read). p keeps its own Config.
func (p *Profile) Merge(o *Profile) error {
	for _, oc := range o.cols {
		if c, ok := p.index[oc.name]; ok {
			if err := c.checkMerge(oc); err != nil {
				return err
			}
		}
	}
	for _, oc := range o.cols {
		if c, ok := p.index[oc.name]; ok {
			c.merge(oc)
			continue
		}
		c := oc.clone(&p.cfg)
		p.index[c.name] = c
		p.cols = append(p.cols, c)
	}
	p.rows += o.rows
	p.BadRows += o.BadRows
	for _, is := range o.Issues {
		if len(p.Issues) < DefaultMaxIssues {
			p.Issues = append(p.Issues, is)
		}
	}
	return nil
}

// Clone returns a deep copy of p.
func (p *Profile) Clone() *Profile {
	q := New(p.cfg)
	q.cfg.Edges = p.cfg.Edges
	if err := q.Merge(p); err != nil {
		panic("profile: clone: " + err.Error()) // an empty profile merges with anything
	}
	return q
}

// EdgesOf returns the histogram edges of every numeric column of a
// reference profile, for [Config.Edges], so that a later profile counts
// the same bins.
func EdgesOf(ref *Profile) map[string][]float64 {
	out := make(map[string][]float64)
	for _, c := range ref.cols {
		if h := c.histogram(ref.cfg.Bins); h != nil {
			out[c.name] = h.Edges
		}
	}
	return out
}

// Type is a column's inferred type.
type Type string

// Column types, in widening order integer → float → string.
const (
	TypeNull      Type = "null"
	TypeInteger   Type = "integer"
	TypeFloat     Type = "float"
	TypeBoolean   Type = "boolean"
	TypeTimestamp Type = "timestamp"
	TypeString    Type = "string"
)

// Kind says whether a column is numeric or categorical.
type Kind string

// Column kinds.
const (
	KindNumeric     Kind = "numeric"
	KindCategorical Kind = "categorical"
	KindNone        Kind = "none"
)

// Field is the inferred schema of one column.
type Field struct {
	// Name is the column name.
	Name string `json:"name"`
	// Type is the widened type of its present values.
	Type Type `json:"type"`
	// Unit is "iso8601", "epoch_s" or "epoch_ms" for timestamps.
	Unit string `json:"unit,omitempty"`
	// Nullable reports at least one missing value.
	Nullable bool `json:"nullable"`
	// Kind is numeric for integer, float and timestamp columns and
	// categorical for boolean and string ones.
	Kind Kind `json:"kind"`
	// PossiblyCategorical flags a numeric column with few distinct values
	// (at most 20, or at most 1% of at least 100 values).
	PossiblyCategorical bool `json:"possibly_categorical,omitempty"`
}

// Schema is the inferred schema of a table.
type Schema struct {
	// Fields lists the columns in order of first appearance.
	Fields []Field `json:"fields"`
}

// Unify returns the schema of the union of two tables: fields matched by
// name, types widened, nullability or-ed; fields of only one side become
// nullable. Kind and PossiblyCategorical follow the widened type, so
// PossiblyCategorical is kept only if both sides have it.
func (s Schema) Unify(o Schema) Schema {
	out := Schema{Fields: slices.Clone(s.Fields)}
	at := make(map[string]int, len(out.Fields))
	for i, f := range out.Fields {
		at[f.Name] = i
	}
	seen := make(map[string]bool)
	for _, f := range o.Fields {
		seen[f.Name] = true
		i, ok := at[f.Name]
		if !ok {
			f.Nullable = true
			out.Fields = append(out.Fields, f)
			continue
		}
		g := &out.Fields[i]
		g.Type = widen(g.Type, f.Type)
		if g.Unit != f.Unit {
			g.Unit = ""
		}
		if g.Type == TypeTimestamp && g.Unit == "" {
			g.Type = TypeString
		}
		g.Nullable = g.Nullable || f.Nullable
		g.Kind = kindOf(g.Type)
		g.PossiblyCategorical = g.PossiblyCategorical && f.PossiblyCategorical && g.Kind == KindNumeric
	}
	for i := range out.Fields[:len(s.Fields)] {
		if !seen[out.Fields[i].Name] {
			out.Fields[i].Nullable = true
		}
	}
	return out
}

// widen returns the least upper bound of two types.
func widen(a, b Type) Type {
	switch {
	case a == b:
		return a
	case a == TypeNull:
		return b
	case b == TypeNull:
		return a
	case (a == TypeInteger || a == TypeFloat) && (b == TypeInteger || b == TypeFloat):
		return TypeFloat
	}
	return TypeString
}

func kindOf(t Type) Kind {
	switch t {
	case TypeInteger, TypeFloat, TypeTimestamp:
		return KindNumeric
	case TypeBoolean, TypeString:
		return KindCategorical
	}
	return KindNone
}

// Schema returns the inferred schema.
func (p *Profile) Schema() Schema {
	s := Schema{Fields: make([]Field, len(p.cols))}
	for i, c := range p.cols {
		s.Fields[i] = c.field(p.rows)
	}
	return s
}

// field infers the column's schema; rows is the table's row count.
func (c *column) field(rows int64) Field {
	f := Field{Name: c.name, Nullable: c.present < rows}
	t := c.types
	switch {
	case c.present == 0:
		f.Type = TypeNull
	case t[classString] > 0:
		f.Type = TypeString
	case t[classBoolean] > 0:
		f.Type = TypeBoolean
		if t[classBoolean] < c.present {
			f.Type = TypeString
		}
	case t[classTimestamp] > 0:
		f.Type, f.Unit = TypeTimestamp, "iso8601"
		if t[classTimestamp] < c.present {
			f.Type, f.Unit = TypeString, ""
		}
	case t[classFloat] > 0:
		f.Type = TypeFloat
	default:
		f.Type = TypeInteger
	}
	if (f.Type == TypeInteger || f.Type == TypeFloat) && epochName(c.name) {
		switch {
		case c.min >= epochLo && c.max < epochHi:
			f.Type, f.Unit = TypeTimestamp, "epoch_s"
		case c.min >= epochLo*1000 && c.max < epochHi*1000:
			f.Type, f.Unit = TypeTimestamp, "epoch_ms"
		}
	}
	f.Kind = kindOf(f.Type)
	if f.Kind == KindNumeric && f.Type != TypeTimestamp {
		d, _ := c.distinct()
		f.PossiblyCategorical = d <= 20 || (c.present >= 100 && float64(d) <= 0.01*float64(c.present))
	}
	return f
}

// distinct returns the number of distinct present values and whether it
// is exact.
func (c *column) distinct() (int64, bool) {
	if c.freq.exact || c.hll == nil {
		return int64(c.freq.used), true
	}
	return int64(c.hll.Estimate()), false
}

// Histogram is a column's value counts on bins. Bin i holds the values v
// with Edges[i-1] ≤ v < Edges[i]; the first and last bins are open-ended,
// so there are len(Edges)+1 counts (the drift package's convention).
type Histogram struct {
	// Edges are the strictly increasing cut points.
	Edges []float64 `json:"edges"`
	// Counts holds len(Edges)+1 counts.
	Counts []int64 `json:"counts"`
	// Fixed reports edges fixed before counting: the counts are exact and
	// merge exactly.
	Fixed bool `json:"fixed,omitempty"`
	// Estimated reports counts estimated from the t-digest (derived edges
	// on a column with too many distinct values to count exactly).
	Estimated bool `json:"estimated,omitempty"`
}

// histogram returns the column's histogram (nil without numeric values).
func (c *column) histogram(bins int) *Histogram {
	if c.hist != nil {
		return &Histogram{Edges: slices.Clone(c.edges), Counts: slices.Clone(c.hist), Fixed: true}
	}
	if c.n == 0 {
		return nil
	}
	if vals, counts, ok := c.numericValues(); ok {
		var edges []float64
		if len(vals) <= bins {
			for _, u := range vals {
				if len(edges) == 0 || u > edges[len(edges)-1] {
					edges = append(edges, u)
				}
				edges = append(edges, math.Nextafter(u, math.Inf(1)))
			}
		} else {
			for j := 1; j < bins; j++ {
				q := exactQuantile(vals, counts, float64(j)/float64(bins))
				if len(edges) == 0 || q > edges[len(edges)-1] {
					edges = append(edges, q)
				}
			}
		}
		h := &Histogram{Edges: edges, Counts: make([]int64, len(edges)+1)}
		for i, v := range vals {
			h.Counts[binOf(edges, v)] += counts[i]
		}
		return h
	}
	var edges []float64
	for j := 1; j < bins; j++ {
		q := c.dig.quantile(float64(j) / float64(bins))
		if len(edges) == 0 || q > edges[len(edges)-1] {
			edges = append(edges, q)
		}
	}
	h := &Histogram{Edges: edges, Counts: make([]int64, len(edges)+1), Estimated: true}
	n := float64(c.n)
	var prev float64
	var assigned int64
	for i, e := range edges {
		cum := math.Round(n * c.dig.cdf(math.Nextafter(e, math.Inf(-1))))
		h.Counts[i] = int64(max(0, cum-prev))
		assigned += h.Counts[i]
		prev = max(prev, cum)
	}
	h.Counts[len(edges)] = max(0, c.n-assigned)
	return h
}
