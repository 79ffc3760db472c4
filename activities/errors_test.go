package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"go.temporal.io/sdk/temporal"

	"github.com/crowdflow/crowdflow/store"
)

// Database faults (the database could not do the work now) are told apart
// from everything else: they become Interrupted, which spends no attempt
// of the steps that call an API.
func TestIsDatabaseFault(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("commit: %w", syscall.ECONNREFUSED), true},
		{"connect error", &pgconn.ConnectError{}, true},
		{"connection reset mid-query", fmt.Errorf("query: %w", io.ErrUnexpectedEOF), true},
		{"admin shutdown (restart)", &pgconn.PgError{Code: "57P01"}, true},
		{"cannot connect now (starting up)", &pgconn.PgError{Code: "57P03"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"lock timeout", &pgconn.PgError{Code: "55P03"}, true},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"unique violation (a bug)", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error (a bug)", &pgconn.PgError{Code: "42601"}, false},
		{"an API's error", errors.New("GET /x: 500 Internal Server Error"), false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, IsDatabaseFault(tc.err))
		})
	}
}

func TestWrapMakesDatabaseFaultsInterruptions(t *testing.T) {
	var appErr *temporal.ApplicationError
	err := wrap(&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, "commit stream")
	assert.True(t, errors.As(err, &appErr))
	assert.Equal(t, ErrTypeInterrupted, appErr.Type())
	assert.False(t, appErr.NonRetryable(), "the bookkeeping steps retry it as anything else")

	err = wrap(store.ErrNotFound, "load run")
	assert.True(t, errors.As(err, &appErr))
	assert.Equal(t, ErrTypeNotFound, appErr.Type())

	err = wrap(&pgconn.PgError{Code: "23505"}, "commit stream")
	assert.False(t, errors.As(err, &appErr), "a bug spends attempts as any error")

	// Outside an activity nothing is stopping: an API error stays one.
	assert.EqualError(t, serviceError(context.Background(), "stream a", errors.New("500")), "stream a: 500")
}
