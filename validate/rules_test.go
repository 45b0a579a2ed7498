package validate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/drift"
	"github.com/loopml/loopml/profile"
	"github.com/loopml/loopml/validate"
)

// fullExample is the rules file of the package documentation.
const fullExample = `# Dataset-level rules.
reference: ratings@3
row_count: {min: 1000, max: 5000000}
required_columns: [userId, movieId, rating, timestamp]
freshness:
  column: timestamp
  max_age: 30d
columns:
  userId:
    type: integer
    not_null: true
  rating:
    type: float
    not_null: true
    min: 0.5
    max: 5
    step: 0.5
    max_missing_fraction: 0.01
    drift: {max_psi: 0.2}
  genre:
    allowed: [comedy, drama, horror]
    drift: {method: js, threshold: 0.1}
  ratingId:
    unique: true
`

func TestLoadFullExample(t *testing.T) {
	r := mustLoad(t, fullExample)
	if r.Name != "rules.yaml" || r.Reference != "ratings@3" {
		t.Errorf("name %q reference %q", r.Name, r.Reference)
	}
	if r.RowCount == nil || *r.RowCount.Min != 1000 || *r.RowCount.Max != 5000000 {
		t.Errorf("row_count = %+v", r.RowCount)
	}
	if strings.Join(r.RequiredColumns, ",") != "userId,movieId,rating,timestamp" {
		t.Errorf("required = %v", r.RequiredColumns)
	}
	if r.Freshness == nil || r.Freshness.Column != "timestamp" || r.Freshness.MaxAge != 30*24*time.Hour {
		t.Errorf("freshness = %+v", r.Freshness)
	}
	var names []string
	for _, c := range r.Columns {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "userId,rating,genre,ratingId" {
		t.Fatalf("columns in order %v", names)
	}
	rating := r.Columns[1]
	if rating.Type != profile.TypeFloat || !rating.NotNull || *rating.Min != 0.5 || *rating.Max != 5 || *rating.Step != 0.5 ||
		*rating.MaxMissingFraction != 0.01 || *rating.Drift != (validate.DriftRule{Method: drift.MethodPSI, Threshold: 0.2}) {
		t.Errorf("rating rules = %+v", rating)
	}
	genre := r.Columns[2]
	if strings.Join(genre.Allowed, ",") != "comedy,drama,horror" || *genre.Drift != (validate.DriftRule{Method: drift.MethodJensenShannon, Threshold: 0.1}) {
		t.Errorf("genre rules = %+v", genre)
	}
	if !r.Columns[3].Unique || r.Columns[0].Type != profile.TypeInteger {
		t.Errorf("columns = %+v", r.Columns)
	}
}

func TestLoadEmpty(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n"} {
		r := mustLoad(t, src)
		if r.RowCount != nil || len(r.Columns) != 0 {
			t.Errorf("Load(%q) = %+v, want no rules", src, r)
		}
	}
}

// TestLoadErrors checks that each error names the line and the key.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown top key", "row_count: {min: 1}\nrowcount: {min: 1}\n", `rules.yaml:2: rules: unknown key "rowcount"`},
		{"unknown column key", "columns:\n  rating:\n    min: 1\n    maxx: 5\n", `rules.yaml:4: columns.rating: unknown key "maxx"`},
		{"bad number", "columns:\n  rating:\n    min: low\n", `rules.yaml:3: columns.rating.min: want a number, got "low"`},
		{"quoted number", "columns:\n  rating:\n    max: \"5\"\n", `rules.yaml:3: columns.rating.max: want a number`},
		{"bad bool", "columns:\n  id:\n    unique: yes please\n", `rules.yaml:3: columns.id.unique: want true or false`},
		{"bad type", "columns:\n  id:\n    type: uuid\n", `rules.yaml:3: columns.id.type: unknown type "uuid"`},
		{"bad duration", "freshness:\n  column: ts\n  max_age: 30 days\n", `rules.yaml:3: freshness.max_age: "30 days": want a duration`},
		{"negative duration", "freshness:\n  column: ts\n  max_age: -1d\n", `rules.yaml:3: freshness.max_age`},
		{"freshness incomplete", "freshness:\n  column: ts\n", `rules.yaml:2: freshness: needs both column and max_age`},
		{"row count negative", "row_count:\n  min: -1\n", `rules.yaml:2: row_count.min: want a non-negative integer`},
		{"row count float", "row_count:\n  max: 1.5\n", `rules.yaml:2: row_count.max: want a non-negative integer`},
		{"row count reversed", "row_count:\n  min: 5\n  max: 1\n", `rules.yaml:2: row_count: min 5 is above max 1`},
		{"range reversed", "columns:\n  v:\n    min: 5\n    max: 1\n", `rules.yaml:3: columns.v: min 5 is above max 1`},
		{"fraction", "columns:\n  v:\n    max_missing_fraction: 1.5\n", `rules.yaml:3: columns.v.max_missing_fraction: must be between 0 and 1`},
		{"step", "columns:\n  v:\n    step: 0\n", `rules.yaml:3: columns.v.step: must be positive`},
		{"drift method", "columns:\n  v:\n    drift: {method: ks}\n", `rules.yaml:3: columns.v.drift.method: unknown method "ks"`},
		{"drift two thresholds", "columns:\n  v:\n    drift: {max_psi: 0.1, max_js: 0.1}\n", `rules.yaml:3: columns.v.drift: give one of`},
		{"drift method conflict", "columns:\n  v:\n    drift: {method: js, max_psi: 0.1}\n", `rules.yaml:3: columns.v.drift: give one of`},
		{"allowed empty", "columns:\n  v:\n    allowed: []\n", `rules.yaml:3: columns.v.allowed: must not be empty`},
		{"allowed nested", "columns:\n  v:\n    allowed: [[1]]\n", `rules.yaml:3: columns.v.allowed[0]: want a value`},
		{"required not list", "required_columns: id\n", `rules.yaml:1: required_columns: want a list`},
		{"columns not map", "columns: [a, b]\n", `rules.yaml:1: columns: want a mapping`},
		{"column not map", "columns:\n  a: 1\n", `rules.yaml:2: columns.a: want a mapping`},
		{"duplicate key", "columns:\n  a: {min: 1}\n  a: {max: 1}\n", `rules.yaml:3: columns: duplicate key "a"`},
		{"top not map", "- a\n", `rules.yaml:1: rules: want a mapping`},
		{"syntax", "columns: {a: [\n", `rules rules.yaml: `},
		{"alias", "x: &a {min: 1}\ncolumns:\n  v: *a\n", `rules.yaml:1: rules: unknown key "x"`},
		{"alias value", "columns:\n  v: {min: &m 1}\n  w: {min: *m}\n", `rules.yaml:3: columns.w.min: aliases are not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := validate.Load(strings.NewReader(tt.src), "rules.yaml")
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if loopml.ErrorCode(err) != loopml.EINVALID {
				t.Errorf("code %q, want invalid", loopml.ErrorCode(err))
			}
			if msg := loopml.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to contain %q", msg, tt.want)
			}
		})
	}
}

func TestParseAge(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true},
		{"2w", 14 * 24 * time.Hour, true},
		{"12h", 12 * time.Hour, true},
		{"90s", 90 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"", 0, false},
		{"d", 0, false},
		{"0d", 0, false},
		{"-3d", 0, false},
		{"0s", 0, false},
		{"3y", 0, false},
		{"1e3d", 0, false},
		{"Infd", 0, false},
		{"99999999999d", 0, false},
	}
	for _, tt := range tests {
		got, err := validate.ParseAge(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
