package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The reconciler: a scheduled workflow (schedule maintenance/reconcile-runs,
// see control.EnsureReconcileSchedule) that ends the runs whose rows say
// they are in progress while no workflow runs them. A run terminated from
// Temporal Web or the CLI runs no code at all, and a workflow that timed
// out or was never started leaves its row as it was; without this, such a
// row stays processing or delayed for ever and its onboarding integration
// stays in-progress, which the checks skip.
//
// Its activity is called by name: it needs a Temporal client and lives in
// package checks (see checks/doc.go), as the check's activities do.
const (
	ReconcileWorkflowName = "ReconcileRuns"
	ReconcileRunsActivity = "ReconcileRunsPage"
)

// ReconcileInput tunes one reconciliation. The zero value takes the
// defaults.
type ReconcileInput struct {
	// Quiet is how long a row must have been left unchanged before its
	// workflow is asked about (default DefaultReconcileQuiet).
	Quiet time.Duration `json:",omitempty"`
	// PageSize is how many rows one activity looks at (default 100).
	PageSize int `json:",omitempty"`
	// After is the last run id looked at by earlier executions (carried
	// over continue-as-new); Totals what they did.
	After  string          `json:",omitempty"`
	Totals ReconcileResult `json:",omitzero"`
}

// DefaultReconcileQuiet is the quiet period of a row: long enough that no
// starter or workflow is writing it at that moment, short enough that a
// terminated run is ended by the next tick but one at worst: with a tick
// every 5 minutes, within 5 minutes plus this.
const DefaultReconcileQuiet = time.Minute

// ReconcilePageInput is one page of the reconciliation.
type ReconcilePageInput struct {
	Quiet time.Duration
	After string
	Limit int
}

// ReconcileResult counts what a reconciliation did.
type ReconcileResult struct {
	// Checked rows were in progress and quiet.
	Checked int
	// Ended rows had no workflow running them and were ended as error.
	Ended int
	// EndedIDs names the first ended runs (at most maxFailedIDs).
	EndedIDs []string `json:",omitempty"`
	// Last is the last run id looked at (the page's cursor).
	Last string `json:",omitempty"`
}

// Reconcile is the reconciler workflow.
type Reconcile struct{}

// Register registers the workflow; checks.Register registers its activity.
func (Reconcile) Register(w worker.Registry) {
	w.RegisterWorkflowWithOptions(Reconcile{}.Execute, workflow.RegisterOptions{Name: ReconcileWorkflowName})
}

// Execute pages through the quiet in-progress rows and ends the orphaned
// ones. Deterministic: it decides only from its input and activity
// results.
func (Reconcile) Execute(ctx workflow.Context, in ReconcileInput) (*ReconcileResult, error) {
	quiet := in.Quiet
	if quiet <= 0 {
		quiet = DefaultReconcileQuiet
	}
	size := in.PageSize
	if size <= 0 {
		size = 100
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
			MaximumAttempts:    10,
		},
	})
	res := in.Totals
	for pages := 0; ; pages++ {
		var page ReconcileResult
		if err := workflow.ExecuteActivity(actx, ReconcileRunsActivity, ReconcilePageInput{
			Quiet: quiet, After: in.After, Limit: size,
		}).Get(ctx, &page); err != nil {
			// The next tick tries again.
			return nil, err
		}
		res.Checked += page.Checked
		res.Ended += page.Ended
		for _, id := range page.EndedIDs {
			if len(res.EndedIDs) < maxFailedIDs {
				res.EndedIDs = append(res.EndedIDs, id)
			}
		}
		if page.Checked < size || page.Last == "" {
			return &res, nil
		}
		in.After = page.Last
		if pages >= 50 || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			in.Totals = res
			return nil, workflow.NewContinueAsNewError(ctx, ReconcileWorkflowName, in)
		}
	}
}
