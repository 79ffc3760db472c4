package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"github.com/crowdflow/crowdflow/checks"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// The schedule tests share the package's Temporal namespace, and
// SyncSchedules owns every schedule named integration-check/...: they must
// not run in parallel (none calls t.Parallel), and each starts from and
// leaves no check schedule.

// polled is the scripted service under another platform name and Ticks.
type polled struct {
	*testservice.Service
	platform string
	ticks    int
}

func newPolled(platform string, ticks int) polled {
	return polled{Service: testservice.New(testservice.Script{}), platform: platform, ticks: ticks}
}

func (p polled) Platform() string { return p.platform }
func (p polled) Config() integrations.Config {
	c := p.Service.Config()
	c.Ticks = p.ticks
	return c
}

// resetSchedules deletes every check schedule now and when the test ends.
// known are ids to delete even if listing (eventually consistent) misses
// them.
func resetSchedules(t *testing.T, c client.Client, known ...string) {
	t.Helper()
	reset := func() {
		ctx := context.Background()
		ids := append([]string(nil), known...)
		it, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{})
		require.NoError(t, err)
		for it.HasNext() {
			e, err := it.Next()
			require.NoError(t, err)
			if strings.HasPrefix(e.ID, control.ScheduleIDPrefix) {
				ids = append(ids, e.ID)
			}
		}
		for _, id := range ids {
			_ = c.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
		}
	}
	reset()
	t.Cleanup(reset)
}

// waitListed waits until listing schedules shows id (listing goes through
// visibility and lags a little behind a create).
func waitListed(t *testing.T, c client.Client, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		it, err := c.ScheduleClient().List(context.Background(), client.ScheduleListOptions{})
		if err != nil {
			return false
		}
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return false
			}
			if e.ID == id {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "schedule %s never listed", id)
}

func describeSchedule(t *testing.T, c client.Client, platform string) *client.ScheduleDescription {
	t.Helper()
	desc, err := c.ScheduleClient().GetHandle(context.Background(), control.ScheduleID(platform)).Describe(context.Background())
	require.NoError(t, err, "schedule of %s", platform)
	return desc
}

func assertNoSchedule(t *testing.T, c client.Client, platform string) {
	t.Helper()
	_, err := c.ScheduleClient().GetHandle(context.Background(), control.ScheduleID(platform)).Describe(context.Background())
	require.Error(t, err, "schedule of %s should be gone", platform)
}

// assertCheckSchedule checks a schedule is the one sync makes: every
// interval, a little jitter, overlap skip, IntegrationCheck of the platform
// on the queue.
func assertCheckSchedule(t *testing.T, c client.Client, platform string, every time.Duration, queue string) *client.ScheduleDescription {
	t.Helper()
	desc := describeSchedule(t, c, platform)
	s := desc.Schedule
	require.NotNil(t, s.Spec)
	assert.Equal(t, []client.ScheduleIntervalSpec{{Every: every}}, s.Spec.Intervals, platform)
	assert.Positive(t, s.Spec.Jitter, platform)
	assert.LessOrEqual(t, s.Spec.Jitter, every/10, platform)
	assert.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, s.Policy.Overlap, platform)
	act, ok := s.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	assert.Equal(t, workflows.CheckWorkflowName, act.Workflow)
	assert.Equal(t, queue, act.TaskQueue)
	require.Len(t, act.Args, 1)
	var in workflows.CheckInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(act.Args[0].(*commonpb.Payload), &in))
	assert.Equal(t, platform, in.Platform)
	return desc
}

