package devmode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// The demo tenant. Its id is fixed, so that every start finds the
// integrations of the previous ones; its name says what it is.
const (
	DemoTenantID   = "00000000-0000-4000-8000-00000000de70"
	DemoTenantName = "Demo tenant (crowdflow worker --dev, made-up data from fake APIs)"
)

// demoLock serialises the demo set-up of two dev workers sharing one
// database (pg_advisory_lock key).
const demoLock = 727275

// demoRun is a run the demo started or found running.
type demoRun struct {
	platform string
	started  control.Started
	kind     string // onboarding, check, or "still running"
}

// Ready is called once the worker runs: it connects the demo (the first
// time) or starts a check run of each demo integration (the next times),
// prints where to look, and logs when the demo's runs end. st and tc are
// the worker's. A failed demo is logged, not fatal: the servers stay up.
// Safe on a nil Env.
func (e *Env) Ready(ctx context.Context, st *store.Store, tc client.Client) {
	if e == nil {
		return
	}
	e.readyOnce.Do(func() {
		if err := e.startWeb(st, tc); err != nil {
			e.logger.Error("dev mode: the web UI could not start", "err", err)
		}
		var runs []demoRun
		var demoErr error
		if e.fakes != nil {
			runs, demoErr = e.setUpDemo(ctx, st, tc)
			if demoErr != nil {
				e.logger.Error("dev mode: the demo could not be set up", "err", demoErr)
			}
		}
		e.printSummary(e.opts.out(), runs)
		if len(runs) > 0 {
			wctx, cancel := context.WithCancel(ctx)
			e.watch = cancel
			e.watchers.Add(1)
			go func() {
				defer e.watchers.Done()
				e.watchDemo(wctx, st, tc, runs)
			}()
		}
	})
}

// setUpDemo makes sure the demo tenant has one integration per platform
// with a fake, and starts a run of each: onboarding for a new (or never
// onboarded) integration, a check run for one onboarded before.
func (e *Env) setUpDemo(ctx context.Context, st *store.Store, tc client.Client) ([]demoRun, error) {
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, demoLock); err != nil {
		return nil, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, demoLock) //nolint:errcheck

	if _, err := conn.Exec(ctx, `INSERT INTO tenants (id, name) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "updatedAt" = now()`, DemoTenantID, DemoTenantName); err != nil {
		return nil, fmt.Errorf("demo tenant: %w", err)
	}
	ctl := &control.Controller{Store: st, Temporal: tc, Registry: e.Registry, TaskQueue: e.TaskQueue}
	var runs []demoRun
	var errs []error
	for _, name := range e.Registry.Platforms() {
		p, ok := e.fakes.platform(name)
		if !ok {
			continue
		}
		r, err := e.demoIntegration(ctx, conn.Conn(), st, ctl, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("demo %s: %w", name, err))
			continue
		}
		runs = append(runs, r)
	}
	return runs, errors.Join(errs...)
}

func (e *Env) demoIntegration(ctx context.Context, conn *pgx.Conn, st *store.Store, ctl *control.Controller, p demoPlatform) (demoRun, error) {
	var id, status string
	err := conn.QueryRow(ctx, `SELECT id, status FROM integrations
		WHERE "tenantId" = $1 AND platform = $2 AND "deletedAt" IS NULL ORDER BY "createdAt", id LIMIT 1`,
		DemoTenantID, p.platform).Scan(&id, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		settings, err := ctl.ValidateConnect(control.ConnectInput{TenantID: DemoTenantID, Platform: p.platform, Settings: []byte(p.settings),
			Identifier: p.identifier})
		if err != nil {
			return demoRun{}, err
		}
		id, err = st.CreateIntegration(ctx, store.NewIntegration{
			TenantID: DemoTenantID, Platform: p.platform, Status: store.StatusInProgress,
			Settings: settings, Token: p.token, Identifier: p.identifier,
		})
		if err != nil {
			return demoRun{}, err
		}
		e.logger.Info("dev mode: demo integration connected to the fake API", "platform", p.platform, "integrationId", id,
			"tenantId", DemoTenantID, "api", e.fakes.apiURL(p))
		status = ""
	} else if err != nil {
		return demoRun{}, err
	}
	onboarding := status != store.StatusDone
	kind := "check"
	if onboarding {
		kind = "onboarding"
	}
	started, err := ctl.StartRun(ctx, id, onboarding)
	var busy *control.AlreadyRunningError
	if errors.As(err, &busy) {
		// A run of the last start goes on (Temporal kept it): follow it.
		return demoRun{platform: p.platform, kind: "still running",
			started: control.Started{IntegrationID: id, RunID: busy.RunID, WorkflowID: workflows.WorkflowID(id)}}, nil
	}
	if err != nil {
		return demoRun{}, err
	}
	e.logger.Info("dev mode: demo run started", "platform", p.platform, "kind", kind, "runId", started.RunID,
		"workflowId", started.WorkflowID)
	return demoRun{platform: p.platform, started: started, kind: kind}, nil
}

