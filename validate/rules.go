package validate

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/drift"
	"github.com/loopml/loopml/profile"
)

// MaxRulesSize bounds the size of a rules file read by [Load].
const MaxRulesSize = 1 << 20

// Rules are the expectations of a dataset, as loaded from YAML by [Load].
// The zero value has no rule and every table passes it.
type Rules struct {
	// Name labels the rules file in error messages.
	Name string `json:"name,omitempty"`
	// Files optionally selects the files of a dataset version the rules
	// apply to: glob patterns (path.Match) on the file's path within the
	// version or on its base name. Empty means every tabular file. Check
	// and CheckFiles ignore it: the caller selects (see [Rules.Selects]).
	Files []string `json:"files,omitempty"`
	// Reference optionally names the dataset version drift rules compare
	// against (for example "ratings@3"); the caller resolves it and passes
	// its profile as [Options.Reference].
	Reference string `json:"reference,omitempty"`
	// RowCount bounds the number of rows.
	RowCount *CountRange `json:"row_count,omitempty"`
	// RequiredColumns must all be present.
	RequiredColumns []string `json:"required_columns,omitempty"`
	// Freshness bounds the age of the newest timestamp of a column.
	Freshness *Freshness `json:"freshness,omitempty"`
	// Columns holds the per-column rules in file order.
	Columns []ColumnRules `json:"columns,omitempty"`
}

// CountRange bounds a count; a nil bound is open.
type CountRange struct {
	Min *int64 `json:"min,omitempty"`
	Max *int64 `json:"max,omitempty"`
}

// Freshness requires the newest value of a timestamp column to be at most
// MaxAge older than [Options.Now].
type Freshness struct {
	Column string        `json:"column"`
	MaxAge time.Duration `json:"max_age"`
}

// ColumnRules are the rules of one column. Every set field is one rule.
type ColumnRules struct {
	// Name is the column name.
	Name string `json:"name"`
	// Type, if set, is the type the inferred column type must widen to
	// (an integer column satisfies float; anything satisfies string; an
	// epoch timestamp column also satisfies integer or float).
	Type profile.Type `json:"type,omitempty"`
	// NotNull forbids missing values.
	NotNull bool `json:"not_null,omitempty"`
	// Min and Max bound the numeric values (inclusive); a present value
	// that is not a number violates them.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Step requires every numeric value to be Min (or 0) plus a whole
	// multiple of Step.
	Step *float64 `json:"step,omitempty"`
	// Allowed lists the permitted values, compared by text or, when both
	// sides are numbers, by value.
	Allowed []string `json:"allowed,omitempty"`
	// Unique forbids two equal present values (compared by text).
	Unique bool `json:"unique,omitempty"`
	// MaxMissingFraction bounds the fraction of missing values.
	MaxMissingFraction *float64 `json:"max_missing_fraction,omitempty"`
	// Drift bounds the drift from the reference profile.
	Drift *DriftRule `json:"drift,omitempty"`
}

// DriftRule bounds a drift statistic against the reference profile: the
// rule fails when the statistic exceeds Threshold.
type DriftRule struct {
	// Method is drift.MethodPSI or drift.MethodJensenShannon; empty means
	// PSI for numeric columns and Jensen–Shannon for categorical ones.
	Method drift.Method `json:"method,omitempty"`
	// Threshold is the largest accepted statistic.
	Threshold float64 `json:"threshold"`
}