func TestScheduleSyncCreatesUpdatesAndDeletes(t *testing.T) {
	ctx := context.Background()
	c := temporalServer().GetDefaultClient()
	sc := c.ScheduleClient()
	const (
		minute  = "sched-minute"
		twenty  = "sched-twenty"
		onboard = "sched-onboarding-only"
		gone    = "sched-gone"
		// No worker polls this queue: a check that fires during the test
		// starts nothing.
		queue = "schedules-sync-no-worker"
	)
	id := control.ScheduleID
	resetSchedules(t, c, id(minute), id(twenty), id(onboard), id(gone))

	// Left by an earlier release: a platform that became onboarding-only,
	// and one that is no longer in the registry.
	for _, p := range []string{onboard, gone} {
		_, err := sc.Create(ctx, client.ScheduleOptions{
			ID:     id(p),
			Spec:   client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 5 * time.Minute}}},
			Action: &client.ScheduleWorkflowAction{Workflow: workflows.CheckWorkflowName, TaskQueue: queue, Args: []any{workflows.CheckInput{Platform: p}}},
			Paused: true,
		})
		require.NoError(t, err)
	}
	waitListed(t, c, id(gone))

	reg := registry.New(newPolled(minute, 0), newPolled(twenty, 20), newPolled(onboard, -1))
	rep, err := control.SyncSchedules(ctx, c, reg, queue)
	require.NoError(t, err)
	assert.Equal(t, []string{id(minute), id(twenty)}, rep.IDs(control.ScheduleCreated))
	assert.Equal(t, []string{id(gone), id(onboard)}, rep.IDs(control.ScheduleDeleted))
	assert.Empty(t, rep.IDs(control.ScheduleUpdated))
	assertCheckSchedule(t, c, minute, time.Minute, queue)
	desc := assertCheckSchedule(t, c, twenty, 20*time.Minute, queue)
	assert.False(t, desc.Schedule.State.Paused)
	assert.NotEmpty(t, desc.Info.NextActionTimes)
	assertNoSchedule(t, c, onboard)
	assertNoSchedule(t, c, gone)

	// Idempotent: a second sync (another worker starting) changes nothing.
	rep, err = control.SyncSchedules(ctx, c, reg, queue)
	require.NoError(t, err)
	assert.Equal(t, []string{id(minute), id(twenty)}, rep.IDs(control.ScheduleUnchanged))
	assert.Empty(t, rep.IDs(control.ScheduleCreated))
	assert.Empty(t, rep.IDs(control.ScheduleUpdated))
	assert.Empty(t, rep.IDs(control.ScheduleDeleted))

	// An operator pauses one in Temporal Web; then a release checks it every
	// 45 minutes and stops polling the other.
	require.NoError(t, sc.GetHandle(ctx, id(twenty)).Pause(ctx, client.SchedulePauseOptions{Note: "paused by an operator"}))
	reg = registry.New(newPolled(minute, -1), newPolled(twenty, 45))
	rep, err = control.SyncSchedules(ctx, c, reg, queue)
	require.NoError(t, err)
	assert.Equal(t, []string{id(twenty)}, rep.IDs(control.ScheduleUpdated))
	assert.Equal(t, []string{id(minute)}, rep.IDs(control.ScheduleDeleted))
	desc = assertCheckSchedule(t, c, twenty, 45*time.Minute, queue)
	assert.True(t, desc.Schedule.State.Paused, "sync keeps the operator's pause")
	assert.Equal(t, "paused by an operator", desc.Schedule.State.Note)
	assertNoSchedule(t, c, minute)

	list, err := control.ListSchedules(ctx, c, reg)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, id(twenty), list[0].ID)
	assert.Equal(t, 45*time.Minute, list[0].Interval)
	assert.True(t, list[0].Paused)
	assert.True(t, list[0].NextRun.IsZero(), "a paused schedule has no next run")
}

// checkWorker runs IntegrationCheck and its activities, which start runs
// through the env's controller (on the env's queue). The worker binary
// registers both on one queue; here the check has a queue of its own so the
// shared harness stays as it is.
func (e *env) checkWorker(check *workflows.Check, ints ...interceptor.WorkerInterceptor) string {
	e.t.Helper()
	queue := e.queue + "-checks"
	w := temporalServer().NewWorkerWithOptions(queue, func(r worker.Registry) {
		checks.Register(r, check, &checks.Activities{Controller: e.ctl})
	}, worker.Options{Interceptors: ints})
	e.t.Cleanup(w.Stop)
	return queue
}

// sleepyScript's runs sleep two minutes after their one stream, so they are
// in progress for the whole test.
func sleepyScript() testservice.Script {
	return testservice.Script{
		Roots:      []string{"a"},
		Pages:      map[string][]testservice.Page{"a": {{Records: 2, Newest: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}}},
		SleepAfter: map[string]time.Duration{"a": 2 * time.Minute},
		Config:     integrations.Config{Ticks: 1440},
	}
}

// newIntegration stores an integration of the test platform with a status,
// starting nothing.
func (e *env) newIntegration(status string) string {
	e.t.Helper()
	id, err := e.store.CreateIntegration(context.Background(), store.NewIntegration{
		TenantID: "3c1e6a52-8d0b-4f7e-a2c9-5b4d6e7f8a90", Platform: testservice.Platform, Status: status,
	})
	require.NoError(e.t, err)
	// Their runs sleep: end them with the test.
	e.t.Cleanup(func() {
		_ = temporalServer().GetDefaultClient().TerminateWorkflow(context.Background(), workflows.WorkflowID(id), "", "test over")
	})
	return id
}

