package store

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Environment variables of the database pool (README: "What the worker
// needs").
const (
	EnvMaxConns         = "DATABASE_MAX_CONNS"
	EnvStatementTimeout = "DATABASE_STATEMENT_TIMEOUT"
	EnvLockTimeout      = "DATABASE_LOCK_TIMEOUT"
)

// Defaults of the pool's timeouts. Nothing a run does takes a minute (a
// page is one transaction of a few set-based statements), so a statement
// that does is stuck (a lock held by a forgotten session, a runaway plan)
// and is better failed and retried than left holding a connection and its
// activity slot for ever. lock_timeout is shorter: waiting for a row
// another transaction holds is normal for a moment (two attempts of one
// stream), not for half a minute.
const (
	DefaultStatementTimeout = time.Minute
	DefaultLockTimeout      = 30 * time.Second
)

// PoolOptions size the pool and bound its statements. Zero values take
// the defaults (pgx's pool size: the larger of 4 and the number of CPUs).
type PoolOptions struct {
	MaxConns         int32
	StatementTimeout time.Duration
	LockTimeout      time.Duration
}

// Option changes how Open builds the pool.
type Option func(*PoolOptions)

// WithMaxConns sizes the pool, unless DATABASE_MAX_CONNS says otherwise:
// the worker passes its activity concurrency (each activity holds at most
// one connection at a time) plus a few for the rest.
func WithMaxConns(n int32) Option {
	return func(o *PoolOptions) {
		if o.MaxConns == 0 {
			o.MaxConns = n
		}
	}
}

// PoolOptionsFromEnv reads DATABASE_MAX_CONNS (a positive number),
// DATABASE_STATEMENT_TIMEOUT and DATABASE_LOCK_TIMEOUT (Go durations such
// as 90s or 2m; 0 turns the timeout off). Unset values take the defaults.
func PoolOptionsFromEnv() (PoolOptions, error) {
	o := PoolOptions{StatementTimeout: DefaultStatementTimeout, LockTimeout: DefaultLockTimeout}
	if v := strings.TrimSpace(os.Getenv(EnvMaxConns)); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			return o, fmt.Errorf("%s=%q: want a positive number of connections", EnvMaxConns, v)
		}
		o.MaxConns = int32(n)
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{EnvStatementTimeout, &o.StatementTimeout}, {EnvLockTimeout, &o.LockTimeout}} {
		v := strings.TrimSpace(os.Getenv(d.name))
		if v == "" {
			continue
		}
		if v == "0" {
			*d.to = 0
			continue
		}
		t, err := time.ParseDuration(v)
		if err != nil || t < 0 {
			return o, fmt.Errorf("%s=%q: want a duration such as 30s or 2m (0: no timeout)", d.name, v)
		}
		*d.to = t
	}
	return o, nil
}

// apply sets the options on a pool configuration. The timeouts are
// session settings sent when a connection opens, so they hold for every
// statement, transactions included.
func (o PoolOptions) apply(cfg *pgxpool.Config) {
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	// A value given in DATABASE_URL itself (?statement_timeout=...) wins.
	params := cfg.ConnConfig.RuntimeParams
	for k, d := range map[string]time.Duration{"statement_timeout": o.StatementTimeout, "lock_timeout": o.LockTimeout} {
		if _, set := params[k]; !set {
			params[k] = strconv.FormatInt(d.Milliseconds(), 10)
		}
	}
}
