package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
)

// TestWorkspaceHeader checks that X-Loopml-Workspace scopes a request and
// that a bad name is a 400 naming the header, on every kind of route.
func TestWorkspaceHeader(t *testing.T) {
	e := newDatasetEnv(t)
	create := `{"name":"movies","root":"` + blake3A + `","files":1,"size":1}`
	if r := e.do("POST", "/api/2.0/loopml/datasets/versions/create", create, httpapi.WorkspaceHeader, "team-a"); r.status != 200 ||
		dig(r.ok(t), "dataset_version", "workspace") != "team-a" {
		t.Fatalf("create in team-a: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		ws   string
		want int // datasets listed
	}{{"", 0}, {"team-a", 1}, {"team-b", 0}, {"default", 0}} {
		var hdr []string
		if tc.ws != "" {
			hdr = []string{httpapi.WorkspaceHeader, tc.ws}
		}
		r := e.do("GET", "/api/2.0/loopml/datasets/list", "", hdr...)
		if r.status != 200 {
			t.Fatalf("list in %q: %d %s", tc.ws, r.status, r.body)
		}
		list, _ := r.ok(t)["datasets"].([]any)
		if len(list) != tc.want {
			t.Errorf("list in workspace %q: %d datasets, want %d (%s)", tc.ws, len(list), tc.want, r.body)
		}
	}
	for _, bad := range []string{" ", "-lead", "a/b", "tab\there", strings.Repeat("x", 65), "ünï"} {
		for _, path := range []string{"/api/2.0/loopml/datasets/list", "/api/2.0/mlflow/experiments/search", "/health"} {
			r := e.do("GET", path, "", httpapi.WorkspaceHeader, bad)
			if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "X-Loopml-Workspace") ||
				!strings.Contains(string(r.body), "INVALID_PARAMETER_VALUE") {
				t.Errorf("GET %s with workspace %q: %d %s; want 400 naming the header", path, bad, r.status, r.body)
			}
		}
	}
	// Two headers are ambiguous.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/2.0/loopml/datasets/list", nil)
	req.Header.Add(httpapi.WorkspaceHeader, "team-a")
	req.Header.Add(httpapi.WorkspaceHeader, "team-b")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("two workspace headers: %d, want 400", resp.StatusCode)
	}
}

// TestClientWorkspace checks the Client's workspace: the context's wins,
// else WithWorkspace's, else the default.
func TestClientWorkspace(t *testing.T) {
	e := newDatasetEnv(t)
	ctx := context.Background()
	c := httpapi.NewClient(e.srv.URL, nil)
	a := c.WithWorkspace("team-a")
	if _, _, err := a.CreateDatasetVersion(ctx, &loopml.DatasetVersion{Name: "d", Root: blake3A}); err != nil {
		t.Fatal(err)
	}
	count := func(c *httpapi.Client, ctx context.Context) int {
		t.Helper()
		list, err := c.ListDatasets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	b := loopml.NewContextWithWorkspace(ctx, "team-b")
	if n := count(c, ctx); n != 0 {
		t.Errorf("plain client lists %d datasets in the default workspace, want 0", n)
	}
	if n := count(a, ctx); n != 1 {
		t.Errorf("WithWorkspace(team-a) lists %d, want 1", n)
	}
	if n := count(a, b); n != 0 {
		t.Errorf("context team-b over WithWorkspace(team-a) lists %d, want 0", n)
	}
	if n := count(c, loopml.NewContextWithWorkspace(ctx, "team-a")); n != 1 {
		t.Errorf("context team-a lists %d, want 1", n)
	}
	_, err := c.WithWorkspace("bad name").ListDatasets(ctx)
	if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "X-Loopml-Workspace") {
		t.Errorf("bad workspace: %v, want EINVALID naming the header", err)
	}
}
