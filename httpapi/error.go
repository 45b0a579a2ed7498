package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/loopml/loopml"
)

// errorMapping is one row of the code table.
type errorMapping struct {
	code   string // loopml.E*
	status int    // HTTP status
	mlflow string // MLflow error_code
}

// errorTable is the one place where domain error codes become HTTP statuses
// and MLflow error codes, and (in the client) back. MLflow answers
// RESOURCE_ALREADY_EXISTS with 400, not 409, and its Python client keys on
// error_code, not on the status.
var errorTable = []errorMapping{
	{loopml.EINVALID, http.StatusBadRequest, "INVALID_PARAMETER_VALUE"},
	{loopml.ENOTFOUND, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST"},
	{loopml.ECONFLICT, http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS"},
	{loopml.ETOOLARGE, http.StatusRequestEntityTooLarge, "REQUEST_LIMIT_EXCEEDED"},
	{loopml.EUNAUTHORIZED, http.StatusUnauthorized, "UNAUTHENTICATED"},
	{loopml.EFORBIDDEN, http.StatusForbidden, "PERMISSION_DENIED"},
	{loopml.EUNAVAILABLE, http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE"},
	{loopml.ENOTIMPLEMENTED, http.StatusNotImplemented, "NOT_IMPLEMENTED"},
	{loopml.EINTERNAL, http.StatusInternalServerError, "INTERNAL_ERROR"},
}

// mappingForCode returns the row of a domain code (EINTERNAL's for unknown
// codes).
func mappingForCode(code string) errorMapping {
	for _, m := range errorTable {
		if m.code == code {
			return m
		}
	}
	return errorTable[len(errorTable)-1]
}

// codeFromMLflow maps an MLflow error_code (and, when it is unknown or
// absent, the HTTP status) back to a domain code.
func codeFromMLflow(mlflowCode string, status int) string {
	for _, m := range errorTable {
		if m.mlflow == mlflowCode {
			return m.code
		}
	}
	switch mlflowCode {
	case "BAD_REQUEST", "INVALID_STATE", "MALFORMED_REQUEST", "INVALID_REQUEST":
		return loopml.EINVALID
	case "ENDPOINT_NOT_FOUND":
		return loopml.ENOTFOUND
	case "RESOURCE_EXHAUSTED":
		return loopml.ETOOLARGE
	}
	switch {
	case status == http.StatusNotFound:
		return loopml.ENOTFOUND
	case status == http.StatusConflict:
		return loopml.ECONFLICT
	case status == http.StatusUnauthorized:
		return loopml.EUNAUTHORIZED
	case status == http.StatusForbidden:
		return loopml.EFORBIDDEN
	case status == http.StatusRequestEntityTooLarge:
		return loopml.ETOOLARGE
	case status == http.StatusNotImplemented:
		return loopml.ENOTIMPLEMENTED
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout, status == http.StatusTooManyRequests:
		return loopml.EUNAVAILABLE
	case status >= 400 && status < 500:
		return loopml.EINVALID
	}
	return loopml.EINTERNAL
}

// writeError answers with MLflow's JSON error body. Internal errors are
// logged with the request id and shown as "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := loopml.ErrorCode(err)
	msg := loopml.ErrorMessage(err)
	var de *decodeError
	if errors.As(err, &de) {
		code, msg = loopml.EINVALID, de.Error()
	}
	m := mappingForCode(code)
	if m.code == loopml.EINTERNAL {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", loopml.RequestIDFromContext(r.Context())),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("error", err.Error()))
		msg = "internal error"
	}
	writeErrorBody(w, m.status, m.mlflow, msg)
}

// writeErrorBody writes {"error_code": ..., "message": ...}.
func writeErrorBody(w http.ResponseWriter, status int, mlflowCode, msg string) {
	bp := getBuf()
	defer putBuf(bp)
	e := encoder{b: (*bp)[:0]}
	e.beginObject()
	e.strAlways("error_code", mlflowCode)
	e.strAlways("message", msg)
	e.endObject()
	*bp = e.b
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	w.WriteHeader(status)
	_, _ = w.Write(e.b)
}
