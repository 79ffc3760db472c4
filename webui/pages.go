package webui

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// Query parameters of the integrations page.
const (
	paramTenant   = "tenant"
	paramPlatform = "platform"
	paramStatus   = "status"
)

// integrationStatuses are the values of the status filter.
var integrationStatuses = []string{store.StatusInProgress, store.StatusDone, store.StatusError, store.StatusPendingAction, store.StatusNeedsReconnect}

// maxListed bounds the rows of a list page.
const maxListed = 200

// tenantOf is the tenant a page is about: a tenant token's own, or the
// one an operator chose ("" when none yet).
func tenantOf(r *http.Request) string {
	p := current(r).principal
	if !p.Operator {
		return p.TenantID
	}
	return r.URL.Query().Get(paramTenant)
}

// integrationsPage lists a tenant's integrations with their latest run and
// the next scheduled check; an operator first picks a tenant.
func (u *UI) integrationsPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := timeout(r)
	defer cancel()
	tenant := tenantOf(r)
	q := r.URL.Query()
	data := map[string]any{
		"Platforms": u.ctl.Registry.Platforms(), "Statuses": integrationStatuses,
		"Platform": q.Get(paramPlatform), "Status": q.Get(paramStatus),
	}
	if tenant == "" {
		tenants, err := u.store.ListTenants(ctx, maxListed)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		data["Tenants"] = tenants
		u.render(w, r, http.StatusOK, "tenants", page{Title: "Tenants"}, data)
		return
	}
	if !store.ValidUUID(tenant) {
		u.notFound(w, r, "Tenant "+tenant)
		return
	}
	list, err := u.store.ListIntegrations(ctx, store.IntegrationFilter{
		TenantID: tenant, Platform: q.Get(paramPlatform), Status: q.Get(paramStatus), Limit: maxListed,
	})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	data["Integrations"] = list
	data["NextChecks"] = u.nextChecks(ctx)
	u.render(w, r, http.StatusOK, "integrations", page{Title: "Integrations", Tenant: tenant}, data)
}

// nextChecks maps a platform to its next scheduled check. Temporal being
// slow or down leaves the column empty rather than failing the page.
func (u *UI) nextChecks(ctx context.Context) map[string]*time.Time {
	out := map[string]*time.Time{}
	if u.ctl.Temporal == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	list, err := control.ListSchedules(ctx, u.ctl.Temporal, u.ctl.Registry)
	if err != nil {
		u.logger.Warn("webui: cannot read the check schedules", "err", err)
	}
	for _, s := range list {
		if !s.NextRun.IsZero() {
			out[s.Platform] = &s.NextRun
		}
	}
	return out
}

// runPageData is what the run page and its live fragment show.
type runPageData struct {
	Run         *store.Run
	Platform    string
	Status      string
	Counts      map[string]int
	Failures    []store.StreamFailure
	Progress    *workflows.Progress
	SleepUntil  *time.Time
	SleepReason string
	Final       bool
	TemporalURL string
}

// progressTimeout bounds the progress query: a run whose worker is down
// does not answer, and the page shows what the database says.
const progressTimeout = 2 * time.Second

// loadRun reads a run for the principal; another tenant's run is not found.
func (u *UI) loadRun(ctx context.Context, r *http.Request, id string) (*runPageData, error) {
	run, err := u.store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if !current(r).principal.CanSee(run.TenantID) {
		return nil, store.ErrNotFound
	}
	d := &runPageData{Run: run, Final: run.State == store.RunProcessed || run.State == store.RunError}
	integ, err := u.store.GetIntegration(ctx, run.IntegrationID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		d.Platform, d.Status = integ.Platform, integ.Status
	}
	if d.Counts, err = u.store.StreamCounts(ctx, run.ID); err != nil {
		return nil, err
	}
	if d.Failures, err = u.store.FailedStreams(ctx, run.ID, 20); err != nil {
		return nil, err
	}
	if run.State == store.RunDelayed && run.DelayedUntil != nil {
		d.SleepUntil, d.SleepReason = run.DelayedUntil, run.DelayReason
	}
	if !d.Final && u.ctl.Temporal != nil {
		qctx, cancel := context.WithTimeout(ctx, progressTimeout)
		if p, ok := u.progress(qctx, run); ok {
			d.Progress = &p
			if p.Sleeping != nil {
				until := p.Sleeping.Until
				d.SleepUntil, d.SleepReason = &until, p.Sleeping.Reason
			}
		}
		cancel()
	}
	d.TemporalURL = api.TemporalWebURL(u.uiURL, u.namespace, run.WorkflowID, run.WorkflowRunID)
	return d, nil
}

