package loopml_test

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

// cmp is a shorthand for a want Comparison.
func str(typ, key, op, v string) loopml.Comparison {
	return loopml.Comparison{Type: typ, Key: key, Op: op, Value: v}
}

func num(typ, key, op string, n float64) loopml.Comparison {
	return loopml.Comparison{Type: typ, Key: key, Op: op, Number: n}
}

func list(typ, key, op string, vs ...string) loopml.Comparison {
	return loopml.Comparison{Type: typ, Key: key, Op: op, Values: vs}
}

const (
	M  = loopml.SearchMetric
	P  = loopml.SearchParam
	T  = loopml.SearchTag
	A  = loopml.SearchAttribute
	DS = loopml.SearchDataset
)

func TestParseRunFilter(t *testing.T) {
	tests := []struct {
		filter string
		want   []loopml.Comparison
	}{
		{"", nil},
		{"   \t\n", nil},
		{"metrics.rmse < 0.5", []loopml.Comparison{num(M, "rmse", "<", 0.5)}},
		{"metric.rmse>=1", []loopml.Comparison{num(M, "rmse", ">=", 1)}},
		{"metrics.loss = -1.5e-3", []loopml.Comparison{num(M, "loss", "=", -1.5e-3)}},
		{"metrics.loss != +2", []loopml.Comparison{num(M, "loss", "!=", 2)}},
		{"metrics.loss <= .5", []loopml.Comparison{num(M, "loss", "<=", .5)}},
		{"metrics.loss > 3.", []loopml.Comparison{num(M, "loss", ">", 3)}},
		{"metrics.loss > 1E6", []loopml.Comparison{num(M, "loss", ">", 1e6)}},
		{"metrics.a.b.c < 1", []loopml.Comparison{num(M, "a.b.c", "<", 1)}},
		{"metrics.`a b` < 1", []loopml.Comparison{num(M, "a b", "<", 1)}},
		{`metrics."a-b/c" < 1`, []loopml.Comparison{num(M, "a-b/c", "<", 1)}},
		{"metrics.accuracy=-1", []loopml.Comparison{num(M, "accuracy", "=", -1)}},
		{"params.model = 'tree'", []loopml.Comparison{str(P, "model", "=", "tree")}},
		{"param.model != \"tree\"", []loopml.Comparison{str(P, "model", "!=", "tree")}},
		{"parameter.lr LIKE '0.0%'", []loopml.Comparison{str(P, "lr", "LIKE", "0.0%")}},
		{"parameters.lr ilike '%E-3'", []loopml.Comparison{str(P, "lr", "ILIKE", "%E-3")}},
		{"params.x = ''", []loopml.Comparison{str(P, "x", "=", "")}},
		{"params.x = 'it''s'", []loopml.Comparison{str(P, "x", "=", "it's")}},
		{`params.x = 'it\'s'`, []loopml.Comparison{str(P, "x", "=", "it's")}},
		{`params.x = "say ""hi"""`, []loopml.Comparison{str(P, "x", "=", `say "hi"`)}},
		{`params.x = "a\"b"`, []loopml.Comparison{str(P, "x", "=", `a"b`)}},
		{`params.x = 'C:\\dir\\'`, []loopml.Comparison{str(P, "x", "=", `C:\dir\`)}},
		{`params.x LIKE 'a\_b%'`, []loopml.Comparison{str(P, "x", "LIKE", `a\_b%`)}},
		{"params.x = 'AND b = 1'", []loopml.Comparison{str(P, "x", "=", "AND b = 1")}},
		{"params.x = 'héllo ✓'", []loopml.Comparison{str(P, "x", "=", "héllo ✓")}},
		{"tags.`mlflow.runName` = 'r1'", []loopml.Comparison{str(T, "mlflow.runName", "=", "r1")}},
		{"tags.mlflow.runName = 'r1'", []loopml.Comparison{str(T, "mlflow.runName", "=", "r1")}},
		{"tag.`my.tag` like 'x%'", []loopml.Comparison{str(T, "my.tag", "LIKE", "x%")}},
		{"tags.ключ = 'v'", []loopml.Comparison{str(T, "ключ", "=", "v")}},
		{"Tags.x = 'v'", []loopml.Comparison{str(T, "x", "=", "v")}},
		{"`tags`.x = 'v'", []loopml.Comparison{str(T, "x", "=", "v")}},
		{"attributes.status = 'FINISHED'", []loopml.Comparison{str(A, "status", "=", "FINISHED")}},
		{"attribute.run_name = 'x'", []loopml.Comparison{str(A, "run_name", "=", "x")}},
		{"attr.user_id != 'bob'", []loopml.Comparison{str(A, "user_id", "!=", "bob")}},
		{"run.artifact_uri LIKE 's3://%'", []loopml.Comparison{str(A, "artifact_uri", "LIKE", "s3://%")}},
		{"status = 'FINISHED'", []loopml.Comparison{str(A, "status", "=", "FINISHED")}},
		{"run_name ILIKE '%good%'", []loopml.Comparison{str(A, "run_name", "ILIKE", "%good%")}},
		{"attributes.`Run Name` = 'x'", []loopml.Comparison{str(A, "run_name", "=", "x")}},
		{`attributes."run name" = 'x'`, []loopml.Comparison{str(A, "run_name", "=", "x")}},
		{"`run name` = 'x'", []loopml.Comparison{str(A, "run_name", "=", "x")}},
		{"start_time > 1700000000000", []loopml.Comparison{num(A, "start_time", ">", 1700000000000)}},
		{"attributes.end_time <= 5", []loopml.Comparison{num(A, "end_time", "<=", 5)}},
		{"created >= 10", []loopml.Comparison{num(A, "start_time", ">=", 10)}},
		{"attributes.Created < 10", []loopml.Comparison{num(A, "start_time", "<", 10)}},
		{"run_id = 'abc'", []loopml.Comparison{str(A, "run_id", "=", "abc")}},
		{"attributes.run_id IN ('a', 'b')", []loopml.Comparison{list(A, "run_id", "IN", "a", "b")}},
		{"params.model IN ('mf', 'als')", []loopml.Comparison{list(loopml.SearchParam, "model", "IN", "mf", "als")}},
		{"tags.team NOT IN ('a')", []loopml.Comparison{list(loopml.SearchTag, "team", "NOT IN", "a")}},
		{"run_id in ('a')", []loopml.Comparison{list(A, "run_id", "IN", "a")}},
		{"run_id not  In(\"a\",'b' , 'c')", []loopml.Comparison{list(A, "run_id", "NOT IN", "a", "b", "c")}},
		{"dataset.name = 'ds'", []loopml.Comparison{str(DS, "name", "=", "ds")}},
		{"datasets.digest IN ('d1','d2')", []loopml.Comparison{list(DS, "digest", "IN", "d1", "d2")}},
		{"dataset.context NOT IN ('eval')", []loopml.Comparison{list(DS, "context", "NOT IN", "eval")}},
		{"dataset.context LIKE 'train%'", []loopml.Comparison{str(DS, "context", "LIKE", "train%")}},
		{
			"metrics.rmse < 1 AND params.model = 'tree' and tags.t != 'x' AnD status = 'RUNNING'",
			[]loopml.Comparison{num(M, "rmse", "<", 1), str(P, "model", "=", "tree"), str(T, "t", "!=", "x"), str(A, "status", "=", "RUNNING")},
		},
		{"params.a='x'AND params.b='y'", []loopml.Comparison{str(P, "a", "=", "x"), str(P, "b", "=", "y")}},
		{"  metrics.a>1\n\tAND\nmetrics.b<2  ", []loopml.Comparison{num(M, "a", ">", 1), num(M, "b", "<", 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got, err := loopml.ParseRunFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseRunFilter(%q) error: %v", tt.filter, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRunFilter(%q)\n got %#v\nwant %#v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestParseRunFilterErrors(t *testing.T) {
	tests := []struct {
		filter string
		want   string // substring of the message
	}{
		{"metrics.rmse <> 1", "Invalid filter 'metrics.rmse <> 1': invalid comparator '<>' at position 14"},
		{"metrics.rmse == 1", "invalid comparator '=='"},
		{"metrics.rmse =< 1", "invalid comparator '=<'"},
		{"metrics.rmse ~ 1", "expected a comparator, found '~' at position 14"},
		{"metrics.rmse is 1", "invalid comparator 'is'"},
		{"metrics.rmse < 1 OR metrics.b > 2", "only AND is supported, found 'OR' at position 18"},
		{"metrics.rmse < 1 or metrics.b > 2", "only AND is supported, found 'or'"},
		{"metrics.rmse < 1 metrics.b > 2", "expected AND, found 'metrics.b' at position 18"},
		{"metrics.rmse < 1 AND", "expected an identifier such as metrics.<key> at end of input"},
		{"metrics.rmse < 1 AND AND metrics.b > 1", "invalid attribute key 'AND'"},
		{"metrics.rmse < 1 ;", "expected AND, found ';'"},
		{"metrics.rmse < 1 ANDx metrics.b > 1", "expected AND, found 'ANDx'"},
		{"metrics.rmse < 'x'", "expected a number for metric 'rmse', found 'x' at position 16"},
		{"metrics.rmse LIKE '1'", "invalid comparator 'LIKE' for metric 'rmse'"},
		{"metrics.rmse IN ('1')", "invalid comparator 'IN' for metric 'rmse'"},
		{"metrics.rmse <", "expected a value at end of input"},
		{"metrics.rmse", "expected a comparator at end of input"},
		{"metrics.rmse < abc", "expected a quoted string or a number, found 'abc'"},
		{"metrics.rmse < 1x", "invalid number '1x'"},
		{"metrics.rmse < 1.2.3", "invalid number '1.2.3'"},
		{"metrics.rmse < -", "invalid number '-'"},
		{"metrics.rmse < 1e", "invalid number '1e'"},
		{"metrics.rmse < 1e999", "number '1e999' out of range"},
		{"metrics.rmse < NaN", "expected a quoted string or a number, found 'NaN'"},
		{"metrics. < 1", "expected a key after 'metrics.', found ' '"},
		{"metrics.`` < 1", "empty quoted identifier"},
		{"metrics.`a < 1", "unterminated `-quoted identifier"},
		{"metrics < 1", "expected '.' and a key after 'metrics'"},
		{"metricz.a < 1", "invalid entity type 'metricz'"},
		{"metrics.val/loss < 1", "unexpected '/' after metric 'val'; quote keys with special characters in backticks, e.g. metrics.`val/loss` at position 12"},
		{"params.my-param = 'x'", "unexpected '-' after param 'my'"},
		{"params.x = 1", "expected a quoted string for param 'x' (e.g. 'my-value'), found 1"},
		{"params.x = tree", "expected a quoted string or a number, found 'tree'"},
		{"params.x > 'a'", "invalid comparator '>' for param 'x' (valid: =, !=, LIKE, ILIKE, IN, NOT IN)"},
		{"params.x IN 'a'", "expected a parenthesized list of quoted strings after IN"},
		{"params.x = ('a')", "a list of values is only allowed with IN or NOT IN"},
		{"params.x = 'abc", "unterminated string at position 12"},
		{`params.x = 'abc\'`, "unterminated string"},
		{"tags.x < 'a'", "invalid comparator '<' for tag 'x'"},
		{"tags.x NOT LIKE 'a'", "expected IN after NOT, found 'LIKE'"},
		{"tags.x NOT", "expected IN after NOT, found end of input"},
		{"status < 'x'", "invalid comparator '<' for attribute 'status'"},
		{"status IN ('A','B')", "comparator 'IN' is not supported for attribute 'status'; only run_id accepts IN"},
		{"status = 1", "expected a quoted string for attribute 'status'"},
		{"start_time = 'x'", "expected a number for attribute 'start_time'"},
		{"start_time LIKE '1%'", "invalid comparator 'LIKE' for attribute 'start_time'"},
		{"attributes.foo = 'x'", "invalid attribute key 'foo'"},
		{"foo = 'x'", "invalid attribute key 'foo'"},
		{"name = 'x'", "invalid attribute key 'name'"},
		{"creation_time > 1", "invalid attribute key 'creation_time'"},
		{"lifecycle_stage = 'active'", "invalid attribute key 'lifecycle_stage'"},
		{"run_id IN 'a'", "expected a parenthesized list of quoted strings after IN, found 'a'"},
		{"run_id IN ()", "empty list"},
		{"run_id IN ('a',)", "expected a quoted string in list, found ')'"},
		{"run_id IN ('a' 'b')", "expected ',' or ')' in list, found '''"},
		{"run_id IN ('a', 1)", "expected a quoted string in list, found '1'"},
		{"run_id IN ('a'", "unterminated list"},
		{"dataset.foo = 'x'", "invalid dataset key 'foo'"},
		{"dataset.name > 'x'", "invalid comparator '>' for dataset field 'name'"},
		{"(metrics.a > 1)", "parentheses around clauses are not supported"},
		{"= 1", "expected an identifier such as metrics.<key>, found '='"},
		{"metrics.a > 1 AND (metrics.b < 2)", "parentheses around clauses are not supported at position 19"},
		{"params.x = 'a\x00'", "NUL character"},
		{"params.x = '\xff'", "invalid UTF-8 at position 13"},
		{"tags.é = 'é' OR x", "only AND is supported, found 'OR' at position 14"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got, err := loopml.ParseRunFilter(tt.filter)
			if err == nil {
				t.Fatalf("ParseRunFilter(%q) = %#v, want error", tt.filter, got)
			}
			if code := loopml.ErrorCode(err); code != loopml.EINVALID {
				t.Errorf("code = %q, want %q", code, loopml.EINVALID)
			}
			msg := loopml.ErrorMessage(err)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.want)
			}
			if !strings.HasPrefix(msg, "Invalid filter '") {
				t.Errorf("message = %q, want prefix \"Invalid filter '\"", msg)
			}
		})
	}
}

