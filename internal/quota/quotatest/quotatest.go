// Package quotatest has ledgers for the tests of the platform clients:
// Spent, whose budget is back only at Until, and the observations it was
// fed, to prove that a client goes through the quota transport and that
// its mapping of errors still finds the RateLimitedError the transport
// returns.
package quotatest

import (
	"context"
	"sync"
	"time"

	"github.com/crowdflow/crowdflow/internal/quota"
)

// Spent is a ledger whose every budget is spent until Until: it books
// nothing and records what it was asked.
type Spent struct {
	Until time.Time

	mu   sync.Mutex
	asks []quota.Ask
}

var _ quota.Ledger = (*Spent)(nil)

// Reserve books nothing: ask again at Until.
func (s *Spent) Reserve(_ context.Context, asks []quota.Ask, _ time.Time, _ time.Duration) (quota.Booking, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asks = append(s.asks, asks...)
	w := ""
	if len(asks) > 0 {
		w = asks[0].Key
	}
	return quota.Booking{At: s.Until, Waited: w}, nil
}

// Observe is never reached: nothing is booked.
func (s *Spent) Observe(context.Context, quota.Observation, time.Time) error { return nil }

// Asks returns what was asked so far.
func (s *Spent) Asks() []quota.Ask {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]quota.Ask(nil), s.asks...)
}

// Open is a ledger that books everything at once and records the
// observations it is fed.
type Open struct {
	mu   sync.Mutex
	seq  int64
	asks []quota.Ask
	obs  []quota.Observation
}

var _ quota.Ledger = (*Open)(nil)

// Reserve books every ask now.
func (o *Open) Reserve(_ context.Context, asks []quota.Ask, now time.Time, _ time.Duration) (quota.Booking, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.asks = append(o.asks, asks...)
	b := quota.Booking{Booked: true, At: now}
	for range asks {
		o.seq++
		b.Seqs = append(b.Seqs, o.seq)
	}
	return b, nil
}

// Observe records o.
func (o *Open) Observe(_ context.Context, obs quota.Observation, _ time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.obs = append(o.obs, obs)
	return nil
}

// Asks returns what was asked so far.
func (o *Open) Asks() []quota.Ask {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]quota.Ask(nil), o.asks...)
}

// Observations returns what was fed so far.
func (o *Open) Observations() []quota.Observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]quota.Observation(nil), o.obs...)
}
