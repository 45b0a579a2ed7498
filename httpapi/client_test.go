package httpapi_test

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
)

func TestClientRoundTrip(t *testing.T) {
	testClientRoundTrip(t, newEnv(t))
}

// TestClientRoundTripPostgres runs the same round trip on PostgreSQL.
func TestClientRoundTripPostgres(t *testing.T) {
	testClientRoundTrip(t, newEnvDSN(t, postgresDSN(t)))
}

func testClientRoundTrip(t *testing.T, e *env) {
	ctx := loopml.NewContextWithRequestID(context.Background(), "client-req-1")
	c := httpapi.NewClient(e.srv.URL+"/", nil)

	if err := c.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}

	// Experiments.
	exp := &loopml.Experiment{Name: "client-exp", Tags: []loopml.Tag{{Key: "team", Value: "ml"}}}
	if err := c.CreateExperiment(ctx, exp); err != nil {
		t.Fatal(err)
	}
	if exp.ID == "" || exp.LifecycleStage != loopml.LifecycleActive || exp.CreationTime == 0 || exp.ArtifactLocation != "mlflow-artifacts:/"+exp.ID {
		t.Errorf("created experiment = %+v", exp)
	}
	errCode(t, c.CreateExperiment(ctx, &loopml.Experiment{Name: "client-exp"}), loopml.ECONFLICT, "client-exp")
	errCode(t, c.CreateExperiment(ctx, &loopml.Experiment{}), loopml.EINVALID, "'name'")
	got, err := c.GetExperimentByName(ctx, "client-exp")
	if err != nil || got.ID != exp.ID || len(got.Tags) != 1 || got.Tags[0].Key != "team" {
		t.Errorf("GetExperimentByName = %+v, %v", got, err)
	}
	_, err = c.GetExperiment(ctx, "424242")
	errCode(t, err, loopml.ENOTFOUND, "424242")
	if err := c.RenameExperiment(ctx, exp.ID, "client-exp-2"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetExperimentTag(ctx, exp.ID, loopml.Tag{Key: "k", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	exps, next, err := c.SearchExperiments(ctx, loopml.ExperimentSearch{Filter: "name = 'client-exp-2'"})
	if err != nil || len(exps) != 1 || next != "" || exps[0].Name != "client-exp-2" {
		t.Errorf("SearchExperiments = %v %q %v", exps, next, err)
	}
	if err := c.DeleteExperiment(ctx, exp.ID); err != nil {
		t.Fatal(err)
	}
	exps, _, err = c.SearchExperiments(ctx, loopml.ExperimentSearch{ViewType: loopml.DeletedOnly})
	if err != nil || len(exps) != 1 || exps[0].ID != exp.ID {
		t.Errorf("deleted search = %v %v", exps, err)
	}
	if err := c.RestoreExperiment(ctx, exp.ID); err != nil {
		t.Fatal(err)
	}

	// Runs.
	run := &loopml.Run{ExperimentID: exp.ID, Name: "r1", StartTime: 1000, Tags: []loopml.Tag{{Key: "a", Value: "b"}}}
	if err := c.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if len(run.ID) != 32 || run.Status != loopml.RunRunning || run.Name != "r1" || !strings.HasSuffix(run.ArtifactURI, run.ID+"/artifacts") {
		t.Errorf("created run = %+v", run)
	}
	batch := loopml.Batch{
		Metrics: []loopml.Metric{
			{Key: "nan", Value: math.NaN(), Timestamp: 1, Step: 0},
			{Key: "inf", Value: math.Inf(1), Timestamp: 1, Step: 0},
			{Key: "ninf", Value: math.Inf(-1), Timestamp: 1, Step: 0},
			{Key: "x", Value: 0.1, Timestamp: 2, Step: 1},
			{Key: "x", Value: 0.2, Timestamp: 3, Step: 2},
		},
		Params: []loopml.Param{{Key: "lr", Value: "0.01"}},
		Tags:   []loopml.Tag{{Key: "stage", Value: "dev"}},
	}
	if err := c.LogBatch(ctx, run.ID, batch); err != nil {
		t.Fatal(err)
	}
	errCode(t, c.LogBatch(ctx, run.ID, loopml.Batch{Params: []loopml.Param{{Key: "lr", Value: "0.02"}}}), loopml.EINVALID, "lr")
	errCode(t, c.LogBatch(ctx, strings.Repeat("0", 32), batch), loopml.ENOTFOUND, "")
	if err := c.LogInputs(ctx, run.ID, []loopml.DatasetInput{{
		Dataset: loopml.Dataset{Name: "d", Digest: "1", SourceType: "local", Source: "s"},
		Tags:    []loopml.Tag{{Key: loopml.TagDatasetContext, Value: "train"}},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTag(ctx, run.ID, "a"); err != nil {
		t.Fatal(err)
	}
	errCode(t, c.DeleteTag(ctx, run.ID, "a"), loopml.ENOTFOUND, "")

	r, err := c.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string]float64{}
	for _, m := range r.Metrics {
		latest[m.Key] = m.Value
	}
	if !math.IsNaN(latest["nan"]) || !math.IsInf(latest["inf"], 1) || !math.IsInf(latest["ninf"], -1) || latest["x"] != 0.2 {
		t.Errorf("latest metrics = %v", r.Metrics)
	}
	if len(r.Params) != 1 || r.Params[0] != (loopml.Param{Key: "lr", Value: "0.01"}) {
		t.Errorf("params = %v", r.Params)
	}
	if len(r.Inputs) != 1 || r.Inputs[0].Dataset.Name != "d" {
		t.Errorf("inputs = %v", r.Inputs)
	}

	hist, next, err := c.GetMetricHistory(ctx, loopml.MetricHistoryQuery{RunID: run.ID, Key: "x", MaxResults: 1})
	if err != nil || len(hist) != 1 || next == "" || hist[0].Value != 0.1 {
		t.Fatalf("history page 1 = %v %q %v", hist, next, err)
	}
	hist, next, err = c.GetMetricHistory(ctx, loopml.MetricHistoryQuery{RunID: run.ID, Key: "x", PageToken: next})
	if err != nil || len(hist) != 1 || next != "" || hist[0].Value != 0.2 || hist[0].Step != 2 {
		t.Errorf("history page 2 = %v %q %v", hist, next, err)
	}
	start, end := int64(0), int64(5)
	bulk, err := c.GetMetricHistoryBulkInterval(ctx, loopml.MetricBulkIntervalQuery{RunIDs: []string{run.ID}, Key: "x", StartStep: &start, EndStep: &end, MaxResults: 10})
	if err != nil || len(bulk) != 2 || bulk[0].RunID != run.ID {
		t.Errorf("bulk = %v %v", bulk, err)
	}

	status, endTime, name := loopml.RunFinished, int64(5000), "renamed"
	r, err = c.UpdateRun(ctx, run.ID, loopml.RunUpdate{Status: &status, EndTime: &endTime, Name: &name})
	if err != nil || r.Status != loopml.RunFinished || r.EndTime != 5000 || r.Name != "renamed" || len(r.Params) != 1 {
		t.Errorf("UpdateRun = %+v %v", r, err)
	}
	runs, next, err := c.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{exp.ID}, Filter: "params.lr = '0.01'", OrderBy: []string{"metrics.x DESC"}})
	if err != nil || len(runs) != 1 || runs[0].ID != run.ID || next != "" {
		t.Errorf("SearchRuns = %v %q %v", runs, next, err)
	}
	if err := c.DeleteRun(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	runs, _, err = c.SearchRuns(ctx, loopml.RunSearch{ExperimentIDs: []string{exp.ID}})
	if err != nil || len(runs) != 0 {
		t.Errorf("active search after delete = %v %v", runs, err)
	}
	if err := c.RestoreRun(ctx, run.ID); err != nil {
		t.Fatal(err)
	}

	// Artifacts.
	root := exp.ID + "/" + run.ID + "/artifacts"
	content := strings.Repeat("weights ", 1000)
	if err := c.UploadArtifact(ctx, root+"/model dir/w ü.bin", strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := c.DownloadArtifact(ctx, root+"/model dir/w ü.bin", &buf)
	if err != nil || n != int64(len(content)) || buf.String() != content {
		t.Errorf("download = %d %v", n, err)
	}
	_, err = c.DownloadArtifact(ctx, root+"/missing", &buf)
	errCode(t, err, loopml.ENOTFOUND, "")
	errCode(t, c.UploadArtifact(ctx, "../escape", strings.NewReader("x")), loopml.EINVALID, "..")
	files, err := c.ListArtifacts(ctx, run.ID, "model dir")
	if err != nil || len(files) != 1 || files[0].Path != "model dir/w ü.bin" || files[0].Size != int64(len(content)) {
		t.Errorf("ListArtifacts = %+v %v", files, err)
	}

	if !strings.Contains(e.logs.String(), `"request_id":"client-req-1"`) {
		t.Errorf("client did not forward the context's request id")
	}
}

func TestClientErrorDecoding(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		code   string
		msg    string
	}{
		{"mlflow not found", 404, `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run 'x' not found"}`, loopml.ENOTFOUND, "Run 'x' not found"},
		{"mlflow conflict", 400, `{"error_code":"RESOURCE_ALREADY_EXISTS","message":"exists"}`, loopml.ECONFLICT, "exists"},
		{"mlflow invalid", 400, `{"error_code":"INVALID_PARAMETER_VALUE","message":"bad 'step'"}`, loopml.EINVALID, "bad 'step'"},
		{"mlflow internal", 500, `{"error_code":"INTERNAL_ERROR","message":"internal error"}`, loopml.EINTERNAL, "internal error"},
		{"mlflow bad request", 400, `{"error_code":"BAD_REQUEST","message":"nope"}`, loopml.EINVALID, "nope"},
		{"unknown code by status", 503, `{"error_code":"SOMETHING","message":"busy"}`, loopml.EUNAVAILABLE, "busy"},
		{"html 404", 404, `<html>Not Found</html>`, loopml.ENOTFOUND, "404"},
		{"plain 405", 405, "Method Not Allowed", loopml.EINVALID, "Method Not Allowed"},
		{"empty 502", 502, ``, loopml.EUNAVAILABLE, "502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := httpapi.NewClient(srv.URL, srv.Client()).GetRun(context.Background(), "x")
			errCode(t, err, tt.code, tt.msg)
		})
	}

	// Transport failures are EUNAVAILABLE; a cancelled context is returned as is.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := httpapi.NewClient(url, nil).Health(context.Background())
	errCode(t, err, loopml.EUNAVAILABLE, "failed")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := httpapi.NewClient(url, nil).Health(ctx); err != context.Canceled {
		t.Errorf("cancelled = %v, want context.Canceled", err)
	}
}
