package devto

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto/devtofake"
	"github.com/crowdflow/crowdflow/internal/pgtest"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/internal/quota/quotatest"
	"github.com/crowdflow/crowdflow/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Two workers (two Services, two stores on one database) read from one
// address at once: without a ledger each would pace itself at 3 a second
// and the two together would meet Forem's throttle; the shared ledger
// paces them together, and the throttle refuses nothing. The services'
// own pacers are off: the ledger alone keeps the pace.
func TestWorkersShareTheAddressBudget(t *testing.T) {
	fake := devtofake.New(manyCommenters(5))
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	db := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	for range 2 {
		s, err := store.Open(context.Background(), db)
		require.NoError(t, err)
		t.Cleanup(s.Close)
		svc := New(Options{BaseURL: srv.URL + "/api", RequestsPerSecond: -1})
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := quota.WithLedger(context.Background(), s)
			res, err := svc.ProcessStream(ctx, &integrations.RunContext{}, integrations.NewStream("900", streamMeta{ArticleID: 900}))
			if assert.NoError(t, err) {
				assert.Len(t, res.Activities, 5)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 12, fake.TotalRequests(), "a tree and 5 profiles, twice")
	assert.Zero(t, fake.Throttled(), "the throttle refused nothing")
}

// A spent budget is a RateLimitedError through the client's wrapping, and
// Dev.to is not called; every budget is the address's (no credential in
// the key, even with an api-key).
func TestSpentBudgetIsRateLimited(t *testing.T) {
	fake := devtofake.New(manyCommenters(1))
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	svc := New(Options{BaseURL: srv.URL + "/api", RequestsPerSecond: -1})
	until := time.Now().Add(time.Hour)
	spent := &quotatest.Spent{Until: until}
	_, err := svc.ProcessStream(quota.WithLedger(context.Background(), spent), &integrations.RunContext{
		Integration: integrations.Integration{Token: "devto-api-key"},
	}, integrations.NewStream("900", streamMeta{ArticleID: 900}))
	rl, ok := integrations.AsRateLimited(err)
	require.True(t, ok, "%v", err)
	assert.WithinDuration(t, until, rl.Until, time.Millisecond)
	assert.Zero(t, fake.TotalRequests(), "nothing reached Dev.to")
	asks := spent.Asks()
	require.NotEmpty(t, asks)
	assert.Regexp(t, `^devto\|127\.0\.0\.1:\d+\|-\|$`, asks[0].Key, "one budget per address")
}
