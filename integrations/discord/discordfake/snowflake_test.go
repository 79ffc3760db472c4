package discordfake_test

import (
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations/discord/discordfake"
)

func TestSnowflakes(t *testing.T) {
	ts := time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)
	id := discordfake.Snowflake(ts, 7)

	got, err := discordfake.SnowflakeTime(id)
	require.NoError(t, err)
	assert.Equal(t, ts, got)

	// discordgo reads the same time from it.
	dg, err := discordgo.SnowflakeTimestamp(id)
	require.NoError(t, err)
	assert.True(t, ts.Equal(dg))

	// Later times and later increments make larger ids (of equal length
	// here; the fake compares ids as numbers in any case).
	assert.Less(t, discordfake.Snowflake(ts, 7), discordfake.Snowflake(ts.Add(time.Millisecond), 0))
	assert.Less(t, discordfake.Snowflake(ts, 1), discordfake.Snowflake(ts, 2))

	_, err = discordfake.SnowflakeTime("not-a-snowflake")
	assert.Error(t, err)
}
