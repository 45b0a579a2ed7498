package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestRunLifecycle(t *testing.T) {
	e := newEnv(t)
	exp := e.createExperiment("runs")

	m := e.post("runs/create", `{"experiment_id":"`+exp+`","run_name":"first","start_time":"1700000000000",
		"tags":[{"key":"mlflow.user","value":"ann"}],"user_id":"ann","unknown_field":[1,2]}`).ok(t)
	info := dig(m, "run", "info").(map[string]any)
	id := info["run_id"].(string)
	if info["run_uuid"] != id {
		t.Errorf("run_uuid %v != run_id %v", info["run_uuid"], id)
	}
	for k, want := range map[string]any{
		"run_name": "first", "experiment_id": exp, "status": "RUNNING", "start_time": 1700000000000.0,
		"artifact_uri": "mlflow-artifacts:/" + exp + "/" + id + "/artifacts", "lifecycle_stage": "active", "user_id": "ann",
	} {
		if info[k] != want {
			t.Errorf("info.%s = %v, want %v", k, info[k], want)
		}
	}
	if _, has := info["end_time"]; has {
		t.Errorf("end_time present on a running run: %v", info)
	}

	// Logging through each single-item endpoint, with run_id or run_uuid.
	e.post("runs/log-metric", `{"run_id":"`+id+`","key":"loss","value":0.5,"timestamp":10,"step":1}`).ok(t)
	e.post("runs/log-metric", `{"run_uuid":"`+id+`","key":"loss","value":"NaN","timestamp":"11","step":"2"}`).ok(t)
	e.post("runs/log-metric", `{"run_id":"`+id+`","key":"up","value":"Infinity","timestamp":12}`).ok(t)
	e.post("runs/log-metric", `{"run_id":"`+id+`","key":"down","value":"-Infinity","timestamp":12}`).ok(t)
	e.post("runs/log-parameter", `{"run_id":"`+id+`","key":"lr","value":"0.1"}`).ok(t)
	e.post("runs/log-parameter", `{"run_id":"`+id+`","key":"lr","value":"0.1"}`).ok(t) // same value again is fine
	e.post("runs/log-parameter", `{"run_id":"`+id+`","key":"lr","value":"0.2"}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "lr")
	e.post("runs/set-tag", `{"run_id":"`+id+`","key":"color","value":"red"}`).ok(t)
	e.post("runs/set-tag", `{"run_id":"`+id+`","key":"gone","value":"x"}`).ok(t)
	e.post("runs/delete-tag", `{"run_id":"`+id+`","key":"gone"}`).ok(t)
	e.post("runs/delete-tag", `{"run_id":"`+id+`","key":"gone"}`).isError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	e.post("runs/log-batch", `{"run_id":"`+id+`","metrics":[{"key":"acc","value":0.9,"timestamp":20,"step":3},{"key":"acc","value":0.95,"timestamp":21,"step":4}],
		"params":[{"key":"depth","value":"3"}],"tags":[{"key":"stage","value":"dev"}]}`).ok(t)
	e.post("runs/log-inputs", `{"run_id":"`+id+`","datasets":[{"tags":[{"key":"mlflow.data.context","value":"training"}],
		"dataset":{"name":"iris","digest":"abc","source_type":"local","source":"{\"uri\":\"x\"}","schema":"{}","profile":"{}"}}]}`).ok(t)

	m = e.get("runs/get?run_uuid=" + id).ok(t)
	data := dig(m, "run", "data").(map[string]any)
	latest := map[string]any{}
	for _, x := range data["metrics"].([]any) {
		mm := x.(map[string]any)
		latest[mm["key"].(string)] = mm["value"]
	}
	for k, want := range map[string]any{"loss": "NaN", "up": "Infinity", "down": "-Infinity", "acc": 0.95} {
		if latest[k] != want {
			t.Errorf("latest %s = %v, want %v", k, latest[k], want)
		}
	}
	if got := dig(m, "run", "inputs", "dataset_inputs", 0, "dataset", "name"); got != "iris" {
		t.Errorf("dataset input = %v", dig(m, "run", "inputs"))
	}
	tags := map[string]string{}
	for _, x := range data["tags"].([]any) {
		tt := x.(map[string]any)
		tags[tt["key"].(string)] = tt["value"].(string)
	}
	if tags["color"] != "red" || tags["stage"] != "dev" || tags["mlflow.runName"] != "first" || tags["gone"] != "" {
		t.Errorf("tags = %v", tags)
	}

	// History keeps every point, NaN included, and pages.
	m = e.get("metrics/get-history?run_id=" + id + "&metric_key=loss").ok(t)
	hist := m["metrics"].([]any)
	if len(hist) != 2 || dig(hist, 1, "value") != "NaN" || dig(hist, 0, "step") != 1.0 {
		t.Errorf("history = %v", hist)
	}
	m = e.get("metrics/get-history?run_id=" + id + "&metric_key=loss&max_results=1").ok(t)
	tok, _ := m["next_page_token"].(string)
	if len(m["metrics"].([]any)) != 1 || tok == "" {
		t.Fatalf("page 1 = %v", m)
	}
	m = e.get("metrics/get-history?run_id=" + id + "&metric_key=loss&max_results=1&page_token=" + tok).ok(t)
	if dig(m, "metrics", 0, "value") != "NaN" {
		t.Errorf("page 2 = %v", m)
	}
	if r := e.get("metrics/get-history?run_id=" + id + "&metric_key=nope"); string(r.body) != "{}" {
		t.Errorf("unknown key history = %s, want {}", r.body)
	}

	// Update by status name and by number.
	m = e.post("runs/update", `{"run_id":"`+id+`","status":"FINISHED","end_time":1700000005000,"run_name":"renamed"}`).ok(t)
	if dig(m, "run_info", "status") != "FINISHED" || dig(m, "run_info", "end_time") != 1700000005000.0 || dig(m, "run_info", "run_name") != "renamed" {
		t.Errorf("update = %v", m)
	}
	m = e.post("runs/update", `{"run_uuid":"`+id+`","status":4}`).ok(t)
	if dig(m, "run_info", "status") != "FAILED" {
		t.Errorf("update by number = %v", m)
	}

	// Delete, log to deleted run, search views, restore.
	e.post("runs/delete", `{"run_id":"`+id+`"}`).ok(t)
	e.post("runs/log-metric", `{"run_id":"`+id+`","key":"loss","value":1,"timestamp":1}`).isError(t, 400, "INVALID_PARAMETER_VALUE")
	if r := e.post("runs/search", `{"experiment_ids":["`+exp+`"]}`); string(r.body) != "{}" {
		t.Errorf("active search after delete = %s, want {}", r.body)
	}
	m = e.post("runs/search", `{"experiment_ids":[`+exp+`],"run_view_type":"DELETED_ONLY"}`).ok(t)
	if dig(m, "runs", 0, "info", "run_id") != id {
		t.Errorf("deleted search = %v", m)
	}
	e.post("runs/restore", `{"run_id":"`+id+`"}`).ok(t)
	m = e.post("runs/search", `{"experiment_ids":["`+exp+`"],"filter":"metrics.acc > 0.9","order_by":["metrics.acc DESC"]}`).ok(t)
	if dig(m, "runs", 0, "info", "run_id") != id {
		t.Errorf("filtered search = %v", m)
	}
}

func TestSearchRunsPaging(t *testing.T) {
	e := newEnv(t)
	exp := e.createExperiment("paging")
	for range 3 {
		e.createRun(exp)
	}
	seen := map[string]bool{}
	tok := ""
	for page := 0; page < 5; page++ {
		body := `{"experiment_ids":["` + exp + `"],"max_results":2`
		if tok != "" {
			body += `,"page_token":` + quote(tok)
		}
		m := e.post("runs/search", body+"}").ok(t)
		for _, r := range m["runs"].([]any) {
			seen[dig(r, "info", "run_id").(string)] = true
		}
		tok, _ = m["next_page_token"].(string)
		if tok == "" {
			break
		}
	}
	if len(seen) != 3 || tok != "" {
		t.Errorf("paged through %d runs (last token %q), want 3", len(seen), tok)
	}
}

func TestBulkInterval(t *testing.T) {
	e := newEnv(t)
	exp := e.createExperiment("bulk")
	a, b := e.createRun(exp), e.createRun(exp)
	for _, id := range []string{a, b} {
		var sb strings.Builder
		sb.WriteString(`{"run_id":"` + id + `","metrics":[`)
		for i := range 10 {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString(`{"key":"loss","value":` + string(rune('0'+i)) + `,"timestamp":5,"step":` + string(rune('0'+i)) + `}`)
		}
		sb.WriteString("]}")
		e.post("runs/log-batch", sb.String()).ok(t)
	}
	m := e.get("metrics/get-history-bulk-interval?run_ids=" + a + "&run_ids=" + b + "&metric_key=loss&max_results=3&start_step=0&end_step=9").ok(t)
	runs := map[string]int{}
	for _, x := range m["metrics"].([]any) {
		mm := x.(map[string]any)
		runs[mm["run_id"].(string)]++
		if mm["key"] != "loss" {
			t.Errorf("metric %v", mm)
		}
	}
	if runs[a] == 0 || runs[b] == 0 || runs[a] > 4 {
		t.Errorf("points per run = %v", runs)
	}
	tooMany := strings.Repeat("run_ids=x&", 101)
	tests := []struct {
		name, query string
		msg         string
	}{
		{"no run_ids", "metric_key=loss", "'run_ids'"},
		{"no metric_key", "run_ids=" + a, "'metric_key'"},
		{"too many runs", tooMany + "metric_key=loss", "'run_ids'"},
		{"max_results zero", "run_ids=" + a + "&metric_key=loss&max_results=0", "'max_results'"},
		{"max_results text", "run_ids=" + a + "&metric_key=loss&max_results=ten", "'max_results'"},
		{"start without end", "run_ids=" + a + "&metric_key=loss&start_step=1", "'end_step'"},
		{"end before start", "run_ids=" + a + "&metric_key=loss&start_step=5&end_step=1", "'end_step'"},
		{"bad step", "run_ids=" + a + "&metric_key=loss&start_step=x&end_step=1", "'start_step'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.get("metrics/get-history-bulk-interval?"+tt.query).isError(t, 400, "INVALID_PARAMETER_VALUE", tt.msg)
		})
	}
}

func TestRunErrors(t *testing.T) {
	e := newEnv(t)
	exp := e.createExperiment("run-errors")
	id := e.createRun(exp)
	unknown := strings.Repeat("f", 32)
	key250 := strings.Repeat("k", 250)
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
		msg                      []string
	}{
		{"create unknown experiment", "POST", "runs/create", `{"experiment_id":"9999"}`, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"create bad start_time", "POST", "runs/create", `{"experiment_id":"` + exp + `","start_time":"soon"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'start_time'", `"soon"`}},
		{"create tag key too long", "POST", "runs/create", `{"experiment_id":"` + exp + `","tags":[{"key":"` + key250 + `k","value":"v"}]}`, 400, "INVALID_PARAMETER_VALUE", []string{"250"}},
		{"get missing id", "GET", "runs/get", ``, 400, "INVALID_PARAMETER_VALUE", []string{"'run_id'"}},
		{"get unknown", "GET", "runs/get?run_id=" + unknown, ``, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"update bad status", "POST", "runs/update", `{"run_id":"` + id + `","status":"DONE"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'status'", "FINISHED"}},
		{"update status number out of range", "POST", "runs/update", `{"run_id":"` + id + `","status":9}`, 400, "INVALID_PARAMETER_VALUE", []string{"'status'"}},
		{"update bad end_time", "POST", "runs/update", `{"run_id":"` + id + `","end_time":true}`, 400, "INVALID_PARAMETER_VALUE", []string{"'end_time'"}},
		{"update unknown", "POST", "runs/update", `{"run_id":"` + unknown + `","status":"FINISHED"}`, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"delete unknown", "POST", "runs/delete", `{"run_id":"` + unknown + `"}`, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"delete missing id", "POST", "runs/delete", `{}`, 400, "INVALID_PARAMETER_VALUE", []string{"'run_id'"}},
		{"restore unknown", "POST", "runs/restore", `{"run_id":"` + unknown + `"}`, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"search bad view", "POST", "runs/search", `{"run_view_type":"SOME"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'run_view_type'"}},
		{"search bad experiment_ids", "POST", "runs/search", `{"experiment_ids":"0"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'experiment_ids'"}},
		{"search bad filter", "POST", "runs/search", `{"experiment_ids":["0"],"filter":"metrics.x >>> 1"}`, 400, "INVALID_PARAMETER_VALUE", nil},
		{"search bad order_by", "POST", "runs/search", `{"experiment_ids":["0"],"order_by":["metrics.x SIDEWAYS"]}`, 400, "INVALID_PARAMETER_VALUE", nil},
		{"log-metric missing timestamp", "POST", "runs/log-metric", `{"run_id":"` + id + `","key":"m","value":1}`, 400, "INVALID_PARAMETER_VALUE", []string{"'timestamp'"}},
		{"log-metric missing value", "POST", "runs/log-metric", `{"run_id":"` + id + `","key":"m","timestamp":1}`, 400, "INVALID_PARAMETER_VALUE", []string{"'value'"}},
		{"log-metric missing key", "POST", "runs/log-metric", `{"run_id":"` + id + `","value":1,"timestamp":1}`, 400, "INVALID_PARAMETER_VALUE", []string{"'key'"}},
		{"log-metric missing run", "POST", "runs/log-metric", `{"key":"m","value":1,"timestamp":1}`, 400, "INVALID_PARAMETER_VALUE", []string{"'run_id'"}},
		{"log-metric bad step", "POST", "runs/log-metric", `{"run_id":"` + id + `","key":"m","value":1,"timestamp":1,"step":"abc"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'step'", `"abc"`}},
		{"log-metric bad value", "POST", "runs/log-metric", `{"run_id":"` + id + `","key":"m","value":"high","timestamp":1}`, 400, "INVALID_PARAMETER_VALUE", []string{"'value'"}},
		{"log-metric invalid name", "POST", "runs/log-metric", `{"run_id":"` + id + `","key":"bad*name","value":1,"timestamp":1}`, 400, "INVALID_PARAMETER_VALUE", []string{"bad*name"}},
		{"log-metric dotdot name", "POST", "runs/log-metric", `{"run_id":"` + id + `","key":"a/../b","value":1,"timestamp":1}`, 400, "INVALID_PARAMETER_VALUE", []string{"a/../b"}},
		{"log-metric key too long", "POST", "runs/log-metric", `{"run_id":"` + id + `","key":"` + key250 + `x","value":1,"timestamp":1}`, 400, "INVALID_PARAMETER_VALUE", []string{"250"}},
		{"log-metric unknown run", "POST", "runs/log-metric", `{"run_id":"` + unknown + `","key":"m","value":1,"timestamp":1}`, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"log-param value too long", "POST", "runs/log-parameter", `{"run_id":"` + id + `","key":"p","value":"` + strings.Repeat("v", 6001) + `"}`, 400, "INVALID_PARAMETER_VALUE", []string{"6000"}},
		{"log-param missing value", "POST", "runs/log-parameter", `{"run_id":"` + id + `","key":"p"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'value'"}},
		{"log-param invalid name", "POST", "runs/log-parameter", `{"run_id":"` + id + `","key":"p?","value":"1"}`, 400, "INVALID_PARAMETER_VALUE", []string{"p?"}},
		{"set-tag value too long", "POST", "runs/set-tag", `{"run_id":"` + id + `","key":"t","value":"` + strings.Repeat("v", 8001) + `"}`, 400, "INVALID_PARAMETER_VALUE", []string{"8000"}},
		{"set-tag key too long", "POST", "runs/set-tag", `{"run_id":"` + id + `","key":"` + key250 + `x","value":"v"}`, 400, "INVALID_PARAMETER_VALUE", []string{"250"}},
		{"set-tag value wrong type", "POST", "runs/set-tag", `{"run_id":"` + id + `","key":"t","value":{"a":1}}`, 400, "INVALID_PARAMETER_VALUE", []string{"'value'"}},
		{"delete-tag missing key", "POST", "runs/delete-tag", `{"run_id":"` + id + `"}`, 400, "INVALID_PARAMETER_VALUE", []string{"'key'"}},
		{"log-batch bad step in item", "POST", "runs/log-batch", `{"run_id":"` + id + `","metrics":[{"key":"a","value":1,"timestamp":1},{"key":"b","value":1,"timestamp":1,"step":[1]}]}`, 400, "INVALID_PARAMETER_VALUE", []string{"'metrics[1].step'"}},
		{"log-batch malformed", "POST", "runs/log-batch", `{"run_id":"` + id + `","metrics":[{"key":"a",}]}`, 400, "INVALID_PARAMETER_VALUE", []string{"Malformed JSON", "metrics[0]"}},
		{"log-batch too many params", "POST", "runs/log-batch", `{"run_id":"` + id + `","params":[` + strings.TrimSuffix(strings.Repeat(`{"key":"p","value":"1"},`, 101), ",") + `]}`, 400, "INVALID_PARAMETER_VALUE", []string{"100 params"}},
		{"log-batch unknown run", "POST", "runs/log-batch", `{"run_id":"` + unknown + `"}`, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"log-batch not an object", "POST", "runs/log-batch", `[]`, 400, "INVALID_PARAMETER_VALUE", nil},
		{"log-inputs missing digest", "POST", "runs/log-inputs", `{"run_id":"` + id + `","datasets":[{"dataset":{"name":"n","source_type":"s","source":"x"}}]}`, 400, "INVALID_PARAMETER_VALUE", []string{"'datasets[0].dataset.digest'"}},
		{"log-inputs unknown run", "POST", "runs/log-inputs", `{"run_id":"` + unknown + `","datasets":[]}`, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"history missing key", "GET", "metrics/get-history?run_id=" + id, ``, 400, "INVALID_PARAMETER_VALUE", []string{"'metric_key'"}},
		{"history unknown run", "GET", "metrics/get-history?run_id=" + unknown + "&metric_key=m", ``, 404, "RESOURCE_DOES_NOT_EXIST", nil},
		{"history bad max_results", "GET", "metrics/get-history?run_id=" + id + "&metric_key=m&max_results=x", ``, 400, "INVALID_PARAMETER_VALUE", []string{"'max_results'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.do(tt.method, "/api/2.0/mlflow/"+tt.path, tt.body).isError(t, tt.status, tt.code, tt.msg...)
		})
	}

	// Nothing of a rejected batch was written.
	m := e.get("runs/get?run_id=" + id).ok(t)
	if ms := dig(m, "run", "data", "metrics"); ms != nil {
		t.Errorf("metrics written by rejected requests: %v", ms)
	}
}

func TestRunGolden(t *testing.T) {
	e := newEnv(t)
	exp := e.createExperiment("golden-runs")
	r := e.post("runs/create", `{"experiment_id":"`+exp+`","run_name":"gold","start_time":1700000000000,"tags":[{"key":"k","value":"v"}]}`)
	golden(t, "run_create", r.body)
	id := dig(r.ok(t), "run", "info", "run_id").(string)
	e.post("runs/log-batch", `{"run_id":"`+id+`","metrics":[{"key":"nan","value":"NaN","timestamp":1,"step":0},
		{"key":"inf","value":"Infinity","timestamp":1},{"key":"x","value":1.25e-7,"timestamp":2,"step":7}],
		"params":[{"key":"empty","value":""}]}`).ok(t)
	e.post("runs/update", `{"run_id":"`+id+`","status":"FINISHED","end_time":1700000001000}`).ok(t)
	r = e.get("runs/get?run_id=" + id)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	golden(t, "run_get", r.body)
	golden(t, "metric_history", e.get("metrics/get-history?run_id="+id+"&metric_key=nan").body)
	golden(t, "error_not_found", e.get("runs/get?run_id="+strings.Repeat("0", 32)).body)
}
