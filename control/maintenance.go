package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crowdflow/crowdflow/workflows"
)

// ReconcileScheduleID is the schedule of the reconciler (workflows.Reconcile).
const ReconcileScheduleID = "maintenance/reconcile-runs"

// ReconcileEvery is how often the reconciler runs. With its quiet period
// (workflows.DefaultReconcileQuiet, one minute), the row of a run
// terminated from Temporal is final within 5 + 1 minutes, plus the
// reconciler's own few seconds: under the 7 minutes promised to operators.
const ReconcileEvery = 5 * time.Minute

// EnsureReconcileSchedule creates the reconciler's schedule when it is
// missing and says whether it did (ScheduleCreated or ScheduleUnchanged).
// An existing one is left as it is: an operator may have paused or tuned
// it, and during a rolling deploy old and new workers must not undo each
// other's. To change it, delete it and start a worker.
func EnsureReconcileSchedule(ctx context.Context, c client.Client, taskQueue string) (string, error) {
	return createScheduleIfMissing(ctx, c, client.ScheduleOptions{
		ID:   ReconcileScheduleID,
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: ReconcileEvery}}},
		Action: &client.ScheduleWorkflowAction{
			ID:                 ReconcileScheduleID,
			Workflow:           workflows.ReconcileWorkflowName,
			Args:               []any{workflows.ReconcileInput{}},
			TaskQueue:          taskQueue,
			WorkflowRunTimeout: ReconcileEvery,
		},
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: ReconcileEvery,
		Note:          "managed by crowdflow: ends runs whose workflow is gone (terminated, timed out, never started)",
	})
}

// createScheduleIfMissing creates a maintenance schedule unless one with
// its id exists, and says which (ScheduleCreated or ScheduleUnchanged).
// Two workers creating it at once both succeed.
func createScheduleIfMissing(ctx context.Context, c client.Client, opts client.ScheduleOptions) (string, error) {
	sc := c.ScheduleClient()
	_, err := sc.GetHandle(ctx, opts.ID).Describe(ctx)
	if err == nil {
		return ScheduleUnchanged, nil
	}
	if !isNotFound(err) {
		return "", fmt.Errorf("describe schedule %s: %w", opts.ID, err)
	}
	_, err = sc.Create(ctx, opts)
	switch {
	case err == nil:
		return ScheduleCreated, nil
	case errors.Is(err, temporal.ErrScheduleAlreadyRunning):
		return ScheduleUnchanged, nil
	default:
		return "", fmt.Errorf("create schedule %s: %w", opts.ID, err)
	}
}
