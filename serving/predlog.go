package serving

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/learn"
)

// Defaults of PredictionLogConfig's zero-valued fields.
const (
	DefaultPredictionLogQueue    = 8192
	DefaultPredictionLogMaxBytes = 64 << 10
	DefaultPredictionLogBatch    = 256
	DefaultPredictionLogFlush    = 20 * time.Millisecond
	DefaultPredictionLogDrain    = 10 * time.Second
)

// PredictionLogConfig configures the gateway's prediction log: every
// request to /invocations, /infer and /recommend (and every shadow copy)
// becomes one loopml.Prediction, queued and written in batches by
// background writers. Logging never delays a response: when the queue is
// full the prediction is dropped and counted. The zero value logs nothing
// (Store nil); the other zero fields take the defaults.
type PredictionLogConfig struct {
	// Store receives the batches; nil disables logging.
	Store loopml.PredictionLog
	// SampleRate is the fraction of requests logged, in (0, 1]; 0 means 1.
	// The decision hashes the request id, so a request and its shadow
	// copies are sampled together, on every replica alike.
	SampleRate float64
	// MaxBytes bounds the logged inputs and outputs of one request (each);
	// longer ones are cut and the prediction is flagged Truncated. 0 is
	// DefaultPredictionLogMaxBytes.
	MaxBytes int
	// Queue is the number of predictions waiting to be written; 0 is
	// DefaultPredictionLogQueue.
	Queue int
	// BatchSize and FlushInterval: while predictions arrive, a writer
	// wakes every FlushInterval and writes what is queued in batches of at
	// most BatchSize (one transaction each). 0 means
	// DefaultPredictionLogBatch and DefaultPredictionLogFlush. The queue
	// must hold what arrives in one FlushInterval at the peak rate (8192
	// is 200 ms at 40,000 requests/s).
	BatchSize     int
	FlushInterval time.Duration
	// Writers is the number of writer goroutines; 0 means 1 (SQLite has a
	// single writer anyway; PostgreSQL may use 2).
	Writers int
	// DrainTimeout bounds how long Close waits to write what is queued; 0
	// is DefaultPredictionLogDrain.
	DrainTimeout time.Duration
	// Workspace stamps the predictions; "" is loopml.DefaultWorkspace.
	Workspace string
}

// PredictionLogStats counts the prediction log's activity.
type PredictionLogStats struct {
	Queued  int64 // accepted into the queue
	Dropped int64 // refused because the queue was full
	Written int64 // stored
	Failed  int64 // lost because the store refused their batch
	Depth   int   // waiting in the queue now
}

// predLogger is the queue and the writers of a PredictionLogConfig.
type predLogger struct {
	cfg       PredictionLogConfig
	threshold uint64 // sampled when hash(request id) < threshold; 0 = all
	maxBytes  int
	ch        chan *loopml.Prediction
	warn      func(msg string, args ...any)
	quit      chan struct{}
	wg        sync.WaitGroup
	closed    atomic.Bool

	queued, dropped, written, failed atomic.Int64
	failedBatches                    atomic.Int64
}

func newPredLogger(cfg PredictionLogConfig, warn func(msg string, args ...any)) *predLogger {
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultPredictionLogQueue
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultPredictionLogMaxBytes
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultPredictionLogBatch
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultPredictionLogFlush
	}
	if cfg.Writers <= 0 {
		cfg.Writers = 1
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultPredictionLogDrain
	}
	if cfg.Workspace == "" {
		cfg.Workspace = loopml.DefaultWorkspace
	}
	p := &predLogger{cfg: cfg, maxBytes: cfg.MaxBytes, ch: make(chan *loopml.Prediction, cfg.Queue), quit: make(chan struct{}), warn: warn}
	if r := cfg.SampleRate; r > 0 && r < 1 {
		p.threshold = max(1, uint64(r*(1<<63))<<1)
	}
	for range cfg.Writers {
		p.wg.Add(1)
		go p.writer()
	}
	return p
}

