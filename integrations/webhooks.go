package integrations

import (
	"encoding/json"
	"time"
)

// WebhookHandler is implemented by services that take events from webhook
// deliveries (GitHub). The API stores a verified delivery in
// "incomingWebhooks"; a worker hands it to WebhookRecords and writes what
// it returns through the same store path as a stream page, so a webhook and
// a poll of the same event give the same activity.
type WebhookHandler interface {
	// WebhookRecords turns one delivery into records. event is the
	// delivery's event name (X-GitHub-Event), receivedAt when it was
	// stored: activities without a time of their own (an unstar) take it,
	// so that processing the delivery twice gives the same rows. A nil
	// result, or one without records, means the event carries nothing to
	// store. An error is permanent: the payload will not change.
	WebhookRecords(it Integration, event string, payload json.RawMessage, receivedAt time.Time) (*StreamResult, error)
}
