package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// shadowJob is a copy of a served request for one shadow target, with the
// primary's answer to compare against.
type shadowJob struct {
	endpoint  string
	target    *target
	requestID string
	// Exactly one of pairs (a prediction) and user (a recommendation).
	pairs   [][2]string
	scores  []float64 // the primary's predictions
	user    string
	k       int
	exclude bool
	items   []string // the primary's recommendations
	// body and kind ("json" or "csv") are the /invocations request as
	// sent, kept when the endpoint has shadow targets: a tabular or
	// process-served shadow (or primary) scores the request itself.
	body []byte
	kind string
}

// shadow queues a copy of a request for every shadow target of ep. It
// never blocks: when the queue is full the copy is dropped and counted.
func (g *Gateway) shadow(ep *endpoint, job shadowJob) {
	if len(ep.shadow) == 0 || g.shadowCh == nil || g.closed.Load() {
		return
	}
	job.endpoint = ep.spec.Name
	for _, tg := range ep.shadow {
		j := job
		j.target = tg
		select {
		case g.shadowCh <- j:
		default:
			if n := g.shadowDropped.Add(1); n&(n-1) == 0 { // log at powers of two
				g.logger().Warn("shadow queue full: copies dropped", "endpoint", ep.spec.Name, "dropped_total", n)
			}
		}
	}
}

// shadowWorker runs queued shadow requests until ctx ends and logs how
// each answer compares with the primary's.
func (g *Gateway) shadowWorker(ctx context.Context) {
	log := g.logger()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-g.shadowCh:
			l := j.target.cur.Load()
			if l == nil {
				continue
			}
			start := time.Now()
			logged := g.shadowLogged(j.requestID)
			if j.body != nil && (j.pairs == nil || l.tab != nil || l.proc != nil) {
				g.shadowBody(&j, l, logged, start)
			} else if j.pairs != nil {
				var sum float64
				var scores []float64
				for i, p := range j.pairs {
					s, _ := l.model.Predict(p[0], p[1])
					sum += math.Abs(s - j.scores[i])
					if logged {
						scores = append(scores, s)
					}
				}
				if logged {
					g.logShadowPairs(&j, l, scores, start)
				}
				log.Info("shadow prediction", "endpoint", j.endpoint, "request_id", j.requestID, "shadow", l.label(),
					"rows", len(j.pairs), "mean_abs_diff", sum/float64(max(len(j.pairs), 1)), "seconds", time.Since(start).Seconds())
			} else if j.user != "" {
				rec := l.model.Recommend(j.user, j.k, j.exclude)
				if logged {
					g.logShadowRecommend(&j, l, rec, start)
				}
				primary := map[string]bool{}
				for _, it := range j.items {
					primary[it] = true
				}
				common := 0
				for _, s := range rec {
					if primary[s.Item] {
						common++
					}
				}
				log.Info("shadow recommendation", "endpoint", j.endpoint, "request_id", j.requestID, "shadow", l.label(),
					"k", j.k, "items", len(rec), "overlap", common, "seconds", time.Since(start).Seconds())
			}
			g.shadowDone.Add(1)
		}
	}
}

// ShadowStats returns how many shadow copies ran and how many were dropped
// because the queue was full.
func (g *Gateway) ShadowStats() (done, dropped int64) {
	return g.shadowDone.Load(), g.shadowDropped.Load()
}

// shadowBody answers a copied /invocations request with shadow target l
// from the request body: decoded and scored in process for a loopml model,
// proxied to the child for a process-served one. The answer (or the
// error) is logged like the primary's, never returned.
func (g *Gateway) shadowBody(j *shadowJob, l *loaded, logged bool, start time.Time) {
	status, out, msg := http.StatusOK, []byte(nil), ""
	if l.proc != nil {
		status, out = g.shadowProcess(j, l)
		if status >= 400 {
			msg = strings.TrimSpace(string(out))
		}
	} else {
		answer, err := scoreBody(l, j.body, j.kind)
		if err == nil {
			out, err = json.Marshal(map[string]any{"predictions": answer})
		}
		if err != nil {
			status, msg = statusOf(err), loopml.ErrorMessage(err)
		}
	}
	if logged {
		g.logShadowAnswer(j, l, "invocations", j.body, out, status, msg, start)
	}
	g.logger().Info("shadow prediction", "endpoint", j.endpoint, "request_id", j.requestID, "shadow", l.label(),
		"status", status, "seconds", time.Since(start).Seconds())
}

// scoreBody decodes an /invocations body (JSON or CSV) for l, a loopml
// model, and returns its predictions as the primary would answer them.
func scoreBody(l *loaded, body []byte, kind string) (any, error) {
	frame, _, err := decodeScoring(bytes.NewReader(body), kind, l)
	if err != nil {
		return nil, err
	}
	if l.tab != nil {
		preds, err := tabularPredict(l, frame)
		if err != nil {
			return nil, err
		}
		return tabularScoring(l, preds), nil
	}
	pairs, err := framePairs(l, frame)
	if err != nil {
		return nil, err
	}
	return predict(l, pairs), nil
}

// shadowProcess posts the copied body to l's child and returns its answer.
func (g *Gateway) shadowProcess(j *shadowJob, l *loaded) (int, []byte) {
	l.proc.inflight.Add(1)
	defer l.proc.inflight.Add(-1)
	ct := "application/json"
	if j.kind == "csv" {
		ct = "text/csv"
	}
	r, err := http.NewRequest(http.MethodPost, "/invocations", bytes.NewReader(j.body))
	if err != nil {
		return http.StatusInternalServerError, []byte(err.Error())
	}
	r.Header.Set("Content-Type", ct)
	r.Header.Set(HeaderRequestID, j.requestID)
	w := &bufferWriter{header: http.Header{}}
	l.proc.rt.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.status, trimNewline(w.body.Bytes())
}

// bufferWriter is an http.ResponseWriter that keeps the answer.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferWriter) Header() http.Header { return w.header }
func (w *bufferWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *bufferWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
