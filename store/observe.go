package store

import (
	"context"
	"strings"
	"time"
)

// Observer is told what the store did that operators count (the worker's
// Prometheus metrics, internal/metrics.Domain). Calls happen after the
// change is committed, once per change: a retried activity that finds its
// work done reports nothing again.
type Observer interface {
	// RecordsWritten: a page's members and activities were committed.
	RecordsWritten(platform string, n int)
	// StreamFailed: a stream was marked error after its attempts.
	StreamFailed(platform string)
	// RunFinished: a run ended processed or error.
	RunFinished(platform, state string)
	// RunDelayed: a run was set to wait this long, for a reason of the
	// given kind (rate-limit, global-limit, sleep: delayKind).
	RunDelayed(platform, kind string, wait time.Duration)
}

type noObserver struct{}

func (noObserver) RecordsWritten(string, int)               {}
func (noObserver) StreamFailed(string)                      {}
func (noObserver) RunFinished(string, string)               {}
func (noObserver) RunDelayed(string, string, time.Duration) {}

// SetObserver makes o hear of what the store does from now on. Call it
// before the store is used.
func (s *Store) SetObserver(o Observer) {
	if o == nil {
		o = noObserver{}
	}
	s.obs = o
}

// RunCount is how many runs of a platform are in an active state, and how
// old the oldest of them is.
type RunCount struct {
	Platform string
	State    string
	Count    int
	// Oldest is the age of the oldest run in this state (since it was
	// created).
	Oldest time.Duration
	// Overdue, for delayed runs: how long past its delayedUntil the most
	// overdue one is still delayed (0 when none is): a run whose wait
	// ended long ago has lost its workflow.
	Overdue time.Duration
}

// ActiveRunCounts counts the pending, processing and delayed runs per
// platform and state. It reads only active runs (a partial index), so it
// is cheap enough for every metrics scrape.
func (s *Store) ActiveRunCounts(ctx context.Context) ([]RunCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT coalesce(i.platform, ''), r.state, count(*),
			coalesce(extract(epoch FROM now() - min(r."createdAt")), 0)::float8,
			greatest(coalesce(extract(epoch FROM now() - min(r."delayedUntil")), 0), 0)::float8
		FROM "integrationRuns" r LEFT JOIN integrations i ON i.id = r."integrationId"
		WHERE r.state IN ('pending', 'processing', 'delayed')
		GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RunCount
	for rows.Next() {
		var c RunCount
		var oldest, overdue float64
		if err := rows.Scan(&c.Platform, &c.State, &c.Count, &oldest, &overdue); err != nil {
			return nil, err
		}
		c.Oldest = time.Duration(oldest * float64(time.Second))
		c.Overdue = time.Duration(overdue * float64(time.Second))
		out = append(out, c)
	}
	return out, rows.Err()
}

// Kinds of delay, for RunDelayed.
const (
	DelayKindRateLimit   = "rate-limit"
	DelayKindGlobalLimit = "global-limit"
	DelayKindSleep       = "sleep"
)

// delayKind tells the kind of a delay from its reason, as the activities
// word it: "global limit reached", "stream X asked to sleep 1m", and every
// other delay is an API's rate limit ("stream X rate limited: ...",
// "preprocess: ...", "get streams: ...").
func delayKind(reason string) string {
	switch {
	case strings.Contains(reason, "global limit"):
		return DelayKindGlobalLimit
	case strings.Contains(reason, "asked to sleep"):
		return DelayKindSleep
	default:
		return DelayKindRateLimit
	}
}
