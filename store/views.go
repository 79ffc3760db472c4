package store

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
)

// Reads for the HTTP API's views of integrations and runs.

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// LatestRun returns the integration's most recent run, or ErrNotFound when
// it never ran.
func (s *Store) LatestRun(ctx context.Context, integrationID string) (*Run, error) {
	if !validUUID(integrationID) {
		return nil, ErrNotFound
	}
	return scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM "integrationRuns"
		WHERE "integrationId" = $1 ORDER BY "createdAt" DESC, id LIMIT 1`, integrationID))
}

// StreamFailure is a stream of a run that ended in error.
type StreamFailure struct {
	StreamID string          `json:"streamId"`
	Name     string          `json:"name"`
	Retries  int             `json:"retries"`
	Error    json.RawMessage `json:"error,omitempty"`
}

// FailedStreams returns up to limit of the run's streams in state error,
// and those their service skipped (errorPoint "skipped"), in the order they
// were queued.
func (s *Store) FailedStreams(ctx context.Context, runID string, limit int) ([]StreamFailure, error) {
	if !validUUID(runID) {
		return nil, ErrNotFound
	}
	rows, err := s.pool.Query(ctx, `SELECT id, name, coalesce(retries, 0), error FROM "integrationStreams"
		WHERE "runId" = $1 AND (state = 'error' OR error->>'errorPoint' = $3) ORDER BY seq LIMIT $2`, runID, limit, ErrorPointSkipped)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (StreamFailure, error) {
		var f StreamFailure
		err := row.Scan(&f.StreamID, &f.Name, &f.Retries, &f.Error)
		return f, err
	})
}
