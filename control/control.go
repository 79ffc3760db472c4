// Package control is what starts and drives runs: connecting an
// integration, starting a run, continuing a stuck or failed run, waiting for
// one. The starter commands and the HTTP API both call it, so they behave
// the same.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// BadInputError is a request that can never succeed as given. Nothing was
// written.
type BadInputError struct {
	Field   string
	Message string
}

func (e *BadInputError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// ErrNotFound is an unknown integration or run.
var ErrNotFound = errors.New("not found")

// AlreadyRunningError says the integration has a run in progress.
type AlreadyRunningError struct {
	IntegrationID string
	RunID         string
}

func (e *AlreadyRunningError) Error() string {
	if e.RunID == "" {
		return fmt.Sprintf("integration %s already has a run in progress", e.IntegrationID)
	}
	return fmt.Sprintf("integration %s already has run %s in progress", e.IntegrationID, e.RunID)
}

// Controller holds what the operations need. Temporal may be nil for the
// operations that do not start anything.
type Controller struct {
	Store     *store.Store
	Temporal  client.Client
	Registry  *registry.Registry
	TaskQueue string
}

// Started names a started run.
type Started struct {
	IntegrationID string `json:"integrationId"`
	RunID         string `json:"runId"`
	WorkflowID    string `json:"workflowId"`
	WorkflowRunID string `json:"workflowRunId"`
	// Existing is set when a connect found the integration connected
	// already (same identifier, or a retried Idempotency-Key): nothing was
	// created or started, and RunID is its latest run.
	Existing bool `json:"existing,omitempty"`
}

// ConnectInput is a new integration.
type ConnectInput struct {
	TenantID string
	Platform string
	Settings json.RawMessage
	Token    string
	// RefreshToken is stored beside the token for platforms whose tokens
	// expire (Twitter's OAuth2 pair).
	RefreshToken string
	// Identifier is the platform's own id of what was connected (a GitHub
	// App installation id, a Twitter profile id); stored in
	// integrations."integrationIdentifier".
	Identifier string
	// NoOnboard stores the integration without starting its onboarding.
	NoOnboard bool
	// IdempotencyKey is an API client's Idempotency-Key: the same key
	// again returns the integration the first request made.
	IdempotencyKey string
}

// ValidateConnect checks a new integration and returns its normalised
// settings; it writes nothing and calls no API.
func (c *Controller) ValidateConnect(in ConnectInput) (json.RawMessage, error) {
	if !store.ValidUUID(in.TenantID) {
		return nil, &BadInputError{Field: "tenant", Message: "must be a UUID"}
	}
	svc, ok := c.Registry.Get(in.Platform)
	if !ok {
		return nil, &BadInputError{Field: "platform", Message: fmt.Sprintf("unknown platform %q (known: %s)",
			in.Platform, strings.Join(c.Registry.Platforms(), ", "))}
	}
	if comp, ok := svc.(integrations.Companion); ok {
		return nil, &BadInputError{Field: "platform", Message: fmt.Sprintf("%s is not connected: it runs on every done %s integration",
			in.Platform, comp.CompanionOf())}
	}
	settings := in.Settings
	if len(settings) == 0 {
		settings = json.RawMessage(`{}`)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(settings, &obj); err != nil || obj == nil {
		return nil, &BadInputError{Field: "settings", Message: "must be a JSON object"}
	}
	if v, ok := svc.(integrations.SettingsValidator); ok {
		norm, err := v.ValidateSettings(settings)
		if err != nil {
			var fe *integrations.FieldError
			if errors.As(err, &fe) {
				return nil, &BadInputError{Field: "settings." + fe.Field, Message: fe.Message}
			}
			return nil, &BadInputError{Field: "settings", Message: err.Error()}
		}
		if norm != nil {
			settings = norm
		}
	}
	if v, ok := svc.(integrations.IdentifierValidator); ok {
		if err := v.ValidateIdentifier(in.Identifier); err != nil {
			return nil, &BadInputError{Field: "identifier", Message: err.Error()}
		}
	}
	return settings, nil
}

// Connect stores a new integration (creating its tenant if needed) and
// starts its onboarding run. If the run cannot be started the integration
// is removed again, so a failed connect leaves nothing behind; once the run
// has started, nothing is removed whatever fails after.
//
// A connect that repeats an earlier one (the tenant has a live integration
// of the platform with the same identifier, or the request carries the
// Idempotency-Key of an earlier one) creates and starts nothing: it returns
// that integration, with Existing set.
func (c *Controller) Connect(ctx context.Context, in ConnectInput) (Started, error) {
	settings, err := c.ValidateConnect(in)
	if err != nil {
		return Started{}, err
	}
	status := store.StatusInProgress
	if in.NoOnboard {
		status = store.StatusPendingAction
	} else if err := c.checkTemporal(ctx); err != nil {
		return Started{}, err
	}
	id, created, err := c.Store.CreateIntegrationOnce(ctx, store.ConnectOnce{
		NewIntegration: store.NewIntegration{
			TenantID: in.TenantID, Platform: in.Platform, Status: status, Settings: settings, Token: in.Token,
			RefreshToken: in.RefreshToken, Identifier: in.Identifier,
		},
		IdempotencyKey: in.IdempotencyKey,
	})
	if errors.Is(err, store.ErrIdempotencyKeyReused) {
		return Started{}, &BadInputError{Field: "Idempotency-Key", Message: err.Error()}
	}
	if err != nil {
		return Started{}, err
	}
	if !created {
		return c.existing(ctx, id)
	}
	if in.NoOnboard {
		return Started{IntegrationID: id}, nil
	}
	runID := uuid.NewString()
	started, err := c.startRun(ctx, id, true, runID)
	if err != nil {
		// An error may come after the start (the answer lost on the way):
		// an integration whose onboarding runs is never removed.
		if s, ok := c.runningRun(context.WithoutCancel(ctx), id, runID); ok {
			return s, nil
		}
		if derr := c.Store.DeleteIntegration(context.WithoutCancel(ctx), id); derr != nil {
			err = fmt.Errorf("%w (and removing the integration failed: %v)", err, derr)
		}
		return Started{}, err
	}
	return started, nil
}

// existing answers a repeated connect with the integration it repeats and
// its latest run, as far as it is known (the first connect may still be
// starting it).
func (c *Controller) existing(ctx context.Context, integrationID string) (Started, error) {
	out := Started{IntegrationID: integrationID, WorkflowID: workflows.WorkflowID(integrationID), Existing: true}
	run, err := c.Store.LatestRun(ctx, integrationID)
	switch {
	case err == nil:
		out.RunID, out.WorkflowRunID = run.ID, run.WorkflowRunID
	case !errors.Is(err, store.ErrNotFound):
		return Started{}, err
	}
	return out, nil
}

// runningRun reports whether the integration's workflow is running the
// given run, and names it.
func (c *Controller) runningRun(ctx context.Context, integrationID, runID string) (Started, bool) {
	if c.Temporal == nil {
		return Started{}, false
	}
	wid := workflows.WorkflowID(integrationID)
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		return Started{}, false
	}
	info := desc.GetWorkflowExecutionInfo()
	m, err := workflows.ReadMemo(info.GetMemo())
	if err != nil || m.RunID != runID || info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return Started{}, false
	}
	return Started{IntegrationID: integrationID, RunID: runID, WorkflowID: wid, WorkflowRunID: info.GetExecution().GetRunId()}, true
}