// checkRuns returns the ids of an integration's check runs.
func (e *env) checkRuns(integrationID string) []string {
	e.t.Helper()
	return e.strings(`SELECT id::text FROM "integrationRuns" WHERE "integrationId" = $1 AND NOT onboarding`, integrationID)
}

// assertRunning checks the integration's workflow runs the given run.
func (e *env) assertRunning(integrationID, runID string) {
	e.t.Helper()
	desc, err := temporalServer().GetDefaultClient().DescribeWorkflowExecution(context.Background(), workflows.WorkflowID(integrationID), "")
	require.NoError(e.t, err)
	info := desc.GetWorkflowExecutionInfo()
	assert.Equal(e.t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, info.GetStatus(), integrationID)
	m, err := workflows.ReadMemo(info.GetMemo())
	require.NoError(e.t, err)
	assert.Equal(e.t, runID, m.RunID, integrationID)
}

// actionsTaken counts the actions a schedule took or skipped by its overlap
// policy.
func actionsTaken(t *testing.T, h client.ScheduleHandle) int {
	t.Helper()
	desc, err := h.Describe(context.Background())
	require.NoError(t, err)
	return desc.Info.NumActions + desc.Info.NumActionsSkippedOverlap
}

// trigger triggers the schedule, as "Trigger" in Temporal Web or
// `temporal schedule trigger` does, and waits until the schedule acted on
// it (started a check or skipped it), not until the check ends.
//
// Waiting matters: Temporal 1.32's schedule workflow keeps one pending
// patch (pause, unpause, trigger) per wake-up, so two sent within the same
// instant can collapse into the last one.
func trigger(t *testing.T, h client.ScheduleHandle) {
	t.Helper()
	before := actionsTaken(t, h)
	require.NoError(t, h.Trigger(context.Background(), client.ScheduleTriggerOptions{}))
	require.Eventually(t, func() bool { return actionsTaken(t, h) > before }, 30*time.Second, 20*time.Millisecond,
		"trigger never acted on: %s", describeForLog(h))
}

// waitChecks waits until the schedule took (or skipped by its overlap
// policy) n actions, then returns the results of the checks it started,
// oldest first.
func waitChecks(t *testing.T, h client.ScheduleHandle, n int) []workflows.CheckResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var desc *client.ScheduleDescription
	require.Eventually(t, func() bool {
		var err error
		desc, err = h.Describe(ctx)
		return err == nil && desc.Info.NumActions+desc.Info.NumActionsSkippedOverlap >= n
	}, time.Minute, 100*time.Millisecond, "the schedule never took %d actions: %s", n, describeForLog(h))
	require.Equal(t, n, desc.Info.NumActions+desc.Info.NumActionsSkippedOverlap)
	var out []workflows.CheckResult
	for _, a := range desc.Info.RecentActions {
		require.NotNil(t, a.StartWorkflowResult)
		assert.True(t, strings.HasPrefix(a.StartWorkflowResult.WorkflowID, h.GetID()+"-"), a.StartWorkflowResult.WorkflowID)
		var res workflows.CheckResult
		require.NoError(t, temporalServer().GetDefaultClient().
			GetWorkflow(ctx, a.StartWorkflowResult.WorkflowID, a.StartWorkflowResult.FirstExecutionRunID).Get(ctx, &res))
		out = append(out, res)
	}
	return out
}

func describeForLog(h client.ScheduleHandle) string {
	d, err := h.Describe(context.Background())
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("state %+v actions %d skipped %d running %+v recent %+v", *d.Schedule.State, d.Info.NumActions, d.Info.NumActionsSkippedOverlap, d.Info.RunningWorkflows, d.Info.RecentActions)
}

// waitIdle waits until the schedule knows none of its checks runs.
func waitIdle(t *testing.T, h client.ScheduleHandle) {
	t.Helper()
	require.Eventually(t, func() bool {
		desc, err := h.Describe(context.Background())
		return err == nil && len(desc.Info.RunningWorkflows) == 0
	}, time.Minute, 100*time.Millisecond)
}