// progress asks the run's workflow for its progress. The workflow id names
// the integration (and the service of a companion run), not the run: the
// execution running now is asked only when its memo names this run, or a
// newer run's progress would show on an older run's page.
func (u *UI) progress(ctx context.Context, run *store.Run) (workflows.Progress, bool) {
	wid := run.WorkflowID
	if wid == "" {
		wid = workflows.WorkflowID(run.IntegrationID)
	}
	desc, err := u.ctl.Temporal.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		return workflows.Progress{}, false
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return workflows.Progress{}, false
	}
	if m, err := workflows.ReadMemo(info.GetMemo()); err != nil || m.RunID != run.ID {
		return workflows.Progress{}, false
	}
	// Asked of that execution, so that a run started meanwhile is not.
	var p workflows.Progress
	v, err := u.ctl.Temporal.QueryWorkflow(ctx, wid, info.GetExecution().GetRunId(), workflows.ProgressQuery)
	if err != nil || v.Get(&p) != nil {
		return workflows.Progress{}, false
	}
	return p, true
}

func (u *UI) runPage(w http.ResponseWriter, r *http.Request) {
	u.showRun(w, r, http.StatusOK, "")
}

// showRun renders the run page, with a message after a refused action.
func (u *UI) showRun(w http.ResponseWriter, r *http.Request, status int, flash string) {
	ctx, cancel := timeout(r)
	defer cancel()
	id := chi.URLParam(r, "id")
	d, err := u.loadRun(ctx, r, id)
	if errors.Is(err, store.ErrNotFound) {
		u.notFound(w, r, "Run "+id)
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, status, "run", page{Title: "Run " + id, Tenant: d.Run.TenantID}, map[string]any{"R": d, "Flash": flash})
}

// runLive is the live part of the run page, which its script fetches
// every second and swaps in.
func (u *UI) runLive(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := timeout(r)
	defer cancel()
	d, err := u.loadRun(ctx, r, chi.URLParam(r, "id"))
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "run not found", http.StatusNotFound)
		return
	}
	if err != nil {
		u.logger.Error("webui: live run", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	u.renderFragment(w, r, "run", "live", map[string]any{"R": d})
}

// startRun starts a check run, or an onboarding with onboarding=1, and
// shows it.
func (u *UI) startRun(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := timeout(r)
	defer cancel()
	id := chi.URLParam(r, "id")
	integ, err := u.store.GetIntegration(ctx, id)
	if err == nil && !current(r).principal.CanSee(integ.TenantID) {
		err = store.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			u.notFound(w, r, "Integration "+id)
			return
		}
		u.fail(w, r, err)
		return
	}
	st, err := u.ctl.StartRun(ctx, id, r.PostFormValue("onboarding") == "1")
	u.afterAction(w, r, st, err)
}

// continueRun re-processes a run's pending and failed streams.
func (u *UI) continueRun(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := timeout(r)
	defer cancel()
	id := chi.URLParam(r, "id")
	run, err := u.store.GetRun(ctx, id)
	if err == nil && !current(r).principal.CanSee(run.TenantID) {
		err = store.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			u.notFound(w, r, "Run "+id)
			return
		}
		u.fail(w, r, err)
		return
	}
	st, err := u.ctl.ContinueRun(ctx, id)
	u.afterAction(w, r, st, err)
}

// afterAction shows the started run, or the page the action came from
// with why it was refused (a run in progress links to it).
func (u *UI) afterAction(w http.ResponseWriter, r *http.Request, st control.Started, err error) {
	if err == nil {
		http.Redirect(w, r, u.base+"/runs/"+st.RunID, http.StatusSeeOther)
		return
	}
	status, msg := u.actionError(r, err)
	var running *control.AlreadyRunningError
	if errors.As(err, &running) && running.RunID != "" {
		u.render(w, r, status, "error", page{Title: "A run is in progress"},
			map[string]any{"Message": msg, "RunID": running.RunID})
		return
	}
	u.render(w, r, status, "error", page{Title: "Not started"}, map[string]any{"Message": msg})
}

// operatorsPage lists the runs, across tenants, that are delayed, failed or
// stuck, newest first. Operators only.
func (u *UI) operatorsPage(w http.ResponseWriter, r *http.Request) {
	if !current(r).principal.Operator {
		u.render(w, r, http.StatusForbidden, "error", page{Title: "Operators only"},
			map[string]any{"Message": "This page lists every tenant's runs: it needs the operator token."})
		return
	}
	ctx, cancel := timeout(r)
	defer cancel()
	runs, err := u.store.AttentionRuns(ctx, u.stuckAfter, maxListed)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "operators", page{Title: "Runs that need attention"},
		map[string]any{"Runs": runs, "StuckAfter": roughly(u.stuckAfter)})
}
