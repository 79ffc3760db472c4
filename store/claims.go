package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClaimStream takes the next stream of a run for claimant (a slot of the
// run's workflow): first a stream claimant took before and did not finish
// (its step was cut short: a killed worker, a lost completion), else the
// run's oldest pending stream that is not held back. It returns nil when
// there is none, or when the run is held as a whole (its delayedUntil is
// still ahead: a rate limit of the credential, a service's sleep).
//
// The pending stream is taken with FOR UPDATE SKIP LOCKED in seq order:
// two slots claiming at once get two different streams, each the oldest
// the other did not take, and no stream is ever taken twice.
//
// A claimant holds one stream at a time, so it can have left at most one
// unfinished, when its step was cut short: retake asks for that one, and
// only the first claim of a step needs to.
func (s *Store) ClaimStream(ctx context.Context, runID, claimant string, retake bool) (*Stream, error) {
	if !validUUID(runID) {
		return nil, ErrNotFound
	}
	if retake {
		st, err := scanStream(s.pool.QueryRow(ctx, `SELECT `+streamColumns+` FROM "integrationStreams"
			WHERE "runId" = $1 AND state = 'processing' AND "claimedBy" = $2 ORDER BY seq LIMIT 1`, runID, claimant))
		if err == nil || !errors.Is(err, ErrNotFound) {
			return st, err
		}
	}
	st, err := scanStream(s.pool.QueryRow(ctx, `UPDATE "integrationStreams" s SET state = 'processing', "claimedBy" = $2,
			"notBefore" = NULL, "updatedAt" = now()
		WHERE s.id = (SELECT id FROM "integrationStreams"
				WHERE "runId" = $1 AND state = 'pending' AND ("notBefore" IS NULL OR "notBefore" <= now())
				ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
			AND NOT EXISTS (SELECT 1 FROM "integrationRuns" r WHERE r.id = $1 AND r."delayedUntil" > now())
		RETURNING `+streamColumns, runID, claimant))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return st, err
}

// Hold says why a run has no stream to claim although it has pending ones.
type Hold struct {
	// Gated: the whole run waits until its delayedUntil, Wait from now.
	Gated bool
	// StreamID (and Stream, its name) is the pending stream held back the
	// shortest (by its route's rate limit), Wait from now; empty when none
	// is.
	StreamID, Stream string
	Wait             time.Duration
}

// RunHold reports what keeps a run's pending streams from being claimed:
// the run held as a whole, or its streams held one by one. The zero Hold
// means nothing does (the run has no claimable stream because it has no
// pending one).
func (s *Store) RunHold(ctx context.Context, runID string) (Hold, error) {
	var h Hold
	var gate, held *time.Duration
	var stream, name *string
	err := s.pool.QueryRow(ctx, `SELECT
			(SELECT r."delayedUntil" - now() FROM "integrationRuns" r WHERE r.id = $1 AND r."delayedUntil" > now()),
			t.wait, t.id::text, t.name
		FROM (SELECT 1) one LEFT JOIN LATERAL (
			SELECT "notBefore" - now() AS wait, id, name FROM "integrationStreams"
			WHERE "runId" = $1 AND state = 'pending' AND "notBefore" > now() ORDER BY "notBefore" LIMIT 1) t ON true`,
		runID).Scan(&gate, &held, &stream, &name)
	if err != nil {
		return h, err
	}
	switch {
	case gate != nil:
		h.Gated, h.Wait = true, *gate
	case held != nil && stream != nil && name != nil:
		h.StreamID, h.Stream, h.Wait = *stream, *name, *held
	}
	return h, nil
}

// HoldStream puts a stream back in the queue at its place, not to be
// claimed before wait has passed (by the database's clock): its route is
// rate limited, the run's other streams are not.
func (s *Store) HoldStream(ctx context.Context, id string, wait time.Duration) error {
	_, err := s.pool.Exec(ctx, `UPDATE "integrationStreams" SET state = 'pending', "notBefore" = now() + $2::interval,
		"updatedAt" = now() WHERE id = $1 AND state <> 'processed'`, id, max(wait, 0))
	return err
}

// GateRun holds every stream of a run until wait has passed (by the
// database's clock), or longer if an earlier gate ends later: no slot
// claims a stream meanwhile, the streams in flight finish. The workflow
// then sleeps once until the latest end, and ResumeRun (SetRunProcessing)
// opens the gate.
func (s *Store) GateRun(ctx context.Context, runID string, wait time.Duration) error {
	_, err := s.pool.Exec(ctx, `UPDATE "integrationRuns" SET
			"delayedUntil" = greatest(coalesce("delayedUntil", now()), now() + $2::interval), "updatedAt" = now()
		WHERE id = $1 AND state IN ('processing', 'delayed')`, runID, max(wait, 0))
	return err
}

// RunTally is what a run has done so far, from its streams.
type RunTally struct {
	Pending, Processing, Processed, Failed int
	Records                                int64
}

// TallyRun counts a run's streams by state and sets the run's
// recordsWritten to the sum of its streams'. The pages' transactions do
// not add to the run row themselves: with several streams in flight that
// one row would serialise every commit of the run. Summing is idempotent,
// so a step that runs twice counts nothing twice. It touches the run's
// updatedAt too: a run whose steps end is not stuck.
func (s *Store) TallyRun(ctx context.Context, runID string) (RunTally, error) {
	var t RunTally
	err := s.pool.QueryRow(ctx, `WITH tally AS (
			SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
				count(*) FILTER (WHERE state = 'processing') AS processing,
				count(*) FILTER (WHERE state = 'processed') AS processed,
				count(*) FILTER (WHERE state = 'error') AS failed,
				coalesce(sum("recordsWritten"), 0) AS records
			FROM "integrationStreams" WHERE "runId" = $1),
		upd AS (UPDATE "integrationRuns" r SET "recordsWritten" = tally.records, "updatedAt" = now() FROM tally
			WHERE r.id = $1)
		SELECT pending, processing, processed, failed, records FROM tally`, runID).
		Scan(&t.Pending, &t.Processing, &t.Processed, &t.Failed, &t.Records)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}
