package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
)

// newRegistryEnv is newEnvDSN with the metadata store also serving the
// registry.
func newRegistryEnv(t *testing.T, dsn string) *env {
	t.Helper()
	return newEnvDSN(t, dsn, func(c *httpapi.Config) { c.Registry = c.Experiments.(loopml.ModelRegistry) })
}

// registryTests run against SQLite and, when configured, PostgreSQL.
var registryTests = []struct {
	name string
	fn   func(t *testing.T, e *env)
}{
	{"RegisteredModelEndpoints", testRegisteredModelEndpoints},
	{"SearchRegisteredModelsPagination", testSearchRegisteredModelsPagination},
	{"ModelVersionEndpoints", testModelVersionEndpoints},
	{"AliasEndpoints", testAliasEndpoints},
	{"HistoryEndpoints", testRegistryHistoryEndpoints},
	{"LineageEndpoint", testLineageEndpoint},
	{"ClientRoundTrip", testRegistryClientRoundTrip},
}

func TestRegistrySQLite(t *testing.T) {
	for _, tc := range registryTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newRegistryEnv(t, "")) })
	}
}

func TestRegistryPostgres(t *testing.T) {
	for _, tc := range registryTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newRegistryEnv(t, postgresDSN(t))) })
	}
}

func (e *env) patch(path, body string) response { return e.do("PATCH", "/api/2.0/mlflow/"+path, body) }
func (e *env) del(path, body string) response   { return e.do("DELETE", "/api/2.0/mlflow/"+path, body) }

var registryTimePattern = regexp.MustCompile(`"(creation_timestamp|last_updated_timestamp|time)": ?\d+`)

// registryGolden is golden with registry clocks normalised too.
func registryGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	golden(t, name, registryTimePattern.ReplaceAll(body, []byte(`"$1":0`)))
}

// createModel creates a registered model and fails the test otherwise.
func (e *env) createModel(name string) {
	e.t.Helper()
	e.post("registered-models/create", `{"name":`+quote(name)+`}`).ok(e.t)
}

// createVersion registers source as a new version of name and returns the
// version number.
func (e *env) createVersion(name, source string) string {
	e.t.Helper()
	m := e.post("model-versions/create", `{"name":`+quote(name)+`,"source":`+quote(source)+`}`).ok(e.t)
	v, _ := dig(m, "model_version", "version").(string)
	if v == "" {
		e.t.Fatalf("no version in %v", m)
	}
	return v
}

