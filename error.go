package loopml

import (
	"errors"
	"fmt"
)

// Error codes. They are transport-neutral: httpapi maps each one to an HTTP
// status and an MLflow error code in a single table.
const (
	ECONFLICT       = "conflict"        // the object already exists (MLflow RESOURCE_ALREADY_EXISTS)
	EINTERNAL       = "internal"        // a bug or an unexpected failure; details are logged, not shown
	EINVALID        = "invalid"         // the caller sent something wrong (MLflow INVALID_PARAMETER_VALUE)
	ENOTFOUND       = "not_found"       // the object does not exist (MLflow RESOURCE_DOES_NOT_EXIST)
	ETOOLARGE       = "too_large"       // a request or value exceeds a configured limit
	EUNAUTHORIZED   = "unauthorized"    // no valid credentials
	EFORBIDDEN      = "forbidden"       // credentials valid, action not allowed
	EUNAVAILABLE    = "unavailable"     // a dependency is down or the server is shutting down
	ENOTIMPLEMENTED = "not_implemented" // the operation is not supported by this backend
)

// Error is the error type of the domain. Code is one of the E* constants,
// Message is safe to show to a user and names the offending field where there
// is one. Err optionally wraps a cause for logs and errors.Is.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("loopml error: code=%s message=%s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("loopml error: code=%s message=%s", e.Code, e.Message)
}

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with the given code and message that wraps err.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or
// "internal error" for any other non-nil error, and "" for nil.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
