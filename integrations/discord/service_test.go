package discord_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/discord"
	"github.com/crowdflow/crowdflow/integrations/discord/discordfake"
)

func TestPlatformAndConfig(t *testing.T) {
	svc := discord.New(discord.Options{})
	assert.Equal(t, "discord", svc.Platform())
	assert.Equal(t, 60, svc.Config().Ticks)
	attrs := svc.MemberAttributes()
	require.Len(t, attrs, 3)
	assert.Equal(t, integrations.MemberAttribute{Name: "sourceId", Label: "Source ID", Type: "string"}, attrs[0])
	assert.Equal(t, integrations.MemberAttribute{Name: "avatarUrl", Label: "Avatar URL", Type: "url"}, attrs[1])
	assert.Equal(t, integrations.MemberAttribute{Name: "isBot", Label: "Bot", Type: "boolean"}, attrs[2])
}

func TestFromEnv(t *testing.T) {
	t.Setenv("DISCORD_API_URL", "http://127.0.0.1:9999/discord")
	assert.Equal(t, "http://127.0.0.1:9999/discord", discord.FromEnv().APIURL)
}

// TestOnboarding runs a whole onboarding against the small world, on both
// API versions, and checks every record it makes.
func TestOnboarding(t *testing.T) {
	for _, version := range []string{"9", "10"} {
		t.Run("v"+version, func(t *testing.T) {
			s := smallWorld()
			e := newEnv(t, s.w, envOpts{apiVersion: version})
			out := runAll(t, e.svc, e.run(s.guild, true, at(20), nil), hooks{})

			// Every call went to the version asked for.
			for _, c := range e.fake.Calls() {
				assert.True(t, strings.HasPrefix(c.Path, "/api/v"+version+"/"), c.String())
			}

			// Streams: members, #general, #announcements, the voice
			// channel's text chat, then the threads in id order. Not the
			// forum itself (threads only), the category, the private
			// thread nor the unreadable channel.
			var names []string
			for _, st := range out.streams {
				var m struct{ ID, Name string }
				require.NoError(t, json.Unmarshal(st.Metadata, &m))
				names = append(names, st.Name+":"+m.Name)
			}
			assert.Equal(t, []string{"members:", "channel:general", "channel:announcements", "channel:lounge",
				"channel:Release planning", "channel:Old bug", "channel:How to install?"}, names)
			assert.Zero(t, out.duplicates, "g5 starts a thread Preprocess already listed: no second stream")

			joins := out.byType(discord.TypeJoinedGuild)
			msgs := out.byType(discord.TypeMessage)
			assert.Len(t, out.activities, 16)
			assert.Len(t, joins, 4, "alice, bob, carol, dave; the two bots are skipped")
			assert.Len(t, msgs, 11)
			started := out.byType(discord.TypeThreadStarted)
			assert.Len(t, started, 1, "the forum post's opening message")
			assert.Empty(t, out.members)

			var msgIDs []string
			for id := range msgs {
				msgIDs = append(msgIDs, id)
			}
			want := []string{s.m["g1"], s.m["g2"], s.m["g5"], s.m["g8"], s.m["a1"], s.m["a2"], s.m["r1"], s.m["n1"], s.m["v1"], s.m["f1"], s.m["f2"]}
			assert.ElementsMatch(t, want, msgIDs, "only default and reply messages by people, in readable channels, voice chat included")
			assert.Equal(t, "lounge", msgs[s.m["v1"]].Channel)

			// joined_guild
			alice := joins["gen-"+s.alice+"-2026-01-28T16:00:00.123Z"]
			assert.Equal(t, integrations.Activity{
				Type:      "joined_guild",
				SourceID:  "gen-" + s.alice + "-2026-01-28T16:00:00.123Z",
				Timestamp: at(-90).Add(123456 * time.Microsecond),
				Member: integrations.Member{
					Username: "alice", SourceID: s.alice, DisplayName: "Alice Liddell",
					JoinedAt: at(-90).Add(123456 * time.Microsecond),
					Attributes: map[string]any{
						"sourceId":  s.alice,
						"avatarUrl": "https://cdn.discordapp.com/avatars/" + s.alice + "/a_1f2e3d.png",
					},
				},
				Score: 3,
			}, alice)
			bob := joins["gen-"+s.bob+"-2026-01-29T02:00:00.000Z"]
			assert.Equal(t, "Bobby", bob.Member.DisplayName, "no global name: the nickname")
			assert.Equal(t, map[string]any{"sourceId": s.bob}, bob.Member.Attributes, "no avatar, no avatarUrl")
			assert.Equal(t, "dave", joins["gen-"+s.dave+"-2026-01-29T22:00:00.000Z"].Member.DisplayName, "the username last")

			// messages
			g1 := msgs[s.m["g1"]]
			assert.Equal(t, "Hello @bob and @carol, meet <@999999999999999999>", g1.Body, "known mentions become @username")
			assert.Equal(t, "general", g1.Channel)
			assert.Empty(t, g1.Title)
			assert.Empty(t, g1.SourceParentID)
			assert.Equal(t, at(1), g1.Timestamp)
			assert.Equal(t, "https://discord.com/channels/"+s.guild+"/"+s.general+"/"+s.m["g1"], g1.URL)
			assert.Equal(t, 6, g1.Score)
			assert.True(t, g1.IsContribution)
			assert.Equal(t, integrations.Member{Username: "alice", SourceID: s.alice, DisplayName: "Alice Liddell",
				Attributes: map[string]any{"sourceId": s.alice, "avatarUrl": "https://cdn.discordapp.com/avatars/" + s.alice + "/a_1f2e3d.png"}}, g1.Member)

			g2 := msgs[s.m["g2"]]
			assert.Equal(t, s.m["g1"], g2.SourceParentID, "a reply's parent is the message it answers")
			assert.Equal(t, "Hi @alice!", g2.Body)
			assert.Equal(t, "bob", g2.Member.DisplayName, "messages carry no nickname")

			assert.Equal(t, "Let's plan the release", msgs[s.m["g5"]].Body)
			assert.Equal(t, "Deleted User:"+s.ghost, msgs[s.m["g8"]].Member.Username)
			assert.Equal(t, true, msgs[s.m["g8"]].Member.Attributes["isBot"], "a deleted account is marked, as crowd.dev did")
			assert.NotContains(t, g1.Member.Attributes, "isBot")

			a1 := msgs[s.m["a1"]]
			assert.Equal(t, s.tActive, a1.SourceParentID, "a thread message's parent is the thread")
			assert.Equal(t, "general", a1.Channel, "the thread's parent channel")
			assert.Equal(t, "Release planning", a1.Title, "the thread's name")
			assert.Equal(t, "https://discord.com/channels/"+s.guild+"/"+s.tActive+"/"+s.m["a1"], a1.URL)
			assert.Equal(t, map[string]any{"thread": true, "forum": false, "childChannel": "Release planning",
				"reactions": []map[string]any{}}, a1.Attributes)
			assert.Equal(t, s.m["a1"], msgs[s.m["a2"]].SourceParentID, "a reply in a thread points at its message")
			assert.Equal(t, "Old bug", msgs[s.m["r1"]].Title)
			assert.Equal(t, "announcements", msgs[s.m["n1"]].Channel)

			f0 := started[s.m["f0"]]
			assert.Equal(t, "thread_started", f0.Type)
			assert.Empty(t, f0.SourceParentID, "a forum post's opening message has the thread's id")
			assert.Equal(t, "help", f0.Channel)
			assert.Equal(t, "How to install?", f0.Title)
			assert.Equal(t, true, f0.Attributes["forum"])
			assert.Equal(t, s.fPost, msgs[s.m["f1"]].SourceParentID)
			assert.Equal(t, s.fPost, msgs[s.m["f2"]].SourceParentID)
			assert.Equal(t, []string{"https://cdn.discordapp.com/attachments/" + s.fPost + "/" + sf(at(13), 7) + "/screenshot.png"},
				msgs[s.m["f2"]].Attributes["attachments"])

			// The unreadable channel: probed once, skipped with its
			// reason in the pipeline data and the log; never read.
			var pd struct {
				Skipped []struct{ ID, Name, Reason string }
			}
			require.NoError(t, json.Unmarshal(out.pipeline, &pd))
			require.Len(t, pd.Skipped, 1)
			assert.Equal(t, s.secret, pd.Skipped[0].ID)
			assert.Equal(t, "mods", pd.Skipped[0].Name)
			assert.Contains(t, pd.Skipped[0].Reason, "Missing Access (code 50001)")
			assert.Contains(t, e.logs.String(), "skipping a channel the bot cannot read")
			assert.Empty(t, callsTo(e.fake, "/channels/"+s.secret+"/messages"))
			assert.Len(t, callsTo(e.fake, "/channels/"+s.voice+"/messages"), 1, "the voice channel's text chat is read")
			assert.Empty(t, callsTo(e.fake, "/channels/"+s.voice+"/threads/archived/public"), "voice channels have no threads")
			assert.Empty(t, callsTo(e.fake, "/channels/"+s.tPrivate+"/messages"))
			assert.NotContains(t, e.logs.String(), testToken)
		})
	}
}

