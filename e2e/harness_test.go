package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/devmode"
	"github.com/crowdflow/crowdflow/internal/pgtest"
	"github.com/crowdflow/crowdflow/internal/secrets"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	serverOnce sync.Once
	server     *temporaltest.TestServer
	queueSeq   atomic.Int64
)

// quietLogger keeps the SDK's logs to warnings, on stderr.
func quietLogger() tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
}

// temporalServer is one in-process Temporal server for the package's
// tests; each test has its own task queue and database.
func temporalServer() *temporaltest.TestServer {
	serverOnce.Do(func() {
		server = temporaltest.NewServer(temporaltest.WithBaseClientOptions(client.Options{Logger: quietLogger()}),
			temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(devmode.DynamicConfig())))
		if err := workflows.EnsureSearchAttributes(context.Background(), server.GetDefaultClient(), server.GetDefaultNamespace()); err != nil {
			panic(err)
		}
	})
	return server
}

// env is one test's world: a database, a worker on its own task queue with
// the given services, and a controller as the starter and the API use it.
type env struct {
	t      testing.TB
	dbURL  string
	store  *store.Store
	key    string // ENCRYPTION_KEY of the store and the starters run
	ctl    *control.Controller
	worker worker.Worker
	queue  string
	reg    *registry.Registry
	run    *workflows.Run
	ints   []interceptor.WorkerInterceptor
	// dial makes the worker's and the controller's Temporal client (nil:
	// the shared test server's default client).
	dial   func(e *env) client.Client
	client client.Client
	ring   *secrets.Keyring
}

type option func(*env)

// withClient runs the worker and the controller on the client dial makes
// (another server, TLS, a data converter), given the env's key ring.
func withClient(dial func(e *env) client.Client) option {
	return func(e *env) { e.dial = dial }
}

// withInterceptor adds a worker interceptor (to simulate crashes).
func withInterceptor(i interceptor.WorkerInterceptor) option {
	return func(e *env) { e.ints = append(e.ints, i) }
}

