package loopml_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

func TestParseRegisteredModelFilter(t *testing.T) {
	tests := []struct {
		filter string
		want   []loopml.Comparison
	}{
		{"", nil},
		{"   ", nil},
		{"name = 'churn'", []loopml.Comparison{str(A, "name", "=", "churn")}},
		{"attributes.name != 'a'", []loopml.Comparison{str(A, "name", "!=", "a")}},
		{"name LIKE 'churn-%' AND tags.team ILIKE 'Growth'", []loopml.Comparison{str(A, "name", "LIKE", "churn-%"), str(T, "team", "ILIKE", "Growth")}},
		{"tags.`my.key` = \"x\" and name ilike '%A%'", []loopml.Comparison{str(T, "my.key", "=", "x"), str(A, "name", "ILIKE", "%A%")}},
		{"tag.k != 'it''s'", []loopml.Comparison{str(T, "k", "!=", "it's")}},
	}
	for _, tc := range tests {
		got, err := loopml.ParseRegisteredModelFilter(tc.filter)
		if err != nil {
			t.Fatalf("%q: %v", tc.filter, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%q:\n got %+v\nwant %+v", tc.filter, got, tc.want)
		}
	}
}

func TestParseRegisteredModelFilterErrors(t *testing.T) {
	tests := []struct{ filter, msg string }{
		{"name > 'a'", "invalid comparator '>'"},
		{"name IN ('a')", "invalid comparator 'IN'"},
		{"version_number = 1", "invalid attribute key 'version_number'"},
		{"run_id = 'x'", "invalid attribute key 'run_id'"},
		{"metrics.x > 1", "invalid entity type 'metrics'"},
		{"name = 3", "expected a quoted string"},
		{"name = 'a' OR name = 'b'", "only AND is supported"},
		{"name = 'a", "unterminated string"},
		{"name =", "expected a value"},
		{"tags.k LIKE ('a')", "a list of values is only allowed"},
	}
	for _, tc := range tests {
		_, err := loopml.ParseRegisteredModelFilter(tc.filter)
		if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tc.msg) {
			t.Fatalf("%q: got %v, want EINVALID containing %q", tc.filter, err, tc.msg)
		}
	}
}

func TestParseModelVersionFilter(t *testing.T) {
	tests := []struct {
		filter string
		want   []loopml.Comparison
	}{
		{"", nil},
		{"name = 'churn' AND version_number >= 3", []loopml.Comparison{str(A, "name", "=", "churn"), num(A, "version_number", ">=", 3)}},
		{"version_number != 2", []loopml.Comparison{num(A, "version_number", "!=", 2)}},
		{"run_id IN ('a1', 'b2')", []loopml.Comparison{list(A, "run_id", "IN", "a1", "b2")}},
		{"run_id not in ('a1')", []loopml.Comparison{list(A, "run_id", "NOT IN", "a1")}},
		{"run_id = 'a1'", []loopml.Comparison{str(A, "run_id", "=", "a1")}},
		{"source_path LIKE 's3://b/%'", []loopml.Comparison{str(A, "source_path", "LIKE", "s3://b/%")}},
		{"tags.flavor ILIKE 'SK%' AND attributes.name != 'x'", []loopml.Comparison{str(T, "flavor", "ILIKE", "SK%"), str(A, "name", "!=", "x")}},
	}
	for _, tc := range tests {
		got, err := loopml.ParseModelVersionFilter(tc.filter)
		if err != nil {
			t.Fatalf("%q: %v", tc.filter, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%q:\n got %+v\nwant %+v", tc.filter, got, tc.want)
		}
	}
}

func TestParseModelVersionFilterErrors(t *testing.T) {
	tests := []struct{ filter, msg string }{
		{"version_number = '3'", "expected a number"},
		{"version_number LIKE 3", "invalid comparator 'LIKE'"},
		{"run_id LIKE 'a%'", "invalid comparator 'LIKE'"},
		{"run_id IN 'a'", "expected a parenthesized list"},
		{"source_path IN ('a')", "invalid comparator 'IN'"},
		{"name < 'a'", "invalid comparator '<'"},
		{"stage = 'Production'", "invalid attribute key 'stage'"},
		{"params.x = 'a'", "invalid entity type 'params'"},
		{"version_number = 1x", "invalid number"},
	}
	for _, tc := range tests {
		_, err := loopml.ParseModelVersionFilter(tc.filter)
		if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tc.msg) {
			t.Fatalf("%q: got %v, want EINVALID containing %q", tc.filter, err, tc.msg)
		}
	}
}

