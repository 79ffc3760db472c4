package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/discord"
	"github.com/crowdflow/crowdflow/integrations/discord/discordfake"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/store"
)

const discordToken = "e2e-discord-bot-token"

// discordWorld is the seeded guild: its history is a month old, well
// outside a check run's window.
type discordWorld struct {
	w    discordfake.World
	base time.Time

	guild, bot, alice, bob, carol, dave, ghost, mee6 string
	category, general, news, voice, mods, thread     string
	// message ids by name
	m map[string]string
}

func newDiscordWorld() *discordWorld {
	s := &discordWorld{base: time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Hour), m: map[string]string{}}
	at := func(h float64) time.Time { return s.base.Add(time.Duration(h * float64(time.Hour))) }
	old := func(y, n int) string { return discordfake.Snowflake(time.Date(y, 3, 1, 0, 0, 0, 0, time.UTC), n) }
	s.guild = old(2021, 1)
	s.bot, s.alice, s.bob, s.carol, s.dave, s.ghost, s.mee6 = old(2022, 2), old(2019, 3), old(2019, 4), old(2020, 5), old(2020, 6), old(2018, 7), old(2023, 8)
	s.category, s.general, s.news, s.voice, s.mods = old(2021, 10), old(2021, 11), old(2021, 12), old(2021, 13), old(2021, 14)

	s.w = discordfake.World{
		Guild:     discordfake.Guild{ID: s.guild, Name: "E2E Guild"},
		BotUserID: s.bot,
		Users: []discordfake.User{
			{ID: s.bot, Username: "crowdflow-bot", Discriminator: "1234", Bot: true},
			{ID: s.alice, Username: "alice", GlobalName: "Alice Liddell", Avatar: "a_1f2e3d"},
			{ID: s.bob, Username: "bob"},
			{ID: s.carol, Username: "carol"},
			{ID: s.ghost, Username: "Deleted User", Discriminator: "4321"},
			{ID: s.mee6, Username: "mee6", Discriminator: "4876", Bot: true},
		},
		Members: []discordfake.Member{
			{UserID: s.bot, JoinedAt: at(-100)},
			{UserID: s.alice, JoinedAt: at(-90).Add(123456 * time.Microsecond)},
			{UserID: s.bob, Nick: "Bobby", JoinedAt: at(-80)},
			{UserID: s.carol, JoinedAt: at(-70)},
			{UserID: s.mee6, JoinedAt: at(-60)},
		},
	}
	msg := func(name, channel, author string, typ int, h float64, content string) *discordfake.Message {
		m := discordfake.Message{ID: discordfake.Snowflake(at(h), len(s.m)+10), ChannelID: channel, AuthorID: author,
			Type: typ, Timestamp: at(h), Content: content}
		s.m[name] = m.ID
		s.w.Messages = append(s.w.Messages, m)
		return &s.w.Messages[len(s.w.Messages)-1]
	}
	msg("g1", s.general, s.alice, discordfake.MessageDefault, 1, fmt.Sprintf("Hello <@%s> and <@!%s>", s.bob, s.carol))
	msg("g2", s.general, s.bob, discordfake.MessageReply, 2, fmt.Sprintf("Hi <@%s>!", s.alice)).RefID = s.m["g1"]
	msg("g3", s.general, s.bot, discordfake.MessageDefault, 3, "I am a bot")
	msg("g4", s.general, s.carol, discordfake.MessageUserJoin, 4, "")
	msg("g5", s.general, s.carol, discordfake.MessageDefault, 5, "Let's plan the release").StartsThread = true
	msg("g6", s.general, "1100000000000000077", discordfake.MessageDefault, 6, "Build passed").WebhookID = "1100000000000000077"
	msg("g7", s.general, s.ghost, discordfake.MessageDefault, 7, "I deleted my account")
	msg("g8", s.general, s.mee6, discordfake.MessageDefault, 8, "Level up!")
	s.thread = s.m["g5"] // a thread has the id of the message it was started from
	msg("a0", s.thread, s.carol, discordfake.MessageThreadStarter, 5.001, "").RefID = s.m["g5"]
	msg("a1", s.thread, s.bob, discordfake.MessageDefault, 6, "I can take the changelog")
	msg("a2", s.thread, s.alice, discordfake.MessageReply, 7, fmt.Sprintf("Thanks <@%s>", s.bob)).RefID = s.m["a1"]
	msg("n1", s.news, s.alice, discordfake.MessageDefault, 2.5, "Version 1.0 released")
	msg("v1", s.voice, s.alice, discordfake.MessageDefault, 3.5, "text in voice")
	msg("s1", s.mods, s.alice, discordfake.MessageDefault, 4.5, "mods only")

	s.w.Channels = []discordfake.Channel{
		{ID: s.category, Name: "Community", Type: discordfake.ChannelCategory},
		{ID: s.general, Name: "general", Type: discordfake.ChannelText, ParentID: s.category, Position: 1},
		{ID: s.news, Name: "announcements", Type: discordfake.ChannelAnnouncement, ParentID: s.category, Position: 2},
		{ID: s.voice, Name: "lounge", Type: discordfake.ChannelVoice, Position: 3},
		{ID: s.mods, Name: "mods", Type: discordfake.ChannelText, Position: 4, Unreadable: true},
		{ID: s.thread, Name: "Release planning", Type: discordfake.ChannelPublicThread, ParentID: s.general, OwnerID: s.carol},
	}
	return s
}

