package slackfake

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// World is the seed of a fake workspace. New copies it, so a test may reuse
// one World value for several servers.
//
// IDs should look like Slack's (the contract test checks the spec's
// patterns): teams T + 8 or more of [A-Z0-9], users U/W + 8 or more,
// channels C + 8 or more, bots B + 8 or more, apps A + 1 or more.
type World struct {
	Team Team
	// BotToken is the only token the fake accepts, as a form value `token`,
	// a query parameter or an `Authorization: Bearer` header.
	BotToken string
	// BotUserID is the user the token belongs to. A channel whose Members
	// hold it is one the bot is in (is_member, and history may be read).
	BotUserID string
	Users     []User
	Channels  []Channel
}

// Team is what team.info answers.
type Team struct {
	ID          string
	Name        string
	Domain      string
	EmailDomain string
	// URL defaults to https://<Domain>.slack.com/.
	URL string
}

// User is a workspace member, a bot user, Slackbot or a deactivated user.
type User struct {
	ID          string
	Name        string // the handle, e.g. "ada"
	RealName    string
	DisplayName string
	// Email is only sent when set (the real API needs users:read.email).
	Email    string
	Title    string
	TZ       string // e.g. "Europe/Berlin"
	TZLabel  string // e.g. "Central European Time"
	TZOffset int    // seconds east of UTC
	// Image72 defaults to a made-up avatar URL.
	Image72 string
	// IsBot marks bot users; BotID (B…) and AppID (A…) go with it.
	IsBot bool
	BotID string
	AppID string
	// Deleted marks a deactivated user: still listed, with deleted:true.
	Deleted bool
	IsAdmin bool
}

// Channel is a public (or, with IsPrivate, private) channel.
type Channel struct {
	ID        string
	Name      string
	IsGeneral bool
	IsPrivate bool
	Archived  bool
	Created   time.Time
	Creator   string
	Topic     string
	Purpose   string
	// Members are the user IDs in the channel; the bot is in the channel
	// when World.BotUserID is one of them.
	Members []string
	// Messages are the top-level messages and the thread replies (a reply
	// has ThreadTS set to its parent's TS), in any order.
	Messages []Message
}

// SubtypeTombstone is the subtype of a deleted thread parent that still
// has replies (DeleteMessage makes one).
const SubtypeTombstone = "tombstone"

// slackbotID is Slackbot's user id, the author of tombstones.
const slackbotID = "USLACKBOT"

// Message is one message. Thread fields of parents (reply_count,
// reply_users, latest_reply) are computed from the replies.
type Message struct {
	// TS is the message id within the channel, "1512085950.000216". It is
	// a string on the wire and in the fake: never a float.
	TS   string
	User string
	Text string
	// Subtype: "" for a plain message, or e.g. "channel_join",
	// "bot_message", "thread_broadcast", "channel_topic".
	Subtype string
	// ThreadTS is the parent's TS for a reply; empty for a top-level
	// message (parents get thread_ts = ts on the wire).
	ThreadTS string
	// BotID is set on messages posted by apps or bots; Username goes with
	// classic bot_message messages, which may have no User.
	BotID    string
	Username string
	// Inviter is the user who added the joiner (channel_join).
	Inviter     string
	Reactions   []Reaction
	Attachments []Attachment
	// EditedBy and EditedTS give the message an `edited` object.
	EditedBy string
	EditedTS string
}

// Reaction is an emoji reaction; its count is len(Users).
type Reaction struct {
	Name  string
	Users []string
}

// Attachment is a legacy message attachment (link unfurl and the like).
type Attachment struct {
	ID          int
	Fallback    string
	Title       string
	TitleLink   string
	Text        string
	ServiceName string
}

// TS formats t as a Slack ts: seconds, a dot and six digits of
// microseconds.
func TS(t time.Time) string {
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// tsKey is a parsed ts, compared as integers: a ts must never go through a
// float (1512085950.000216 does not survive float64 exactly).
type tsKey struct{ sec, micro int64 }

func (a tsKey) less(b tsKey) bool {
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	return a.micro < b.micro
}

func (a tsKey) String() string { return fmt.Sprintf("%d.%06d", a.sec, a.micro) }

// parseTS parses "1512085950.000216", "1512085950" or "1512085950.5"
// (the fraction is read as digits after the dot, padded to six).
func parseTS(s string) (tsKey, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return tsKey{}, false
	}
	secPart, fracPart, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secPart, 10, 64)
	if err != nil || sec < 0 {
		return tsKey{}, false
	}
	if len(fracPart) > 6 {
		fracPart = fracPart[:6]
	}
	var micro int64
	if fracPart != "" {
		fracPart += strings.Repeat("0", 6-len(fracPart))
		micro, err = strconv.ParseInt(fracPart, 10, 64)
		if err != nil || micro < 0 {
			return tsKey{}, false
		}
	}
	return tsKey{sec: sec, micro: micro}, true
}

func (w World) clone() World {
	out := w
	out.Users = append([]User(nil), w.Users...)
	out.Channels = make([]Channel, len(w.Channels))
	for i, c := range w.Channels {
		out.Channels[i] = c.clone()
	}
	return out
}

func (c Channel) clone() Channel {
	out := c
	out.Members = append([]string(nil), c.Members...)
	out.Messages = make([]Message, len(c.Messages))
	for i, m := range c.Messages {
		out.Messages[i] = m.clone()
	}
	return out
}

func (m Message) clone() Message {
	out := m
	out.Reactions = make([]Reaction, len(m.Reactions))
	for i, r := range m.Reactions {
		out.Reactions[i] = Reaction{Name: r.Name, Users: append([]string(nil), r.Users...)}
	}
	if len(m.Reactions) == 0 {
		out.Reactions = nil
	}
	out.Attachments = append([]Attachment(nil), m.Attachments...)
	return out
}
