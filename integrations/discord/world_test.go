package discord_test

import (
	"fmt"
	"time"

	"github.com/crowdflow/crowdflow/integrations/discord/discordfake"
)

// t0 is the start of the small world's story; messages are hours after it.
var t0 = time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)

func at(hours float64) time.Time { return t0.Add(time.Duration(hours * float64(time.Hour))) }

func sf(t time.Time, n int) string { return discordfake.Snowflake(t, n) }

// small is a guild with one of everything the service must handle.
type small struct {
	w discordfake.World

	guild, bot, alice, bob, carol, dave, otherBot, ghost string
	general, news, forum, voice, secret, category        string
	tActive, tArchived, tPrivate, fPost                  string

	// messages by name
	m map[string]string
}

func smallWorld() *small {
	s := &small{m: map[string]string{}}
	year := func(y int, n int) string { return sf(time.Date(y, 3, 1, 0, 0, 0, 0, time.UTC), n) }
	s.guild = year(2021, 1)
	s.bot, s.alice, s.bob, s.carol, s.dave, s.otherBot, s.ghost =
		year(2022, 1), year(2019, 2), year(2019, 3), year(2020, 4), year(2020, 5), year(2023, 6), year(2018, 7)
	s.w = discordfake.World{
		Guild:     discordfake.Guild{ID: s.guild, Name: "Test Guild"},
		BotUserID: s.bot,
		Users: []discordfake.User{
			{ID: s.bot, Username: "crowdflow-bot", Discriminator: "1234", Bot: true},
			{ID: s.alice, Username: "alice", GlobalName: "Alice Liddell", Avatar: "a_1f2e3d"},
			{ID: s.bob, Username: "bob"},
			{ID: s.carol, Username: "carol", GlobalName: "Carol"},
			{ID: s.dave, Username: "dave"},
			{ID: s.otherBot, Username: "mee6", Discriminator: "4876", Bot: true},
			{ID: s.ghost, Username: "Deleted User", Discriminator: "4321"},
		},
		Members: []discordfake.Member{
			{UserID: s.bot, JoinedAt: at(-100)},
			{UserID: s.alice, JoinedAt: at(-90).Add(123456 * time.Microsecond)},
			{UserID: s.bob, Nick: "Bobby", JoinedAt: at(-80)},
			{UserID: s.carol, JoinedAt: at(-70)},
			{UserID: s.dave, JoinedAt: at(-60)},
			{UserID: s.otherBot, JoinedAt: at(-50)},
		},
	}

	s.category = sf(at(-200), 1)
	s.general = sf(at(-199), 2)
	s.news = sf(at(-198), 3)
	s.forum = sf(at(-197), 4)
	s.voice = sf(at(-196), 5)
	s.secret = sf(at(-195), 6)

	msg := func(name, channel, author string, typ int, h float64, content string) *discordfake.Message {
		m := discordfake.Message{ID: sf(at(h), len(s.m)+10), ChannelID: channel, AuthorID: author, Type: typ, Timestamp: at(h), Content: content}
		s.m[name] = m.ID
		s.w.Messages = append(s.w.Messages, m)
		return &s.w.Messages[len(s.w.Messages)-1]
	}

	// #general
	msg("g1", s.general, s.alice, discordfake.MessageDefault, 1,
		fmt.Sprintf("Hello <@%s> and <@!%s>, meet <@999999999999999999>", s.bob, s.carol))
	msg("g2", s.general, s.bob, discordfake.MessageReply, 2, fmt.Sprintf("Hi <@%s>!", s.alice)).RefID = s.m["g1"]
	msg("g3", s.general, s.bot, discordfake.MessageDefault, 3, "I am a bot")
	msg("g4", s.general, s.carol, discordfake.MessageUserJoin, 4, "")
	msg("g5", s.general, s.carol, discordfake.MessageDefault, 5, "Let's plan the release").StartsThread = true
	msg("g6", s.general, s.dave, discordfake.MessagePinned, 6, "")
	msg("g7", s.general, "1100000000000000077", discordfake.MessageDefault, 7, "Build passed").WebhookID = "1100000000000000077"
	msg("g8", s.general, s.ghost, discordfake.MessageDefault, 8, "I deleted my account")
	msg("g9", s.general, s.alice, discordfake.MessageThreadCreated, 8.5, "Old bug")
	s.tActive = s.m["g5"]
	s.tArchived = sf(at(8.5), 99)
	s.tPrivate = sf(at(8.6), 98)

	// the thread started from g5
	msg("a0", s.tActive, s.carol, discordfake.MessageThreadStarter, 5.001, "").RefID = s.m["g5"]
	msg("a1", s.tActive, s.bob, discordfake.MessageDefault, 6, "I can take the changelog")
	msg("a2", s.tActive, s.alice, discordfake.MessageReply, 7, fmt.Sprintf("Thanks <@%s>", s.bob)).RefID = s.m["a1"]
	// an archived thread
	msg("r1", s.tArchived, s.bob, discordfake.MessageDefault, 9, "Found an old bug")
	// a private thread: never read
	msg("p1", s.tPrivate, s.alice, discordfake.MessageDefault, 9.5, "just between us")
	// #announcements
	msg("n1", s.news, s.alice, discordfake.MessageDefault, 2.5, "Version 1.0 released")
	// the forum post: its first message has the thread's id
	s.fPost = sf(at(11), 50)
	fp := discordfake.Message{ID: s.fPost, ChannelID: s.fPost, AuthorID: s.dave, Type: discordfake.MessageDefault, Timestamp: at(11), Content: "How do I install it?"}
	s.m["f0"] = fp.ID
	s.w.Messages = append(s.w.Messages, fp)
	msg("f1", s.fPost, s.alice, discordfake.MessageReply, 12, "Run the installer").RefID = s.fPost
	msg("f2", s.fPost, s.carol, discordfake.MessageDefault, 13, "Works for me").Attachments = []discordfake.Attachment{
		{ID: sf(at(13), 7), Filename: "screenshot.png", ContentType: "image/png", Size: 2048},
	}
	// ignored and unreadable channels
	msg("v1", s.voice, s.alice, discordfake.MessageDefault, 3.5, "text in voice")
	msg("s1", s.secret, s.alice, discordfake.MessageDefault, 4.5, "mods only")

	s.w.Channels = []discordfake.Channel{
		{ID: s.category, Name: "Community", Type: discordfake.ChannelCategory},
		{ID: s.general, Name: "general", Type: discordfake.ChannelText, ParentID: s.category, Position: 1},
		{ID: s.news, Name: "announcements", Type: discordfake.ChannelAnnouncement, ParentID: s.category, Position: 2},
		{ID: s.forum, Name: "help", Type: discordfake.ChannelForum, ParentID: s.category, Position: 3},
		{ID: s.voice, Name: "lounge", Type: discordfake.ChannelVoice, Position: 4},
		{ID: s.secret, Name: "mods", Type: discordfake.ChannelText, Position: 5, Unreadable: true},
		{ID: s.tActive, Name: "Release planning", Type: discordfake.ChannelPublicThread, ParentID: s.general, OwnerID: s.carol},
		{ID: s.tArchived, Name: "Old bug", Type: discordfake.ChannelPublicThread, ParentID: s.general, OwnerID: s.alice,
			Archived: true, ArchivedAt: at(10)},
		{ID: s.tPrivate, Name: "private chat", Type: discordfake.ChannelPrivateThread, ParentID: s.general, OwnerID: s.alice},
		{ID: s.fPost, Name: "How to install?", Type: discordfake.ChannelPublicThread, ParentID: s.forum, OwnerID: s.dave},
	}
	return s
}