// Load reads a YAML rules file (see the package documentation for the
// format). name labels the file in errors, which are EINVALID and name the
// line and the key at fault.
func Load(r io.Reader, name string) (*Rules, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxRulesSize+1))
	if err != nil {
		return nil, loopml.WrapError(loopml.EINVALID, err, "rules %s: read: %v", name, err)
	}
	if len(data) > MaxRulesSize {
		return nil, loopml.Errorf(loopml.EINVALID, "rules %s: larger than %d bytes", name, MaxRulesSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "rules %s: %v", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	p := &loader{name: name}
	rules := &Rules{Name: name}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return rules, nil // an empty file has no rules
	}
	root := doc.Content[0]
	if err := p.rules(root, rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// Selects reports whether the rules apply to the file at slash-separated
// path p: Files is empty, or one of its patterns matches p or p's base
// name.
func (r *Rules) Selects(p string) bool {
	if len(r.Files) == 0 {
		return true
	}
	for _, pat := range r.Files {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
		if ok, _ := path.Match(pat, path.Base(p)); ok {
			return true
		}
	}
	return false
}

type loader struct{ name string }

func (p *loader) errf(n *yaml.Node, format string, args ...any) error {
	return loopml.Errorf(loopml.EINVALID, "rules %s:%d: %s", p.name, n.Line, fmt.Sprintf(format, args...))
}

// mapping calls f for each key of a mapping node, rejecting keys not in
// known and duplicate keys.
func (p *loader) mapping(n *yaml.Node, where string, known []string, f func(key string, k, v *yaml.Node) error) error {
	if n.Kind == yaml.AliasNode {
		return p.errf(n, "%s: aliases are not supported", where)
	}
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "%s: want a mapping, got %s", where, kindName(n))
	}
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return p.errf(k, "%s: keys must be plain strings", where)
		}
		if v.Kind == yaml.AliasNode {
			return p.errf(v, "%s.%s: aliases are not supported", where, k.Value)
		}
		if known != nil && !slices.Contains(known, k.Value) {
			return p.errf(k, "%s: unknown key %q (want one of %s)", where, k.Value, strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return p.errf(k, "%s: duplicate key %q", where, k.Value)
		}
		seen[k.Value] = true
		if err := f(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func (p *loader) scalar(n *yaml.Node, where string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.errf(n, "%s: want a value, got %s", where, kindName(n))
	}
	return n.Value, nil
}

func (p *loader) str(n *yaml.Node, where string) (string, error) {
	s, err := p.scalar(n, where)
	if err == nil && strings.TrimSpace(s) == "" {
		err = p.errf(n, "%s: must not be empty", where)
	}
	return s, err
}

func (p *loader) number(n *yaml.Node, where string) (float64, error) {
	s, err := p.scalar(n, where)
	if err != nil {
		return 0, err
	}
	if n.Tag != "!!int" && n.Tag != "!!float" {
		return 0, p.errf(n, "%s: want a number, got %q", where, s)
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, p.errf(n, "%s: want a finite number, got %q", where, s)
	}
	return v, nil
}

func (p *loader) count(n *yaml.Node, where string) (int64, error) {
	s, err := p.scalar(n, where)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if n.Tag != "!!int" || err != nil || v < 0 {
		return 0, p.errf(n, "%s: want a non-negative integer, got %q", where, s)
	}
	return v, nil
}

func (p *loader) boolean(n *yaml.Node, where string) (bool, error) {
	s, err := p.scalar(n, where)
	if err != nil {
		return false, err
	}
	if n.Tag != "!!bool" {
		return false, p.errf(n, "%s: want true or false, got %q", where, s)
	}
	return s == "true" || s == "True" || s == "TRUE", nil
}

func (p *loader) list(n *yaml.Node, where string) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "%s: want a list, got %s", where, kindName(n))
	}
	if len(n.Content) == 0 {
		return nil, p.errf(n, "%s: must not be empty", where)
	}
	out := make([]string, 0, len(n.Content))
	for i, e := range n.Content {
		s, err := p.scalar(e, fmt.Sprintf("%s[%d]", where, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *loader) rules(n *yaml.Node, r *Rules) error {
	known := []string{"files", "reference", "row_count", "required_columns", "freshness", "columns"}
	return p.mapping(n, "rules", known, func(key string, k, v *yaml.Node) error {
		var err error
		switch key {
		case "files":
			if r.Files, err = p.list(v, key); err == nil {
				for i, pat := range r.Files {
					if _, perr := path.Match(pat, ""); perr != nil {
						return p.errf(v.Content[i], "files[%d]: bad pattern %q", i, pat)
					}
				}
			}
		case "reference":
			r.Reference, err = p.str(v, key)
		case "row_count":
			r.RowCount = &CountRange{}
			err = p.mapping(v, key, []string{"min", "max"}, func(key string, _, v *yaml.Node) error {
				c, err := p.count(v, "row_count."+key)
				if key == "min" {
					r.RowCount.Min = &c
				} else {
					r.RowCount.Max = &c
				}
				return err
			})
			if err == nil && r.RowCount.Min != nil && r.RowCount.Max != nil && *r.RowCount.Min > *r.RowCount.Max {
				err = p.errf(v, "row_count: min %d is above max %d", *r.RowCount.Min, *r.RowCount.Max)
			}
		case "required_columns":
			r.RequiredColumns, err = p.list(v, key)
		case "freshness":
			err = p.freshness(v, r)
		case "columns":
			err = p.mapping(v, key, nil, func(name string, k, v *yaml.Node) error {
				c := ColumnRules{Name: name}
				if strings.TrimSpace(name) == "" {
					return p.errf(k, "columns: empty column name")
				}
				if err := p.column(v, &c); err != nil {
					return err
				}
				r.Columns = append(r.Columns, c)
				return nil
			})
		}
		return err
	})
}

func (p *loader) freshness(n *yaml.Node, r *Rules) error {
	f := &Freshness{}
	err := p.mapping(n, "freshness", []string{"column", "max_age"}, func(key string, _, v *yaml.Node) error {
		s, err := p.str(v, "freshness."+key)
		if err != nil {
			return err
		}
		if key == "column" {
			f.Column = s
			return nil
		}
		f.MaxAge, err = ParseAge(s)
		if err != nil {
			return p.errf(v, "freshness.max_age: %v", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if f.Column == "" || f.MaxAge == 0 {
		return p.errf(n, "freshness: needs both column and max_age")
	}
	r.Freshness = f
	return nil
}

// typeNames maps the accepted type names to profile types.
var typeNames = map[string]profile.Type{
	"integer": profile.TypeInteger, "int": profile.TypeInteger, "long": profile.TypeInteger,
	"float": profile.TypeFloat, "double": profile.TypeFloat, "number": profile.TypeFloat,
	"boolean": profile.TypeBoolean, "bool": profile.TypeBoolean,
	"timestamp": profile.TypeTimestamp, "datetime": profile.TypeTimestamp,
	"string": profile.TypeString, "str": profile.TypeString, "text": profile.TypeString,
}

func (p *loader) column(n *yaml.Node, c *ColumnRules) error {
	where := "columns." + c.Name
	known := []string{"type", "not_null", "min", "max", "step", "allowed", "unique", "max_missing_fraction", "drift"}
	err := p.mapping(n, where, known, func(key string, _, v *yaml.Node) error {
		w := where + "." + key
		var err error
		num := func() *float64 {
			var x float64
			x, err = p.number(v, w)
			return &x
		}
		switch key {
		case "type":
			var s string
			if s, err = p.str(v, w); err == nil {
				t, ok := typeNames[strings.ToLower(s)]
				if !ok {
					return p.errf(v, "%s: unknown type %q (want integer, float, boolean, timestamp or string)", w, s)
				}
				c.Type = t
			}
		case "not_null":
			c.NotNull, err = p.boolean(v, w)
		case "unique":
			c.Unique, err = p.boolean(v, w)
		case "min":
			c.Min = num()
		case "max":
			c.Max = num()
		case "step":
			if c.Step = num(); err == nil && *c.Step <= 0 {
				err = p.errf(v, "%s: must be positive", w)
			}
		case "allowed":
			c.Allowed, err = p.list(v, w)
		case "max_missing_fraction":
			if c.MaxMissingFraction = num(); err == nil && (*c.MaxMissingFraction < 0 || *c.MaxMissingFraction > 1) {
				err = p.errf(v, "%s: must be between 0 and 1", w)
			}
		case "drift":
			c.Drift, err = p.drift(v, w)
		}
		return err
	})
	if err != nil {
		return err
	}
	if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
		return p.errf(n, "%s: min %v is above max %v", where, *c.Min, *c.Max)
	}
	return nil
}

func (p *loader) drift(n *yaml.Node, where string) (*DriftRule, error) {
	d := &DriftRule{}
	var set int
	var explicit drift.Method
	err := p.mapping(n, where, []string{"max_psi", "max_js", "method", "threshold"}, func(key string, _, v *yaml.Node) error {
		w := where + "." + key
		if key == "method" {
			s, err := p.str(v, w)
			if err != nil {
				return err
			}
			switch strings.ToLower(s) {
			case "psi":
				explicit = drift.MethodPSI
			case "js", "jensenshannon", "jensen-shannon":
				explicit = drift.MethodJensenShannon
			default:
				return p.errf(v, "%s: unknown method %q (want psi or js)", w, s)
			}
			return nil
		}
		x, err := p.number(v, w)
		if err != nil {
			return err
		}
		if x <= 0 {
			return p.errf(v, "%s: must be positive", w)
		}
		set++
		d.Threshold = x
		switch key {
		case "max_psi":
			d.Method = drift.MethodPSI
		case "max_js":
			d.Method = drift.MethodJensenShannon
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if set > 1 || explicit != "" && d.Method != "" && explicit != d.Method {
		return nil, p.errf(n, "%s: give one of max_psi, max_js or method with threshold", where)
	}
	if explicit != "" {
		d.Method = explicit
	}
	if d.Threshold == 0 {
		d.Threshold = drift.DefaultDistanceThreshold
	}
	return d, nil
}

var errAge = errors.New(`want a duration such as 90s, 15m, 12h, 30d or 2w`)

// ParseAge parses a positive age: a decimal number followed by s, m, h, d
// (24 h) or w (7 d), or any time.ParseDuration string.
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return 0, fmt.Errorf("%q: %w", s, errAge)
		}
		return d, nil
	}
	if len(s) < 2 {
		return 0, fmt.Errorf("%q: %w", s, errAge)
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	v, err := strconv.ParseFloat(s[:len(s)-1], 64)
	if unit == 0 || err != nil || !(v > 0) || v*float64(unit) > math.MaxInt64/2 || strings.ContainsAny(s, "eEinIN_xXpP") {
		return 0, fmt.Errorf("%q: %w", s, errAge)
	}
	return time.Duration(v * float64(unit)), nil
}
