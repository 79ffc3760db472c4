package store

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdflow/crowdflow/integrations"
)

// Webhook states and types ("incomingWebhooks", crowd.dev's values).
const (
	WebhookPending   = "PENDING"
	WebhookProcessed = "PROCESSED"
	WebhookError     = "ERROR"

	WebhookTypeGitHub = "GITHUB"
)

// Webhook is a stored delivery.
type Webhook struct {
	ID            string
	TenantID      string
	IntegrationID string
	Type          string
	DeliveryID    string
	State         string
	// Payload is {"event": <X-GitHub-Event>, "data": <the delivery's body>}.
	Payload   json.RawMessage
	CreatedAt time.Time
}

// NewWebhook is a delivery to store.
type NewWebhook struct {
	TenantID, IntegrationID, Type, DeliveryID string
	Payload                                   json.RawMessage
}

// WebhookID is the id a delivery's row gets: derived from the delivery id,
// so that the workflow id and the row agree before the row exists.
func WebhookID(typ, deliveryID string) string {
	return uuid.NewSHA1(idSpace, []byte("webhook\x00"+typ+"\x00"+deliveryID)).String()
}

// StoreWebhook stores a delivery once: a redelivery (same type and
// delivery id) finds the row and changes nothing. It returns the row as
// stored (its state says whether it was processed already).
func (s *Store) StoreWebhook(ctx context.Context, in NewWebhook) (*Webhook, bool, error) {
	id := WebhookID(in.Type, in.DeliveryID)
	tag, err := s.pool.Exec(ctx, `INSERT INTO "incomingWebhooks" (id, "tenantId", "integrationId", state, type, "deliveryId", payload)
		VALUES ($1, $2, $3, 'PENDING', $4, $5, $6) ON CONFLICT (type, "deliveryId") DO NOTHING`,
		id, in.TenantID, in.IntegrationID, in.Type, in.DeliveryID, cleanRaw(in.Payload))
	if err != nil {
		return nil, false, err
	}
	w, err := s.GetWebhook(ctx, id)
	return w, tag.RowsAffected() == 1, err
}

// GetWebhook loads a stored delivery.
func (s *Store) GetWebhook(ctx context.Context, id string) (*Webhook, error) {
	if !validUUID(id) {
		return nil, ErrNotFound
	}
	var w Webhook
	err := s.pool.QueryRow(ctx, `SELECT id, "tenantId", "integrationId", type, "deliveryId", state, payload, "createdAt"
		FROM "incomingWebhooks" WHERE id = $1`, id).Scan(&w.ID, &w.TenantID, &w.IntegrationID, &w.Type, &w.DeliveryID, &w.State, &w.Payload, &w.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &w, err
}

// CompleteWebhook writes a delivery's records and marks it processed, in
// one transaction; a delivery processed already (an activity run twice)
// writes nothing. It returns the number of records written.
func (s *Store) CompleteWebhook(ctx context.Context, id, platform string, res *integrations.StreamResult) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state, tenantID, integrationID string
		err := tx.QueryRow(ctx, `SELECT state, "tenantId", "integrationId" FROM "incomingWebhooks" WHERE id = $1 FOR UPDATE`, id).
			Scan(&state, &tenantID, &integrationID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil || state == WebhookProcessed {
			return err
		}
		if n, err = WriteRecords(ctx, tx, Target{TenantID: tenantID, IntegrationID: integrationID, Platform: platform}, res); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE "incomingWebhooks" SET state = 'PROCESSED', "processedAt" = now(), error = NULL, "updatedAt" = now()
			WHERE id = $1`, id)
		return err
	})
	return n, err
}

// FailWebhook marks a delivery that cannot be processed, with the reason.
func (s *Store) FailWebhook(ctx context.Context, id, message string) error {
	b, _ := json.Marshal(map[string]string{"message": cleanText(message)})
	_, err := s.pool.Exec(ctx, `UPDATE "incomingWebhooks" SET state = 'ERROR', error = $2, "updatedAt" = now()
		WHERE id = $1 AND state <> 'PROCESSED'`, id, b)
	return err
}

// IntegrationRef names an integration and its tenant.
type IntegrationRef struct {
	ID, TenantID string
}

// FindGitHubIntegration finds the live GitHub integration a delivery
// belongs to: the one whose integrationIdentifier is the delivery's app
// installation, else one that lists the repository ("owner/name",
// case-insensitively) in its settings. Oldest first when several do.
func (s *Store) FindGitHubIntegration(ctx context.Context, installationID int64, repo string) (IntegrationRef, error) {
	var r IntegrationRef
	if installationID > 0 {
		err := s.pool.QueryRow(ctx, `SELECT id, "tenantId" FROM integrations
			WHERE platform = 'github' AND "deletedAt" IS NULL AND "integrationIdentifier" = $1
			ORDER BY "createdAt", id LIMIT 1`, strconv.FormatInt(installationID, 10)).Scan(&r.ID, &r.TenantID)
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return r, err
		}
	}
	owner, name, ok := strings.Cut(strings.ToLower(repo), "/")
	if !ok {
		return r, ErrNotFound
	}
	err := s.pool.QueryRow(ctx, `SELECT id, "tenantId" FROM integrations i
		WHERE platform = 'github' AND "deletedAt" IS NULL AND EXISTS (
			SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(i.settings->'repos') = 'array' THEN i.settings->'repos' ELSE '[]' END) x
			WHERE lower(x->>'owner') = $1 AND lower(x->>'name') = $2)
		ORDER BY "createdAt", id LIMIT 1`, owner, name).Scan(&r.ID, &r.TenantID)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}