// TestIdempotentRerun: a second onboarding of the same world makes the same
// records (source ids are from Discord's data, not from the run).
func TestIdempotentRerun(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{})
	first := runAll(t, e.svc, e.run(s.guild, true, at(20), nil), hooks{})
	second := runAll(t, e.svc, e.run(s.guild, true, at(30), nil), hooks{})
	assert.Equal(t, first.activities, second.activities)
	assert.Equal(t, first.streams, second.streams)
}

// TestThreadStreamsAreNotDuplicated covers the ways a thread can be found
// twice, or found late.
func TestThreadStreamsAreNotDuplicated(t *testing.T) {
	t.Run("listed by Preprocess and started by a message", func(t *testing.T) {
		s := smallWorld()
		e := newEnv(t, s.w, envOpts{})
		out := runAll(t, e.svc, e.run(s.guild, true, at(20), nil), hooks{})
		assert.Zero(t, out.duplicates)
		assert.Len(t, callsTo(e.fake, "/channels/"+s.tActive+"/messages"), 1)
	})

	t.Run("created after Preprocess: its starter message adds it", func(t *testing.T) {
		s := smallWorld()
		e := newEnv(t, s.w, envOpts{})
		var late discordfake.Message
		out := runAll(t, e.svc, e.run(s.guild, true, at(20), nil), hooks{afterPreprocess: func() {
			late = e.fake.AddMessage(discordfake.Message{ChannelID: s.general, AuthorID: s.dave, Type: discordfake.MessageDefault,
				Timestamp: at(14), Content: "New idea", StartsThread: true})
			e.fake.AddChannel(discordfake.Channel{ID: late.ID, Name: "New idea", Type: discordfake.ChannelPublicThread, ParentID: s.general, OwnerID: s.dave})
			e.fake.AddMessage(discordfake.Message{ChannelID: late.ID, AuthorID: s.carol, Type: discordfake.MessageDefault, Timestamp: at(15), Content: "Love it"})
		}})
		assert.Len(t, callsTo(e.fake, "/channels/"+late.ID+"/messages"), 1)
		var inThread []integrations.Activity
		for _, a := range out.activities {
			if a.SourceParentID == late.ID {
				inThread = append(inThread, a)
			}
		}
		require.Len(t, inThread, 1)
		assert.Equal(t, "New idea", inThread[0].Title)
		assert.Equal(t, "general", inThread[0].Channel)
	})

	t.Run("archived beyond the first listing page and started by a message", func(t *testing.T) {
		// 130 archived threads, each started from a message in #busy:
		// Preprocess lists 100, a "threads" stream lists the other 30,
		// and the starter messages name all 130. Each thread is read
		// once: the 30 found twice get identical metadata.
		w, busy := bigWorld(0, 0, at(0))
		author := sf(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), 9)
		w.Users = append(w.Users, discordfake.User{ID: author, Username: "starter"})
		for i := range 130 {
			ts := at(float64(i))
			id := sf(ts, 1)
			w.Messages = append(w.Messages,
				discordfake.Message{ID: id, ChannelID: busy, AuthorID: author, Type: discordfake.MessageDefault, Timestamp: ts, Content: "topic", StartsThread: true},
				discordfake.Message{ChannelID: id, AuthorID: author, Type: discordfake.MessageDefault, Timestamp: ts.Add(time.Minute), Content: "inside"})
			w.Channels = append(w.Channels, discordfake.Channel{ID: id, Name: "thread " + id, Type: discordfake.ChannelPublicThread, ParentID: busy,
				OwnerID: author, Archived: true, ArchivedAt: ts.Add(24 * time.Hour)})
		}
		e := newEnv(t, w, envOpts{})
		out := runAll(t, e.svc, e.run(w.Guild.ID, true, at(200), nil), hooks{})
		assert.Equal(t, 30, out.duplicates, "the threads beyond the first page were found twice")
		for _, c := range w.Channels[1:] {
			assert.Len(t, callsTo(e.fake, "/channels/"+c.ID+"/messages"), 1, c.Name)
		}
		assert.Len(t, out.byType(discord.TypeMessage), 260)
		assert.Len(t, callsTo(e.fake, "/channels/"+busy+"/threads/archived/public"), 2)
	})
}

