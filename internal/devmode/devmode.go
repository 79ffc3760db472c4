// Package devmode is `worker --dev`: everything the worker needs, in the
// worker's process, on a machine that has Go and the PostgreSQL server
// binaries and nothing else running.
//
//   - a Temporal server (frontend, history, matching and worker services)
//     on 127.0.0.1:7233, its state in a SQLite file in the data folder
//     (./.data), with the default namespace and the runs' search
//     attributes registered, and Temporal Web on 127.0.0.1:8233;
//   - PostgreSQL from DATABASE_URL, or else a cluster started from the local
//     binaries into the data folder (kept between starts, on the port it
//     used last time), with the database created and migrated;
//   - a demo: the fake Dev.to, Discord and Slack APIs of the integrations'
//     tests, serving their made-up demo worlds on 127.0.0.1:8234, every
//     built-in service pointed at them, and a demo tenant with one
//     integration per platform, onboarded at the first start and checked
//     at the next ones.
//
// Start brings the servers up; the worker runs as in production against
// them (Env.DatabaseURL, Env.TemporalAddress, Env.Registry); Ready then
// connects the demo and prints where to look; Stop stops it all.
//
// Only the worker's dev.go imports this package, behind a build tag: it
// links the Temporal server and its UI, which a production worker built
// with -tags nodev does without.
package devmode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/config"
	"github.com/crowdflow/crowdflow/internal/pglocal"
	"github.com/crowdflow/crowdflow/internal/secrets"
	"github.com/crowdflow/crowdflow/migrations"
	"github.com/crowdflow/crowdflow/workflows"
)

// KeyFileName is the dev mode's encryption key in the data folder.
const KeyFileName = "encryption.key"

// DatabaseName is the database of the local cluster.
const DatabaseName = "crowdflow"

// Env is a running dev mode.
type Env struct {
	DataDir         string
	DatabaseURL     string
	TemporalAddress string
	Namespace       string
	TaskQueue       string
	UIURL           string
	// FakeAPIURL serves the fake platform APIs ("" without the demo).
	FakeAPIURL string
	// WebURL serves the HTTP API and its web UI once Ready ran; SignInURL
	// opens the UI signed in as the operator, once.
	WebURL, SignInURL string
	// Registry is the worker's registry: the built-in services, pointed at
	// the fake APIs when the demo is on.
	Registry *registry.Registry
	// Keyring seals the stored tokens: the configured one (ENCRYPTION_KEY,
	// ...), or else the key in KeyFile, made at the first start.
	Keyring *secrets.Keyring
	// KeyFile is the generated key's file ("" when a key was configured).
	KeyFile string

	opts     Options
	logger   *slog.Logger
	started  time.Time
	localPG  bool
	pg       *pglocal.Cluster
	temporal *devTemporal
	fakes    *fakeAPIs
	web      *webServer
	realAPIs []string // platforms of the registry without a fake
	lock     *os.File // flock on DataDir/lock, held until Stop

	watch     context.CancelFunc
	watchers  sync.WaitGroup
	stopOnce  sync.Once
	readyOnce sync.Once
}

// Start starts PostgreSQL (unless cfg.DatabaseURL is set) and the Temporal
// server with its UI, applies the migrations, registers the search
// attributes, and serves the fake APIs of the demo. cfg gives the
// namespace, the task queue and DATABASE_URL; base is the built-in
// registry. On error, whatever was started is stopped.
func Start(ctx context.Context, opts Options, cfg config.Config, base *registry.Registry, logger *slog.Logger) (*Env, error) {
	e := &Env{opts: opts, logger: logger, started: time.Now(), Namespace: cfg.TemporalNamespace, TaskQueue: cfg.TaskQueue,
		DatabaseURL: cfg.DatabaseURL, Keyring: cfg.Keyring}
	if err := e.start(ctx, base); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

func (e *Env) start(ctx context.Context, base *registry.Registry) error {
	o := &e.opts
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return err
	}
	e.DataDir = dir
	// 0755: as root, PostgreSQL runs as the postgres user, which must
	// reach its folder inside.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if err := e.lockDataDir(); err != nil {
		return err
	}
	if e.Keyring == nil {
		// The dev mode's own key, kept with the data it protects: the
		// tokens stored at the last start must open at the next.
		e.KeyFile = filepath.Join(dir, KeyFileName)
		k, created, err := secrets.LoadOrCreateKeyFile(e.KeyFile)
		if err != nil {
			return fmt.Errorf("dev mode encryption key: %w", err)
		}
		if created {
			e.logger.Info("dev mode: made an encryption key for the stored tokens", "file", e.KeyFile)
		}
		e.Keyring = k
	}
	for _, p := range []*int{&o.TemporalPort, &o.UIPort, &o.APIPort, &o.WebPort} {
		if *p == 0 {
			if *p, err = pglocal.FreePort(); err != nil {
				return err
			}
		}
	}
	// Fail before anything starts, naming the flag to change.
	if err := checkPortFree(o.TemporalPort, "the Temporal server (--temporal-port)"); err != nil {
		return err
	}
	if err := checkPortFree(o.UIPort, "Temporal Web (--ui-port)"); err != nil {
		return err
	}
	if err := checkPortFree(o.WebPort, "the web UI and API (--web-port)"); err != nil {
		return err
	}
	if o.Demo {
		if err := checkPortFree(o.APIPort, "the fake APIs (--api-port)"); err != nil {
			return err
		}
	}
	if os.Getenv("TEMPORAL_ADDRESS") != "" {
		e.logger.Warn("dev mode: TEMPORAL_ADDRESS is ignored, the worker uses its own Temporal server", "address", fmt.Sprintf("127.0.0.1:%d", o.TemporalPort))
	}
	level := o.TemporalLogLevel
	if level > slog.LevelWarn && e.logger.Enabled(ctx, slog.LevelDebug) {
		level = slog.LevelWarn
	}
	e.logger.Info("dev mode: starting PostgreSQL and Temporal", "dataDir", dir)

	// PostgreSQL and Temporal start side by side: each takes seconds.
	pgDone := make(chan error, 1)
	go func() { pgDone <- e.startPostgres(ctx) }()
	t, terr := startTemporal(ctx, temporalOptions{
		DBFile: filepath.Join(dir, "temporal.db"), Port: o.TemporalPort, UIPort: o.UIPort,
		Namespace: e.Namespace, Logger: e.logger, LogLevel: level,
	})
	perr := <-pgDone
	if terr == nil {
		e.temporal = t
		e.TemporalAddress, e.UIURL = t.Address, t.UIURL
	}
	if err := errors.Join(terr, perr); err != nil {
		return err
	}
	e.logger.Info("dev mode: Temporal Web is up", "url", e.UIURL, "after", time.Since(e.started).Round(time.Millisecond))

	if err := e.registerSearchAttributes(ctx); err != nil {
		return err
	}

	e.Registry = base
	if o.Demo {
		if e.fakes, err = startFakes(o.APIPort); err != nil {
			return err
		}
		e.FakeAPIURL = e.fakes.URL
		e.Registry, e.realAPIs = e.fakes.registry(base)
	}
	return nil
}

