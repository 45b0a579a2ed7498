package validate

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/drift"
	"github.com/loopml/loopml/profile"
)

// Defaults for the zero fields of [Options].
const (
	// DefaultMaxExamples is how many offending rows a result keeps.
	DefaultMaxExamples = 5
	// DefaultUniqueLimit is how many distinct values per column a unique
	// rule tracks (about 20 bytes each): 4M values, roughly 80 MiB.
	DefaultUniqueLimit = 1 << 22
)

// Options configures [Check] and [CheckFiles]. The zero value checks
// against the current time, keeps DefaultMaxExamples examples and has no
// reference profile (drift rules are then an error).
type Options struct {
	// Now is the time freshness is measured from; zero means time.Now().
	Now time.Time
	// Reference is the profile drift rules compare against. Check only
	// reads it, but reading a profile is not safe concurrently with other
	// uses of it.
	Reference *profile.Profile
	// MaxExamples bounds the example rows per result; 0 means
	// DefaultMaxExamples, negative means none.
	MaxExamples int
	// UniqueLimit bounds the distinct values a unique rule tracks per
	// column; 0 means DefaultUniqueLimit. A column with more distinct
	// values fails its unique rule with a message saying it could not be
	// checked: a gate must not pass unchecked data.
	UniqueLimit int
	// Format overrides the format chosen by file extension.
	Format profile.Format
	// Workers is the number of profiling goroutines (see profile.Options).
	Workers int
	// Logger receives debug records; nil discards.
	Logger *slog.Logger
}

// tally counts the violations of one row-level rule and keeps examples.
type tally struct {
	n  int64
	ex []Example
}

// colCheck is the streaming state of one column's row-level rules.
type colCheck struct {
	rule *ColumnRules
	idx  int // index in the current source's columns, -1 if absent

	allowedText map[string]bool
	allowedNum  map[float64]bool

	missing, badType, below, above, offStep, notAllowed, dup tally
	nonNumeric                                               int64
	numMin, numMax                                           float64
	numbers                                                  int64

	seen     map[uint64]uint64 // value hash → packed position first seen (unique)
	overflow bool
}

// checker holds the state of one Check across its sources.
type checker struct {
	rules   *Rules
	opts    Options
	maxEx   int
	cols    []*colCheck
	seed    maphash.Seed
	prof    *profile.Profile
	files   []string
	names   []string // every source started; unique positions pack an index into it (16 bits) and a line (48 bits)
	perFile map[string]*profile.Profile
	popts   profile.Options
	numeric map[string]bool // reference kind per drift column
}

// Check validates the rows of src (named name in examples) against rules
// in one streaming pass and returns the report. The error is non-nil only
// when the check could not run (unreadable input, a drift rule without a
// reference profile, cancellation); a failed validation is a report with
// Passed false (see [Report.Err]).
func Check(ctx context.Context, rules *Rules, src profile.Source, name string, opts Options) (*Report, error) {
	c, err := newChecker(rules, opts)
	if err != nil {
		return nil, err
	}
	if err := c.source(ctx, src, name); err != nil {
		return nil, err
	}
	return c.report(), nil
}

// CheckFiles validates CSV, TSV or JSON Lines files (gzip allowed) as one
// table, in one streaming pass over each; see [Check]. A file that cannot
// be opened or read is an error.
func CheckFiles(ctx context.Context, rules *Rules, paths []string, opts Options) (*Report, error) {
	c, err := newChecker(rules, opts)
	if err != nil {
		return nil, err
	}
	for _, path := range paths {
		if err := c.file(ctx, path); err != nil {
			return nil, err
		}
	}
	return c.report(), nil
}

