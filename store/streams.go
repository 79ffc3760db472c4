package store

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/crowdflow/crowdflow/integrations"
)

// Stream is an integrationStreams row.
type Stream struct {
	ID             string
	RunID          string
	TenantID       string
	IntegrationID  string
	State          string
	Name           string
	Metadata       json.RawMessage
	Retries        int
	Error          json.RawMessage
	RecordsWritten int
}

// Contract returns the stream as services see it.
func (s *Stream) Contract() integrations.Stream {
	return integrations.Stream{ID: s.ID, Name: s.Name, Metadata: s.Metadata}
}

// insertStreams adds pending streams to a run in the given order. A stream
// with the same name and metadata as one the run has is skipped.
func insertStreams(ctx context.Context, tx pgx.Tx, runID, tenantID, integrationID string, streams []integrations.Stream) (int, error) {
	if len(streams) == 0 {
		return 0, nil
	}
	names := make([]string, len(streams))
	metas := make([]string, len(streams))
	for i, st := range streams {
		names[i] = cleanText(st.Name)
		metas[i] = string(cleanJSON(st.Metadata))
		if len(st.Metadata) == 0 {
			metas[i] = "{}"
		}
	}
	// jsonb's text form is canonical (sorted keys), so the key does not
	// depend on how a service ordered its metadata fields.
	tag, err := tx.Exec(ctx, `INSERT INTO "integrationStreams" (id, "runId", "tenantId", "integrationId", state, name, metadata, key)
		SELECT gen_random_uuid(), $1, $2, $3, 'pending', t.name, t.meta, md5(t.name || ':' || t.meta::text)
		FROM unnest($4::text[], $5::jsonb[]) WITH ORDINALITY AS t(name, meta, ord)
		ORDER BY t.ord
		ON CONFLICT ("runId", key) DO NOTHING`, runID, tenantID, integrationID, names, metas)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// AddStreams stores the root streams of a run.
func (s *Store) AddStreams(ctx context.Context, run *Run, streams []integrations.Stream) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		n, err = insertStreams(ctx, tx, run.ID, run.TenantID, run.IntegrationID, streams)
		return err
	})
	return n, err
}

// HasStreams reports whether the run has any stream rows.
func (s *Store) HasStreams(ctx context.Context, runID string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM "integrationStreams" WHERE "runId" = $1)`, runID).Scan(&ok)
	return ok, err
}

// NextStreams returns the ids of the run's oldest pending streams (FIFO).
func (s *Store) NextStreams(ctx context.Context, runID string, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM "integrationStreams" WHERE "runId" = $1 AND state = 'pending'
		ORDER BY seq LIMIT $2`, runID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

const streamColumns = `id, "runId", "tenantId", "integrationId", state, name, metadata, coalesce(retries, 0), error, "recordsWritten"`

func scanStream(row pgx.Row) (*Stream, error) {
	var st Stream
	err := row.Scan(&st.ID, &st.RunID, &st.TenantID, &st.IntegrationID, &st.State, &st.Name, &st.Metadata, &st.Retries, &st.Error, &st.RecordsWritten)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &st, err
}

// GetStream loads a stream.
func (s *Store) GetStream(ctx context.Context, id string) (*Stream, error) {
	if !validUUID(id) {
		return nil, ErrNotFound
	}
	return scanStream(s.pool.QueryRow(ctx, `SELECT `+streamColumns+` FROM "integrationStreams" WHERE id = $1`, id))
}

// MarkStreamProcessing marks a pending (or retried) stream processing and
// records the attempt number, so the row shows how often it was tried.
func (s *Store) MarkStreamProcessing(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `UPDATE "integrationStreams" SET state = 'processing', "updatedAt" = now()
		WHERE id = $1 AND state <> 'processed'`, id)
	return err
}

// RecordStreamAttemptError notes a failed attempt on a stream that Temporal
// will retry: the stream stays processing, with the error and count shown.
func (s *Store) RecordStreamAttemptError(ctx context.Context, id string, retries int, e Failure) error {
	b := failureJSON(e)
	_, err := s.pool.Exec(ctx, `UPDATE "integrationStreams" SET error = $2, retries = $3, "updatedAt" = now()
		WHERE id = $1 AND state <> 'processed'`, id, b, retries)
	return err
}

// FailStream marks a stream error after its attempts were spent.
func (s *Store) FailStream(ctx context.Context, id string, retries int, e Failure) error {
	b := failureJSON(e)
	// The old state (read in the same statement, before the update) tells
	// a first failure from a retried FailStream, which must not count twice.
	var oldState, platform string
	err := s.pool.QueryRow(ctx, `UPDATE "integrationStreams" s SET state = 'error', error = $2,
		retries = greatest(coalesce(s.retries, 0), $3), "processedAt" = now(), "updatedAt" = now()
		FROM (SELECT id, state FROM "integrationStreams" WHERE id = $1 FOR UPDATE) old
		WHERE s.id = old.id AND s.state <> 'processed'
		RETURNING old.state, coalesce((SELECT platform FROM integrations WHERE id = s."integrationId"), '')`, id, b, retries).
		Scan(&oldState, &platform)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // processed meanwhile, or gone
	}
	if err != nil {
		return err
	}
	if oldState != StreamError {
		s.obs.StreamFailed(platform)
	}
	_, err = s.pool.Exec(ctx, `UPDATE "integrationRuns" SET "updatedAt" = now()
		WHERE id = (SELECT "runId" FROM "integrationStreams" WHERE id = $1)`, id)
	return err
}

// ResetStream puts a stream back to pending, e.g. after a rate limit.
func (s *Store) ResetStream(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `UPDATE "integrationStreams" SET state = 'pending', "updatedAt" = now()
		WHERE id = $1 AND state <> 'processed'`, id)
	return err
}

// UnfinishedStreams returns the run's streams that are not processed, or
// that their service skipped.
func (s *Store) UnfinishedStreams(ctx context.Context, runID string) ([]integrations.Stream, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+streamColumns+` FROM "integrationStreams"
		WHERE "runId" = $1 AND (state <> 'processed' OR error->>'errorPoint' = $2) ORDER BY seq`, runID, ErrorPointSkipped)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []integrations.Stream
	for rows.Next() {
		st, err := scanStream(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st.Contract())
	}
	return out, rows.Err()
}

// StreamCounts returns the number of the run's streams in each state.
func (s *Store) StreamCounts(ctx context.Context, runID string) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT state, count(*) FROM "integrationStreams" WHERE "runId" = $1 GROUP BY state`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}
