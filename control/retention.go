package control

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/crowdflow/crowdflow/workflows"
)

// RetentionScheduleID is the schedule of the retention workflow.
const RetentionScheduleID = "maintenance/retention"

// The retention pass runs every day at 01:00 UTC (crowd.dev's cleanUp ran
// weekly at that hour; daily keeps each pass small). Intervals count from
// the Unix epoch, so a day's interval with an hour's offset is 01:00 UTC.
const (
	RetentionEvery  = 24 * time.Hour
	retentionOffset = time.Hour
	// retentionRunTimeout bounds a pass stuck on a missing worker, so the
	// next day's pass is not skipped for ever by the overlap policy.
	retentionRunTimeout = 12 * time.Hour
)

// EnsureRetentionSchedule creates the retention schedule when it is
// missing and says whether it did (ScheduleCreated or ScheduleUnchanged).
// An existing one is left as it is, whatever it says: an operator may have
// paused or moved it, and a worker never changes schedules (see
// EnsureSchedules). The age of what is deleted is the worker's setting
// (RETENTION_MAX_AGE), not the schedule's.
func EnsureRetentionSchedule(ctx context.Context, c client.Client, taskQueue string) (string, error) {
	return createScheduleIfMissing(ctx, c, client.ScheduleOptions{
		ID:   RetentionScheduleID,
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: RetentionEvery, Offset: retentionOffset}}},
		Action: &client.ScheduleWorkflowAction{
			ID:                 RetentionScheduleID,
			Workflow:           workflows.RetentionWorkflowName,
			Args:               []any{workflows.RetentionInput{}},
			TaskQueue:          taskQueue,
			WorkflowRunTimeout: retentionRunTimeout,
		},
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: RetentionEvery,
		Note:          "managed by crowdflow: deletes processed runs older than the worker's RETENTION_MAX_AGE (default 90 days)",
	})
}
