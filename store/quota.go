package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crowdflow/crowdflow/internal/quota"
)

// The store is the quota ledger of every worker: one "quotaLedger" row per
// budget, booked and fed by the functions of migration 00115, each call one
// statement (one round trip) under the row's lock, so that two workers
// never both take a budget's last unit.
var _ quota.Ledger = (*Store)(nil)

// quotaIdle is how long a budget's row outlives its last call: nothing in
// it matters after a day (no window is longer, a learned pace halves every
// minute), and a credential that comes back starts afresh.
const quotaIdle = 7 * 24 * time.Hour

// quotaPruneEvery: one Reserve in this many also deletes the rows idle
// for quotaIdle (one indexed DELETE), so that the table holds the
// budgets in use, not every route and credential ever seen.
const quotaPruneEvery = 1000

var quotaReserves atomic.Uint64

// Reserve books every ask or none (quota.Ledger).
func (s *Store) Reserve(ctx context.Context, asks []quota.Ask, now time.Time, maxWait time.Duration) (quota.Booking, error) {
	keys := make([]string, len(asks))
	costs := make([]int32, len(asks))
	paces := make([]float64, len(asks))
	for i, a := range asks {
		keys[i], costs[i] = a.Key, int32(max(a.Cost, 1))
		paces[i] = float64(a.Interval) / float64(time.Millisecond)
	}
	var b quota.Booking
	var waited pgtype.Text
	err := s.pool.QueryRow(ctx, `SELECT booked, "at", seqs, "latestKey" FROM "quotaReserve"($1, $2, $3, $4, $5)`,
		keys, costs, paces, now, float64(maxWait)/float64(time.Millisecond)).Scan(&b.Booked, &b.At, &b.Seqs, &waited)
	if err != nil {
		return quota.Booking{}, fmt.Errorf("quota reserve: %w", err)
	}
	b.Waited = waited.String
	if quotaReserves.Add(1)%quotaPruneEvery == 0 {
		// Best effort: a failed prune is tried again 1000 calls later.
		_, _ = s.pool.Exec(ctx, `DELETE FROM "quotaLedger" WHERE "updatedAt" < $1`, now.Add(-quotaIdle))
	}
	return b, nil
}

// Observe feeds an answer to its key (quota.Ledger).
func (s *Store) Observe(ctx context.Context, o quota.Observation, now time.Time) error {
	var limit, remaining *int32
	if o.Limit >= 0 {
		v := int32(o.Limit)
		limit = &v
	}
	if o.Remaining >= 0 {
		v := int32(o.Remaining)
		remaining = &v
	}
	var reset, until *time.Time
	if !o.Reset.IsZero() {
		reset = &o.Reset
	}
	if o.Refused {
		u := o.Until
		if u.Before(now) {
			u = now
		}
		until = &u
	}
	_, err := s.pool.Exec(ctx, `SELECT "quotaObserve"($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		o.Key, o.Seq, now, limit, remaining, reset, o.Refused, until, quota.LearnMargin)
	if err != nil {
		return fmt.Errorf("quota observe: %w", err)
	}
	return nil
}