func TestPagination(t *testing.T) {
	last := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	w, busy := bigWorld(2100, 250, last)
	e := newEnv(t, w, envOpts{})
	out := runAll(t, e.svc, e.run(w.Guild.ID, true, last.Add(time.Hour), nil), hooks{})

	t.Run("members: after the highest user id, 1000 a page", func(t *testing.T) {
		calls := callsTo(e.fake, "/members")
		require.Len(t, calls, 3)
		// w.Members[0] is the bot of the guild; the others ascend.
		ids := make([]string, 0, len(w.Members)-1)
		for _, m := range w.Members[1:] {
			ids = append(ids, m.UserID)
		}
		for i, c := range calls {
			assert.Equal(t, "1000", c.Query.Get("limit"))
			if i == 0 {
				assert.Empty(t, c.Query.Get("after"))
				continue
			}
			// The page before ended with the i*1000-th member in id
			// order: the guild's bot (joined 2022, id from 2022) sorts
			// after every member of bigWorld (ids from 2019).
			assert.Equal(t, ids[i*1000-1], c.Query.Get("after"))
		}
		assert.Len(t, out.byType(discord.TypeJoinedGuild), 2100-21, "21 bots among the 2100")
	})

	t.Run("messages: before the oldest id, 100 a page", func(t *testing.T) {
		calls := callsTo(e.fake, "/channels/"+busy+"/messages")
		require.Len(t, calls, 3)
		assert.Empty(t, calls[0].Query.Get("before"))
		assert.Equal(t, "100", calls[0].Query.Get("limit"))
		msgs := out.byType(discord.TypeMessage)
		assert.Len(t, msgs, 250)
		// 250 messages: pages of the newest 100, the next 100, the last 50.
		assert.NotEmpty(t, calls[1].Query.Get("before"))
		assert.Equal(t, last.Add(-99*time.Hour), mustTime(t, calls[1].Query.Get("before")))
		assert.Equal(t, last.Add(-199*time.Hour), mustTime(t, calls[2].Query.Get("before")))
	})
}