// lockDataDir makes sure one dev mode at a time uses the data folder: a
// second one would stop the first one's PostgreSQL to start its own.
func (e *Env) lockDataDir() error {
	f, err := os.OpenFile(filepath.Join(e.DataDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("another worker --dev uses %s (stop it, or give this one another --data-dir)", e.DataDir)
	}
	e.lock = f
	return nil
}

// startPostgres starts the local cluster unless DATABASE_URL is given, and
// applies the migrations.
func (e *Env) startPostgres(ctx context.Context) error {
	if e.DatabaseURL == "" {
		pg, err := pglocal.Start(pglocal.Options{Dir: filepath.Join(e.DataDir, "postgres"), Durable: true})
		if err != nil {
			return fmt.Errorf("local PostgreSQL (set DATABASE_URL to use another server): %w", err)
		}
		e.pg, e.localPG = pg, true
		if pg.Dir != pg.Requested {
			// As root in a folder the postgres user cannot enter: the
			// cluster lives elsewhere (the same folder at every start).
			e.logger.Info("dev mode: the postgres user cannot reach the data folder; PostgreSQL's cluster is kept in another folder",
				"requested", pg.Requested, "cluster", pg.Dir)
		}
		if err := pg.CreateDatabase(ctx, DatabaseName); err != nil {
			return err
		}
		e.DatabaseURL = pg.URL(DatabaseName)
	}
	if _, err := migrations.Up(ctx, e.DatabaseURL); err != nil {
		return err
	}
	return nil
}

// registerSearchAttributes adds the runs' search attributes to the
// namespace (only the missing ones).
func (e *Env) registerSearchAttributes(ctx context.Context) error {
	tc, err := e.dial(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	if err := workflows.EnsureSearchAttributes(ctx, tc, e.Namespace); err != nil {
		return err
	}
	return nil
}

// dial connects to the embedded server, waiting for its frontend to
// answer.
func (e *Env) dial(ctx context.Context) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	for {
		tc, err := client.DialContext(ctx, client.Options{HostPort: e.TemporalAddress, Namespace: e.Namespace,
			Logger: tlog.NewStructuredLogger(quiet)})
		if err == nil {
			if _, err = tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err == nil {
				return tc, nil
			}
			tc.Close()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the embedded Temporal server does not answer on %s: %w", e.TemporalAddress, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the demo's watchers, the fake APIs, Temporal Web, the
// Temporal server and the local PostgreSQL, in that order. The worker
// must be stopped before. Safe on a nil Env and twice.
func (e *Env) Stop() {
	if e == nil {
		return
	}
	e.stopOnce.Do(func() {
		if e.watch != nil {
			e.watch()
		}
		e.watchers.Wait()
		e.web.stop(e.logger)
		if e.fakes != nil {
			e.fakes.Stop()
		}
		if e.temporal != nil {
			if err := e.temporal.Stop(); err != nil {
				e.logger.Warn("dev mode: stopping the Temporal server", "err", err)
			}
		}
		if e.pg != nil {
			if err := e.pg.Stop(); err != nil {
				e.logger.Warn("dev mode: stopping PostgreSQL", "err", err)
			}
		}
		if e.lock != nil {
			_ = e.lock.Close()
		}
		if e.temporal != nil || e.pg != nil {
			e.logger.Info("dev mode: stopped", "dataDir", e.DataDir)
		}
	})
}