// sampled reports whether the request with id is logged.
func (p *predLogger) sampled(id string) bool {
	if p.threshold == 0 {
		return true
	}
	h := fnv.New64a()
	_, _ = io.WriteString(h, id)
	return mix(h.Sum64()) < p.threshold
}

// enqueue queues pr without ever blocking; false when it was dropped.
func (p *predLogger) enqueue(pr *loopml.Prediction) bool {
	if p.closed.Load() {
		p.dropped.Add(1)
		return false
	}
	select {
	case p.ch <- pr:
		p.queued.Add(1)
		return true
	default:
		if n := p.dropped.Add(1); n&(n-1) == 0 { // log at powers of two
			p.warn("prediction log queue full: predictions dropped", "dropped_total", n, "queue", cap(p.ch))
		}
		return false
	}
}

// writer writes the queued predictions in batches of at most BatchSize
// until quit, then drains. Idle, it blocks on the queue; once predictions
// flow, it stops listening and wakes every FlushInterval to take what
// accumulated: a request then only puts its prediction in the buffered
// queue, never waking the writer (a goroutine wake-up per request cost more
// CPU than the send itself), and the store's work comes in bursts of
// BatchSize rows rather than one long transaction.
func (p *predLogger) writer() {
	defer p.wg.Done()
	batch := make([]*loopml.Prediction, 0, p.cfg.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select { // idle: wait for the first prediction
		case <-p.quit:
			p.drain(batch)
			return
		case pr := <-p.ch:
			batch = append(batch[:0], pr)
		}
		for len(batch) > 0 { // busy
			if len(batch) < p.cfg.BatchSize { // let more come
				timer.Reset(p.cfg.FlushInterval)
				select {
				case <-p.quit:
					timer.Stop()
					p.drain(batch)
					return
				case <-timer.C:
				}
				batch = p.fill(batch)
			}
			p.write(context.Background(), batch)
			clear(batch)
			// Go idle when nothing came during the write.
			batch = p.fill(batch[:0])
		}
	}
}

// fill adds queued predictions to batch, without waiting, up to BatchSize.
func (p *predLogger) fill(batch []*loopml.Prediction) []*loopml.Prediction {
	for len(batch) < p.cfg.BatchSize {
		select {
		case pr := <-p.ch:
			batch = append(batch, pr)
		default:
			return batch
		}
	}
	return batch
}

// drain writes batch and everything still queued, within DrainTimeout.
func (p *predLogger) drain(batch []*loopml.Prediction) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DrainTimeout)
	defer cancel()
	for {
		for len(batch) < p.cfg.BatchSize {
			select {
			case pr := <-p.ch:
				batch = append(batch, pr)
				continue
			default:
			}
			break
		}
		if len(batch) == 0 {
			return
		}
		if ctx.Err() != nil {
			p.failed.Add(int64(len(batch)))
		} else {
			p.write(ctx, batch)
		}
		batch = batch[:0]
	}
}

func (p *predLogger) write(ctx context.Context, batch []*loopml.Prediction) {
	ctx = loopml.NewContextWithWorkspace(ctx, p.cfg.Workspace)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.cfg.Store.LogPredictions(ctx, batch); err != nil {
		n := p.failed.Add(int64(len(batch)))
		if b := p.failedBatches.Add(1); b&(b-1) == 0 { // log at powers of two
			p.warn("writing predictions failed", "predictions", len(batch), "failed_total", n, "err", err)
		}
		return
	}
	p.written.Add(int64(len(batch)))
}

// close stops accepting predictions and waits for the writers to drain
// the queue (at most DrainTimeout).
func (p *predLogger) close() {
	if p.closed.Swap(true) {
		return
	}
	close(p.quit)
	p.wg.Wait()
}

