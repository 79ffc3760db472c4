package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/config"
	"github.com/crowdflow/crowdflow/migrations"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// env is what a command needs, opened lazily: a command that fails on its
// flags never touches the database.
type env struct {
	cfg    config.Config
	logger *slog.Logger
	out    io.Writer
	errOut io.Writer
	store  *store.Store
	ctl    *control.Controller
}

func (e *env) close() {
	if e.ctl != nil && e.ctl.Temporal != nil {
		e.ctl.Temporal.Close()
	}
	if e.store != nil {
		e.store.Close()
	}
}

// open connects to the database and, when withTemporal, to Temporal.
func (e *env) open(ctx context.Context, withTemporal bool) (*control.Controller, error) {
	if err := e.cfg.RequireDatabase(); err != nil {
		return nil, err
	}
	if e.store == nil {
		if e.cfg.Keyring == nil {
			// Optional here: only a command that writes or reads a token
			// needs it, and the store says so then.
			if err := e.cfg.LoadKeyring(); err != nil {
				return nil, &exitError{code: 2, err: err}
			}
		}
		st, err := store.Open(ctx, e.cfg.DatabaseURL)
		if err != nil {
			return nil, err
		}
		st.SetKeyring(e.cfg.Keyring)
		e.store = st
		e.ctl = &control.Controller{Store: st, Registry: registry.Default(), TaskQueue: e.cfg.TaskQueue}
	}
	if withTemporal && e.ctl.Temporal == nil {
		tc, err := e.cfg.DialTemporal(ctx, e.logger)
		if err != nil {
			return nil, err
		}
		e.ctl.Temporal = tc
	}
	return e.ctl, nil
}

func newRoot() *cobra.Command {
	e := &env{cfg: config.FromEnv(), logger: config.Logger(slog.LevelWarn), out: os.Stdout, errOut: os.Stderr}
	root := &cobra.Command{
		Use:           "starter",
		Short:         "Start and drive integration runs",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPostRun: func(*cobra.Command, []string) {
			e.close()
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: 2, err: fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.AddCommand(migrateCmd(e), connectCmd(e), processIntegrationCmd(e), continueRunCmd(e))
	root.AddCommand(schedulesCmd(e))
	root.AddCommand(serveCmd(e))
	root.AddCommand(rotateKeyCmd(e), apiTokenCmd(e), codecServerCmd(e))
	return root
}

func migrateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database schema (safe to run twice, and from two processes at once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := e.cfg.RequireDatabase(); err != nil {
				return err
			}
			n, err := migrations.Up(cmd.Context(), e.cfg.DatabaseURL)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.errOut, "applied %d migration(s)\n", n)
			return nil
		},
	}
}

func connectCmd(e *env) *cobra.Command {
	var in control.ConnectInput
	var settings string
	cmd := &cobra.Command{
		Use:   "connect --tenant ID --platform P --settings JSON [--token T] [--refresh-token R] [--identifier ID] [--no-onboard]",
		Short: "Store an integration and start its onboarding run; prints the integration id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			in.Settings = json.RawMessage(settings)
			if in.Token == "" {
				in.Token = os.Getenv("INTEGRATION_TOKEN")
			}
			if in.RefreshToken == "" {
				in.RefreshToken = os.Getenv("INTEGRATION_REFRESH_TOKEN")
			}
			// Validate before connecting anywhere: bad input is reported the
			// same with or without a database.
			probe := &control.Controller{Registry: registry.Default()}
			if _, err := probe.ValidateConnect(in); err != nil {
				return &exitError{code: 2, err: err}
			}
			ctl, err := e.open(ctx, !in.NoOnboard)
			if err != nil {
				return err
			}
			started, err := ctl.Connect(ctx, in)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, started.IntegrationID)
			if started.RunID != "" {
				fmt.Fprintf(e.errOut, "onboarding run %s started (workflow %s)\n", started.RunID, started.WorkflowID)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.TenantID, "tenant", "", "tenant id (a UUID; created if new)")
	f.StringVar(&in.Platform, "platform", "", "platform: "+strings.Join(registry.Default().Platforms(), ", "))
	f.StringVar(&settings, "settings", "{}", "the platform's settings as a JSON object")
	f.StringVar(&in.Token, "token", "", "API token of the integration (or INTEGRATION_TOKEN)")
	f.StringVar(&in.RefreshToken, "refresh-token", "", "refresh token of the integration, for platforms whose tokens expire (or INTEGRATION_REFRESH_TOKEN)")
	f.StringVar(&in.Identifier, "identifier", "", "the platform's id of what is connected (a GitHub App installation id, a Twitter profile id)")
	f.BoolVar(&in.NoOnboard, "no-onboard", false, "store the integration without starting its onboarding")
	_ = cmd.MarkFlagRequired("tenant")
	_ = cmd.MarkFlagRequired("platform")
	return cmd
}

