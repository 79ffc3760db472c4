package control

// Temporal Schedules replace the original's one-minute tick (processTick):
// one schedule integration-check/<platform> per service that is polled,
// whose action is the IntegrationCheck workflow (processCheck). The
// registry is the source of truth; SyncSchedules (`starter schedules
// sync`) makes Temporal match it, and EnsureSchedules (every worker at
// start) only creates the missing ones.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// ScheduleIDPrefix starts the id of every schedule SyncSchedules owns.
// Schedules with this prefix whose platform is not in the registry are
// deleted by it.
const ScheduleIDPrefix = "integration-check/"

// checkRunTimeout bounds one execution of a scheduled check, so a check
// stuck on a missing worker cannot block later ones forever (the overlap
// policy skips a tick while a check runs).
const checkRunTimeout = 30 * time.Minute

// ScheduleID is the id of a platform's check schedule.
func ScheduleID(platform string) string { return ScheduleIDPrefix + platform }

// CheckInterval is how often a platform with the given Ticks is checked: a
// tick is a minute, 0 means every minute, and a negative value means never
// (onboarding only), reported as false.
func CheckInterval(ticks int) (time.Duration, bool) {
	switch {
	case ticks < 0:
		return 0, false
	case ticks == 0:
		return time.Minute, true
	default:
		return time.Duration(ticks) * time.Minute, true
	}
}

// checkJitter spreads the checks of platforms due at the same minute: a
// tenth of the interval, at most a minute.
func checkJitter(interval time.Duration) time.Duration {
	return min(interval/10, time.Minute)
}

// checkCatchup is how late a check missed while Temporal was down may
// still run: one interval, so an outage is followed by one check, not a
// burst of them.
func checkCatchup(interval time.Duration) time.Duration {
	return max(interval, time.Minute)
}

// What SyncSchedules did to a schedule.
const (
	ScheduleCreated   = "created"
	ScheduleUpdated   = "updated"
	ScheduleUnchanged = "unchanged"
	ScheduleDeleted   = "deleted"
)

// ScheduleChange is what SyncSchedules did to one schedule.
type ScheduleChange struct {
	ID       string        `json:"id"`
	Platform string        `json:"platform"`
	Action   string        `json:"action"`
	Interval time.Duration `json:"interval,omitempty"`
}

// ScheduleReport lists what SyncSchedules did, in schedule id order.
type ScheduleReport struct {
	Changes []ScheduleChange `json:"changes"`
}

// IDs returns the ids of the schedules that got the given action.
func (r ScheduleReport) IDs(action string) []string {
	var out []string
	for _, c := range r.Changes {
		if c.Action == action {
			out = append(out, c.ID)
		}
	}
	return out
}

// SyncSchedules makes the check schedules match the registry:
//   - a service with Ticks >= 0 gets the schedule integration-check/<platform>,
//     every Ticks minutes (0: every minute), overlap policy skip, a little
//     jitter, starting IntegrationCheck on taskQueue; an existing one that
//     differs (interval, task queue, policy) is updated, keeping whether an
//     operator paused it and the note;
//   - a service with negative Ticks has none: an existing one is deleted;
//   - a schedule with the prefix whose platform is not in the registry is
//     deleted.
//
// It is idempotent. On errors it goes on with the other schedules and
// returns what it did with the errors joined. It is what `starter
// schedules sync` runs: workers run EnsureSchedules.
func SyncSchedules(ctx context.Context, c client.Client, reg *registry.Registry, taskQueue string) (ScheduleReport, error) {
	return syncSchedules(ctx, c, reg, taskQueue, false)
}

// EnsureSchedules creates the check schedules of the registry's polled
// platforms that are missing, and changes nothing else: an existing
// schedule is reported unchanged even if it differs, and none is deleted.
// It is what a worker runs at start. During a rolling deploy old and new
// workers start side by side with different registries; if each made the
// schedules match its own, they would undo each other's changes at every
// restart. Changing or removing a schedule is an operator's step, `starter
// schedules sync`, run once the new release is out.
func EnsureSchedules(ctx context.Context, c client.Client, reg *registry.Registry, taskQueue string) (ScheduleReport, error) {
	return syncSchedules(ctx, c, reg, taskQueue, true)
}