func (p *predLogger) stats() PredictionLogStats {
	return PredictionLogStats{Queued: p.queued.Load(), Dropped: p.dropped.Load(), Written: p.written.Load(),
		Failed: p.failed.Load(), Depth: len(p.ch)}
}

// PredictionLogStats returns the prediction log's counters (zero when
// logging is off).
func (g *Gateway) PredictionLogStats() PredictionLogStats {
	if p := g.plog.Load(); p != nil {
		return p.stats()
	}
	return PredictionLogStats{}
}

// recorder wraps the ResponseWriter of a logged route: it records the
// status, the endpoint and target that answered, the error message, and,
// when the request is sampled, the first MaxBytes of the request and
// response bodies. Recorders are pooled.
type recorder struct {
	http.ResponseWriter
	status  int
	ep      *endpoint
	tg      *target
	l       *loaded
	errMsg  string
	capture bool
	max     int
	in, out []byte
	inTrunc bool
	outCut  bool
	body    captureBody
}

var recorderPool = sync.Pool{New: func() any { return &recorder{} }}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.capture {
		room := rec.max - len(rec.out)
		if len(b) > room {
			rec.out = append(rec.out, b[:max(room, 0)]...)
			rec.outCut = true
		} else {
			rec.out = append(rec.out, b...)
		}
	}
	return rec.ResponseWriter.Write(b)
}

// captureBody copies the first max bytes read from the request body.
type captureBody struct {
	io.ReadCloser
	rec *recorder
}

func (c *captureBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 {
		rec := c.rec
		room := rec.max - len(rec.in)
		if n > room {
			rec.in = append(rec.in, p[:max(room, 0)]...)
			rec.inTrunc = true
		} else {
			rec.in = append(rec.in, p[:n]...)
		}
	}
	return n, err
}

// noteTarget tells the recorder of w (if w is one) which endpoint, target
// and loaded version answer the request; handlers call it once they know.
func noteTarget(w http.ResponseWriter, ep *endpoint, tg *target, l *loaded) {
	if rec, ok := w.(*recorder); ok {
		rec.ep, rec.tg, rec.l = ep, tg, l
	}
}

// noteError records the message of an error response.
func noteError(w http.ResponseWriter, msg string) {
	if rec, ok := w.(*recorder); ok {
		rec.errMsg = msg
	}
}

// logged wraps a prediction handler (protocol "invocations", "infer" or
// "recommend"): it times the request, records the serving metrics and,
// when logging is on and the request is sampled, queues its Prediction.
func (g *Gateway) logged(protocol string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		plog, m, traffic := g.plog.Load(), g.metrics.Load(), g.Traffic
		if plog == nil && m == nil && traffic == nil {
			h(w, r)
			return
		}
		start := time.Now()
		rec := recorderPool.Get().(*recorder)
		rec.ResponseWriter = w
		id := w.Header().Get(HeaderRequestID)
		if plog != nil && plog.sampled(id) {
			rec.capture, rec.max = true, plog.maxBytes
			if r.Body != nil {
				rec.body = captureBody{ReadCloser: r.Body, rec: rec}
				r.Body = &rec.body
			}
		}
		h(rec, r)
		elapsed := time.Since(start)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if m != nil {
			m.observe(rec.ep, rec.tg, rec.l, rec.status, elapsed)
		}
		if traffic != nil && rec.tg != nil {
			traffic.record(rec.ep.spec.Name, rec.tg, rec.l, rec.status, elapsed)
		}
		if rec.capture && rec.ep != nil {
			pr := &loopml.Prediction{
				RequestID: id, Workspace: plog.cfg.Workspace, Endpoint: rec.ep.spec.Name, Protocol: protocol,
				Status: rec.status, Error: rec.errMsg, Inputs: string(rec.in), Outputs: string(trimNewline(rec.out)),
				Truncated: rec.inTrunc || rec.outCut, LatencyUs: elapsed.Microseconds(), Timestamp: start.UnixMilli(),
			}
			if rec.tg != nil {
				pr.Target = rec.tg.spec.Model
			}
			if rec.l != nil {
				pr.Model, pr.Version = rec.l.version.Name, rec.l.version.Version
			}
			if pr.Status >= 400 && pr.Error == "" {
				pr.Error = http.StatusText(pr.Status)
			}
			plog.enqueue(pr)
		}
		// Reset and return the recorder (keep small buffers).
		in, out := rec.in[:0], rec.out[:0]
		if cap(in) > 64<<10 {
			in = nil
		}
		if cap(out) > 64<<10 {
			out = nil
		}
		*rec = recorder{in: in, out: out}
		recorderPool.Put(rec)
	}
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}