func TestParseRegistryOrderBy(t *testing.T) {
	tests := []struct {
		versions bool
		in       string
		want     loopml.OrderBy
		err      string
	}{
		{false, "name", loopml.OrderBy{Type: A, Key: "name", Ascending: true}, ""},
		{false, "timestamp DESC", loopml.OrderBy{Type: A, Key: "creation_timestamp"}, ""},
		{false, "creation_timestamp asc", loopml.OrderBy{Type: A, Key: "creation_timestamp", Ascending: true}, ""},
		{false, "last_updated_timestamp DESC", loopml.OrderBy{Type: A, Key: "last_updated_timestamp"}, ""},
		{false, "version_number", loopml.OrderBy{}, "invalid attribute key 'version_number'"},
		{false, "tags.x", loopml.OrderBy{}, "cannot order by tag"},
		{false, "name UP", loopml.OrderBy{}, "invalid ordering 'UP'"},
		{true, "version_number DESC", loopml.OrderBy{Type: A, Key: "version_number"}, ""},
		{true, "attributes.name", loopml.OrderBy{Type: A, Key: "name", Ascending: true}, ""},
		{true, "timestamp", loopml.OrderBy{Type: A, Key: "creation_timestamp", Ascending: true}, ""},
		{true, "last_updated_timestamp", loopml.OrderBy{Type: A, Key: "last_updated_timestamp", Ascending: true}, ""},
		{true, "run_id", loopml.OrderBy{}, "invalid attribute key 'run_id'"},
		{true, "", loopml.OrderBy{}, "expected an identifier"},
	}
	for _, tc := range tests {
		parse := loopml.ParseRegisteredModelOrderBy
		if tc.versions {
			parse = loopml.ParseModelVersionOrderBy
		}
		got, err := parse(tc.in)
		if tc.err != "" {
			if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tc.err) {
				t.Fatalf("%q: got %v, want EINVALID containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Fatalf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

var registryFuzzSeeds = []string{
	"",
	"name = 'churn' AND version_number >= 3",
	"run_id IN ('a','b') AND source_path LIKE '%x'",
	"tags.`a.b` ILIKE 'x' and name != \"y\"",
	"version_number = 1e3",
	"name = 'a' OR",
	"timestamp DESC",
}

// checkRegistryParsed checks the invariants of a registry filter result.
func checkRegistryParsed(t *testing.T, filter string, cs []loopml.Comparison, err error, versions bool) {
	t.Helper()
	if err != nil {
		if loopml.ErrorCode(err) != loopml.EINVALID || !strings.HasPrefix(loopml.ErrorMessage(err), "Invalid filter '") {
			t.Fatalf("filter %q: error %v", filter, err)
		}
		return
	}
	if strings.TrimSpace(filter) != "" && len(cs) == 0 {
		t.Fatalf("filter %q: no clauses and no error", filter)
	}
	for _, c := range cs {
		switch {
		case c.Type == T && c.Key != "":
		case c.Type == A && c.Key == "name":
		case versions && c.Type == A && (c.Key == "version_number" || c.Key == "run_id" || c.Key == "source_path"):
		default:
			t.Fatalf("filter %q: unexpected clause %+v", filter, c)
		}
		if (c.Op == "IN" || c.Op == "NOT IN") != (c.Values != nil) {
			t.Fatalf("filter %q: Values %v with %s", filter, c.Values, c.Op)
		}
		if c.Key == "version_number" && (c.Value != "" || c.Values != nil) {
			t.Fatalf("filter %q: version_number with a string operand", filter)
		}
	}
}

func FuzzParseRegisteredModelFilter(f *testing.F) {
	for _, s := range registryFuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		cs, err := loopml.ParseRegisteredModelFilter(filter)
		checkRegistryParsed(t, filter, cs, err, false)
		ob, err := loopml.ParseRegisteredModelOrderBy(filter)
		if err == nil && (ob.Type != A || ob.Key == "version_number") {
			t.Fatalf("order_by %q: %+v", filter, ob)
		} else if err != nil && loopml.ErrorCode(err) != loopml.EINVALID {
			t.Fatalf("order_by %q: %v", filter, err)
		}
	})
}

func FuzzParseModelVersionFilter(f *testing.F) {
	for _, s := range registryFuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		cs, err := loopml.ParseModelVersionFilter(filter)
		checkRegistryParsed(t, filter, cs, err, true)
		ob, err := loopml.ParseModelVersionOrderBy(filter)
		if err == nil && ob.Type != A {
			t.Fatalf("order_by %q: %+v", filter, ob)
		} else if err != nil && loopml.ErrorCode(err) != loopml.EINVALID {
			t.Fatalf("order_by %q: %v", filter, err)
		}
	})
}
