package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultRetention is how long processed runs are kept, as crowd.dev did
// (its weekly cleanUp deleted processed runs older than three months).
const DefaultRetention = 90 * 24 * time.Hour

// Deleted counts what DeleteOldRuns removed.
type Deleted struct {
	Runs    int
	Streams int
}

// DeleteOldRuns deletes at most batch runs that were processed more than
// maxAge ago, oldest first, with their streams, in one transaction. Runs
// that ended in error are kept (they are what an operator investigates),
// and so is each integration's latest run, so that the API can still say
// how an integration last ran. Rows another transaction holds are skipped
// (a later batch takes them). Fewer than batch deleted means none is left.
func (s *Store) DeleteOldRuns(ctx context.Context, maxAge time.Duration, batch int) (Deleted, error) {
	var d Deleted
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d = Deleted{}
		rows, err := tx.Query(ctx, `SELECT r.id FROM "integrationRuns" r
			WHERE r.state = 'processed' AND r."processedAt" < now() - $1::interval
				AND EXISTS (SELECT 1 FROM "integrationRuns" n
					WHERE n."integrationId" = r."integrationId" AND n."createdAt" > r."createdAt")
			ORDER BY r."processedAt"
			LIMIT $2
			FOR UPDATE OF r SKIP LOCKED`, maxAge, batch)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		// The streams first, explicitly, so that they are counted; the
		// cascade from the runs then finds none.
		tag, err := tx.Exec(ctx, `DELETE FROM "integrationStreams" WHERE "runId" = ANY($1::uuid[])`, ids)
		if err != nil {
			return err
		}
		d.Streams = int(tag.RowsAffected())
		tag, err = tx.Exec(ctx, `DELETE FROM "integrationRuns" WHERE id = ANY($1::uuid[])`, ids)
		d.Runs = int(tag.RowsAffected())
		return err
	})
	return d, err
}
