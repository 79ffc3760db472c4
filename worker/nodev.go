//go:build nodev

package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/config"
	"github.com/crowdflow/crowdflow/store"
)

// Built with -tags nodev: no Temporal server or UI in the binary, and
// --dev says so.
var devFlag = flag.Bool("dev", false, "not in this build (built with -tags nodev)")

type noDev struct{}

func (noDev) Ready(context.Context, *store.Store, client.Client) {}
func (noDev) Stop()                                              {}

func startDev(context.Context, *config.Config, **registry.Registry, *slog.Logger) (noDev, error) {
	if *devFlag {
		return noDev{}, errors.New("--dev is not in this build: it was built with -tags nodev; build it without the tag (go run ./worker --dev)")
	}
	return noDev{}, nil
}
