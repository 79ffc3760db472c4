package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/pgtest"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// harness runs the real workflow with the real activities on a real
// database; only Temporal is the SDK's test environment (timers skip ahead).
type harness struct {
	t      *testing.T
	env    *testsuite.TestWorkflowEnvironment
	store  *store.Store
	svc    *testservice.Service
	in     workflows.RunInput
	delays []activities.Delay
}

func newHarness(t *testing.T, script testservice.Script, onboarding bool, tune func(*workflows.Run)) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(st.Close)
	tenant := uuid.NewString()
	integ, err := st.CreateIntegration(ctx, store.NewIntegration{TenantID: tenant, Platform: testservice.Platform, Status: store.StatusInProgress})
	require.NoError(t, err)

	h := &harness{t: t, store: st, svc: testservice.New(script)}
	h.env = newEnv()
	run := workflows.DefaultRun()
	if tune != nil {
		tune(run)
	}
	run.Register(h.env, &activities.Activities{Store: st, Registry: registry.New(h.svc)})
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		if info.ActivityType.Name == "DelayRun" {
			var in activities.DelayRunInput
			require.NoError(t, args.Get(&in))
			h.delays = append(h.delays, in.Delay)
		}
	})
	h.in = workflows.RunInput{RunID: uuid.NewString(), IntegrationID: integ, TenantID: tenant, Platform: testservice.Platform, Onboarding: onboarding}
	return h
}

func (h *harness) execute() (*workflows.RunResult, error) {
	h.env.ExecuteWorkflow(workflows.RunWorkflowName, h.in)
	require.True(h.t, h.env.IsWorkflowCompleted())
	var res workflows.RunResult
	err := h.env.GetWorkflowError()
	if err == nil {
		require.NoError(h.t, h.env.GetWorkflowResult(&res))
	}
	return &res, err
}

func (h *harness) run() *store.Run {
	r, err := h.store.GetRun(context.Background(), h.in.RunID)
	require.NoError(h.t, err)
	return r
}

func (h *harness) integrationStatus() string {
	i, err := h.store.GetIntegration(context.Background(), h.in.IntegrationID)
	require.NoError(h.t, err)
	return i.Status
}

func (h *harness) count(sql string, args ...any) int {
	var n int
	require.NoError(h.t, h.store.Pool().QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// newEnv is a test environment that logs warnings and errors only.
func newEnv() *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	return suite.NewTestWorkflowEnvironment()
}

var now = time.Now().UTC().Truncate(time.Second)

func pages(records ...int) []testservice.Page {
	var out []testservice.Page
	for i, r := range records {
		out = append(out, testservice.Page{Records: r, Newest: now.Add(-time.Duration(i) * time.Hour)})
	}
	return out
}

func TestRunProcessesEveryStreamFIFO(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots: []string{"a", "b"},
		Pages: map[string][]testservice.Page{
			"a": {{Records: 3, Newest: now, NewStreams: []string{"c"}}, {Records: 2, Newest: now}},
			"b": pages(4),
			"c": pages(1),
		},
	}, true, nil)
	res, err := h.execute()
	require.NoError(t, err)
	assert.Equal(t, store.RunProcessed, res.State)
	// Breadth-first: a's new stream c and its next page queue behind b.
	assert.Equal(t, []string{"a#0", "b#0", "c#0", "a#1"}, h.svc.Calls())
	assert.Equal(t, 10, h.count(`SELECT count(*) FROM activities`))
	assert.Equal(t, 7, h.count(`SELECT count(*) FROM members`), "three users per stream, deduplicated by username")
	assert.Equal(t, 4, h.count(`SELECT count(*) FROM "integrationStreams" WHERE state = 'processed'`))
	assert.Equal(t, 1, h.count(`SELECT count(*) FROM "memberAttributeSettings" WHERE name = 'url'`))
	run := h.run()
	assert.Equal(t, store.RunProcessed, run.State)
	assert.Equal(t, int64(10), run.RecordsWritten)
	assert.NotNil(t, run.ProcessedAt)
	assert.Equal(t, store.StatusDone, h.integrationStatus())
	assert.Equal(t, workflows.Progress{Step: "finish", StreamsProcessed: 4, Records: 10}, res.Progress)

	i, err := h.store.GetIntegration(context.Background(), h.in.IntegrationID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"unfinished": [], "seen": ["a", "b"]}`, string(i.Settings), "postprocess saved its settings")
}

func TestStreamRetriesThenFailsAlone(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots:     []string{"flaky", "broken", "fine"},
		Pages:     map[string][]testservice.Page{"flaky": pages(2), "broken": pages(2), "fine": pages(2)},
		FailTimes: map[string]int{"flaky": 2, "broken": -1},
	}, true, nil)
	res, err := h.execute()
	require.Error(t, err, "a run with a failed stream ends in error")
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	assert.Equal(t, "RunFailed", appErr.Type())
	assert.Nil(t, res.Progress.Sleeping)

	assert.Equal(t, 3, h.svc.Attempts("flaky#0"), "two failures, then success")
	attempts := int(workflows.DefaultRun().StreamRetry.MaximumAttempts)
	assert.Equal(t, attempts, h.svc.Attempts("broken#0"), "every attempt of the policy")
	assert.Equal(t, 1, h.svc.Attempts("fine#0"))
	assert.Equal(t, 4, h.count(`SELECT count(*) FROM activities`), "the other streams' records are stored")

	var state string
	var retries int
	var errJSON []byte
	require.NoError(t, h.store.Pool().QueryRow(context.Background(),
		`SELECT state, retries, error FROM "integrationStreams" WHERE name = 'broken'`).Scan(&state, &retries, &errJSON))
	assert.Equal(t, store.StreamError, state)
	assert.Equal(t, attempts, retries)
	var failure store.Failure
	require.NoError(t, json.Unmarshal(errJSON, &failure))
	assert.Contains(t, failure.Message, "GET /broken: 500")
	assert.Equal(t, "broken", failure.Stream)

	assert.Equal(t, store.RunError, h.run().State)
	assert.Equal(t, store.StatusError, h.integrationStatus(), "a failed onboarding marks the integration error")
	i, err := h.store.GetIntegration(context.Background(), h.in.IntegrationID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"unfinished": ["broken"], "seen": ["flaky", "fine"]}`, string(i.Settings), "postprocess learns which streams did not finish")
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots: []string{"revoked"}, Pages: map[string][]testservice.Page{"revoked": pages(1)},
		PermanentFail: map[string]bool{"revoked": true},
	}, false, nil)
	_, err := h.execute()
	require.Error(t, err)
	assert.Equal(t, 1, h.svc.Attempts("revoked#0"))
	assert.Equal(t, store.RunError, h.run().State)
	assert.Equal(t, store.StatusInProgress, h.integrationStatus(), "a failed check leaves the status alone")
}

