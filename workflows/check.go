package workflows

import (
	"errors"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Names of the scheduled check as they appear in Temporal Web. The
// activities are called by name: they start runs through package control,
// which imports this package, so they live in package checks and this
// package cannot refer to them by function (see checks/doc.go).
const (
	CheckWorkflowName = "IntegrationCheck"

	ListDoneIntegrationsActivity = "ListDoneIntegrations"
	StartCheckRunActivity        = "StartCheckRun"

	// ErrTypeNotStartable is an integration a check cannot start: gone
	// since it was listed, or of a platform without a service. Never
	// retried.
	ErrTypeNotStartable = "NotStartable"
)

// CheckInput is the input of IntegrationCheck: the schedule
// integration-check/<platform> starts it with only Platform set; After and
// Totals carry the position across continue-as-new.
type CheckInput struct {
	Platform string
	// After is the last integration id handled by earlier executions.
	After  string      `json:",omitempty"`
	Totals CheckResult `json:",omitzero"`
}

// CheckResult counts what a check did.
type CheckResult struct {
	Platform string
	// Listed integrations had status done.
	Listed int
	// Started got a new check run.
	Started int
	// Skipped already had a run in progress (a check or an onboarding),
	// or was no longer done when its turn came.
	Skipped int
	// Failed could not be started; the check went on with the others.
	Failed int
	// FailedIDs names the first failed integrations (at most
	// maxFailedIDs).
	FailedIDs []string `json:",omitempty"`
}

const maxFailedIDs = 20

// CheckPageInput asks for a page of the ids of a platform's integrations
// whose status is done, in id order, after After.
type CheckPageInput struct {
	Platform string
	After    string
	Limit    int
}

// StartCheckRunInput starts a check run of one integration. RunID is
// derived from the check's execution and the integration, so a retried
// start recognises the run its earlier attempt started.
type StartCheckRunInput struct {
	IntegrationID string
	RunID         string
	// Platform is the check's: a companion service's (twitter-reach)
	// starts a run of that service on the integration.
	Platform string `json:",omitempty"`
}

// StartCheckRunResult says whether a run was started; when not, RunID is the
// run already in progress (empty if Temporal did not say which).
type StartCheckRunResult struct {
	Started bool
	RunID   string
}

// Check is the scheduled check workflow and its tunables, the counterpart
// of the original's processCheck. Take DefaultCheck and adjust.
type Check struct {
	// PageSize is how many integration ids one list activity returns; the
	// starts of one page run concurrently.
	PageSize int
	// MaxPerExecution bounds the integrations one execution handles before
	// it continues as new (Temporal may suggest it earlier).
	MaxPerExecution int
	// StartRetry is the retry policy of one start; when it is spent the
	// integration counts as failed and the check goes on.
	StartRetry temporal.RetryPolicy
}

// DefaultCheck is the production configuration.
func DefaultCheck() *Check {
	return &Check{
		PageSize:        100,
		MaxPerExecution: 1000,
		StartRetry: temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Second,
			MaximumAttempts:        3,
			NonRetryableErrorTypes: []string{ErrTypeNotStartable},
		},
	}
}

// Register registers the workflow. Its activities are registered by
// checks.Register, which calls this.
func (c *Check) Register(w worker.Registry) {
	w.RegisterWorkflowWithOptions(c.Execute, workflow.RegisterOptions{Name: CheckWorkflowName})
}

// checkRunNamespace makes check run ids: a name-based UUID of the check's
// execution and the integration.
var checkRunNamespace = uuid.MustParse("5f0c1b0e-7d1a-4c35-9a53-3a0c8e1f6b27")

// CheckRunID is the run id a check execution gives the run it starts for an
// integration. Deterministic, so the workflow can compute it on replay and
// a retried start activity gets the same one.
func CheckRunID(checkRunID, integrationID string) string {
	return uuid.NewSHA1(checkRunNamespace, []byte(checkRunID+"/"+integrationID)).String()
}

// Execute lists the platform's done integrations a page at a time and starts
// a check run of each one that has no run in progress. It never holds the
// whole list: the position is the last id, carried over continue-as-new.
// A failed start is counted and logged; the others go on.
func (c *Check) Execute(ctx workflow.Context, in CheckInput) (*CheckResult, error) {
	log := workflow.GetLogger(ctx)
	res := in.Totals
	res.Platform = in.Platform
	listCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
			MaximumAttempts:    10,
		},
	})
	startCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &c.StartRetry,
	})
	pageSize := c.PageSize
	if pageSize < 1 {
		pageSize = DefaultCheck().PageSize
	}
	thisRun := workflow.GetInfo(ctx).WorkflowExecution.RunID
	handled := 0
	for {
		var ids []string
		if err := workflow.ExecuteActivity(listCtx, ListDoneIntegrationsActivity, CheckPageInput{
			Platform: in.Platform, After: in.After, Limit: pageSize,
		}).Get(ctx, &ids); err != nil {
			// Without the list there is nothing to check; the next tick
			// tries again.
			return nil, err
		}
		futures := make([]workflow.Future, len(ids))
		for i, id := range ids {
			futures[i] = workflow.ExecuteActivity(startCtx, StartCheckRunActivity, StartCheckRunInput{
				IntegrationID: id, RunID: CheckRunID(thisRun, id), Platform: in.Platform,
			})
		}
		for i, f := range futures {
			var started StartCheckRunResult
			err := f.Get(ctx, &started)
			switch {
			case err != nil && temporal.IsCanceledError(err):
				return nil, err
			case err != nil:
				res.Failed++
				if len(res.FailedIDs) < maxFailedIDs {
					res.FailedIDs = append(res.FailedIDs, ids[i])
				}
				log.Warn("could not start a check run", "integrationId", ids[i], "error", err, "nonRetryable", nonRetryable(err))
			case started.Started:
				res.Started++
			default:
				res.Skipped++
			}
		}
		res.Listed += len(ids)
		handled += len(ids)
		if len(ids) < pageSize {
			return &res, nil
		}
		in.After = ids[len(ids)-1]
		if handled >= c.MaxPerExecution || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			in.Totals = res
			log.Info("continuing as new", "after", in.After, "listed", res.Listed)
			return nil, workflow.NewContinueAsNewError(ctx, CheckWorkflowName, in)
		}
	}
}

func nonRetryable(err error) bool {
	var actErr *temporal.ActivityError
	return errors.As(err, &actErr) && actErr.RetryState() == enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE
}
