package twitter

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/twitter/twitterfake"
	"github.com/crowdflow/crowdflow/store"
)

func stored(t *testing.T, f *fixture, rc *integrations.RunContext) integrations.Tokens {
	t.Helper()
	tok, err := f.store.Tokens(context.Background(), rc.Integration.ID)
	require.NoError(t, err)
	return tok
}

func status(t *testing.T, f *fixture, rc *integrations.RunContext) string {
	t.Helper()
	integ, err := f.store.GetIntegration(context.Background(), rc.Integration.ID)
	require.NoError(t, err)
	return integ.Status
}

func TestRefreshOnlyNearExpiry(t *testing.T) {
	f := newFixture(t, world(), twitterfake.Switches{}).withStore(t)
	rc := f.connect(t, `{}`, true)
	ctx := context.Background()

	// Unknown expiry (as connected): refreshed once, the expiry kept.
	tok, err := f.svc.Client().AccessToken(ctx, rc)
	require.NoError(t, err)
	assert.NotEqual(t, rc.Integration.Token, tok)
	st := stored(t, f, rc)
	assert.Equal(t, tok, st.Access)
	assert.WithinDuration(t, now.Add(2*time.Hour), st.ExpiresAt, time.Second)
	assert.True(t, f.fake.ValidPair(st.Access, st.Refresh))
	assert.Equal(t, 1, f.fake.Refreshes())

	// Fresh: used as is, however often.
	for range 3 {
		again, err := f.svc.Client().AccessToken(ctx, rc)
		require.NoError(t, err)
		assert.Equal(t, tok, again)
	}
	f.clock.Add(2*time.Hour - refreshMargin - time.Second)
	_, err = f.svc.Client().AccessToken(ctx, rc)
	require.NoError(t, err)
	assert.Equal(t, 1, f.fake.Refreshes(), "not yet within the margin")

	// Within five minutes of expiry: refreshed.
	f.clock.Add(2 * time.Second)
	tok2, err := f.svc.Client().AccessToken(ctx, rc)
	require.NoError(t, err)
	assert.NotEqual(t, tok, tok2)
	assert.Equal(t, 2, f.fake.Refreshes())
	st = stored(t, f, rc)
	assert.True(t, f.fake.ValidPair(st.Access, st.Refresh))
	assert.Equal(t, 1, f.fake.LiveRefreshTokens(), "one live refresh token: the stored one")
}

// TestConcurrentRefreshes: runs of one integration on several workers
// (twitter and twitter-reach) all find the token expired at once; one
// refreshes, the others wait for the lock and take its pair.
func TestConcurrentRefreshes(t *testing.T) {
	f := newFixture(t, world(), twitterfake.Switches{}).withStore(t)
	rc := f.connect(t, `{}`, true)
	const n = 8
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each "worker" has its own client and run context.
			svc := New(Options{APIURL: f.srv.URL, ClientID: clientID, ClientSecret: clientSecret, HTTPClient: f.srv.Client(), Now: f.clock.Now})
			cp := *rc
			got[i], errs[i] = svc.Client().AccessToken(context.Background(), &cp)
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, got[0], got[i])
	}
	assert.Equal(t, 1, f.fake.Refreshes())
	st := stored(t, f, rc)
	assert.Equal(t, got[0], st.Access)
	assert.True(t, f.fake.ValidPair(st.Access, st.Refresh))
}