func testRegisteredModelEndpoints(t *testing.T, e *env) {
	r := e.post("registered-models/create", `{"name":"churn","description":"predicts churn","tags":[{"key":"team","value":"growth"}]}`)
	m := r.ok(t)
	registryGolden(t, "registry_model_create", r.body)
	if dig(m, "registered_model", "creation_timestamp") == nil {
		t.Errorf("no creation_timestamp: %v", m)
	}

	e.post("registered-models/create", `{"name":"churn"}`).isError(t, 400, "RESOURCE_ALREADY_EXISTS", "churn")
	e.post("registered-models/create", `{"description":"x"}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "'name'")
	e.post("registered-models/create", `{"name":7}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "name")
	e.get("registered-models/get?name=nope").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "nope")
	e.get("registered-models/get").isError(t, 400, "INVALID_PARAMETER_VALUE", "'name'")

	// update: PATCH only; a POST is not routed.
	m = e.patch("registered-models/update", `{"name":"churn","description":"v2"}`).ok(t)
	if got := dig(m, "registered_model", "description"); got != "v2" {
		t.Errorf("description after update = %v", got)
	}
	if r := e.post("registered-models/update", `{"name":"churn"}`); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST update: status %d", r.status)
	}
	e.patch("registered-models/update", `{"name":"nope","description":"x"}`).isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "nope")

	// tags: set, delete with a JSON body (Python client) and with the query string.
	e.post("registered-models/set-tag", `{"name":"churn","key":"owner","value":"ann"}`).ok(t)
	e.post("registered-models/set-tag", `{"name":"churn","key":"owner"}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "'value'")
	e.post("registered-models/set-tag", `{"name":"nope","key":"k","value":"v"}`).isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "nope")
	e.del("registered-models/delete-tag", `{"name":"churn","key":"owner"}`).ok(t)
	e.del("registered-models/delete-tag?name=churn&key=team", "").ok(t)
	e.del("registered-models/delete-tag?name=churn", "").isError(t, 400, "INVALID_PARAMETER_VALUE", "'key'")
	m = e.get("registered-models/get?name=churn").ok(t)
	if tags := dig(m, "registered_model", "tags"); tags != nil {
		t.Errorf("tags after deleting both = %v", tags)
	}

	// rename moves versions and aliases; the old name is then 404.
	v := e.createVersion("churn", "mlflow-artifacts:/0/abc/artifacts/model")
	e.post("registered-models/alias", `{"name":"churn","alias":"champion","version":"`+v+`"}`).ok(t)
	e.post("registered-models/rename", `{"name":"churn","new_name":"churn2"}`).ok(t)
	e.post("registered-models/rename", `{"name":"churn2"}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "'new_name'")
	e.get("registered-models/get?name=churn").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "churn")
	m = e.get("registered-models/alias?name=churn2&alias=champion").ok(t)
	if dig(m, "model_version", "name") != "churn2" || dig(m, "model_version", "version") != v {
		t.Errorf("alias after rename = %v", m)
	}
	e.createModel("other")
	e.post("registered-models/rename", `{"name":"other","new_name":"churn2"}`).isError(t, 400, "RESOURCE_ALREADY_EXISTS", "churn2")

	// delete: DELETE with a body or the query string.
	e.del("registered-models/delete", `{"name":"other"}`).ok(t)
	e.del("registered-models/delete?name=churn2", "").ok(t)
	e.del("registered-models/delete?name=churn2", "").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "churn2")
	e.get("model-versions/get?name=churn2&version="+v).isError(t, 404, "RESOURCE_DOES_NOT_EXIST")
}

func testSearchRegisteredModelsPagination(t *testing.T, e *env) {
	for _, n := range []string{"b-model", "a-model", "c-model", "other"} {
		e.createModel(n)
	}
	var names []string
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		q := url.Values{"filter": {"name LIKE '%-model'"}, "max_results": {"2"}, "order_by": {"name DESC"}}
		if tok != "" {
			q.Set("page_token", tok)
		}
		m := e.get("registered-models/search?" + q.Encode()).ok(t)
		list, _ := m["registered_models"].([]any)
		if len(list) > 2 {
			t.Fatalf("page of %d > max_results 2", len(list))
		}
		for _, x := range list {
			names = append(names, x.(map[string]any)["name"].(string))
		}
		tok, _ = m["next_page_token"].(string)
		if tok == "" {
			break
		}
	}
	if got := strings.Join(names, ","); got != "c-model,b-model,a-model" {
		t.Errorf("search pages = %s", got)
	}
	e.get("registered-models/search?max_results=-1").isError(t, 400, "INVALID_PARAMETER_VALUE", "max_results")
	e.get("registered-models/search?max_results=1001").isError(t, 400, "INVALID_PARAMETER_VALUE", "max_results")
	e.get("registered-models/search?max_results=x").isError(t, 400, "INVALID_PARAMETER_VALUE", "max_results")
	e.get("registered-models/search?filter="+url.QueryEscape("params.x = 1")).isError(t, 400, "INVALID_PARAMETER_VALUE")
	// The /ajax-api mirror answers too.
	if r := e.do("GET", "/ajax-api/2.0/mlflow/registered-models/search", ""); r.status != 200 {
		t.Errorf("ajax search: %d %s", r.status, r.body)
	}
}

