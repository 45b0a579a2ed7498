package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/sqlstore"
)

const pipelinesPath = "/api/2.0/loopml/pipelines/"

// newPipelineEnv starts a server whose store also serves the pipeline
// routes, with a source check that knows one bad spec.
func newPipelineEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, func(c *httpapi.Config) {
		c.Pipelines = c.Runs.(loopml.PipelineService)
		c.CheckPipelineSource = func(src *loopml.PipelineSource) (string, error) {
			if strings.Contains(src.Spec, "bogus") {
				return "", loopml.Errorf(loopml.EINVALID, "loopml.yaml:3: unknown key \"bogus\"")
			}
			return "p", nil
		}
	})
}

func TestPipelineAPIBadInput(t *testing.T) {
	e := newPipelineEnv(t)
	for _, tc := range []struct {
		method, path, body string
		field              string
	}{
		{"POST", "runs/submit", `{}`, "'path'"},
		{"POST", "runs/submit", `{"source": {"spec": "stages: {}"}}`, "'dir'"},
		{"POST", "runs/submit", `{"source": {"path": "/p", "spec": "x", "dir": "/d"}}`, "'spec'"},
		{"POST", "runs/submit", `{"source": {"path": "/p"}, "policy": "later"}`, "'policy'"},
		{"POST", "runs/submit", `{"source": {"path": "/p", "set": ["novalue"]}}`, "'set'"},
		{"POST", "runs/submit", `{"source": {"path": "/p"}, "priority": 1}`, "priority"},
		{"POST", "runs/submit", `{"source": {"path": 3}}`, "'source.path'"},
		{"POST", "runs/submit", `{"source": {"spec": "stages:\n  s:\n    bogus: 1\n", "dir": "/d"}}`, "loopml.yaml:3"},
		{"GET", "runs/get", ``, "'id'"},
		{"GET", "runs/list?status=done", ``, "'status'"},
		{"GET", "runs/list?max_results=x", ``, "'max_results'"},
		{"POST", "runs/cancel", `{}`, "'id'"},
		{"POST", "triggers/create", `{"source": {"path": "/p"}, "kind": "api"}`, "'name'"},
		{"POST", "triggers/create", `{"name": "t", "source": {"path": "/p"}, "kind": "hourly"}`, "'kind'"},
		{"POST", "triggers/create", `{"name": "t", "source": {"path": "/p"}, "kind": "cron"}`, "'schedule'"},
		{"POST", "triggers/create", `{"name": "t", "source": {"path": "/p"}, "kind": "data"}`, "'dataset'"},
		{"POST", "triggers/create", `{"name": "t", "kind": "api"}`, "'path'"},
		{"GET", "triggers/get", ``, "'name'"},
		{"DELETE", "triggers/delete", ``, "'name'"},
		{"POST", "triggers/fire", `{}`, "'name'"},
	} {
		r := e.do(tc.method, pipelinesPath+tc.path, tc.body)
		r.isError(t, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", tc.field)
	}
	e.do("GET", pipelinesPath+"runs/get?id=nope", "").isError(t, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "nope")
	e.do("POST", pipelinesPath+"triggers/fire", `{"name": "nope"}`).isError(t, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "nope")
}

func TestPipelineAPIUnimplemented(t *testing.T) {
	e := newEnv(t)
	e.do("GET", pipelinesPath+"runs/list", "").isError(t, http.StatusNotImplemented, "NOT_IMPLEMENTED")
}

func TestPipelineAPIClient(t *testing.T) {
	e := newPipelineEnv(t)
	c := httpapi.NewClient(e.srv.URL, nil)
	ctx := context.Background()
	run, err := c.SubmitPipelineRun(ctx, loopml.PipelineSource{Path: "/srv/p"}, loopml.PipelinePolicySkip)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != loopml.PipelineQueued || run.Pipeline != "p" || !strings.HasPrefix(run.StartedBy, "api call by ") {
		t.Fatalf("submitted = %+v", run)
	}
	_, err = c.SubmitPipelineRun(ctx, loopml.PipelineSource{Path: "/srv/p"}, loopml.PipelinePolicySkip)
	if loopml.ErrorCode(err) != loopml.ECONFLICT {
		t.Fatalf("second skip submission: %v, want conflict", err)
	}
	got, err := c.GetPipelineRun(ctx, run.ID)
	if err != nil || got.ID != run.ID || got.Source.Path != "/srv/p" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	runs, err := c.ListPipelineRuns(ctx, loopml.PipelineRunQuery{Status: loopml.PipelineQueued})
	if err != nil || len(runs) != 1 {
		t.Fatalf("list = %v, %v", runs, err)
	}
	got, err = c.CancelPipelineRun(ctx, run.ID, "no longer needed")
	if err != nil || got.Status != loopml.PipelineCancelled || got.Reason != "no longer needed" {
		t.Fatalf("cancel = %+v, %v", got, err)
	}

	tr := &loopml.PipelineTrigger{Name: "hook", Kind: loopml.TriggerAPI, Source: loopml.PipelineSource{Path: "/srv/p"}, Policy: loopml.PipelinePolicyQueue, Enabled: true}
	if err := c.CreatePipelineTrigger(ctx, tr); err != nil {
		t.Fatal(err)
	}
	if tr.Workspace != loopml.DefaultWorkspace || tr.CreationTimestamp == 0 || !tr.Enabled {
		t.Fatalf("created trigger = %+v", tr)
	}
	if err := c.CreatePipelineTrigger(ctx, tr); loopml.ErrorCode(err) != loopml.ECONFLICT {
		t.Fatalf("duplicate trigger: %v", err)
	}
	fired, err := c.FirePipelineTrigger(ctx, "hook")
	if err != nil || fired.Trigger != "hook" || fired.Status != loopml.PipelineQueued || fired.Policy != loopml.PipelinePolicyQueue {
		t.Fatalf("fire = %+v, %v", fired, err)
	}
	list, err := c.ListPipelineTriggers(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "hook" {
		t.Fatalf("triggers = %v, %v", list, err)
	}
	if g, err := c.GetPipelineTrigger(ctx, "hook"); err != nil || g.Kind != loopml.TriggerAPI {
		t.Fatalf("get trigger = %+v, %v", g, err)
	}
	if err := c.DeletePipelineTrigger(ctx, "hook"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeletePipelineTrigger(ctx, "hook"); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
}

// FuzzPipelineRequests: whatever the body, the pipeline routes answer 200,
// 400, 404 or 409, never 500.
func FuzzPipelineRequests(f *testing.F) {
	db, err := sqlstore.Open(context.Background(), "sqlite::memory:", sqlstore.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	h := httpapi.NewServer(httpapi.Config{Experiments: db, Runs: db, Pipelines: db}).Handler()
	for _, s := range []string{`{"source": {"path": "/p"}}`, `{"name": "t", "source": {"spec": "x", "dir": "/d"}, "kind": "cron", "schedule": "* * * * *"}`,
		`{"id": "x"}`, `{"name": "t"}`, `{"source": {"path": "/p", "set": ["a=1"]}, "policy": "replace"}`, `[]`, `{"source": null}`} {
		for _, route := range []string{"runs/submit", "runs/cancel", "triggers/create", "triggers/fire"} {
			f.Add(route, s)
		}
	}
	f.Fuzz(func(t *testing.T, route, body string) {
		switch route {
		case "runs/submit", "runs/cancel", "triggers/create", "triggers/fire":
		default:
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", pipelinesPath+route, strings.NewReader(body)))
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
		default:
			t.Fatalf("POST %s %q: status %d: %s", route, body, rec.Code, rec.Body.String())
		}
	})
}