func newChecker(rules *Rules, opts Options) (*checker, error) {
	if rules == nil {
		rules = &Rules{}
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.UniqueLimit <= 0 {
		opts.UniqueLimit = DefaultUniqueLimit
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &checker{rules: rules, opts: opts, maxEx: opts.MaxExamples, seed: maphash.MakeSeed(), numeric: map[string]bool{}}
	if c.maxEx == 0 {
		c.maxEx = DefaultMaxExamples
	}
	c.maxEx = max(c.maxEx, 0)
	cfg := profile.Config{}
	var driftCols []string
	for i := range rules.Columns {
		cr := &rules.Columns[i]
		cc := &colCheck{rule: cr, idx: -1, numMin: math.Inf(1), numMax: math.Inf(-1)}
		if len(cr.Allowed) > 0 {
			cc.allowedText, cc.allowedNum = map[string]bool{}, map[float64]bool{}
			for _, a := range cr.Allowed {
				cc.allowedText[a] = true
				if v, ok := number(trim(a)); ok {
					cc.allowedNum[v] = true
				}
			}
		}
		if cr.Unique {
			cc.seen = map[uint64]uint64{}
		}
		if cr.Drift != nil {
			driftCols = append(driftCols, cr.Name)
		}
		c.cols = append(c.cols, cc)
	}
	if len(driftCols) > 0 {
		if opts.Reference == nil {
			return nil, loopml.Errorf(loopml.EINVALID, "rules %s: drift rules on %s need a reference profile", rules.Name, strings.Join(driftCols, ", "))
		}
		// Count the current numeric columns on the reference's bins.
		edges := profile.EdgesOf(opts.Reference)
		cfg.Edges = map[string][]float64{}
		for _, n := range driftCols {
			f, ok := opts.Reference.Column(n)
			if ok && f.Kind == profile.KindNumeric {
				c.numeric[n] = true
				if e, ok := edges[n]; ok {
					cfg.Edges[n] = e
				}
			}
		}
	}
	c.popts = profile.Options{Config: cfg, Format: opts.Format, Workers: opts.Workers, Logger: opts.Logger}
	c.prof = profile.New(cfg)
	return c, nil
}

func (c *checker) file(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "validate %s: %v", path, err)
	}
	defer f.Close()
	rd, err := profile.NewReader(f, path, c.opts.Format)
	if err != nil {
		return loopml.WrapError(loopml.EINVALID, err, "validate %s: %v", path, err)
	}
	err = c.source(ctx, rd, path)
	if cerr := rd.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("validate %s: %w", path, cerr)
	}
	return err
}

// source checks one row source and merges its profile.
func (c *checker) source(ctx context.Context, src profile.Source, name string) error {
	c.names = append(c.names, name)
	t := &tee{c: c, src: src, name: name, next: 2}
	if len(src.Columns()) == 0 {
		t.next = 1 // JSON Lines (or an empty CSV): no header line
	}
	if ls, ok := src.(interface{ Line() int64 }); ok {
		t.lineOf = ls
	}
	p, err := profile.ProfileSource(ctx, t, name, c.popts)
	if err != nil {
		return err
	}
	c.files = append(c.files, name)
	if c.perFile == nil {
		c.perFile = map[string]*profile.Profile{}
	}
	c.perFile[name] = p
	return c.prof.Merge(p)
}

// tee evaluates the row-level rules on every row it passes on to the
// profiler; ProfileSource calls Read from a single goroutine.
type tee struct {
	c      *checker
	src    profile.Source
	name   string
	ncols  int
	row    int64
	next   int64 // line of the next row, counted from the rows read
	lineOf interface{ Line() int64 }
}

func (t *tee) Columns() []string { return t.src.Columns() }

func (t *tee) Read() ([]string, error) {
	vals, err := t.src.Read()
	if err != nil {
		var re *profile.RowError
		if errors.As(err, &re) && re.Line > 0 {
			t.next = re.Line + 1
		}
		return vals, err
	}
	t.row++
	line := t.next
	if t.lineOf != nil {
		line = t.lineOf.Line()
	}
	t.next = line + 1
	for _, v := range vals {
		t.next += int64(strings.Count(v, "\n"))
	}
	if cols := t.src.Columns(); len(cols) != t.ncols {
		t.ncols = len(cols)
		t.c.resolve(cols)
	}
	t.c.row(vals, t.src.Columns(), t.name, line, t.row)
	return vals, nil
}

// resolve finds each rule column in the source's column list.
func (c *checker) resolve(cols []string) {
	for _, cc := range c.cols {
		cc.idx = -1
		for i, n := range cols {
			if n == cc.rule.Name {
				cc.idx = i
				break
			}
		}
	}
}

