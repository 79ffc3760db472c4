package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/crowdflow/crowdflow/checks"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

const endingsTenant = "6d2f7a1c-3b4e-4c5d-8e9f-0a1b2c3d4e5f"

// runRow reads a run's state and error point.
func (e *env) runRow(runID string) (state, errorPoint, message string) {
	e.t.Helper()
	r, err := e.store.GetRun(context.Background(), runID)
	require.NoError(e.t, err)
	var f store.Failure
	if len(r.Error) > 0 {
		require.NoError(e.t, json.Unmarshal(r.Error, &f))
	}
	return r.State, f.ErrorPoint, f.Message
}

func (e *env) integrationStatus(id string) string {
	e.t.Helper()
	return e.strings(`SELECT status FROM integrations WHERE id = $1`, id)[0]
}

// waitClosed waits for the integration's workflow to close and returns how.
func (e *env) waitClosed(s control.Started) enumspb.WorkflowExecutionStatus {
	e.t.Helper()
	var status enumspb.WorkflowExecutionStatus
	require.Eventually(e.t, func() bool {
		desc, err := e.ctl.Temporal.DescribeWorkflowExecution(context.Background(), s.WorkflowID, "")
		require.NoError(e.t, err)
		status = desc.GetWorkflowExecutionInfo().GetStatus()
		return status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}, time.Minute, 20*time.Millisecond)
	return status
}

func (e *env) connectNoWait(identifier string) control.Started {
	e.t.Helper()
	started, err := e.ctl.Connect(context.Background(), control.ConnectInput{
		TenantID: endingsTenant, Platform: testservice.Platform, Settings: []byte(`{}`), Identifier: identifier,
	})
	require.NoError(e.t, err)
	return started
}

// A run cancelled from Temporal (the CLI, Temporal Web) records its end on
// every path: in a durable sleep and in the middle of a stream. Before,
// both returned without finish: the row stayed delayed/processing and the
// onboarding integration in-progress, which the checks skip for ever.
func TestCancelledRunRecordsItsEnd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script func(*testservice.Script)
		ready  func(e *env, svc *testservice.Service, s control.Started) bool
	}{
		{"in a durable sleep", func(s *testservice.Script) { s.SleepAfter = map[string]time.Duration{"a": time.Hour} },
			func(e *env, _ *testservice.Service, s control.Started) bool {
				state, _, _ := e.runRow(s.RunID)
				return state == store.RunDelayed
			}},
		{"in the stream loop", func(s *testservice.Script) { s.HoldFirst = map[string]time.Duration{"b": time.Minute} },
			func(_ *env, svc *testservice.Service, _ control.Started) bool { return svc.Attempts("b#0") == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := engineScript()
			tc.script(&script)
			svc := testservice.New(script)
			e := newEnv(t, []integrations.Service{svc})
			started := e.connectNoWait("")
			require.Eventually(t, func() bool { return tc.ready(e, svc, started) }, 30*time.Second, 20*time.Millisecond)
			require.NoError(t, e.ctl.Temporal.CancelWorkflow(context.Background(), started.WorkflowID, ""))
			assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, e.waitClosed(started))

			state, point, _ := e.runRow(started.RunID)
			assert.Equal(t, store.RunError, state)
			assert.Equal(t, "cancelled", point)
			assert.Equal(t, store.StatusError, e.integrationStatus(started.IntegrationID),
				"a cancelled onboarding leaves the integration in error, not in-progress")
		})
	}
}

// reconciler runs the reconciler's workflow and activity on a queue of its
// own, with its metrics on reg.
func (e *env) reconciler(m *checks.ReconcileMetrics) func(quiet time.Duration) workflows.ReconcileResult {
	queue := e.queue + "-maintenance"
	w := temporalServer().NewWorkerWithOptions(queue, func(r worker.Registry) {
		checks.Register(r, workflows.DefaultCheck(), &checks.Activities{Controller: e.ctl, Metrics: m})
	}, worker.Options{})
	e.t.Cleanup(w.Stop)
	return func(quiet time.Duration) workflows.ReconcileResult {
		ctx := context.Background()
		run, err := e.ctl.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue},
			workflows.ReconcileWorkflowName, workflows.ReconcileInput{Quiet: quiet, PageSize: 2})
		require.NoError(e.t, err)
		var res workflows.ReconcileResult
		require.NoError(e.t, run.Get(ctx, &res))
		return res
	}
}

