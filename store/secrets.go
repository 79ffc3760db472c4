package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crowdflow/crowdflow/internal/secrets"
)

// Columns of integrations that hold secrets. Each sealed value is bound to
// its column and row (secrets.Keyring.Seal's aad), so a value copied into
// another row or column does not open.
const (
	ColumnToken        = "token"
	ColumnRefreshToken = "refreshToken"
)

// SetKeyring sets the keys that seal the tokens written and open those
// read. Call it once, before the store is used.
func (s *Store) SetKeyring(k *secrets.Keyring) { s.keys = k }

// Keyring is the store's key ring (nil when none was set).
func (s *Store) Keyring() *secrets.Keyring { return s.keys }

func secretAAD(integrationID, column string) string {
	return "integrations." + column + ":" + integrationID
}

// seal encrypts a secret for the integration's column. Without a key ring a
// secret is refused rather than stored in the clear.
func (s *Store) seal(plaintext, integrationID, column string) (secrets.Sealed, error) {
	if plaintext == "" {
		return "", nil
	}
	if s.keys == nil {
		return "", fmt.Errorf("store %s: %w", column, secrets.ErrNoKey)
	}
	return s.keys.Seal(plaintext, secretAAD(integrationID, column))
}

func (s *Store) open(v secrets.Sealed, integrationID, column string) (string, bool, error) {
	if v == "" {
		return "", false, nil
	}
	if s.keys == nil {
		return "", false, fmt.Errorf("read %s: %w", column, secrets.ErrNoKey)
	}
	p, stale, err := s.keys.Open(v, secretAAD(integrationID, column))
	if err != nil {
		return "", false, fmt.Errorf("integration %s %s: %w", integrationID, column, err)
	}
	return p, stale, nil
}

// OpenSecrets returns the integration's token and refresh token in the
// clear. Only the activity that calls the platform's API should: the
// plaintext never leaves it. A value that is legacy plain text or sealed
// under an old key is sealed again under the current key on the way
// (only if the row still holds what was read: a concurrent write wins).
func (s *Store) OpenSecrets(ctx context.Context, integ *Integration) (token, refreshToken string, err error) {
	token, staleToken, err := s.open(integ.Token, integ.ID, ColumnToken)
	if err != nil {
		return "", "", err
	}
	refreshToken, staleRefresh, err := s.open(integ.RefreshToken, integ.ID, ColumnRefreshToken)
	if err != nil {
		return "", "", err
	}
	if staleToken || staleRefresh {
		// Best effort: the caller has what it needs; rotate-key reseals
		// whatever this misses.
		_ = s.reseal(ctx, s.pool, integ.ID, integ.Token, integ.RefreshToken, token, refreshToken)
	}
	return token, refreshToken, nil
}

// reseal writes the values sealed under the current key, if the row still
// holds the old ones.
func (s *Store) reseal(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, id string, oldToken, oldRefresh secrets.Sealed, token, refresh string) error {
	newToken, err := s.seal(token, id, ColumnToken)
	if err != nil {
		return err
	}
	newRefresh, err := s.seal(refresh, id, ColumnRefreshToken)
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `UPDATE integrations SET token = nullif($2, ''), "refreshToken" = nullif($3, '')
		WHERE id = $1 AND coalesce(token, '') = $4 AND coalesce("refreshToken", '') = $5`,
		id, string(newToken), string(newRefresh), string(oldToken), string(oldRefresh))
	return err
}

// RotateBatch is what one batch of RotateSecrets did.
type RotateBatch struct {
	// Resealed counts the integrations whose secrets were sealed again.
	Resealed int
	// LastID is the last integration id of the batch.
	LastID string
}

// RotateReport sums up RotateSecrets.
type RotateReport struct {
	Resealed int
	// Failed lists the integrations whose secrets do not open with any key
	// of the ring (sealed under a key that is not in ENCRYPTION_KEYS_OLD,
	// or altered); they are left as they are.
	Failed []string
}

// RotateSecrets seals every stored secret that is not sealed under the
// current key (legacy plain text, or an old key) again under the current
// key, batchSize integrations per transaction, deleted ones included.
// Rows are locked while their batch is rewritten, and each batch commits on its own: an interrupted rotation keeps what it
// did, and running it again picks up the rest, since only values not
// under the current key are selected. onBatch, if set, is told of each
// committed batch.
func (s *Store) RotateSecrets(ctx context.Context, batchSize int, onBatch func(RotateBatch)) (RotateReport, error) {
	var rep RotateReport
	if s.keys == nil {
		return rep, secrets.ErrNoKey
	}
	if batchSize <= 0 {
		batchSize = 100
	}
	current := "enc:v1:" + s.keys.CurrentKeyID() + ":%"
	after := "00000000-0000-0000-0000-000000000000"
	for {
		var batch RotateBatch
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT id, coalesce(token, ''), coalesce("refreshToken", '') FROM integrations
				WHERE id > $1 AND ((token <> '' AND token NOT LIKE $2) OR ("refreshToken" <> '' AND "refreshToken" NOT LIKE $2))
				ORDER BY id LIMIT $3 FOR UPDATE`, after, current, batchSize)
			if err != nil {
				return err
			}
			type row struct {
				id             string
				token, refresh secrets.Sealed
			}
			list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
				var x row
				err := r.Scan(&x.id, &x.token, &x.refresh)
				return x, err
			})
			if err != nil {
				return err
			}
			for _, x := range list {
				batch.LastID = x.id
				token, _, err1 := s.open(x.token, x.id, ColumnToken)
				refresh, _, err2 := s.open(x.refresh, x.id, ColumnRefreshToken)
				if err := errors.Join(err1, err2); err != nil {
					rep.Failed = append(rep.Failed, x.id)
					continue
				}
				if err := s.reseal(ctx, tx, x.id, x.token, x.refresh, token, refresh); err != nil {
					return err
				}
				batch.Resealed++
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("rotate secrets after integration %s: %w", after, err)
		}
		if batch.LastID == "" {
			return rep, nil
		}
		rep.Resealed += batch.Resealed
		after = batch.LastID
		if onBatch != nil {
			onBatch(batch)
		}
	}
}
