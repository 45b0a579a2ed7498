package serving

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// gatewayMetrics are the gateway's Prometheus metrics. The per-request
// series are bound once per (endpoint, target, version) and cached, so a
// request costs a map lookup and three atomic adds, not a label hash.
type gatewayMetrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	loads    *prometheus.HistogramVec
	children sync.Map // childKey → *children
}

type childKey struct {
	ep *endpoint
	tg *target
	l  *loaded
}

type children struct {
	requests       prometheus.Counter
	client, server prometheus.Counter // 4xx and 5xx responses
	latency        prometheus.Observer
}

// newGatewayMetrics registers the gateway's metrics with reg. Series that
// another gateway registered already are shared.
func newGatewayMetrics(reg prometheus.Registerer, g *Gateway) *gatewayMetrics {
	labels := []string{"endpoint", "target", "version"}
	m := &gatewayMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loopml_serving_requests_total",
			Help: "Prediction requests (invocations, infer, recommend) by endpoint, target (model reference) and the version that answered.",
		}, labels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loopml_serving_errors_total",
			Help: "Prediction requests answered with an error, by endpoint, target, version and class (4xx or 5xx).",
		}, append(labels[:3:3], "class")),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loopml_serving_request_duration_seconds",
			Help:    "Time to answer a prediction request, by endpoint, target and version.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16), // 50µs .. ~1.6s
		}, labels),
		loads: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loopml_serving_model_load_duration_seconds",
			Help:    "Time to load and warm a model version, by outcome (ok or failed).",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 12), // 1ms .. ~3min
		}, []string{"outcome"}),
	}
	m.requests = register(reg, m.requests)
	m.errors = register(reg, m.errors)
	m.latency = register(reg, m.latency)
	m.loads = register(reg, m.loads)
	stat := func(f func(PredictionLogStats) float64) func() float64 {
		return func() float64 { return f(g.PredictionLogStats()) }
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "loopml_serving_prediction_log_queue_depth",
			Help: "Predictions waiting in the log queue."}, stat(func(s PredictionLogStats) float64 { return float64(s.Depth) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "loopml_serving_prediction_log_dropped_total",
			Help: "Predictions not logged because the log queue was full."}, stat(func(s PredictionLogStats) float64 { return float64(s.Dropped) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "loopml_serving_prediction_log_written_total",
			Help: "Predictions written to the prediction log store."}, stat(func(s PredictionLogStats) float64 { return float64(s.Written) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "loopml_serving_prediction_log_failed_total",
			Help: "Predictions lost because the store refused their batch."}, stat(func(s PredictionLogStats) float64 { return float64(s.Failed) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "loopml_serving_shadow_dropped_total",
			Help: "Shadow copies dropped because the shadow queue was full."}, func() float64 { _, d := g.ShadowStats(); return float64(d) }),
	} {
		if err := reg.Register(c); err != nil {
			g.logger().Warn("serving metric not registered (another gateway on the same registry?)", "err", err)
		}
	}
	return m
}

// register registers c, or returns the collector registered already
// under the same name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
	}
	return c
}

// observe records one request. ep, tg and l may be nil when the request
// failed before they were known.
func (m *gatewayMetrics) observe(ep *endpoint, tg *target, l *loaded, status int, d time.Duration) {
	k := childKey{ep, tg, l}
	v, ok := m.children.Load(k)
	if !ok {
		v = m.bind(k)
	}
	c := v.(*children)
	c.requests.Inc()
	c.latency.Observe(d.Seconds())
	switch {
	case status >= 500:
		c.server.Inc()
	case status >= 400:
		c.client.Inc()
	}
}

func (m *gatewayMetrics) bind(k childKey) any {
	name, target, version := "unknown", "", ""
	if k.ep != nil {
		name = k.ep.spec.Name
	}
	if k.tg != nil {
		target = k.tg.spec.Model
	}
	if k.l != nil {
		version = k.l.version.Version
	}
	c := &children{
		requests: m.requests.WithLabelValues(name, target, version),
		client:   m.errors.WithLabelValues(name, target, version, "4xx"),
		server:   m.errors.WithLabelValues(name, target, version, "5xx"),
		latency:  m.latency.WithLabelValues(name, target, version),
	}
	v, _ := m.children.LoadOrStore(k, c)
	return v
}

// observeLoad records a model load (and warm-up) and its outcome.
func (g *Gateway) observeLoad(d time.Duration, err error) {
	m := g.metrics.Load()
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	m.loads.WithLabelValues(outcome).Observe(d.Seconds())
}
