package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"

	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
)

// The integration's status is set by the run itself, in its first
// activity, so it is ordered before the run's own end. Before, the
// starter set in-progress after the start, and a fast run's done could be
// overwritten by it (the integration then stayed in-progress, skipped by
// the checks). Seen from outside: the start alone changes nothing; the
// run moves the status to in-progress and then to done.
func TestOnboardingStatusIsSetByTheRun(t *testing.T) {
	e := newEnv(t, []integrations.Service{testservice.New(engineScript())})
	ctx := context.Background()
	first := e.connectNoWait("")
	require.Equal(t, store.RunProcessed, e.wait(first))
	require.Equal(t, store.StatusDone, e.integrationStatus(first.IntegrationID))

	e.worker.Stop() // nothing runs the next start for now
	again, err := e.ctl.StartRun(ctx, first.IntegrationID, true)
	require.NoError(t, err)
	assert.Equal(t, store.StatusDone, e.integrationStatus(first.IntegrationID), "the starter does not write the status")
	e.startWorker()
	require.Equal(t, store.RunProcessed, e.wait(again))
	assert.Equal(t, store.StatusDone, e.integrationStatus(first.IntegrationID))
}

// continue-run resets nothing before its execution has started: the reset
// is the new execution's first activity. Before, the run and its failed
// streams were reset first, and a continue-run refused because another run
// had started meanwhile left an orphaned pending run.
func TestContinueRunResetsOnlyOnceStarted(t *testing.T) {
	script := engineScript()
	script.FailTimes = map[string]int{"b": -1}
	svc := testservice.New(script)
	e := newEnv(t, []integrations.Service{svc})
	started := e.connectNoWait("")
	require.Equal(t, store.RunError, e.wait(started))

	e.worker.Stop()
	svc.SetFailTimes("b", 0)
	cont, err := e.ctl.ContinueRun(context.Background(), started.RunID)
	require.NoError(t, err)
	state, _, _ := e.runRow(started.RunID)
	assert.Equal(t, store.RunError, state, "not reset by the starter")
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM "integrationStreams" WHERE state = 'error'`))

	e.startWorker()
	require.Equal(t, store.RunProcessed, e.wait(cont))
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM "integrationStreams" WHERE state <> 'processed'`))
	assert.Equal(t, store.StatusDone, e.integrationStatus(started.IntegrationID))
}

