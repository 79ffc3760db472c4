package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crowdflow/crowdflow/internal/quota"
)

// The store is the quota ledger of every worker: one "quotaLedger" row per
// budget, booked and fed by the functions of migration 00115, each call one
// statement (one round trip) under the row's lock, so that two workers
// never both take a budget's last unit.
var _ quota.Ledger = (*Store)(nil)

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
