package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/store"
)

func TestMergeReach(t *testing.T) {
	s := newStore(t)
	for _, tc := range []struct{ old, new, want string }{
		{`{"total": -1}`, `{"twitter": 5}`, `{"total": 5, "twitter": 5}`},
		{`{"github": 3, "total": 3}`, `{"twitter": 5, "total": 5}`, `{"total": 8, "github": 3, "twitter": 5}`},
		{`{"github": 3, "twitter": 1, "total": 4}`, `{"twitter": 5}`, `{"total": 8, "github": 3, "twitter": 5}`},
		{`{"total": -1}`, `{"total": -1}`, `{"total": -1}`},
		{`{"github": 3, "total": 3}`, `null`, `{"total": 3, "github": 3}`},
	} {
		var got string
		require.NoError(t, s.Pool().QueryRow(context.Background(), `SELECT crowd_merge_reach($1::jsonb, $2::jsonb)::text`, tc.old, tc.new).Scan(&got))
		assert.JSONEq(t, tc.want, got, "%s + %s", tc.old, tc.new)
	}
}

// TestRefreshTokensSerialises: refreshes of one integration run one at a
// time, each seeing what the one before stored.
func TestRefreshTokensSerialises(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	id, err := s.CreateIntegration(ctx, store.NewIntegration{TenantID: uuid.NewString(), Platform: "twitter", Status: store.StatusDone,
		Token: "a0", RefreshToken: "r0"})
	require.NoError(t, err)
	var inside, most int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.RefreshTokens(ctx, id, func(_ context.Context, cur integrations.Tokens) (*integrations.Tokens, error) {
				mu.Lock()
				inside++
				most = max(most, inside)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				mu.Lock()
				inside--
				mu.Unlock()
				next := cur
				next.Access += "+"
				return &next, nil
			})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, most, "never two at once")
	tok, err := s.Tokens(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "a0++++++", tok.Access, "each saw the one before")
	assert.Equal(t, "r0", tok.Refresh)

	// An error rolls back; nil writes nothing.
	_, err = s.RefreshTokens(ctx, id, func(context.Context, integrations.Tokens) (*integrations.Tokens, error) {
		return nil, assert.AnError
	})
	require.ErrorIs(t, err, assert.AnError)
	got, err := s.RefreshTokens(ctx, id, func(context.Context, integrations.Tokens) (*integrations.Tokens, error) { return nil, nil })
	require.NoError(t, err)
	assert.Equal(t, tok, got)

	// ExpireAccessToken only expires the token it names.
	require.NoError(t, s.ExpireAccessToken(ctx, id, "stale"))
	tok2, _ := s.Tokens(ctx, id)
	assert.True(t, tok2.ExpiresAt.IsZero())
	require.NoError(t, s.ExpireAccessToken(ctx, id, tok.Access))
	tok2, _ = s.Tokens(ctx, id)
	assert.False(t, tok2.ExpiresAt.IsZero())
	assert.True(t, tok2.ExpiresAt.Before(time.Now()))
}
