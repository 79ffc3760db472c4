package slackfake

import "time"

// DemoToken is the bot token DemoWorld accepts. It is made up: it opens
// nothing but the fake.
const DemoToken = "xoxb-demo-0000000000-crowdflow-fake"

// DemoWorld returns a small, made-up workspace for the demo mode
// (`worker --dev`). Every name in it says it is demo data: nothing here
// describes a real person or workspace.
//
// It holds a team, four people (one with an e-mail address, one
// deactivated), a bot user, Slackbot, three public channels (the bot is
// in two of them), a thread with replies, a mention, reactions, a link
// attachment, a join message and a bot_message.
func DemoWorld() World {
	base := time.Date(2026, time.January, 12, 9, 0, 0, 0, time.UTC)
	at := func(day, minute int) string {
		return TS(base.Add(time.Duration(day)*24*time.Hour + time.Duration(minute)*time.Minute))
	}

	const (
		team  = "T0DEMO0001"
		ada   = "U0DEMOADA1"
		ben   = "U0DEMOBEN1"
		chloe = "U0DEMOCHL1"
		dan   = "U0DEMODAN1" // deactivated
		bot   = "U0DEMOBOT1"
		botID = "B0DEMOBOT01"
		appID = "A0DEMOAPP1"
	)
	parent := at(0, 30)
	return World{
		Team: Team{
			ID: team, Name: "Crowdflow Demo (fake Slack data)", Domain: "crowdflow-demo",
			EmailDomain: "demo.invalid",
		},
		BotToken:  DemoToken,
		BotUserID: bot,
		Users: []User{
			{ID: ada, Name: "ada.demo", RealName: "Ada Demo", DisplayName: "ada", Email: "ada@demo.invalid",
				Title: "Demo maintainer", TZ: "Europe/Berlin", TZLabel: "Central European Time", TZOffset: 3600, IsAdmin: true},
			{ID: ben, Name: "ben.demo", RealName: "Ben Demo", DisplayName: "ben",
				Title: "Demo contributor", TZ: "America/New_York", TZLabel: "Eastern Standard Time", TZOffset: -18000},
			{ID: chloe, Name: "chloe.demo", RealName: "Chloe Demo", DisplayName: "",
				TZ: "Asia/Tokyo", TZLabel: "Japan Standard Time", TZOffset: 32400},
			{ID: dan, Name: "dan.demo", RealName: "Dan Demo (deactivated)", Deleted: true},
			{ID: bot, Name: "crowdflow-demo-bot", RealName: "Crowdflow demo bot", IsBot: true, BotID: botID, AppID: appID},
			{ID: "USLACKBOT", Name: "slackbot", RealName: "Slackbot", DisplayName: "Slackbot"},
		},
		Channels: []Channel{
			{
				ID: "C0DEMOGEN01", Name: "demo-general", IsGeneral: true, Creator: ada,
				Created: base.Add(-30 * 24 * time.Hour), Topic: "Demo data: nothing here is real",
				Members: []string{ada, ben, chloe, bot},
				Messages: []Message{
					{TS: at(0, 0), User: ben, Subtype: "channel_join", Text: "<@" + ben + "> has joined the channel"},
					{TS: at(0, 10), User: ada, Text: "Welcome to the demo workspace, <@" + ben + ">!",
						Reactions: []Reaction{{Name: "wave", Users: []string{ben, chloe}}}},
					{TS: parent, User: ben, Text: "How do I run the demo locally?"},
					{TS: at(0, 35), User: ada, ThreadTS: parent, Text: "Start `worker --dev` and open the Temporal UI."},
					{TS: at(0, 40), User: chloe, ThreadTS: parent, Text: "Worked for me, thanks <@" + ada + ">"},
					{TS: at(1, 0), User: chloe, Text: "Release notes for the demo",
						Attachments: []Attachment{{ID: 1, Title: "Demo release notes", TitleLink: "https://example.invalid/demo/release",
							Fallback: "Demo release notes", Text: "Made-up release notes.", ServiceName: "example.invalid"}}},
					{TS: at(1, 5), Subtype: "bot_message", BotID: botID, Username: "crowdflow-demo-bot", Text: "Nightly demo build passed."},
					{TS: at(1, 6), User: "USLACKBOT", Text: "Reminder: this is demo data."},
					{TS: at(1, 7), User: dan, Text: "A message from a deactivated demo user."},
				},
			},
			{
				ID: "C0DEMORND01", Name: "demo-random", Creator: ben,
				Created: base.Add(-20 * 24 * time.Hour),
				Members: []string{ben, chloe, bot},
				Messages: []Message{
					{TS: at(2, 0), User: chloe, Text: "Demo coffee chat, anyone?"},
					{TS: at(2, 3), User: ben, Text: "<@" + chloe + "> count me in"},
				},
			},
			{
				// The bot is not in this one: conversations.list shows it
				// with is_member false, and its history answers
				// not_in_channel.
				ID: "C0DEMOPRV01", Name: "demo-no-bot", Creator: ada,
				Created: base.Add(-10 * 24 * time.Hour),
				Members: []string{ada},
				Messages: []Message{
					{TS: at(3, 0), User: ada, Text: "The demo bot cannot read this channel."},
				},
			},
		},
	}
}