func TestScheduledCheckStartsOneRunPerDoneIntegration(t *testing.T) {
	ctx := context.Background()
	c := temporalServer().GetDefaultClient()
	e := newEnv(t, []integrations.Service{testservice.New(sleepyScript())})
	resetSchedules(t, c, control.ScheduleID(testservice.Platform))
	checkQueue := e.checkWorker(workflows.DefaultCheck())

	done := []string{e.newIntegration(store.StatusDone), e.newIntegration(store.StatusDone), e.newIntegration(store.StatusDone)}
	notDone := []string{e.newIntegration(store.StatusError), e.newIntegration(store.StatusInProgress), e.newIntegration(store.StatusPendingAction)}
	// Done, but re-onboarding: the check must leave it to its onboarding.
	reonboarding := e.newIntegration(store.StatusDone)
	onboarding, err := e.ctl.StartRun(ctx, reonboarding, true)
	require.NoError(t, err)
	// The run marks the integration in-progress in its first activity:
	// once it has, say done again, as a status edited meanwhile would.
	require.Eventually(t, func() bool {
		return e.count(`SELECT count(*) FROM integrations WHERE id = $1 AND status = $2`, reonboarding, store.StatusInProgress) == 1
	}, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, e.store.SetIntegrationStatus(ctx, reonboarding, store.StatusDone))

	rep, err := control.SyncSchedules(ctx, c, e.reg, checkQueue)
	require.NoError(t, err)
	require.Equal(t, []string{control.ScheduleID(testservice.Platform)}, rep.IDs(control.ScheduleCreated))
	h := c.ScheduleClient().GetHandle(ctx, control.ScheduleID(testservice.Platform))
	// Paused, as an operator would in Temporal Web: no check starts on its
	// own, a trigger still starts one.
	require.NoError(t, h.Pause(ctx, client.SchedulePauseOptions{Note: "checks by hand only"}))
	require.Eventually(t, func() bool {
		d, err := h.Describe(ctx)
		return err == nil && d.Schedule.State.Paused
	}, 30*time.Second, 50*time.Millisecond)

	trigger(t, h)
	results := waitChecks(t, h, 1)
	require.Len(t, results, 1)
	assert.Equal(t, workflows.CheckResult{Platform: testservice.Platform, Listed: 4, Started: 3, Skipped: 1}, results[0])

	firstRuns := map[string]string{}
	for _, id := range done {
		runs := e.checkRuns(id)
		require.Len(t, runs, 1, "one check run of %s", id)
		firstRuns[id] = runs[0]
		e.assertRunning(id, runs[0])
	}
	assert.Empty(t, e.checkRuns(reonboarding), "a running onboarding is left alone")
	e.assertRunning(reonboarding, onboarding.RunID)
	for _, id := range notDone {
		assert.Zero(t, e.count(`SELECT count(*) FROM "integrationRuns" WHERE "integrationId" = $1`, id), "an integration that is not done is not polled")
	}

	// Triggered twice quickly while the runs are in progress: the overlap
	// policy may skip one; no check starts a second run.
	trigger(t, h)
	trigger(t, h)
	results = waitChecks(t, h, 3)
	for _, r := range results[1:] {
		assert.Equal(t, workflows.CheckResult{Platform: testservice.Platform, Listed: 4, Skipped: 4}, r)
	}
	// Once more when no check runs, so this one surely is not skipped.
	waitIdle(t, h)
	trigger(t, h)
	results = waitChecks(t, h, 4)
	assert.Equal(t, workflows.CheckResult{Platform: testservice.Platform, Listed: 4, Skipped: 4}, results[len(results)-1])

	for _, id := range done {
		assert.Equal(t, []string{firstRuns[id]}, e.checkRuns(id), "never a second run of %s", id)
		e.assertRunning(id, firstRuns[id])
	}
	assert.Empty(t, e.checkRuns(reonboarding))
	assert.Equal(t, 4, e.count(`SELECT count(*) FROM "integrationRuns"`), "three checks and the onboarding")
	desc, err := h.Describe(ctx)
	require.NoError(t, err)
	assert.True(t, desc.Schedule.State.Paused, "triggers leave it paused: %s", describeForLog(h))
}

// failStart makes every start of one integration fail, as a Temporal or
// database outage limited to it would.
type failStart struct {
	interceptor.WorkerInterceptorBase
	integrationID string
	attempts      atomic.Int64
}

func (f *failStart) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &failStartActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, root: f}
}

type failStartActivity struct {
	interceptor.ActivityInboundInterceptorBase
	root *failStart
}

func (a *failStartActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	if activity.GetInfo(ctx).ActivityType.Name == workflows.StartCheckRunActivity && len(in.Args) == 1 {
		if arg, ok := in.Args[0].(workflows.StartCheckRunInput); ok && arg.IntegrationID == a.root.integrationID {
			a.root.attempts.Add(1)
			return nil, errors.New("start workflow: connection refused")
		}
	}
	return a.Next.ExecuteActivity(ctx, in)
}

