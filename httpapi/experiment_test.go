package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestExperimentLifecycle(t *testing.T) {
	e := newEnv(t)
	id := e.createExperiment("exp-a")

	// Both prefixes serve the API.
	for _, prefix := range []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"} {
		m := e.do("GET", prefix+"experiments/get?experiment_id="+id, "").ok(t)
		if got := dig(m, "experiment", "name"); got != "exp-a" {
			t.Errorf("%s: name = %v", prefix, got)
		}
		if got := dig(m, "experiment", "artifact_location"); got != "mlflow-artifacts:/"+id {
			t.Errorf("%s: artifact_location = %v", prefix, got)
		}
		if got := dig(m, "experiment", "lifecycle_stage"); got != "active" {
			t.Errorf("%s: lifecycle_stage = %v", prefix, got)
		}
	}

	m := e.get("experiments/get-by-name?experiment_name=exp-a").ok(t)
	if got := dig(m, "experiment", "experiment_id"); got != id {
		t.Errorf("get-by-name id = %v, want %s", got, id)
	}
	m = e.get("experiments/get?experiment_id=0").ok(t)
	if got := dig(m, "experiment", "name"); got != "Default" {
		t.Errorf("experiment 0 name = %v, want Default", got)
	}

	// Tags, rename.
	e.post("experiments/set-experiment-tag", `{"experiment_id":"`+id+`","key":"team","value":"ml"}`).ok(t)
	e.post("experiments/update", `{"experiment_id":"`+id+`","new_name":"exp-b"}`).ok(t)
	m = e.get("experiments/get-by-name?experiment_name=exp-b").ok(t)
	if got := dig(m, "experiment", "tags", 0, "key"); got != "team" {
		t.Errorf("tag key = %v: %v", got, m)
	}
	e.get("experiments/get-by-name?experiment_name=exp-a").isError(t, 404, "RESOURCE_DOES_NOT_EXIST")

	// Delete hides it from active searches, restore brings it back.
	e.post("experiments/delete", `{"experiment_id":"`+id+`"}`).ok(t)
	m = e.get("experiments/get?experiment_id=" + id).ok(t)
	if got := dig(m, "experiment", "lifecycle_stage"); got != "deleted" {
		t.Errorf("after delete lifecycle_stage = %v", got)
	}
	m = e.post("experiments/search", `{"view_type":"DELETED_ONLY"}`).ok(t)
	if got := dig(m, "experiments", 0, "experiment_id"); got != id {
		t.Errorf("deleted search = %v", m)
	}
	e.post("experiments/set-experiment-tag", `{"experiment_id":"`+id+`","key":"k","value":"v"}`).isError(t, 400, "INVALID_PARAMETER_VALUE")
	e.post("experiments/create", `{"name":"exp-b"}`).isError(t, 400, "RESOURCE_ALREADY_EXISTS")
	e.post("experiments/restore", `{"experiment_id":`+id+`}`).ok(t) // numeric id
	m = e.get("experiments/get?experiment_id=" + id).ok(t)
	if got := dig(m, "experiment", "lifecycle_stage"); got != "active" {
		t.Errorf("after restore lifecycle_stage = %v", got)
	}
}

func TestSearchExperiments(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"s-1", "s-2", "s-3"} {
		e.createExperiment(n)
	}
	names := func(m map[string]any) string {
		var out []string
		exps, _ := m["experiments"].([]any)
		for _, x := range exps {
			out = append(out, x.(map[string]any)["name"].(string))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name string
		resp func() response
		want string
		next bool
	}{
		{"POST order_by", func() response {
			return e.post("experiments/search", `{"order_by":["name DESC"],"max_results":"10"}`)
		}, "s-3,s-2,s-1,Default", false},
		{"GET repeated order_by", func() response {
			return e.get("experiments/search?order_by=name+ASC&order_by=creation_time+DESC&max_results=2")
		}, "Default,s-1", true},
		{"GET view_type number", func() response {
			return e.get("experiments/search?view_type=1&order_by=name&filter=name+LIKE+%27s-%25%27")
		}, "s-1,s-2,s-3", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.resp().ok(t)
			if got := names(m); got != tt.want {
				t.Errorf("names = %s, want %s", got, tt.want)
			}
			if _, has := m["next_page_token"]; has != tt.next {
				t.Errorf("next_page_token present = %v, want %v", has, tt.next)
			}
		})
	}

	// A search matching nothing is {} exactly.
	r := e.post("experiments/search", `{"filter":"name = 'nope'"}`)
	r.ok(t)
	if string(r.body) != "{}" {
		t.Errorf("empty search body = %s, want {}", r.body)
	}
	// Paging follows the token.
	m := e.post("experiments/search", `{"max_results":3,"order_by":["name"]}`).ok(t)
	tok, _ := m["next_page_token"].(string)
	if tok == "" {
		t.Fatalf("no next_page_token: %v", m)
	}
	m = e.post("experiments/search", `{"max_results":3,"order_by":["name"],"page_token":`+quote(tok)+`}`).ok(t)
	if got := names(m); got != "s-3" {
		t.Errorf("page 2 = %s, want s-3", got)
	}
}

