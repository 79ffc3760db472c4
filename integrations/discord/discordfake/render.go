package discordfake

import (
	"regexp"
	"time"
)

// The JSON shapes below follow the API owner's OpenAPI description
// (discord.trimmed.json): every field it requires is sent, nullable ones as
// null rather than left out.

// timeFormat is how Discord writes timestamps: microseconds, +00:00.
const timeFormat = "2006-01-02T15:04:05.000000-07:00"

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

// joinedAt renders a member's join time; a zero time is null, as Discord
// sends it for a member with no join time (a guest let in by a voice
// invite).
func joinedAt(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := ts(t)
	return &s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type userJSON struct {
	ID            string    `json:"id"`
	Username      string    `json:"username"`
	Avatar        *string   `json:"avatar"`
	Discriminator string    `json:"discriminator"`
	PublicFlags   int       `json:"public_flags"`
	Flags         int       `json:"flags"`
	Bot           bool      `json:"bot,omitempty"`
	Banner        *string   `json:"banner"`
	AccentColor   *int      `json:"accent_color"`
	GlobalName    *string   `json:"global_name"`
	PrimaryGuild  *struct{} `json:"primary_guild"`
}

func renderUser(u User) userJSON {
	d := u.Discriminator
	if d == "" {
		d = "0"
	}
	return userJSON{
		ID:            u.ID,
		Username:      u.Username,
		Avatar:        nullable(u.Avatar),
		Discriminator: d,
		Bot:           u.Bot,
		GlobalName:    nullable(u.GlobalName),
	}
}

type memberJSON struct {
	Avatar                     *string  `json:"avatar"`
	Banner                     *string  `json:"banner"`
	CommunicationDisabledUntil *string  `json:"communication_disabled_until"`
	Flags                      int      `json:"flags"`
	JoinedAt                   *string  `json:"joined_at"`
	Nick                       *string  `json:"nick"`
	Pending                    bool     `json:"pending"`
	PremiumSince               *string  `json:"premium_since"`
	Roles                      []string `json:"roles"`
	User                       userJSON `json:"user"`
	Mute                       bool     `json:"mute"`
	Deaf                       bool     `json:"deaf"`
}

func renderMember(m Member, u User) memberJSON {
	return memberJSON{
		JoinedAt: joinedAt(m.JoinedAt),
		Nick:     nullable(m.Nick),
		Roles:    []string{},
		User:     renderUser(u),
	}
}

type overwriteJSON struct {
	ID    string `json:"id"`
	Type  int    `json:"type"`
	Allow string `json:"allow"`
	Deny  string `json:"deny"`
}

type threadMetadataJSON struct {
	Archived            bool    `json:"archived"`
	ArchiveTimestamp    *string `json:"archive_timestamp"`
	AutoArchiveDuration int     `json:"auto_archive_duration"`
	Locked              bool    `json:"locked"`
	CreateTimestamp     string  `json:"create_timestamp,omitempty"`
}

// channelJSON is GuildChannelResponse for channels and ThreadResponse for
// threads: the fields of the other kind are left out.
type channelJSON struct {
	ID                   string          `json:"id"`
	Type                 int             `json:"type"`
	Flags                int             `json:"flags"`
	GuildID              string          `json:"guild_id"`
	Name                 string          `json:"name"`
	ParentID             *string         `json:"parent_id"`
	LastMessageID        *string         `json:"last_message_id,omitempty"`
	Position             *int            `json:"position,omitempty"`
	Topic                *string         `json:"topic,omitempty"`
	NSFW                 *bool           `json:"nsfw,omitempty"`
	RateLimitPerUser     *int            `json:"rate_limit_per_user,omitempty"`
	Bitrate              *int            `json:"bitrate,omitempty"`
	UserLimit            *int            `json:"user_limit,omitempty"`
	PermissionOverwrites []overwriteJSON `json:"permission_overwrites,omitempty"`

	OwnerID          string              `json:"owner_id,omitempty"`
	ThreadMetadata   *threadMetadataJSON `json:"thread_metadata,omitempty"`
	MessageCount     *int                `json:"message_count,omitempty"`
	MemberCount      *int                `json:"member_count,omitempty"`
	TotalMessageSent *int                `json:"total_message_sent,omitempty"`
}

func intp(n int) *int    { return &n }
func boolp(b bool) *bool { return &b }

// viewChannel is the VIEW_CHANNEL permission bit.
const viewChannel = "1024"

// renderChannel renders c; lastMessageID and count describe its messages.
func (f *Fake) renderChannel(c *Channel) channelJSON {
	j := channelJSON{
		ID:       c.ID,
		Type:     c.Type,
		GuildID:  f.guild.ID,
		Name:     c.Name,
		ParentID: nullable(c.ParentID),
	}
	msgs := f.msgs[c.ID]
	if c.IsThread() {
		created, _ := SnowflakeTime(c.ID)
		md := &threadMetadataJSON{
			Archived:            c.Archived,
			AutoArchiveDuration: 1440,
			Locked:              c.Locked,
			CreateTimestamp:     ts(created),
		}
		if c.Archived {
			md.ArchiveTimestamp = nullable(ts(c.ArchivedAt))
		} else {
			// An active thread's archive_timestamp is when its archive
			// status last changed: its creation for a fresh one.
			md.ArchiveTimestamp = nullable(ts(created))
		}
		owner := c.OwnerID
		if owner == "" {
			owner = f.botUserID
		}
		j.OwnerID = owner
		j.ThreadMetadata = md
		j.MessageCount = intp(len(msgs))
		j.TotalMessageSent = intp(len(msgs))
		j.MemberCount = intp(min(len(msgs), 50))
		j.RateLimitPerUser = intp(0)
		j.LastMessageID = lastID(msgs)
		return j
	}
	j.Position = intp(c.Position)
	switch c.Type {
	case ChannelVoice, ChannelStageVoice:
		j.Bitrate = intp(64000)
		j.UserLimit = intp(0)
		j.LastMessageID = lastID(msgs)
	case ChannelCategory:
	default:
		j.Topic = nullable(c.Topic)
		j.NSFW = boolp(false)
		j.RateLimitPerUser = intp(0)
		j.LastMessageID = lastID(msgs)
	}
	if c.Unreadable {
		// What makes a channel unreadable on the real API: @everyone
		// (the role whose id is the guild's) is denied VIEW_CHANNEL.
		j.PermissionOverwrites = []overwriteJSON{{ID: f.guild.ID, Type: 0, Allow: "0", Deny: viewChannel}}
	} else if c.Type != ChannelCategory {
		j.PermissionOverwrites = []overwriteJSON{}
	}
	return j
}

// lastID is a channel's last_message_id: null when it has no messages.
func lastID(msgs []*Message) *string {
	if len(msgs) == 0 {
		return nil
	}
	id := msgs[len(msgs)-1].ID
	return &id
}

type referenceJSON struct {
	Type      int    `json:"type"`
	ChannelID string `json:"channel_id"`
	MessageID string `json:"message_id,omitempty"`
	GuildID   string `json:"guild_id,omitempty"`
}

type attachmentJSON struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Size        int    `json:"size"`
	URL         string `json:"url"`
	ProxyURL    string `json:"proxy_url"`
	ContentType string `json:"content_type,omitempty"`
}

