package e2e

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/slack"
	"github.com/crowdflow/crowdflow/integrations/slack/slackfake"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/store"
)

// The Slack workspace of the tests. IDs follow Slack's patterns.
const (
	slackToken = "xoxb-0000000042-e2e-fake-token"

	slAda   = "U0E2EADA01"
	slBob   = "U0E2EBOB01"
	slCat   = "U0E2ECAT01"
	slDel   = "U0E2EDEL01" // deactivated
	slEve   = "U0E2EEVE01" // joins between runs
	slBot   = "U0E2EBOT01" // the app's bot user
	slGhost = "U0E2EGHO01" // unknown to users.list and users.info
	slBotID = "B0E2EBOT001"

	slGeneral = "C0E2EGEN01"
	slRandom  = "C0E2ERND01"
	slNoBot   = "C0E2ENOB01" // the bot is not in it
)

// slackWorld is the seeded workspace: its history is a month old, well
// outside a check run's window.
type slackWorld struct {
	w    slackfake.World
	base time.Time
	// ts of the seeded messages, by name
	join, welcome, parent, replyA, replyC, hi, hey, bye string
}

func newSlackWorld() *slackWorld {
	s := &slackWorld{base: time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Minute)}
	// Non-zero microseconds: a ts must survive the trip as a string.
	at := func(minutes, micro int) string {
		return slackfake.TS(s.base.Add(time.Duration(minutes)*time.Minute + time.Duration(micro)*time.Microsecond))
	}
	s.join, s.welcome, s.parent, s.replyA, s.replyC = at(0, 1), at(1, 216), at(2, 7), at(3, 0), at(4, 5)
	s.hi, s.hey, s.bye = at(20, 0), at(21, 0), at(8, 0)
	s.w = slackfake.World{
		Team:      slackfake.Team{ID: "T0E2ETEAM1", Name: "Acme", Domain: "acme-e2e", EmailDomain: "example.com"},
		BotToken:  slackToken,
		BotUserID: slBot,
		Users: []slackfake.User{
			{ID: slAda, Name: "ada", RealName: "Ada Lovelace", Email: "ada@example.com", Title: "Engineer",
				TZ: "Europe/Berlin", TZLabel: "Central European Time", TZOffset: 3600},
			{ID: slBob, Name: "bob", RealName: "Bob Builder"},
			{ID: slCat, Name: "cat", DisplayName: "Cat S"},
			{ID: slDel, Name: "del", RealName: "Del Eted", Deleted: true},
			{ID: slBot, Name: "crowdbot", RealName: "Crowd bot", IsBot: true, BotID: slBotID, AppID: "A0E2EAPP1"},
			{ID: "USLACKBOT", Name: "slackbot", RealName: "Slackbot"},
		},
		Channels: []slackfake.Channel{
			{
				ID: slGeneral, Name: "general", IsGeneral: true, Creator: slAda,
				Members: []string{slAda, slBob, slCat, slDel, slBot},
				Messages: []slackfake.Message{
					{TS: s.join, User: slBob, Subtype: "channel_join", Text: "<@" + slBob + "> has joined the channel"},
					{TS: s.welcome, User: slAda, Text: "Welcome <@" + slBob + ">! See <#" + slRandom + "|random>",
						Reactions: []slackfake.Reaction{{Name: "wave", Users: []string{slBob, slCat}}}},
					{TS: s.parent, User: slBob, Text: "How do I start?"},
					{TS: s.replyA, User: slAda, ThreadTS: s.parent, Text: "Read the docs"},
					{TS: s.replyC, User: slCat, ThreadTS: s.parent, Text: "<@" + slAda + "> thanks"},
					{TS: at(5, 0), User: slBot, BotID: slBotID, ThreadTS: s.parent, Text: "I am a bot reply"},
					{TS: at(6, 0), Subtype: "bot_message", BotID: slBotID, Username: "crowdbot", Text: "build passed"},
					{TS: at(7, 0), User: "USLACKBOT", Text: "reminder"},
					{TS: s.bye, User: slDel, Text: "bye from a deactivated account"},
					{TS: at(9, 0), User: slGhost, Text: "who am I"},
				},
			},
			{
				ID: slRandom, Name: "random", Creator: slBob,
				Members: []string{slBob, slCat, slBot},
				Messages: []slackfake.Message{
					{TS: s.hi, User: slCat, Text: "hi all"},
					{TS: s.hey, User: slBob, Text: "<@" + slCat + "> hey"},
				},
			},
			{
				ID: slNoBot, Name: "no-bot", Creator: slAda, Members: []string{slAda},
				Messages: []slackfake.Message{{TS: at(30, 0), User: slAda, Text: "secret"}},
			},
		},
	}
	return s
}

