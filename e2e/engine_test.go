package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
)

// lostCompletion makes the first attempt of every step that stored a page
// (a slot's ProcessStreams, a stream's own ProcessStream) fail after the
// activity committed, as a worker that dies between its commit and its
// report to Temporal would: Temporal runs the activity a second time.
type lostCompletion struct {
	interceptor.WorkerInterceptorBase
	lost atomic.Int64
	seen map[string]bool
}

func (l *lostCompletion) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &lostCompletionActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, root: l}
}

type lostCompletionActivity struct {
	interceptor.ActivityInboundInterceptorBase
	root *lostCompletion
}

func (a *lostCompletionActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := a.Next.ExecuteActivity(ctx, in)
	info := activity.GetInfo(ctx)
	stored := false
	switch r := res.(type) {
	case activities.ProcessStreamsResult:
		stored = r.Committed > 0
	case activities.ProcessStreamResult:
		stored = r.Committed
	}
	if stored && err == nil && info.Attempt == 1 {
		a.root.lost.Add(1)
		return nil, errors.New("worker died after commit")
	}
	return res, err
}

// forSlots runs a test with one stream at a time and with three in
// flight: the engine's guarantees hold for both.
func forSlots(t *testing.T, test func(t *testing.T, slots int)) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d slots", n), func(t *testing.T) { test(t, n) })
	}
}

// engineScriptIn is engineScript with its streams processed slots at once.
func engineScriptIn(slots int) testservice.Script {
	s := engineScript()
	s.Config.ParallelStreams = slots
	return s
}

func engineScript() testservice.Script {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	return testservice.Script{
		Roots: []string{"a", "b", "c"},
		Pages: map[string][]testservice.Page{
			"a": {{Records: 5, Newest: now, NewStreams: []string{"d"}}, {Records: 4, Newest: now.Add(-time.Hour)}},
			"b": {{Records: 3, Newest: now}},
			"c": {{Records: 2, Newest: now}},
			"d": {{Records: 6, Newest: now}},
		},
	}
}

func TestProcessStreamRunTwiceLeavesTheSameRows(t *testing.T) { forSlots(t, testProcessStreamRunTwice) }

func testProcessStreamRunTwice(t *testing.T, slots int) {
	clean := newEnv(t, []integrations.Service{testservice.New(engineScriptIn(slots))})
	_, state := clean.connect(testservice.Platform, `{}`, "")
	require.Equal(t, store.RunProcessed, state)

	crash := &lostCompletion{}
	// A page per step: every page's completion is lost once.
	crashy := newEnv(t, []integrations.Service{testservice.New(engineScriptIn(slots))}, withInterceptor(crash),
		func(e *env) { e.run.SlotStepFor = 0 })
	_, state = crashy.connect(testservice.Platform, `{}`, "")
	require.Equal(t, store.RunProcessed, state)

	// A step's second attempt goes on with the next page, whose completion
	// is kept: with one slot, pages 1, 3 and 5 were stored by steps whose
	// completion was lost; with more, at least as many.
	assert.GreaterOrEqual(t, crash.lost.Load(), int64(3), "every first attempt's completion was lost")
	assert.Equal(t, 20, crashy.count(`SELECT count(*) FROM activities`))
	assert.Equal(t, clean.snapshot(), crashy.snapshot(), "a stream processed twice leaves the rows of one clean run")
	assert.Equal(t, 5, crashy.count(`SELECT count(*) FROM "integrationStreams" WHERE state = 'processed'`))
	assert.Equal(t, int64(20), int64(crashy.count(`SELECT "recordsWritten" FROM "integrationRuns"`)))
}

func TestContinueRunRetriesOnlyUnfinishedStreams(t *testing.T) { forSlots(t, testContinueRunRetries) }