// bigWorld has many members (three pages) and one channel with n hourly
// messages, the last at last.
func bigWorld(members, messages int, last time.Time) (w discordfake.World, channel string) {
	guild := sf(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	bot := sf(time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC), 2)
	channel = sf(time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC), 3)
	w = discordfake.World{
		Guild:     discordfake.Guild{ID: guild, Name: "Big Guild"},
		BotUserID: bot,
		Users:     []discordfake.User{{ID: bot, Username: "crowdflow-bot", Bot: true, Discriminator: "1234"}},
		Members:   []discordfake.Member{{UserID: bot, JoinedAt: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)}},
		Channels:  []discordfake.Channel{{ID: channel, Name: "busy", Type: discordfake.ChannelText}},
	}
	base := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	var humans []string
	for i := range members {
		id := sf(base.Add(time.Duration(i)*time.Minute), i%4096)
		u := discordfake.User{ID: id, Username: fmt.Sprintf("user%04d", i)}
		// every 100th member is a bot
		if i%100 == 42 {
			u.Bot = true
			u.Username = fmt.Sprintf("bot%04d", i)
		} else {
			humans = append(humans, id)
		}
		w.Users = append(w.Users, u)
		w.Members = append(w.Members, discordfake.Member{UserID: id, JoinedAt: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)})
	}
	for i := range messages {
		ts := last.Add(-time.Duration(messages-1-i) * time.Hour)
		author := bot
		if len(humans) > 0 {
			author = humans[i%len(humans)]
		}
		w.Messages = append(w.Messages, discordfake.Message{ChannelID: channel, AuthorID: author, Type: discordfake.MessageDefault, Timestamp: ts,
			Content: fmt.Sprintf("message %d", i)})
	}
	return w, channel
}
