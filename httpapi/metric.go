package httpapi

import (
	"net/http"

	"github.com/loopml/loopml"
)

func (s *Server) registerMetricRoutes(mux *http.ServeMux) {
	handle(mux, "POST", "runs/log-metric", s.handleLogMetric)
	handle(mux, "POST", "runs/log-batch", s.handleLogBatch)
	handle(mux, "GET", "metrics/get-history", s.handleGetMetricHistory)
	handle(mux, "GET", "metrics/get-history-bulk-interval", s.handleGetMetricHistoryBulkInterval)
}

// logMetricRequest is MLflow's LogMetric.
type logMetricRequest struct {
	runRef
	metric       loopml.Metric
	hasValue     bool
	hasTimestamp bool
}

func (q *logMetricRequest) field(d *decoder, key []byte) (err error) {
	if ok, err := q.runRef.field(d, key); ok {
		return err
	}
	switch string(key) {
	case "key":
		q.metric.Key, err = d.str()
	case "value":
		q.hasValue = d.peek() != 'n'
		q.metric.Value, err = d.float()
	case "timestamp":
		q.hasTimestamp = d.peek() != 'n'
		q.metric.Timestamp, err = d.int64()
	case "step":
		q.metric.Step, err = d.int64()
	default:
		err = d.skip()
	}
	return err
}

