package slackfake

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The wire shapes below are the fake's own, written from the recorded
// key paths (testdata/apispecs/slack_keypaths) and the spec, not taken from the
// client library: a field the client expects but Slack does not send must
// show up as a test failure, not be papered over.

type handler func(s *Server, r *http.Request) (int, any)

var handlers = map[string]handler{
	MethodConversationsList:    (*Server).conversationsList,
	MethodConversationsHistory: (*Server).conversationsHistory,
	MethodConversationsReplies: (*Server).conversationsReplies,
	MethodConversationsMembers: (*Server).conversationsMembers,
	MethodUsersList:            (*Server).usersList,
	MethodUsersInfo:            (*Server).usersInfo,
	MethodTeamInfo:             (*Server).teamInfo,
}

type responseMetadata struct {
	NextCursor string `json:"next_cursor"`
}

// ---- cursors ----
//
// Cursors are opaque base64 strings, as Slack's are ("bmV4dF90czo…" is
// "next_ts:…"). They name the next item, not an offset, so that messages
// added between two pages do not shift the pages.

func encodeCursor(kind, key string) string {
	return base64.StdEncoding.EncodeToString([]byte(kind + ":" + key))
}

// decodeCursor returns the key of a cursor of that kind; ok is false for
// a cursor the fake did not make (Slack answers invalid_cursor).
func decodeCursor(kind, cursor string) (string, bool) {
	b, err := base64.StdEncoding.DecodeString(cursor)
	if err != nil {
		return "", false
	}
	k, key, found := strings.Cut(string(b), ":")
	if !found || k != kind || key == "" {
		return "", false
	}
	return key, true
}

// cursorPage cuts one page out of list, in the order it is served, at the
// request's cursor: the page starts at the first item (from index from on)
// that reached says the cursor's key has come to, and the next cursor
// names the item after the page. ok is false for a cursor the fake did not
// make, or whose key validKey (when set) rejects: Slack answers
// invalid_cursor.
func cursorPage[T any](r *http.Request, kind string, list []T, from, size int, validKey func(string) bool,
	reached func(item T, key string) bool, keyOf func(T) string) (start, end int, next string, ok bool) {
	if cur := r.Form.Get("cursor"); cur != "" {
		key, ok := decodeCursor(kind, cur)
		if !ok || (validKey != nil && !validKey(key)) {
			return 0, 0, "", false
		}
		start = len(list)
		for i := from; i < len(list); i++ {
			if reached(list[i], key) {
				start = i
				break
			}
		}
	}
	end = min(len(list), start+size)
	if end < len(list) {
		next = encodeCursor(kind, keyOf(list[end]))
	}
	return start, end, next, true
}

// idReached is cursorPage's test for lists in ascending id order.
func idReached(id, key string) bool { return id >= key }

// validTS is cursorPage's key check for message cursors.
func validTS(key string) bool {
	_, ok := parseTS(key)
	return ok
}

// pageSize is the number of items a page holds: `limit` when given (Slack
// defaults to 100 and caps at 1000), capped by SetMaxLimit and, for
// history and replies, by the non-Marketplace limit of 15.
func (s *Server) pageSize(r *http.Request, method string) int {
	n := 100
	if v, err := strconv.Atoi(r.Form.Get("limit")); err == nil && v > 0 {
		n = min(v, 1000)
	}
	if s.maxLimit > 0 {
		n = min(n, s.maxLimit)
	}
	if s.nonMarketplace && (method == MethodConversationsHistory || method == MethodConversationsReplies) {
		n = min(n, 15)
	}
	return n
}

// meta is the response_metadata of a page: next_cursor "" on the last page
// (not absent), unless SetOmitEmptyCursor.
func (s *Server) meta(next string) *responseMetadata {
	if next == "" && s.omitEmptyCursor {
		return nil
	}
	return &responseMetadata{NextCursor: next}
}

// ---- conversations.list ----

type wireTopic struct {
	Value   string `json:"value"`
	Creator string `json:"creator"`
	LastSet int64  `json:"last_set"`
}