type slackEnv struct {
	*env
	fake *slackfake.Server
}

func newSlackEnv(t *testing.T, w slackfake.World, opts ...option) *slackEnv {
	fake := slackfake.New(w)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	// Two items a page: every list takes several pages.
	svc := slack.New(slack.Options{APIURL: srv.URL + "/", PageSize: 2})
	return &slackEnv{env: newEnv(t, []integrations.Service{svc}, opts...), fake: fake}
}

func slackJoin(channel, user string) string { return "gen-channel_joined-" + channel + "-" + user }

func slackLink(channel, ts string) string {
	return "https://acme-e2e.slack.com/archives/" + channel + "/p" + strings.Replace(ts, ".", "", 1)
}

func (s *slackWorld) onboardedKeys() []string {
	return []string{
		"channel_joined|" + slackJoin(slGeneral, slAda) + "||ada|general",
		"channel_joined|" + slackJoin(slGeneral, slBob) + "||bob|general",
		"channel_joined|" + slackJoin(slGeneral, slCat) + "||cat|general",
		"channel_joined|" + slackJoin(slGeneral, slDel) + "||del|general",
		"channel_joined|" + slackJoin(slRandom, slBob) + "||bob|random",
		"channel_joined|" + slackJoin(slRandom, slCat) + "||cat|random",
		"message|" + s.welcome + "||ada|general",
		"message|" + s.parent + "||bob|general",
		"message|" + s.replyA + "|" + s.parent + "|ada|general",
		"message|" + s.replyC + "|" + s.parent + "|cat|general",
		"message|" + s.hi + "||cat|random",
		"message|" + s.hey + "||bob|random",
		"message|" + s.bye + "||del|general",
	}
}

func (e *slackEnv) assertOnboarded(s *slackWorld) {
	t := e.t
	// Bots (bot user, bot_message, a bot's reply), Slackbot, the unknown
	// author and the channel the bot is not in make nothing; the
	// deactivated user's message and join are kept.
	want := s.onboardedKeys()
	slices.Sort(want)
	assert.Equal(t, want, e.activityKeys())
	assert.Equal(t, []string{"ada", "bob", "cat", "del"}, sorted(e.strings(`SELECT username FROM "memberIdentities"`)))
	assert.Equal(t, 4, e.count(`SELECT count(*) FROM members`))
	assert.Equal(t, []string{"Ada Lovelace", "Bob Builder", "Cat S", "Del Eted"}, sorted(e.strings(`SELECT "displayName" FROM members`)))
	assert.Equal(t, []string{"del"}, e.strings(`SELECT username FROM "memberIdentities" i JOIN members m ON m.id = i."memberId"
		WHERE (m.attributes->'isDeactivated'->>'slack')::boolean`), "the deactivated member is marked")
	assert.Equal(t, []string{"ada@example.com"}, e.strings(`SELECT unnest(emails) FROM members`))

	assert.Equal(t, []string{
		"Welcome @bob! See #random|" + slackLink(slGeneral, s.welcome) + "|false",
		"@ada thanks|" + slackLink(slGeneral, s.replyC) + `|{"id": "` + s.parent + `", "body": "How do I start?"}`,
		"@cat hey|" + slackLink(slRandom, s.hey) + "|false",
	}, e.strings(`SELECT concat_ws('|', body, url, attributes->>'thread') FROM activities WHERE "sourceId" = ANY($1)
		ORDER BY timestamp`, []string{s.welcome, s.replyC, s.hey}))
	assert.Equal(t, 2, e.count(`SELECT count(*) FROM activities c JOIN activities p ON c."parentId" = p.id
		WHERE p."sourceId" = $1 AND c."sourceId" IN ($2, $3)`, s.parent, s.replyA, s.replyC), "replies link to their parent")
	// The join message dates bob's join; a membership alone has no date.
	assert.Equal(t, []string{slackJoin(slGeneral, slBob)}, e.strings(`SELECT "sourceId" FROM activities
		WHERE type = 'channel_joined' AND timestamp > '2000-01-01'`))
	assert.Equal(t, 6, e.count(`SELECT count(*) FROM activities WHERE type = 'channel_joined' AND score = 3 AND NOT "isContribution"`))
	assert.Equal(t, 7, e.count(`SELECT count(*) FROM activities WHERE type = 'message' AND score = 6 AND "isContribution" AND platform = 'slack'`))
}

