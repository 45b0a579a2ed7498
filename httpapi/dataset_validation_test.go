package httpapi_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/storetest"
)

// newValidationEnv is newEnv with the SQLite store also serving datasets
// and their validations; rules containing "bad" are rejected.
func newValidationEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, func(c *httpapi.Config) {
		c.Datasets = c.Experiments.(loopml.DatasetService)
		c.DatasetValidations = c.Experiments.(loopml.DatasetValidationService)
		c.CheckDatasetRules = func(name, yaml string) error {
			if strings.Contains(yaml, "bad") {
				return loopml.Errorf(loopml.EINVALID, "rules %s:1: unknown key \"bad\"", name)
			}
			return nil
		}
	})
}

// TestDatasetValidationConformanceOverHTTP runs storetest's
// DatasetValidation group against the Client. The HTTP API carries no
// workspace, so the workspace case cannot pass over it.
func TestDatasetValidationConformanceOverHTTP(t *testing.T) {
	storetest.RunDatasetValidations(t, func(t *testing.T) storetest.ValidationStore {
		return httpapi.NewClient(newValidationEnv(t).srv.URL, nil)
	}, "Workspaces")
}

func TestDatasetValidationEndpoints(t *testing.T) {
	e := newValidationEnv(t)
	e.lm("POST", "datasets/versions/create", `{"name":"ratings","root":"`+blake3A+`"}`).ok(t)
	e.lm("POST", "datasets/versions/create", `{"name":"ratings","root":"`+blake3B+`"}`).ok(t)

	m := e.lm("POST", "datasets/validations/record", `{"name":"ratings","version":2,"status":"failed","summary":"1 of 2 checks failed",
		"failed":1,"checks":2,"strict":true,"report_ref":"datasets/ratings/v2/validations/x.json","id":99,"created_by":"mallory"}`).ok(t)
	if dig(m, "validation", "id") == 99.0 || dig(m, "validation", "created_by") == "mallory" || dig(m, "validation", "strict") != true ||
		dig(m, "validation", "status") != "failed" || dig(m, "validation", "workspace") != "default" {
		t.Fatalf("record: %v", m)
	}
	m = e.lm("GET", "datasets/validations/latest?ref=ratings@v2", "").ok(t)
	if dig(m, "validation", "summary") != "1 of 2 checks failed" || dig(m, "validation", "failed") != 1.0 {
		t.Fatalf("latest: %v", m)
	}
	m = e.do("GET", "/ajax-api/2.0/loopml/datasets/validations/list?name=ratings", "").ok(t)
	if dig(m, "validations", 0, "version") != 2.0 {
		t.Fatalf("list: %v", m)
	}
	m = e.lm("GET", "datasets/versions/get?ref=ratings@v2", "").ok(t)
	if dig(m, "dataset_version", "validation") != "failed" {
		t.Fatalf("version status: %v", m)
	}

	// Quarantine keeps v2 out of @latest; false releases it.
	e.lm("POST", "datasets/versions/quarantine", `{"name":"ratings","version":2,"quarantined":true}`).ok(t)
	if m := e.lm("GET", "datasets/versions/get?ref=ratings", "").ok(t); dig(m, "dataset_version", "version") != 1.0 {
		t.Fatalf("@latest with v2 quarantined: %v", m)
	}
	if m := e.lm("GET", "datasets/versions/get?ref=ratings@v2", "").ok(t); dig(m, "dataset_version", "quarantined") != true {
		t.Fatalf("@v2 quarantined: %v", m)
	}
	e.lm("POST", "datasets/versions/quarantine", `{"name":"ratings","version":2,"quarantined":false}`).ok(t)
	if m := e.lm("GET", "datasets/versions/get?ref=ratings", "").ok(t); dig(m, "dataset_version", "version") != 2.0 {
		t.Fatalf("@latest after release: %v", m)
	}

	m = e.lm("POST", "datasets/rules/set", `{"name":"ratings","rules":"row_count: {min: 1}\n"}`).ok(t)
	if dig(m, "rules", "revision") != 1.0 || !strings.HasPrefix(dig(m, "rules", "digest").(string), "sha256:") {
		t.Fatalf("set rules: %v", m)
	}
	m = e.lm("GET", "datasets/rules/get?name=ratings", "").ok(t)
	if dig(m, "rules", "rules") != "row_count: {min: 1}\n" {
		t.Fatalf("get rules: %v", m)
	}
	e.lm("DELETE", "datasets/rules/delete?name=ratings", "").ok(t)
	e.lm("GET", "datasets/rules/get?name=ratings", "").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "no rules")
	m = e.lm("GET", "datasets/rules/list?name=ratings", "").ok(t)
	if dig(m, "revisions", 0, "revision") != 2.0 || dig(m, "revisions", 0, "rules") != "" ||
		dig(m, "revisions", 1, "revision") != 1.0 || dig(m, "revisions", 1, "rules") != "row_count: {min: 1}\n" {
		t.Fatalf("list rules: %v", m)
	}
	if m := e.lm("GET", "datasets/rules/list?name=nothing", "").ok(t); len(m["revisions"].([]any)) != 0 {
		t.Fatalf("list rules of a dataset without rules: %v", m)
	}

	for _, tc := range []struct {
		method, path, body string
		status             int
		code, msg          string
	}{
		{"POST", "datasets/validations/record", `{"name":"ratings","version":2}`, 400, "INVALID_PARAMETER_VALUE", "status"},
		{"POST", "datasets/validations/record", `{"name":"ratings","status":"passed"}`, 400, "INVALID_PARAMETER_VALUE", "version"},
		{"POST", "datasets/validations/record", `{"name":"ratings","version":2,"status":"great"}`, 400, "INVALID_PARAMETER_VALUE", "great"},
		{"POST", "datasets/validations/record", `{"name":"ratings","version":-1,"status":"passed"}`, 400, "INVALID_PARAMETER_VALUE", "version"},
		{"POST", "datasets/validations/record", `{"name":"ratings","version":9,"status":"passed"}`, 404, "RESOURCE_DOES_NOT_EXIST", "9"},
		{"POST", "datasets/validations/record", `{"name":"bad name","version":1,"status":"passed"}`, 400, "INVALID_PARAMETER_VALUE", "name"},
		{"GET", "datasets/validations/list", ``, 400, "INVALID_PARAMETER_VALUE", "name"},
		{"GET", "datasets/validations/list?name=ratings&version=x", ``, 400, "INVALID_PARAMETER_VALUE", "version"},
		{"GET", "datasets/validations/list?name=nothing", ``, 404, "RESOURCE_DOES_NOT_EXIST", "nothing"},
		{"GET", "datasets/validations/latest", ``, 400, "INVALID_PARAMETER_VALUE", "ref"},
		{"GET", "datasets/validations/latest?ref=ratings@v1", ``, 404, "RESOURCE_DOES_NOT_EXIST", "never validated"},
		{"POST", "datasets/rules/set", `{"name":"ratings"}`, 400, "INVALID_PARAMETER_VALUE", "rules"},
		{"POST", "datasets/rules/set", `{"name":"ratings","rules":"bad: 1"}`, 400, "INVALID_PARAMETER_VALUE", "unknown key"},
		{"DELETE", "datasets/rules/delete", `{"name":"ratings"}`, 404, "RESOURCE_DOES_NOT_EXIST", "no rules"},
		{"GET", "datasets/rules/list", ``, 400, "INVALID_PARAMETER_VALUE", "name"},
		{"POST", "datasets/versions/quarantine", `{"name":"ratings","version":2}`, 400, "INVALID_PARAMETER_VALUE", "quarantined"},
		{"POST", "datasets/versions/quarantine", `{"name":"ratings","quarantined":true}`, 400, "INVALID_PARAMETER_VALUE", "version"},
		{"POST", "datasets/versions/quarantine", `{"name":"ratings","version":5,"quarantined":true}`, 404, "RESOURCE_DOES_NOT_EXIST", "5"},
	} {
		e.lm(tc.method, tc.path, tc.body).isError(t, tc.status, tc.code, tc.msg)
	}
}

// TestDatasetValidationUnimplemented: without a service the routes answer
// 501 and the Client says so.
func TestDatasetValidationUnimplemented(t *testing.T) {
	e := newEnv(t)
	e.lm("GET", "datasets/rules/get?name=ratings", "").isError(t, 501, "NOT_IMPLEMENTED")
	_, err := httpapi.NewClient(e.srv.URL, nil).GetDatasetRules(t.Context(), "ratings")
	if loopml.ErrorCode(err) != loopml.ENOTIMPLEMENTED {
		t.Fatalf("client: got %v, want ENOTIMPLEMENTED", err)
	}
	var le *loopml.Error
	if !errors.As(err, &le) {
		t.Fatalf("client error %T is not a *loopml.Error", err)
	}
}