type wireChannel struct {
	ID                      string    `json:"id"`
	Name                    string    `json:"name"`
	IsChannel               bool      `json:"is_channel"`
	IsGroup                 bool      `json:"is_group"`
	IsIM                    bool      `json:"is_im"`
	IsMpim                  bool      `json:"is_mpim"`
	IsPrivate               bool      `json:"is_private"`
	Created                 int64     `json:"created"`
	IsArchived              bool      `json:"is_archived"`
	IsGeneral               bool      `json:"is_general"`
	Unlinked                int       `json:"unlinked"`
	NameNormalized          string    `json:"name_normalized"`
	IsShared                bool      `json:"is_shared"`
	IsOrgShared             bool      `json:"is_org_shared"`
	IsPendingExtShared      bool      `json:"is_pending_ext_shared"`
	PendingShared           []string  `json:"pending_shared"`
	ContextTeamID           string    `json:"context_team_id"`
	Updated                 int64     `json:"updated"`
	Creator                 string    `json:"creator"`
	IsExtShared             bool      `json:"is_ext_shared"`
	SharedTeamIDs           []string  `json:"shared_team_ids"`
	PendingConnectedTeamIDs []string  `json:"pending_connected_team_ids"`
	IsMember                bool      `json:"is_member"`
	Topic                   wireTopic `json:"topic"`
	Purpose                 wireTopic `json:"purpose"`
	PreviousNames           []string  `json:"previous_names"`
	NumMembers              int       `json:"num_members"`
}

func (s *Server) wireChannel(c *Channel) wireChannel {
	created := c.Created.Unix()
	if c.Created.IsZero() {
		created = 1_500_000_000
	}
	// creator is a required user id: default to a member, then Slackbot.
	creator := c.Creator
	if creator == "" && len(c.Members) > 0 {
		creator = c.Members[0]
	}
	if creator == "" {
		creator = "USLACKBOT"
	}
	return wireChannel{
		ID: c.ID, Name: c.Name, NameNormalized: c.Name,
		IsChannel: !c.IsPrivate, IsGroup: c.IsPrivate, IsPrivate: c.IsPrivate,
		Created: created, Updated: created * 1000,
		IsArchived: c.Archived, IsGeneral: c.IsGeneral,
		PendingShared: []string{}, ContextTeamID: s.world.Team.ID,
		Creator:       creator,
		SharedTeamIDs: []string{s.world.Team.ID}, PendingConnectedTeamIDs: []string{},
		IsMember: slices.Contains(c.Members, s.world.BotUserID),
		Topic:    topic(c.Topic, creator, created), Purpose: topic(c.Purpose, creator, created),
		PreviousNames: []string{}, NumMembers: len(c.Members),
	}
}

func topic(value, creator string, at int64) wireTopic {
	if value == "" {
		return wireTopic{Creator: ""}
	}
	return wireTopic{Value: value, Creator: creator, LastSet: at}
}

func (s *Server) conversationsList(r *http.Request) (int, any) {
	public, private := true, false
	if t := r.Form.Get("types"); t != "" {
		public, private = false, false
		for _, ty := range strings.Split(t, ",") {
			switch strings.TrimSpace(ty) {
			case "public_channel":
				public = true
			case "private_channel":
				private = true
			}
		}
	}
	excludeArchived, _ := strconv.ParseBool(r.Form.Get("exclude_archived"))

	var list []*Channel
	for i := range s.world.Channels {
		c := &s.world.Channels[i]
		if (c.IsPrivate && !private) || (!c.IsPrivate && !public) {
			continue
		}
		// Private channels are only visible to their members.
		if c.IsPrivate && !slices.Contains(c.Members, s.world.BotUserID) {
			continue
		}
		if excludeArchived && c.Archived {
			continue
		}
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b *Channel) int { return strings.Compare(a.ID, b.ID) })

	start, end, next, ok := cursorPage(r, "channel", list, 0, s.pageSize(r, MethodConversationsList), nil,
		func(c *Channel, key string) bool { return idReached(c.ID, key) },
		func(c *Channel) string { return c.ID })
	if !ok {
		return http.StatusOK, errorBody("invalid_cursor")
	}
	channels := make([]wireChannel, 0, end-start)
	for _, c := range list[start:end] {
		channels = append(channels, s.wireChannel(c))
	}
	return http.StatusOK, struct {
		OK       bool              `json:"ok"`
		Channels []wireChannel     `json:"channels"`
		Meta     *responseMetadata `json:"response_metadata,omitempty"`
	}{true, channels, s.meta(next)}
}

