package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// The retention workflow deletes processed runs older than the retention
// age with their streams, a batch at a time across continue-as-new, and
// keeps recent runs, failed runs and each integration's latest run.
func TestRetentionDeletesOldProcessedRunsInBatches(t *testing.T) {
	e := newEnv(t, []integrations.Service{testservice.New(testservice.Script{})})
	ctx := context.Background()
	a, b := e.newIntegration(store.StatusDone), e.newIntegration(store.StatusDone)
	// run inserts a run that ended (state) days ago, with streams.
	run := func(integ, state string, daysAgo, streams int) string {
		t.Helper()
		var id string
		require.NoError(t, e.store.Pool().QueryRow(ctx, `INSERT INTO "integrationRuns" (id, "tenantId", "integrationId", state, "processedAt", "createdAt")
			SELECT gen_random_uuid(), "tenantId", id, $2, now() - make_interval(days => $3), now() - make_interval(days => $3, hours => 1)
			FROM integrations WHERE id = $1 RETURNING id`, integ, state, daysAgo).Scan(&id))
		_, err := e.store.Pool().Exec(ctx, `INSERT INTO "integrationStreams" (id, "runId", "tenantId", "integrationId", state, name, key)
			SELECT gen_random_uuid(), r.id, r."tenantId", r."integrationId", 'processed', 's' || g, 'k' || g
			FROM "integrationRuns" r, generate_series(1, $2) g WHERE r.id = $1`, id, streams)
		require.NoError(t, err)
		return id
	}
	old1 := run(a, store.RunProcessed, 200, 3)
	old2 := run(a, store.RunProcessed, 120, 2)
	old3 := run(a, store.RunProcessed, 95, 0)
	failed := run(a, store.RunError, 300, 1)
	recent := run(a, store.RunProcessed, 10, 4)
	onlyRun := run(b, store.RunProcessed, 400, 2) // b's latest: kept

	queue := e.queue + "-retention"
	w := temporalServer().NewWorkerWithOptions(queue, func(r worker.Registry) {
		ret := workflows.DefaultRetention()
		ret.MaxBatchesPerExecution = 2 // continue as new in the middle
		ret.Register(r, &activities.Retention{Store: e.store, BatchSize: 1})
	}, worker.Options{})
	t.Cleanup(w.Stop)
	c := temporalServer().GetDefaultClient()
	wr, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "retention-" + e.queue, TaskQueue: queue},
		workflows.RetentionWorkflowName, workflows.RetentionInput{})
	require.NoError(t, err)
	var res workflows.RetentionResult
	require.NoError(t, wr.Get(ctx, &res))
	assert.Equal(t, workflows.RetentionResult{Runs: 3, Streams: 5, Batches: 4}, res, "three full batches of one, then an empty one")

	left := e.strings(`SELECT id::text FROM "integrationRuns" ORDER BY id`)
	assert.ElementsMatch(t, []string{failed, recent, onlyRun}, left)
	for _, gone := range []string{old1, old2, old3} {
		assert.Zero(t, e.count(`SELECT count(*) FROM "integrationStreams" WHERE "runId" = $1`, gone))
	}
	assert.Equal(t, 1+4+2, e.count(`SELECT count(*) FROM "integrationStreams"`))

	// A second pass finds nothing.
	wr, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "retention-again-" + e.queue, TaskQueue: queue},
		workflows.RetentionWorkflowName, workflows.RetentionInput{})
	require.NoError(t, err)
	require.NoError(t, wr.Get(ctx, &res))
	assert.Equal(t, workflows.RetentionResult{Batches: 1}, res)
}

// During a rolling deploy old and new workers start side by side, each with
// its own registry: a worker creates the schedules that are missing and
// changes no existing one, so they cannot flip a schedule back and forth;
// `starter schedules sync` (SyncSchedules) changes it once, on purpose.
func TestWorkersOnlyCreateMissingSchedules(t *testing.T) {
	ctx := context.Background()
	c := temporalServer().GetDefaultClient()
	const (
		twenty = "sched-rolling"
		onbrd  = "sched-rolling-onboarding"
		queue  = "schedules-rolling-no-worker"
	)
	id := control.ScheduleID
	resetSchedules(t, c, id(twenty), id(onbrd))

	oldRelease := registry.New(newPolled(twenty, 20), newPolled(onbrd, 30))
	newRelease := registry.New(newPolled(twenty, 45), newPolled(onbrd, -1))

	rep, err := control.EnsureSchedules(ctx, c, oldRelease, queue)
	require.NoError(t, err)
	assert.Equal(t, []string{id(twenty), id(onbrd)}, rep.IDs(control.ScheduleCreated))
	// New workers start, old ones restart: nothing moves either way.
	for _, reg := range []*registry.Registry{newRelease, oldRelease, newRelease} {
		rep, err := control.EnsureSchedules(ctx, c, reg, queue)
		require.NoError(t, err)
		assert.Empty(t, rep.IDs(control.ScheduleCreated))
		assert.Empty(t, rep.IDs(control.ScheduleUpdated))
		assert.Empty(t, rep.IDs(control.ScheduleDeleted))
		assertCheckSchedule(t, c, twenty, 20*time.Minute, queue)
		assertCheckSchedule(t, c, onbrd, 30*time.Minute, queue)
	}
	// The operator syncs once the new release is out.
	rep, err = control.SyncSchedules(ctx, c, newRelease, queue)
	require.NoError(t, err)
	assert.Equal(t, []string{id(twenty)}, rep.IDs(control.ScheduleUpdated))
	assert.Equal(t, []string{id(onbrd)}, rep.IDs(control.ScheduleDeleted))
	assertCheckSchedule(t, c, twenty, 45*time.Minute, queue)

	// The retention schedule likewise: created once, then left alone (an
	// operator paused it here).
	sc := c.ScheduleClient()
	_ = sc.GetHandle(ctx, control.RetentionScheduleID).Delete(ctx)
	t.Cleanup(func() {
		_ = sc.GetHandle(context.Background(), control.RetentionScheduleID).Delete(context.Background())
	})
	action, err := control.EnsureRetentionSchedule(ctx, c, queue)
	require.NoError(t, err)
	assert.Equal(t, control.ScheduleCreated, action)
	h := sc.GetHandle(ctx, control.RetentionScheduleID)
	require.NoError(t, h.Pause(ctx, client.SchedulePauseOptions{Note: "paused by an operator"}))
	action, err = control.EnsureRetentionSchedule(ctx, c, queue)
	require.NoError(t, err)
	assert.Equal(t, control.ScheduleUnchanged, action)
	desc, err := h.Describe(ctx)
	require.NoError(t, err)
	assert.True(t, desc.Schedule.State.Paused)
	require.NotNil(t, desc.Schedule.Spec)
	assert.Equal(t, []client.ScheduleIntervalSpec{{Every: 24 * time.Hour, Offset: time.Hour}}, desc.Schedule.Spec.Intervals, "daily at 01:00 UTC")
	act, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	assert.Equal(t, workflows.RetentionWorkflowName, act.Workflow)
}
