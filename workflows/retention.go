package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crowdflow/crowdflow/activities"
)

// RetentionWorkflowName is the retention workflow as Temporal Web shows it;
// the schedule maintenance/retention starts it (control.RetentionScheduleID).
const RetentionWorkflowName = "Retention"

// RetentionInput carries the totals across continue-as-new; the schedule
// starts it empty.
type RetentionInput struct {
	Totals RetentionResult `json:",omitzero"`
}

// RetentionResult counts what a retention pass deleted.
type RetentionResult struct {
	Runs    int
	Streams int
	Batches int
}

// Retention deletes processed runs older than the worker's retention age,
// a batch per activity, until none is left: the counterpart of crowd.dev's
// weekly cleanUp job. Take DefaultRetention and adjust.
type Retention struct {
	// MaxBatchesPerExecution bounds one execution's history before it
	// continues as new (Temporal may suggest it earlier).
	MaxBatchesPerExecution int
	// Retry is the policy of one batch. A batch that keeps failing ends
	// the pass; the next scheduled one starts over.
	Retry temporal.RetryPolicy
}

// DefaultRetention is the production configuration.
func DefaultRetention() *Retention {
	return &Retention{
		MaxBatchesPerExecution: 500,
		Retry: temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    10,
		},
	}
}

// Register registers the workflow and its activity.
func (r *Retention) Register(w worker.Registry, acts *activities.Retention) {
	w.RegisterWorkflowWithOptions(r.Execute, workflow.RegisterOptions{Name: RetentionWorkflowName})
	w.RegisterActivity(acts.DeleteOldRuns)
}

// Execute deletes batches until one comes back short. The cutoff is taken
// by the activity from the database's clock, so the workflow holds no time
// and replays the same whatever the worker's clock says.
func (r *Retention) Execute(ctx workflow.Context, in RetentionInput) (*RetentionResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &r.Retry,
	})
	res := in.Totals
	var acts *activities.Retention
	for n := 1; ; n++ {
		var batch activities.DeleteOldRunsResult
		if err := workflow.ExecuteActivity(ctx, acts.DeleteOldRuns).Get(ctx, &batch); err != nil {
			return &res, err
		}
		res.Runs += batch.Runs
		res.Streams += batch.Streams
		res.Batches++
		if !batch.More {
			workflow.GetLogger(ctx).Info("retention pass done", "runs", res.Runs, "streams", res.Streams, "batches", res.Batches)
			return &res, nil
		}
		if n >= r.MaxBatchesPerExecution || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return nil, workflow.NewContinueAsNewError(ctx, RetentionWorkflowName, RetentionInput{Totals: res})
		}
	}
}