// TestRefreshCrashPoints: a failure at each point of a refresh leaves a
// working pair, except a lost answer (the one window no design closes with
// single-use refresh tokens), which ends in needs-reconnect without retries.
func TestRefreshCrashPoints(t *testing.T) {
	ctx := context.Background()

	t.Run("before the request: the token endpoint fails", func(t *testing.T) {
		f := newFixture(t, world(), twitterfake.Switches{}).withStore(t)
		rc := f.connect(t, `{}`, true)
		before := stored(t, f, rc)
		f.fake.FailNextToken(1, http.StatusServiceUnavailable)
		_, err := f.svc.Client().AccessToken(ctx, rc)
		require.Error(t, err)
		assert.False(t, integrations.IsPermanent(err), "retried")
		assert.Equal(t, before, stored(t, f, rc), "nothing written")
		tok, err := f.svc.Client().AccessToken(ctx, rc)
		require.NoError(t, err, "the retry refreshes with the old refresh token")
		st := stored(t, f, rc)
		assert.Equal(t, tok, st.Access)
		assert.True(t, f.fake.ValidPair(st.Access, st.Refresh))
	})

	t.Run("before the request: the session holding the lock dies", func(t *testing.T) {
		f := newFixture(t, world(), twitterfake.Switches{}).withStore(t)
		rc := f.connect(t, `{}`, true)
		before := stored(t, f, rc)
		_, err := f.store.RefreshTokens(ctx, rc.Integration.ID, func(ctx context.Context, cur integrations.Tokens) (*integrations.Tokens, error) {
			// The worker's database session dies while it holds the lock,
			// before it sends the request.
			_, err := f.store.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted`)
			require.NoError(t, err)
			return &integrations.Tokens{Access: "never", Refresh: "never"}, nil
		})
		require.Error(t, err)
		assert.Equal(t, before, stored(t, f, rc))
		lockCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		tok, err := f.svc.Client().AccessToken(lockCtx, rc)
		require.NoError(t, err, "the lock went with the session")
		assert.True(t, f.fake.ValidPair(tok, stored(t, f, rc).Refresh))
	})

	t.Run("after the commit: the step dies before it uses the token", func(t *testing.T) {
		f := newFixture(t, world(), twitterfake.Switches{}).withStore(t)
		rc := f.connect(t, `{}`, true)
		tok, err := f.svc.Client().AccessToken(ctx, rc)
		require.NoError(t, err)
		// The retried step finds the new pair and uses it.
		again, err := f.svc.Client().AccessToken(ctx, rc)
		require.NoError(t, err)
		assert.Equal(t, tok, again)
		assert.Equal(t, 1, f.fake.Refreshes())
	})

	t.Run("between the answer and the commit: the pair is lost, reconnect", func(t *testing.T) {
		f := newFixture(t, world(), twitterfake.Switches{}).withStore(t)
		rc := f.connect(t, `{}`, true)
		f.fake.LoseNextTokenResponse(1)
		_, err := f.svc.Client().AccessToken(ctx, rc)
		require.Error(t, err)
		assert.False(t, integrations.IsPermanent(err), "the client cannot tell a lost answer from a network error")
		calls := f.fake.Requests(twitterfake.RouteToken)
		_, err = f.svc.Client().AccessToken(ctx, rc)
		require.Error(t, err)
		assert.True(t, integrations.IsPermanent(err), "not retried")
		assert.Contains(t, err.Error(), "reconnect")
		assert.Equal(t, store.StatusNeedsReconnect, status(t, f, rc))
		assert.Equal(t, calls+1, f.fake.Requests(twitterfake.RouteToken), "one refused refresh")
		assert.Equal(t, integrations.Tokens{}, stored(t, f, rc), "the dead pair is cleared")
		_, err = f.svc.Client().AccessToken(ctx, rc)
		require.Error(t, err)
		assert.True(t, integrations.IsPermanent(err))
		assert.Contains(t, err.Error(), "reconnect")
		assert.Equal(t, calls+1, f.fake.Requests(twitterfake.RouteToken), "later steps do not ask X again")
	})
}

func TestUnauthorizedExpiresTheToken(t *testing.T) {
	f := newFixture(t, world(), twitterfake.Switches{}).withStore(t)
	rc := f.connect(t, `{}`, true)
	ctx := context.Background()
	stream := integrations.NewStream(streamFollowers, nil)
	_, err := f.svc.ProcessStream(ctx, rc, stream)
	require.NoError(t, err)
	// The access token dies early (revoked): the attempt fails, the
	// retry refreshes.
	require.NoError(t, f.store.SaveTokens(ctx, rc.Integration.ID, integrations.Tokens{
		Access: "revoked", Refresh: stored(t, f, rc).Refresh, ExpiresAt: now.Add(time.Hour)}))
	_, err = f.svc.ProcessStream(ctx, rc, stream)
	require.ErrorIs(t, err, errUnauthorized)
	assert.False(t, integrations.IsPermanent(err))
	_, err = f.svc.ProcessStream(ctx, rc, stream)
	require.NoError(t, err)
	assert.Equal(t, 2, f.fake.Refreshes())

	// Without a refresh token (an app-only token) nothing can fix it.
	require.NoError(t, f.store.SaveTokens(ctx, rc.Integration.ID, integrations.Tokens{Access: "revoked"}))
	_, err = f.svc.ProcessStream(ctx, rc, stream)
	require.Error(t, err)
	assert.True(t, integrations.IsPermanent(err))
	assert.Equal(t, store.StatusNeedsReconnect, status(t, f, rc))
	assert.False(t, errors.Is(err, context.Canceled))
}

// TestServerWithoutTokenEndpoint: an X-compatible server without OAuth
// (404 on the token endpoint) gets the connected token as it is, while its
// expiry is unknown.
func TestServerWithoutTokenEndpoint(t *testing.T) {
	f := newFixture(t, world(), twitterfake.Switches{}).withStore(t)
	rc := f.connect(t, `{}`, true)
	noOAuth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/2/oauth2/token" {
			http.NotFound(w, r)
			return
		}
		f.fake.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(noOAuth.Close)
	svc := New(Options{APIURL: noOAuth.URL, Now: f.clock.Now})
	res, err := svc.ProcessStream(context.Background(), rc, integrations.NewStream(streamFollowers, nil))
	require.NoError(t, err)
	assert.Len(t, res.Activities, 3)
	assert.Equal(t, rc.Integration.Token, stored(t, f, rc).Access)
}