func testModelVersionEndpoints(t *testing.T, e *env) {
	exp := e.createExperiment("exp")
	run := e.createRun(exp)
	e.createModel("churn")

	// runs:/ sources resolve to the run's artifact URI and set run_id.
	r := e.post("model-versions/create", `{"name":"churn","source":"runs:/`+run+`/model","description":"first",
		"tags":[{"key":"k","value":"v"}],"run_link":"http://x/run"}`)
	m := r.ok(t)
	registryGolden(t, "registry_version_create", r.body)
	mv := m["model_version"].(map[string]any)
	if mv["source"] != "mlflow-artifacts:/"+exp+"/"+run+"/artifacts/model" || mv["run_id"] != run ||
		mv["version"] != "1" || mv["current_stage"] != "None" || mv["status"] != "READY" {
		t.Errorf("created version = %v", mv)
	}
	e.post("model-versions/create", `{"name":"churn","source":"runs:/`+strings.Repeat("f", 32)+`/model"}`).isError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	e.post("model-versions/create", `{"name":"churn","source":"runs:/`+run+`/../x"}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "source")
	e.post("model-versions/create", `{"name":"churn"}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "'source'")
	e.post("model-versions/create", `{"name":"nope","source":"s3://b/m"}`).isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "nope")

	// Other sources are kept as given.
	for i, src := range []string{"mlflow-artifacts:/1/2/artifacts/model", "models:/churn/1"} {
		v := e.createVersion("churn", src)
		if want := strconv.Itoa(i + 2); v != want {
			t.Errorf("version = %s, want %s", v, want)
		}
		m = e.get("model-versions/get-download-uri?name=churn&version=" + v).ok(t)
		if m["artifact_uri"] != src {
			t.Errorf("download uri = %v, want %s", m["artifact_uri"], src)
		}
	}

	m = e.get("model-versions/get?name=churn&version=1").ok(t)
	if dig(m, "model_version", "description") != "first" {
		t.Errorf("get = %v", m)
	}
	e.get("model-versions/get?name=churn&version=9").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "churn")
	e.get("model-versions/get?name=churn").isError(t, 400, "INVALID_PARAMETER_VALUE", "'version'")
	e.get("model-versions/get-download-uri?name=churn").isError(t, 400, "INVALID_PARAMETER_VALUE", "'version'")
	e.get("model-versions/get-download-uri?name=nope&version=1").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "nope")
	e.patch("model-versions/update", `{"name":"churn","version":"9","description":"x"}`).isError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	e.patch("model-versions/update", `{"name":"churn","version":{}}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "version")
	e.del("model-versions/delete-tag?name=churn&version=1", "").isError(t, 400, "INVALID_PARAMETER_VALUE", "'key'")
	e.post("model-versions/transition-stage", `{"name":"churn","version":"1"}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "'stage'")
	e.post("model-versions/transition-stage", `{"name":"churn","version":"9","stage":"Staging"}`).isError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	m = e.patch("model-versions/update", `{"name":"churn","version":2,"description":"numeric version ok"}`).ok(t)
	if dig(m, "model_version", "description") != "numeric version ok" {
		t.Errorf("update = %v", m)
	}

	e.post("model-versions/set-tag", `{"name":"churn","version":"1","key":"validated","value":"yes"}`).ok(t)
	e.del("model-versions/delete-tag", `{"name":"churn","version":"1","key":"validated"}`).ok(t)
	e.del("model-versions/delete-tag?name=churn&version=1&key=k", "").ok(t)
	e.post("model-versions/set-tag", `{"name":"churn","version":"7","key":"a","value":"b"}`).isError(t, 404, "RESOURCE_DOES_NOT_EXIST")

	// Stages.
	m = e.post("model-versions/transition-stage", `{"name":"churn","version":"1","stage":"production"}`).ok(t)
	if dig(m, "model_version", "current_stage") != "Production" {
		t.Errorf("stage = %v", m)
	}
	e.post("model-versions/transition-stage", `{"name":"churn","version":"1","stage":"Prod"}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "Prod")
	e.post("model-versions/transition-stage", `{"name":"churn","version":"2","stage":"Production","archive_existing_versions":true}`).ok(t)
	m = e.get("model-versions/get?name=churn&version=1").ok(t)
	if dig(m, "model_version", "current_stage") != "Archived" {
		t.Errorf("version 1 not archived: %v", m)
	}
	m = e.post("registered-models/get-latest-versions", `{"name":"churn","stages":["Production"]}`).ok(t)
	if list := m["model_versions"].([]any); len(list) != 1 || dig(list, 0, "version") != "2" {
		t.Errorf("latest Production = %v", m)
	}
	m = e.get("registered-models/get-latest-versions?name=churn").ok(t)
	if list := m["model_versions"].([]any); len(list) != 3 {
		t.Errorf("latest per stage = %v", m)
	}
	e.post("registered-models/get-latest-versions", `{"name":"churn","stages":["Bogus"]}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "Bogus")

	// Search and delete.
	m = e.get("model-versions/search?filter=" + url.QueryEscape("run_id = '"+run+"'")).ok(t)
	if list := m["model_versions"].([]any); len(list) != 1 || dig(list, 0, "version") != "1" {
		t.Errorf("search by run_id = %v", m)
	}
	e.get("model-versions/search?max_results=200001").isError(t, 400, "INVALID_PARAMETER_VALUE", "max_results")
	e.del("model-versions/delete", `{"name":"churn","version":"3"}`).ok(t)
	e.del("model-versions/delete?name=churn&version=3", "").isError(t, 404, "RESOURCE_DOES_NOT_EXIST")
}