// A run terminated from Temporal runs no code at all: the reconciler finds
// its row in progress with no workflow running it, ends it as error with
// the reason, and puts the integration back in error, where continue-run
// takes it up. A run that sleeps, even in an execution after
// continue-as-new, is left alone, and its row names the execution that
// runs it now.
func TestReconcilerEndsTerminatedRuns(t *testing.T) {
	script := engineScript()
	script.SleepAfter = map[string]time.Duration{"c": time.Hour}
	svc := testservice.New(script)
	// A page per step, two steps per execution: the run continues as new
	// before stream c asks it to sleep.
	e := newEnv(t, []integrations.Service{svc}, func(e *env) { e.run.MaxStreamsPerExecution, e.run.SlotStepFor = 2, 0 })
	reg := prometheus.NewRegistry()
	metrics := checks.NewReconcileMetrics(reg)
	reconcile := e.reconciler(metrics)

	doomed := e.connectNoWait("doomed")
	sleeping := e.connectNoWait("sleeping")
	t.Cleanup(func() {
		_ = e.ctl.Temporal.TerminateWorkflow(context.Background(), sleeping.WorkflowID, "", "test over")
	})
	for _, s := range []control.Started{doomed, sleeping} {
		require.Eventually(t, func() bool {
			state, _, _ := e.runRow(s.RunID)
			return state == store.RunDelayed
		}, 30*time.Second, 20*time.Millisecond)
	}
	require.NoError(t, e.ctl.Temporal.TerminateWorkflow(context.Background(), doomed.WorkflowID, "", "operator pressed terminate"))
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, e.waitClosed(doomed))
	state, _, _ := e.runRow(doomed.RunID)
	require.Equal(t, store.RunDelayed, state, "a terminated run records nothing by itself")

	res := reconcile(time.Millisecond)
	assert.Equal(t, 1, res.Ended)
	assert.Equal(t, []string{doomed.RunID}, res.EndedIDs)
	state, point, msg := e.runRow(doomed.RunID)
	assert.Equal(t, store.RunError, state)
	assert.Equal(t, "reconciled", point)
	assert.Contains(t, msg, "terminated")
	assert.Equal(t, store.StatusError, e.integrationStatus(doomed.IntegrationID))
	assert.Equal(t, 1.0, testutil.ToFloat64(metrics.Ended.WithLabelValues("terminated")))
	n, err := testutil.GatherAndCount(reg, "crowdflow_runs_reconciled_total")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the count is exposed")

	// The sleeping run continued as new (two streams per execution) and is
	// alive: untouched, and its row names the execution that runs it now.
	state, _, _ = e.runRow(sleeping.RunID)
	assert.Equal(t, store.RunDelayed, state)
	desc, err := e.ctl.Temporal.DescribeWorkflowExecution(context.Background(), sleeping.WorkflowID, "")
	require.NoError(t, err)
	current := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	assert.NotEqual(t, sleeping.WorkflowRunID, current, "the run continued as new")
	run, err := e.store.GetRun(context.Background(), sleeping.RunID)
	require.NoError(t, err)
	assert.Equal(t, current, run.WorkflowRunID, "workflowRunId follows continue-as-new")

	// Nothing more to do the second time.
	assert.Equal(t, 0, reconcile(time.Millisecond).Ended)

	// The integration comes back with continue-run.
	cont, err := e.ctl.ContinueRun(context.Background(), doomed.RunID)
	require.NoError(t, err)
	require.Equal(t, store.RunProcessed, e.wait(cont))
	assert.Equal(t, store.StatusDone, e.integrationStatus(doomed.IntegrationID))
}

// The reconciler's schedule exists with the worker, every 5 minutes: with
// its quiet minute, a terminated run's row is final within 7 minutes.
func TestReconcilerSchedule(t *testing.T) {
	c := temporalServer().GetDefaultClient()
	ctx := context.Background()
	action, err := control.EnsureReconcileSchedule(ctx, c, "e2e-maintenance")
	require.NoError(t, err)
	assert.Contains(t, []string{control.ScheduleCreated, control.ScheduleUnchanged}, action)
	again, err := control.EnsureReconcileSchedule(ctx, c, "e2e-maintenance")
	require.NoError(t, err)
	assert.Equal(t, control.ScheduleUnchanged, again)
	desc, err := c.ScheduleClient().GetHandle(ctx, control.ReconcileScheduleID).Describe(ctx)
	require.NoError(t, err)
	require.Len(t, desc.Schedule.Spec.Intervals, 1)
	every := desc.Schedule.Spec.Intervals[0].Every
	assert.LessOrEqual(t, every+workflows.DefaultReconcileQuiet, 6*time.Minute)
	act, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	assert.Equal(t, workflows.ReconcileWorkflowName, act.Workflow)
}