func mustTime(t *testing.T, id string) time.Time {
	t.Helper()
	ts, err := discordfake.SnowflakeTime(id)
	require.NoError(t, err)
	return ts
}

// TestCheckRun: a check run stops a channel once its page is older than
// the check window, reads new channels in full, and leaves idle channels
// alone.
func TestCheckRun(t *testing.T) {
	last := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	w, busy := bigWorld(3, 250, last)
	cases := []struct {
		name       string
		onboarding bool
		startedAt  time.Time
		settings   map[string]any
		pages      int // message pages of #busy read
		finished   int // next pages dropped by IsProcessingFinished
	}{
		{name: "onboarding reads everything", onboarding: true, startedAt: last.Add(time.Hour), pages: 3},
		{name: "default window of a day: the first page is older", startedAt: last.Add(time.Hour), pages: 1, finished: 1},
		{name: "a 150 h window: two pages", startedAt: last.Add(time.Hour), settings: map[string]any{"checkWindowSeconds": 150 * 3600}, pages: 2, finished: 1},
		{name: "a window wider than the history", startedAt: last.Add(time.Hour), settings: map[string]any{"checkWindowSeconds": 400 * 3600}, pages: 3},
		{name: "nothing new in the window: no call", startedAt: last.Add(48 * time.Hour), pages: 0},
		{name: "channel known: window applies", startedAt: last.Add(time.Hour),
			settings: map[string]any{"channels": []map[string]string{{"id": busy, "name": "busy"}}}, pages: 1, finished: 1},
		{name: "channel new to the integration: read in full", startedAt: last.Add(48 * time.Hour),
			settings: map[string]any{"channels": []map[string]string{}}, pages: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, w, envOpts{})
			out := runAll(t, e.svc, e.run(w.Guild.ID, tc.onboarding, tc.startedAt, tc.settings), hooks{})
			assert.Len(t, callsTo(e.fake, "/channels/"+busy+"/messages"), tc.pages)
			assert.Equal(t, tc.finished, out.finished)
			assert.Len(t, callsTo(e.fake, "/members"), 1, "members are read in every run, for the joins since the last")
			if !tc.onboarding {
				assert.Empty(t, out.byType(discord.TypeJoinedGuild), "the joins of 2019 are not made again")
			}
		})
	}
}