func TestSleepAndRateLimitAreDurableTimers(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots:         []string{"sleepy", "limited", "last"},
		Pages:         map[string][]testservice.Page{"sleepy": pages(1), "limited": pages(2), "last": pages(1)},
		SleepAfter:    map[string]time.Duration{"sleepy": 30 * time.Minute},
		RateLimitOnce: map[string]time.Duration{"limited": time.Hour},
	}, true, nil)
	start := h.env.Now()
	res, err := h.execute()
	require.NoError(t, err)
	assert.Equal(t, store.RunProcessed, res.State)

	require.Len(t, h.delays, 2)
	assert.Contains(t, h.delays[0].Reason, "sleepy asked to sleep 30m")
	assert.Contains(t, h.delays[1].Reason, "stream limited rate limited: GET /limited")
	assert.GreaterOrEqual(t, h.env.Now().Sub(start), 30*time.Minute, "the sleep was slept on a timer")
	assert.False(t, h.env.Now().Before(h.delays[1].Until), "the run waited until the rate limit ended")
	// The stream was retried after the wait without spending an attempt.
	assert.Equal(t, 2, h.svc.Attempts("limited#0"))
	assert.Equal(t, 0, h.count(`SELECT coalesce(max(retries), 0) FROM "integrationStreams"`))
	// FIFO is kept: the rate-limited stream runs again before "last".
	assert.Equal(t, []string{"sleepy#0", "limited#0", "last#0"}, h.svc.Calls())
	assert.Equal(t, 4, h.count(`SELECT count(*) FROM activities`))
	run := h.run()
	assert.Equal(t, store.RunProcessed, run.State)
	assert.Nil(t, run.DelayedUntil)
}

func TestRunIsDelayedWhileItSleeps(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots: []string{"sleepy"}, Pages: map[string][]testservice.Page{"sleepy": pages(1)},
		SleepAfter: map[string]time.Duration{"sleepy": time.Hour},
	}, true, nil)
	var seen *store.Run
	h.env.RegisterDelayedCallback(func() { seen = h.run() }, 30*time.Minute)
	_, err := h.execute()
	require.NoError(t, err)
	require.NotNil(t, seen)
	assert.Equal(t, store.RunDelayed, seen.State)
	require.NotNil(t, seen.DelayedUntil)
	assert.Contains(t, seen.DelayReason, "asked to sleep")
}

func TestGlobalLimitDelaysTheRun(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots:  []string{"a", "b"},
		Pages:  map[string][]testservice.Page{"a": pages(3), "b": pages(3)},
		Config: integrations.Config{GlobalLimit: 2, LimitResetFrequency: 24 * time.Hour, OnboardingLimitModifierFactor: 1.5},
	}, true, nil)
	// The window is measured by the database clock, which the test
	// environment's timers do not move: when the run goes to sleep, move
	// the window's start back as a day passing would.
	h.env.SetOnTimerScheduledListener(func(timerID string, d time.Duration) {
		_, err := h.store.Pool().Exec(context.Background(), `UPDATE integrations SET "limitLastResetAt" = "limitLastResetAt" - $1::interval`, d)
		require.NoError(t, err)
	})
	_, err := h.execute()
	require.NoError(t, err)
	// Onboarding limit 2 x 1.5 = 3: stream a uses it up and the run waits
	// a day before stream b.
	require.Len(t, h.delays, 1)
	assert.Equal(t, "global limit reached", h.delays[0].Reason)
	assert.Equal(t, []string{"a#0", "b#0"}, h.svc.Calls())
	assert.Equal(t, 6, h.count(`SELECT count(*) FROM activities`))
	assert.Equal(t, 3, h.count(`SELECT "limitCount" FROM integrations`), "the counter is persisted on the integration")
}