func testAliasEndpoints(t *testing.T, e *env) {
	e.createModel("churn")
	v1 := e.createVersion("churn", "mlflow-artifacts:/a")
	v2 := e.createVersion("churn", "mlflow-artifacts:/b")

	e.post("registered-models/alias", `{"name":"churn","alias":"champion","version":"`+v1+`"}`).ok(t)
	e.post("registered-models/alias", `{"name":"churn","alias":"challenger","version":"`+v2+`"}`).ok(t)
	e.post("registered-models/alias", `{"name":"churn","alias":"champion","version":"`+v2+`"}`).ok(t) // move
	r := e.get("registered-models/get?name=churn")
	registryGolden(t, "registry_model_aliases", r.body)
	m := r.ok(t)
	aliases := dig(m, "registered_model", "aliases").([]any)
	if len(aliases) != 2 || dig(aliases, 1, "alias") != "champion" || dig(aliases, 1, "version") != v2 {
		t.Errorf("aliases = %v", aliases)
	}
	m = e.get("registered-models/alias?name=churn&alias=champion").ok(t)
	if got := dig(m, "model_version", "aliases"); len(got.([]any)) != 2 {
		t.Errorf("version aliases = %v", got)
	}

	for _, tc := range []struct{ body, part string }{
		{`{"name":"churn","alias":"latest","version":"1"}`, "latest"},
		{`{"name":"churn","alias":"v3","version":"1"}`, "v3"},
		{`{"name":"churn","alias":"","version":"1"}`, "'alias'"},
		{`{"name":"churn","alias":"x"}`, "'version'"},
	} {
		e.post("registered-models/alias", tc.body).isError(t, 400, "INVALID_PARAMETER_VALUE", tc.part)
	}
	e.post("registered-models/alias", `{"name":"churn","alias":"x","version":"9"}`).isError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	e.post("registered-models/alias", `{"name":"nope","alias":"x","version":"1"}`).isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "nope")
	e.get("registered-models/alias?name=churn&alias=nope").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "nope")

	e.del("registered-models/alias", `{"name":"churn","alias":"challenger"}`).ok(t)
	e.del("registered-models/alias?name=churn&alias=challenger", "").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "challenger")
	// Deleting the version an alias points at removes the alias.
	e.del("model-versions/delete?name=churn&version="+v2, "").ok(t)
	e.get("registered-models/alias?name=churn&alias=champion").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "champion")
}

