package integrations

import (
	"errors"
	"fmt"
	"time"
)

// RateLimitedError says the API refused for a while. The engine waits on a
// durable timer until Until and then runs the same stream again, without
// spending one of its retry attempts.
type RateLimitedError struct {
	Until time.Time
	// Reason names the call that was refused, for the run row and the UI.
	Reason string
	// Bucket is set when the refusal is one route's and not the whole
	// credential's (a Discord per-route bucket): the engine then holds back
	// only the stream that was refused, and the run's other streams go on.
	// Empty means the whole credential waits, and with it the whole run.
	Bucket string
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited until %s: %s", e.Until.UTC().Format(time.RFC3339), e.Reason)
}

// RateLimited returns a *RateLimitedError.
func RateLimited(until time.Time, reason string) error {
	return &RateLimitedError{Until: until, Reason: reason}
}

// AsRateLimited reports whether err is, or wraps, a *RateLimitedError.
func AsRateLimited(err error) (*RateLimitedError, bool) {
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return rl, true
	}
	return nil, false
}

// PermanentError is an error that retrying cannot fix (revoked token,
// missing scope): the step fails at once instead of spending its retries.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err is, or wraps, a *PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// FieldError is a settings validation failure, naming the field at fault.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }
