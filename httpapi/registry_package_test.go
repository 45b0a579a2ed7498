package httpapi_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/mlmodel"
)

const testMLmodel = `artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
  sklearn:
    pickled_model: model.pkl
run_id: abc
signature:
  inputs: '[{"type": "long", "name": "user_id", "required": true}, {"type": "long", "name": "item_id", "required": true}]'
  outputs: '[{"type": "double", "required": true}]'
utc_time_created: '2024-06-01 10:00:00.000000'
`

// TestModelVersionPackage: with a PackageInspector, registering a version
// whose source is a model package records its signature, size and digest
// (shown by the lineage API); a malformed MLmodel is refused naming the
// key; a source outside the store registers without package details.
func TestModelVersionPackage(t *testing.T) {
	e := newEnvDSN(t, "", func(c *httpapi.Config) {
		c.Registry = c.Experiments.(loopml.ModelRegistry)
		c.Packages = &mlmodel.Inspector{Artifacts: c.Artifacts}
	})
	exp := e.createExperiment("pkg")
	run := e.createRun(exp)
	art := "/api/2.0/mlflow-artifacts/artifacts/" + exp + "/" + run + "/artifacts/"
	e.do("PUT", art+"model/MLmodel", testMLmodel).ok200(t)
	e.do("PUT", art+"model/model.pkl", "weights").ok200(t)
	e.do("PUT", art+"broken/MLmodel", "signature: {inputs: 'not json'}\nflavors: {}\n").ok200(t)
	e.post("registered-models/create", `{"name":"recs"}`).ok(t)

	e.post("model-versions/create", `{"name":"recs","source":"runs:/`+run+`/model"}`).ok(t)
	m := e.do("GET", "/api/2.0/loopml/models/lineage?uri="+url.QueryEscape("models:/recs/1"), "").ok(t)
	digest, _ := dig(m, "package", "digest").(string)
	if !strings.HasPrefix(digest, "blake3:") || dig(m, "package", "size_bytes") != float64(len(testMLmodel)+len("weights")) {
		t.Errorf("lineage package = %v, want a blake3 digest and size %d", dig(m, "package"), len(testMLmodel)+len("weights"))
	}
	if dig(m, "package", "signature", "inputs", 0, "name") != "user_id" {
		t.Errorf("lineage signature = %v, want inputs user_id, item_id", dig(m, "package", "signature"))
	}
	// The Go client reads it back.
	l, err := httpapi.NewClient(e.srv.URL, nil).ModelLineage(t.Context(), "models:/recs/1")
	if err != nil {
		t.Fatal(err)
	}
	if l.Version.Digest != digest || !strings.Contains(l.Version.Signature, `"item_id"`) {
		t.Errorf("client lineage version = %+v", l.Version)
	}

	e.post("model-versions/create", `{"name":"recs","source":"runs:/`+run+`/broken"}`).isError(t, 400, "INVALID_PARAMETER_VALUE", "signature")
	e.post("model-versions/create", `{"name":"recs","source":"s3://bucket/model"}`).ok(t)
	m = e.do("GET", "/api/2.0/loopml/models/lineage?uri="+url.QueryEscape("models:/recs/2"), "").ok(t)
	if p := dig(m, "package"); p != nil {
		t.Errorf("version from s3 source: package = %v, want none", p)
	}
}
