package checks

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// Activities are the check's activities. Controller must have Store,
// Temporal, Registry and the TaskQueue runs are started on.
type Activities struct {
	Controller *control.Controller
	// Metrics, when set, count what the reconciler does.
	Metrics *ReconcileMetrics
}

// Register registers the check workflow (with its tunables) and its
// activities on a worker.
func Register(w worker.Registry, check *workflows.Check, acts *Activities) {
	check.Register(w)
	w.RegisterActivityWithOptions(acts.ListDoneIntegrations, activity.RegisterOptions{Name: workflows.ListDoneIntegrationsActivity})
	w.RegisterActivityWithOptions(acts.StartCheckRun, activity.RegisterOptions{Name: workflows.StartCheckRunActivity})
	workflows.Reconcile{}.Register(w)
	w.RegisterActivityWithOptions(acts.ReconcileRunsPage, activity.RegisterOptions{Name: workflows.ReconcileRunsActivity})
}

// ListDoneIntegrations returns a page of the ids of a platform's live
// integrations whose status is done, after in.After, in id order.
func (a *Activities) ListDoneIntegrations(ctx context.Context, in workflows.CheckPageInput) ([]string, error) {
	platform := in.Platform
	if base, ok := a.Controller.CompanionOf(platform); ok {
		// A companion service (twitter-reach) checks every integration
		// of the platform it runs on.
		platform = base
	}
	ids, err := a.Controller.Store.ListIntegrationIDs(ctx, platform, store.StatusDone, in.After, in.Limit)
	if err != nil {
		return nil, err
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// StartCheckRun starts a check run of one integration through
// control.Controller.StartCheckRun. An integration with a run in progress,
// or no longer done, is not started (Started false), which is not an error.
func (a *Activities) StartCheckRun(ctx context.Context, in workflows.StartCheckRunInput) (workflows.StartCheckRunResult, error) {
	var started control.Started
	var err error
	if _, ok := a.Controller.CompanionOf(in.Platform); ok {
		started, err = a.Controller.StartServiceRun(ctx, in.IntegrationID, in.Platform, in.RunID)
	} else {
		started, err = a.Controller.StartCheckRun(ctx, in.IntegrationID, in.RunID)
	}
	var running *control.AlreadyRunningError
	var bad *control.BadInputError
	switch {
	case err == nil:
		activity.GetLogger(ctx).Info("check run started", "integrationId", in.IntegrationID, "runId", started.RunID)
		return workflows.StartCheckRunResult{Started: true, RunID: started.RunID}, nil
	case errors.As(err, &running):
		return workflows.StartCheckRunResult{RunID: running.RunID}, nil
	case errors.Is(err, control.ErrNotDone):
		return workflows.StartCheckRunResult{}, nil
	case errors.Is(err, control.ErrNotFound), errors.As(err, &bad):
		return workflows.StartCheckRunResult{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeNotStartable, err)
	default:
		return workflows.StartCheckRunResult{}, err
	}
}