// ---- messages ----

type wireReaction struct {
	Name  string   `json:"name"`
	Users []string `json:"users"`
	Count int      `json:"count"`
}

type wireAttachment struct {
	ID          int    `json:"id"`
	Fallback    string `json:"fallback,omitempty"`
	Title       string `json:"title,omitempty"`
	TitleLink   string `json:"title_link,omitempty"`
	Text        string `json:"text,omitempty"`
	ServiceName string `json:"service_name,omitempty"`
}

type wireEdited struct {
	User string `json:"user"`
	TS   string `json:"ts"`
}

type wireBotIcons struct {
	Image36 string `json:"image_36"`
	Image48 string `json:"image_48"`
	Image72 string `json:"image_72"`
}

type wireBotProfile struct {
	ID      string       `json:"id"`
	Deleted bool         `json:"deleted"`
	Name    string       `json:"name"`
	Updated int64        `json:"updated"`
	AppID   string       `json:"app_id"`
	Icons   wireBotIcons `json:"icons"`
	TeamID  string       `json:"team_id"`
}

type wireMessage struct {
	Type            string           `json:"type"`
	Subtype         string           `json:"subtype,omitempty"`
	User            string           `json:"user,omitempty"`
	BotID           string           `json:"bot_id,omitempty"`
	BotProfile      *wireBotProfile  `json:"bot_profile,omitempty"`
	Username        string           `json:"username,omitempty"`
	Text            string           `json:"text"`
	TS              string           `json:"ts"`
	ClientMsgID     string           `json:"client_msg_id,omitempty"`
	Team            string           `json:"team,omitempty"`
	Inviter         string           `json:"inviter,omitempty"`
	ThreadTS        string           `json:"thread_ts,omitempty"`
	ReplyCount      int              `json:"reply_count,omitempty"`
	ReplyUsersCount int              `json:"reply_users_count,omitempty"`
	LatestReply     string           `json:"latest_reply,omitempty"`
	ReplyUsers      []string         `json:"reply_users,omitempty"`
	IsLocked        *bool            `json:"is_locked,omitempty"`
	Subscribed      *bool            `json:"subscribed,omitempty"`
	ParentUserID    string           `json:"parent_user_id,omitempty"`
	Reactions       []wireReaction   `json:"reactions,omitempty"`
	Attachments     []wireAttachment `json:"attachments,omitempty"`
	Edited          *wireEdited      `json:"edited,omitempty"`
}

var falseValue = false

// isReply reports whether m is a thread reply (not a parent).
func isReply(m *Message) bool { return m.ThreadTS != "" && m.ThreadTS != m.TS }

// replies returns the replies to parent ts, oldest first.
func replies(c *Channel, ts string) []*Message {
	var out []*Message
	for i := range c.Messages {
		m := &c.Messages[i]
		if isReply(m) && m.ThreadTS == ts {
			out = append(out, m)
		}
	}
	sortAscending(out)
	return out
}

func sortAscending(ms []*Message) {
	slices.SortFunc(ms, func(a, b *Message) int {
		ka, _ := parseTS(a.TS)
		kb, _ := parseTS(b.TS)
		switch {
		case ka.less(kb):
			return -1
		case kb.less(ka):
			return 1
		}
		return 0
	})
}