// row applies the row-level rules to one row.
func (c *checker) row(vals, cols []string, file string, line, rowNum int64) {
	example := func(t *tally, value, note string) {
		t.n++
		if len(t.ex) >= c.maxEx {
			return
		}
		m := make(map[string]string, len(vals))
		for i, v := range vals {
			m[cols[i]] = v
		}
		t.ex = append(t.ex, Example{File: file, Line: line, Row: rowNum, Value: value, Values: m, Note: note})
	}
	for _, cc := range c.cols {
		var raw string
		if cc.idx >= 0 && cc.idx < len(vals) {
			raw = vals[cc.idx]
		}
		s := trim(raw)
		if isMissing(s) {
			example(&cc.missing, raw, "")
			continue
		}
		r := cc.rule
		if r.Type != "" {
			if got := cellType(s); !fits(got, r.Type) && !(r.Type == profile.TypeTimestamp && (got == profile.TypeInteger || got == profile.TypeFloat)) {
				example(&cc.badType, raw, "a "+string(got))
			}
		}
		if r.Min != nil || r.Max != nil || r.Step != nil {
			v, ok := number(s)
			switch {
			case !ok:
				cc.nonNumeric++
				if r.Min != nil {
					example(&cc.below, raw, "not a number")
				}
				if r.Max != nil {
					example(&cc.above, raw, "not a number")
				}
				if r.Step != nil {
					example(&cc.offStep, raw, "not a number")
				}
			default:
				cc.numbers++
				cc.numMin, cc.numMax = min(cc.numMin, v), max(cc.numMax, v)
				if r.Min != nil && v < *r.Min {
					example(&cc.below, raw, "")
				}
				if r.Max != nil && v > *r.Max {
					example(&cc.above, raw, "")
				}
				if r.Step != nil && !onStep(v, r) {
					example(&cc.offStep, raw, "")
				}
			}
		}
		if cc.allowedText != nil && !cc.allowedText[s] {
			v, ok := number(s)
			if !ok || !cc.allowedNum[v] {
				example(&cc.notAllowed, raw, "")
			}
		}
		if cc.seen != nil && !cc.overflow {
			h := maphash.String(c.seed, s)
			if first, dup := cc.seen[h]; dup {
				example(&cc.dup, raw, fmt.Sprintf("first seen at %s:%d", c.names[first>>48], first&(1<<48-1)))
			} else if len(cc.seen) >= c.opts.UniqueLimit {
				cc.overflow = true
			} else {
				cc.seen[h] = uint64(len(c.names)-1)<<48 | uint64(line)&(1<<48-1)
			}
		}
	}
}

// onStep reports whether v is base + k·step for a whole k, to a relative
// tolerance of 1e-9.
func onStep(v float64, r *ColumnRules) bool {
	base := 0.0
	if r.Min != nil {
		base = *r.Min
	}
	k := (v - base) / *r.Step
	return math.Abs(k-math.Round(k)) <= 1e-9*max(1, math.Abs(k))
}