// moveChampion creates model "churn" with versions 1..3 and moves alias
// champion 1 -> 2 -> 3 -> (deleted) -> 1, and returns the event time of
// each move in order.
func moveChampion(t *testing.T, reg loopml.ModelRegistry) []int64 {
	t.Helper()
	ctx := context.Background()
	if err := reg.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := reg.CreateModelVersion(ctx, &loopml.ModelVersion{Name: "churn", Source: "mlflow-artifacts:/m" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []string{"1", "2", "3", "", "1"}
	for _, v := range steps {
		time.Sleep(3 * time.Millisecond) // distinct event times
		var err error
		if v == "" {
			err = reg.DeleteAlias(ctx, "churn", "champion")
		} else {
			err = reg.SetAlias(ctx, "churn", "champion", v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	evs, err := reg.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "churn", Alias: "champion"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(steps) {
		t.Fatalf("%d champion events, want %d: %+v", len(evs), len(steps), evs)
	}
	times := make([]int64, len(evs))
	for i, ev := range evs {
		times[i] = ev.Time
		if i > 0 && ev.Time <= times[i-1] {
			t.Fatalf("event times not increasing: %+v", evs)
		}
	}
	return times
}

func testRegistryHistoryEndpoints(t *testing.T, e *env) {
	reg := e.db
	times := moveChampion(t, reg)
	want := []string{"1", "2", "3", "", "1"}
	for i, ts := range times {
		for _, at := range []int64{ts, ts + 1} {
			if i+1 < len(times) && at >= times[i+1] {
				continue
			}
			m := e.do("GET", "/api/2.0/loopml/registry/alias-at?name=churn&alias=champion&time="+strconv.FormatInt(at, 10), "").ok(t)
			got, _ := m["version"].(string)
			if got != want[i] {
				t.Errorf("champion at move %d (t=%d) = %q, want %q", i, at, got, want[i])
			}
		}
	}
	m := e.do("GET", "/api/2.0/loopml/registry/alias-at?name=churn&alias=champion&time="+strconv.FormatInt(times[0]-1, 10), "").ok(t)
	if _, has := m["version"]; has {
		t.Errorf("champion before the first move = %v", m)
	}
	e.do("GET", "/api/2.0/loopml/registry/alias-at?name=churn&alias=champion", "").isError(t, 400, "INVALID_PARAMETER_VALUE", "'time'")
	e.do("GET", "/api/2.0/loopml/registry/alias-at?name=churn&alias=champion&time=yesterday", "").isError(t, 400, "INVALID_PARAMETER_VALUE", "time")

	// Events page by after_id.
	var types []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("event pages do not end")
		}
		m := e.do("GET", "/api/2.0/loopml/registry/events?name=churn&max_results=3&after_id="+after, "").ok(t)
		list, _ := m["events"].([]any)
		for _, x := range list {
			types = append(types, x.(map[string]any)["type"].(string))
		}
		next, _ := m["next_after_id"].(float64)
		if next == 0 {
			break
		}
		after = strconv.FormatInt(int64(next), 10)
	}
	wantTypes := "model_created,version_created,version_created,version_created,alias_set,alias_set,alias_set,alias_deleted,alias_set"
	if got := strings.Join(types, ","); got != wantTypes {
		t.Errorf("event types = %s\nwant %s", got, wantTypes)
	}
	m = e.do("GET", "/api/2.0/loopml/registry/events?name=churn&alias=champion&until="+strconv.FormatInt(times[1], 10), "").ok(t)
	if list := m["events"].([]any); len(list) != 2 || dig(list, 1, "from_version") != "1" || dig(list, 1, "to_version") != "2" {
		t.Errorf("events until move 2 = %v", m)
	}
	e.do("GET", "/api/2.0/loopml/registry/events?after_id=x", "").isError(t, 400, "INVALID_PARAMETER_VALUE", "after_id")
}

// seedLineage logs a run with params, metrics, a dataset input and code
// tags, and registers its model as version 1 of "churn" with alias
// champion.
func seedLineage(t *testing.T, e *env) string {
	t.Helper()
	exp := e.createExperiment("lineage")
	m := e.post("runs/create", `{"experiment_id":"`+exp+`","run_name":"train","start_time":1000}`).ok(t)
	run := dig(m, "run", "info", "run_id").(string)
	e.post("runs/log-batch", `{"run_id":"`+run+`","params":[{"key":"lr","value":"0.1"}],
		"metrics":[{"key":"auc","value":0.7,"timestamp":1,"step":0},{"key":"auc","value":0.9,"timestamp":2,"step":1}],
		"tags":[{"key":"mlflow.source.git.commit","value":"0123abc"},{"key":"mlflow.source.name","value":"train.py"},
		{"key":"mlflow.source.type","value":"LOCAL"},{"key":"loopml.git.dirty","value":"false"}]}`).ok(t)
	e.post("runs/log-inputs", `{"run_id":"`+run+`","datasets":[{"tags":[{"key":"mlflow.data.context","value":"training"}],
		"dataset":{"name":"customers","digest":"d1g3st","source_type":"local","source":"{\"uri\":\"/data/customers.csv\"}"}}]}`).ok(t)
	e.createModel("churn")
	e.post("model-versions/create", `{"name":"churn","source":"runs:/`+run+`/model"}`).ok(t)
	e.post("registered-models/alias", `{"name":"churn","alias":"champion","version":"1"}`).ok(t)
	return run
}

func testLineageEndpoint(t *testing.T, e *env) {
	run := seedLineage(t, e)
	r := e.do("GET", "/api/2.0/loopml/models/lineage?uri="+url.QueryEscape("models:/churn@champion"), "")
	m := r.ok(t)
	registryGolden(t, "registry_lineage", r.body)
	for path, want := range map[string]any{
		"model_uri":                "models:/churn@champion",
		"model_version.version":    "1",
		"run.info.run_id":          run,
		"run.data.params.0.value":  "0.1",
		"run.data.metrics.0.value": 0.9,
		"datasets.0.dataset.name":  "customers",
		"code.git_commit":          "0123abc",
		"code.source_name":         "train.py",
		"code.source_type":         "LOCAL",
		"code.git_dirty":           "false",
	} {
		var keys []any
		for _, k := range strings.Split(path, ".") {
			if n, err := strconv.Atoi(k); err == nil {
				keys = append(keys, n)
			} else {
				keys = append(keys, k)
			}
		}
		if got := dig(m, keys...); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	// The bare name/version form works too.
	if m := e.do("GET", "/api/2.0/loopml/models/lineage?uri=churn/1", "").ok(t); dig(m, "run", "info", "run_id") != run {
		t.Errorf("lineage of churn/1 = %v", m)
	}

	// A version whose run is gone, and one without a run: said, not failed.
	e.post("model-versions/create", `{"name":"churn","source":"mlflow-artifacts:/x","run_id":"`+strings.Repeat("e", 32)+`"}`).ok(t)
	e.post("model-versions/create", `{"name":"churn","source":"s3://bucket/model"}`).ok(t)
	m = e.do("GET", "/api/2.0/loopml/models/lineage?uri=models:/churn/2", "").ok(t)
	if msg, _ := m["run_error"].(string); !strings.Contains(msg, strings.Repeat("e", 32)) || m["run"] != nil {
		t.Errorf("lineage with a missing run = %v", m)
	}
	m = e.do("GET", "/api/2.0/loopml/models/lineage?uri=models:/churn/latest", "").ok(t)
	if msg, _ := m["run_error"].(string); !strings.Contains(msg, "names no run") || dig(m, "model_version", "version") != "3" {
		t.Errorf("lineage of a version without a run = %v", m)
	}

	e.do("GET", "/api/2.0/loopml/models/lineage", "").isError(t, 400, "INVALID_PARAMETER_VALUE", "'uri'")
	e.do("GET", "/api/2.0/loopml/models/lineage?uri=models:/churn/Bogus", "").isError(t, 400, "INVALID_PARAMETER_VALUE", "Bogus")
	e.do("GET", "/api/2.0/loopml/models/lineage?uri=models:/churn@nope", "").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "nope")
}

func TestRegistryNotConfigured(t *testing.T) {
	e := newEnv(t)
	e.get("registered-models/get?name=x").isError(t, 501, "NOT_IMPLEMENTED")
	e.do("GET", "/api/2.0/loopml/registry/events", "").isError(t, 501, "NOT_IMPLEMENTED")
	c := httpapi.NewClient(e.srv.URL, nil)
	_, err := c.GetRegisteredModel(context.Background(), "x")
	errCode(t, err, loopml.ENOTIMPLEMENTED, "no store")
}

func testRegistryClientRoundTrip(t *testing.T, e *env) {
	ctx := context.Background()
	c := httpapi.NewClient(e.srv.URL, nil)
	exp := e.createExperiment("client")
	run := e.createRun(exp)

	m := &loopml.RegisteredModel{Name: "churn", Description: "d", Tags: []loopml.Tag{{Key: "team", Value: "growth"}}}
	if err := c.CreateRegisteredModel(ctx, m); err != nil {
		t.Fatal(err)
	}
	if m.CreationTimestamp == 0 || m.Description != "d" || len(m.Tags) != 1 {
		t.Errorf("created model = %+v", m)
	}
	errCode(t, c.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "churn"}), loopml.ECONFLICT, "churn")
	_, err := c.GetRegisteredModel(ctx, "nope")
	errCode(t, err, loopml.ENOTFOUND, "nope")

	v := &loopml.ModelVersion{Name: "churn", Source: "runs:/" + run + "/model", Description: "first", Tags: []loopml.Tag{{Key: "k", Value: "v"}}}
	if err := c.CreateModelVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	if v.Version != "1" || v.RunID != run || !strings.HasSuffix(v.Source, run+"/artifacts/model") || v.Status != loopml.VersionReady {
		t.Errorf("created version = %+v", v)
	}
	v2 := &loopml.ModelVersion{Name: "churn", Source: "mlflow-artifacts:/x"}
	if err := c.CreateModelVersion(ctx, v2); err != nil {
		t.Fatal(err)
	}
	if err := c.SetAlias(ctx, "churn", "champion", "1"); err != nil {
		t.Fatal(err)
	}
	errCode(t, c.SetAlias(ctx, "churn", "latest", "1"), loopml.EINVALID, "latest")
	got, err := c.GetVersionByAlias(ctx, "churn", "champion")
	if err != nil || got.Version != "1" || len(got.Aliases) != 1 || got.Aliases[0] != "champion" {
		t.Errorf("GetVersionByAlias = %+v, %v", got, err)
	}
	if _, err := c.UpdateRegisteredModel(ctx, "churn", "new"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRegisteredModelTag(ctx, "churn", loopml.Tag{Key: "a", Value: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRegisteredModelTag(ctx, "churn", "team"); err != nil {
		t.Fatal(err)
	}
	gm, err := c.GetRegisteredModel(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if gm.Description != "new" || len(gm.Tags) != 1 || gm.Tags[0].Key != "a" || len(gm.Aliases) != 1 || gm.Aliases[0] != (loopml.ModelAlias{Alias: "champion", Version: "1"}) || len(gm.LatestVersions) != 1 {
		t.Errorf("model = %+v", gm)
	}
	if mv, err := c.UpdateModelVersion(ctx, "churn", "1", "better"); err != nil || mv.Description != "better" {
		t.Errorf("UpdateModelVersion = %+v, %v", mv, err)
	}
	if err := c.SetModelVersionTag(ctx, "churn", "1", loopml.Tag{Key: "x", Value: "y"}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteModelVersionTag(ctx, "churn", "1", "k"); err != nil {
		t.Fatal(err)
	}
	mv, err := c.GetModelVersion(ctx, "churn", "1")
	if err != nil || len(mv.Tags) != 1 || mv.Tags[0].Key != "x" {
		t.Errorf("GetModelVersion = %+v, %v", mv, err)
	}
	if mv, err := c.TransitionModelVersionStage(ctx, "churn", "2", loopml.StageStaging, false); err != nil || mv.CurrentStage != loopml.StageStaging {
		t.Errorf("transition = %+v, %v", mv, err)
	}
	_, err = c.TransitionModelVersionStage(ctx, "churn", "2", "Nope", false)
	errCode(t, err, loopml.EINVALID, "Nope")
	if vs, err := c.GetLatestVersions(ctx, "churn", []string{loopml.StageStaging}); err != nil || len(vs) != 1 || vs[0].Version != "2" {
		t.Errorf("GetLatestVersions = %v, %v", vs, err)
	}
	if uri, err := c.GetModelVersionDownloadURI(ctx, "churn", "2"); err != nil || uri != "mlflow-artifacts:/x" {
		t.Errorf("download uri = %q, %v", uri, err)
	}
	vs, next, err := c.SearchModelVersions(ctx, loopml.ModelVersionSearch{Filter: "name = 'churn'", MaxResults: 1})
	if err != nil || len(vs) != 1 || next == "" {
		t.Errorf("SearchModelVersions page 1 = %v, %q, %v", vs, next, err)
	}
	ms, _, err := c.SearchRegisteredModels(ctx, loopml.RegisteredModelSearch{Filter: "name LIKE 'ch%'"})
	if err != nil || len(ms) != 1 || ms[0].Name != "churn" {
		t.Errorf("SearchRegisteredModels = %v, %v", ms, err)
	}

	// Extensions.
	time.Sleep(3 * time.Millisecond)
	before := time.Now().UnixMilli()
	time.Sleep(3 * time.Millisecond)
	if err := c.SetAlias(ctx, "churn", "champion", "2"); err != nil {
		t.Fatal(err)
	}
	if ver, err := c.AliasAt(ctx, "churn", "champion", before); err != nil || ver != "1" {
		t.Errorf("AliasAt(before) = %q, %v", ver, err)
	}
	if ver, err := c.AliasAt(ctx, "churn", "champion", time.Now().UnixMilli()+1000); err != nil || ver != "2" {
		t.Errorf("AliasAt(now) = %q, %v", ver, err)
	}
	evs, err := c.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "churn", Alias: "champion"})
	if err != nil || len(evs) != 2 || evs[1].FromVersion != "1" || evs[1].ToVersion != "2" || evs[1].ID <= evs[0].ID {
		t.Errorf("RegistryEvents = %+v, %v", evs, err)
	}
	if evs, err := c.RegistryEvents(ctx, loopml.RegistryEventQuery{Model: "churn", MaxResults: 2}); err != nil || len(evs) != 2 || evs[0].Type != loopml.EventModelCreated {
		t.Errorf("RegistryEvents(max 2) = %+v, %v", evs, err)
	}
	l, err := c.ModelLineage(ctx, "churn/1")
	if err != nil || l.Run == nil || l.Run.ID != run || l.Version.Version != "1" || l.ModelURI != "models:/churn/1" {
		t.Errorf("ModelLineage = %+v, %v", l, err)
	}

	if _, err := c.RenameRegisteredModel(ctx, "churn", "churn2"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAlias(ctx, "churn2", "champion"); err != nil {
		t.Fatal(err)
	}
	errCode(t, c.DeleteAlias(ctx, "churn2", "champion"), loopml.ENOTFOUND, "champion")
	if err := c.DeleteModelVersion(ctx, "churn2", "2"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRegisteredModel(ctx, "churn2"); err != nil {
		t.Fatal(err)
	}
	errCode(t, c.DeleteRegisteredModel(ctx, "churn2"), loopml.ENOTFOUND, "churn2")
}