// TestNullJoinedAt: a member the API lists with joined_at null (a guest)
// is a member without a joined_guild activity, in an onboarding and in a
// check run alike.
func TestNullJoinedAt(t *testing.T) {
	s := smallWorld()
	guest := sf(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 9)
	s.w.Users = append(s.w.Users, discordfake.User{ID: guest, Username: "guest"})
	s.w.Members = append(s.w.Members, discordfake.Member{UserID: guest})
	e := newEnv(t, s.w, envOpts{})
	out := runAll(t, e.svc, e.run(s.guild, true, at(20), nil), hooks{})
	require.Len(t, out.members, 1)
	assert.Equal(t, "guest", out.members[0].Username)
	assert.True(t, out.members[0].JoinedAt.IsZero())
	assert.Len(t, out.byType(discord.TypeJoinedGuild), 4, "no activity for the guest")
	check := runAll(t, e.svc, e.run(s.guild, false, at(21), nil), hooks{})
	assert.Empty(t, check.byType(discord.TypeJoinedGuild))
}

// TestJoinsAfterOnboarding: someone who joins after the onboarding gets a
// joined_guild from the next check run, even with an old account (a low
// user id, in the middle of the id-ordered listing); the members who were
// there before make nothing again.
func TestJoinsAfterOnboarding(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{})
	onboarding := runAll(t, e.svc, e.run(s.guild, true, at(20), nil), hooks{})
	require.Len(t, onboarding.byType(discord.TypeJoinedGuild), 4)

	oldAccount := sf(time.Date(2016, 5, 1, 0, 0, 0, 0, time.UTC), 1) // sorts before every member
	joined := at(20).Add(30 * time.Minute)
	e.fake.AddMember(discordfake.User{ID: oldAccount, Username: "eve"}, discordfake.Member{JoinedAt: joined})
	check := runAll(t, e.svc, e.run(s.guild, false, at(21), nil), hooks{})
	joins := check.byType(discord.TypeJoinedGuild)
	require.Len(t, joins, 1)
	eve := joins["gen-"+oldAccount+"-"+joined.UTC().Format("2006-01-02T15:04:05.000Z")]
	assert.Equal(t, "eve", eve.Member.Username)
	assert.Equal(t, joined, eve.Timestamp)
}