func TestSlackOnboardingThenChecks(t *testing.T) {
	s := newSlackWorld()
	e := newSlackEnv(t, s.w)
	started, state := e.connect(slack.Platform, `{}`, slackToken)
	require.Equal(t, store.RunProcessed, state)
	e.assertOnboarded(s)
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM "integrationStreams" WHERE state <> 'processed' OR retries IS NOT NULL`))
	assert.Equal(t, []string{"done"}, e.strings(`SELECT status FROM integrations`))
	assert.Equal(t, []string{`[{"id": "C0E2EGEN01", "name": "general", "general": true}, {"id": "C0E2ERND01", "name": "random", "general": false}]`},
		e.strings(`SELECT (settings->'channels')::text FROM integrations`), "postprocess records the channels read")
	assert.Equal(t, runHistory{}, e.history(started), "no wait, no retry")
	onboarded := e.snapshot()
	oldKeys := e.activityKeys()

	// New messages within the check window: a mention, a thread with a
	// reply, and a new member who joins #random and speaks.
	now := time.Now().UTC().Truncate(time.Second)
	n1, err := e.fake.PostMessage(slGeneral, slBob, "<@"+slCat+"> see the release notes", now.Add(-3*time.Hour))
	require.NoError(t, err)
	n2, err := e.fake.PostMessage(slGeneral, slCat, "Any questions?", now.Add(-2*time.Hour))
	require.NoError(t, err)
	n3, err := e.fake.Reply(slGeneral, n2, slAda, "One: where is <#"+slRandom+"|random>?", now.Add(-time.Hour))
	require.NoError(t, err)
	e.fake.AddUser(slackfake.User{ID: slEve, Name: "eve", RealName: "Eve Newcomer"})
	joinedAt := now.Add(-50 * time.Minute)
	_, err = e.fake.Join(slRandom, slEve, joinedAt)
	require.NoError(t, err)
	n4, err := e.fake.PostMessage(slRandom, slEve, "hello <@"+slBob+">", now.Add(-40*time.Minute))
	require.NoError(t, err)
	// A late reply to the month-old thread, not sent to the channel.
	late, err := e.fake.Reply(slGeneral, s.parent, slCat, "late, but thanks again", now.Add(-30*time.Minute))
	require.NoError(t, err)

	e.fake.ResetCalls()
	check, state := e.start(started.IntegrationID, false)
	require.Equal(t, store.RunProcessed, state)
	assert.ElementsMatch(t, []string{
		"message|" + n1 + "||bob|general",
		"message|" + n2 + "||cat|general",
		"message|" + n3 + "|" + n2 + "|ada|general",
		"channel_joined|" + slackJoin(slRandom, slEve) + "||eve|random",
		"message|" + n4 + "||eve|random",
		"message|" + late + "|" + s.parent + "|cat|general",
	}, without(e.activityKeys(), oldKeys), "the check adds exactly the new messages, the late reply to an old thread included")
	assert.Empty(t, without(oldKeys, e.activityKeys()))
	assert.Empty(t, without(strings.Split(strings.Split(onboarded, "\n--\n")[0], "\n"), strings.Split(e.snapshot(), "\n")),
		"the rows of the onboarding are unchanged")
	assert.Equal(t, []string{"ada", "bob", "cat", "del", "eve"}, sorted(e.strings(`SELECT username FROM "memberIdentities"`)))
	assert.Equal(t, 5, e.count(`SELECT count(*) FROM members`))
	assert.Equal(t, []string{"@cat see the release notes", "Any questions?", "One: where is #random?", "hello @bob"},
		e.strings(`SELECT body FROM activities WHERE type = 'message' AND "sourceId" = ANY($1) ORDER BY timestamp`, []string{n1, n2, n3, n4}))
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM activities WHERE "sourceId" = $1 AND timestamp = $2`,
		slackJoin(slRandom, slEve), joinedAt), "the join is dated by its message")
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM activities c JOIN activities p ON c."parentId" = p.id
		WHERE c."sourceId" = $1 AND p."sourceId" = $2`, n3, n2))
	// Known channels are read back to the thread window (45 days: the
	// whole month-old seed here, 5 pages of #general and 2 of #random) for
	// the parents' latest_reply; the new thread and the old one with the
	// late reply are asked for their replies; no members listing.
	assert.Equal(t, []string{"channel", "channel", "channel", "channel", "channel", "channel", "channel", "thread", "thread"},
		e.strings(`SELECT name FROM "integrationStreams" WHERE "runId" = $1 ORDER BY name`, check.RunID))
	assert.Zero(t, e.fake.Calls(slackfake.MethodUsersList))
	assert.Zero(t, e.fake.Calls(slackfake.MethodConversationsMembers))
	assert.Equal(t, 1, e.fake.Calls(slackfake.MethodUsersInfo), "eve alone is looked up")

	e.checkAddsNothing(started.IntegrationID)
	assert.Equal(t, []string{"processed", "processed", "processed"}, e.strings(`SELECT state FROM "integrationRuns"`))
}

func TestSlackRateLimitDelaysTheRun(t *testing.T) {
	s := newSlackWorld()

	// The clean run: its rows, and how many calls it takes.
	clean := newSlackEnv(t, s.w)
	_, state := clean.connect(slack.Platform, `{}`, slackToken)
	require.Equal(t, store.RunProcessed, state)
	calls := clean.fake.TotalCalls()
	require.Greater(t, calls, 10)

	// The same onboarding with a 429 half-way: n calls go through, then
	// Retry-After: 1 s. n is over half the calls, so one 429 hits. The
	// quota transport would wait out so short a 429 in place and send the
	// call again: with QUOTA_MAX_WAIT under a second, it reaches the engine.
	t.Setenv(quota.EnvMaxWait, "500ms")
	e := newSlackEnv(t, s.w)
	n := calls/2 + 1
	e.fake.RateLimitAfter(n, time.Second)
	stop := e.watchDelays()
	started, state := e.connect(slack.Platform, `{}`, slackToken)
	seen := stop()
	require.Equal(t, store.RunProcessed, state)
	assert.Greater(t, e.fake.TotalCalls(), n, "the 429 was met")
	e.assertOnboarded(s)
	assert.Equal(t, clean.snapshot(), e.snapshot(), "nothing lost or doubled")
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM "integrationStreams" WHERE state <> 'processed' OR retries IS NOT NULL`),
		"a rate limit spends no retry attempt")
	h := e.history(started)
	t.Logf("429 after %d of %d calls: %q", n, calls, h.Delays)
	assert.Equal(t, 1, h.Timers, "the wait was a durable timer")
	assert.Zero(t, h.Retries, "no activity was retried")
	require.Len(t, h.Delays, 1)
	assert.Regexp(t, `^stream \w+ rate limited: slack [a-z.]+: HTTP 429, Retry-After 1s$`, h.Delays[0], "a stream met the 429")
	assert.Equal(t, h.Delays, seen, "the run row said delayed meanwhile")
}

