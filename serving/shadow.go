package serving

import (
	"context"
	"math"
	"time"
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
			if j.pairs != nil {
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
			} else {
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
