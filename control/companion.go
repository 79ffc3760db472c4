package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// CompanionOf returns the platform whose integrations the service runs on,
// when service is a companion (integrations.Companion).
func (c *Controller) CompanionOf(service string) (string, bool) {
	svc, ok := c.Registry.Get(service)
	if !ok {
		return "", false
	}
	comp, ok := svc.(integrations.Companion)
	if !ok {
		return "", false
	}
	return comp.CompanionOf(), true
}

// ConnectablePlatforms are the registered platforms a user can connect:
// all but the companion services, which run on other platforms'
// integrations.
func (c *Controller) ConnectablePlatforms() []string {
	var out []string
	for _, p := range c.Registry.Platforms() {
		if _, companion := c.CompanionOf(p); !companion {
			out = append(out, p)
		}
	}
	return out
}

// StartServiceRun starts a run of the companion service on an integration
// of its platform (twitter-reach on a twitter integration), with workflow
// id integration/<integrationId>/<service>: the integration's own runs and
// this one never block each other. runID "" picks a new id; a given one
// makes the start idempotent, as StartCheckRun's. A run of the service in
// progress on the integration refuses it with *AlreadyRunningError.
func (c *Controller) StartServiceRun(ctx context.Context, integrationID, service, runID string) (Started, error) {
	base, ok := c.CompanionOf(service)
	if !ok {
		return Started{}, &BadInputError{Field: "platform", Message: fmt.Sprintf("%q is not a service that runs on other integrations", service)}
	}
	wid := workflows.ServiceWorkflowID(integrationID, service)
	if runID != "" {
		if run, err := c.Store.GetRun(ctx, runID); err == nil {
			return Started{IntegrationID: run.IntegrationID, RunID: run.ID, WorkflowID: wid, WorkflowRunID: run.WorkflowRunID}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return Started{}, err
		}
	} else {
		runID = uuid.NewString()
	}
	integ, err := c.Store.GetIntegration(ctx, integrationID)
	if errors.Is(err, store.ErrNotFound) {
		return Started{}, fmt.Errorf("integration %s: %w", integrationID, ErrNotFound)
	}
	if err != nil {
		return Started{}, err
	}
	if integ.Platform != base {
		return Started{}, &BadInputError{Field: "integration", Message: fmt.Sprintf("%s runs on %s integrations; %s is %s", service, base, integ.ID, integ.Platform)}
	}
	started, err := c.startWorkflow(ctx, workflows.RunInput{
		RunID: runID, IntegrationID: integ.ID, TenantID: integ.TenantID, Platform: service, Service: service,
	})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		running := &AlreadyRunningError{IntegrationID: integ.ID}
		if desc, derr := c.Temporal.DescribeWorkflowExecution(ctx, wid, ""); derr == nil {
			if m, merr := workflows.ReadMemo(desc.GetWorkflowExecutionInfo().GetMemo()); merr == nil {
				running.RunID = m.RunID
			}
		}
		if running.RunID == runID {
			return Started{IntegrationID: integ.ID, RunID: runID, WorkflowID: wid}, nil
		}
		return Started{}, running
	}
	return started, err
}
