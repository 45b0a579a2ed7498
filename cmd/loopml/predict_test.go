package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeScorer is an invocations endpoint that predicts 2*x for each row
// (CSV or dataframe_records), refuses a batch holding x = "bad" with 400,
// and answers 503 to its first request.
type fakeScorer struct {
	rows, requests atomic.Int64
	first          sync.Once
}

func (f *fakeScorer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	fail := false
	f.first.Do(func() { fail = true })
	if fail {
		http.Error(w, `{"message": "warming up"}`, 503)
		return
	}
	if r.URL.Path != "/endpoints/recs/invocations" {
		w.WriteHeader(404)
		fmt.Fprint(w, `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "endpoint not found"}`)
		return
	}
	var xs []string
	if r.Header.Get("Content-Type") == "text/csv" {
		recs, err := csv.NewReader(r.Body).ReadAll()
		if err != nil || len(recs) < 1 || recs[0][0] != "x" {
			http.Error(w, "bad csv", 500)
			return
		}
		for _, rec := range recs[1:] {
			xs = append(xs, rec[0])
		}
	} else {
		var body struct {
			Records []map[string]any `json:"dataframe_records"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad json", 500)
			return
		}
		for _, rec := range body.Records {
			xs = append(xs, fmt.Sprint(rec["x"]))
		}
	}
	preds := make([]float64, len(xs))
	for i, x := range xs {
		v, err := strconv.ParseFloat(x, 64)
		if err != nil {
			w.WriteHeader(400)
			_ = json.NewEncoder(w).Encode(map[string]string{"error_code": "BAD_REQUEST", "message": fmt.Sprintf("x %q is not a number", x)})
			return
		}
		preds[i] = 2 * v
	}
	f.rows.Add(int64(len(xs)))
	_ = json.NewEncoder(w).Encode(map[string]any{"predictions": preds})
}

// readOutput returns the output lines by row, failing on a duplicate row.
func readOutput(t *testing.T, path string) map[int64]map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int64]map[string]any{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		row := int64(v["row"].(float64))
		if _, dup := out[row]; dup {
			t.Fatalf("row %d written twice", row)
		}
		out[row] = v
	}
	return out
}

func TestPredictResumes(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "rows.csv")
	var b strings.Builder
	b.WriteString("x,y\n")
	const n = 1000
	for i := range n {
		x := strconv.Itoa(i)
		if i == 500 {
			x = "bad"
		}
		fmt.Fprintf(&b, "%s,%d\n", x, i%7)
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := &fakeScorer{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	out := filepath.Join(dir, "out.jsonl")
	o := predictOptions{endpoint: "recs", input: in, output: out, url: srv.URL, batchSize: 64, parallel: 3, retries: 2, timeout: 10e9}
	st, err := runPredict(context.Background(), o, http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		got := readOutput(t, out)
		if len(got) != n {
			t.Fatalf("%d rows in the output, want %d", len(got), n)
		}
		refused := 0
		for row, v := range got {
			if v["error"] != nil { // the batch holding row 500
				refused++
				if !strings.Contains(fmt.Sprint(v["error"]), `x "bad" is not a number`) || row < 500-63 || row > 500+63 {
					t.Errorf("row %d: %v, want a prediction or the server's refusal of row 500's batch", row, v)
				}
				continue
			}
			if v["prediction"] != float64(2*row) {
				t.Errorf("row %d: %v, want prediction %d", row, v, 2*row)
			}
		}
		if got[500]["error"] == nil || refused > 2*64 { // a resumed run re-batches the rows left
			t.Errorf("%d rows refused (row 500: %v), want the batches of row 500", refused, got[500])
		}
	}
	check()
	if st.predicted != n-64 || st.refused != 64 || st.skipped != 0 || fake.rows.Load() != n-64 {
		t.Errorf("first run: %+v, server scored %d rows", st, fake.rows.Load())
	}

	// Interrupt: keep 400 lines and half of the next one.
	raw, _ := os.ReadFile(out)
	lines := strings.SplitAfter(string(raw), "\n")
	kept := strings.Join(lines[:400], "") + lines[400][:len(lines[400])/2]
	if err := os.WriteFile(out, []byte(kept), 0o644); err != nil {
		t.Fatal(err)
	}
	fake.rows.Store(0)
	st, err = runPredict(context.Background(), o, http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	check()
	if st.skipped != 400 || st.predicted+st.refused != n-400 {
		t.Errorf("resumed run: %+v, want 400 skipped and %d done", st, n-400)
	}
	// A finished output: nothing left to send.
	before := fake.requests.Load()
	st, err = runPredict(context.Background(), o, http.DefaultTransport)
	if err != nil || st.skipped != n || fake.requests.Load() != before {
		t.Errorf("third run: %+v %v, %d requests", st, err, fake.requests.Load()-before)
	}
}

func TestPredictJSONLines(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "rows.jsonl")
	content := "{\"x\": 1}\n\n{\"x\": 2}\nnot json\n[3]\n{\"x\": 4}\n"
	if err := os.WriteFile(in, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := &fakeScorer{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	out := filepath.Join(dir, "out.jsonl")
	o := predictOptions{endpoint: "recs", input: in, output: out, url: srv.URL, batchSize: 2, parallel: 1, retries: 1, timeout: 10e9}
	if _, err := runPredict(context.Background(), o, http.DefaultTransport); err != nil {
		t.Fatal(err)
	}
	got := readOutput(t, out)
	want := map[int64]string{0: "prediction 2", 1: "prediction 4", 2: "error", 3: "error", 4: "prediction 8"}
	if len(got) != len(want) {
		t.Fatalf("output %v", got)
	}
	for row, w := range want {
		v := got[row]
		if w == "error" && v["error"] == nil || w != "error" && fmt.Sprintf("prediction %v", v["prediction"]) != w {
			t.Errorf("row %d: %v, want %s", row, v, w)
		}
	}
}

func TestPredictErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "rows.csv")
	if err := os.WriteFile(in, []byte("x\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notOurs := filepath.Join(dir, "notes.jsonl")
	if err := os.WriteFile(notOurs, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(502) }))
	defer down.Close()
	fake := httptest.NewServer(&fakeScorer{})
	defer fake.Close()
	ok := predictOptions{endpoint: "recs", input: in, output: filepath.Join(dir, "o.jsonl"), url: fake.URL, batchSize: 8, parallel: 1, retries: 0, timeout: 10e9}
	tests := []struct {
		name   string
		modify func(o *predictOptions)
		want   string
	}{
		{"no endpoint", func(o *predictOptions) { o.endpoint = "" }, "endpoint is required"},
		{"no input", func(o *predictOptions) { o.input = "" }, "input is required"},
		{"bad extension", func(o *predictOptions) { o.input = filepath.Join(dir, "rows.parquet") }, ".csv or .jsonl"},
		{"missing input", func(o *predictOptions) { o.input = filepath.Join(dir, "nope.csv") }, "input"},
		{"same file", func(o *predictOptions) { o.output = in }, "must not be the input"},
		{"batch size", func(o *predictOptions) { o.batchSize = 0 }, "batch-size"},
		{"parallel", func(o *predictOptions) { o.parallel = 0 }, "parallel"},
		{"bad url", func(o *predictOptions) { o.url = "ftp://x" }, "url"},
		{"foreign output", func(o *predictOptions) { o.output = notOurs }, "not a loopml predict line"},
		{"unknown endpoint", func(o *predictOptions) { o.endpoint = "nope"; o.retries = 1 }, "endpoint not found"},
		{"server down", func(o *predictOptions) { o.url = down.URL; o.retries = 1; o.output = filepath.Join(dir, "down.jsonl") }, "re-run to resume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.modify(&o)
			_, err := runPredict(context.Background(), o, http.DefaultTransport)
			if err == nil || !strings.Contains(userMessage(err), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestPredictAgainstServer scores through `loopml server --endpoints` and
// checks the server's prediction log and feedback join over the API.
func TestPredictAgainstServer(t *testing.T) {
	home, endpoints := servingHome(t)
	url, _, stop := startServer(t, home, "--endpoints", endpoints, "--prediction-log-queue", "64")
	dir := t.TempDir()
	in := filepath.Join(dir, "pairs.csv")
	var b strings.Builder
	b.WriteString("user_id,item_id\n")
	for i := range 50 {
		fmt.Fprintf(&b, "%d,%d\n", 1+i%20, 1+i%30)
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "scores.jsonl")
	stdout, err := cliRun(t, "predict", "--endpoint", "recs", "--input", in, "--output", out, "--url", url, "--batch-size", "10")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "50 rows predicted, 0 refused") {
		t.Errorf("stdout %q", stdout)
	}
	if got := readOutput(t, out); len(got) != 50 {
		t.Errorf("%d rows scored, want 50", len(got))
	}
	// Every request is logged (asynchronously): 5 batches.
	var list map[string]any
	waitFor(t, func() bool {
		_, list, _ = httpJSON(t, "GET", url+"/api/2.0/loopml/predictions/list?endpoint=recs", "")
		ps, _ := list["predictions"].([]any)
		return len(ps) == 5
	})
	first := list["predictions"].([]any)[0].(map[string]any)
	id := first["request_id"].(string)
	if first["target"] != "models:/recs@champion" || first["version"] != "1" || first["status"] != float64(200) ||
		!strings.HasPrefix(fmt.Sprint(first["inputs"]), "user_id,item_id\n") {
		t.Errorf("logged prediction %v", first)
	}
	if code, res, _ := httpJSON(t, "POST", url+"/endpoints/recs/feedback", fmt.Sprintf(`{"request_id": %q, "reward": 1}`, id)); code != 200 {
		t.Fatalf("feedback: %d %v", code, res)
	}
	_, got, _ := httpJSON(t, "GET", url+"/api/2.0/loopml/predictions/get?endpoint=recs&request_id="+id, "")
	if fb, _ := got["prediction"].(map[string]any)["feedback"].(map[string]any); fb["reward"] != float64(1) {
		t.Errorf("prediction with feedback %v", got)
	}
	// Serving metrics are on the server's /metrics.
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`loopml_serving_requests_total{endpoint="recs",target="models:/recs@champion",version="1"} 5`,
		"loopml_serving_prediction_log_written_total 5", "loopml_serving_prediction_log_dropped_total 0"} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestPredictPipelineStage scores a file through a serving endpoint from a
// pipeline stage (`loopml predict` in cmd, always_changed: the endpoint's
// model is not a dep), as a run submitted through the API would: both
// runs score every row, and the second run is not taken from the cache.
func TestPredictPipelineStage(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model and serves it")
	}
	home, endpoints := servingHome(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	served := make(chan error, 1)
	go func() {
		served <- run(ctx, []string{"serve", "-f", endpoints, "--home", home, "--addr", "127.0.0.1:0"}, envMap(nil), stdout, stderr)
	}()
	var url string
	waitUntil(t, "loopml serve to listen", func() bool {
		if m := listeningRE.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
		select {
		case err := <-served:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		default:
		}
		return url != ""
	})
	dir := t.TempDir()
	files := map[string]string{
		"pairs.csv": "user_id,item_id\n1,1\n2,3\n3,5\n",
		"loopml.yaml": `name: batch-scoring
stages:
  score:
    cmd: loopml predict --endpoint recs --input pairs.csv --output scores.jsonl --url "$SERVE_URL"
    env: {SERVE_URL: "` + url + `"}
    deps: [pairs.csv]
    outs: [scores.jsonl]
    always_changed: true
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	getenv := testRunEnv(t, t.TempDir())
	for i := range 2 {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"run", filepath.Join(dir, "loopml.yaml")}, getenv, &out, &out); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out.String())
		}
		if got := stageTable(t, out.String())["score"]; got == "cached" {
			t.Fatalf("run %d: the always_changed stage came from the cache:\n%s", i, out.String())
		}
		b, err := os.ReadFile(filepath.Join(dir, "scores.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 3 || !strings.Contains(lines[0], `"prediction"`) {
			t.Fatalf("run %d: scores.jsonl:\n%s", i, b)
		}
	}
}
