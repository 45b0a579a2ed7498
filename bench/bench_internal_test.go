package bench

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"io"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", ms(7), 50, 7 * time.Millisecond},
		{"one sample p99", ms(7), 99, 7 * time.Millisecond},
		{"p0 is min", ms(1, 2, 3), 0, 1 * time.Millisecond},
		{"p100 is max", ms(1, 2, 3), 100, 3 * time.Millisecond},
		{"p50 of 4 is 2nd", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p50 of 5 is 3rd", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"p90 of 10 is 9th", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p99.9 of 100 is max", ms(hundred...), 99.9, 100 * time.Millisecond},
		{"p1 of 100", ms(hundred...), 1, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	if got := Summarize(nil); got != nil {
		t.Fatalf("Summarize(nil) = %+v, want nil", got)
	}
	ds := []time.Duration{4 * time.Millisecond, 1 * time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
	got := Summarize(ds)
	want := Latency{Count: 4, P50: 2, P90: 4, P99: 4, Max: 4, Mean: 2.5}
	if *got != want {
		t.Errorf("Summarize = %+v, want %+v", *got, want)
	}
	if ds[0] != time.Millisecond {
		t.Errorf("Summarize did not sort its input: %v", ds)
	}
	if s := got.String(); s != "p50=2.00ms p90=4.00ms p99=4.00ms" {
		t.Errorf("String() = %q", s)
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:5000", true},
		{"http://127.1.2.3:5000/", true},
		{"http://localhost:5000", true},
		{"http://LOCALHOST", true},
		{"https://127.0.0.1", true},
		{"http://[::1]:5000", true},
		{"http://[::ffff:127.0.0.1]:5000", true},
		{"http://10.0.0.1:5000", false},
		{"http://128.0.0.1", false},
		{"http://0.0.0.0:5000", false},
		{"http://[::]:5000", false},
		{"http://example.com", false},
		{"http://localhost.example.com", false},
		{"http://127.0.0.1.nip.io", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:5000", false},
		{"", false},
		{"http://", false},
		{"http://%zz", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckLoopback(tt.url)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckLoopback(%q) = %v, want ok=%v", tt.url, err, tt.ok)
			}
			if !tt.ok && strings.Contains(tt.url, "example.com") && !strings.Contains(err.Error(), "only targets servers on this machine") {
				t.Errorf("error does not say why: %v", err)
			}
		})
	}
}

func FuzzCheckLoopback(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:5000", "http://[::1]/", "http://localhost", "http://10.1.1.1", "http://user@127.0.0.1@evil.com/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckLoopback(s) != nil {
			return
		}
		// Whatever was accepted must dial a loopback host.
		h := hostOf(t, s)
		if !isLoopbackHost(h) {
			t.Fatalf("accepted %q with host %q", s, h)
		}
	})
}

func hostOf(t *testing.T, s string) string {
	t.Helper()
	c := Config{URL: s}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate(%q) = %v after CheckLoopback accepted it", s, err)
	}
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("accepted unparsable %q", s)
	}
	return u.Hostname()
}