func syncSchedules(ctx context.Context, c client.Client, reg *registry.Registry, taskQueue string, createOnly bool) (ScheduleReport, error) {
	sc := c.ScheduleClient()
	var rep ScheduleReport
	var errs []error
	seen := map[string]bool{}
	for _, platform := range reg.Platforms() {
		svc, _ := reg.Get(platform)
		id := ScheduleID(platform)
		seen[id] = true
		interval, polled := CheckInterval(svc.Config().Ticks)
		if !polled && createOnly {
			continue
		}
		if !polled {
			deleted, err := deleteSchedule(ctx, sc, id)
			if err != nil {
				errs = append(errs, err)
			} else if deleted {
				rep.Changes = append(rep.Changes, ScheduleChange{ID: id, Platform: platform, Action: ScheduleDeleted})
			}
			continue
		}
		action, err := ensureSchedule(ctx, sc, platform, interval, taskQueue, createOnly)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Changes = append(rep.Changes, ScheduleChange{ID: id, Platform: platform, Action: action, Interval: interval})
	}

	if createOnly {
		return rep, errors.Join(errs...)
	}
	// Platforms gone from the registry. Listing is eventually consistent
	// (visibility), which is fine here: a schedule missed now goes at the
	// next sync.
	listed, err := listScheduleIDs(ctx, sc)
	if err != nil {
		errs = append(errs, err)
	}
	for _, id := range listed {
		if seen[id] {
			continue
		}
		seen[id] = true
		deleted, err := deleteSchedule(ctx, sc, id)
		if err != nil {
			errs = append(errs, err)
		} else if deleted {
			rep.Changes = append(rep.Changes, ScheduleChange{ID: id, Platform: strings.TrimPrefix(id, ScheduleIDPrefix), Action: ScheduleDeleted})
		}
	}
	sort.SliceStable(rep.Changes, func(i, j int) bool { return rep.Changes[i].ID < rep.Changes[j].ID })
	return rep, errors.Join(errs...)
}

// wantedSchedule is the schedule a polled platform should have.
type wantedSchedule struct {
	spec     client.ScheduleSpec
	action   *client.ScheduleWorkflowAction
	policies client.SchedulePolicies
}

func wanted(platform string, interval time.Duration, taskQueue string) wantedSchedule {
	return wantedSchedule{
		spec: client.ScheduleSpec{
			Intervals: []client.ScheduleIntervalSpec{{Every: interval}},
			Jitter:    checkJitter(interval),
		},
		action: &client.ScheduleWorkflowAction{
			// Temporal appends the start time: integration-check/devto-2026-...Z.
			ID:                 ScheduleID(platform),
			Workflow:           workflows.CheckWorkflowName,
			Args:               []any{workflows.CheckInput{Platform: platform}},
			TaskQueue:          taskQueue,
			WorkflowRunTimeout: checkRunTimeout,
		},
		policies: client.SchedulePolicies{
			Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			CatchupWindow: checkCatchup(interval),
		},
	}
}

// matches reports whether a described schedule is the wanted one. Only what
// sync sets is compared: the paused state and the note are the operator's.
func (w wantedSchedule) matches(s client.Schedule) bool {
	spec := s.Spec
	if spec == nil || len(spec.Intervals) != 1 || spec.Intervals[0] != w.spec.Intervals[0] ||
		len(spec.Calendars) != 0 || len(spec.CronExpressions) != 0 || len(spec.Skip) != 0 || spec.Jitter != w.spec.Jitter {
		return false
	}
	if s.Policy == nil || s.Policy.Overlap != w.policies.Overlap || s.Policy.CatchupWindow != w.policies.CatchupWindow {
		return false
	}
	act, ok := s.Action.(*client.ScheduleWorkflowAction)
	if !ok || act.ID != w.action.ID || act.Workflow != w.action.Workflow || act.TaskQueue != w.action.TaskQueue ||
		act.WorkflowRunTimeout != w.action.WorkflowRunTimeout || len(act.Args) != 1 {
		return false
	}
	got, want := decodeCheckInput(act.Args[0]), w.action.Args[0].(workflows.CheckInput)
	return got.Platform == want.Platform && got.After == "" && got.Totals.Listed == 0
}

// decodeCheckInput reads a described schedule's argument (a payload).
func decodeCheckInput(arg any) workflows.CheckInput {
	var in workflows.CheckInput
	switch v := arg.(type) {
	case workflows.CheckInput:
		return v
	case *commonpb.Payload:
		_ = converter.GetDefaultDataConverter().FromPayload(v, &in)
	}
	return in
}

// ensureSchedule creates or (unless createOnly) updates one platform's
// schedule and says which it did.
func ensureSchedule(ctx context.Context, sc client.ScheduleClient, platform string, interval time.Duration, taskQueue string, createOnly bool) (string, error) {
	id := ScheduleID(platform)
	w := wanted(platform, interval, taskQueue)
	h := sc.GetHandle(ctx, id)
	desc, err := h.Describe(ctx)
	if isNotFound(err) {
		_, err = sc.Create(ctx, client.ScheduleOptions{
			ID:            id,
			Spec:          w.spec,
			Action:        w.action,
			Overlap:       w.policies.Overlap,
			CatchupWindow: w.policies.CatchupWindow,
			Note:          "managed by crowdflow (starter schedules sync): interval from the registry's Ticks",
		})
		if err == nil {
			return ScheduleCreated, nil
		}
		if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			return "", fmt.Errorf("create schedule %s: %w", id, err)
		}
		// Another worker created it meanwhile: check it as an existing one.
		desc, err = h.Describe(ctx)
	}
	if err != nil {
		return "", fmt.Errorf("describe schedule %s: %w", id, err)
	}
	if createOnly || w.matches(desc.Schedule) {
		return ScheduleUnchanged, nil
	}
	updated := false
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		if w.matches(s) {
			return nil, temporal.ErrSkipScheduleUpdate
		}
		spec, policies := w.spec, w.policies
		if s.Policy != nil {
			policies.PauseOnFailure = s.Policy.PauseOnFailure
		}
		s.Spec, s.Action, s.Policy = &spec, w.action, &policies
		// s.State (paused, note, remaining actions) is kept as it is.
		updated = true
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
	if err != nil {
		return "", fmt.Errorf("update schedule %s: %w", id, err)
	}
	if !updated {
		return ScheduleUnchanged, nil
	}
	return ScheduleUpdated, nil
}