func TestParseErrorMessageIsBounded(t *testing.T) {
	long := "params.x = '" + strings.Repeat("é", 5000) + "' OR y"
	_, err := loopml.ParseRunFilter(long)
	if err == nil {
		t.Fatal("want error")
	}
	if msg := loopml.ErrorMessage(err); len(msg) > 400 {
		t.Errorf("message has %d bytes, want at most 400", len(msg))
	}
}

func TestParseExperimentFilter(t *testing.T) {
	tests := []struct {
		filter string
		want   []loopml.Comparison
	}{
		{"", nil},
		{"name = 'exp'", []loopml.Comparison{str(A, "name", "=", "exp")}},
		{"attribute.name != 'exp'", []loopml.Comparison{str(A, "name", "!=", "exp")}},
		{"attributes.name LIKE 'prod-%'", []loopml.Comparison{str(A, "name", "LIKE", "prod-%")}},
		{"name ilike '%X%'", []loopml.Comparison{str(A, "name", "ILIKE", "%X%")}},
		{"creation_time > 1700000000000", []loopml.Comparison{num(A, "creation_time", ">", 1700000000000)}},
		{"attributes.last_update_time <= 5", []loopml.Comparison{num(A, "last_update_time", "<=", 5)}},
		{"tags.team = 'vision'", []loopml.Comparison{str(T, "team", "=", "vision")}},
		{"tag.`a.b` LIKE 'x%'", []loopml.Comparison{str(T, "a.b", "LIKE", "x%")}},
		{
			"name LIKE 'a%' AND tags.t = 'v' AND creation_time >= 0",
			[]loopml.Comparison{str(A, "name", "LIKE", "a%"), str(T, "t", "=", "v"), num(A, "creation_time", ">=", 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got, err := loopml.ParseExperimentFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseExperimentFilter(%q) error: %v", tt.filter, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseExperimentFilter(%q)\n got %#v\nwant %#v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestParseExperimentFilterErrors(t *testing.T) {
	tests := []struct {
		filter string
		want   string
	}{
		{"metrics.a > 1", "invalid entity type 'metrics' (valid: attributes, tags)"},
		{"params.a = 'x'", "invalid entity type 'params'"},
		{"run.name = 'x'", "invalid entity type 'run'"},
		{"status = 'x'", "invalid attribute key 'status' (valid: name, creation_time, last_update_time)"},
		{"experiment_id = '1'", "invalid attribute key 'experiment_id'"},
		{"name > 'x'", "invalid comparator '>' for attribute 'name'"},
		{"name IN ('x')", "comparator 'IN' is not supported for attribute 'name'"},
		{"name = 1", "expected a quoted string for attribute 'name'"},
		{"creation_time = 'x'", "expected a number for attribute 'creation_time'"},
		{"creation_time LIKE '1'", "invalid comparator 'LIKE'"},
		{"tags.t > 'x'", "invalid comparator '>' for tag 't'"},
		{"name = 'a' OR name = 'b'", "only AND is supported"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			_, err := loopml.ParseExperimentFilter(tt.filter)
			if code := loopml.ErrorCode(err); code != loopml.EINVALID {
				t.Fatalf("ParseExperimentFilter(%q) code = %q (err %v), want %q", tt.filter, code, err, loopml.EINVALID)
			}
			if msg := loopml.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.want)
			}
		})
	}
}

func TestParseRunOrderBy(t *testing.T) {
	tests := []struct {
		in      string
		want    loopml.OrderBy
		wantErr string
	}{
		{in: "metrics.rmse", want: loopml.OrderBy{Type: M, Key: "rmse", Ascending: true}},
		{in: "metrics.rmse DESC", want: loopml.OrderBy{Type: M, Key: "rmse"}},
		{in: "metric.`my metric` asc", want: loopml.OrderBy{Type: M, Key: "my metric", Ascending: true}},
		{in: "params.lr desc", want: loopml.OrderBy{Type: P, Key: "lr"}},
		{in: "tags.`mlflow.runName` ASC", want: loopml.OrderBy{Type: T, Key: "mlflow.runName", Ascending: true}},
		{in: "attributes.start_time DESC", want: loopml.OrderBy{Type: A, Key: "start_time"}},
		{in: "  start_time   DeSc  ", want: loopml.OrderBy{Type: A, Key: "start_time"}},
		{in: "created", want: loopml.OrderBy{Type: A, Key: "start_time", Ascending: true}},
		{in: "run_name", want: loopml.OrderBy{Type: A, Key: "run_name", Ascending: true}},
		{in: "attr.run_id", want: loopml.OrderBy{Type: A, Key: "run_id", Ascending: true}},
		{in: "status", want: loopml.OrderBy{Type: A, Key: "status", Ascending: true}},
		{in: "end_time", want: loopml.OrderBy{Type: A, Key: "end_time", Ascending: true}},
		{in: "user_id", want: loopml.OrderBy{Type: A, Key: "user_id", Ascending: true}},
		{in: "artifact_uri", want: loopml.OrderBy{Type: A, Key: "artifact_uri", Ascending: true}},
		{in: "", wantErr: "Invalid order_by clause '': expected an identifier at end of input"},
		{in: "metrics.rmse UP", wantErr: "invalid ordering 'UP', expected ASC or DESC at position 14"},
		{in: "metrics.rmse DESC x", wantErr: "unexpected 'x' after the ordering"},
		{in: "metrics.rmse, params.x", wantErr: "expected ASC or DESC, found ','"},
		{in: "dataset.name", wantErr: "cannot order by dataset field 'name'"},
		{in: "attributes.foo", wantErr: "invalid attribute key 'foo'"},
		{in: "name", wantErr: "invalid attribute key 'name'"},
		{in: "metrics.`x", wantErr: "unterminated"},
		{in: "metrics.val/loss DESC", wantErr: "unexpected '/' after metric 'val'; quote keys"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := loopml.ParseRunOrderBy(tt.in)
			if tt.wantErr != "" {
				if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("ParseRunOrderBy(%q) err = %v, want EINVALID containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRunOrderBy(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseRunOrderBy(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseExperimentOrderBy(t *testing.T) {
	tests := []struct {
		in      string
		want    loopml.OrderBy
		wantErr string
	}{
		{in: "name", want: loopml.OrderBy{Type: A, Key: "name", Ascending: true}},
		{in: "name DESC", want: loopml.OrderBy{Type: A, Key: "name"}},
		{in: "attribute.experiment_id asc", want: loopml.OrderBy{Type: A, Key: "experiment_id", Ascending: true}},
		{in: "attributes.creation_time DESC", want: loopml.OrderBy{Type: A, Key: "creation_time"}},
		{in: "last_update_time", want: loopml.OrderBy{Type: A, Key: "last_update_time", Ascending: true}},
		{in: "tags.x", wantErr: "cannot order by tag 'x'; experiments can only be ordered by attributes"},
		{in: "metrics.x", wantErr: "invalid entity type 'metrics'"},
		{in: "start_time", wantErr: "invalid attribute key 'start_time'"},
		{in: "name sideways", wantErr: "invalid ordering 'sideways'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := loopml.ParseExperimentOrderBy(tt.in)
			if tt.wantErr != "" {
				if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("ParseExperimentOrderBy(%q) err = %v, want EINVALID containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExperimentOrderBy(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseExperimentOrderBy(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// checkParsed verifies the invariants every successful parse must hold: the
// contract in search.go.
func checkParsed(t *testing.T, filter string, cs []loopml.Comparison, err error, experiments bool) {
	t.Helper()
	if err != nil {
		if loopml.ErrorCode(err) != loopml.EINVALID {
			t.Fatalf("filter %q: error code %q, want %q (%v)", filter, loopml.ErrorCode(err), loopml.EINVALID, err)
		}
		if !strings.HasPrefix(loopml.ErrorMessage(err), "Invalid filter '") {
			t.Fatalf("filter %q: message %q lacks the prefix", filter, loopml.ErrorMessage(err))
		}
		return
	}
	if strings.TrimSpace(filter) != "" && len(cs) == 0 {
		t.Fatalf("filter %q: no clauses and no error", filter)
	}
	for _, c := range cs {
		switch c.Type {
		case M, P, T, A:
		case DS:
			if experiments {
				t.Fatalf("filter %q: dataset clause in an experiment filter", filter)
			}
		default:
			t.Fatalf("filter %q: bad type %q", filter, c.Type)
		}
		if c.Key == "" {
			t.Fatalf("filter %q: empty key in %+v", filter, c)
		}
		switch c.Op {
		case "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE":
			if c.Values != nil {
				t.Fatalf("filter %q: Values set for %s", filter, c.Op)
			}
		case "IN", "NOT IN":
			if len(c.Values) == 0 {
				t.Fatalf("filter %q: empty Values for %s", filter, c.Op)
			}
		default:
			t.Fatalf("filter %q: bad op %q", filter, c.Op)
		}
		if c.IsNumeric() {
			if math.IsNaN(c.Number) || math.IsInf(c.Number, 0) || c.Value != "" {
				t.Fatalf("filter %q: bad numeric clause %+v", filter, c)
			}
			if c.Op == "LIKE" || c.Op == "ILIKE" || c.Op == "IN" || c.Op == "NOT IN" {
				t.Fatalf("filter %q: string op on numeric clause %+v", filter, c)
			}
		} else if c.Number != 0 {
			t.Fatalf("filter %q: Number set on string clause %+v", filter, c)
		}
		if c.Type == A && !experiments {
			switch c.Key {
			case "run_id", "run_name", "status", "user_id", "artifact_uri", "start_time", "end_time":
			default:
				t.Fatalf("filter %q: non-canonical attribute %q", filter, c.Key)
			}
		}
		if c.Type == A && experiments {
			switch c.Key {
			case "name", "creation_time", "last_update_time":
			default:
				t.Fatalf("filter %q: non-canonical attribute %q", filter, c.Key)
			}
		}
	}
}

var fuzzSeeds = []string{
	"",
	"metrics.rmse < 0.5 AND params.model = 'tree'",
	"tags.`mlflow.runName` LIKE '%x%' and status = 'FINISHED'",
	"run_id IN ('a','b') AND dataset.context NOT IN ('eval')",
	`params.x = 'it''s' AND params.y = "a\"b" AND params.z = 'C:\\'`,
	"metrics.`a b` >= -1.5e-3 AND start_time > 1700000000000",
	"name LIKE 'prod-%' AND creation_time > 1 AND tags.team = 'v'",
	"metrics.rmse <> 1",
	"metrics.a > 1 OR metrics.b < 2",
	"run_id IN ('a',",
	"params.x = 'unterminated",
	"metrics.`unterminated < 1",
	"(metrics.a > 1)",
	"metrics.a > 1e999",
	"tags.é = '✓'",
	"metrics. < 1 AND",
	"attributes.`Run Name` ILIKE 'x'",
}

func FuzzParseRunFilter(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		cs, err := loopml.ParseRunFilter(filter)
		checkParsed(t, filter, cs, err, false)
		ob, err := loopml.ParseRunOrderBy(filter)
		if err != nil && loopml.ErrorCode(err) != loopml.EINVALID {
			t.Fatalf("order_by %q: code %q", filter, loopml.ErrorCode(err))
		}
		if err == nil && (ob.Key == "" || ob.Type == DS) {
			t.Fatalf("order_by %q: bad result %+v", filter, ob)
		}
	})
}

func FuzzParseExperimentFilter(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		cs, err := loopml.ParseExperimentFilter(filter)
		checkParsed(t, filter, cs, err, true)
		ob, err := loopml.ParseExperimentOrderBy(filter)
		if err != nil && loopml.ErrorCode(err) != loopml.EINVALID {
			t.Fatalf("order_by %q: code %q", filter, loopml.ErrorCode(err))
		}
		if err == nil && ob.Type != A {
			t.Fatalf("order_by %q: bad result %+v", filter, ob)
		}
	})
}

func ExampleParseRunFilter() {
	clauses, err := loopml.ParseRunFilter("metrics.rmse < 0.5 AND tags.`mlflow.runName` LIKE 'best-%' AND run_id IN ('a1', 'b2')")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range clauses {
		switch {
		case c.IsNumeric():
			fmt.Println(c.Type, c.Key, c.Op, c.Number)
		case c.Values != nil:
			fmt.Println(c.Type, c.Key, c.Op, c.Values)
		default:
			fmt.Println(c.Type, c.Key, c.Op, c.Value)
		}
	}

	_, err = loopml.ParseRunFilter("metrics.rmse <> 1")
	fmt.Println(loopml.ErrorCode(err), loopml.ErrorMessage(err))

	ob, _ := loopml.ParseRunOrderBy("metrics.`val loss` DESC")
	fmt.Printf("%+v\n", ob)
	// Output:
	// metric rmse < 0.5
	// tag mlflow.runName LIKE best-%
	// attribute run_id IN [a1 b2]
	// invalid Invalid filter 'metrics.rmse <> 1': invalid comparator '<>' at position 14
	// {Type:metric Key:val loss Ascending:false}
}