// A database error after the onboarding started must not make connect
// remove the integration whose run is going on. The starter's own insert
// of the run row fails here (a trigger refuses it); the workflow inserts
// the row itself.
func TestConnectKeepsAnIntegrationWhoseOnboardingStarted(t *testing.T) {
	e := newEnv(t, []integrations.Service{testservice.New(engineScript())})
	ctx := context.Background()
	_, err := e.store.Pool().Exec(ctx, `
		CREATE FUNCTION refuse_pending_run() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'database hiccup'; END $$;
		CREATE TRIGGER refuse_pending_run BEFORE INSERT ON "integrationRuns"
			FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION refuse_pending_run();`)
	require.NoError(t, err)

	started, err := e.ctl.Connect(ctx, control.ConnectInput{TenantID: endingsTenant, Platform: testservice.Platform})
	require.NoError(t, err)
	require.Equal(t, store.RunProcessed, e.wait(started))
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM integrations`))
	assert.Equal(t, store.StatusDone, e.integrationStatus(started.IntegrationID))
	assert.Equal(t, 20, e.count(`SELECT count(*) FROM activities`))
}

// A duplicate connect returns the existing integration instead of a second
// one: the same tenant, platform and identifier, or an API client retrying
// with the same Idempotency-Key; also when both race each other.
func TestDuplicateConnectReturnsTheExistingIntegration(t *testing.T) {
	e := newEnv(t, []integrations.Service{testservice.New(engineScript())})
	ctx := context.Background()
	connect := func(identifier, key string) (control.Started, error) {
		return e.ctl.Connect(ctx, control.ConnectInput{
			TenantID: endingsTenant, Platform: testservice.Platform, Identifier: identifier, IdempotencyKey: key,
		})
	}

	first, err := connect("workspace-1", "")
	require.NoError(t, err)
	require.False(t, first.Existing)
	require.Equal(t, store.RunProcessed, e.wait(first))
	again, err := connect("workspace-1", "")
	require.NoError(t, err)
	assert.True(t, again.Existing)
	assert.Equal(t, first.IntegrationID, again.IntegrationID)
	assert.Equal(t, first.RunID, again.RunID, "its onboarding run, not a new one")

	keyed, err := connect("", "request-42")
	require.NoError(t, err)
	retried, err := connect("", "request-42")
	require.NoError(t, err)
	assert.True(t, retried.Existing)
	assert.Equal(t, keyed.IntegrationID, retried.IntegrationID)
	require.Equal(t, store.RunProcessed, e.wait(keyed))

	// Two connects of the same identifier at once: one integration.
	var wg sync.WaitGroup
	results := make([]control.Started, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = connect("workspace-2", "")
		}()
	}
	wg.Wait()
	created := 0
	for i := range results {
		require.NoError(t, errs[i])
		assert.Equal(t, results[0].IntegrationID, results[i].IntegrationID)
		if !results[i].Existing {
			created++
			require.Equal(t, store.RunProcessed, e.wait(results[i]))
		}
	}
	assert.Equal(t, 1, created)
	assert.Equal(t, 3, e.count(`SELECT count(*) FROM integrations`))
	assert.Equal(t, 3, e.count(`SELECT count(*) FROM "integrationRuns"`), "one onboarding each, never a second")

	// A key sent again for another integration is the client's bug.
	_, err = connect("workspace-3", "request-42")
	var bad *control.BadInputError
	require.ErrorAs(t, err, &bad)
	assert.Equal(t, 3, e.count(`SELECT count(*) FROM integrations`))
}

// continue-run works from the pipeline data its run was started with: it
// does not preprocess again, so what appeared meanwhile (a channel joined,
// here root "e") is neither fetched by this run nor marked as seen by its
// postprocess; the next run finds it new. Before, continue-run preprocessed
// again, overwrote the pipeline data, and postprocess marked "e" as seen
// although no stream of it ever ran.
func TestContinueRunKeepsItsPipelineData(t *testing.T) {
	script := engineScript()
	script.FailTimes = map[string]int{"b": -1}
	script.Pages["e"] = []testservice.Page{{Records: 1, Newest: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}}
	svc := testservice.New(script)
	e := newEnv(t, []integrations.Service{svc})
	started := e.connectNoWait("")
	require.Equal(t, store.RunError, e.wait(started))
	assert.JSONEq(t, `{"unfinished": ["b"], "seen": ["a", "c"]}`, e.strings(`SELECT settings::text FROM integrations`)[0])

	svc.SetRoots("a", "b", "c", "e") // appeared after the run started
	svc.SetFailTimes("b", 0)
	before := len(svc.Calls())
	cont, err := e.ctl.ContinueRun(context.Background(), started.RunID)
	require.NoError(t, err)
	require.Equal(t, store.RunProcessed, e.wait(cont))
	assert.Equal(t, 1, svc.Preprocessed(), "the continued run keeps its pipeline data")
	assert.Equal(t, []string{"b#0"}, svc.Calls()[before:])
	assert.JSONEq(t, `{"unfinished": [], "seen": ["a", "b", "c"]}`, e.strings(`SELECT settings::text FROM integrations`)[0],
		"e was never fetched, so it is not marked as seen")

	// The next run sees e as new and fetches it.
	_, state := e.start(started.IntegrationID, false)
	require.Equal(t, store.RunProcessed, state)
	assert.Contains(t, svc.Calls(), "e#0")
}

// Over HTTP: a client that retries its connect with the same
// Idempotency-Key gets 200 and the integration its first request made.
func TestAPIConnectWithIdempotencyKey(t *testing.T) {
	e := newEnv(t, []integrations.Service{testservice.New(engineScript())})
	h, err := api.Handler(api.Options{Controller: e.ctl, Token: apiToken, Namespace: temporalServer().GetDefaultNamespace(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	post := func(key string) (int, map[string]any) {
		req, err := http.NewRequest("POST", srv.URL+"/api/v1/tenants/"+apiTenant+"/integrations",
			strings.NewReader(`{"platform": "`+testservice.Platform+`", "settings": {}}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		return res.StatusCode, body
	}
	status, first := post("retry-me")
	require.Equal(t, http.StatusCreated, status, first)
	status, again := post("retry-me")
	require.Equal(t, http.StatusOK, status, again)
	assert.Equal(t, first["integrationId"], again["integrationId"])
	assert.Equal(t, true, again["existing"])
	status, other := post("another-request")
	require.Equal(t, http.StatusCreated, status, other)
	assert.NotEqual(t, first["integrationId"], other["integrationId"])
	assert.Equal(t, 2, e.count(`SELECT count(*) FROM integrations`))
}

// slowClose holds FinishRun's completion back after it committed, so the
// run's row is final while its execution is still open: the window in
// which a start right after a run ended used to be refused.
type slowClose struct {
	interceptor.WorkerInterceptorBase
	hold time.Duration
}

func (s *slowClose) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &slowCloseActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, hold: s.hold}
}

type slowCloseActivity struct {
	interceptor.ActivityInboundInterceptorBase
	hold time.Duration
}

func (a *slowCloseActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := a.Next.ExecuteActivity(ctx, in)
	if activity.GetInfo(ctx).ActivityType.Name == "FinishRun" {
		time.Sleep(a.hold)
	}
	return res, err
}

// A check started once the onboarding's row says processed, while its
// execution is still closing, waits for the close and starts: it is not
// refused as "already running" (seen as a 409 from the API in the window
// between the run's last activity and the workflow's completion).
func TestStartRightAfterARunEndedIsNotRefused(t *testing.T) {
	e := newEnv(t, []integrations.Service{testservice.New(engineScript())}, withInterceptor(&slowClose{hold: 2 * time.Second}))
	ctx := context.Background()
	first := e.connectNoWait("")
	deadline := time.Now().Add(time.Minute)
	for {
		run, err := e.store.GetRun(ctx, first.RunID)
		require.NoError(t, err)
		if run.State == store.RunProcessed {
			break
		}
		require.True(t, time.Now().Before(deadline), "onboarding never processed: %s", run.State)
		time.Sleep(20 * time.Millisecond)
	}
	desc, err := e.ctl.Temporal.DescribeWorkflowExecution(ctx, first.WorkflowID, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus(),
		"the window this test is about: the row is final, the execution still open")

	check, err := e.ctl.StartRun(ctx, first.IntegrationID, false)
	require.NoError(t, err, "a start after the run ended is not refused")
	assert.NotEqual(t, first.RunID, check.RunID)
	assert.Equal(t, store.RunProcessed, e.wait(check))
}
