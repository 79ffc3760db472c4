package discordfake

import "time"

// Demo data set: a made-up community. Every name says it is fake, so that
// nobody mistakes demo rows for real people.
const (
	// DemoGuildID is the guild of DemoWorld; use it as the guildId setting.
	DemoGuildID = "1325000000000000001"
	// DemoToken is the bot token a demo fake accepts: use
	// Switches{Token: DemoToken}.
	DemoToken = "demo-bot-token-not-a-secret"
)

// DemoWorld returns a small fixed demo guild, "Crowdflow Demo (fake data)":
// a text channel with a reply, a mention and a thread started from a
// message, an announcement channel, a forum with one post, a voice channel
// and a category (both ignored), a staff channel the bot may not read, six
// human members and one bot. Its ids and times are fixed, so a restarted
// demo serves the same records and the database stays free of duplicates.
func DemoWorld() World {
	base := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	at := func(day, hour, minute int) time.Time {
		return base.Add(time.Duration(day)*24*time.Hour + time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
	}
	id := func(t time.Time, n int) string { return Snowflake(t, n) }

	bot := User{ID: id(base.AddDate(-1, 0, 0), 1), Username: "crowdflow-demo-bot", Discriminator: "4821", Bot: true}
	people := []User{
		{ID: id(base.AddDate(-3, 0, 0), 2), Username: "demo_ada", GlobalName: "Ada (demo)", Avatar: "a1b2c3d4e5f60718293a4b5c6d7e8f90"},
		{ID: id(base.AddDate(-3, 1, 0), 3), Username: "demo_grace", GlobalName: "Grace (demo)"},
		{ID: id(base.AddDate(-2, 0, 0), 4), Username: "demo_linus"},
		{ID: id(base.AddDate(-2, 3, 0), 5), Username: "demo_margaret", GlobalName: "Margaret (demo)"},
		{ID: id(base.AddDate(-1, 2, 0), 6), Username: "demo_ken"},
		{ID: id(base.AddDate(-1, 5, 0), 7), Username: "demo_barbara", GlobalName: "Barbara (demo)"},
	}
	ada, grace, linus, margaret, ken, barbara := people[0], people[1], people[2], people[3], people[4], people[5]

	w := World{
		Guild:     Guild{ID: DemoGuildID, Name: "Crowdflow Demo (fake data)"},
		BotUserID: bot.ID,
		Users:     append([]User{bot}, people...),
	}
	w.Members = append(w.Members, Member{UserID: bot.ID, JoinedAt: at(-30, 0, 0)})
	for i, u := range people {
		m := Member{UserID: u.ID, JoinedAt: at(-20+3*i, i, 7*i)}
		if u.ID == linus.ID {
			m.Nick = "Linus (demo nick)"
		}
		w.Members = append(w.Members, m)
	}

	category := Channel{ID: id(at(-40, 0, 0), 10), Name: "Demo community", Type: ChannelCategory}
	general := Channel{ID: id(at(-40, 0, 1), 11), Name: "general", Type: ChannelText, ParentID: category.ID, Position: 1, Topic: "Demo chat (fake data)"}
	news := Channel{ID: id(at(-40, 0, 2), 12), Name: "announcements", Type: ChannelAnnouncement, ParentID: category.ID, Position: 2}
	forum := Channel{ID: id(at(-40, 0, 3), 13), Name: "help-forum", Type: ChannelForum, ParentID: category.ID, Position: 3}
	voice := Channel{ID: id(at(-40, 0, 4), 14), Name: "voice-hangout", Type: ChannelVoice, ParentID: category.ID, Position: 4}
	staff := Channel{ID: id(at(-40, 0, 5), 15), Name: "staff-only", Type: ChannelText, Position: 5, Unreadable: true}

	// general: a question, a reply with a mention, and a message that
	// starts a thread (the thread has the message's id).
	q := Message{ChannelID: general.ID, AuthorID: ada.ID, Type: MessageDefault, Timestamp: at(0, 0, 0),
		Content: "Hello demo world! Has anyone tried the fake integration?"}
	q.ID = id(q.Timestamp, 20)
	reply := Message{ChannelID: general.ID, AuthorID: grace.ID, Type: MessageReply, Timestamp: at(0, 0, 5), RefID: q.ID,
		Content: "Yes <@" + ada.ID + ">, it works with made-up data."}
	starter := Message{ChannelID: general.ID, AuthorID: linus.ID, Type: MessageDefault, Timestamp: at(0, 1, 0), StartsThread: true,
		Content: "Let's discuss the demo roadmap in a thread."}
	starter.ID = id(starter.Timestamp, 21)
	thread := Channel{ID: starter.ID, Name: "Demo roadmap", Type: ChannelPublicThread, ParentID: general.ID, OwnerID: linus.ID}
	botMsg := Message{ChannelID: general.ID, AuthorID: bot.ID, Type: MessageDefault, Timestamp: at(0, 1, 30),
		Content: "Beep: I am the demo bot."}
	joinMsg := Message{ChannelID: general.ID, AuthorID: barbara.ID, Type: MessageUserJoin, Timestamp: at(0, 2, 0)}

	inThread := []Message{
		{ChannelID: thread.ID, AuthorID: linus.ID, Type: MessageThreadStarter, Timestamp: at(0, 1, 0).Add(time.Second), RefID: starter.ID},
		{ChannelID: thread.ID, AuthorID: margaret.ID, Type: MessageDefault, Timestamp: at(0, 1, 10), Content: "First item: more fake data."},
		{ChannelID: thread.ID, AuthorID: ken.ID, Type: MessageDefault, Timestamp: at(0, 1, 20), Content: "Second item: a demo dashboard."},
	}

	announce := Message{ChannelID: news.ID, AuthorID: margaret.ID, Type: MessageDefault, Timestamp: at(-1, 3, 0),
		Content: "Demo release 0.1 is out (not really, this is fake data)."}

	// help-forum: one post; a forum post's first message has the
	// thread's id.
	postAt := at(1, 2, 0)
	post := Channel{ID: id(postAt, 30), Name: "How do I connect the demo bot?", Type: ChannelPublicThread, ParentID: forum.ID, OwnerID: ken.ID}
	forumMsgs := []Message{
		{ID: post.ID, ChannelID: post.ID, AuthorID: ken.ID, Type: MessageDefault, Timestamp: postAt, Content: "I am stuck connecting the demo bot."},
		{ChannelID: post.ID, AuthorID: barbara.ID, Type: MessageDefault, Timestamp: at(1, 2, 30), Content: "Use the demo token, <@" + ken.ID + ">."},
	}

	hidden := Message{ChannelID: staff.ID, AuthorID: ada.ID, Type: MessageDefault, Timestamp: at(0, 5, 0), Content: "Nobody outside staff sees this (fake)."}

	w.Channels = []Channel{category, general, news, forum, voice, staff, thread, post}
	w.Messages = append(w.Messages, q, reply, starter, botMsg, joinMsg, announce, hidden)
	w.Messages = append(w.Messages, inThread...)
	w.Messages = append(w.Messages, forumMsgs...)
	return w
}
