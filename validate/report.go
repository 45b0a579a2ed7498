package validate

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/profile"
)

// Rule names, as they appear in [Result.Rule]: the YAML key of the rule,
// plus "column" for a column with rules that the data lacks.
const (
	RuleRowCount           = "row_count"
	RuleRequiredColumns    = "required_columns"
	RuleFreshness          = "freshness"
	RuleColumn             = "column"
	RuleType               = "type"
	RuleNotNull            = "not_null"
	RuleMin                = "min"
	RuleMax                = "max"
	RuleStep               = "step"
	RuleAllowed            = "allowed"
	RuleUnique             = "unique"
	RuleMaxMissingFraction = "max_missing_fraction"
	RuleDrift              = "drift"
)

// Report is the outcome of a [Check]. Its JSON form is stable: it is
// stored with a dataset version and read by pipeline gates.
type Report struct {
	// Passed is true when every result passed.
	Passed bool `json:"passed"`
	// Rules names the rules file.
	Rules string `json:"rules,omitempty"`
	// Files lists the inputs checked.
	Files []string `json:"files"`
	// Rows is the number of rows read (bad rows excluded).
	Rows int64 `json:"rows"`
	// BadRows counts rows skipped as malformed; Issues lists the first ones.
	BadRows int64           `json:"bad_rows"`
	Issues  []profile.Issue `json:"issues,omitempty"`
	// CheckedAt is Options.Now, the time freshness is measured from.
	CheckedAt time.Time `json:"checked_at"`
	// Results holds one entry per rule, in rules-file order.
	Results []Result `json:"results"`
	// Profile is the profile computed in the same pass (not encoded).
	Profile *profile.Profile `json:"-"`
	// FileProfiles holds the profile of each input read to its end, by
	// name (not encoded), so a caller that also stores per-file profiles
	// need not read the files again. Columns with a drift rule are binned
	// on the reference's histogram edges.
	FileProfiles map[string]*profile.Profile `json:"-"`
}

// Result is the outcome of one rule on one column (Column is empty for
// dataset-level rules).
type Result struct {
	Rule   string `json:"rule"`
	Column string `json:"column,omitempty"`
	Passed bool   `json:"passed"`
	// Observed describes what the data shows, Expected what the rule asks.
	Observed string `json:"observed"`
	Expected string `json:"expected"`
	// Violations counts offending rows (row-level rules) or is 1 for a
	// failed dataset-level rule.
	Violations int64 `json:"violations"`
	// Message is a one-line human summary.
	Message string `json:"message"`
	// Examples are up to Options.MaxExamples offending rows.
	Examples []Example `json:"examples,omitempty"`
}

// Example is one offending row.
type Example struct {
	// File and Line locate the row (Line is 1-based, the header is line 1
	// of a CSV file); Row is its 1-based number among the rows of File that
	// were read (header and skipped malformed rows not counted).
	File string `json:"file"`
	Line int64  `json:"line"`
	Row  int64  `json:"row"`
	// Value is the offending cell ("" when missing).
	Value string `json:"value"`
	// Values holds the whole row, by column name.
	Values map[string]string `json:"values"`
	// Note adds detail, such as where a duplicate was first seen.
	Note string `json:"note,omitempty"`
}

// Failed returns the failed results.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if !res.Passed {
			out = append(out, res)
		}
	}
	return out
}

// Err returns nil if the report passed, else an EINVALID error whose
// message summarises every failure.
func (r *Report) Err() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	parts := make([]string, len(failed))
	for i, f := range failed {
		parts[i] = f.Message
	}
	return loopml.Errorf(loopml.EINVALID, "validation failed: %d of %d rules: %s", len(failed), len(r.Results), strings.Join(parts, "; "))
}

// WriteText writes the report as a table, one line per rule, followed by
// the example rows of each failed rule.
func (r *Report) WriteText(out io.Writer) error {
	w := &errWriter{w: out}
	verdict := "PASSED"
	if !r.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "validation %s: %d rows, %d rules, %d failed", verdict, r.Rows, len(r.Results), len(r.Failed()))
	if r.BadRows > 0 {
		fmt.Fprintf(w, ", %d bad rows skipped", r.BadRows)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tRULE\tCOLUMN\tOBSERVED\tEXPECTED")
	for _, res := range r.Results {
		status := "ok"
		if !res.Passed {
			status = "FAIL"
		}
		col := res.Column
		if col == "" {
			col = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", status, res.Rule, col, oneLine(res.Observed), oneLine(res.Expected))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, res := range r.Results {
		if res.Passed || len(res.Examples) == 0 {
			continue
		}
		col := ""
		if res.Column != "" {
			col = " " + res.Column
		}
		fmt.Fprintf(w, "\n%s%s: %d offending rows, e.g.\n", res.Rule, col, res.Violations)
		for _, e := range res.Examples {
			keys := make([]string, 0, len(e.Values))
			for k := range e.Values {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			cells := make([]string, len(keys))
			for i, k := range keys {
				cells[i] = fmt.Sprintf("%s=%q", k, e.Values[k])
			}
			note := ""
			if e.Note != "" {
				note = " (" + e.Note + ")"
			}
			fmt.Fprintf(w, "  %s:%d: %s%s\n", e.File, e.Line, oneLine(strings.Join(cells, " ")), note)
		}
	}
	return w.err
}

// errWriter keeps the first write error and drops later writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func oneLine(s string) string {
	s = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", " ").Replace(s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
