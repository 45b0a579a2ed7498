package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

func decodeBatch(body string) (logBatchRequest, error) {
	var q logBatchRequest
	d := decoder{data: []byte(body)}
	err := d.document(q.field)
	return q, err
}

func TestDecodeLogBatch(t *testing.T) {
	q, err := decodeBatch(`{
		"run_id": "abc", "unknown": {"nested": [1, {"x": null}], "s": "\u00e9"},
		"metrics": [
			{"key": "m", "value": 1.5, "timestamp": 1700000000000, "step": 3},
			{"key": "n", "value": "NaN", "timestamp": "17", "step": "-2"},
			{"key": "p", "value": "Infinity", "timestamp": 1e3},
			{"key": "q", "value": "-Infinity", "timestamp": 0, "step": null},
			{"key": "r", "value": -0.25e-3, "timestamp": 2.0},
			{"key": "s", "value": NaN}, {"key": "t", "value": -Infinity, "extra": Infinity}
		],
		"params": [{"key": "a", "value": "x\"y\\z\n"}],
		"tags": [{"key": "t\u00e9", "value": "\ud83d\ude00"}]
	}`)
	if err != nil {
		t.Fatal(err)
	}
	if q.runID != "abc" {
		t.Errorf("run_id = %q", q.runID)
	}
	m := q.batch.Metrics
	if len(m) != 7 {
		t.Fatalf("got %d metrics, want 7", len(m))
	}
	if !math.IsNaN(m[5].Value) || !math.IsInf(m[6].Value, -1) {
		t.Errorf("bare tokens: %+v %+v", m[5], m[6])
	}
	if m[0] != (loopml.Metric{Key: "m", Value: 1.5, Timestamp: 1700000000000, Step: 3}) {
		t.Errorf("metric 0 = %+v", m[0])
	}
	if !math.IsNaN(m[1].Value) || m[1].Timestamp != 17 || m[1].Step != -2 {
		t.Errorf("metric 1 = %+v", m[1])
	}
	if !math.IsInf(m[2].Value, 1) || m[2].Timestamp != 1000 {
		t.Errorf("metric 2 = %+v", m[2])
	}
	if !math.IsInf(m[3].Value, -1) {
		t.Errorf("metric 3 = %+v", m[3])
	}
	if m[4].Value != -0.25e-3 || m[4].Timestamp != 2 {
		t.Errorf("metric 4 = %+v", m[4])
	}
	if got := q.batch.Params[0].Value; got != "x\"y\\z\n" {
		t.Errorf("param value = %q", got)
	}
	if got := q.batch.Tags[0]; got.Key != "té" || got.Value != "😀" {
		t.Errorf("tag = %+v", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, body string
		kind       int
		field      string // expected in the message
	}{
		{"step string", `{"metrics":[{"key":"m","step":"abc"}]}`, errValue, "metrics[0].step"},
		{"step bool", `{"metrics":[{},{"step":true}]}`, errValue, "metrics[1].step"},
		{"step fraction", `{"metrics":[{"step":1.5}]}`, errValue, "metrics[0].step"},
		{"step overflow", `{"metrics":[{"step":99999999999999999999}]}`, errValue, "metrics[0].step"},
		{"value word", `{"metrics":[{"value":"fast"}]}`, errValue, "metrics[0].value"},
		{"value inf lowercase", `{"metrics":[{"value":"inf"}]}`, errValue, "metrics[0].value"},
		{"value bare nan lowercase", `{"metrics":[{"value":nan}]}`, errSyntax, "metrics[0].value"},
		{"value object", `{"metrics":[{"value":{}}]}`, errValue, "metrics[0].value"},
		{"run_id bool", `{"run_id": true}`, errValue, "run_id"},
		{"run_id fraction", `{"run_id": 5.5}`, errValue, "run_id"},
		{"metrics object", `{"metrics": {}}`, errValue, "metrics"},
		{"metric not object", `{"metrics": [1]}`, errValue, "metrics[0]"},
		{"tag key array", `{"tags":[{"key":["a"]}]}`, errValue, "tags[0].key"},
		{"truncated", `{"metrics":[{"key":"m"`, errSyntax, "metrics[0]"},
		{"bad literal", `{"run_id": tru}`, errSyntax, "run_id"},
		{"trailing comma", `{"run_id": "a",}`, errSyntax, ""},
		{"trailing data", `{} {}`, errSyntax, ""},
		{"not object", `[1]`, errValue, ""},
		{"bad escape", `{"run_id": "\x"}`, errSyntax, "run_id"},
		{"control char", "{\"run_id\": \"a\u0001\"}", errSyntax, "run_id"},
		{"invalid utf8", "{\"run_id\": \"\xff\"}", errSyntax, "run_id"},
		{"deep nesting", `{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, errSyntax, ""},
		{"leading zero", `{"metrics":[{"step":01}]}`, errSyntax, "metrics[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeBatch(tt.body)
			de, ok := err.(*decodeError)
			if !ok {
				t.Fatalf("err = %v (%T), want *decodeError", err, err)
			}
			if de.kind != tt.kind {
				t.Errorf("kind = %d, want %d (%v)", de.kind, tt.kind, de)
			}
			if tt.field != "" && !strings.Contains(de.Error(), "'"+tt.field+"'") && !strings.Contains(de.Error(), "'"+tt.field+"[0]...'") {
				t.Errorf("message %q does not name field %q", de.Error(), tt.field)
			}
		})
	}
}

func TestDecodeEnum(t *testing.T) {
	tests := []struct {
		body string
		want int
		ok   bool
	}{
		{`{"run_view_type":"ALL"}`, 3, true},
		{`{"run_view_type":2}`, 2, true},
		{`{"run_view_type":"2"}`, 2, true},
		{`{"run_view_type":null}`, 0, true},
		{`{"run_view_type":"EVERYTHING"}`, 0, false},
		{`{"run_view_type":7}`, 0, false},
		{`{"run_view_type":0}`, 0, false},
	}
	for _, tt := range tests {
		var q searchRunsRequest
		d := decoder{data: []byte(tt.body)}
		err := d.document(q.field)
		if (err == nil) != tt.ok || q.viewType != tt.want {
			t.Errorf("%s: viewType=%d err=%v, want %d ok=%v", tt.body, q.viewType, err, tt.want, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "'run_view_type'") {
			t.Errorf("%s: message %q does not name the field", tt.body, err)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{-2.5, "-2.5"},
		{1e21, "1e+21"},
		{1e-7, "1e-7"},
		{123456789.125, "123456789.125"},
		{math.NaN(), `"NaN"`},
		{math.Inf(1), `"Infinity"`},
		{math.Inf(-1), `"-Infinity"`},
		{math.MaxFloat64, "1.7976931348623157e+308"},
	}
	for _, tt := range tests {
		if got := string(appendFloat(nil, tt.in)); got != tt.want {
			t.Errorf("appendFloat(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "nl\ncr\rtab\t", "\x00\x1f\x7f", "é😀", "\u2028\u2029", "bad\xffutf8"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendString(%q) = %s: not valid JSON: %v", s, got, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("round trip of %q = %q, want %q", s, back, want)
		}
	}
}

// TestEncodeDecodeRunRoundTrip checks that what the server writes, the
// client reads back identically, NaN and infinities included.
func TestEncodeDecodeRunRoundTrip(t *testing.T) {
	in := &loopml.Run{
		ID: "0123456789abcdef0123456789abcdef", ExperimentID: "7", Name: "r\"1", UserID: "u",
		Status: loopml.RunFinished, StartTime: 10, EndTime: 20,
		ArtifactURI: "mlflow-artifacts:/7/x/artifacts", LifecycleStage: loopml.LifecycleActive,
		Metrics: []loopml.Metric{
			{Key: "a", Value: math.NaN(), Timestamp: 1, Step: 0},
			{Key: "b", Value: math.Inf(1), Timestamp: 2, Step: 5},
			{Key: "c", Value: math.Inf(-1), Timestamp: 3, Step: -1},
			{Key: "d", Value: 1e-300, Timestamp: 4, Step: 1 << 60},
		},
		Params: []loopml.Param{{Key: "p", Value: ""}},
		Tags:   []loopml.Tag{{Key: "mlflow.runName", Value: "r\"1"}},
		Inputs: []loopml.DatasetInput{{
			Dataset: loopml.Dataset{Name: "ds", Digest: "d1", SourceType: "local", Source: "{}", Schema: "s", Profile: "p"},
			Tags:    []loopml.Tag{{Key: loopml.TagDatasetContext, Value: "training"}},
		}},
	}
	e := encoder{}
	e.beginObject()
	encodeRun(&e, in)
	e.endObject()
	if !json.Valid(e.b) {
		t.Fatalf("invalid JSON: %s", e.b)
	}
	var out loopml.Run
	d := decoder{data: e.b}
	if err := decodeRun(&d, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != in.ID || out.Name != in.Name || out.Status != in.Status || out.EndTime != in.EndTime || out.ArtifactURI != in.ArtifactURI {
		t.Errorf("info: got %+v", out)
	}
	if len(out.Metrics) != 4 || !math.IsNaN(out.Metrics[0].Value) || !math.IsInf(out.Metrics[1].Value, 1) ||
		!math.IsInf(out.Metrics[2].Value, -1) || out.Metrics[3] != in.Metrics[3] || out.Metrics[2].Step != -1 {
		t.Errorf("metrics: got %+v", out.Metrics)
	}
	if len(out.Params) != 1 || out.Params[0] != in.Params[0] {
		t.Errorf("params: got %+v", out.Params)
	}
	if len(out.Inputs) != 1 || out.Inputs[0].Dataset != in.Inputs[0].Dataset || out.Inputs[0].Tags[0] != in.Inputs[0].Tags[0] {
		t.Errorf("inputs: got %+v", out.Inputs)
	}
}

func TestErrorTable(t *testing.T) {
	for _, m := range errorTable {
		if got := codeFromMLflow(m.mlflow, m.status); got != m.code {
			t.Errorf("codeFromMLflow(%s, %d) = %s, want %s", m.mlflow, m.status, got, m.code)
		}
		if got := mappingForCode(m.code); got != m {
			t.Errorf("mappingForCode(%s) = %+v", m.code, got)
		}
	}
	if got := mappingForCode("bogus"); got.status != 500 {
		t.Errorf("unknown code maps to %d, want 500", got.status)
	}
	if got := codeFromMLflow("", 404); got != loopml.ENOTFOUND {
		t.Errorf("plain 404 = %s", got)
	}
}

// FuzzDecodeLogBatch feeds arbitrary bodies to the log-batch decoder: it must
// never panic, and whatever it accepts must also be valid JSON that
// encoding/json accepts.
func FuzzDecodeLogBatch(f *testing.F) {
	for _, s := range []string{
		`{"run_id":"a","metrics":[{"key":"m","value":1,"timestamp":2,"step":3}]}`,
		`{"metrics":[{"value":"NaN","timestamp":"5"}],"params":[{"key":"p","value":"v"}],"tags":[{"key":"t","value":"\u00e9"}]}`,
		`{"x":[[[{"y":null}]]],"run_uuid":"b"}`,
		``, `{}`, `[`, `{"metrics":[{"step":1e400}]}`, `{"a":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var q logBatchRequest
		d := decoder{data: body}
		err := d.document(q.field)
		if err != nil {
			if _, ok := err.(*decodeError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(bytes.TrimSpace(body)) > 0 && !json.Valid(standardize(body)) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
	})
}

// FuzzDecodeRun checks the response decoders the client uses the same way.
func FuzzDecodeRun(f *testing.F) {
	f.Add([]byte(`{"info":{"run_id":"a","status":"RUNNING","start_time":"1"},"data":{"metrics":[{"key":"m","value":"Infinity"}]},"inputs":{"dataset_inputs":[{"dataset":{"name":"n"}}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var r loopml.Run
		d := decoder{data: body}
		if err := decodeRun(&d, &r); err == nil && d.atEOF() && len(body) > 0 && !json.Valid(standardize(body)) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
	})
}

// standardize replaces the non-standard tokens the decoder accepts (bare
// NaN, Infinity, -Infinity) so that encoding/json can judge the rest.
func standardize(b []byte) []byte {
	s := strings.NewReplacer("-Infinity", "0", "Infinity", "0", "NaN", "0").Replace(string(b))
	return []byte(s)
}