func testContinueRunRetries(t *testing.T, slots int) {
	script := engineScriptIn(slots)
	script.FailTimes = map[string]int{"b": -1}
	svc := testservice.New(script)
	e := newEnv(t, []integrations.Service{svc})
	started, state := e.connect(testservice.Platform, `{}`, "")
	require.Equal(t, store.RunError, state)
	assert.Equal(t, 17, e.count(`SELECT count(*) FROM activities`))
	assert.Equal(t, "error", e.strings(`SELECT status FROM integrations`)[0], "a failed onboarding marks the integration error")
	assert.Equal(t, []string{"b"}, e.strings(`SELECT name FROM "integrationStreams" WHERE state = 'error' AND retries = 5`))

	// The API recovers; continue-run fetches stream b and nothing else.
	svc.SetFailTimes("b", 0)
	before := len(svc.Calls())
	cont, err := e.ctl.ContinueRun(context.Background(), started.RunID)
	require.NoError(t, err)
	assert.Equal(t, started.RunID, cont.RunID)
	require.Equal(t, store.RunProcessed, e.wait(cont))
	assert.Equal(t, []string{"b#0"}, svc.Calls()[before:])
	assert.Equal(t, 20, e.count(`SELECT count(*) FROM activities`))
	assert.Equal(t, 5, e.count(`SELECT count(*) FROM "integrationStreams" WHERE state = 'processed'`))
	assert.Equal(t, "done", e.strings(`SELECT status FROM integrations`)[0])
}

func TestOneRunPerIntegration(t *testing.T) {
	script := engineScript()
	script.SleepAfter = map[string]time.Duration{"a": 3 * time.Second}
	e := newEnv(t, []integrations.Service{testservice.New(script)})
	ctx := context.Background()
	first, err := e.ctl.Connect(ctx, control.ConnectInput{TenantID: "0b6c8a4e-55f1-4c1e-9d3a-2f7e8b9c0a1d", Platform: testservice.Platform})
	require.NoError(t, err)
	require.Equal(t, store.RunProcessed, e.wait(first))

	check, err := e.ctl.StartRun(ctx, first.IntegrationID, false)
	require.NoError(t, err)
	// A second check while the first sleeps is refused.
	_, err = e.ctl.StartRun(ctx, first.IntegrationID, false)
	var running *control.AlreadyRunningError
	require.ErrorAs(t, err, &running)
	assert.Equal(t, check.RunID, running.RunID)

	// An onboarding is never blocked by a check: it replaces it.
	onboarding, err := e.ctl.StartRun(ctx, first.IntegrationID, true)
	require.NoError(t, err)
	require.Equal(t, store.RunProcessed, e.wait(onboarding))
	checkRun, err := e.store.GetRun(ctx, check.RunID)
	require.NoError(t, err)
	assert.Equal(t, store.RunError, checkRun.State)
	assert.Contains(t, string(checkRun.Error), "superseded")
	assert.Equal(t, 20, e.count(`SELECT count(*) FROM activities`), "the same records, never doubled")
}

func TestWorkerDiesInTheMiddleOfAStream(t *testing.T) { forSlots(t, testWorkerDies) }

func testWorkerDies(t *testing.T, slots int) {
	clean := newEnv(t, []integrations.Service{testservice.New(engineScriptIn(slots))})
	_, state := clean.connect(testservice.Platform, `{}`, "")
	require.Equal(t, store.RunProcessed, state)

	script := engineScriptIn(slots)
	script.HoldFirst = map[string]time.Duration{"b": time.Minute}
	svc := testservice.New(script)
	e := newEnv(t, []integrations.Service{svc})
	started, err := e.ctl.Connect(context.Background(), control.ConnectInput{
		TenantID: "8f9a3d2e-0c1b-4a5d-9e6f-7a8b9c0d1e2f", Platform: testservice.Platform, Settings: []byte(`{}`),
	})
	require.NoError(t, err)
	// Stream b's first attempt hangs on its API call; the worker dies then.
	require.Eventually(t, func() bool { return svc.Attempts("b#0") == 1 }, 30*time.Second, 20*time.Millisecond)
	e.worker.Stop()
	// Another worker takes over: Temporal notices the silence within the
	// heartbeat timeout (not the 10-minute attempt timeout) and retries b.
	e.startWorker()
	require.Equal(t, store.RunProcessed, e.wait(started))
	assert.Equal(t, 2, svc.Attempts("b#0"))
	assert.Equal(t, clean.snapshot(), e.snapshot(), "nothing lost or doubled")
	assert.Equal(t, 5, e.count(`SELECT count(*) FROM "integrationStreams" WHERE state = 'processed'`))
}
