package store_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/pgtest"
	"github.com/crowdflow/crowdflow/internal/secrets"
	"github.com/crowdflow/crowdflow/store"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, secrets.KeySize)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func ring(t *testing.T, current []byte, old ...[]byte) *secrets.Keyring {
	t.Helper()
	k, err := secrets.NewKeyring(current, old...)
	require.NoError(t, err)
	return k
}

// tableDump is every integrations row as text, as a database dump shows it.
func tableDump(t *testing.T, s *store.Store) string {
	t.Helper()
	var dump string
	require.NoError(t, s.Pool().QueryRow(context.Background(),
		`SELECT coalesce(string_agg(i::text, E'\n'), '') FROM integrations i`).Scan(&dump))
	return dump
}

func connect(t *testing.T, s *store.Store, token, refresh string) string {
	t.Helper()
	id, err := s.CreateIntegration(context.Background(), store.NewIntegration{TenantID: uuid.NewString(), Platform: "slack",
		Status: store.StatusDone, Token: token, RefreshToken: refresh})
	require.NoError(t, err)
	return id
}

func TestTokensEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	id := connect(t, s, "xoxb-111-plaintext-token", "refresh-222-plaintext")
	dump := tableDump(t, s)
	assert.Contains(t, dump, id)
	assert.NotContains(t, dump, "plaintext", "a token is readable in the table")

	integ, err := s.GetIntegration(ctx, id)
	require.NoError(t, err)
	assert.True(t, integ.Token.IsSealed())
	assert.True(t, integ.RefreshToken.IsSealed())
	token, refresh, err := s.OpenSecrets(ctx, integ)
	require.NoError(t, err)
	assert.Equal(t, "xoxb-111-plaintext-token", token)
	assert.Equal(t, "refresh-222-plaintext", refresh)

	// A sealed token copied into another tenant's integration does not
	// open there.
	other := connect(t, s, "", "")
	_, err = s.Pool().Exec(ctx, `UPDATE integrations SET token = (SELECT token FROM integrations WHERE id = $1) WHERE id = $2`, id, other)
	require.NoError(t, err)
	o, err := s.GetIntegration(ctx, other)
	require.NoError(t, err)
	_, _, err = s.OpenSecrets(ctx, o)
	assert.Error(t, err)
}

func TestNoKeyWritesNoToken(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.CreateIntegration(ctx, store.NewIntegration{TenantID: uuid.NewString(), Platform: "slack", Status: store.StatusDone, Token: "xoxb-1"})
	assert.ErrorIs(t, err, secrets.ErrNoKey)
	assert.Equal(t, "", tableDump(t, s), "nothing written")
	// Without a token there is nothing to seal.
	_, err = s.CreateIntegration(ctx, store.NewIntegration{TenantID: uuid.NewString(), Platform: "devto", Status: store.StatusDone})
	assert.NoError(t, err)
}

func TestLegacyPlainTextIsSealedOnFirstUse(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	id := connect(t, s, "", "")
	_, err := s.Pool().Exec(ctx, `UPDATE integrations SET token = 'legacy-plain-token' WHERE id = $1`, id)
	require.NoError(t, err)

	integ, err := s.GetIntegration(ctx, id)
	require.NoError(t, err)
	assert.False(t, integ.Token.IsSealed())
	token, _, err := s.OpenSecrets(ctx, integ)
	require.NoError(t, err)
	assert.Equal(t, "legacy-plain-token", token)
	assert.NotContains(t, tableDump(t, s), "legacy-plain-token", "sealed once read")
	integ, err = s.GetIntegration(ctx, id)
	require.NoError(t, err)
	token, _, err = s.OpenSecrets(ctx, integ)
	require.NoError(t, err)
	assert.Equal(t, "legacy-plain-token", token)
}

