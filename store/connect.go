package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ConnectOnce is what a connect stores, with what makes two connects the
// same one.
type ConnectOnce struct {
	NewIntegration
	// IdempotencyKey is an API client's key for its request (the
	// Idempotency-Key header); empty when it sent none.
	IdempotencyKey string
}

// ErrIdempotencyKeyReused is a key sent again with a different platform or
// identifier: a client bug, never answered with another request's result.
var ErrIdempotencyKeyReused = errors.New("Idempotency-Key was used for a different integration")

// CreateIntegrationOnce stores the integration unless the tenant has a live
// one with the same idempotency key, or the same platform and identifier;
// then it returns that one's id and created false. Unique indexes decide
// (migration 00080), so of two connects racing each other exactly one
// inserts and the other gets its id.
func (s *Store) CreateIntegrationOnce(ctx context.Context, in ConnectOnce) (id string, created bool, err error) {
	id = uuid.NewString()
	// Sealed for this row (secrets.go): the tokens never reach the table
	// in the clear.
	token, err := s.seal(in.Token, id, ColumnToken)
	if err != nil {
		return "", false, err
	}
	refresh, err := s.seal(in.RefreshToken, id, ColumnRefreshToken)
	if err != nil {
		return "", false, err
	}
	settings := cleanRaw(in.Settings)
	if len(settings) == 0 {
		settings = json.RawMessage(`{}`)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, in.TenantID); err != nil {
			return err
		}
		// No conflict target: either unique index (or the primary key)
		// turns the insert into nothing.
		tag, err := tx.Exec(ctx, `INSERT INTO integrations (id, "tenantId", platform, status, settings, token, "refreshToken",
				"integrationIdentifier", "idempotencyKey")
			VALUES ($1, $2, $3, $4, $5, nullif($6, ''), nullif($7, ''), nullif($8, ''), nullif($9, ''))
			ON CONFLICT DO NOTHING`,
			id, in.TenantID, in.Platform, in.Status, settings, string(token), string(refresh), in.Identifier, in.IdempotencyKey)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			created = true
			return nil
		}
		var platform, identifier string
		err = tx.QueryRow(ctx, `SELECT id, platform, coalesce("integrationIdentifier", '') FROM integrations
			WHERE "tenantId" = $1 AND "deletedAt" IS NULL AND (
				("idempotencyKey" = nullif($2, '')) OR
				(platform = $3 AND "integrationIdentifier" = nullif($4, '')))
			ORDER BY ("idempotencyKey" = nullif($2, '')) DESC NULLS LAST LIMIT 1`,
			in.TenantID, in.IdempotencyKey, in.Platform, in.Identifier).Scan(&id, &platform, &identifier)
		if err != nil {
			return err
		}
		if platform != in.Platform || (in.Identifier != "" && identifier != in.Identifier) {
			return ErrIdempotencyKeyReused
		}
		return nil
	})
	if errors.Is(err, ErrIdempotencyKeyReused) {
		return "", false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("store integration: %w", err)
	}
	return id, created, nil
}