func newEnv(t testing.TB, services []integrations.Service, opts ...option) *env {
	t.Helper()
	ts := temporalServer()
	dbURL := pgtest.NewDatabase(t)
	st, err := store.Open(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	// Each test its own key, shared with the starter it runs.
	key, err := secrets.NewKey()
	require.NoError(t, err)
	raw, err := secrets.ParseKey(key)
	require.NoError(t, err)
	ring, err := secrets.NewKeyring(raw)
	require.NoError(t, err)
	st.SetKeyring(ring)
	e := &env{t: t, dbURL: dbURL, store: st, key: key, ring: ring, reg: registry.New(services...), queue: fmt.Sprintf("e2e-%d", queueSeq.Add(1))}
	e.run = workflows.DefaultRun()
	// Short backoff and five attempts keep retry tests fast; the outage
	// tests (outage_test.go) use the production attempts, scaled down.
	e.run.StreamRetry.InitialInterval = 100 * time.Millisecond
	e.run.StreamRetry.MaximumInterval = time.Second
	e.run.StreamRetry.MaximumAttempts = 5
	e.run.InterruptedRetry = 100 * time.Millisecond
	e.run.InterruptedRetryMax = time.Second
	for _, o := range opts {
		o(e)
	}
	// A worker that dies is noticed within three seconds. (One second was
	// too close: with `go test ./...` loading both cores and several
	// streams in flight, a live step's heartbeat could come late, and
	// Temporal ran the step again beside it: harmless to the rows, but a
	// second request the fakes' exact counts saw.)
	e.run.HeartbeatTimeout = 3 * time.Second
	e.client = ts.GetDefaultClient()
	if e.dial != nil {
		e.client = e.dial(e)
	}
	e.startWorker()
	t.Cleanup(func() { e.worker.Stop() })
	e.ctl = &control.Controller{Store: st, Temporal: e.client, Registry: e.reg, TaskQueue: e.queue}
	return e
}

// startWorker starts a worker on the env's task queue, as a new worker
// process would after a crash.
func (e *env) startWorker() {
	e.worker = e.newWorker(worker.Options{Interceptors: e.ints})
}

// newWorker starts a worker on the env's task queue with the given options
// (on the env's own client when withClient gave one).
func (e *env) newWorker(opts worker.Options) worker.Worker {
	register := func(r worker.Registry) {
		e.run.Register(r, &activities.Activities{
			Store: e.store, Registry: e.reg, HeartbeatInterval: 100 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		})
	}
	if e.dial == nil {
		return temporalServer().NewWorkerWithOptions(e.queue, register, opts)
	}
	w := worker.New(e.client, e.queue, opts)
	register(w)
	require.NoError(e.t, w.Start())
	return w
}

// connect connects an integration and waits for its onboarding to end.
func (e *env) connect(platform, settings, token string) (control.Started, string) {
	e.t.Helper()
	started, err := e.ctl.Connect(context.Background(), control.ConnectInput{
		TenantID: "8f9a3d2e-0c1b-4a5d-9e6f-7a8b9c0d1e2f", Platform: platform, Settings: []byte(settings), Token: token,
	})
	require.NoError(e.t, err)
	return started, e.wait(started)
}

// start starts a run and waits for it to end.
func (e *env) start(integrationID string, onboarding bool) (control.Started, string) {
	e.t.Helper()
	started, err := e.ctl.StartRun(context.Background(), integrationID, onboarding)
	require.NoError(e.t, err)
	return started, e.wait(started)
}

func (e *env) wait(s control.Started) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	state, err := e.ctl.Wait(ctx, s, nil)
	require.NoError(e.t, err)
	return state
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.store.Pool().QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func (e *env) strings(sql string, args ...any) []string {
	e.t.Helper()
	rows, err := e.store.Pool().Query(context.Background(), sql, args...)
	require.NoError(e.t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(e.t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(e.t, rows.Err())
	return out
}

// snapshot renders the stored members and activities without the ids and
// times that differ between databases, to compare two runs' rows.
func (e *env) snapshot() string {
	e.t.Helper()
	rows := e.strings(`SELECT concat_ws('|', a.platform, a.type, a."sourceId", coalesce(a."sourceParentId", ''),
			a.timestamp::text, a.username, coalesce(a.channel, ''), coalesce(a.title, ''), coalesce(a.body, ''),
			coalesce(a.url, ''), a.attributes::text, a.score, a."isContribution", (a."parentId" IS NOT NULL),
			m."displayName", m.emails::text, m.attributes::text, m."joinedAt"::text)
		FROM activities a JOIN members m ON m.id = a."memberId" ORDER BY 1`)
	members := e.strings(`SELECT concat_ws('|', i.platform, i.username, coalesce(i."sourceId", ''), m."displayName",
			m.emails::text, m.attributes::text, m."joinedAt"::text)
		FROM "memberIdentities" i JOIN members m ON m.id = i."memberId" ORDER BY 1`)
	return strings.Join(rows, "\n") + "\n--\n" + strings.Join(members, "\n")
}

var (
	starterOnce sync.Once
	starterBin  string
	starterErr  error
)

// starter builds the starter command once, to run it as a user would.
func starter(t testing.TB) string {
	t.Helper()
	starterOnce.Do(func() {
		dir, err := os.MkdirTemp("", "starter-bin-")
		if err != nil {
			starterErr = err
			return
		}
		starterBin = filepath.Join(dir, "starter")
		out, err := exec.Command("go", "build", "-o", starterBin, "github.com/crowdflow/crowdflow/starter").CombinedOutput()
		if err != nil {
			starterErr = fmt.Errorf("build starter: %v\n%s", err, out)
		}
	})
	require.NoError(t, starterErr)
	return starterBin
}

// runStarter runs the starter with the env's database and Temporal.
func (e *env) runStarter(extraEnv []string, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	cmd := exec.Command(starter(e.t), args...)
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+e.dbURL,
		"TEMPORAL_ADDRESS="+temporalServer().GetFrontendHostPort(),
		"TEMPORAL_NAMESPACE="+temporalServer().GetDefaultNamespace(),
		"TEMPORAL_TASK_QUEUE="+e.queue,
		"ENCRYPTION_KEY="+e.key,
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(e.t, err)
	}
	return out.String(), errOut.String(), code
}

// activityKeys lists the stored activities as type|sourceId|sourceParentId|username|channel,
// sorted.
func (e *env) activityKeys() []string {
	return sorted(e.strings(`SELECT concat_ws('|', type, "sourceId", coalesce("sourceParentId", ''), username, coalesce(channel, ''))
		FROM activities`))
}

// runHistory is what one workflow execution's history shows of the run's
// waits.
type runHistory struct {
	// Timers counts the TIMER_STARTED events.
	Timers int
	// Delays are the reasons of the waits (the DelayRun activities' inputs).
	Delays []string
	// Retries counts the activity attempts after the first.
	Retries int
}

func (e *env) history(s control.Started) runHistory {
	e.t.Helper()
	var h runHistory
	it := e.ctl.Temporal.GetWorkflowHistory(context.Background(), s.WorkflowID, s.WorkflowRunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(e.t, err)
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			h.Timers++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if ev.GetActivityTaskStartedEventAttributes().GetAttempt() > 1 {
				h.Retries++
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			attrs := ev.GetActivityTaskScheduledEventAttributes()
			if attrs.GetActivityType().GetName() == "ProcessStream" {
				// A stream whose page failed in a slot is retried in a
				// step of its own.
				var in activities.ProcessStreamInput
				require.NoError(e.t, converter.GetDefaultDataConverter().FromPayloads(attrs.GetInput(), &in))
				if in.AttemptsBefore > 0 {
					h.Retries++
				}
			}
			if attrs.GetActivityType().GetName() != "DelayRun" {
				continue
			}
			var in activities.DelayRunInput
			require.NoError(e.t, converter.GetDefaultDataConverter().FromPayloads(attrs.GetInput(), &in))
			h.Delays = append(h.Delays, in.Delay.Reason)
		}
	}
	return h
}

// watchDelays polls the runs until stop is called, and stop returns the
// reasons of the delays it saw, as the run rows showed them: state
// delayed, with a delayedUntil in the future.
func (e *env) watchDelays() (stop func() []string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []string)
	go func() {
		var seen []string
		for ctx.Err() == nil {
			rows, err := e.store.Pool().Query(ctx, `SELECT "delayReason" FROM "integrationRuns"
				WHERE state = 'delayed' AND "delayedUntil" > now()`)
			if err == nil {
				for rows.Next() {
					var r string
					if rows.Scan(&r) == nil && !slices.Contains(seen, r) {
						seen = append(seen, r)
					}
				}
				rows.Close()
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		done <- seen
	}()
	return func() []string {
		cancel()
		return <-done
	}
}

// sorted sorts xs in byte order (the database's collation may differ).
func sorted(xs []string) []string {
	slices.Sort(xs)
	return xs
}

// without returns the lines of b that are not in a.
func without(b, a []string) []string {
	var out []string
	for _, l := range b {
		if !slices.Contains(a, l) {
			out = append(out, l)
		}
	}
	return out
}

// checkAddsNothing runs a check on data that has not changed: it must end
// processed and leave every stored row as it was.
func (e *env) checkAddsNothing(integrationID string) {
	e.t.Helper()
	before := e.snapshot()
	_, state := e.start(integrationID, false)
	require.Equal(e.t, store.RunProcessed, state)
	assert.Equal(e.t, before, e.snapshot(), "a check with nothing new adds nothing")
}
