package discordfake

import (
	"fmt"
	"strconv"
	"time"
)

// Channel types, as the API numbers them.
const (
	ChannelText               = 0
	ChannelVoice              = 2
	ChannelCategory           = 4
	ChannelAnnouncement       = 5
	ChannelAnnouncementThread = 10
	ChannelPublicThread       = 11
	ChannelPrivateThread      = 12
	ChannelStageVoice         = 13
	ChannelForum              = 15
	// ChannelMedia holds threads only, like a forum (its posts are
	// media-first).
	ChannelMedia = 16
)

// Message types, as the API numbers them (the ones the fake's worlds use).
const (
	MessageDefault       = 0
	MessagePinned        = 6
	MessageUserJoin      = 7
	MessageThreadCreated = 18
	MessageReply         = 19
	MessageThreadStarter = 21
)

// DiscordEpoch is the first second of 2015 in Unix milliseconds: the zero of
// snowflake timestamps.
const DiscordEpoch = 1420070400000

// Snowflake returns the id Discord would give to something made at t, with
// n as the low bits (worker 1, process 0, increment n) so that several ids
// of the same millisecond differ. Ids of later times are larger numbers.
func Snowflake(t time.Time, n int) string {
	ms := t.UnixMilli() - DiscordEpoch
	if ms < 0 {
		ms = 0
	}
	id := uint64(ms)<<22 | 1<<17 | uint64(n)&0xfff
	return strconv.FormatUint(id, 10)
}

// SnowflakeTime returns the time a snowflake was made.
func SnowflakeTime(id string) (time.Time, error) {
	v, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("snowflake %q: %w", id, err)
	}
	return time.UnixMilli(int64(v>>22) + DiscordEpoch).UTC(), nil
}

// World is the data a Fake serves: one guild and what is in it. Build one
// with literals and hand it to New; New copies it, so changes made later go
// through the Fake's methods.
type World struct {
	Guild Guild
	// BotUserID is the bot's own user id: without the MESSAGE_CONTENT
	// intent, messages by or mentioning the bot keep their content.
	BotUserID string
	Users     []User
	Members   []Member
	// Channels holds the guild channels and the threads (types 10-12),
	// whose ParentID is the channel they belong to.
	Channels []Channel
	Messages []Message
}

// Guild is the one guild of a World.
type Guild struct {
	ID   string
	Name string
}

// User is a Discord account.
type User struct {
	ID       string
	Username string
	// GlobalName is the display name; empty is sent as null.
	GlobalName string
	// Avatar is the avatar hash; empty is sent as null.
	Avatar string
	// Discriminator defaults to "0" (the unique-username system); bots
	// still have four digits.
	Discriminator string
	Bot           bool
}

// Member is a user's membership of the guild.
type Member struct {
	UserID string
	// Nick is the guild nickname; empty is sent as null.
	Nick string
	// JoinedAt zero is sent as null (a guest member has no join time).
	JoinedAt time.Time
}

// Channel is a guild channel or a thread.
type Channel struct {
	ID   string
	Name string
	Type int
	// ParentID is the category of a channel, or the channel of a thread.
	ParentID string
	Position int
	Topic    string
	// Unreadable: the bot may not view the channel (or the threads in
	// it); reading it answers 403 Missing Access.
	Unreadable bool

	// Threads only.
	OwnerID    string
	Archived   bool
	ArchivedAt time.Time
	Locked     bool
}

// IsThread reports whether c is a thread.
func (c Channel) IsThread() bool {
	return c.Type == ChannelAnnouncementThread || c.Type == ChannelPublicThread || c.Type == ChannelPrivateThread
}

// Message is a message in a channel or thread.
type Message struct {
	// ID defaults to a snowflake of Timestamp; Timestamp defaults to the
	// time of ID. One of them must be set.
	ID        string
	ChannelID string
	AuthorID  string
	// Content may hold mentions as <@id> or <@!id>: the fake lists the
	// users it knows among them in the message's mentions.
	Content   string
	Type      int
	Timestamp time.Time
	// RefID is the message a reply (type 19) answers, or the message a
	// thread starter (type 21) points back to, in whatever channel it is.
	RefID string
	// StartsThread marks a message that a thread was started from: the
	// thread has the message's id, and the message carries it as thread.
	StartsThread bool
	// WebhookID marks a message sent by a webhook; AuthorID is then the
	// webhook's pseudo-user, which needs no User entry.
	WebhookID   string
	Attachments []Attachment
	// Reactions are the emoji reactions, each with its count.
	Reactions []Reaction
}

// Reaction is one emoji's reactions to a message (a unicode emoji: no id).
type Reaction struct {
	Emoji string
	Count int
}

// Attachment is a file attached to a message.
type Attachment struct {
	ID          string
	Filename    string
	ContentType string
	Size        int
}