type messageJSON struct {
	Type             int              `json:"type"`
	Content          string           `json:"content"`
	Mentions         []userJSON       `json:"mentions"`
	MentionRoles     []string         `json:"mention_roles"`
	Attachments      []attachmentJSON `json:"attachments"`
	Embeds           []struct{}       `json:"embeds"`
	Reactions        []reactionJSON   `json:"reactions,omitempty"`
	Timestamp        string           `json:"timestamp"`
	EditedTimestamp  *string          `json:"edited_timestamp"`
	Flags            int              `json:"flags"`
	Components       []struct{}       `json:"components"`
	ID               string           `json:"id"`
	ChannelID        string           `json:"channel_id"`
	Author           userJSON         `json:"author"`
	Pinned           bool             `json:"pinned"`
	MentionEveryone  bool             `json:"mention_everyone"`
	TTS              bool             `json:"tts"`
	WebhookID        string           `json:"webhook_id,omitempty"`
	MessageReference *referenceJSON   `json:"message_reference,omitempty"`
	Thread           *channelJSON     `json:"thread,omitempty"`
	// ReferencedMessage is set (possibly to null) on replies and thread
	// starters only, as the API does.
	ReferencedMessage **messageJSON `json:"referenced_message,omitempty"`
}

// reactionJSON is one emoji's reactions; the API leaves `reactions` out of
// a message nobody reacted to.
type reactionJSON struct {
	Emoji struct {
		ID   *string `json:"id"`
		Name string  `json:"name"`
	} `json:"emoji"`
	Count        int `json:"count"`
	CountDetails struct {
		Burst  int `json:"burst"`
		Normal int `json:"normal"`
	} `json:"count_details"`
	BurstColors []string `json:"burst_colors"`
	MeBurst     bool     `json:"me_burst"`
	Me          bool     `json:"me"`
}

