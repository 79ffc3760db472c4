//go:build !nodev

package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/config"
	"github.com/crowdflow/crowdflow/internal/devmode"
)

// The dev mode links the Temporal server and its Web UI into the worker.
// `go build -tags nodev ./worker` leaves them out (nodev.go).
var (
	devFlag = flag.Bool("dev", false, "run everything the worker needs in this process: a Temporal server with its Web UI, "+
		"PostgreSQL (unless DATABASE_URL is set) and a demo on fake APIs; state in --data-dir")
	devOptions = func() *devmode.Options {
		o := devmode.DefaultOptions()
		o.RegisterFlags(flag.CommandLine)
		return &o
	}()
)

// startDev does nothing without --dev. With it, it starts the dev mode's
// servers and points the worker at them: cfg gets their addresses, and
// services the registry whose built-in services call the fake APIs.
func startDev(ctx context.Context, cfg *config.Config, services **registry.Registry, logger *slog.Logger) (*devmode.Env, error) {
	if !*devFlag {
		return nil, nil
	}
	env, err := devmode.Start(ctx, *devOptions, *cfg, *services, logger)
	if err != nil {
		return nil, err
	}
	cfg.DatabaseURL = env.DatabaseURL
	cfg.TemporalAddress = env.TemporalAddress
	cfg.Keyring = env.Keyring
	// The embedded server is plain gRPC on loopback: the TLS and API key
	// settings of a real cluster do not apply to it (payload encryption
	// does).
	if sec := cfg.Temporal; sec.APIKey != "" || sec.CertFile != "" || sec.CertData != "" || sec.CAFile != "" || sec.CAData != "" || (sec.TLS != nil && *sec.TLS) {
		logger.Warn("dev mode: the TEMPORAL_TLS_* and TEMPORAL_API_KEY settings are ignored, the worker uses its own Temporal server")
	}
	cfg.Temporal = config.TemporalSecurity{PayloadEncryption: cfg.Temporal.PayloadEncryption}
	*services = env.Registry
	return env, nil
}