func processIntegrationCmd(e *env) *cobra.Command {
	var ids []string
	var platform string
	var onboarding, wait bool
	cmd := &cobra.Command{
		Use:   "process-integration -i ID[,ID] | -p PLATFORM [-o] [--wait]",
		Short: "Start a run of integrations; prints each started run id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if len(ids) == 0 && platform == "" {
				return &exitError{code: 2, err: errors.New("give integration ids (-i) or a platform (-p)")}
			}
			if err := checkUUIDs("integration", ids); err != nil {
				return err
			}
			if platform != "" {
				if _, ok := registry.Default().Get(platform); !ok {
					return &exitError{code: 2, err: fmt.Errorf("unknown platform %q (known: %s)", platform, strings.Join(registry.Default().Platforms(), ", "))}
				}
			}
			ctl, err := e.open(ctx, true)
			if err != nil {
				return err
			}
			if err := checkExist(ctx, "integration", ids, func(ctx context.Context, id string) error {
				_, err := ctl.Store.GetIntegration(ctx, id)
				return err
			}); err != nil {
				return err
			}
			// A companion service (twitter-reach) runs on every done
			// integration of the platform it belongs to.
			var serviceIDs []string
			if platform != "" {
				listed := platform
				base, companion := ctl.CompanionOf(platform)
				if companion {
					listed = base
				}
				more, err := listIntegrations(ctx, ctl.Store, listed)
				if err != nil {
					return err
				}
				if companion {
					serviceIDs = more
				} else {
					ids = append(ids, more...)
				}
			}
			var runs []control.Started
			start := func(id string) (control.Started, error) { return ctl.StartRun(ctx, id, onboarding) }
			for i, id := range append(ids, serviceIDs...) {
				if i == len(ids) {
					start = func(id string) (control.Started, error) { return ctl.StartServiceRun(ctx, id, platform, "") }
				}
				started, err := start(id)
				var running *control.AlreadyRunningError
				if errors.As(err, &running) {
					fmt.Fprintf(e.errOut, "skipped: %v\n", err)
					continue
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(e.out, started.RunID)
				runs = append(runs, started)
			}
			if wait {
				return waitAll(ctx, e, ctl, runs)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&ids, "integration", "i", nil, "integration ids, comma-separated")
	f.StringVarP(&platform, "platform", "p", "", "every integration of this platform whose status is done (twitter-reach: a reach run on every done twitter integration)")
	f.BoolVarP(&onboarding, "onboarding", "o", false, "onboarding run (full history) instead of a check")
	f.BoolVar(&wait, "wait", false, "wait until the runs end; exit 0 only if all are processed")
	return cmd
}

func listIntegrations(ctx context.Context, st *store.Store, platform string) ([]string, error) {
	var out []string
	after := ""
	for {
		page, err := st.ListIntegrationIDs(ctx, platform, store.StatusDone, after, 100)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < 100 {
			return out, nil
		}
		after = page[len(page)-1]
	}
}

func continueRunCmd(e *env) *cobra.Command {
	var ids []string
	var wait bool
	cmd := &cobra.Command{
		Use:   "continue-run -r RUNID[,RUNID] [--wait]",
		Short: "Re-process the pending and failed streams of runs that ended or are stuck",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if len(ids) == 0 {
				return &exitError{code: 2, err: errors.New("give run ids (-r)")}
			}
			if err := checkUUIDs("run", ids); err != nil {
				return err
			}
			ctl, err := e.open(ctx, true)
			if err != nil {
				return err
			}
			if err := checkExist(ctx, "run", ids, func(ctx context.Context, id string) error {
				_, err := ctl.Store.GetRun(ctx, id)
				return err
			}); err != nil {
				return err
			}
			var runs []control.Started
			for _, id := range ids {
				started, err := ctl.ContinueRun(ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintln(e.out, started.RunID)
				runs = append(runs, started)
			}
			if wait {
				return waitAll(ctx, e, ctl, runs)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&ids, "run", "r", nil, "run ids, comma-separated")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the runs end; exit 0 only if all are processed")
	return cmd
}

// checkUUIDs rejects, as a usage error, an id that is not a UUID.
func checkUUIDs(kind string, ids []string) error {
	for _, id := range ids {
		if !store.ValidUUID(id) {
			return &exitError{code: 2, err: fmt.Errorf("%s id %q is not a UUID", kind, id)}
		}
	}
	return nil
}

// checkExist makes sure every id exists before anything starts, so a typo
// in the third id does not leave the first two started.
func checkExist(ctx context.Context, kind string, ids []string, get func(context.Context, string) error) error {
	for _, id := range ids {
		if err := get(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%s %s not found", kind, id)
			}
			return err
		}
	}
	return nil
}

// waitAll waits for every run and fails unless all of them are processed.
func waitAll(ctx context.Context, e *env, ctl *control.Controller, runs []control.Started) error {
	failed := 0
	for _, r := range runs {
		bar := newProgressReporter(e.errOut)
		state, err := ctl.Wait(ctx, r, func(p workflows.Progress) { bar.report(r, p) })
		bar.done()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.errOut, "run %s: %s\n", r.RunID, state)
		if state != store.RunProcessed {
			failed++
		}
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d run(s) did not end processed", failed, len(runs))}
	}
	return nil
}
