package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crowdflow/crowdflow/integrations"
)

// Page is one processed stream page, ready to be committed.
type Page struct {
	Stream   *Stream
	Platform string
	Result   *integrations.StreamResult
	// NextPage is the stream's next page, already checked against the
	// run's finish rule; nil when there is none or the run is done with it.
	NextPage *integrations.Stream
	// Limit and LimitWindow are the integration's global limit for this run
	// (0: none).
	Limit       int
	LimitWindow time.Duration
}

// Committed says what a commit did.
type Committed struct {
	// AlreadyProcessed: the stream was committed before (by an attempt whose
	// completion was lost); nothing was written now.
	AlreadyProcessed bool
	Records          int
	NewStreams       int
	// LimitReachedUntil is set when this page used up the global limit.
	LimitReachedUntil time.Time
}

// CommitStream writes a processed page in one transaction: the records, the
// new streams and the next page, the stream marked processed with its
// record count, and the global-limit counter.
//
// The run's own row is not written: with several streams of a run in
// flight, that one row would serialise all their commits. Its
// recordsWritten is the sum of its streams', set by TallyRun. The
// integration's limitCount is the one shared row a page updates, and only
// when a global limit applies; it comes last, so its lock is held for the
// commit alone.
func (s *Store) CommitStream(ctx context.Context, p Page) (Committed, error) {
	var c Committed
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c = Committed{}
		var state string
		// The row lock serialises two attempts of the same stream that
		// overlap (a timed-out attempt still running beside its retry).
		err := tx.QueryRow(ctx, `SELECT state FROM "integrationStreams" WHERE id = $1 FOR UPDATE`, p.Stream.ID).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if state == StreamProcessed {
			c.AlreadyProcessed = true
			return nil
		}
		t := Target{TenantID: p.Stream.TenantID, IntegrationID: p.Stream.IntegrationID, Platform: p.Platform}
		if c.Records, err = WriteRecords(ctx, tx, t, p.Result); err != nil {
			return err
		}
		var streams []integrations.Stream
		if p.Result != nil {
			streams = append(streams, p.Result.NewStreams...)
		}
		if p.NextPage != nil {
			streams = append(streams, *p.NextPage)
		}
		if c.NewStreams, err = insertStreams(ctx, tx, p.Stream.RunID, p.Stream.TenantID, p.Stream.IntegrationID, streams); err != nil {
			return err
		}
		// A skipped stream is done (the run does not fail for it) and keeps
		// its reason where an operator looks for errors.
		var note []byte
		if p.Result != nil && p.Result.Skipped != "" {
			note = failureJSON(Failure{ErrorPoint: ErrorPointSkipped, Message: p.Result.Skipped, StreamID: p.Stream.ID, Stream: p.Stream.Name})
		}
		if _, err := tx.Exec(ctx, `UPDATE "integrationStreams" SET state = 'processed', "processedAt" = now(), error = $3,
			"recordsWritten" = $2, "updatedAt" = now() WHERE id = $1`, p.Stream.ID, c.Records, note); err != nil {
			return err
		}
		if p.Limit > 0 && p.LimitWindow > 0 && c.Records > 0 {
			var count int
			var resetAt *time.Time
			if err := tx.QueryRow(ctx, `UPDATE integrations SET "limitCount" = "limitCount" + $2,
				"limitLastResetAt" = coalesce("limitLastResetAt", now()) WHERE id = $1
				RETURNING "limitCount", "limitLastResetAt"`, p.Stream.IntegrationID, c.Records).Scan(&count, &resetAt); err != nil {
				return err
			}
			if count >= p.Limit && resetAt != nil {
				c.LimitReachedUntil = resetAt.Add(p.LimitWindow)
			}
		}
		return nil
	})
	if err == nil && !c.AlreadyProcessed && c.Records > 0 {
		s.obs.RecordsWritten(p.Platform, c.Records)
	}
	return c, err
}
