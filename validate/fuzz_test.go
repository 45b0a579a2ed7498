package validate_test

import (
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/validate"
)

// FuzzLoad checks that the rules loader never panics, that every error is
// an EINVALID naming the rules file, and that loaded rules are consistent.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		fullExample,
		movieLensRules,
		"",
		"row_count: {min: 1, max: 2}",
		"columns: {a: {allowed: [1, x, true]}}",
		"freshness: {column: ts, max_age: 1.5w}",
		"columns: {a: {drift: {method: psi, threshold: 0.3}}}",
		"x: &a {min: 1}\ncolumns:\n  v: *a\n",
		"columns:\n  a: {min: 5, max: 1}\n",
		"- [",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		r, err := validate.Load(strings.NewReader(src), "f.yaml")
		if err != nil {
			if loopml.ErrorCode(err) != loopml.EINVALID || !strings.HasPrefix(loopml.ErrorMessage(err), "rules f.yaml") {
				t.Fatalf("error %v: want EINVALID starting with the file name", err)
			}
			return
		}
		if rc := r.RowCount; rc != nil && (rc.Min != nil && *rc.Min < 0 || rc.Max != nil && *rc.Max < 0 || rc.Min != nil && rc.Max != nil && *rc.Min > *rc.Max) {
			t.Fatalf("bad row_count %+v", rc)
		}
		if fr := r.Freshness; fr != nil && (fr.Column == "" || fr.MaxAge <= 0) {
			t.Fatalf("bad freshness %+v", fr)
		}
		for _, c := range r.Columns {
			switch {
			case c.Name == "":
				t.Fatal("empty column name")
			case c.Min != nil && c.Max != nil && *c.Min > *c.Max:
				t.Fatalf("column %q: min above max", c.Name)
			case c.Step != nil && !(*c.Step > 0):
				t.Fatalf("column %q: step %v", c.Name, *c.Step)
			case c.MaxMissingFraction != nil && !(*c.MaxMissingFraction >= 0 && *c.MaxMissingFraction <= 1):
				t.Fatalf("column %q: fraction %v", c.Name, *c.MaxMissingFraction)
			case c.Drift != nil && (!(c.Drift.Threshold > 0) || c.Drift.Method != "" && !c.Drift.Method.Valid()):
				t.Fatalf("column %q: drift %+v", c.Name, c.Drift)
			case c.Allowed != nil && len(c.Allowed) == 0:
				t.Fatalf("column %q: empty allowed list", c.Name)
			}
		}
	})
}