// shadowLogged reports whether the shadow copies of request id are
// logged (logging on and the request sampled).
func (g *Gateway) shadowLogged(id string) bool {
	p := g.plog.Load()
	return p != nil && p.sampled(id)
}

// logShadowPairs logs a shadow target's predictions for a copied
// invocations or infer request.
func (g *Gateway) logShadowPairs(j *shadowJob, l *loaded, scores []float64, start time.Time) {
	rows := make([][2]any, len(j.pairs))
	for i, p := range j.pairs {
		rows[i] = [2]any{l.itemValue(p[0]), l.itemValue(p[1])}
	}
	in, _ := json.Marshal(map[string]any{"dataframe_split": map[string]any{"columns": []string{"user_id", "item_id"}, "data": rows}})
	out, _ := json.Marshal(map[string]any{"predictions": scores})
	g.logShadow(j, l, "invocations", in, out, start)
}

// logShadowRecommend logs a shadow target's recommendations.
func (g *Gateway) logShadowRecommend(j *shadowJob, l *loaded, rec []learn.Scored, start time.Time) {
	items := make([]recommendItem, len(rec))
	for i, s := range rec {
		items[i] = recommendItem{ItemID: l.itemValue(s.Item), Score: s.Score}
	}
	in, _ := json.Marshal(map[string]any{"user_id": l.itemValue(j.user), "k": j.k, "exclude_seen": j.exclude})
	out, _ := json.Marshal(map[string]any{"items": items})
	g.logShadow(j, l, "recommend", in, out, start)
}

func (g *Gateway) logShadow(j *shadowJob, l *loaded, protocol string, in, out []byte, start time.Time) {
	g.logShadowAnswer(j, l, protocol, in, out, http.StatusOK, "", start)
}

// logShadowAnswer logs a shadow target's answer with its status and error
// message.
func (g *Gateway) logShadowAnswer(j *shadowJob, l *loaded, protocol string, in, out []byte, status int, msg string, start time.Time) {
	plog := g.plog.Load()
	if plog == nil {
		return
	}
	elapsed := time.Since(start)
	trunc := false
	if len(in) > plog.maxBytes {
		in, trunc = in[:plog.maxBytes], true
	}
	if len(out) > plog.maxBytes {
		out, trunc = out[:plog.maxBytes], true
	}
	plog.enqueue(&loopml.Prediction{
		RequestID: j.requestID, Workspace: plog.cfg.Workspace, Endpoint: j.endpoint, Target: j.target.spec.Model,
		Model: l.version.Name, Version: l.version.Version, Shadow: true, Protocol: protocol, Status: status, Error: msg,
		Inputs: string(in), Outputs: string(out), Truncated: trunc, LatencyUs: elapsed.Microseconds(), Timestamp: start.UnixMilli(),
	})
}

// startObservability creates the prediction logger and the metrics from
// the Gateway's fields; start calls it once.
func (g *Gateway) startObservability() {
	if g.PredictionLog.Store != nil {
		log := g.logger()
		g.plog.Store(newPredLogger(g.PredictionLog, func(msg string, args ...any) { log.Warn(msg, args...) }))
	}
	if g.Metrics != nil {
		g.metrics.Store(newGatewayMetrics(g.Metrics, g))
	}
}