// num formats a number compactly.
func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// report evaluates the dataset-level rules on the merged profile and
// assembles the report.
func (c *checker) report() *Report {
	p := c.prof
	rep := &Report{Rules: c.rules.Name, Files: append([]string{}, c.files...), Rows: p.Rows(), BadRows: p.BadRows, Issues: p.Issues,
		CheckedAt: c.opts.Now.UTC(), Profile: p, FileProfiles: c.perFile, Results: []Result{}}
	add := func(res Result) {
		if !res.Passed && res.Violations == 0 {
			res.Violations = 1
		}
		rep.Results = append(rep.Results, res)
	}
	names := map[string]bool{}
	for _, n := range p.Names() {
		names[n] = true
	}
	if rc := c.rules.RowCount; rc != nil {
		n := p.Rows()
		ok := (rc.Min == nil || n >= *rc.Min) && (rc.Max == nil || n <= *rc.Max)
		exp := boundsText("rows", rc.Min, rc.Max)
		add(Result{Rule: RuleRowCount, Passed: ok, Observed: fmt.Sprintf("%d rows", n), Expected: exp,
			Message: fmt.Sprintf("row_count: %d rows, want %s", n, exp)})
	}
	for _, n := range c.rules.RequiredColumns {
		ok := names[n]
		obs := "present"
		if !ok {
			obs = "absent"
		}
		add(Result{Rule: RuleRequiredColumns, Column: n, Passed: ok, Observed: obs, Expected: "present",
			Message: fmt.Sprintf("required column %q is %s", n, obs)})
	}
	if f := c.rules.Freshness; f != nil {
		add(c.freshness(f))
	}
	for _, cc := range c.cols {
		r := cc.rule
		sum, ok := p.Column(r.Name)
		if !ok {
			add(Result{Rule: RuleColumn, Column: r.Name, Passed: false, Observed: "absent", Expected: "present",
				Message: fmt.Sprintf("column %q has rules but is absent", r.Name)})
			continue
		}
		rows := p.Rows()
		if r.Type != "" {
			// An epoch timestamp column also has its numeric storage type.
			stored := sum.Type
			if strings.HasPrefix(sum.Unit, "epoch") {
				stored = profile.TypeInteger
				if sum.Types.Float > 0 {
					stored = profile.TypeFloat
				}
			}
			res := Result{Rule: RuleType, Column: r.Name, Passed: fits(sum.Type, r.Type) || fits(stored, r.Type),
				Observed: string(sum.Type), Expected: string(r.Type)}
			if sum.Unit != "" {
				res.Observed += " (" + sum.Unit + ")"
			}
			res.Message = fmt.Sprintf("column %q has type %s, want %s", r.Name, res.Observed, r.Type)
			if !res.Passed {
				res.Violations, res.Examples = cc.badType.n, cc.badType.ex
			}
			add(res)
		}
		if r.NotNull {
			add(Result{Rule: RuleNotNull, Column: r.Name, Passed: cc.missing.n == 0,
				Observed: fmt.Sprintf("%d missing values", cc.missing.n), Expected: "0 missing values",
				Violations: cc.missing.n, Examples: cc.missing.ex,
				Message: fmt.Sprintf("column %q has %d missing values, want none", r.Name, cc.missing.n)})
		}
		observedRange := fmt.Sprintf("no numbers (%d values not numeric)", cc.nonNumeric)
		if cc.numbers > 0 {
			observedRange = fmt.Sprintf("min %s, max %s", num(cc.numMin), num(cc.numMax))
			if cc.nonNumeric > 0 {
				observedRange += fmt.Sprintf(", %d values not numeric", cc.nonNumeric)
			}
		}
		if r.Min != nil {
			add(Result{Rule: RuleMin, Column: r.Name, Passed: cc.below.n == 0, Observed: observedRange,
				Expected: "values ≥ " + num(*r.Min), Violations: cc.below.n, Examples: cc.below.ex,
				Message: fmt.Sprintf("column %q has %d values below %s or not numeric (%s)", r.Name, cc.below.n, num(*r.Min), observedRange)})
		}
		if r.Max != nil {
			add(Result{Rule: RuleMax, Column: r.Name, Passed: cc.above.n == 0, Observed: observedRange,
				Expected: "values ≤ " + num(*r.Max), Violations: cc.above.n, Examples: cc.above.ex,
				Message: fmt.Sprintf("column %q has %d values above %s or not numeric (%s)", r.Name, cc.above.n, num(*r.Max), observedRange)})
		}
		if r.Step != nil {
			base := "0"
			if r.Min != nil {
				base = num(*r.Min)
			}
			exp := fmt.Sprintf("values %s + k·%s", base, num(*r.Step))
			add(Result{Rule: RuleStep, Column: r.Name, Passed: cc.offStep.n == 0, Observed: fmt.Sprintf("%d values off the step", cc.offStep.n),
				Expected: exp, Violations: cc.offStep.n, Examples: cc.offStep.ex,
				Message: fmt.Sprintf("column %q has %d values that are not %s", r.Name, cc.offStep.n, exp)})
		}
		if cc.allowedText != nil {
			exp := "one of " + strings.Join(r.Allowed, ", ")
			add(Result{Rule: RuleAllowed, Column: r.Name, Passed: cc.notAllowed.n == 0, Observed: fmt.Sprintf("%d values not allowed", cc.notAllowed.n),
				Expected: exp, Violations: cc.notAllowed.n, Examples: cc.notAllowed.ex,
				Message: fmt.Sprintf("column %q has %d values that are not %s", r.Name, cc.notAllowed.n, exp)})
		}
		if r.Unique {
			res := Result{Rule: RuleUnique, Column: r.Name, Passed: cc.dup.n == 0 && !cc.overflow,
				Observed: fmt.Sprintf("%d duplicate values", cc.dup.n), Expected: "no duplicates",
				Violations: cc.dup.n, Examples: cc.dup.ex,
				Message: fmt.Sprintf("column %q has %d duplicate values", r.Name, cc.dup.n)}
			if cc.overflow {
				res.Observed = fmt.Sprintf("more than %d distinct values, %d duplicates among them", c.opts.UniqueLimit, cc.dup.n)
				res.Message = fmt.Sprintf("column %q has more than %d distinct values: uniqueness not checked (raise the unique limit)", r.Name, c.opts.UniqueLimit)
			}
			add(res)
		}
		if r.MaxMissingFraction != nil {
			frac := 0.0
			if rows > 0 {
				frac = float64(sum.Missing) / float64(rows)
			}
			add(Result{Rule: RuleMaxMissingFraction, Column: r.Name, Passed: frac <= *r.MaxMissingFraction,
				Observed: fmt.Sprintf("%.4g (%d of %d rows)", frac, sum.Missing, rows), Expected: "≤ " + num(*r.MaxMissingFraction),
				Violations: sum.Missing, Examples: cc.missing.ex,
				Message: fmt.Sprintf("column %q is missing in %.4g of rows, want at most %s", r.Name, frac, num(*r.MaxMissingFraction))})
		}
		if r.Drift != nil {
			add(c.drift(r, sum))
		}
	}
	rep.Passed = true
	for i := range rep.Results {
		if rep.Results[i].Passed {
			rep.Results[i].Violations, rep.Results[i].Examples = 0, nil
		}
		rep.Passed = rep.Passed && rep.Results[i].Passed
	}
	return rep
}

