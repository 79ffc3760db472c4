package twitter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/twitter/twitterfake"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/internal/quota/quotatest"
)

// In an activity every call is booked in the quota ledger on its endpoint
// and token: an endpoint left at one call asks for no Sleep of the whole
// run (the ledger holds that endpoint), and a spent endpoint is a
// RateLimitedError for it alone, with no request made.
func TestCallsAreBookedInTheLedger(t *testing.T) {
	stream := integrations.NewStream(streamFollowers, nil)
	f := newFixture(t, world(), twitterfake.Switches{Limits: map[string]int{twitterfake.RouteFollowers: 2}, RateWindow: 10 * time.Minute})
	rc := f.connect(t, `{}`, true)

	open := &quotatest.Open{}
	res, err := f.svc.ProcessStream(quota.WithLedger(context.Background(), open), rc, stream)
	require.NoError(t, err)
	assert.Zero(t, res.Sleep, "1 left, but the ledger holds the endpoint: no Sleep")
	asks := open.Asks()
	require.Len(t, asks, 1)
	assert.True(t, strings.HasPrefix(asks[0].Key, "twitter|"), asks[0].Key)
	assert.True(t, strings.HasSuffix(asks[0].Key, "|GET /2/users/:id/followers"), asks[0].Key)
	assert.NotContains(t, asks[0].Key, rc.Integration.Token)
	obs := open.Observations()
	require.Len(t, obs, 1)
	assert.Equal(t, 1, obs[0].Remaining, "x-rate-limit-remaining was fed")
	assert.Equal(t, 2, obs[0].Limit)

	before := f.fake.Requests(twitterfake.RouteFollowers)
	until := time.Now().Add(time.Hour)
	_, err = f.svc.ProcessStream(quota.WithLedger(context.Background(), &quotatest.Spent{Until: until}), rc, stream)
	rl, ok := integrations.AsRateLimited(err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, "GET /2/users/:id/followers", rl.Bucket)
	assert.Equal(t, before, f.fake.Requests(twitterfake.RouteFollowers), "nothing reached X")
}