func (s *Server) handleLogMetric(w http.ResponseWriter, r *http.Request) {
	var q logMetricRequest
	if err := s.decode(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := q.id()
	switch {
	case err != nil:
	case q.metric.Key == "":
		err = missing("key")
	case !q.hasValue:
		err = missing("value")
	case !q.hasTimestamp:
		err = missing("timestamp")
	}
	if err == nil {
		metrics := [1]loopml.Metric{q.metric}
		err = s.runs.LogBatch(r.Context(), id, loopml.Batch{Metrics: metrics[:]})
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

// logBatchRequest is MLflow's LogBatch.
type logBatchRequest struct {
	runRef
	batch loopml.Batch
}

func (q *logBatchRequest) field(d *decoder, key []byte) (err error) {
	if ok, err := q.runRef.field(d, key); ok {
		return err
	}
	switch string(key) {
	case "metrics":
		err = decodeMetrics(d, &q.batch.Metrics)
	case "params":
		err = d.array(func(d *decoder, _ int) error {
			var p loopml.Param
			err := d.object(func(d *decoder, key []byte) (err error) {
				switch string(key) {
				case "key":
					p.Key, err = d.str()
				case "value":
					p.Value, err = d.str()
				default:
					err = d.skip()
				}
				return err
			})
			q.batch.Params = append(q.batch.Params, p)
			return err
		})
	case "tags":
		err = decodeTags(d, &q.batch.Tags)
	default:
		err = d.skip()
	}
	return err
}

func (s *Server) handleLogBatch(w http.ResponseWriter, r *http.Request) {
	var q logBatchRequest
	if err := s.decode(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := q.id()
	if err == nil {
		err = s.runs.LogBatch(r.Context(), id, q.batch)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

func (s *Server) handleGetMetricHistory(w http.ResponseWriter, r *http.Request) {
	q := query(r.URL.Query())
	id, err := runIDFromQuery(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	key := q.str("metric_key")
	if key == "" {
		s.writeError(w, r, missing("metric_key"))
		return
	}
	maxResults, err := q.int64("max_results")
	if err == nil && maxResults < 0 {
		err = loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'max_results' supplied: it must be a positive integer", maxResults)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	metrics, next, err := s.runs.GetMetricHistory(r.Context(), loopml.MetricHistoryQuery{
		RunID:      id,
		Key:        key,
		MaxResults: clampInt(maxResults),
		PageToken:  q.str("page_token"),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// About 60 bytes of JSON per point besides the key.
	respondSized(w, len(metrics)*(len(key)+64)+len(next)+64, func(e *encoder) {
		if len(metrics) > 0 {
			e.arrayField("metrics")
			for i := range metrics {
				e.beginObject()
				encodeMetric(e, &metrics[i])
				e.endObject()
			}
			e.endArray()
		}
		e.str("next_page_token", next)
	})
}

func (s *Server) handleGetMetricHistoryBulkInterval(w http.ResponseWriter, r *http.Request) {
	q := query(r.URL.Query())
	bq, err := bulkIntervalQuery(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	metrics, err := s.runs.GetMetricHistoryBulkInterval(r.Context(), bq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		if len(metrics) > 0 {
			e.arrayField("metrics")
			for i := range metrics {
				e.beginObject()
				encodeMetric(e, &metrics[i].Metric)
				e.str("run_id", metrics[i].RunID)
				e.endObject()
			}
			e.endArray()
		}
	})
}

// bulkIntervalQuery reads and checks GetMetricHistoryBulkInterval's query.
func bulkIntervalQuery(q query) (loopml.MetricBulkIntervalQuery, error) {
	bq := loopml.MetricBulkIntervalQuery{RunIDs: q.list("run_ids"), Key: q.str("metric_key")}
	switch {
	case len(bq.RunIDs) == 0:
		return bq, missing("run_ids")
	case len(bq.RunIDs) > loopml.MaxBulkIntervalRuns:
		return bq, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'run_ids' supplied: at most %d run ids are allowed, got %d", loopml.MaxBulkIntervalRuns, len(bq.RunIDs))
	case bq.Key == "":
		return bq, missing("metric_key")
	}
	for i, id := range bq.RunIDs {
		if id == "" {
			return bq, loopml.Errorf(loopml.EINVALID, "Invalid value \"\" for parameter 'run_ids[%d]' supplied: run ids must not be empty", i)
		}
	}
	if q.has("max_results") {
		n, err := q.int64("max_results")
		if err != nil {
			return bq, err
		}
		if n <= 0 || n > loopml.MaxBulkIntervalResults {
			return bq, loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'max_results' supplied: it must be between 1 and %d", n, loopml.MaxBulkIntervalResults)
		}
		bq.MaxResults = int(n)
	}
	hasStart, hasEnd := q.has("start_step"), q.has("end_step")
	if hasStart != hasEnd {
		return bq, loopml.Errorf(loopml.EINVALID, "Invalid value for parameter 'start_step' and 'end_step' supplied: if either is specified, both must be")
	}
	if hasStart {
		start, err := q.int64("start_step")
		if err != nil {
			return bq, err
		}
		end, err := q.int64("end_step")
		if err != nil {
			return bq, err
		}
		if start > end {
			return bq, loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'end_step' supplied: it must not be less than start_step (%d)", end, start)
		}
		bq.StartStep, bq.EndStep = &start, &end
	}
	return bq, nil
}

// encodeMetric writes the members of an MLflow Metric. Value, timestamp and
// step are always written (step 0 is meaningful); NaN and ±Inf become the
// strings "NaN", "Infinity", "-Infinity".
func encodeMetric(e *encoder, m *loopml.Metric) {
	e.strAlways("key", m.Key)
	e.float("value", m.Value)
	e.int("timestamp", m.Timestamp)
	e.int("step", m.Step)
}

// decodeMetrics appends a list of MLflow Metric (or MetricWithRunId, whose
// run_id is ignored) to dst.
func decodeMetrics(d *decoder, dst *[]loopml.Metric) error {
	return d.array(func(d *decoder, _ int) error {
		*dst = append(*dst, loopml.Metric{})
		return decodeMetric(d, &(*dst)[len(*dst)-1], nil)
	})
}

// decodeMetric reads one MLflow Metric; runID, if not nil, receives run_id.
func decodeMetric(d *decoder, m *loopml.Metric, runID *string) error {
	return d.object(func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "key":
			m.Key, err = d.internStr()
		case "value":
			m.Value, err = d.float()
		case "timestamp":
			m.Timestamp, err = d.int64()
		case "step":
			m.Step, err = d.int64()
		case "run_id":
			if runID == nil {
				return d.skip()
			}
			*runID, err = d.str()
		default:
			err = d.skip()
		}
		return err
	})
}
