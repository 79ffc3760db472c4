package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// EnvActivityConcurrency is how many activities one worker runs at once.
const EnvActivityConcurrency = "WORKER_ACTIVITY_CONCURRENCY"

// DefaultActivityConcurrency: the SDK's own default (1000) would let a busy
// worker open far more database connections than PostgreSQL allows; a run
// processes its streams one at a time, so this is about how many runs one
// worker moves at once. Scale by adding workers, or raise it together with
// the server's max_connections.
const DefaultActivityConcurrency = 20

// PoolHeadroom is how many connections the worker's pool has beyond one
// per activity: the metrics collector and the schedule sync at start use
// the pool too.
const PoolHeadroom = 4

// ActivityConcurrency reads WORKER_ACTIVITY_CONCURRENCY.
func ActivityConcurrency() (int, error) {
	v := strings.TrimSpace(os.Getenv(EnvActivityConcurrency))
	if v == "" {
		return DefaultActivityConcurrency, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive number", EnvActivityConcurrency, v)
	}
	return n, nil
}

// EnvRetentionMaxAge is how long processed runs are kept.
const EnvRetentionMaxAge = "RETENTION_MAX_AGE"

// RetentionMaxAge reads RETENTION_MAX_AGE: a number of days ("90d") or a
// Go duration ("2160h"). Unset, it is 0: the store's default (90 days).
func RetentionMaxAge() (time.Duration, error) {
	v := strings.TrimSpace(os.Getenv(EnvRetentionMaxAge))
	if v == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%s=%q: want a number of days (90d) or a duration (2160h)", EnvRetentionMaxAge, v)
}