var mentionRE = regexp.MustCompile(`<@!?([0-9]+)>`)

// renderMessage renders m. nested is true for the copy of a referenced
// message, which carries no referenced message of its own.
func (f *Fake) renderMessage(m *Message, nested bool) messageJSON {
	j := messageJSON{
		Type:         m.Type,
		Content:      m.Content,
		Mentions:     []userJSON{},
		MentionRoles: []string{},
		Attachments:  []attachmentJSON{},
		Embeds:       []struct{}{},
		Timestamp:    ts(m.Timestamp),
		Components:   []struct{}{},
		ID:           m.ID,
		ChannelID:    m.ChannelID,
		WebhookID:    m.WebhookID,
	}
	for _, r := range m.Reactions {
		var rj reactionJSON
		rj.Emoji.Name, rj.Count, rj.CountDetails.Normal, rj.BurstColors = r.Emoji, r.Count, r.Count, []string{}
		j.Reactions = append(j.Reactions, rj)
	}
	if u, ok := f.users[m.AuthorID]; ok {
		j.Author = renderUser(*u)
	} else {
		// A webhook's pseudo-user, or an author the world forgot.
		j.Author = renderUser(User{ID: m.AuthorID, Username: "Webhook", Discriminator: "0000", Bot: true})
	}
	mentionsBot := false
	seen := map[string]bool{}
	for _, sm := range mentionRE.FindAllStringSubmatch(m.Content, -1) {
		id := sm[1]
		if seen[id] {
			continue
		}
		seen[id] = true
		if id == f.botUserID {
			mentionsBot = true
		}
		if u, ok := f.users[id]; ok {
			j.Mentions = append(j.Mentions, renderUser(*u))
		}
	}
	for _, a := range m.Attachments {
		u := "https://cdn.discordapp.com/attachments/" + m.ChannelID + "/" + a.ID + "/" + a.Filename
		j.Attachments = append(j.Attachments, attachmentJSON{
			ID: a.ID, Filename: a.Filename, Size: a.Size, URL: u,
			ProxyURL:    "https://media.discordapp.net/attachments/" + m.ChannelID + "/" + a.ID + "/" + a.Filename,
			ContentType: a.ContentType,
		})
	}
	if f.sw.NoMessageContentIntent && m.AuthorID != f.botUserID && !mentionsBot {
		// Without the privileged intent the API blanks what a message
		// says, and keeps who and when.
		j.Content = ""
		j.Attachments = []attachmentJSON{}
	}
	if m.StartsThread {
		if t, ok := f.channels[m.ID]; ok {
			tj := f.renderChannel(t)
			j.Thread = &tj
		}
	}
	if m.RefID != "" && (m.Type == MessageReply || m.Type == MessageThreadStarter) {
		ref := &referenceJSON{Type: 0, ChannelID: m.ChannelID, MessageID: m.RefID, GuildID: f.guild.ID}
		var refJ *messageJSON
		if r, ok := f.byID[m.RefID]; ok {
			ref.ChannelID = r.ChannelID
			if !nested {
				rj := f.renderMessage(r, true)
				refJ = &rj
			}
		}
		j.MessageReference = ref
		if !nested {
			j.ReferencedMessage = &refJ
		}
	}
	return j
}

type threadsJSON struct {
	Threads []channelJSON `json:"threads"`
	Members []struct{}    `json:"members"`
	// HasMore is sent by the archived-threads listing only: the active
	// one has none (the spec's shared schema says otherwise; a spec
	// defect, testdata/apispecs/README.md).
	HasMore *bool `json:"has_more,omitempty"`
}

type errorJSON struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}

type rateLimitedJSON struct {
	Message    string  `json:"message"`
	RetryAfter float64 `json:"retry_after"`
	Global     bool    `json:"global"`
}