// wireMessage renders m. inReplies drops the fields the recorded
// conversations.replies samples never carry (client_msg_id, inviter). The
// subtype and username stay: replies come as they are, a reply also sent
// to the channel as thread_broadcast, a classic bot reply as bot_message
// without a user, a deleted parent as a tombstone by USLACKBOT
// (api-quirks §2.1.6-7), never smoothed into plain messages.
func (s *Server) wireMessage(c *Channel, m *Message, inReplies bool) wireMessage {
	w := wireMessage{
		Type: "message", Subtype: m.Subtype, User: m.User, BotID: m.BotID, Username: m.Username,
		Text: m.Text, TS: m.TS, Inviter: m.Inviter,
	}
	if m.User != "" && m.BotID == "" && m.Subtype == "" {
		w.ClientMsgID = clientMsgID(c.ID, m.TS)
	}
	if m.User != "" {
		w.Team = s.world.Team.ID
	}
	if m.BotID != "" {
		w.BotProfile = s.botProfile(m)
	}
	for _, r := range m.Reactions {
		w.Reactions = append(w.Reactions, wireReaction{Name: r.Name, Users: append([]string{}, r.Users...), Count: len(r.Users)})
	}
	for i, a := range m.Attachments {
		id := a.ID
		if id == 0 {
			id = i + 1
		}
		w.Attachments = append(w.Attachments, wireAttachment{
			ID: id, Fallback: a.Fallback, Title: a.Title, TitleLink: a.TitleLink, Text: a.Text, ServiceName: a.ServiceName,
		})
	}
	if m.EditedTS != "" {
		w.Edited = &wireEdited{User: m.EditedBy, TS: m.EditedTS}
	}
	if isReply(m) {
		w.ThreadTS = m.ThreadTS
		if p := findMessage(c, m.ThreadTS); p != nil {
			w.ParentUserID = p.User
		}
	} else if rs := replies(c, m.TS); len(rs) > 0 {
		w.ThreadTS = m.TS
		w.ReplyCount = len(rs)
		seen := map[string]bool{}
		for _, r := range rs {
			if r.User != "" && !seen[r.User] {
				seen[r.User] = true
				w.ReplyUsers = append(w.ReplyUsers, r.User)
			}
		}
		w.ReplyUsersCount = len(w.ReplyUsers)
		w.LatestReply = rs[len(rs)-1].TS
		w.IsLocked = &falseValue
		w.Subscribed = &falseValue
	}
	if inReplies {
		w.ClientMsgID, w.Inviter = "", ""
	}
	return w
}

func (s *Server) botProfile(m *Message) *wireBotProfile {
	name, app := "bot", "A0FAKEAPP1"
	for _, u := range s.world.Users {
		if u.BotID == m.BotID {
			name = u.Name
			if u.AppID != "" {
				app = u.AppID
			}
		}
	}
	icon := "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png"
	return &wireBotProfile{
		ID: m.BotID, Name: name, Updated: 1_600_000_000, AppID: app, TeamID: s.world.Team.ID,
		Icons: wireBotIcons{Image36: icon, Image48: icon, Image72: icon},
	}
}