func (c *Controller) checkTemporal(ctx context.Context) error {
	if c.Temporal == nil {
		return errors.New("no Temporal client")
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Temporal.CheckHealth(cctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal is not reachable: %w", err)
	}
	return nil
}

// StartRun starts a run of an integration. A check run is refused while
// another run is in progress. An onboarding run is refused while another
// onboarding is in progress, but it replaces a check run that races it:
// onboarding a newly connected integration is never blocked by a check.
func (c *Controller) StartRun(ctx context.Context, integrationID string, onboarding bool) (Started, error) {
	return c.startRun(ctx, integrationID, onboarding, uuid.NewString())
}

// startRun is StartRun with the new run's id given: StartCheckRun passes a
// deterministic one so that a retried start can recognise its own run.
func (c *Controller) startRun(ctx context.Context, integrationID string, onboarding bool, runID string) (Started, error) {
	integ, err := c.Store.GetIntegration(ctx, integrationID)
	if errors.Is(err, store.ErrNotFound) {
		return Started{}, fmt.Errorf("integration %s: %w", integrationID, ErrNotFound)
	}
	if err != nil {
		return Started{}, err
	}
	if _, ok := c.Registry.Get(integ.Platform); !ok {
		return Started{}, &BadInputError{Field: "platform", Message: fmt.Sprintf("no service for platform %q", integ.Platform)}
	}
	in := workflows.RunInput{
		RunID: runID, IntegrationID: integ.ID, TenantID: integ.TenantID,
		Platform: integ.Platform, Onboarding: onboarding,
	}
	started, err := c.startWorkflow(ctx, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		active, aerr := c.activeRun(ctx, integ.ID)
		if aerr != nil {
			return Started{}, aerr
		}
		if c.awaitClosing(ctx, workflows.WorkflowID(integ.ID), active.RunID) {
			started, err = c.startWorkflow(ctx, in)
			if !errors.As(err, &already) {
				return started, err
			}
			if active, aerr = c.activeRun(ctx, integ.ID); aerr != nil {
				return Started{}, aerr
			}
		}
		if !onboarding || active.Onboarding {
			return Started{}, &AlreadyRunningError{IntegrationID: integ.ID, RunID: active.RunID}
		}
		if err := c.supersede(ctx, integ.ID, active.RunID, "superseded by onboarding run "+in.RunID); err != nil {
			return Started{}, err
		}
		started, err = c.startWorkflow(ctx, in)
	}
	// An onboarding marks the integration in-progress in its first
	// activity (store.BeginRun), ordered before the run's own end: set
	// here, after the start, it could overwrite a fast run's done.
	return started, err
}

// closingWait bounds how long a start waits for an execution whose run has
// already ended to close.
const closingWait = 10 * time.Second

// awaitClosing reports whether the execution workflowID, running runID, has
// closed after a short wait, when its run row is already final: its last
// activity (FinishRun) is done and only the workflow's own completion is
// left. A start right after a run ended (a user clicking "check" as the
// onboarding finishes) is then not refused as "already running".
func (c *Controller) awaitClosing(ctx context.Context, workflowID, runID string) bool {
	run, err := c.Store.GetRun(ctx, runID)
	if err != nil || (run.State != store.RunProcessed && run.State != store.RunError) {
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, closingWait)
	defer cancel()
	// Get waits for the close; the run's own result or failure does not matter here.
	_ = c.Temporal.GetWorkflow(wctx, workflowID, "").Get(wctx, nil)
	return wctx.Err() == nil
}

// ContinueRun re-processes the pending and failed streams of a run that
// ended or is stuck; processed streams are never fetched again, and the
// run works from the pipeline data it was started with. A stuck execution
// of the same run is terminated first.
//
// Nothing is reset here: the new execution's first activity takes the run
// up again (RunInput.Restart), so a continue-run refused because another
// run started meanwhile leaves the run as it was.
func (c *Controller) ContinueRun(ctx context.Context, runID string) (Started, error) {
	run, err := c.Store.GetRun(ctx, runID)
	if errors.Is(err, store.ErrNotFound) {
		return Started{}, fmt.Errorf("run %s: %w", runID, ErrNotFound)
	}
	if err != nil {
		return Started{}, err
	}
	integ, err := c.Store.GetIntegration(ctx, run.IntegrationID)
	if err != nil {
		return Started{}, fmt.Errorf("integration of run %s: %w", runID, err)
	}
	in := workflows.RunInput{
		RunID: run.ID, IntegrationID: integ.ID, TenantID: integ.TenantID, Platform: integ.Platform, Onboarding: run.Onboarding,
		Restart: true,
	}
	if run.Service != "" {
		// A companion service's run (twitter-reach) goes on under its own
		// workflow id.
		in.Platform, in.Service = run.Service, run.Service
	}
	wid := workflows.RunWorkflowID(in)
	active, err := c.activeRunOf(ctx, wid)
	if err == nil {
		if active.RunID != run.ID {
			return Started{}, &AlreadyRunningError{IntegrationID: integ.ID, RunID: active.RunID}
		}
		if err := c.terminateWorkflow(ctx, wid, "continue-run "+run.ID); err != nil {
			return Started{}, err
		}
	} else if !errors.Is(err, ErrNotFound) {
		return Started{}, err
	}
	started, err := c.startWorkflow(ctx, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		// Another run started between the look and the start.
		active, aerr := c.activeRunOf(ctx, wid)
		if aerr != nil {
			return Started{}, fmt.Errorf("integration %s has a run in progress: %w", integ.ID, aerr)
		}
		return Started{}, &AlreadyRunningError{IntegrationID: integ.ID, RunID: active.RunID}
	}
	return started, err
}

func (c *Controller) startWorkflow(ctx context.Context, in workflows.RunInput) (Started, error) {
	if c.Temporal == nil {
		return Started{}, errors.New("no Temporal client")
	}
	wid := workflows.RunWorkflowID(in)
	we, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       wid,
		TaskQueue:                c.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without this the SDK hands back the running execution as if it
		// were new, and a second run would be reported as started.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo:                                     workflows.Memo(in),
		TypedSearchAttributes:                    workflows.SearchAttributes(in),
	}, workflows.RunWorkflowName, in)
	if err != nil {
		return Started{}, err
	}
	started := Started{IntegrationID: in.IntegrationID, RunID: in.RunID, WorkflowID: wid, WorkflowRunID: we.GetRunID()}
	// The row shows the run at once. The workflow's first activity inserts
	// it too, so a failure here loses nothing, and must not make the caller
	// believe the run did not start: it did.
	_ = c.Store.CreateRun(ctx, store.NewRun{
		ID: in.RunID, TenantID: in.TenantID, IntegrationID: in.IntegrationID, Onboarding: in.Onboarding, WorkflowID: wid,
		Service: in.Service,
	})
	return started, nil
}