func TestIsProcessingFinished(t *testing.T) {
	svc := discord.New(discord.Options{})
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	channel := integrations.Stream{Name: "channel", Metadata: json.RawMessage(`{"id":"1","name":"general"}`)}
	newChannel := integrations.Stream{Name: "channel", Metadata: json.RawMessage(`{"id":"1","name":"general","full":true}`)}
	threads := integrations.Stream{Name: "threads", Metadata: json.RawMessage(`{"channelId":"1","channelName":"general","before":"2026-02-01T00:00:00Z"}`)}
	members := integrations.Stream{Name: "members", Metadata: json.RawMessage(`{}`)}
	cases := []struct {
		name       string
		onboarding bool
		settings   string
		stream     integrations.Stream
		oldest     time.Time
		want       bool
	}{
		{name: "older than a day", stream: channel, oldest: started.Add(-25 * time.Hour), want: true},
		{name: "within a day", stream: channel, oldest: started.Add(-23 * time.Hour), want: false},
		{name: "onboarding never stops", onboarding: true, stream: channel, oldest: started.Add(-1000 * time.Hour), want: false},
		{name: "window from the settings", settings: `{"guildId":"1","checkWindowSeconds":3600}`, stream: channel, oldest: started.Add(-2 * time.Hour), want: true},
		{name: "window from the settings, within", settings: `{"guildId":"1","checkWindowSeconds":36000}`, stream: channel, oldest: started.Add(-2 * time.Hour), want: false},
		{name: "a new channel is read in full", stream: newChannel, oldest: started.Add(-1000 * time.Hour), want: false},
		{name: "archived threads listing", stream: threads, oldest: started.Add(-25 * time.Hour), want: true},
		{name: "members never stop", stream: members, oldest: started.Add(-1000 * time.Hour), want: false},
		{name: "no timestamp", stream: channel, want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := &integrations.RunContext{Onboarding: tc.onboarding, StartedAt: started,
				Integration: integrations.Integration{Settings: json.RawMessage(tc.settings)}}
			if tc.settings == "" {
				run.Integration.Settings = json.RawMessage(`{"guildId":"1"}`)
			}
			res := &integrations.StreamResult{LastRecordTimestamp: tc.oldest}
			assert.Equal(t, tc.want, svc.IsProcessingFinished(run, tc.stream, res))
		})
	}
}

// TestMediaStageAndReactions: a media channel (16) holds posts only, like
// a forum: its posts are read, their opening message is thread_started,
// and the channel itself is never asked for messages (the API answers 400
// 50024). A stage channel's (13) text chat is read. Reactions come with
// their emoji and count.
func TestMediaStageAndReactions(t *testing.T) {
	s := smallWorld()
	media, stage := sf(at(-190), 60), sf(at(-189), 61)
	post := sf(at(14), 62)
	s.w.Channels = append(s.w.Channels,
		discordfake.Channel{ID: media, Name: "showcase", Type: discordfake.ChannelMedia, Position: 6},
		discordfake.Channel{ID: stage, Name: "town-hall", Type: discordfake.ChannelStageVoice, Position: 7},
		discordfake.Channel{ID: post, Name: "My demo video", Type: discordfake.ChannelPublicThread, ParentID: media, OwnerID: s.bob},
	)
	s.w.Messages = append(s.w.Messages,
		discordfake.Message{ID: post, ChannelID: post, AuthorID: s.bob, Timestamp: at(14), Content: "Look at this",
			Reactions: []discordfake.Reaction{{Emoji: "🔥", Count: 3}, {Emoji: "👍", Count: 1}}},
		discordfake.Message{ID: sf(at(15), 63), ChannelID: post, AuthorID: s.alice, Timestamp: at(15), Content: "Great"},
		discordfake.Message{ID: sf(at(16), 64), ChannelID: stage, AuthorID: s.carol, Timestamp: at(16), Content: "Question from the stage"},
	)
	e := newEnv(t, s.w, envOpts{})
	out := runAll(t, e.svc, e.run(s.guild, true, at(20), nil), hooks{})

	started := out.byType(discord.TypeThreadStarted)
	require.Contains(t, started, post)
	opening := started[post]
	assert.Equal(t, "showcase", opening.Channel)
	assert.Equal(t, "My demo video", opening.Title)
	assert.Equal(t, "My demo video", opening.Attributes["childChannel"])
	assert.Equal(t, true, opening.Attributes["forum"])
	assert.Equal(t, []map[string]any{{"emoji": "🔥", "emojiId": "", "count": 3}, {"emoji": "👍", "emojiId": "", "count": 1}},
		opening.Attributes["reactions"])
	msgs := out.byType(discord.TypeMessage)
	assert.Equal(t, post, msgs[sf(at(15), 63)].SourceParentID)
	assert.Equal(t, "town-hall", msgs[sf(at(16), 64)].Channel)
	assert.Empty(t, callsTo(e.fake, "/channels/"+media+"/messages"), "a media channel has no messages of its own")
	assert.Len(t, callsTo(e.fake, "/channels/"+media+"/threads/archived/public"), 1)
}
