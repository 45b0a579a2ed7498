package httpapi

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"testing"

	"github.com/loopml/loopml"
)

// FuzzDecodeRegistryRequest feeds arbitrary bodies and query strings to the
// registry request decoder: it must never panic, reject what is not JSON,
// and whatever it reads must survive the encode/decode round trip of the
// model and version messages built from it.
func FuzzDecodeRegistryRequest(f *testing.F) {
	for _, s := range [][2]string{
		{`{"name":"m","source":"runs:/abc/model","tags":[{"key":"k","value":"v"}],"run_id":"r","description":null}`, "name=m&version=3"},
		{`{"name":"m","version":3,"stage":"Production","archive_existing_versions":"true"}`, "archive_existing_versions=true"},
		{`{"name":"m","alias":"champion","version":"1","stages":["None","Staging"],"order_by":["name ASC"]}`, "order_by=a&order_by=b&max_results=5"},
		{`{"max_results":"1e3","page_token":"x","filter":"name LIKE 'a%'"}`, "max_results=x"},
		{``, ``}, {`[`, `%zz`}, {`{"version":1.5}`, "archive_existing_versions=maybe"},
	} {
		f.Add([]byte(s[0]), s[1])
	}
	f.Fuzz(func(t *testing.T, body []byte, rawQuery string) {
		var q registryRequest
		d := decoder{data: body}
		if err := d.document(q.field); err != nil {
			if _, ok := err.(*decodeError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(bytes.TrimSpace(body)) > 0 && !json.Valid(standardize(body)) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if v, err := url.ParseQuery(rawQuery); err == nil {
			if err := q.fromQuery(query(v)); err != nil && loopml.ErrorCode(err) != loopml.EINVALID {
				t.Fatalf("query error %v is not EINVALID", err)
			}
		}
		m := &loopml.RegisteredModel{Name: q.name, Description: q.description, Tags: q.tags}
		if q.alias != "" {
			m.Aliases = []loopml.ModelAlias{{Alias: q.alias, Version: q.version}}
		}
		v := &loopml.ModelVersion{Name: q.name, Version: q.version, Source: q.source, RunID: q.runID, Tags: q.tags, Aliases: q.stages}
		m.LatestVersions = []*loopml.ModelVersion{v}
		roundTripModel(t, m)
	})
}

// roundTripModel encodes m, checks the result is JSON and decodes it back
// to an equal value.
func roundTripModel(t *testing.T, m *loopml.RegisteredModel) {
	t.Helper()
	e := encoder{}
	e.beginObject()
	encodeRegisteredModel(&e, m)
	e.endObject()
	if !json.Valid(e.b) {
		t.Fatalf("encoded model is not JSON: %s", e.b)
	}
	var got loopml.RegisteredModel
	d := decoder{data: e.b}
	if err := decodeRegisteredModel(&d, &got); err != nil {
		t.Fatalf("decode %s: %v", e.b, err)
	}
	if !reflect.DeepEqual(normModel(m), normModel(&got)) {
		t.Fatalf("round trip changed the model:\n in %+v\nout %+v\njson %s", m, &got, e.b)
	}
}

// normModel makes empty and nil slices compare equal and drops what the
// wire form cannot carry (invalid UTF-8 is replaced).
func normModel(m *loopml.RegisteredModel) string {
	b, _ := json.Marshal(m)
	var v any
	_ = json.Unmarshal(b, &v)
	out, _ := json.Marshal(dropEmpty(v))
	return string(out)
}

func dropEmpty(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			x[k] = dropEmpty(val)
			if x[k] == nil {
				delete(x, k)
			}
		}
		if len(x) == 0 {
			return nil
		}
	case []any:
		if len(x) == 0 {
			return nil
		}
		for i := range x {
			x[i] = dropEmpty(x[i])
		}
	case string:
		if x == "" {
			return nil
		}
	case float64:
		if x == 0 {
			return nil
		}
	case bool:
		if !x {
			return nil
		}
	}
	return v
}

func TestRegistryWireRoundTrip(t *testing.T) {
	full := &loopml.ModelVersion{
		Name: "m", Version: "12", CreationTimestamp: 1, LastUpdatedTimestamp: 2, UserID: "ann",
		CurrentStage: loopml.StageProduction, Description: "d\n\"q\"", Source: "mlflow-artifacts:/1/2/artifacts/model",
		RunID: "r", RunLink: "http://l", Status: loopml.VersionReady, StatusMessage: "ok",
		Tags: []loopml.Tag{{Key: "k", Value: ""}}, Aliases: []string{"a", "b"},
	}
	tests := []struct {
		name string
		m    *loopml.RegisteredModel
	}{
		{"minimal", &loopml.RegisteredModel{Name: "m"}},
		{"full", &loopml.RegisteredModel{
			Name: "m", CreationTimestamp: 5, LastUpdatedTimestamp: 6, UserID: "u", Description: "é",
			Tags: []loopml.Tag{{Key: "a", Value: "b"}}, Aliases: []loopml.ModelAlias{{Alias: "champion", Version: "12"}},
			LatestVersions: []*loopml.ModelVersion{full, {Name: "m", Version: "1"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { roundTripModel(t, tc.m) })
	}
}

func TestRegistryEventAndLineageRoundTrip(t *testing.T) {
	ev := loopml.RegistryEvent{ID: 9, Time: 10, Workspace: "w", Principal: "p", Type: loopml.EventAliasSet, Model: "m",
		Version: "2", Alias: "champion", FromVersion: "1", ToVersion: "2", FromStage: "None", ToStage: "Staging", Reason: "r"}
	e := encoder{}
	e.beginObject()
	encodeRegistryEvent(&e, &ev)
	e.endObject()
	var got loopml.RegistryEvent
	d := decoder{data: e.b}
	if err := decodeRegistryEvent(&d, &got); err != nil || got != ev {
		t.Errorf("event round trip = %+v, %v (json %s)", got, err, e.b)
	}

	l := &Lineage{
		ModelURI: "models:/m@champion", Version: &loopml.ModelVersion{Name: "m", Version: "2"},
		Run:      &loopml.Run{ID: "r", Params: []loopml.Param{{Key: "p", Value: "1"}}},
		Datasets: []loopml.DatasetInput{{Dataset: loopml.Dataset{Name: "ds", Digest: "x"}}},
		Code:     LineageCode{GitCommit: "c", SourceName: "n", SourceType: "t", GitDirty: "true"},
	}
	e = encoder{}
	e.beginObject()
	encodeLineage(&e, l)
	e.endObject()
	var gl Lineage
	d = decoder{data: e.b}
	if err := d.document(func(d *decoder, key []byte) error { return decodeLineage(d, key, &gl) }); err != nil {
		t.Fatal(err)
	}
	if gl.ModelURI != l.ModelURI || gl.Version.Version != "2" || gl.Run.ID != "r" || len(gl.Run.Params) != 1 ||
		len(gl.Datasets) != 1 || gl.Datasets[0].Dataset.Name != "ds" || gl.Code != l.Code {
		t.Errorf("lineage round trip = %+v (json %s)", gl, e.b)
	}
}