func (s *discordWorld) settings() string { return `{"guildId": "` + s.guild + `"}` }

// joined is the source id of a joined_guild activity.
func (s *discordWorld) joined(user string) string {
	for _, m := range s.w.Members {
		if m.UserID == user {
			return "gen-" + user + "-" + m.JoinedAt.Format("2006-01-02T15:04:05.000Z")
		}
	}
	panic("no member " + user)
}

func (s *discordWorld) link(channel, id string) string {
	return "https://discord.com/channels/" + s.guild + "/" + channel + "/" + id
}

type discordEnv struct {
	*env
	fake *discordfake.Fake
}

func newDiscordEnv(t *testing.T, w discordfake.World, opts ...option) *discordEnv {
	fake := discordfake.New(w, discordfake.Switches{Token: discordToken})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	svc := discord.New(discord.Options{APIURL: srv.URL})
	return &discordEnv{env: newEnv(t, []integrations.Service{svc}, opts...), fake: fake}
}

// callsTo lists the fake's answers to paths containing part.
func (e *discordEnv) callsTo(part string) []string {
	var out []string
	for _, c := range e.fake.Calls() {
		if strings.Contains(c.Path, part) {
			out = append(out, c.String())
		}
	}
	return out
}

func (e *discordEnv) assertOnboarded(s *discordWorld) {
	t := e.t
	// Bots, the webhook, system messages (join, thread starter), the
	// voice channel and the channel the bot may not read make nothing; a
	// deleted account is a member of its own.
	ghost := "Deleted User:" + s.ghost
	want := []string{
		"joined_guild|" + s.joined(s.alice) + "||alice|",
		"joined_guild|" + s.joined(s.bob) + "||bob|",
		"joined_guild|" + s.joined(s.carol) + "||carol|",
		"message|" + s.m["g1"] + "||alice|general",
		"message|" + s.m["g2"] + "|" + s.m["g1"] + "|bob|general",
		"message|" + s.m["g5"] + "||carol|general",
		"message|" + s.m["g7"] + "||" + ghost + "|general",
		"message|" + s.m["a1"] + "|" + s.thread + "|bob|general",
		"message|" + s.m["a2"] + "|" + s.m["a1"] + "|alice|general",
		"message|" + s.m["n1"] + "||alice|announcements",
		"message|" + s.m["v1"] + "||alice|lounge", // a voice channel's text chat
	}
	slices.Sort(want)
	assert.Equal(t, want, e.activityKeys())
	assert.Equal(t, []string{ghost, "alice", "bob", "carol"}, sorted(e.strings(`SELECT username FROM "memberIdentities"`)))
	assert.Equal(t, 4, e.count(`SELECT count(*) FROM members`))
	assert.Equal(t, []string{"Alice Liddell", "Bobby", "Deleted User", "carol"}, sorted(e.strings(`SELECT "displayName" FROM members`)),
		"the global name, else the guild nickname, else the username")
	assert.Equal(t, []string{"https://cdn.discordapp.com/avatars/" + s.alice + "/a_1f2e3d.png"},
		e.strings(`SELECT attributes->'avatarUrl'->>'discord' FROM members WHERE attributes ? 'avatarUrl'`))

	assert.Equal(t, []string{
		"Hello @bob and @carol||" + s.link(s.general, s.m["g1"]) + "|false",
		"Hi @alice!||" + s.link(s.general, s.m["g2"]) + "|false",
		"I can take the changelog|Release planning|" + s.link(s.thread, s.m["a1"]) + "|true",
		"Thanks @bob|Release planning|" + s.link(s.thread, s.m["a2"]) + "|true",
	}, e.strings(`SELECT concat_ws('|', body, coalesce(title, ''), url, attributes->>'thread') FROM activities
		WHERE "sourceId" = ANY($1) ORDER BY timestamp`, []string{s.m["g1"], s.m["g2"], s.m["a1"], s.m["a2"]}))
	// Replies link to the message they answer; thread messages to the
	// message the thread was started from.
	assert.ElementsMatch(t, []string{
		s.m["a1"] + "<-" + s.m["a2"],
		s.m["g1"] + "<-" + s.m["g2"],
		s.m["g5"] + "<-" + s.m["a1"],
	}, e.strings(`SELECT p."sourceId" || '<-' || c."sourceId" FROM activities c JOIN activities p ON c."parentId" = p.id`))
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM activities WHERE "sourceId" = $1 AND timestamp = $2`,
		s.joined(s.alice), s.w.Members[1].JoinedAt), "a join is dated when the member joined, to the microsecond")
	assert.Equal(t, 3, e.count(`SELECT count(*) FROM activities WHERE type = 'joined_guild' AND score = 3 AND NOT "isContribution"`))
	assert.Equal(t, 8, e.count(`SELECT count(*) FROM activities WHERE type = 'message' AND score = 6 AND "isContribution" AND platform = 'discord'`))
}

func TestDiscordOnboardingThenChecks(t *testing.T) {
	s := newDiscordWorld()
	e := newDiscordEnv(t, s.w)
	started, state := e.connect(discord.Platform, s.settings(), discordToken)
	require.Equal(t, store.RunProcessed, state)
	e.assertOnboarded(s)
	assert.Equal(t, []string{"channel:Release planning", "channel:announcements", "channel:general", "channel:lounge", "members:"},
		sorted(e.strings(`SELECT name || ':' || coalesce(metadata->>'name', '') FROM "integrationStreams" WHERE "runId" = $1
			AND state = 'processed' AND retries IS NULL`, started.RunID)))
	assert.Empty(t, e.callsTo("/channels/"+s.mods+"/messages"), "the unreadable channel is probed, never read")
	assert.Len(t, e.callsTo("/channels/"+s.voice+"/messages"), 1, "the voice channel's text chat is read")
	assert.Equal(t, []string{s.mods + "|mods"}, e.strings(`SELECT concat_ws('|', x->>'id', x->>'name')
		FROM "integrationRuns", jsonb_array_elements("pipelineData"->'skipped') x`))
	assert.Equal(t, []string{"done"}, e.strings(`SELECT status FROM integrations`))
	assert.Equal(t, []string{s.voice + "," + s.general + "," + s.news}, e.strings(`SELECT string_agg(c->>'id', ',' ORDER BY c->>'name' DESC)
		FROM integrations, jsonb_array_elements(settings->'channels') c`), "postprocess records the channels read in full")
	assert.Equal(t, runHistory{}, e.history(started), "no wait, no retry")
	onboarded := e.snapshot()
	oldKeys := e.activityKeys()

	// New messages within the check window: a mention and a reply in
	// #general, a message in the thread, a newcomer in #announcements,
	// and a bot's message.
	now := time.Now().UTC().Truncate(time.Millisecond)
	c1 := e.fake.AddMessage(discordfake.Message{ChannelID: s.general, AuthorID: s.bob, Type: discordfake.MessageDefault,
		Timestamp: now.Add(-3 * time.Hour), Content: fmt.Sprintf("<@%s> shipped it", s.alice)})
	c2 := e.fake.AddMessage(discordfake.Message{ChannelID: s.general, AuthorID: s.alice, Type: discordfake.MessageReply,
		Timestamp: now.Add(-2 * time.Hour), Content: "Great", RefID: c1.ID})
	c3 := e.fake.AddMessage(discordfake.Message{ChannelID: s.thread, AuthorID: s.carol, Type: discordfake.MessageDefault,
		Timestamp: now.Add(-90 * time.Minute), Content: "Changelog done"})
	daveJoined := now.Add(-time.Hour)
	e.fake.AddMember(discordfake.User{ID: s.dave, Username: "dave", GlobalName: "Dave D"}, discordfake.Member{JoinedAt: daveJoined})
	c4 := e.fake.AddMessage(discordfake.Message{ChannelID: s.news, AuthorID: s.dave, Type: discordfake.MessageDefault,
		Timestamp: now.Add(-30 * time.Minute), Content: "hi all"})
	e.fake.AddMessage(discordfake.Message{ChannelID: s.general, AuthorID: s.mee6, Type: discordfake.MessageDefault,
		Timestamp: now.Add(-20 * time.Minute), Content: "dave reached level 1"})

	e.fake.ResetCalls()
	check, state := e.start(started.IntegrationID, false)
	require.Equal(t, store.RunProcessed, state)
	assert.ElementsMatch(t, []string{
		"message|" + c1.ID + "||bob|general",
		"message|" + c2.ID + "|" + c1.ID + "|alice|general",
		"message|" + c3.ID + "|" + s.thread + "|carol|general",
		"message|" + c4.ID + "||dave|announcements",
		"joined_guild|gen-" + s.dave + "-" + daveJoined.UTC().Format("2006-01-02T15:04:05.000Z") + "||dave|",
	}, without(e.activityKeys(), oldKeys), "the check adds exactly the new messages, and dave's join")
	assert.Empty(t, without(oldKeys, e.activityKeys()))
	assert.Empty(t, without(strings.Split(strings.Split(onboarded, "\n--\n")[0], "\n"), strings.Split(e.snapshot(), "\n")),
		"the rows of the onboarding are unchanged")
	assert.Equal(t, []string{"@alice shipped it", "Great", "Changelog done", "hi all"},
		e.strings(`SELECT body FROM activities WHERE "sourceId" = ANY($1) ORDER BY timestamp`, []string{c1.ID, c2.ID, c3.ID, c4.ID}))
	assert.Equal(t, 5, e.count(`SELECT count(*) FROM members`), "dave is a member by his message")
	assert.Equal(t, []string{"Dave D"}, e.strings(`SELECT m."displayName" FROM members m JOIN "memberIdentities" i ON i."memberId" = m.id
		WHERE i.username = 'dave'`))
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM activities c JOIN activities p ON c."parentId" = p.id
		WHERE c."sourceId" = $1 AND p."sourceId" = $2`, c2.ID, c1.ID))
	// The known channels with new messages and the thread are read once
	// each; the members listing once (one page), for the joins since.
	assert.Equal(t, []string{"channel:Release planning", "channel:announcements", "channel:general", "members:"},
		sorted(e.strings(`SELECT name || ':' || coalesce(metadata->>'name', '') FROM "integrationStreams" WHERE "runId" = $1`, check.RunID)))
	assert.Len(t, e.callsTo("/members"), 1)

	e.checkAddsNothing(started.IntegrationID)
	assert.Equal(t, []string{"processed", "processed", "processed"}, e.strings(`SELECT state FROM "integrationRuns"`))
}

