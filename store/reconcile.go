package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// StaleRun is a run whose row says it is in progress and has not changed
// for a while: the reconciler asks Temporal whether its workflow still
// runs it.
type StaleRun struct {
	ID            string
	IntegrationID string
	Onboarding    bool
	State         string
	WorkflowID    string
}

// StaleActiveRuns pages through the runs that are pending, processing or
// delayed and were last updated more than quiet ago, in id order after
// afterID. The quiet period keeps the reconciler away from rows a starter
// or a workflow is writing at this moment (a run created a moment before
// its workflow starts, a run being continued).
func (s *Store) StaleActiveRuns(ctx context.Context, quiet time.Duration, afterID string, limit int) ([]StaleRun, error) {
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := s.pool.Query(ctx, `SELECT id, coalesce("integrationId"::text, ''), onboarding, state, coalesce("workflowId", '')
		FROM "integrationRuns"
		WHERE state IN ('pending', 'processing', 'delayed') AND "updatedAt" < now() - $1::interval AND id > $2
		ORDER BY id LIMIT $3`, quiet, afterID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (StaleRun, error) {
		var r StaleRun
		err := row.Scan(&r.ID, &r.IntegrationID, &r.Onboarding, &r.State, &r.WorkflowID)
		return r, err
	})
}

// EndOrphanedRun ends a run whose workflow is gone (terminated, timed out,
// never started, or replaced by another run) as error with the reason, and
// reports whether it did. A row written within quiet is left alone: its
// workflow is alive after all. The integration is put back where the
// checks see it, as FinishRun does for a failed run: an onboarding run
// leaves it in error (continue-run can bring it back to done), a check
// leaves its status as it was. Only the integration's latest run may
// change its status, so a newer run in progress is never disturbed.
func (s *Store) EndOrphanedRun(ctx context.Context, runID string, quiet time.Duration, failure Failure) (bool, error) {
	errJSON := failureJSON(failure)
	ended := false
	var platform string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var integrationID *string
		var onboarding, companion bool
		err := tx.QueryRow(ctx, `UPDATE "integrationRuns" r SET state = 'error', error = $2, "processedAt" = now(),
				"delayedUntil" = NULL, "delayReason" = NULL, "updatedAt" = now()
			WHERE id = $1 AND state IN ('pending', 'processing', 'delayed') AND "updatedAt" < now() - $3::interval
			RETURNING "integrationId", onboarding, coalesce(r.service, (SELECT platform FROM integrations WHERE id = r."integrationId"), ''),
				r.service IS NOT NULL`,
			runID, errJSON, quiet).Scan(&integrationID, &onboarding, &platform, &companion)
		if err == pgx.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		ended = true
		// A companion service's run (twitter-reach) says nothing about the
		// integration's status, as in FinishRun.
		if !onboarding || companion || integrationID == nil {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE integrations SET status = $2, "updatedAt" = now()
			WHERE id = $1 AND status = $3 AND NOT EXISTS (
				SELECT 1 FROM "integrationRuns" r WHERE r."integrationId" = $1 AND r.id <> $4
					AND r."createdAt" > (SELECT "createdAt" FROM "integrationRuns" WHERE id = $4))`,
			*integrationID, StatusError, StatusInProgress, runID)
		return err
	})
	if err == nil && ended {
		s.obs.RunFinished(platform, RunError)
	}
	return ended, err
}
