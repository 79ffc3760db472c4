package activities

import (
	"context"
	"time"

	"github.com/crowdflow/crowdflow/store"
)

// DefaultRetentionBatch is how many runs one DeleteOldRuns deletes: small
// enough that one transaction (the runs and all their streams) stays well
// inside the statement timeout and holds its locks briefly.
const DefaultRetentionBatch = 50

// Retention is the retention workflow's activity and what it needs.
type Retention struct {
	Store *store.Store
	// MaxAge is how long processed runs are kept (0: store.DefaultRetention).
	// It is the worker's setting (RETENTION_MAX_AGE), not the schedule's,
	// so that changing it needs no schedule update.
	MaxAge time.Duration
	// BatchSize is how many runs one call deletes (0: DefaultRetentionBatch).
	BatchSize int
}

// DeleteOldRunsResult counts one batch.
type DeleteOldRunsResult struct {
	Runs    int
	Streams int
	// More: the batch was full, there may be more to delete.
	More bool
}

// DeleteOldRuns deletes one batch of processed runs older than MaxAge with
// their streams. Running it twice deletes the next batch or nothing: it is
// safe to retry.
func (r *Retention) DeleteOldRuns(ctx context.Context) (DeleteOldRunsResult, error) {
	age, batch := r.MaxAge, r.BatchSize
	if age <= 0 {
		age = store.DefaultRetention
	}
	if batch <= 0 {
		batch = DefaultRetentionBatch
	}
	d, err := r.Store.DeleteOldRuns(ctx, age, batch)
	if err != nil {
		return DeleteOldRunsResult{}, wrap(err, "delete old runs")
	}
	return DeleteOldRunsResult{Runs: d.Runs, Streams: d.Streams, More: d.Runs == batch}, nil
}