func TestDiscordRateLimitDelaysTheRun(t *testing.T) {
	s := newDiscordWorld()
	clean := newDiscordEnv(t, s.w)
	_, state := clean.connect(discord.Platform, s.settings(), discordToken)
	require.Equal(t, store.RunProcessed, state)

	// Preprocess makes 5 calls (channels, active threads, the archived
	// threads of #general, #announcements and #mods) and the members
	// stream one: the 7th call, #general's messages, gets a 429 with
	// retry_after 1.5 s. The quota transport would wait so short a 429
	// out in place and send the call again: with QUOTA_MAX_WAIT under
	// 1.5 s, it reaches the engine.
	t.Setenv(quota.EnvMaxWait, "1s")
	e := newDiscordEnv(t, s.w)
	e.fake.RateLimitAfter(6, 1500*time.Millisecond)
	stop := e.watchDelays()
	started, state := e.connect(discord.Platform, s.settings(), discordToken)
	seen := stop()
	require.Equal(t, store.RunProcessed, state)
	e.assertOnboarded(s)
	assert.Equal(t, clean.snapshot(), e.snapshot(), "nothing lost or doubled")
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM "integrationStreams" WHERE state <> 'processed' OR retries IS NOT NULL`),
		"a rate limit spends no retry attempt")

	var limited []string
	for _, c := range e.fake.Calls() {
		if c.Status == http.StatusTooManyRequests {
			limited = append(limited, c.Path)
		}
	}
	// Eight streams are in flight: which stream's page (a channel's, or
	// the members listing's) is the 7th call varies. That route alone is
	// held back; the run sleeps once the rest is done.
	require.Len(t, limited, 1)
	assert.Regexp(t, `^/api/v10/(channels/\d+/messages|guilds/\d+/members)$`, limited[0])
	assert.Len(t, e.callsTo(strings.TrimPrefix(limited[0], "/api/v10")), 2, "the limited page is asked again after the wait")
	h := e.history(started)
	assert.Equal(t, 0, h.Retries, "no activity was retried")
	assert.Equal(t, 1, h.Timers, "the wait was a durable timer")
	require.Len(t, h.Delays, 1)
	assert.Regexp(t, `^stream (channel|members) held back: its route is rate limited`, h.Delays[0])
	assert.Equal(t, e.history(started).Delays, seen, "the run row said delayed meanwhile")
}

// TestDiscordLowQuotaWaitsInTheLedger: a bucket left at one call used to
// make its stream ask the whole run to sleep until the bucket's reset.
// The quota ledger now holds only that route's next call (in place, or by
// a RateLimitedError for that route), so the run neither sleeps nor meets
// a 429.
func TestDiscordLowQuotaWaitsInTheLedger(t *testing.T) {
	s := newDiscordWorld()
	e := newDiscordEnv(t, s.w)
	started, state := e.connect(discord.Platform, s.settings(), discordToken)
	require.Equal(t, store.RunProcessed, state)

	// Two calls a bucket per 1.5 s: every first call of a route leaves
	// X-RateLimit-Remaining at 1, which the ledger learns.
	e.fake.Update(func(sw *discordfake.Switches) {
		sw.BucketLimit = 2
		sw.BucketWindow = 1500 * time.Millisecond
	})
	e.fake.ResetCalls()
	c1 := e.fake.AddMessage(discordfake.Message{ChannelID: s.general, AuthorID: s.carol, Type: discordfake.MessageDefault,
		Timestamp: time.Now().Add(-time.Hour), Content: "anyone around?"})
	stop := e.watchDelays()
	check, state := e.start(started.IntegrationID, false)
	seen := stop()
	require.Equal(t, store.RunProcessed, state)

	assert.Equal(t, 1, e.count(`SELECT count(*) FROM activities WHERE "sourceId" = $1`, c1.ID))
	assert.Equal(t, []string{"members|processed", "channel|general|processed"}, e.strings(`SELECT concat_ws('|', name, metadata->>'name', state)
		FROM "integrationStreams" WHERE "runId" = $1 AND retries IS NULL ORDER BY name DESC`, check.RunID), "the members listing and one channel, one page each")
	assert.Len(t, e.callsTo("/channels/"+s.general+"/messages"), 1, "read once")
	for _, c := range e.fake.Calls() {
		assert.NotEqual(t, http.StatusTooManyRequests, c.Status, c.String())
	}
	assert.Equal(t, runHistory{}, e.history(check), "no sleep of the whole run, no durable timer")
	assert.Empty(t, seen, "the run was never delayed")
	var remaining int
	require.NoError(t, e.store.Pool().QueryRow(context.Background(), `SELECT remaining FROM "quotaLedger"
		WHERE key LIKE 'discord|%|GET /channels/' || $1 || '/messages'`, s.general).Scan(&remaining))
	assert.Equal(t, 1, remaining, "the ledger knows the route's bucket")
}