func TestAppendLogBatch(t *testing.T) {
	body := appendLogBatch(nil, "abc", MetricKeys, 200, stepsPerBatch)
	var got struct {
		RunID   string `json:"run_id"`
		Metrics []struct {
			Key       string  `json:"key"`
			Value     float64 `json:"value"`
			Timestamp int64   `json:"timestamp"`
			Step      int64   `json:"step"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body is not JSON: %v\n%.200s", err, body)
	}
	if got.RunID != "abc" {
		t.Errorf("run_id = %q", got.RunID)
	}
	if len(got.Metrics) != MetricsPerBatch {
		t.Fatalf("%d metrics, want %d", len(got.Metrics), MetricsPerBatch)
	}
	keys := map[string]int{}
	for i, m := range got.Metrics {
		keys[m.Key]++
		wantStep := int64(200 + i/MetricKeys)
		if m.Step != wantStep || m.Timestamp != baseTimestamp+wantStep {
			t.Fatalf("metric %d: step %d ts %d, want step %d", i, m.Step, m.Timestamp, wantStep)
		}
		if math.IsNaN(m.Value) || m.Value < 0 || m.Value > 3 {
			t.Fatalf("metric %d: unrealistic value %v", i, m.Value)
		}
	}
	if len(keys) != MetricKeys || keys["m0"] != stepsPerBatch || keys["m9"] != stepsPerBatch {
		t.Errorf("keys = %v", keys)
	}
	// Reusing the buffer gives the same bytes (no state leaks between calls).
	again := appendLogBatch(body[:0], "abc", MetricKeys, 200, stepsPerBatch)
	if !bytes.Equal(again, appendLogBatch(nil, "abc", MetricKeys, 200, stepsPerBatch)) {
		t.Error("appendLogBatch is not deterministic")
	}
}

func TestAppendSingleKeyBatchAndLogMetric(t *testing.T) {
	var b struct {
		Metrics []struct {
			Key  string `json:"key"`
			Step int64  `json:"step"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(appendSingleKeyBatch(nil, "r", "loss", 5, 3), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Metrics) != 3 || b.Metrics[0].Step != 5 || b.Metrics[2].Step != 7 || b.Metrics[1].Key != "loss" {
		t.Errorf("single-key batch = %+v", b.Metrics)
	}
	var m map[string]any
	if err := json.Unmarshal(appendLogMetric(nil, "r", 9), &m); err != nil {
		t.Fatal(err)
	}
	if m["run_id"] != "r" || m["key"] != "loss" || m["step"] != 9.0 || m["timestamp"] != float64(baseTimestamp+9) {
		t.Errorf("log-metric body = %v", m)
	}
}

func TestSearchRunBatchMatchesAboutHalf(t *testing.T) {
	match := 0
	for i := int64(0); i < 1000; i++ {
		var b struct {
			Params  []map[string]string `json:"params"`
			Metrics []struct {
				Key   string  `json:"key"`
				Value float64 `json:"value"`
			} `json:"metrics"`
		}
		if err := json.Unmarshal(searchRunBatch("r", i), &b); err != nil {
			t.Fatal(err)
		}
		if len(b.Params) != 3 || len(b.Metrics) != 3 {
			t.Fatalf("run %d: %d params, %d metrics", i, len(b.Params), len(b.Metrics))
		}
		if b.Metrics[0].Key == "acc" && b.Metrics[0].Value > 0.5 {
			match++
		}
	}
	if match < 400 || match > 600 {
		t.Errorf("%d of 1000 runs match %q, want about half", match, searchFilter)
	}
}

func TestPatternReader(t *testing.T) {
	for _, size := range []int64{0, 1, patternBlockSize - 1, patternBlockSize, 3*patternBlockSize + 5} {
		r := newPatternReader(size)
		h1 := crc32.New(castagnoli)
		n, err := io.CopyBuffer(h1, r, make([]byte, 32<<10))
		if err != nil || n != size {
			t.Fatalf("size %d: read %d, %v", size, n, err)
		}
		// Reading with another buffer size gives the same stream.
		h2 := crc32.New(castagnoli)
		if _, err := io.CopyBuffer(h2, newPatternReader(size), make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		if h1.Sum32() != h2.Sum32() {
			t.Errorf("size %d: stream depends on read size", size)
		}
	}
	// Shifting the stream by a byte changes it (the block is not constant).
	a, _ := io.ReadAll(io.LimitReader(newPatternReader(64), 32))
	b, _ := io.ReadAll(newPatternReader(64))
	if bytes.Equal(a, b[1:33]) {
		t.Error("pattern is constant")
	}
}

func TestScanHistoryPage(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		points int
		next   string
		ok     bool
	}{
		{"empty", `{}`, 0, "", true},
		{"last page", `{"metrics":[{"key":"loss","value":1,"timestamp":1},{"key":"loss","value":2,"timestamp":2,"step":1}]}`, 2, "", true},
		{"with token", `{"metrics":[{"key":"loss","value":1}],"next_page_token":"eyJvZmZzZXQiOiAxfQ=="}`, 1, "eyJvZmZzZXQiOiAxfQ==", true},
		{"spaced token", "{\"metrics\": [{\"key\": \"loss\"}],\n \"next_page_token\" : \"a\\\"b\"}", 1, `a"b`, true},
		{"bad token", `{"next_page_token":5}`, 0, "", false},
		{"truncated", `{"next_page_token"`, 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, next, err := scanHistoryPage([]byte(tt.body))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (n != tt.points || next != tt.next) {
				t.Errorf("got %d points, next %q; want %d, %q", n, next, tt.points, tt.next)
			}
		})
	}
}

func TestParseProcField(t *testing.T) {
	status := []byte("Name:\tloopml\nVmPeak:\t  900 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\n")
	if got, err := parseProcField(status, "VmHWM:", 1024); err != nil || got != 51200*1024 {
		t.Errorf("VmHWM = %d, %v", got, err)
	}
	ioFile := []byte("rchar: 10\nwchar: 20\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n")
	if got, err := parseProcField(ioFile, "write_bytes:", 1); err != nil || got != 8192 {
		t.Errorf("write_bytes = %d, %v", got, err)
	}
	if _, err := parseProcField(ioFile, "VmHWM:", 1); err == nil {
		t.Error("missing field: no error")
	}
	if _, err := parseProcField([]byte("VmHWM: x kB\n"), "VmHWM:", 1); err == nil {
		t.Error("bad number: no error")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error, "" for none
	}{
		{"ok", Config{URL: "http://127.0.0.1:5000"}, ""},
		{"remote", Config{URL: "http://10.0.0.2:5000"}, "non-loopback"},
		{"scenario", Config{URL: "http://127.0.0.1:1", Scenarios: []string{"logbatch", "nope"}}, `unknown scenario "nope"`},
		{"duration", Config{URL: "http://127.0.0.1:1", Duration: -1}, "duration"},
		{"concurrency", Config{URL: "http://127.0.0.1:1", Concurrency: -1}, "concurrency"},
		{"preload", Config{URL: "http://127.0.0.1:1", Preload: -1}, "preload"},
		{"artifact size", Config{URL: "http://127.0.0.1:1", ArtifactSize: -1}, "artifact-size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestResultString(t *testing.T) {
	r := Result{Scenario: ScenarioLogBatch, Seconds: 2, Requests: 10, Points: 10000, PointsSec: 5000, Preloaded: 1000, DiskBytesPerPoint: 42.5}
	want := "logbatch  5000 points/s (10000 points in 10 requests, 2.0s) after preloading 1000 points, 42.5 disk bytes/point"
	if got := r.String(); got != want {
		t.Errorf("String() =\n%q\nwant\n%q", got, want)
	}
	r = Result{Scenario: ScenarioArtifacts, Bytes: 1 << 30, UploadMBs: 500, DownloadMBs: 800.25, Errors: 1, FirstError: "boom"}
	want = "artifacts upload 500.0 MB/s, download 800.2 MB/s (1.00 GiB each way); 1 errors, first: boom"
	if got := r.String(); got != want {
		t.Errorf("String() =\n%q\nwant\n%q", got, want)
	}
}

// BenchmarkAppendLogBatch shows that encoding a 1000-point log-batch body
// costs the generator far less than the server spends storing it.
func BenchmarkAppendLogBatch(b *testing.B) {
	b.ReportAllocs()
	var buf []byte
	step := int64(0)
	for b.Loop() {
		buf = appendLogBatch(buf[:0], "0123456789abcdef0123456789abcdef", MetricKeys, step, stepsPerBatch)
		step += stepsPerBatch
	}
	b.SetBytes(int64(len(buf)))
}
