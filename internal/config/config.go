// Package config reads the environment both commands share (DESIGN.md §4)
// and builds the clients from it.
package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/crowdflow/crowdflow/internal/secrets"
)

// Config is the shared environment.
type Config struct {
	DatabaseURL       string
	TemporalAddress   string
	TemporalNamespace string
	TaskQueue         string
	// Keyring seals the tokens at rest (ENCRYPTION_KEY, ...): nil when no
	// key is configured (LoadKeyring). With payload encryption on, it
	// seals the Temporal payloads too.
	Keyring *secrets.Keyring
	// Temporal is how the Temporal connection is secured (TEMPORAL_TLS_*,
	// TEMPORAL_API_KEY, TEMPORAL_PAYLOAD_ENCRYPTION); a malformed value
	// is reported by DialTemporal.
	Temporal    TemporalSecurity
	temporalErr error
}

// DefaultTaskQueue is the task queue when TEMPORAL_TASK_QUEUE is unset.
const DefaultTaskQueue = "integrations"

// FromEnv reads DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and
// TEMPORAL_TASK_QUEUE.
func FromEnv() Config {
	c := Config{
		DatabaseURL:       os.Getenv("DATABASE_URL"),
		TemporalAddress:   getenv("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace: getenv("TEMPORAL_NAMESPACE", "default"),
		TaskQueue:         getenv("TEMPORAL_TASK_QUEUE", DefaultTaskQueue),
	}
	c.Temporal, c.temporalErr = TemporalSecurityFromEnv()
	return c
}

// RequireDatabase says clearly when DATABASE_URL is missing.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set (e.g. postgres://user:pass@localhost:5432/crowd)")
	}
	return nil
}

// LoadKeyring reads ENCRYPTION_KEY or ENCRYPTION_KEY_FILE and
// ENCRYPTION_KEYS_OLD into c.Keyring. No key configured is no error here
// (c.Keyring stays nil: RequireKeyring decides); a malformed one is.
func (c *Config) LoadKeyring() error {
	k, err := secrets.FromEnv()
	if errors.Is(err, secrets.ErrNoKey) {
		return nil
	}
	if err != nil {
		return err
	}
	c.Keyring = k
	return nil
}

// RequireKeyring says clearly that who (the worker, the API) does not
// start without an encryption key.
func (c Config) RequireKeyring(who string) error {
	if c.Keyring == nil {
		return fmt.Errorf("%s refuses to start without an encryption key for the stored tokens: %w "+
			"(go run ./worker --dev makes one in its data folder)", who, secrets.ErrNoKey)
	}
	return nil
}

// Logger is the process logger: text on stderr, so stdout carries results
// only.
func Logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// DialTemporal connects to Temporal with the given logger (the SDK's default
// logger would write to stdout). Options may set more of the client's
// options (its metrics handler, say).
func (c Config) DialTemporal(ctx context.Context, logger *slog.Logger, options ...func(*client.Options)) (client.Client, error) {
	opts, err := c.TemporalClientOptions(logger)
	if err != nil {
		return nil, err
	}
	for _, o := range options {
		o(&opts)
	}
	cl, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", c.TemporalAddress, err)
	}
	return cl, nil
}

// TemporalClientOptions are the options every command's Temporal client is
// made with: address, namespace, logger, TLS or API key, payload codec.
func (c Config) TemporalClientOptions(logger *slog.Logger) (client.Options, error) {
	if c.temporalErr != nil {
		return client.Options{}, c.temporalErr
	}
	opts := client.Options{
		HostPort:  c.TemporalAddress,
		Namespace: c.TemporalNamespace,
		Logger:    tlog.NewStructuredLogger(logger),
	}
	if err := c.Temporal.apply(&opts, c.Keyring); err != nil {
		return client.Options{}, err
	}
	return opts, nil
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
