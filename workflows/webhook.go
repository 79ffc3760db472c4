package workflows

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crowdflow/crowdflow/activities"
)

// WebhookWorkflowName is the workflow type that processes one stored
// webhook delivery.
const WebhookWorkflowName = "Webhook"

// WebhookWorkflowID is "webhook/<delivery id>": one workflow per delivery.
func WebhookWorkflowID(deliveryID string) string { return "webhook/" + deliveryID }

// WebhookInput names the stored delivery; the payload stays in the
// database, out of the workflow's history.
type WebhookInput struct {
	WebhookID string
}

// webhookRetry retries a failed write (the database away, a deadlock)
// with backoff for about an hour; a payload that cannot be processed is
// marked ERROR by the activity and does not fail.
var webhookRetry = temporal.RetryPolicy{
	InitialInterval:        time.Second,
	BackoffCoefficient:     2,
	MaximumInterval:        5 * time.Minute,
	MaximumAttempts:        20,
	NonRetryableErrorTypes: []string{activities.ErrTypeNotFound, activities.ErrTypePermanent},
}

// Webhook processes one delivery: a single activity, run until it
// succeeds (its write is idempotent: a delivery is processed once).
func Webhook(ctx workflow.Context, in WebhookInput) (activities.WebhookResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &webhookRetry,
	})
	var res activities.WebhookResult
	err := workflow.ExecuteActivity(ctx, a.ProcessWebhook, in.WebhookID).Get(ctx, &res)
	return res, err
}

// RegisterWebhook registers the Webhook workflow (its activity is one of
// the Activities that Run.Register registers).
func RegisterWebhook(w worker.Registry) {
	w.RegisterWorkflowWithOptions(Webhook, workflow.RegisterOptions{Name: WebhookWorkflowName})
}

// StartWebhook starts the workflow of a stored delivery. A delivery whose
// workflow is running already is left to it; one whose workflow ended
// (processed, or a redelivery after a failure) starts again, which writes
// nothing twice.
func StartWebhook(ctx context.Context, c client.Client, taskQueue, deliveryID, webhookID string) (client.WorkflowRun, error) {
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       WebhookWorkflowID(deliveryID),
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, WebhookWorkflowName, WebhookInput{WebhookID: webhookID})
}