// clientMsgID makes a stable UUID-shaped id from the channel and ts.
func clientMsgID(channel, ts string) string {
	h := uint64(14695981039346656037)
	for _, b := range []byte(channel + ts) {
		h ^= uint64(b)
		h *= 1099511628211
	}
	x := strconv.FormatUint(h, 16)
	x = strings.Repeat("0", 16-len(x)) + x
	x += x
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// timeRange holds the oldest/latest/inclusive filter of history and replies.
type timeRange struct {
	oldest, latest       tsKey
	hasOldest, hasLatest bool
	inclusive            bool
}

func parseRange(r *http.Request) (timeRange, string) {
	var tr timeRange
	if v := r.Form.Get("oldest"); v != "" {
		k, ok := parseTS(v)
		if !ok {
			return tr, "invalid_ts_oldest"
		}
		tr.oldest, tr.hasOldest = k, true
	}
	if v := r.Form.Get("latest"); v != "" {
		k, ok := parseTS(v)
		if !ok {
			return tr, "invalid_ts_latest"
		}
		tr.latest, tr.hasLatest = k, true
	}
	tr.inclusive = r.Form.Get("inclusive") == "1" || r.Form.Get("inclusive") == "true"
	return tr, ""
}

func (tr timeRange) contains(k tsKey) bool {
	if tr.hasOldest && (k.less(tr.oldest) || (!tr.inclusive && k == tr.oldest)) {
		return false
	}
	if tr.hasLatest && (tr.latest.less(k) || (!tr.inclusive && k == tr.latest)) {
		return false
	}
	return true
}

// readableChannel returns the channel the call names, or the ok:false code
// Slack answers: a forced error, channel_not_found, or (for history and
// replies) not_in_channel when the bot is not a member.
func (s *Server) readableChannel(r *http.Request, needMember bool) (*Channel, string) {
	id := r.Form.Get("channel")
	if code, ok := s.channelErrors[id]; ok {
		return nil, code
	}
	c := s.channel(id)
	if c == nil {
		return nil, "channel_not_found"
	}
	if needMember && !slices.Contains(c.Members, s.world.BotUserID) {
		if c.IsPrivate {
			return nil, "channel_not_found"
		}
		return nil, "not_in_channel"
	}
	return c, ""
}

// ---- conversations.history ----

func (s *Server) conversationsHistory(r *http.Request) (int, any) {
	c, code := s.readableChannel(r, true)
	if code != "" {
		return http.StatusOK, errorBody(code)
	}
	tr, code := parseRange(r)
	if code != "" {
		return http.StatusOK, errorBody(code)
	}
	// Top-level messages, and replies also sent to the channel.
	var list []*Message
	for i := range c.Messages {
		m := &c.Messages[i]
		if isReply(m) && m.Subtype != "thread_broadcast" {
			continue
		}
		if k, ok := parseTS(m.TS); ok && tr.contains(k) {
			list = append(list, m)
		}
	}
	sortAscending(list)
	slices.Reverse(list) // newest first

	// Newest first: the page starts at the first message at or before the
	// cursor's ts.
	start, end, next, ok := cursorPage(r, "next_ts", list, 0, s.pageSize(r, MethodConversationsHistory), validTS,
		func(m *Message, key string) bool {
			k, _ := parseTS(key)
			mk, _ := parseTS(m.TS)
			return !k.less(mk)
		},
		func(m *Message) string { return m.TS })
	if !ok {
		return http.StatusOK, errorBody("invalid_cursor")
	}
	msgs := make([]wireMessage, 0, end-start)
	for _, m := range list[start:end] {
		msgs = append(msgs, s.wireMessage(c, m, false))
	}
	return http.StatusOK, struct {
		OK                  bool              `json:"ok"`
		Messages            []wireMessage     `json:"messages"`
		HasMore             bool              `json:"has_more"`
		PinCount            int               `json:"pin_count"`
		ChannelActionsTS    int64             `json:"channel_actions_ts"`
		ChannelActionsCount int               `json:"channel_actions_count"`
		Meta                *responseMetadata `json:"response_metadata,omitempty"`
	}{true, msgs, next != "", 0, 0, 0, s.meta(next)}
}

// ---- conversations.replies ----

// conversationsReplies answers the thread of `ts`: the parent first, then
// the replies oldest first. oldest/latest filter the replies; the parent is
// always the first item of the first page (the service must not rely on
// either way: it skips the parent by its ts).
func (s *Server) conversationsReplies(r *http.Request) (int, any) {
	c, code := s.readableChannel(r, true)
	if code != "" {
		return http.StatusOK, errorBody(code)
	}
	tr, code := parseRange(r)
	if code != "" {
		return http.StatusOK, errorBody(code)
	}
	parent := findMessage(c, r.Form.Get("ts"))
	if parent == nil || isReply(parent) {
		// A reply's ts gives the thread in the real API; the fake keeps
		// to parents, which is all a crawler asks for.
		return http.StatusOK, errorBody("thread_not_found")
	}
	list := []*Message{parent}
	for _, m := range replies(c, parent.TS) {
		if k, ok := parseTS(m.TS); ok && tr.contains(k) {
			list = append(list, m)
		}
	}

	// The parent comes first on page one only; later pages start at the
	// first reply at or after the cursor's ts.
	start, end, next, ok := cursorPage(r, "next_ts", list, 1, s.pageSize(r, MethodConversationsReplies), validTS,
		func(m *Message, key string) bool {
			k, _ := parseTS(key)
			mk, _ := parseTS(m.TS)
			return !mk.less(k)
		},
		func(m *Message) string { return m.TS })
	if !ok {
		return http.StatusOK, errorBody("invalid_cursor")
	}
	msgs := make([]wireMessage, 0, end-start)
	for _, m := range list[start:end] {
		msgs = append(msgs, s.wireMessage(c, m, true))
	}
	return http.StatusOK, struct {
		OK       bool              `json:"ok"`
		Messages []wireMessage     `json:"messages"`
		HasMore  bool              `json:"has_more"`
		Meta     *responseMetadata `json:"response_metadata,omitempty"`
	}{true, msgs, next != "", s.meta(next)}
}

// ---- conversations.members ----

func (s *Server) conversationsMembers(r *http.Request) (int, any) {
	c, code := s.readableChannel(r, false)
	if code != "" {
		return http.StatusOK, errorBody(code)
	}
	ids := append([]string(nil), c.Members...)
	slices.Sort(ids)
	start, end, next, ok := cursorPage(r, "user", ids, 0, s.pageSize(r, MethodConversationsMembers), nil,
		idReached, func(id string) string { return id })
	if !ok {
		return http.StatusOK, errorBody("invalid_cursor")
	}
	return http.StatusOK, struct {
		OK      bool              `json:"ok"`
		Members []string          `json:"members"`
		Meta    *responseMetadata `json:"response_metadata,omitempty"`
	}{true, append([]string{}, ids[start:end]...), s.meta(next)}
}

// ---- users ----

type wireProfile struct {
	Title                 string          `json:"title"`
	Phone                 string          `json:"phone"`
	Skype                 string          `json:"skype"`
	RealName              string          `json:"real_name"`
	RealNameNormalized    string          `json:"real_name_normalized"`
	DisplayName           string          `json:"display_name"`
	DisplayNameNormalized string          `json:"display_name_normalized"`
	Fields                *map[string]any `json:"fields,omitempty"`
	StatusText            string          `json:"status_text"`
	StatusEmoji           string          `json:"status_emoji"`
	StatusExpiration      int             `json:"status_expiration"`
	AvatarHash            string          `json:"avatar_hash"`
	BotID                 string          `json:"bot_id,omitempty"`
	APIAppID              string          `json:"api_app_id,omitempty"`
	AlwaysActive          *bool           `json:"always_active,omitempty"`
	Email                 string          `json:"email,omitempty"`
	FirstName             string          `json:"first_name,omitempty"`
	LastName              string          `json:"last_name,omitempty"`
	Image24               string          `json:"image_24"`
	Image32               string          `json:"image_32"`
	Image48               string          `json:"image_48"`
	Image72               string          `json:"image_72"`
	Image192              string          `json:"image_192"`
	Image512              string          `json:"image_512"`
	Team                  string          `json:"team"`
}

type wireUser struct {
	ID                string      `json:"id"`
	TeamID            string      `json:"team_id"`
	Name              string      `json:"name"`
	Deleted           bool        `json:"deleted"`
	Color             string      `json:"color,omitempty"`
	RealName          string      `json:"real_name,omitempty"`
	TZ                string      `json:"tz,omitempty"`
	TZLabel           string      `json:"tz_label,omitempty"`
	TZOffset          *int        `json:"tz_offset,omitempty"`
	Profile           wireProfile `json:"profile"`
	IsAdmin           bool        `json:"is_admin"`
	IsOwner           bool        `json:"is_owner"`
	IsPrimaryOwner    bool        `json:"is_primary_owner"`
	IsRestricted      bool        `json:"is_restricted"`
	IsUltraRestricted bool        `json:"is_ultra_restricted"`
	IsBot             bool        `json:"is_bot"`
	IsAppUser         bool        `json:"is_app_user"`
	Updated           int64       `json:"updated"`
	IsEmailConfirmed  bool        `json:"is_email_confirmed"`
}

// wireUser renders u. withFields adds profile.fields, which the recorded
// users.list samples carry and the users.info samples do not.
func (s *Server) wireUser(u *User, withFields bool) wireUser {
	img := u.Image72
	if img == "" {
		img = "https://avatars.slack-edge.com/fake/" + u.ID + "_72.png"
	}
	size := func(n string) string { return strings.Replace(img, "_72.", "_"+n+".", 1) }
	first, last, _ := strings.Cut(u.RealName, " ")
	p := wireProfile{
		Title: u.Title, RealName: u.RealName, RealNameNormalized: u.RealName,
		DisplayName: u.DisplayName, DisplayNameNormalized: u.DisplayName,
		AvatarHash: "g" + strings.ToLower(u.ID[len(u.ID)-min(len(u.ID), 11):]),
		Email:      u.Email, FirstName: first, LastName: last,
		Image24: size("24"), Image32: size("32"), Image48: size("48"), Image72: img,
		Image192: size("192"), Image512: size("512"), Team: s.world.Team.ID,
	}
	if withFields {
		p.Fields = &map[string]any{}
	}
	w := wireUser{
		ID: u.ID, TeamID: s.world.Team.ID, Name: u.Name, Deleted: u.Deleted, RealName: u.RealName,
		Profile: p, IsAdmin: u.IsAdmin, IsBot: u.IsBot, Updated: 1_600_000_000,
		IsEmailConfirmed: u.Email != "",
	}
	if u.IsBot {
		w.Profile.BotID, w.Profile.APIAppID = u.BotID, u.AppID
		t := true
		w.Profile.AlwaysActive = &t
		w.Profile.Email, w.Profile.FirstName, w.Profile.LastName = "", "", ""
	}
	if !u.Deleted {
		// Deactivated users come back without their colour and time zone.
		w.Color = "9f69e7"
		tz, label := u.TZ, u.TZLabel
		if tz == "" {
			tz, label = "America/Los_Angeles", "Pacific Standard Time"
		}
		off := u.TZOffset
		if u.TZ == "" {
			off = -28800
		}
		w.TZ, w.TZLabel, w.TZOffset = tz, label, &off
	}
	return w
}

func (s *Server) usersList(r *http.Request) (int, any) {
	users := make([]*User, 0, len(s.world.Users))
	for i := range s.world.Users {
		users = append(users, &s.world.Users[i])
	}
	slices.SortFunc(users, func(a, b *User) int { return strings.Compare(a.ID, b.ID) })
	start, end, next, ok := cursorPage(r, "user", users, 0, s.pageSize(r, MethodUsersList), nil,
		func(u *User, key string) bool { return idReached(u.ID, key) },
		func(u *User) string { return u.ID })
	if !ok {
		return http.StatusOK, errorBody("invalid_cursor")
	}
	members := make([]wireUser, 0, end-start)
	for _, u := range users[start:end] {
		members = append(members, s.wireUser(u, true))
	}
	return http.StatusOK, struct {
		OK      bool              `json:"ok"`
		Members []wireUser        `json:"members"`
		CacheTS int64             `json:"cache_ts"`
		Meta    *responseMetadata `json:"response_metadata,omitempty"`
	}{true, members, s.now().Unix(), s.meta(next)}
}

func (s *Server) usersInfo(r *http.Request) (int, any) {
	u := s.user(r.Form.Get("user"))
	if u == nil {
		return http.StatusOK, errorBody("user_not_found")
	}
	return http.StatusOK, struct {
		OK   bool     `json:"ok"`
		User wireUser `json:"user"`
	}{true, s.wireUser(u, false)}
}

// ---- team.info ----

func (s *Server) teamInfo(r *http.Request) (int, any) {
	t := s.world.Team
	if id := r.Form.Get("team"); id != "" && id != t.ID {
		return http.StatusOK, errorBody("team_not_found")
	}
	url := t.URL
	if url == "" {
		url = "https://" + t.Domain + ".slack.com/"
	}
	icon := func(n string) string {
		return "https://a.slack-edge.com/80588/img/avatars-teams/ava_0001-" + n + ".png"
	}
	type wireIcon struct {
		Image34      string `json:"image_34"`
		Image44      string `json:"image_44"`
		Image68      string `json:"image_68"`
		Image88      string `json:"image_88"`
		Image102     string `json:"image_102"`
		Image132     string `json:"image_132"`
		Image230     string `json:"image_230"`
		ImageDefault bool   `json:"image_default"`
	}
	type wireTeam struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		URL         string   `json:"url"`
		Domain      string   `json:"domain"`
		EmailDomain string   `json:"email_domain"`
		Icon        wireIcon `json:"icon"`
		IsVerified  bool     `json:"is_verified"`
	}
	return http.StatusOK, struct {
		OK   bool     `json:"ok"`
		Team wireTeam `json:"team"`
	}{true, wireTeam{
		ID: t.ID, Name: t.Name, URL: url, Domain: t.Domain, EmailDomain: t.EmailDomain,
		Icon: wireIcon{icon("34"), icon("44"), icon("68"), icon("88"), icon("102"), icon("132"), icon("230"), true},
	}}
}
