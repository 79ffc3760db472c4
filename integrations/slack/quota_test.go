package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/slack/slackfake"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/internal/quota/quotatest"
)

// Every call goes through the quota ledger of its context: a spent budget
// is a RateLimitedError through slack-go and apiError, and Slack is not
// called; the key holds no token.
func TestCallsAreBookedInTheLedger(t *testing.T) {
	e := newEnv(t, testWorld(), 2)
	e.noContract = "no call is made"
	until := time.Now().Add(time.Hour)
	spent := &quotatest.Spent{Until: until}
	_, err := e.svc.Preprocess(quota.WithLedger(context.Background(), spent), e.runContext(true, `{}`))
	rl, ok := integrations.AsRateLimited(err)
	require.True(t, ok, "got %v", err)
	assert.WithinDuration(t, until, rl.Until, time.Millisecond)
	assert.Zero(t, e.fake.Calls(slackfake.MethodTeamInfo), "nothing reached Slack")
	asks := spent.Asks()
	require.NotEmpty(t, asks)
	assert.True(t, strings.HasPrefix(asks[0].Key, "slack|"), asks[0].Key)
	assert.NotContains(t, asks[0].Key, testToken)

	open := &quotatest.Open{}
	_, err = e.svc.Preprocess(quota.WithLedger(context.Background(), open), e.runContext(true, `{}`))
	require.NoError(t, err)
	assert.NotEmpty(t, open.Asks(), "booked before each call")
}
