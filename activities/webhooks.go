package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/store"
)

// WebhookResult is what processing a delivery did.
type WebhookResult struct {
	Records int
	// AlreadyProcessed: the delivery was processed before (a redelivery,
	// or this activity's second attempt); nothing was written.
	AlreadyProcessed bool
	// Failed: the delivery cannot be processed (its row is ERROR, with
	// the reason).
	Failed string
}

// ProcessWebhook turns a stored delivery ("incomingWebhooks") into records
// through the integration's service, and writes them with the delivery
// marked processed in one transaction: run twice, it writes once.
func (a *Activities) ProcessWebhook(ctx context.Context, webhookID string) (WebhookResult, error) {
	w, err := a.Store.GetWebhook(ctx, webhookID)
	if err != nil {
		return WebhookResult{}, wrap(err, "load webhook")
	}
	if w.State == store.WebhookProcessed {
		return WebhookResult{AlreadyProcessed: true}, nil
	}
	integ, err := a.Store.GetIntegration(ctx, w.IntegrationID)
	if err != nil {
		return WebhookResult{}, wrap(err, "load integration")
	}
	fail := func(msg string) (WebhookResult, error) {
		if err := a.Store.FailWebhook(ctx, w.ID, msg); err != nil {
			return WebhookResult{}, wrap(err, "mark webhook failed")
		}
		a.logger(ctx).Warn("webhook not processed", "webhookId", w.ID, "deliveryId", w.DeliveryID, "reason", msg)
		return WebhookResult{Failed: msg}, nil
	}
	svc, ok := a.Registry.Get(integ.Platform)
	handler, ok2 := svc.(integrations.WebhookHandler)
	if !ok || !ok2 {
		return fail(fmt.Sprintf("platform %q takes no webhooks", integ.Platform))
	}
	var p struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(w.Payload, &p); err != nil {
		return fail("stored payload: " + err.Error())
	}
	it := integrations.Integration{ID: integ.ID, TenantID: integ.TenantID, Platform: integ.Platform, Identifier: integ.Identifier, Settings: integ.Settings}
	res, err := handler.WebhookRecords(it, p.Event, p.Data, w.CreatedAt)
	if err != nil {
		// The payload will not change: no retry can help.
		return fail(err.Error())
	}
	if res == nil {
		res = &integrations.StreamResult{}
	}
	n, err := a.Store.CompleteWebhook(ctx, w.ID, integ.Platform, res)
	if err != nil {
		return WebhookResult{}, wrap(err, "write webhook records")
	}
	return WebhookResult{Records: n}, nil
}