func TestCheckRunStopsEarly(t *testing.T) {
	script := testservice.Script{
		Roots:       []string{"channel"},
		Pages:       map[string][]testservice.Page{"channel": pages(2, 2, 2, 2, 2)}, // pages an hour apart
		CheckWindow: 90 * time.Minute,
	}
	check := newHarness(t, script, false, nil)
	_, err := check.execute()
	require.NoError(t, err)
	// Page k's oldest record is k hours and a minute old: page 2 is the
	// first to reach past the 90-minute window, so page 3 is never fetched.
	assert.Equal(t, []string{"channel#0", "channel#1", "channel#2"}, check.svc.Calls())

	onboarding := newHarness(t, script, true, nil)
	_, err = onboarding.execute()
	require.NoError(t, err)
	assert.Len(t, onboarding.svc.Calls(), 5, "onboarding follows every page")
}

func TestPreprocessFailureEndsRunInError(t *testing.T) {
	h := newHarness(t, testservice.Script{Roots: []string{"a"}, PreprocessFails: true}, true, nil)
	_, err := h.execute()
	require.Error(t, err)
	run := h.run()
	assert.Equal(t, store.RunError, run.State)
	var failure store.Failure
	require.NoError(t, json.Unmarshal(run.Error, &failure))
	assert.Equal(t, "preprocessing", failure.ErrorPoint)
	assert.Contains(t, failure.Message, "GET /me: 500")
	assert.Equal(t, 0, h.count(`SELECT count(*) FROM "integrationStreams"`), "getStreams never ran")
	assert.Equal(t, store.StatusError, h.integrationStatus())
}

func TestContinuesAsNewCarryingOnlyCounters(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots: []string{"a", "b", "c"},
		Pages: map[string][]testservice.Page{"a": pages(1), "b": pages(1), "c": pages(1)},
	}, true, func(r *workflows.Run) { r.MaxStreamsPerExecution, r.SlotStepFor = 2, 0 }) // a stream per step
	_, err := h.execute()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "expected continue-as-new, got %v", err)
	var next workflows.RunInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	assert.True(t, next.Continued)
	assert.Equal(t, h.in.RunID, next.RunID)
	assert.Equal(t, 2, next.Progress.StreamsProcessed)

	// The next execution picks the queue up from the database.
	env := newEnv()
	workflows.DefaultRun().Register(env, &activities.Activities{Store: h.store, Registry: registry.New(h.svc)})
	env.OnActivity("GetStreams", mock.Anything, mock.Anything).Panic("a continued run must not list its streams again")
	env.ExecuteWorkflow(workflows.RunWorkflowName, next)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.RunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, store.RunProcessed, res.State)
	assert.Equal(t, 3, res.Progress.StreamsProcessed)
	assert.Equal(t, []string{"a#0", "b#0", "c#0"}, h.svc.Calls())
}

// With streams in flight, each stream is processed once and the rows and
// counters are exact. (Claims in queue order: store's
// TestClaimNeverTakesAStreamTwice; the calls of two slots may interleave.)
func TestSlotsProcessEveryStreamOnce(t *testing.T) {
	for _, slots := range []int{2, 3, 8} {
		t.Run(fmt.Sprintf("%d slots", slots), func(t *testing.T) {
			h := newHarness(t, testservice.Script{
				Roots: []string{"a", "b"},
				Pages: map[string][]testservice.Page{
					"a": {{Records: 3, Newest: now, NewStreams: []string{"c"}}, {Records: 2, Newest: now}},
					"b": pages(4),
					"c": pages(1),
				},
				Config: integrations.Config{ParallelStreams: slots},
			}, true, nil)
			res, err := h.execute()
			require.NoError(t, err)
			assert.Equal(t, store.RunProcessed, res.State)
			assert.ElementsMatch(t, []string{"a#0", "b#0", "c#0", "a#1"}, h.svc.Calls())
			assert.Equal(t, 10, h.count(`SELECT count(*) FROM activities`))
			assert.Equal(t, int64(10), h.run().RecordsWritten)
			assert.Equal(t, 0, h.count(`SELECT count(*) FROM "integrationStreams" WHERE state <> 'processed'`))
			assert.Equal(t, workflows.Progress{Step: "finish", StreamsProcessed: 4, Records: 10}, res.Progress)
		})
	}
}