// watchDemo logs each demo run's end, then what the demo tenant holds.
func (e *Env) watchDemo(ctx context.Context, st *store.Store, tc client.Client, runs []demoRun) {
	ctl := &control.Controller{Store: st, Temporal: tc, Registry: e.Registry, TaskQueue: e.TaskQueue}
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			state, err := ctl.Wait(ctx, r.started, nil)
			switch {
			case ctx.Err() != nil:
			case err != nil:
				e.logger.Warn("dev mode: demo run: cannot follow it", "platform", r.platform, "runId", r.started.RunID, "err", err)
			default:
				e.logger.Info("dev mode: demo run ended", "platform", r.platform, "kind", r.kind, "state", state,
					"runId", r.started.RunID, "after", time.Since(e.started).Round(time.Millisecond))
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	var members, activities int
	err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM members WHERE "tenantId" = $1),
		(SELECT count(*) FROM activities WHERE "tenantId" = $1)`, DemoTenantID).Scan(&members, &activities)
	if err != nil {
		return
	}
	e.logger.Info("dev mode: demo runs processed; the demo tenant's data is in PostgreSQL",
		"members", members, "activities", activities, "tenantId", DemoTenantID, "after", time.Since(e.started).Round(time.Millisecond))
}

// printSummary says where to look.
func (e *Env) printSummary(w io.Writer, runs []demoRun) {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "  %-16s %s\n", k, v) }
	fmt.Fprintf(&b, "\ncrowdflow worker --dev is up (%s after start; state kept in %s)\n\n",
		time.Since(e.started).Round(100*time.Millisecond), shortPath(e.DataDir))
	if e.SignInURL != "" {
		line("Web UI", e.SignInURL+"  (signs in once as the operator)")
		line("API", e.WebURL+"/api/v1  ("+e.web.tokenHint+")")
	}
	line("Temporal Web", fmt.Sprintf("%s/namespaces/%s/workflows", e.UIURL, e.Namespace))
	line("Temporal", fmt.Sprintf("%s  (namespace %s, task queue %s; the starter: TEMPORAL_ADDRESS=%s)",
		e.TemporalAddress, e.Namespace, e.TaskQueue, e.TemporalAddress))
	where := "from DATABASE_URL"
	if e.localPG {
		where = "local cluster in " + shortPath(e.pg.Dir)
		if e.pg.Dir != e.pg.Requested {
			where += ", as the postgres user cannot reach " + shortPath(e.pg.Requested)
		}
	}
	line("PostgreSQL", fmt.Sprintf("psql '%s'  (%s)", e.DatabaseURL, where))
	if e.KeyFile != "" {
		line("Encryption key", fmt.Sprintf("%s  (made for --dev; the starter: ENCRYPTION_KEY_FILE=%s)", e.KeyFile, e.KeyFile))
	}
	if e.fakes != nil {
		urls := e.fakes.URLs()
		names := make([]string, 0, len(urls))
		for n := range urls {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "\n  Demo (made-up data; the built-in services call these fake APIs, not the real ones):\n")
		for _, n := range names {
			line("fake "+n, urls[n])
		}
		if len(e.realAPIs) > 0 {
			line("real APIs", strings.Join(e.realAPIs, ", ")+" (no fake)")
		}
		line("demo tenant", DemoTenantID)
		for _, r := range runs {
			line("demo run", fmt.Sprintf("%-8s %-13s %s", r.platform, r.kind, r.started.WorkflowID))
		}
		fmt.Fprintf(&b, "\n  psql '%s' -c 'SELECT platform, count(*) FROM activities GROUP BY 1'\n", e.DatabaseURL)
	} else {
		fmt.Fprintf(&b, "\n  No demo (--demo=false): the services call their real APIs or DEVTO_API_URL, SLACK_API_URL, ...\n")
	}
	fmt.Fprintf(&b, "\nCtrl-C stops the worker, Temporal Web, the Temporal server and the local PostgreSQL.\n\n")
	_, _ = io.WriteString(w, b.String())
}

// shortPath shows a path inside the working directory relative to it
// (".data", as the reader typed it), any other path as it is.
func shortPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return rel
	}
	return p
}