// sealedUnder counts the integrations whose token is sealed under key id.
func sealedUnder(t *testing.T, s *store.Store, keyID string) int {
	t.Helper()
	var n int
	require.NoError(t, s.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM integrations WHERE token LIKE $1 AND "refreshToken" LIKE $1`, "enc:v1:"+keyID+":%").Scan(&n))
	return n
}

func TestRotateKeyResumes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	oldKey, curKey := newKey(t), newKey(t)
	s.SetKeyring(ring(t, oldKey))
	const n = 25
	ids := make([]string, n)
	for i := range ids {
		ids[i] = connect(t, s, fmt.Sprintf("token-%02d-secret", i), fmt.Sprintf("refresh-%02d-secret", i))
	}
	// Three rows from before encryption.
	_, err := s.Pool().Exec(ctx, `UPDATE integrations SET token = 'legacy-' || id, "refreshToken" = 'legacy-r-' || id WHERE id = ANY($1)`, ids[:3])
	require.NoError(t, err)

	// The new key is current, the old one still opens. A rotation is cut
	// after its first batch.
	s.SetKeyring(ring(t, curKey, oldKey))
	newID := secrets.KeyID(curKey)
	cctx, cancel := context.WithCancel(ctx)
	var batches []store.RotateBatch
	_, err = s.RotateSecrets(cctx, 10, func(b store.RotateBatch) { batches = append(batches, b); cancel() })
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, batches, 1)
	assert.Equal(t, 10, batches[0].Resealed)
	assert.Equal(t, 10, sealedUnder(t, s, newID), "the first batch is committed")
	// Meanwhile every token still opens.
	for i, id := range ids {
		integ, err := s.GetIntegration(ctx, id)
		require.NoError(t, err)
		// Read-only check: OpenSecrets would reseal, so open by the ring.
		want := fmt.Sprintf("token-%02d-secret", i)
		if i < 3 {
			want = "legacy-" + id
		}
		got, _, err := s.Keyring().Open(integ.Token, "integrations.token:"+id)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}

	// Run again: it picks up the rest, and a third run finds nothing.
	rep, err := s.RotateSecrets(ctx, 10, nil)
	require.NoError(t, err)
	assert.Equal(t, n-10, rep.Resealed)
	assert.Empty(t, rep.Failed)
	assert.Equal(t, n, sealedUnder(t, s, newID))
	rep, err = s.RotateSecrets(ctx, 10, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, rep.Resealed)
	dump := tableDump(t, s)
	assert.NotContains(t, dump, "secret")
	assert.NotContains(t, dump, "legacy")

	// The old key can go: the new one alone opens everything.
	s.SetKeyring(ring(t, curKey))
	for i, id := range ids {
		integ, err := s.GetIntegration(ctx, id)
		require.NoError(t, err)
		token, refresh, err := s.OpenSecrets(ctx, integ)
		require.NoError(t, err)
		if i >= 3 {
			assert.Equal(t, fmt.Sprintf("token-%02d-secret", i), token)
			assert.Equal(t, fmt.Sprintf("refresh-%02d-secret", i), refresh)
		}
	}

	// A value under a key the ring does not hold is reported, not lost.
	s.SetKeyring(ring(t, newKey(t)))
	rep, err = s.RotateSecrets(ctx, 10, nil)
	require.NoError(t, err)
	assert.Len(t, rep.Failed, n)
}

func TestRefreshedTokensAreSealed(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	id := connect(t, s, "access-1-plaintext", "refresh-1-plaintext")
	cur, err := s.Tokens(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "access-1-plaintext", cur.Access)
	assert.Equal(t, "refresh-1-plaintext", cur.Refresh)

	_, err = s.RefreshTokens(ctx, id, func(_ context.Context, cur integrations.Tokens) (*integrations.Tokens, error) {
		return &integrations.Tokens{Access: "access-2-plaintext", Refresh: "refresh-2-plaintext", ExpiresAt: time.Now().Add(time.Hour)}, nil
	})
	require.NoError(t, err)
	assert.NotContains(t, tableDump(t, s), "plaintext", "a refreshed pair is readable in the table")
	got, err := s.Tokens(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "access-2-plaintext", got.Access)
	assert.Equal(t, "refresh-2-plaintext", got.Refresh)
	integ, err := s.GetIntegration(ctx, id)
	require.NoError(t, err)
	token, refresh, err := s.OpenSecrets(ctx, integ)
	require.NoError(t, err)
	assert.Equal(t, []string{"access-2-plaintext", "refresh-2-plaintext"}, []string{token, refresh})

	// A pair from before encryption is read, and sealed by the next write.
	_, err = s.Pool().Exec(ctx, `UPDATE integrations SET token = 'legacy-access', "refreshToken" = 'legacy-refresh' WHERE id = $1`, id)
	require.NoError(t, err)
	got, err = s.Tokens(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "legacy-refresh", got.Refresh)
	require.NoError(t, s.SaveTokens(ctx, id, got))
	assert.NotContains(t, tableDump(t, s), "legacy-")
}