type activeRun struct {
	RunID      string
	Onboarding bool
}

// activeRun reads the running workflow of an integration from Temporal,
// the authority on what runs (the database row may lag behind it).
func (c *Controller) activeRun(ctx context.Context, integrationID string) (activeRun, error) {
	return c.activeRunOf(ctx, workflows.WorkflowID(integrationID))
}

// activeRunOf is activeRun for a workflow id (a companion service's runs
// have their own).
func (c *Controller) activeRunOf(ctx context.Context, workflowID string) (activeRun, error) {
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return activeRun{}, ErrNotFound
	}
	if err != nil {
		return activeRun{}, err
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return activeRun{}, ErrNotFound
	}
	m, err := workflows.ReadMemo(info.GetMemo())
	if err != nil {
		return activeRun{}, err
	}
	return activeRun{RunID: m.RunID, Onboarding: m.Onboarding}, nil
}

func (c *Controller) terminate(ctx context.Context, integrationID, reason string) error {
	return c.terminateWorkflow(ctx, workflows.WorkflowID(integrationID), reason)
}

func (c *Controller) terminateWorkflow(ctx context.Context, workflowID, reason string) error {
	err := c.Temporal.TerminateWorkflow(ctx, workflowID, "", reason)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}

// supersede terminates a running check so an onboarding can start, and
// records why on the check's run row.
func (c *Controller) supersede(ctx context.Context, integrationID, runID, reason string) error {
	if err := c.terminate(ctx, integrationID, reason); err != nil {
		return err
	}
	if runID == "" {
		return nil
	}
	return c.Store.MarkRunError(ctx, runID, store.Failure{ErrorPoint: "superseded", Message: reason})
}

// Wait blocks until the run's workflow ends (following continue-as-new)
// and returns the run's final state. onProgress, when set, is called with
// the run's progress about once a second.
func (c *Controller) Wait(ctx context.Context, s Started, onProgress func(workflows.Progress)) (string, error) {
	done := make(chan error, 1)
	go func() {
		var res workflows.RunResult
		done <- c.Temporal.GetWorkflow(ctx, s.WorkflowID, s.WorkflowRunID).Get(ctx, &res)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-done:
			run, err := c.Store.GetRun(ctx, s.RunID)
			if err != nil {
				return "", err
			}
			return run.State, nil
		case <-tick.C:
			if onProgress == nil {
				continue
			}
			if p, err := c.Progress(ctx, s.WorkflowID); err == nil {
				onProgress(p)
			}
		}
	}
}

// Progress asks a running workflow for its progress.
func (c *Controller) Progress(ctx context.Context, workflowID string) (workflows.Progress, error) {
	var p workflows.Progress
	v, err := c.Temporal.QueryWorkflow(ctx, workflowID, "", workflows.ProgressQuery)
	if err != nil {
		return p, err
	}
	return p, v.Get(&p)
}

// IsNotFound reports whether err means an unknown id.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
