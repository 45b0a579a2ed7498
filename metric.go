package loopml

// Metric is one logged point. Value may be NaN or ±Inf.
type Metric struct {
	Key       string
	Value     float64
	Timestamp int64 // epoch ms
	Step      int64
}

// RunMetric is a Metric with the run it belongs to (bulk history).
type RunMetric struct {
	RunID string
	Metric
}

// MetricHistoryQuery selects the history of one metric of one run.
// MaxResults 0 means all points (the store may still page through them with
// its own page size; follow the token).
type MetricHistoryQuery struct {
	RunID      string
	Key        string
	MaxResults int
	PageToken  string
}

// MetricBulkIntervalQuery selects sampled histories of one metric over
// several runs. Nil StartStep/EndStep mean unbounded. MaxResults 0 means
// DefaultBulkIntervalResults; at most MaxBulkIntervalResults.
type MetricBulkIntervalQuery struct {
	RunIDs     []string
	Key        string
	StartStep  *int64
	EndStep    *int64
	MaxResults int
}

// Bulk interval limits (MLflow's).
const (
	MaxBulkIntervalRuns        = 100
	DefaultBulkIntervalResults = 320
	MaxBulkIntervalResults     = 2500
)

// Latest reports whether m should replace cur as a run's latest value of a
// metric: higher step wins, then later timestamp, then larger value (NaN
// counts as larger than any number, as in MLflow).
func (m Metric) Latest(cur Metric) bool {
	if m.Step != cur.Step {
		return m.Step > cur.Step
	}
	if m.Timestamp != cur.Timestamp {
		return m.Timestamp > cur.Timestamp
	}
	if m.Value != m.Value { // NaN
		return cur.Value == cur.Value
	}
	return m.Value > cur.Value
}
