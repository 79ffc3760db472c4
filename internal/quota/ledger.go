package quota

import (
	"context"
	"time"
)

// Ledger keeps the budgets of API credentials where every worker sees
// them. store.Store implements it on PostgreSQL ("quotaLedger").
type Ledger interface {
	// Reserve books each ask (all or none) for a call that would go at
	// now, or at a paced slot at most maxWait later. Not booked, At is
	// when to ask again.
	Reserve(ctx context.Context, asks []Ask, now time.Time, maxWait time.Duration) (Booking, error)
	// Observe feeds what a call's answer said about its key.
	Observe(ctx context.Context, o Observation, now time.Time) error
}

// Ask is one budget a call draws on.
type Ask struct {
	// Key names the budget: policy, host, SHA-256 of the credential,
	// scope. It never holds a credential.
	Key  string
	Cost int
	// Interval is the platform's own pace for the key (Dev.to's 3 calls a
	// second: 333 ms), used when the ledger has learned no slower one; 0
	// means none.
	Interval time.Duration
}

// Booking is the answer to a Reserve.
type Booking struct {
	Booked bool
	// At is when the call may go (booked), or when to ask again.
	At time.Time
	// Seqs are the booking's sequence on each key, in the order of the
	// asks: Observe takes the call's.
	Seqs []int64
	// Waited is the key that set At, when it is later than now.
	Waited string
}

// Observation is what one answer says of a key. Limit and Remaining are
// -1 when the answer did not say.
type Observation struct {
	Key       string
	Seq       int64 // the call's booking on Key; 0 when unknown
	Limit     int
	Remaining int
	Reset     time.Time // end of the window; zero when unknown
	// Refused is a 429 (or a platform's equivalent): nobody calls on Key
	// before Until.
	Refused bool
	Until   time.Time
}

// HasWindow reports whether the answer gave a window (remaining and reset).
func (o Observation) HasWindow() bool { return o.Remaining >= 0 && !o.Reset.IsZero() }

type ledgerKey struct{}

// WithLedger returns ctx carrying l: the transports under it reserve
// there. Without one (unit tests of a service) they pass calls through.
func WithLedger(ctx context.Context, l Ledger) context.Context {
	if l == nil {
		return ctx
	}
	return context.WithValue(ctx, ledgerKey{}, l)
}

// LedgerFrom returns the ledger ctx carries, or nil.
func LedgerFrom(ctx context.Context) Ledger {
	l, _ := ctx.Value(ledgerKey{}).(Ledger)
	return l
}

type costKey struct{}

// WithCost returns ctx in which a call costs n units instead of one (a
// GraphQL query whose last run cost n points).
func WithCost(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, costKey{}, n)
}

func costFrom(ctx context.Context) int {
	if n, ok := ctx.Value(costKey{}).(int); ok && n > 0 {
		return n
	}
	return 1
}

type reporterKey struct{}

// Reporter carries a call's booking back to its caller, who may know more
// of the budget than the headers say (GitHub's GraphQL rateLimit object).
type Reporter struct {
	l    Ledger
	key  string
	seq  int64
	now  func() time.Time
	used bool
}

// WithReporter returns ctx with a Reporter that the transport fills in
// when it books the call made with ctx.
func WithReporter(ctx context.Context) (context.Context, *Reporter) {
	r := &Reporter{}
	return context.WithValue(ctx, reporterKey{}, r), r
}

func reporterFrom(ctx context.Context) *Reporter {
	r, _ := ctx.Value(reporterKey{}).(*Reporter)
	return r
}

// Report feeds the budget an answer's body gave (remaining of limit until
// reset; limit -1 when not given). It does nothing when the call was not
// booked (no ledger).
func (r *Reporter) Report(ctx context.Context, limit, remaining int, reset time.Time) error {
	if r == nil || r.l == nil || !r.used {
		return nil
	}
	return r.l.Observe(ctx, Observation{Key: r.key, Seq: r.seq, Limit: limit, Remaining: remaining, Reset: reset}, r.now())
}
