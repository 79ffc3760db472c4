package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"go.temporal.io/api/serviceerror"

	"github.com/crowdflow/crowdflow/control"
)

// Error codes of the error body.
const (
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeBadJSON          = "bad_json"
	CodeInvalid          = "invalid"
	CodeTooLarge         = "too_large"
	CodeUnsupportedType  = "unsupported_media_type"
	CodeAlreadyRunning   = "already_running"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// Error is the body of every error answer, under "error".
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field is the input at fault: a path parameter ("tenantId", "id") or
	// a body field ("platform", "settings.users").
	Field string `json:"field,omitempty"`
	// RunID is the run in progress, with already_running.
	RunID string `json:"runId,omitempty"`

	status int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

type errorBody struct {
	Error *Error `json:"error"`
}

func newError(status int, code, message string) *Error {
	return &Error{status: status, Code: code, Message: message}
}

func invalid(field, message string) *Error {
	return &Error{status: http.StatusBadRequest, Code: CodeInvalid, Field: field, Message: message}
}

func notFound(what string) *Error {
	return newError(http.StatusNotFound, CodeNotFound, what+" not found")
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.status, errorBody{Error: e})
}

// fromControl turns an error of the controller or the store into an answer.
// Unexpected errors are 500s whose detail goes to the log, not the client.
func (s *server) fromControl(r *http.Request, err error, what string) *Error {
	var bad *control.BadInputError
	var running *control.AlreadyRunningError
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	switch {
	case errors.As(err, &bad):
		field := bad.Field
		if field == "tenant" {
			field = "tenantId"
		}
		return invalid(field, bad.Message)
	case control.IsNotFound(err):
		return notFound(what)
	case errors.As(err, &running):
		e := newError(http.StatusConflict, CodeAlreadyRunning, running.Error())
		e.RunID = running.RunID
		return e
	case errors.As(err, &unavailable), errors.As(err, &deadline), errors.Is(err, context.DeadlineExceeded):
		s.logger.Warn("api: a dependency did not answer", "method", r.Method, "path", r.URL.Path, "err", err)
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "Temporal or the database did not answer; try again")
	default:
		s.logger.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		return newError(http.StatusInternalServerError, CodeInternal, "internal error (logged on the server)")
	}
}