// deleteSchedule deletes a schedule and says whether there was one.
func deleteSchedule(ctx context.Context, sc client.ScheduleClient, id string) (bool, error) {
	err := sc.GetHandle(ctx, id).Delete(ctx)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete schedule %s: %w", id, err)
	}
	return true, nil
}

// listScheduleIDs lists the ids of the schedules with the prefix.
func listScheduleIDs(ctx context.Context, sc client.ScheduleClient) ([]string, error) {
	it, err := sc.List(ctx, client.ScheduleListOptions{PageSize: 200})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var out []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return out, fmt.Errorf("list schedules: %w", err)
		}
		if strings.HasPrefix(e.ID, ScheduleIDPrefix) {
			out = append(out, e.ID)
		}
	}
	return out, nil
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// ScheduleStatus is one check schedule as Temporal has it.
type ScheduleStatus struct {
	ID       string        `json:"id"`
	Platform string        `json:"platform"`
	Interval time.Duration `json:"interval"`
	Paused   bool          `json:"paused"`
	Note     string        `json:"note,omitempty"`
	// NextRun is the next scheduled check; zero when none is due (paused).
	NextRun time.Time `json:"nextRun,omitzero"`
	// LastRun is when the last check started (scheduled or triggered).
	LastRun time.Time `json:"lastRun,omitzero"`
	// Running counts the checks running now.
	Running int `json:"running"`
}

// ListSchedules describes the check schedules: those of the registry's
// platforms (read directly, so a schedule created a moment ago shows) and
// any other with the prefix (found by listing).
func ListSchedules(ctx context.Context, c client.Client, reg *registry.Registry) ([]ScheduleStatus, error) {
	sc := c.ScheduleClient()
	ids := map[string]bool{}
	for _, p := range reg.Platforms() {
		ids[ScheduleID(p)] = true
	}
	listed, err := listScheduleIDs(ctx, sc)
	if err != nil {
		return nil, err
	}
	for _, id := range listed {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	var out []ScheduleStatus
	for _, id := range sorted {
		desc, err := sc.GetHandle(ctx, id).Describe(ctx)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("describe schedule %s: %w", id, err)
		}
		st := ScheduleStatus{ID: id, Platform: strings.TrimPrefix(id, ScheduleIDPrefix), Running: len(desc.Info.RunningWorkflows)}
		if s := desc.Schedule.Spec; s != nil && len(s.Intervals) > 0 {
			st.Interval = s.Intervals[0].Every
		}
		if s := desc.Schedule.State; s != nil {
			st.Paused, st.Note = s.Paused, s.Note
		}
		if !st.Paused && len(desc.Info.NextActionTimes) > 0 {
			st.NextRun = desc.Info.NextActionTimes[0]
		}
		if n := len(desc.Info.RecentActions); n > 0 {
			st.LastRun = desc.Info.RecentActions[n-1].ActualTime
		}
		out = append(out, st)
	}
	return out, nil
}

// ErrNotDone refuses a check run of an integration whose status is not
// done: as in the original, integrations in error, in progress or pending
// an action are never polled.
var ErrNotDone = errors.New("integration status is not done")

// StartCheckRun starts a check run, with the given run id, of an
// integration whose status is done: the scheduled check's start. It is
// StartRun's logic (a run in progress, check or onboarding, refuses it
// with *AlreadyRunningError), made idempotent on runID: when the run with
// that id exists or is the one running, an earlier attempt of this same
// start made it, and it is reported started rather than started twice.
func (c *Controller) StartCheckRun(ctx context.Context, integrationID, runID string) (Started, error) {
	wid := workflows.WorkflowID(integrationID)
	if run, err := c.Store.GetRun(ctx, runID); err == nil {
		return Started{IntegrationID: run.IntegrationID, RunID: run.ID, WorkflowID: wid, WorkflowRunID: run.WorkflowRunID}, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return Started{}, err
	}
	integ, err := c.Store.GetIntegration(ctx, integrationID)
	if errors.Is(err, store.ErrNotFound) {
		return Started{}, fmt.Errorf("integration %s: %w", integrationID, ErrNotFound)
	}
	if err != nil {
		return Started{}, err
	}
	if integ.Status != store.StatusDone {
		return Started{}, fmt.Errorf("integration %s (%s): %w", integrationID, integ.Status, ErrNotDone)
	}
	started, err := c.startRun(ctx, integrationID, false, runID)
	var running *AlreadyRunningError
	if errors.As(err, &running) && running.RunID == runID {
		return Started{IntegrationID: integrationID, RunID: runID, WorkflowID: wid}, nil
	}
	return started, err
}
