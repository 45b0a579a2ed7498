package procserve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/loopml/loopml"
)

// maxResponse bounds a child's response that the runtime reads whole
// (batched requests).
const maxResponse = 256 << 20

// hopHeaders are not forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// ServeHTTP answers GET /ping and /health from the runtime's state (200
// when a child is ready, else 503), merges POST /invocations into batches
// when batching is on, and proxies every other request to the same path
// on the child. Failures are MLflow error bodies: 503 while the child is
// restarting, 504 when it does not answer within Options.RequestTimeout,
// 502 when it fails while answering; the child's own errors pass through.
func (rt *Runtime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && (r.URL.Path == "/ping" || r.URL.Path == "/health") {
		if !rt.Ready() {
			writeError(w, rt.errUnavailable())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}\n")
		return
	}
	if rt.batch != nil && r.Method == http.MethodPost && r.URL.Path == "/invocations" {
		rt.batch.serve(w, r)
		return
	}
	rt.forward(w, r)
}

// forward streams r to the child and its answer back.
func (rt *Runtime) forward(w http.ResponseWriter, r *http.Request) {
	in := rt.cur.Load()
	if in == nil {
		writeError(w, rt.errUnavailable())
		return
	}
	u := in.base + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	body := r.Body
	if r.ContentLength == 0 {
		body = nil
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u, body)
	if err != nil {
		writeError(w, loopml.WrapError(loopml.EINVALID, err, "model %s: request", rt.label))
		return
	}
	out.ContentLength = r.ContentLength
	copyHeader(out.Header, r.Header)
	resp, err := in.client.Do(out)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, loopml.Errorf(loopml.ETOOLARGE, "request body is larger than %d bytes", mbe.Limit))
			return
		}
		writeError(w, rt.childError(in, err))
		return
	}
	defer resp.Body.Close()
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// reply is a child's complete answer.
type reply struct {
	status int
	ctype  string
	body   []byte
}

// post sends one whole body to the child's /invocations.
func (rt *Runtime) post(ctx context.Context, ctype string, body []byte) (*reply, error) {
	in := rt.cur.Load()
	if in == nil {
		return nil, rt.errUnavailable()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.base+"/invocations", bytes.NewReader(body))
	if err != nil {
		return nil, loopml.WrapError(loopml.EINTERNAL, err, "model %s: request", rt.label)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := in.client.Do(req)
	for try := 1; isDial(err) && try < 4 && ctx.Err() == nil; try++ {
		// Nothing was sent: a full accept queue (EAGAIN on Unix sockets)
		// clears in a moment.
		time.Sleep(time.Duration(try) * time.Millisecond)
		req.Body = io.NopCloser(bytes.NewReader(body))
		resp, err = in.client.Do(req)
	}
	if err != nil {
		return nil, rt.childError(in, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, rt.childError(in, err)
	}
	if len(b) > maxResponse {
		return nil, loopml.Errorf(loopml.ETOOLARGE, "model %s: the answer is larger than %d bytes", rt.label, maxResponse)
	}
	return &reply{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}, nil
}

// childError is the error of a request the child did not answer.
type childError struct {
	status int
	msg    string
}

func (e *childError) Error() string { return e.msg }

func (rt *Runtime) childError(in *instance, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return &childError{http.StatusBadGateway, "model " + rt.label + ": cannot connect to the model process: " + oe.Err.Error()}
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || strings.Contains(err.Error(), "timeout awaiting response headers") {
		return &childError{http.StatusGatewayTimeout, "model " + rt.label + ": the model process did not answer within " + rt.opts.RequestTimeout.String()}
	}
	select {
	case <-in.exited:
		return &childError{http.StatusBadGateway, "model " + rt.label + ": the model process exited while answering (" + in.exitStatus() + "); it is being restarted"}
	default:
	}
	if rt.cur.Load() != in {
		return &childError{http.StatusBadGateway, "model " + rt.label + ": the model process failed while answering; it is being restarted"}
	}
	return &childError{http.StatusBadGateway, "model " + rt.label + ": the model process failed while answering: " + err.Error()}
}

func isDial(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// writeError writes an MLflow error body.
func writeError(w http.ResponseWriter, err error) {
	status, code, msg := http.StatusInternalServerError, "INTERNAL_ERROR", loopml.ErrorMessage(err)
	var ce *childError
	switch {
	case errors.As(err, &ce):
		status, msg = ce.status, ce.msg
		if status == http.StatusGatewayTimeout {
			code = "TEMPORARILY_UNAVAILABLE"
		}
	case loopml.ErrorCode(err) == loopml.EUNAVAILABLE:
		status, code = http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE"
	case loopml.ErrorCode(err) == loopml.EINVALID:
		status, code = http.StatusBadRequest, "BAD_REQUEST"
	case loopml.ErrorCode(err) == loopml.ETOOLARGE:
		status, code = http.StatusRequestEntityTooLarge, "REQUEST_LIMIT_EXCEEDED"
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error_code": code, "message": msg})
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append(dst[k][:0:0], vs...)
	}
	for _, h := range hopHeaders {
		dst.Del(h)
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}
