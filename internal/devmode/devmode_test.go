package devmode

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/config"
	"github.com/crowdflow/crowdflow/internal/pgtest"
	"github.com/crowdflow/crowdflow/internal/syncbuf"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// devWorker is one start of the dev mode with a worker on it, wired as
// worker/main.go wires it.
type devWorker struct {
	env    *Env
	store  *store.Store
	client client.Client
	worker worker.Worker
	out    *syncbuf.Buffer
	cancel context.CancelFunc
}

func startDev(t *testing.T, ctx context.Context, opts Options, cfg config.Config) *devWorker {
	t.Helper()
	out := &syncbuf.Buffer{}
	opts.Out = out
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	env, err := Start(ctx, opts, cfg, registry.Default(), logger)
	require.NoError(t, err)
	// Canceled at stop, as the worker's context is on Ctrl-C.
	ctx, cancel := context.WithCancel(ctx)
	d := &devWorker{env: env, out: out, cancel: cancel}
	t.Cleanup(d.stop)

	d.store, err = store.Open(ctx, env.DatabaseURL)
	require.NoError(t, err)
	d.store.SetKeyring(env.Keyring)
	quiet := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	d.client, err = client.DialContext(ctx, client.Options{HostPort: env.TemporalAddress, Namespace: env.Namespace, Logger: quiet})
	require.NoError(t, err)
	d.worker = worker.New(d.client, env.TaskQueue, worker.Options{})
	workflows.DefaultRun().Register(d.worker, &activities.Activities{Store: d.store, Registry: env.Registry, Logger: logger})
	require.NoError(t, d.worker.Start())
	env.Ready(ctx, d.store, d.client)
	return d
}

func (d *devWorker) stop() {
	if d.env == nil {
		return
	}
	d.cancel()
	if d.worker != nil {
		d.worker.Stop()
	}
	if d.client != nil {
		d.client.Close()
	}
	if d.store != nil {
		d.store.Close()
	}
	d.env.Stop()
	d.env = nil
}

