package discord_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/discord/discordfake"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/internal/quota/quotatest"
)

// In an activity (a quota ledger in the context) every call is booked on
// its route and on the bot's global budget, a used-up bucket asks for no
// Sleep (the ledger holds that route's next call instead of the whole
// run), and a spent route is a RateLimitedError for that route alone,
// found through discordgo's and the client's wrapping, with no call made.
func TestCallsAreBookedInTheLedger(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{switches: discordfake.Switches{BucketLimit: 1, BucketWindow: time.Hour, Now: fixedNow}})
	run := e.run(s.guild, true, at(20), nil)
	st := streamOf(t, e, run, "channel", "general")

	open := &quotatest.Open{}
	res, err := e.svc.ProcessStream(quota.WithLedger(context.Background(), open), run, st)
	require.NoError(t, err)
	assert.Zero(t, res.Sleep, "no Sleep: the ledger holds the route")
	asks := open.Asks()
	require.Len(t, asks, 2, "the route and the global budget")
	assert.True(t, strings.HasSuffix(asks[0].Key, "|GET /channels/"+s.general+"/messages"), asks[0].Key)
	assert.True(t, strings.HasSuffix(asks[1].Key, "|global"), asks[1].Key)
	assert.Equal(t, time.Second/50, asks[1].Interval)
	obs := open.Observations()
	require.NotEmpty(t, obs)
	assert.Equal(t, 0, obs[0].Remaining, "the bucket's headers were fed")

	before := len(e.fake.Calls())
	until := time.Now().Add(time.Hour)
	_, err = e.svc.ProcessStream(quota.WithLedger(context.Background(), &quotatest.Spent{Until: until}), run, st)
	rl, ok := integrations.AsRateLimited(err)
	require.True(t, ok, "got %v", err)
	assert.Equal(t, "GET /channels/"+s.general+"/messages", rl.Bucket)
	assert.WithinDuration(t, until, rl.Until, time.Millisecond)
	assert.Len(t, e.fake.Calls(), before, "nothing reached Discord")
}