func TestConcurrentChecksNeverDoubleARun(t *testing.T) {
	ctx := context.Background()
	c := temporalServer().GetDefaultClient()
	e := newEnv(t, []integrations.Service{testservice.New(sleepyScript())})
	var good []string
	for range 7 {
		good = append(good, e.newIntegration(store.StatusDone))
	}
	bad := &failStart{integrationID: e.newIntegration(store.StatusDone)}
	// Small pages and executions: 8 integrations take 4 pages and 3
	// executions (continue-as-new).
	check := workflows.DefaultCheck()
	check.PageSize, check.MaxPerExecution = 2, 3
	check.StartRetry.InitialInterval = 50 * time.Millisecond
	checkQueue := e.checkWorker(check, bad)

	// Two checks at once, as two overlapping ticks would be without the
	// overlap policy.
	var runs []client.WorkflowRun
	for _, name := range []string{"a", "b"} {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: fmt.Sprintf("%s-race-%s-%s", control.ScheduleID(testservice.Platform), e.queue, name), TaskQueue: checkQueue,
		}, workflows.CheckWorkflowName, workflows.CheckInput{Platform: testservice.Platform})
		require.NoError(t, err)
		runs = append(runs, run)
	}
	var total workflows.CheckResult
	for _, run := range runs {
		firstRunID := run.GetRunID() // Get follows continue-as-new and moves it on
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		var res workflows.CheckResult
		require.NoError(t, run.Get(wctx, &res))
		cancel()
		assert.Equal(t, 8, res.Listed)
		assert.Equal(t, 1, res.Failed, "the failing start is counted, the others go on")
		assert.Equal(t, []string{bad.integrationID}, res.FailedIDs)
		total.Started += res.Started
		total.Skipped += res.Skipped
		// The first execution continued as new.
		desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), firstRunID)
		require.NoError(t, err)
		assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW, desc.GetWorkflowExecutionInfo().GetStatus())
	}
	assert.Equal(t, 7, total.Started, "each good integration started once, by one of the checks")
	assert.Equal(t, 7, total.Skipped, "and skipped by the other")
	assert.Equal(t, int64(2*3), bad.attempts.Load(), "each check tried the failing start three times")

	for _, id := range good {
		runs := e.checkRuns(id)
		require.Len(t, runs, 1, "one check run of %s", id)
		e.assertRunning(id, runs[0])
	}
	assert.Empty(t, e.checkRuns(bad.integrationID))
}

func TestSchedulesThroughTheStarter(t *testing.T) {
	c := temporalServer().GetDefaultClient()
	e := newEnv(t, []integrations.Service{testservice.New(testservice.Script{})})
	def := registry.Default()
	var known []string
	want := map[string]time.Duration{}
	for _, p := range def.Platforms() {
		known = append(known, control.ScheduleID(p))
		svc, _ := def.Get(p)
		if every, ok := control.CheckInterval(svc.Config().Ticks); ok {
			want[control.ScheduleID(p)] = every
		}
	}
	require.NotEmpty(t, want)
	resetSchedules(t, c, known...)
	// No worker polls this queue: a check that fires during the test starts
	// nothing.
	noWorker := []string{"TEMPORAL_TASK_QUEUE=schedules-cli-no-worker"}

	lines := func(out string) [][]string {
		var rows [][]string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			rows = append(rows, strings.Fields(l))
		}
		return rows
	}
	for _, action := range []string{control.ScheduleCreated, control.ScheduleUnchanged} {
		out, errOut, code := e.runStarter(noWorker, "schedules", "sync")
		require.Equal(t, 0, code, errOut)
		got := map[string]time.Duration{}
		for _, f := range lines(out) {
			require.Len(t, f, 4, "%q", out)
			assert.Equal(t, action, f[0])
			assert.Equal(t, "every", f[2])
			d, err := time.ParseDuration(f[3])
			require.NoError(t, err)
			got[f[1]] = d
		}
		assert.Equal(t, want, got)
	}

	out, errOut, code := e.runStarter(noWorker, "schedules", "list")
	require.Equal(t, 0, code, errOut)
	rows := lines(out)
	require.Equal(t, []string{"ID", "INTERVAL", "PAUSED", "NEXT", "RUN", "LAST", "RUN"}, rows[0])
	got := map[string]time.Duration{}
	for _, f := range rows[1:] {
		require.Len(t, f, 5, "%q", out)
		d, err := time.ParseDuration(f[1])
		require.NoError(t, err)
		got[f[0]] = d
		assert.Equal(t, "no", f[2])
		next, err := time.Parse(time.RFC3339, f[3])
		require.NoError(t, err)
		assert.True(t, next.After(time.Now().Add(-time.Minute)), "next run %s", next)
		assert.Equal(t, "-", f[4])
	}
	assert.Equal(t, want, got)
}