func (d *devWorker) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, d.store.Pool().QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// waitRuns waits until the demo tenant has want runs, all processed.
func (d *devWorker) waitRuns(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var total, processed int
		require.NoError(t, d.store.Pool().QueryRow(context.Background(),
			`SELECT count(*), count(*) FILTER (WHERE state = 'processed') FROM "integrationRuns" WHERE "tenantId" = $1`,
			DemoTenantID).Scan(&total, &processed))
		if total == want && processed == want {
			return
		}
		failed := d.count(t, `SELECT count(*) FROM "integrationRuns" WHERE "tenantId" = $1 AND state = 'error'`, DemoTenantID)
		require.Zero(t, failed, "a demo run ended in error")
		if time.Now().After(deadline) {
			t.Fatalf("after 3 minutes the demo tenant has %d runs, %d processed; want %d processed", total, processed, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDevMode starts the dev mode on a new data folder, waits for the
// demo's onboarding runs and their rows, checks Temporal Web, stops, then
// starts again on the same folder: the runs of the first start are still
// in Temporal, the demo integrations are not duplicated, and each gets a
// check run.
func TestDevMode(t *testing.T) {
	ctx := context.Background()
	// A folder only its owner may enter (mode 700), as a clone in root's
	// home or in `mktemp -d`: as root, PostgreSQL runs as the postgres
	// user, which cannot reach it, so the cluster is kept elsewhere.
	dir := t.TempDir()
	var err error

	cfg := config.Config{TemporalNamespace: "default", TaskQueue: config.DefaultTaskQueue}
	if os.Getenv("DATABASE_URL") != "" {
		// A server is given: the dev mode uses it, as the worker would.
		cfg.DatabaseURL = pgtest.NewDatabase(t)
	}
	opts := DefaultOptions()
	opts.DataDir = dir
	opts.TemporalPort, opts.UIPort, opts.APIPort, opts.WebPort = 0, 0, 0, 0

	// Every platform with integrations of its own gets a demo one; a
	// companion service (twitter-reach) runs on another's.
	var platforms []string
	for _, p := range registry.Default().Platforms() {
		if svc, _ := registry.Default().Get(p); svc != nil {
			if _, companion := svc.(integrations.Companion); companion {
				continue
			}
		}
		platforms = append(platforms, p)
	}
	require.NotEmpty(t, platforms)

	// First start: a new data folder.
	d := startDev(t, ctx, opts, cfg)
	env := d.env
	_, err = Start(ctx, opts, cfg, registry.Default(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorContains(t, err, "another worker --dev uses", "a second dev mode on the same data folder")
	require.Len(t, env.Registry.Platforms(), len(registry.Default().Platforms()))
	d.waitRuns(t, len(platforms))
	require.Equal(t, len(platforms), d.count(t, `SELECT count(*) FROM integrations WHERE "tenantId" = $1 AND status = 'done'`, DemoTenantID))
	for _, p := range platforms {
		require.Positive(t, d.count(t, `SELECT count(*) FROM "memberIdentities" WHERE "tenantId" = $1 AND platform = $2`, DemoTenantID, p),
			"no members from %s", p)
		require.Positive(t, d.count(t, `SELECT count(*) FROM activities WHERE "tenantId" = $1 AND platform = $2`, DemoTenantID, p),
			"no activities from %s", p)
	}
	members := d.count(t, `SELECT count(*) FROM members WHERE "tenantId" = $1`, DemoTenantID)
	activityCount := d.count(t, `SELECT count(*) FROM activities WHERE "tenantId" = $1`, DemoTenantID)

	// The summary says where to look.
	summary := d.out.String()
	t.Log(summary)
	if env.localPG {
		if os.Geteuid() == 0 {
			require.NotEqual(t, env.pg.Requested, env.pg.Dir, "as root, the cluster left the mode-700 folder")
			require.Contains(t, summary, "local cluster in "+env.pg.Dir+", as the postgres user cannot reach "+env.pg.Requested)
			pgDir := env.pg.Dir
			t.Cleanup(func() { _ = os.RemoveAll(pgDir) })
		} else {
			require.Equal(t, env.pg.Requested, env.pg.Dir)
		}
	}
	for _, want := range []string{env.UIURL, "psql '" + env.DatabaseURL + "'", env.TemporalAddress, env.FakeAPIURL, DemoTenantID} {
		require.Contains(t, summary, want)
	}

	// Temporal Web answers, and its API reaches the server.
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get(env.UIURL + "/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, strings.ToLower(body), "<html")
	code, body = get(env.UIURL + "/api/v1/namespaces/default")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"default"`)

	// The printed link opens the web UI signed in as the operator, once.
	require.Contains(t, summary, env.SignInURL)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Jar: jar}).Get(env.SignInURL)
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", page)
	require.Equal(t, "/ui/integrations", resp.Request.URL.Path, "the code leaves the address bar")
	require.Contains(t, string(page), "signed in as operator")
	require.Contains(t, string(page), DemoTenantID)
	code, _ = get(env.SignInURL)
	require.Equal(t, http.StatusUnauthorized, code, "the link signs in once")

	// The first onboarding workflow, to find after the restart.
	var wfID, wfRunID string
	require.NoError(t, d.store.Pool().QueryRow(ctx, `SELECT "workflowId", "workflowRunId" FROM "integrationRuns"
		WHERE "tenantId" = $1 ORDER BY "createdAt" LIMIT 1`, DemoTenantID).Scan(&wfID, &wfRunID))
	uiURL := env.UIURL

	d.stop()
	_, err = http.Get(uiURL + "/")
	require.Error(t, err, "Temporal Web still answers after Stop")

	// Second start on the same folder, on the same ports.
	opts.TemporalPort, opts.UIPort, opts.APIPort, opts.WebPort = env.opts.TemporalPort, env.opts.UIPort, env.opts.APIPort, env.opts.WebPort
	d = startDev(t, ctx, opts, cfg)
	if cfg.DatabaseURL == "" {
		require.Equal(t, env.DatabaseURL, d.env.DatabaseURL, "the local cluster's URL changed between starts")
		require.Equal(t, env.pg.Dir, d.env.pg.Dir, "the second start found another cluster")
	}
	desc, err := d.client.DescribeWorkflowExecution(ctx, wfID, wfRunID)
	require.NoError(t, err, "the first start's workflow is gone from Temporal")
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, desc.GetWorkflowExecutionInfo().GetStatus())

	d.waitRuns(t, 2*len(platforms))
	require.Equal(t, len(platforms), d.count(t, `SELECT count(*) FROM integrations WHERE "tenantId" = $1`, DemoTenantID),
		"the second start connected the demo again")
	require.Equal(t, len(platforms), d.count(t, `SELECT count(*) FROM "integrationRuns" WHERE "tenantId" = $1 AND NOT onboarding`, DemoTenantID))
	require.Equal(t, members, d.count(t, `SELECT count(*) FROM members WHERE "tenantId" = $1`, DemoTenantID))
	require.Equal(t, activityCount, d.count(t, `SELECT count(*) FROM activities WHERE "tenantId" = $1`, DemoTenantID))
	d.stop()
}
