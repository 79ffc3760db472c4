package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"

	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// ReconcileMetrics are the reconciler's Prometheus metrics.
type ReconcileMetrics struct {
	// Ended counts the runs the reconciler ended, by why:
	// terminated, timed_out, canceled, failed, completed,
	// continued_as_new (the closed status of their workflow), not_found
	// (no workflow at all) or other_run (the workflow runs another run).
	Ended *prometheus.CounterVec
}

// NewReconcileMetrics makes the metrics and registers them on reg (nil:
// not registered).
func NewReconcileMetrics(reg prometheus.Registerer) *ReconcileMetrics {
	m := &ReconcileMetrics{Ended: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crowdflow_runs_reconciled_total",
		Help: "Runs in progress on their row whose workflow was gone (terminated, timed out, never started, replaced), ended as error by the reconciler.",
	}, []string{"reason"})}
	if reg != nil {
		reg.MustRegister(m.Ended)
	}
	return m
}

// ReconcileRunsPage looks at one page of the runs whose rows say pending,
// processing or delayed and have been quiet for in.Quiet, asks Temporal
// about the workflow of each, and ends as error, with the reason, those
// that no workflow runs. The integration of an ended onboarding goes to
// error (store.EndOrphanedRun), where continue-run can take it up.
func (a *Activities) ReconcileRunsPage(ctx context.Context, in workflows.ReconcilePageInput) (workflows.ReconcileResult, error) {
	st := a.Controller.Store
	runs, err := st.StaleActiveRuns(ctx, in.Quiet, in.After, in.Limit)
	if err != nil {
		return workflows.ReconcileResult{}, err
	}
	var res workflows.ReconcileResult
	for _, run := range runs {
		activity.RecordHeartbeat(ctx, run.ID)
		res.Checked++
		res.Last = run.ID
		reason, why, err := a.orphaned(ctx, run)
		if err != nil {
			return res, err
		}
		if reason == "" {
			continue
		}
		ended, err := st.EndOrphanedRun(ctx, run.ID, in.Quiet, store.Failure{ErrorPoint: store.ErrorPointReconciled, Message: reason})
		if err != nil {
			return res, err
		}
		if !ended {
			continue
		}
		res.Ended++
		if len(res.EndedIDs) < 20 {
			res.EndedIDs = append(res.EndedIDs, run.ID)
		}
		if a.Metrics != nil {
			a.Metrics.Ended.WithLabelValues(why).Inc()
		}
		activity.GetLogger(ctx).Warn("run ended by the reconciler", "runId", run.ID, "integrationId", run.IntegrationID, "reason", reason)
	}
	return res, nil
}

// orphaned says why no workflow runs the run ("" when one does), with a
// short label for the metric.
func (a *Activities) orphaned(ctx context.Context, run store.StaleRun) (reason, why string, err error) {
	wid := run.WorkflowID
	if wid == "" {
		wid = workflows.WorkflowID(run.IntegrationID)
	}
	desc, err := a.Controller.Temporal.DescribeWorkflowExecution(ctx, wid, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return fmt.Sprintf("the run was %s but its workflow %s does not exist", run.State, wid), "not_found", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("describe workflow %s: %w", wid, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	memo, err := workflows.ReadMemo(info.GetMemo())
	if err != nil {
		return "", "", fmt.Errorf("read the memo of workflow %s: %w", wid, err)
	}
	status := info.GetStatus()
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		if memo.RunID == run.ID || memo.RunID == "" {
			return "", "", nil
		}
		return fmt.Sprintf("the run was %s but its workflow %s runs another run (%s)", run.State, wid, memo.RunID), "other_run", nil
	}
	name := strings.ToLower(strings.TrimPrefix(status.String(), "WORKFLOW_EXECUTION_STATUS_"))
	// The ids of the latest execution: the run's own if memo says so.
	what := "its workflow " + wid
	if memo.RunID != "" && memo.RunID != run.ID {
		what = fmt.Sprintf("its workflow %s (last used by run %s)", wid, memo.RunID)
	}
	closed := ""
	if t := info.GetCloseTime(); t != nil {
		closed = " at " + t.AsTime().UTC().Format("2006-01-02T15:04:05Z")
	}
	return fmt.Sprintf("the run was %s but %s was %s%s without recording its end", run.State, what, readable(name), closed), name, nil
}

func readable(status string) string {
	return strings.ReplaceAll(status, "_", " ")
}