func TestSlackChannelNotInChannelIsSkipped(t *testing.T) {
	s := newSlackWorld()
	e := newSlackEnv(t, s.w)
	// The bot is removed from #random after conversations.list listed it:
	// reading its history answers not_in_channel.
	e.fake.SetChannelError(slRandom, "not_in_channel")
	started, state := e.connect(slack.Platform, `{}`, slackToken)
	require.Equal(t, store.RunProcessed, state)

	var want []string
	for _, k := range s.onboardedKeys() {
		if !strings.HasSuffix(k, "|random") {
			want = append(want, k)
		}
	}
	slices.Sort(want)
	assert.Equal(t, want, e.activityKeys(), "#general is read in full, #random is skipped")
	assert.Equal(t, 4, e.count(`SELECT count(*) FROM members`), "users.list still gives every person")
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM "integrationStreams" WHERE state <> 'processed' OR retries IS NOT NULL`))
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM "integrationStreams" WHERE "runId" = $1 AND name = 'channel'
		AND metadata->>'channelId' = $2 AND "recordsWritten" = 0`, started.RunID, slRandom))
	assert.Equal(t, []string{"processed|done"}, e.strings(`SELECT r.state || '|' || i.status FROM "integrationRuns" r
		JOIN integrations i ON i.id = r."integrationId"`))
	// The reason is on the stream's row, and the skipped new channel stays
	// new in the settings, so the next run reads it from the beginning.
	assert.Equal(t, []string{"skipped|channel random (" + slRandom + "): not_in_channel"},
		e.strings(`SELECT concat_ws('|', error->>'errorPoint', error->>'message') FROM "integrationStreams" WHERE error IS NOT NULL`))
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM integrations, jsonb_array_elements(settings->'channels') c WHERE c->>'id' = $1`, slRandom))
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM integrations, jsonb_array_elements(settings->'channels') c WHERE c->>'id' = $1`, slGeneral))
}
