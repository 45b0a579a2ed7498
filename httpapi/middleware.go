package httpapi

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loopml/loopml"
	"github.com/prometheus/client_golang/prometheus"
)

// requestIDHeader carries the request id in both directions.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds request ids accepted from clients.
const maxRequestIDLen = 128

// requestIDs generates ids as a per-process random prefix plus a counter:
// unique, cheap, and sortable within a process.
var (
	requestIDPrefix = func() string {
		return rand.Text()[:10]
	}()
	requestIDCounter atomic.Uint64
)

func newRequestID() string {
	n := requestIDCounter.Add(1)
	b := make([]byte, 0, len(requestIDPrefix)+1+16)
	b = append(b, requestIDPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, n, 10)
	return string(b)
}

// validRequestID accepts short printable-ASCII ids, so a client's id cannot
// inject anything into logs or headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// requestID takes the request id from X-Request-Id or makes one, echoes it
// in the response and puts it in the request context.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(loopml.NewContextWithRequestID(r.Context(), id)))
	})
}

// WorkspaceHeader carries the workspace of a request: every object a
// request creates, reads or lists belongs to it. Without the header the
// request works in loopml.DefaultWorkspace. The name is 1 to 64 ASCII
// letters, digits, '-', '_' or '.', starting with a letter or digit.
const WorkspaceHeader = "X-Loopml-Workspace"

// maxWorkspaceLen bounds workspace names accepted from clients.
const maxWorkspaceLen = 64

// validWorkspace reports whether name is an acceptable workspace name.
func validWorkspace(name string) bool {
	if name == "" || len(name) > maxWorkspaceLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// workspace puts the workspace named by the X-Loopml-Workspace header into
// the request context; an invalid name is a 400 naming the header.
func (s *Server) workspace(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vals := r.Header.Values(WorkspaceHeader)
		if len(vals) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if len(vals) > 1 || !validWorkspace(vals[0]) {
			s.writeError(w, r, loopml.Errorf(loopml.EINVALID,
				"header %s: %q is not a workspace name (1 to %d letters, digits, '-', '_' or '.', starting with a letter or digit; one header)",
				WorkspaceHeader, strings.Join(vals, ", "), maxWorkspaceLen))
			return
		}
		next.ServeHTTP(w, r.WithContext(loopml.NewContextWithWorkspace(r.Context(), vals[0])))
	})
}

// observe writes the access log line and the Prometheus metrics of each
// request.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		elapsed := time.Since(start)
		route := routeLabel(r)
		if s.metrics != nil {
			s.metrics.observe(route, r.Method, status, elapsed)
		}
		if s.logger.Enabled(r.Context(), slog.LevelInfo) {
			s.logger.LogAttrs(r.Context(), slog.LevelInfo, "http request",
				slog.String("request_id", loopml.RequestIDFromContext(r.Context())),
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", elapsed))
		}
	})
}

// recoverPanics turns a handler panic into a logged 500 INTERNAL_ERROR.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.LogAttrs(r.Context(), slog.LevelError, "panic in handler",
				slog.String("request_id", loopml.RequestIDFromContext(r.Context())),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())))
			if rec, ok := w.(*statusRecorder); ok && rec.status != 0 {
				// The response has started: all we can do is cut it short.
				panic(http.ErrAbortHandler)
			}
			writeErrorBody(w, http.StatusInternalServerError, "INTERNAL_ERROR", "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies of the JSON API at the configured size.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.maxBody {
			s.writeError(w, r, loopml.Errorf(loopml.ETOOLARGE, "request body is larger than the limit of %d bytes", s.maxBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the underlying writer's sendfile path for downloads.
func (r *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(r.ResponseWriter, src)
	}
	r.bytes += n
	return n, err
}

// Flush implements http.Flusher.
func (r *statusRecorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// httpMetrics are the Prometheus collectors of the API.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loopml_http_requests_total",
			Help: "HTTP requests served, by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loopml_http_request_duration_seconds",
			Help:    "HTTP request latency, by route, method and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
	}
	m.requests = register(reg, m.requests)
	m.latency = register(reg, m.latency)
	return m
}

// register registers c, or returns the identical collector a previous
// Server registered on the same registry.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(fmt.Sprintf("httpapi: register metrics: %v", err))
	}
	return c
}

func (m *httpMetrics) observe(route, method string, status int, d time.Duration) {
	st := statusText(status)
	m.requests.WithLabelValues(route, method, st).Inc()
	m.latency.WithLabelValues(route, method, st).Observe(d.Seconds())
}

// statusText avoids an allocation for the common statuses.
func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 400:
		return "400"
	case 404:
		return "404"
	case 500:
		return "500"
	}
	return strconv.Itoa(code)
}
