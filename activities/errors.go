package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/store"
)

// Error types the workflow tells apart.
const (
	// ErrTypePermanent: retrying cannot help (bad token, missing scope).
	ErrTypePermanent = "PermanentError"
	// ErrTypeNotFound: the run, stream or integration is gone.
	ErrTypeNotFound = "NotFound"
	// ErrTypeInterrupted: the attempt was cut short by something that is
	// not the platform's fault: the database did not answer (down,
	// restarting, out of connections, a deadlock) or the worker is
	// stopping (a rolling restart). It is retryable, so the bookkeeping
	// steps retry it as they retry everything; the steps that call an API
	// list it as non-retryable, and the workflow runs them again after a
	// pause, with fresh attempts: an outage of the database or a deploy
	// never spends the attempts kept for the API's faults.
	ErrTypeInterrupted = "Interrupted"
)

// serviceError turns a service's error into one the workflow can tell
// apart: permanent ones are not retried, and a call cut short because the
// worker is stopping is an interruption, not the API's fault.
func serviceError(ctx context.Context, step string, err error) error {
	msg := step + ": " + err.Error()
	if integrations.IsPermanent(err) {
		return temporal.NewNonRetryableApplicationError(msg, ErrTypePermanent, nil)
	}
	if workerStopping(ctx) {
		return interrupted(msg+" (worker stopping)", err)
	}
	return errors.New(msg)
}

// wrap names the database step that failed; a missing row is not retried,
// and a database fault is an interruption.
func wrap(err error, step string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, pgx.ErrNoRows) {
		return temporal.NewNonRetryableApplicationError(step+": not found", ErrTypeNotFound, nil)
	}
	if errors.Is(err, store.ErrRunEnded) {
		return temporal.NewNonRetryableApplicationError(step+": "+err.Error(), ErrTypePermanent, nil)
	}
	if IsDatabaseFault(err) {
		return interrupted(fmt.Sprintf("%s: database unavailable: %v", step, err), err)
	}
	return fmt.Errorf("%s: %w", step, err)
}

func interrupted(msg string, cause error) error {
	return temporal.NewApplicationErrorWithCause(msg, ErrTypeInterrupted, cause)
}

// IsDatabaseFault reports whether err says the database could not do the
// work now, though it may a moment later: it could not be reached, it is
// restarting or shutting down, it has no connection or resource to spare,
// or the transaction lost a deadlock or a serialization conflict. Errors in
// the query or the data are not faults of this kind: retrying them cannot
// help, and they spend attempts as any bug does.
func IsDatabaseFault(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01", // serialization failure, deadlock
			"55P03": // lock not available (lock_timeout)
			return true
		}
		switch pgErr.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources (too many connections, disk full)
			"57", // operator intervention: admin shutdown, cannot connect now, query canceled (statement_timeout)
			"58": // system error (I/O)
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.SafeToRetry(err), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// workerStopping reports whether this worker has been told to stop.
func workerStopping(ctx context.Context) bool {
	if !activity.IsActivity(ctx) {
		return false
	}
	select {
	case <-activity.GetWorkerStopChannel(ctx):
		return true
	default:
		return false
	}
}
