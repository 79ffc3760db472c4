package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// APIToken is an "apiTokens" row: a bearer token of the API scoped to one
// tenant. The token itself is not stored, only its hash.
type APIToken struct {
	ID        string
	TenantID  string
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// CreateAPIToken stores the hash of a new tenant token (creating the tenant
// when it is new) and returns the token's id.
func (s *Store) CreateAPIToken(ctx context.Context, tenantID, name string, hash []byte) (string, error) {
	if !validUUID(tenantID) {
		return "", fmt.Errorf("tenant %q is not a UUID", tenantID)
	}
	id := uuid.NewString()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, tenantID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO "apiTokens" (id, "tenantId", "tokenHash", name) VALUES ($1, $2, $3, $4)`,
			id, tenantID, hash, name)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store API token: %w", err)
	}
	return id, nil
}

const apiTokenColumns = `id, "tenantId", name, "createdAt", "revokedAt"`

func scanAPIToken(row pgx.Row) (*APIToken, error) {
	var t APIToken
	err := row.Scan(&t.ID, &t.TenantID, &t.Name, &t.CreatedAt, &t.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &t, err
}

// APITokenByHash finds a token by its hash, revoked ones included (the
// caller tells them apart).
func (s *Store) APITokenByHash(ctx context.Context, hash []byte) (*APIToken, error) {
	return scanAPIToken(s.pool.QueryRow(ctx, `SELECT `+apiTokenColumns+` FROM "apiTokens" WHERE "tokenHash" = $1`, hash))
}

// RevokeAPIToken revokes a token by id; revoking twice keeps the first
// time. ErrNotFound when there is no such token.
func (s *Store) RevokeAPIToken(ctx context.Context, id string) (*APIToken, error) {
	if !validUUID(id) {
		return nil, ErrNotFound
	}
	return scanAPIToken(s.pool.QueryRow(ctx, `UPDATE "apiTokens" SET "revokedAt" = coalesce("revokedAt", now())
		WHERE id = $1 RETURNING `+apiTokenColumns, id))
}

// RevokeAPITokenByHash revokes a token given the token itself.
func (s *Store) RevokeAPITokenByHash(ctx context.Context, hash []byte) (*APIToken, error) {
	return scanAPIToken(s.pool.QueryRow(ctx, `UPDATE "apiTokens" SET "revokedAt" = coalesce("revokedAt", now())
		WHERE "tokenHash" = $1 RETURNING `+apiTokenColumns, hash))
}

// ListAPITokens lists a tenant's tokens (all tenants' with tenantID ""),
// oldest first.
func (s *Store) ListAPITokens(ctx context.Context, tenantID string) ([]APIToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiTokenColumns+` FROM "apiTokens"
		WHERE $1 = '' OR "tenantId"::text = $1 ORDER BY "createdAt", id`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIToken, error) {
		t, err := scanAPIToken(r)
		if err != nil {
			return APIToken{}, err
		}
		return *t, nil
	})
}
