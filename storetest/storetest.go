// Package storetest is the conformance suite of loopml's metadata stores:
// every implementation of loopml.ExperimentService, loopml.RunService,
// loopml.ModelRegistry and loopml.WebhookService runs Run against itself
// and must pass it. The suite is the executable form of the contracts
// documented on the root interfaces (MLflow's semantics).
//
// It imports only the root package and the standard library.
package storetest

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

// Store is what the suite tests: a metadata backend.
type Store interface {
	loopml.ExperimentService
	loopml.RunService
	loopml.ModelRegistry
	loopml.WebhookService
}

// Run runs the conformance suite. open must return a new, empty store (only
// the default experiment in it) and arrange its cleanup with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Experiment", experimentTests},
		{"Run", runTests},
		{"LogBatch", logBatchTests},
		{"MetricHistory", historyTests},
		{"SearchRuns", searchRunsTests},
		{"Concurrency", concurrencyTests},
		{"Registry", registryTests},
		{"RegistryConcurrency", registryConcurrencyTests},
		{"Webhook", webhookTests},
		{"WebhookConcurrency", webhookConcurrencyTests},
		{"Dataset", datasetTests},
		{"Endpoint", endpointTests},
		{"Prediction", predictionTests},
		{"DatasetValidation", datasetValidationTests},
		{"Pipeline", pipelineTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, open(t))
				})
			}
		})
	}
}

// RunDatasets runs only the Dataset group, against a loopml.DatasetService
// that is not a whole Store (the HTTP client). open must return a new,
// empty service and arrange its cleanup. The cases named in skip are
// skipped, with the reason that the backend cannot support them (the HTTP
// API, for one, carries no workspace).
func RunDatasets(t *testing.T, open func(t *testing.T) loopml.DatasetService, skip ...string) {
	for _, tc := range datasetTests {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range skip {
				if s == tc.name {
					t.Skipf("%s is not supported by this backend", tc.name)
				}
			}
			tc.fn(t, datasetOnly{DatasetService: open(t)})
		})
	}
}

// datasetOnly is a Store whose only working part is its DatasetService;
// the dataset tests use nothing else.
type datasetOnly struct {
	Store
	loopml.DatasetService
}

type test struct {
	name string
	fn   func(t *testing.T, s Store)
}

var ctx = context.Background()

// wantErr fails unless err has the given code and its message contains
// every one of the substrings.
func wantErr(t *testing.T, err error, code string, substrings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s error", code)
	}
	if got := loopml.ErrorCode(err); got != code {
		t.Fatalf("got error code %q (%v), want %q", got, err, code)
	}
	msg := loopml.ErrorMessage(err)
	for _, s := range substrings {
		if !strings.Contains(msg, s) {
			t.Fatalf("error message %q does not contain %q", msg, s)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustCreateExperiment(t *testing.T, s Store, name string, tags ...loopml.Tag) *loopml.Experiment {
	t.Helper()
	e := &loopml.Experiment{Name: name, Tags: tags}
	if err := s.CreateExperiment(ctx, e); err != nil {
		t.Fatalf("create experiment %q: %v", name, err)
	}
	return e
}

func mustCreateRun(t *testing.T, s Store, expID string, r loopml.Run) *loopml.Run {
	t.Helper()
	r.ExperimentID = expID
	if err := s.CreateRun(ctx, &r); err != nil {
		t.Fatalf("create run in experiment %s: %v", expID, err)
	}
	return &r
}

func mustGetRun(t *testing.T, s Store, id string) *loopml.Run {
	t.Helper()
	r, err := s.GetRun(ctx, id)
	if err != nil {
		t.Fatalf("get run %s: %v", id, err)
	}
	return r
}

func mustLogBatch(t *testing.T, s Store, runID string, b loopml.Batch) {
	t.Helper()
	if err := s.LogBatch(ctx, runID, b); err != nil {
		t.Fatalf("log batch to run %s: %v", runID, err)
	}
}

// allHistory follows page tokens and returns every point.
func allHistory(t *testing.T, s Store, runID, key string, pageSize int) []loopml.Metric {
	t.Helper()
	var out []loopml.Metric
	tok := ""
	for i := 0; ; i++ {
		page, next, err := s.GetMetricHistory(ctx, loopml.MetricHistoryQuery{RunID: runID, Key: key, MaxResults: pageSize, PageToken: tok})
		if err != nil {
			t.Fatalf("get metric history %s/%s: %v", runID, key, err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		if i > 1_000_000 {
			t.Fatal("metric history paging does not end")
		}
		tok = next
	}
}

func tagValue(tags []loopml.Tag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

func paramValue(params []loopml.Param, key string) (string, bool) {
	for _, p := range params {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

func metricByKey(ms []loopml.Metric, key string) (loopml.Metric, bool) {
	for _, m := range ms {
		if m.Key == key {
			return m, true
		}
	}
	return loopml.Metric{}, false
}

// sameFloat compares floats treating NaN as equal to NaN.
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b
}

func sameMetric(a, b loopml.Metric) bool {
	return a.Key == b.Key && a.Step == b.Step && a.Timestamp == b.Timestamp && sameFloat(a.Value, b.Value)
}

func fmtMetrics(ms []loopml.Metric) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "{%s step=%d ts=%d v=%v} ", m.Key, m.Step, m.Timestamp, m.Value)
	}
	return b.String()
}

var runIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func runIDs(runs []*loopml.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

func runNames(runs []*loopml.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.Name
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