func TestExperimentErrors(t *testing.T) {
	e := newEnv(t)
	id := e.createExperiment("err-exp")
	long := strings.Repeat("k", 251)
	tests := []struct {
		name         string
		method, path string
		body         string
		status       int
		code         string
		msg          []string
	}{
		{"create missing name", "POST", "experiments/create", `{}`, 400, "INVALID_PARAMETER_VALUE", []string{"'name'"}},
		{"create name wrong type", "POST", "experiments/create", `{"name": 5}`, 400, "INVALID_PARAMETER_VALUE", []string{"'name'", "5"}},
		{"create duplicate", "POST", "experiments/create", `{"name":"err-exp"}`, 400, "RESOURCE_ALREADY_EXISTS", []string{"err-exp"}},
		{"create malformed", "POST", "experiments/create", `{"name":`, 400, "INVALID_PARAMETER_VALUE", []string{"Malformed JSON"}},
		{"create tags wrong type", "POST", "experiments/create", `{"name":"x","tags":{"a":"b"}}`, 400, "INVALID_PARAMETER_VALUE", []string{"'tags'"}},
		{"get missing id", "GET", "experiments/get", ``, 400, "INVALID_PARAMETER_VALUE", []string{"'experiment_id'"}},
		{"get unknown id", "GET", "experiments/get?experiment_id=98765", ``, 404, "RESOURCE_DOES_NOT_EXIST", []string{"98765"}},
		{"get-by-name missing", "GET", "experiments/get-by-name", ``, 400, "INVALID_PARAMETER_VALUE", []string{"'experiment_name'"}},
		{"get-by-name unknown", "GET", "experiments/get-by-name?experiment_name=zz", ``, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"search bad view_type", "POST", "experiments/search", `{"view_type":"SOME"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'view_type'"}},
		{"search bad max_results", "GET", "experiments/search?max_results=abc", ``, 400, "INVALID_PARAMETER_VALUE", []string{"'max_results'"}},
		{"search negative max_results", "POST", "experiments/search", `{"max_results":-1}`, 400, "INVALID_PARAMETER_VALUE", []string{"'max_results'"}},
		{"search bad filter", "POST", "experiments/search", `{"filter":"name ~~ 1"}`, 400, "INVALID_PARAMETER_VALUE", nil},
		{"update unknown", "POST", "experiments/update", `{"experiment_id":"555","new_name":"q"}`, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"update missing id", "POST", "experiments/update", `{"new_name":"q"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'experiment_id'"}},
		{"delete unknown", "POST", "experiments/delete", `{"experiment_id":"555"}`, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"delete missing id", "POST", "experiments/delete", `{}`, 400, "INVALID_PARAMETER_VALUE", []string{"'experiment_id'"}},
		{"restore unknown", "POST", "experiments/restore", `{"experiment_id":"555"}`, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"tag missing value", "POST", "experiments/set-experiment-tag", `{"experiment_id":"` + id + `","key":"k"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'value'"}},
		{"tag missing key", "POST", "experiments/set-experiment-tag", `{"experiment_id":"` + id + `","value":"v"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'key'"}},
		{"tag key too long", "POST", "experiments/set-experiment-tag", `{"experiment_id":"` + id + `","key":"` + long + `","value":"v"}`, 400, "INVALID_PARAMETER_VALUE", []string{"250"}},
		{"tag value too long", "POST", "experiments/set-experiment-tag", `{"experiment_id":"` + id + `","key":"k","value":"` + strings.Repeat("v", 8001) + `"}`, 400, "INVALID_PARAMETER_VALUE", []string{"8000"}},
		{"tag unknown experiment", "POST", "experiments/set-experiment-tag", `{"experiment_id":"555","key":"k","value":"v"}`, 404, "RESOURCE_DOES_NOT_EXIST", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.do(tt.method, "/api/2.0/mlflow/"+tt.path, tt.body).isError(t, tt.status, tt.code, tt.msg...)
		})
	}
}

func TestExperimentGolden(t *testing.T) {
	e := newEnv(t)
	id := e.createExperiment("golden")
	e.post("experiments/set-experiment-tag", `{"experiment_id":"`+id+`","key":"note","value":"quote \" and é"}`).ok(t)
	r := e.get("experiments/get?experiment_id=" + id)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	golden(t, "experiment_get", r.body)
	golden(t, "experiment_create", e.post("experiments/create", `{"name":"golden-2"}`).body)
}
