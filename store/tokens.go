package store

// Every read and write of integrations.token, "refreshToken" and
// "tokenExpiresAt" is in this file (CreateIntegration's insert, and the
// resealing of secrets.go, aside): readTokens opens the sealed values and
// writeTokens seals them (secrets.go), so a pair never reaches the table in
// the clear.

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/secrets"
)

// StatusNeedsReconnect is the status of an integration whose refresh token
// was refused: only the user, connecting again, can give a new one. Runs
// never change it (FinishRun leaves it), and checks skip it (it is not
// done).
const StatusNeedsReconnect = "needs-reconnect"

// tokenLockWait bounds how long a refresh waits for another one of the
// same integration; the refresh it waits for is bounded by its HTTP
// timeout, far below this.
const tokenLockWait = "2min"

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readTokens reads an integration's pair and opens it (legacy plain text
// is read as it is; the next write seals it).
func (s *Store) readTokens(ctx context.Context, q querier, integrationID string) (integrations.Tokens, error) {
	var t integrations.Tokens
	var access, refresh secrets.Sealed
	var exp *time.Time
	err := q.QueryRow(ctx, `SELECT coalesce(token, ''), coalesce("refreshToken", ''), "tokenExpiresAt"
		FROM integrations WHERE id = $1 AND "deletedAt" IS NULL`, integrationID).Scan(&access, &refresh, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, err
	}
	if exp != nil {
		t.ExpiresAt = *exp
	}
	if t.Access, _, err = s.open(access, integrationID, ColumnToken); err != nil {
		return integrations.Tokens{}, err
	}
	if t.Refresh, _, err = s.open(refresh, integrationID, ColumnRefreshToken); err != nil {
		return integrations.Tokens{}, err
	}
	return t, nil
}

// writeTokens seals and replaces an integration's pair.
func (s *Store) writeTokens(ctx context.Context, tx pgx.Tx, integrationID string, t integrations.Tokens) error {
	var exp *time.Time
	if !t.ExpiresAt.IsZero() {
		exp = &t.ExpiresAt
	}
	access, err := s.seal(t.Access, integrationID, ColumnToken)
	if err != nil {
		return err
	}
	refresh, err := s.seal(t.Refresh, integrationID, ColumnRefreshToken)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `UPDATE integrations SET token = nullif($2, ''), "refreshToken" = nullif($3, ''),
		"tokenExpiresAt" = $4, "updatedAt" = now() WHERE id = $1`, integrationID, string(access), string(refresh), exp)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// Tokens reads the integration's current pair.
func (s *Store) Tokens(ctx context.Context, integrationID string) (integrations.Tokens, error) {
	if !validUUID(integrationID) {
		return integrations.Tokens{}, ErrNotFound
	}
	return s.readTokens(ctx, s.pool, integrationID)
}

// RefreshTokens runs refresh under the integration's token lock, a
// transaction-scoped advisory lock: two runs of the integration (twitter
// and twitter-reach), on any worker, refresh one at a time, and the second
// sees the pair the first stored. A new pair is written in the same
// transaction, committed before RefreshTokens returns: the time between
// the token endpoint's answer and the commit is the only window in which a
// crash loses the pair. A crash before that (the transaction is rolled
// back with the connection, and the lock released) leaves the old pair,
// and a crash after it leaves the new one.
func (s *Store) RefreshTokens(ctx context.Context, integrationID string,
	refresh func(ctx context.Context, current integrations.Tokens) (*integrations.Tokens, error)) (integrations.Tokens, error) {
	if !validUUID(integrationID) {
		return integrations.Tokens{}, ErrNotFound
	}
	var out integrations.Tokens
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+tokenLockWait+`'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('integration-tokens/' || $1::text, 0))`, integrationID); err != nil {
			return err
		}
		cur, err := s.readTokens(ctx, tx, integrationID)
		if err != nil {
			return err
		}
		next, err := refresh(ctx, cur)
		if err != nil {
			return err
		}
		if next == nil {
			out = cur
			return nil
		}
		out = *next
		return s.writeTokens(ctx, tx, integrationID, *next)
	})
	return out, err
}

// SaveTokens replaces the integration's pair outright, under the token
// lock (for a reconnect, and tests).
func (s *Store) SaveTokens(ctx context.Context, integrationID string, t integrations.Tokens) error {
	_, err := s.RefreshTokens(ctx, integrationID, func(context.Context, integrations.Tokens) (*integrations.Tokens, error) {
		return &t, nil
	})
	return err
}

// ExpireAccessToken marks the access token expired if it is still access.
// The comparison is made here, not in SQL, so it holds for encrypted
// columns too.
func (s *Store) ExpireAccessToken(ctx context.Context, integrationID, access string) error {
	_, err := s.RefreshTokens(ctx, integrationID, func(_ context.Context, cur integrations.Tokens) (*integrations.Tokens, error) {
		if cur.Access != access {
			return nil, nil
		}
		cur.ExpiresAt = time.Unix(0, 0).UTC()
		return &cur, nil
	})
	return err
}

// SetNeedsReconnect sets the integration's status to needs-reconnect.
func (s *Store) SetNeedsReconnect(ctx context.Context, integrationID string) error {
	return s.SetIntegrationStatus(ctx, integrationID, StatusNeedsReconnect)
}

var _ integrations.TokenStore = (*Store)(nil)
