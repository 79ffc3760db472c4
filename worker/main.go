// Command worker runs the integration workflows and activities.
//
// It needs PostgreSQL (DATABASE_URL) and a Temporal server
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE). It applies
// the database migrations at start and stops gracefully on SIGTERM or
// Ctrl-C: running activities get time to finish, and whatever does not is
// retried by Temporal on another worker.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/checks"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/config"
	"github.com/crowdflow/crowdflow/internal/metrics"
	"github.com/crowdflow/crowdflow/migrations"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

func main() {
	verbose := flag.Bool("v", false, "log debug messages")
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := config.Logger(level)
	if err := run(logger); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	cfg := config.FromEnv()
	if err := cfg.LoadKeyring(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// With --dev (dev.go), a Temporal server, PostgreSQL and the demo's fake
	// APIs start in this process, and cfg and services point at them.
	services := registry.Default()
	dev, err := startDev(ctx, &cfg, &services, logger)
	if err != nil {
		return err
	}
	defer dev.Stop()
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	if err := cfg.RequireKeyring("the worker"); err != nil {
		return err
	}

	if _, err := migrations.Up(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	// One connection per activity slot (each activity holds at most one at
	// a time) and a few more; DATABASE_MAX_CONNS overrides.
	concurrency, err := config.ActivityConcurrency()
	if err != nil {
		return err
	}
	retention, err := config.RetentionMaxAge()
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.WithMaxConns(int32(concurrency+config.PoolHeadroom)))
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetKeyring(cfg.Keyring)
	// The SDK's metrics (and the Go runtime's) on METRICS_ADDR/metrics.
	reg := metrics.NewRegistry()
	// The engine's own metrics: what the store commits, and the active runs
	// read from the database at each scrape.
	st.SetObserver(metrics.NewDomain(reg))
	metrics.RegisterRunGauges(reg, st)
	if addr := metrics.AddrFromEnv(metrics.DefaultWorkerAddr); addr != "" {
		ms, err := metrics.Listen(addr, reg, logger)
		switch {
		case err != nil && *devFlag && os.Getenv("METRICS_ADDR") == "":
			// A second dev worker on one machine (or anything else on the
			// default port) must not keep the dev mode from starting: its
			// metrics are a convenience there, not a contract.
			logger.Warn("dev mode: metrics not served (set METRICS_ADDR to choose a free address)", "addr", addr, "err", err)
		case err != nil:
			return err
		default:
			defer ms.Close()
			logger.Info("metrics listening", "url", "http://"+ms.Addr()+"/metrics")
		}
	}
	tc, err := cfg.DialTemporal(ctx, logger, reg.TemporalClientOption())
	if err != nil {
		return err
	}
	defer tc.Close()

	if err := workflows.EnsureSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
		// A cluster may not let workers change it: the README says how an
		// operator registers them once.
		logger.Warn("could not register the search attributes; runs cannot start until they are", "err", err)
	}
	w := worker.New(tc, cfg.TaskQueue, worker.Options{WorkerStopTimeout: 30 * time.Second,
		MaxConcurrentActivityExecutionSize: concurrency})
	workflows.DefaultRun().Register(w, &activities.Activities{Store: st, Registry: services, Logger: logger})
	// The scheduled checks start runs through the same controller as the
	// starter and the API.
	checks.Register(w, workflows.DefaultCheck(), &checks.Activities{Controller: &control.Controller{
		Store: st, Temporal: tc, Registry: registry.Default(), TaskQueue: cfg.TaskQueue},
		Metrics: checks.NewReconcileMetrics(reg)})
	// The reconciler ends the rows of runs whose workflow is gone
	// (terminated from Temporal Web, timed out): created when missing,
	// never changed by a worker.
	if action, err := control.EnsureReconcileSchedule(ctx, tc, cfg.TaskQueue); err != nil {
		logger.Warn("could not create the reconciler's schedule; runs terminated in Temporal keep their rows until it exists", "err", err)
	} else {
		logger.Info("reconciler schedule", "id", control.ReconcileScheduleID, "action", action, "every", control.ReconcileEvery)
	}
	// A worker only creates the schedules that are missing: during a
	// rolling deploy old and new workers would otherwise undo each other's
	// changes. `starter schedules sync` changes the existing ones.
	if rep, err := control.EnsureSchedules(ctx, tc, registry.Default(), cfg.TaskQueue); err != nil {
		logger.Warn("could not create the missing check schedules; checks may not run until `starter schedules sync` succeeds", "err", err)
	} else {
		logger.Info("check schedules", "created", rep.IDs(control.ScheduleCreated), "existing", rep.IDs(control.ScheduleUnchanged))
	}
	// Retention: processed runs older than RETENTION_MAX_AGE are deleted
	// daily by the maintenance/retention schedule.
	workflows.DefaultRetention().Register(w, &activities.Retention{Store: st, MaxAge: retention})
	if action, err := control.EnsureRetentionSchedule(ctx, tc, cfg.TaskQueue); err != nil {
		logger.Warn("could not create the retention schedule; old runs are kept until it exists", "err", err)
	} else {
		logger.Info("retention schedule", "id", control.RetentionScheduleID, "action", action)
	}
	if err := w.Start(); err != nil {
		return err
	}
	logger.Info("worker started", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace, "taskQueue", cfg.TaskQueue,
		"platforms", registry.Default().Platforms())
	dev.Ready(ctx, st, tc) // --dev: connect the demo, say where to look
	<-ctx.Done()
	logger.Info("stopping worker")
	w.Stop()
	return nil
}