func boundsText(unit string, lo, hi *int64) string {
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("%d to %d %s", *lo, *hi, unit)
	case lo != nil:
		return fmt.Sprintf("at least %d %s", *lo, unit)
	case hi != nil:
		return fmt.Sprintf("at most %d %s", *hi, unit)
	}
	return "any number of " + unit
}

// freshness checks the age of the newest timestamp of a column.
func (c *checker) freshness(f *Freshness) Result {
	res := Result{Rule: RuleFreshness, Column: f.Column, Expected: "newest value at most " + formatAge(f.MaxAge) + " old"}
	sum, ok := c.prof.Column(f.Column)
	switch {
	case !ok:
		res.Observed = "column absent"
	case sum.Type != profile.TypeTimestamp || sum.Numeric == nil:
		res.Observed = fmt.Sprintf("type %s, not a timestamp", sum.Type)
	default:
		sec := sum.Numeric.Max
		if sum.Unit == "epoch_ms" {
			sec /= 1000
		}
		newest := time.Unix(0, 0).Add(time.Duration(sec * float64(time.Second))).UTC()
		age := c.opts.Now.Sub(newest)
		res.Passed = age <= f.MaxAge
		res.Observed = fmt.Sprintf("newest %s, %s old", newest.Format(time.RFC3339), formatAge(age.Round(time.Second)))
	}
	res.Message = fmt.Sprintf("freshness of column %q: %s, want %s", f.Column, res.Observed, res.Expected)
	return res
}

// formatAge writes a duration with whole days as "d": 30d, 6d9h32m30s.
func formatAge(d time.Duration) string {
	const day = 24 * time.Hour
	if d < day {
		return d.String()
	}
	s := strconv.FormatInt(int64(d/day), 10) + "d"
	if rest := d % day; rest != 0 {
		s += rest.String()
	}
	return s
}

// drift compares a column with the reference profile.
func (c *checker) drift(r *ColumnRules, cur profile.ColumnSummary) Result {
	res := Result{Rule: RuleDrift, Column: r.Name}
	ref, ok := c.opts.Reference.Column(r.Name)
	method := r.Drift.Method
	if method == "" {
		method = drift.MethodJensenShannon
		if c.numeric[r.Name] {
			method = drift.MethodPSI
		}
	}
	res.Expected = fmt.Sprintf("%s ≤ %s", method, num(r.Drift.Threshold))
	done := func(obs string) Result {
		res.Observed = obs
		res.Message = fmt.Sprintf("drift of column %q: %s, want %s", r.Name, obs, res.Expected)
		return res
	}
	if !ok {
		return done("column absent from the reference")
	}
	var rc, cc []float64
	if c.numeric[r.Name] {
		if ref.Numeric == nil || ref.Numeric.Histogram == nil || cur.Numeric == nil || cur.Numeric.Histogram == nil {
			return done("no numeric values to compare")
		}
		rh, ch := ref.Numeric.Histogram, cur.Numeric.Histogram
		if len(rh.Counts) != len(ch.Counts) {
			return done("histogram bins differ from the reference")
		}
		for i := range rh.Counts {
			rc = append(rc, float64(rh.Counts[i]))
			cc = append(cc, float64(ch.Counts[i]))
		}
	} else {
		_, rc, cc, _, _ = drift.AlignCategories(categories(c.opts.Reference, ref), categories(c.prof, cur))
	}
	var stat float64
	var err error
	if method == drift.MethodPSI {
		stat, err = drift.PSI(rc, cc)
	} else {
		stat, err = drift.JensenShannon(rc, cc, 2)
	}
	if err != nil {
		return done("cannot compute: " + err.Error())
	}
	res.Passed = stat <= r.Drift.Threshold
	return done(fmt.Sprintf("%s %.4g", method, stat))
}

// categories returns a column's value counts as a drift category profile;
// values beyond the profile's frequent-value counters go to Other.
func categories(p *profile.Profile, s profile.ColumnSummary) drift.CategoryProfile {
	cp := drift.CategoryProfile{Counts: map[string]int64{}}
	var n int64
	for _, vc := range p.Frequent(s.Name) {
		cp.Counts[vc.Value] = vc.Count
		n += vc.Count
	}
	cp.Other = max(0, s.Count-n)
	return cp
}
