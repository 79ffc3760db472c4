package slack

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/crowdflow/crowdflow/integrations"
)

// Message subtypes.
const (
	subtypeChannelJoin     = "channel_join"
	subtypeBotMessage      = "bot_message"
	subtypeThreadBroadcast = "thread_broadcast"
)

// messageSubtypes are the subtypes that are someone saying something; the
// rest (topic changes, leaves, pins, tombstones, ...) are not activities.
var messageSubtypes = map[string]bool{
	"":                     true,
	subtypeThreadBroadcast: true,
	"file_share":           true,
	"me_message":           true,
}

// parseTS turns a Slack ts ("1512085950.000216") into a time without going
// through a float, which cannot hold it exactly.
func parseTS(ts string) (time.Time, bool) {
	secPart, fracPart, _ := strings.Cut(ts, ".")
	sec, err := strconv.ParseInt(secPart, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, false
	}
	var micro int64
	if fracPart != "" {
		if len(fracPart) > 6 {
			fracPart = fracPart[:6]
		}
		fracPart += strings.Repeat("0", 6-len(fracPart))
		if micro, err = strconv.ParseInt(fracPart, 10, 64); err != nil || micro < 0 {
			return time.Time{}, false
		}
	}
	return time.Unix(sec, micro*1000).UTC(), true
}

// formatTS is the inverse of parseTS, for the oldest parameter.
func formatTS(t time.Time) string {
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// permalink is the message's web link: <team url>archives/<channel>/p<ts
// without the dot>.
func permalink(teamURL, channelID, ts string) string {
	if teamURL == "" {
		return ""
	}
	return teamURL + "archives/" + channelID + "/p" + strings.Replace(ts, ".", "", 1)
}

// joinSourceID is the source id of "user joined channel". It is the same
// whether the join comes from a channel_join message or from
// conversations.members, so both give one activity row, and it names the
// channel, so a member who joins two channels has two (the original used
// the user id alone: one join per member in the whole workspace).
func joinSourceID(channelID, userID string) string {
	return "gen-channel_joined-" + channelID + "-" + userID
}

var (
	userMention    = regexp.MustCompile(`<@([UW][A-Z0-9]+)(?:\|([^>]*))?>`)
	channelMention = regexp.MustCompile(`<#(C[A-Z0-9]+)\|([^>]+)>`)
)

// mentionedUsers returns the user ids mentioned in text, in order.
func mentionedUsers(text string) []string {
	var ids []string
	for _, m := range userMention.FindAllStringSubmatch(text, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// renderBody turns <@U…> mentions into @name (the Slack handle, the same
// value as the member's username) and labelled channel links <#C…|name>
// into #name. An unknown user keeps the label Slack sent, else its id.
// The rest of the text is left as Slack sent it (still &amp;-escaped).
func renderBody(text string, users map[string]*userInfo) string {
	text = userMention.ReplaceAllStringFunc(text, func(s string) string {
		m := userMention.FindStringSubmatch(s)
		if u := users[m[1]]; u != nil && u.Name != "" {
			return "@" + u.Name
		}
		if m[2] != "" {
			return "@" + m[2]
		}
		return "@" + m[1]
	})
	return channelMention.ReplaceAllString(text, "#$2")
}

// messageActivity builds a `message` activity. parentTS is the thread the
// message replies to ("" for a top-level message) and parentText its
// parent's rendered text: the thread attribute is false for a top-level
// message and {body, id} of the parent for a reply, as crowd.dev stored it.
func messageActivity(m *slackapi.Message, at time.Time, author *userInfo, ch channelRef, teamURL, parentTS, parentText string, users map[string]*userInfo) integrations.Activity {
	var thread any = false
	if parentTS != "" {
		thread = map[string]any{"body": parentText, "id": parentTS}
	}
	reactions := make([]map[string]any, 0, len(m.Reactions))
	for _, r := range m.Reactions {
		reactions = append(reactions, map[string]any{"name": r.Name, "count": r.Count})
	}
	attachments := make([]map[string]any, 0, len(m.Attachments))
	for _, a := range m.Attachments {
		x := map[string]any{}
		for k, v := range map[string]string{
			"title": a.Title, "titleLink": a.TitleLink, "text": a.Text, "fallback": a.Fallback,
			"serviceName": a.ServiceName, "imageUrl": a.ImageURL, "fromUrl": a.FromURL,
		} {
			if v != "" {
				x[k] = v
			}
		}
		attachments = append(attachments, x)
	}
	return integrations.Activity{
		Type:           TypeMessage,
		SourceID:       m.Timestamp,
		SourceParentID: parentTS,
		Timestamp:      at,
		Member:         author.member(),
		Channel:        ch.Name,
		Body:           renderBody(m.Text, users),
		URL:            permalink(teamURL, ch.ID, m.Timestamp),
		Attributes: map[string]any{
			"thread":      thread,
			"reactions":   reactions,
			"attachments": attachments,
		},
		Score:          scoreMessage,
		IsContribution: true,
	}
}

// joinActivity builds a `channel_joined` activity. at is the join
// message's time, or the Unix epoch when only the membership is known
// (conversations.members has no dates); crowd.dev did the same, and
// members' joinedAt ignores epoch-ish dates.
func joinActivity(u *userInfo, ch channelRef, at time.Time) integrations.Activity {
	return integrations.Activity{
		Type:           TypeChannelJoined,
		SourceID:       joinSourceID(ch.ID, u.ID),
		Timestamp:      at,
		Member:         u.member(),
		Channel:        ch.Name,
		Attributes:     map[string]any{},
		Score:          scoreChannelJoined,
		IsContribution: false,
	}
}

// channelRef names a channel.
type channelRef struct{ ID, Name string }

// isBotMessage reports messages posted by bots and apps, whoever the user.
func isBotMessage(m *slackapi.Message) bool {
	return m.SubType == subtypeBotMessage || m.BotID != "" || m.BotProfile != nil
}

// isThreadParent reports a message that starts a thread with replies.
func isThreadParent(m *slackapi.Message) bool {
	return m.ReplyCount > 0 && (m.ThreadTimestamp == "" || m.ThreadTimestamp == m.Timestamp)
}

// replyParent returns the thread a reply belongs to, "" for others.
func replyParent(m *slackapi.Message) string {
	if m.ThreadTimestamp != "" && m.ThreadTimestamp != m.Timestamp {
		return m.ThreadTimestamp
	}
	return ""
}

// userIDs lists the users a page needs: the authors of the messages that
// may become activities, and the users their text mentions. Bot and
// housekeeping messages need nobody.
func userIDs(msgs []slackapi.Message) []string {
	var ids []string
	for i := range msgs {
		m := &msgs[i]
		if isBotMessage(m) || m.User == "" || m.User == slackbotID {
			continue
		}
		switch {
		case m.SubType == subtypeChannelJoin:
			ids = append(ids, m.User)
		case messageSubtypes[m.SubType]:
			ids = append(ids, m.User)
			ids = append(ids, mentionedUsers(m.Text)...)
		}
	}
	return ids
}

// oldestTS returns the time of the oldest message of a page, and its ts.
func oldestTS(msgs []slackapi.Message, skip string) (time.Time, string) {
	var oldest time.Time
	var ts string
	for i := range msgs {
		if msgs[i].Timestamp == skip {
			continue
		}
		t, ok := parseTS(msgs[i].Timestamp)
		if ok && (oldest.IsZero() || t.Before(oldest)) {
			oldest, ts = t, msgs[i].Timestamp
		}
	}
	return oldest, ts
}
