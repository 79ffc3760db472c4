package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	gh "github.com/google/go-github/v88/github"

	"github.com/crowdflow/crowdflow/integrations/github"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// RouteGitHubWebhook receives GitHub's webhook deliveries. It takes no
// bearer token: GitHub signs each delivery with the webhook secret
// (X-Hub-Signature-256) instead.
const RouteGitHubWebhook = "/webhooks/github"

// maxWebhookBody is GitHub's cap on a delivery's payload (25 MB).
const maxWebhookBody = 25 << 20

// webhookAnswer is the body of a webhook's 2xx answers.
type webhookAnswer struct {
	Status     string `json:"status"` // accepted, duplicate, ignored, pong
	Reason     string `json:"reason,omitempty"`
	WebhookID  string `json:"webhookId,omitempty"`
	WorkflowID string `json:"workflowId,omitempty"`
}

// githubWebhook verifies a delivery, stores it in "incomingWebhooks" and
// answers 2xx only then; a workflow per delivery (webhook/<delivery id>)
// turns it into activities. A redelivery (same X-GitHub-Delivery) finds its
// row and stores nothing twice.
func (s *server) githubWebhook(w http.ResponseWriter, r *http.Request) {
	if len(s.webhookSecret) == 0 {
		writeError(w, newError(http.StatusServiceUnavailable, CodeUnavailable, "GITHUB_WEBHOOK_SECRET is not set: webhooks are refused"))
		return
	}
	if r.Header.Get(gh.SHA256SignatureHeader) == "" {
		writeError(w, newError(http.StatusUnauthorized, CodeUnauthorized, "missing "+gh.SHA256SignatureHeader))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxWebhookBody)
	payload, err := gh.ValidatePayload(r, s.webhookSecret)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, tooLarge(maxWebhookBody))
			return
		}
		s.logger.Warn("github webhook refused", "reason", err.Error(), "delivery", gh.DeliveryID(r))
		writeError(w, newError(http.StatusUnauthorized, CodeUnauthorized, "the signature does not match the payload (X-Hub-Signature-256, GITHUB_WEBHOOK_SECRET)"))
		return
	}
	event, delivery := gh.WebHookType(r), gh.DeliveryID(r)
	if delivery == "" || len(delivery) > 200 {
		e := newError(http.StatusBadRequest, CodeInvalid, "X-GitHub-Delivery is missing or too long")
		e.Field = "X-GitHub-Delivery"
		writeError(w, e)
		return
	}
	if event == "ping" {
		writeJSON(w, http.StatusOK, webhookAnswer{Status: "pong"})
		return
	}
	if !slices.Contains(github.WebhookEvents, event) {
		writeJSON(w, http.StatusAccepted, webhookAnswer{Status: "ignored", Reason: "event " + event + " carries no activities"})
		return
	}
	target, err := github.WebhookTarget(payload)
	if err != nil {
		writeError(w, newError(http.StatusBadRequest, CodeBadJSON, err.Error()))
		return
	}
	ctx := r.Context()
	ref, err := s.store.FindGitHubIntegration(ctx, target.InstallationID, target.Repo)
	if errors.Is(err, store.ErrNotFound) {
		s.logger.Info("github webhook for no integration: ignored", "event", event, "delivery", delivery,
			"installation", target.InstallationID, "repository", target.Repo)
		writeJSON(w, http.StatusAccepted, webhookAnswer{Status: "ignored", Reason: "no integration has this installation or repository"})
		return
	}
	if err != nil {
		s.unavailable(w, "find integration", err)
		return
	}
	stored, err := json.Marshal(struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}{event, payload})
	if err != nil {
		writeError(w, newError(http.StatusBadRequest, CodeBadJSON, "the payload is not JSON"))
		return
	}
	row, created, err := s.store.StoreWebhook(ctx, store.NewWebhook{TenantID: ref.TenantID, IntegrationID: ref.ID,
		Type: store.WebhookTypeGitHub, DeliveryID: delivery, Payload: stored})
	if err != nil {
		s.unavailable(w, "store webhook", err)
		return
	}
	if row.State == store.WebhookProcessed {
		writeJSON(w, http.StatusOK, webhookAnswer{Status: "duplicate", WebhookID: row.ID, WorkflowID: workflows.WebhookWorkflowID(delivery)})
		return
	}
	if _, err := workflows.StartWebhook(ctx, s.ctl.Temporal, s.ctl.TaskQueue, delivery, row.ID); err != nil {
		// The delivery is stored (PENDING); a redelivery starts it again.
		s.unavailable(w, "start webhook workflow", err)
		return
	}
	status := "accepted"
	if !created {
		status = "duplicate"
	}
	writeJSON(w, http.StatusAccepted, webhookAnswer{Status: status, WebhookID: row.ID, WorkflowID: workflows.WebhookWorkflowID(delivery)})
}

func (s *server) unavailable(w http.ResponseWriter, what string, err error) {
	s.logger.Error("github webhook: "+what, "error", err)
	writeError(w, newError(http.StatusServiceUnavailable, CodeUnavailable, what+" failed; GitHub may redeliver"))
}

// isWebhook says the path is a webhook's: signed, not bearer-authenticated,
// and with its own body limit.
func isWebhook(path string) bool { return path == RouteGitHubWebhook }
