package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Server is a fake Slack Web API: an http.Handler to serve with httptest
// (point slack-go at srv.URL+"/" with OptionAPIURL). It is safe for
// concurrent use; tests may change the world and the switches between
// calls.
type Server struct {
	mu    sync.Mutex
	world World
	now   func() time.Time

	calls map[string]int
	total int

	// switches (see the setters)
	accountInactive bool
	maxLimit        int
	nonMarketplace  bool
	omitEmptyCursor bool
	methodErrors    map[string]string
	channelErrors   map[string]string
	failNext        int

	rateAfter      int           // 0: off
	rateRetryAfter time.Duration // Retry-After of that limiter
	rateCount      int           // calls since the limiter last reset
	rateUntil      time.Time     // 429 until then

	budgets map[string]*budget
}

type budget struct {
	perWindow int
	window    time.Duration
	start     time.Time
	used      int
}

// Methods the fake serves.
const (
	MethodConversationsList    = "conversations.list"
	MethodConversationsHistory = "conversations.history"
	MethodConversationsReplies = "conversations.replies"
	MethodConversationsMembers = "conversations.members"
	MethodUsersList            = "users.list"
	MethodUsersInfo            = "users.info"
	MethodTeamInfo             = "team.info"
)

// New returns a fake serving a copy of w.
func New(w World) *Server {
	return &Server{
		world:         w.clone(),
		now:           time.Now,
		calls:         map[string]int{},
		methodErrors:  map[string]string{},
		channelErrors: map[string]string{},
		budgets:       map[string]*budget{},
	}
}

// ---- switches ----

// SetClock replaces the clock used for rate-limit windows and for the
// timestamps of PostMessage. nil restores time.Now.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	s.now = now
}

// SetAccountInactive makes every call answer
// {"ok":false,"error":"account_inactive"} (HTTP 200), as Slack does once the
// installing user or the workspace is deactivated.
func (s *Server) SetAccountInactive(on bool) {
	s.mu.Lock()
	s.accountInactive = on
	s.mu.Unlock()
}

// SetToken changes the token the fake accepts (the old one then gets
// invalid_auth, like a revoked token).
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	s.world.BotToken = token
	s.mu.Unlock()
}

// SetMaxLimit caps every page at n items whatever `limit` asks for, the
// way Slack "may return fewer than requested" and still give a cursor.
// 0 restores the defaults (100 when no limit is given, at most 1000).
func (s *Server) SetMaxLimit(n int) {
	s.mu.Lock()
	s.maxLimit = n
	s.mu.Unlock()
}

// SetNonMarketplace reproduces the limits Slack has applied since 2025 to
// commercially distributed apps outside the Marketplace: conversations.history
// and conversations.replies return at most 15 items a page and answer 429
// (Retry-After: the rest of the minute) after one call a minute each.
func (s *Server) SetNonMarketplace(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nonMarketplace = on
	for _, m := range []string{MethodConversationsHistory, MethodConversationsReplies} {
		if on {
			s.budgets[m] = &budget{perWindow: 1, window: time.Minute}
		} else {
			delete(s.budgets, m)
		}
	}
}

// SetMethodBudget allows perWindow calls of method per window (a fixed
// window starting at the first call); the calls beyond it get HTTP 429
// with Retry-After set to the rest of the window, in whole seconds.
// perWindow <= 0 removes the budget.
func (s *Server) SetMethodBudget(method string, perWindow int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if perWindow <= 0 {
		delete(s.budgets, method)
		return
	}
	s.budgets[method] = &budget{perWindow: perWindow, window: window}
}

// RateLimitAfter lets n calls through (of any method), then answers every
// call with HTTP 429 and `Retry-After` (retryAfter rounded up to whole
// seconds, at least 1) until retryAfter has passed on the fake's clock;
// then n more calls go through, and so on. n <= 0 turns it off.
func (s *Server) RateLimitAfter(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateAfter = n
	s.rateRetryAfter = retryAfter
	s.rateCount = 0
	s.rateUntil = time.Time{}
}

// FailNext makes the next n calls answer HTTP 500 with an HTML body, as
// Slack's edge does on internal errors.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// SetMethodError makes every call of method answer {"ok":false,"error":code}
// with HTTP 200, e.g. ("users.list", "missing_scope"). "" clears it.
func (s *Server) SetMethodError(method, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(s.methodErrors, method)
		return
	}
	s.methodErrors[method] = code
}

// SetChannelError makes the calls about one channel (history, replies,
// members) answer {"ok":false,"error":code} with HTTP 200, e.g.
// "channel_not_found" for a channel deleted after it was listed. "" clears
// it. Without it, the fake already answers not_in_channel for history and
// replies of a channel the bot is not in, and channel_not_found for an
// unknown channel.
func (s *Server) SetChannelError(channelID, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(s.channelErrors, channelID)
		return
	}
	s.channelErrors[channelID] = code
}

// SetOmitEmptyCursor makes last pages leave response_metadata out instead
// of sending next_cursor "" (the real API sends ""; some methods and older
// responses have no response_metadata at all). Clients must take both as
// the end of the list. The contract test keeps it off: the spec requires
// response_metadata on conversations.members.
func (s *Server) SetOmitEmptyCursor(on bool) {
	s.mu.Lock()
	s.omitEmptyCursor = on
	s.mu.Unlock()
}

// Calls returns how many calls of method the fake received (all of them:
// answered, refused and failed).
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// TotalCalls returns how many calls the fake received.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetCalls sets the call counters to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	s.calls = map[string]int{}
	s.total = 0
	s.mu.Unlock()
}

// ---- the world, between runs ----

// World returns a copy of the current world.
func (s *Server) World() World {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.world.clone()
}

// ErrNotFound is returned by the mutators for an unknown channel or message.
var ErrNotFound = errors.New("slackfake: not found")

func (s *Server) channel(id string) *Channel {
	for i := range s.world.Channels {
		if s.world.Channels[i].ID == id {
			return &s.world.Channels[i]
		}
	}
	return nil
}

func (s *Server) user(id string) *User {
	for i := range s.world.Users {
		if s.world.Users[i].ID == id {
			return &s.world.Users[i]
		}
	}
	return nil
}

// AddMessage adds m to a channel as it is. A reply needs ThreadTS set to
// an existing message's TS.
func (s *Server) AddMessage(channelID string, m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channel(channelID)
	if c == nil {
		return fmt.Errorf("%w: channel %s", ErrNotFound, channelID)
	}
	if _, ok := parseTS(m.TS); !ok {
		return fmt.Errorf("slackfake: bad ts %q", m.TS)
	}
	if m.ThreadTS != "" && m.ThreadTS != m.TS && findMessage(c, m.ThreadTS) == nil {
		return fmt.Errorf("%w: thread %s in %s", ErrNotFound, m.ThreadTS, channelID)
	}
	if findMessage(c, m.TS) != nil {
		return fmt.Errorf("slackfake: ts %s already used in %s", m.TS, channelID)
	}
	c.Messages = append(c.Messages, m.clone())
	return nil
}

// PostMessage adds a plain message by user at time at (the fake's clock
// when zero) and returns its ts, made unique within the channel.
func (s *Server) PostMessage(channelID, user, text string, at time.Time) (string, error) {
	return s.post(channelID, Message{User: user, Text: text}, at)
}

// Reply adds a thread reply to parentTS and returns its ts.
func (s *Server) Reply(channelID, parentTS, user, text string, at time.Time) (string, error) {
	return s.post(channelID, Message{User: user, Text: text, ThreadTS: parentTS}, at)
}

// Join adds user to the channel's members and posts the channel_join
// message Slack posts, returning its ts.
func (s *Server) Join(channelID, user string, at time.Time) (string, error) {
	ts, err := s.post(channelID, Message{User: user, Subtype: "channel_join", Text: "<@" + user + "> has joined the channel"}, at)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channel(channelID)
	if !slices.Contains(c.Members, user) {
		c.Members = append(c.Members, user)
	}
	return ts, nil
}

// DeleteMessage deletes a message as Slack does: a thread parent that has
// replies stays, as a tombstone (subtype "tombstone", by USLACKBOT, "This
// message was deleted."), so that its thread can still be read; any other
// message goes.
func (s *Server) DeleteMessage(channelID, ts string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channel(channelID)
	if c == nil {
		return fmt.Errorf("%w: channel %s", ErrNotFound, channelID)
	}
	m := findMessage(c, ts)
	if m == nil {
		return fmt.Errorf("%w: message %s in %s", ErrNotFound, ts, channelID)
	}
	if !isReply(m) && len(replies(c, ts)) > 0 {
		*m = Message{TS: m.TS, User: slackbotID, Subtype: SubtypeTombstone, Text: "This message was deleted."}
		return nil
	}
	i := slices.IndexFunc(c.Messages, func(x Message) bool { return x.TS == ts })
	c.Messages = slices.Delete(c.Messages, i, i+1)
	return nil
}

// SetBotMember adds the bot to a channel or removes it.
func (s *Server) SetBotMember(channelID string, member bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channel(channelID)
	if c == nil {
		return fmt.Errorf("%w: channel %s", ErrNotFound, channelID)
	}
	i := slices.Index(c.Members, s.world.BotUserID)
	switch {
	case member && i < 0:
		c.Members = append(c.Members, s.world.BotUserID)
	case !member && i >= 0:
		c.Members = slices.Delete(c.Members, i, i+1)
	}
	return nil
}

// AddChannel adds a channel.
func (s *Server) AddChannel(c Channel) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.channel(c.ID) != nil {
		return fmt.Errorf("slackfake: channel %s exists", c.ID)
	}
	s.world.Channels = append(s.world.Channels, c.clone())
	return nil
}

// AddUser adds a user, or replaces the one with the same ID.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.user(u.ID); p != nil {
		*p = u
		return
	}
	s.world.Users = append(s.world.Users, u)
}

func (s *Server) post(channelID string, m Message, at time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channel(channelID)
	if c == nil {
		return "", fmt.Errorf("%w: channel %s", ErrNotFound, channelID)
	}
	if m.ThreadTS != "" && findMessage(c, m.ThreadTS) == nil {
		return "", fmt.Errorf("%w: thread %s in %s", ErrNotFound, m.ThreadTS, channelID)
	}
	if at.IsZero() {
		at = s.now()
	}
	k := tsKey{sec: at.Unix(), micro: int64(at.Nanosecond() / 1000)}
	for findMessage(c, k.String()) != nil {
		k.micro++
		if k.micro == 1_000_000 {
			k.sec, k.micro = k.sec+1, 0
		}
	}
	m.TS = k.String()
	c.Messages = append(c.Messages, m)
	return m.TS, nil
}

func findMessage(c *Channel, ts string) *Message {
	for i := range c.Messages {
		if c.Messages[i].TS == ts {
			return &c.Messages[i]
		}
	}
	return nil
}

// ---- HTTP ----

// ServeHTTP answers one Web API call. The method is the last element of
// the path, so the fake may be mounted under a prefix (/api/).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	// slack-go POSTs form bodies; other clients use GET with a query.
	// ParseForm reads both.
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusOK, errorBody("invalid_form_data"))
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	s.total++

	if s.failNext > 0 {
		s.failNext--
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprint(w, "<html><body><h1>500 Internal Server Error</h1></body></html>")
		return
	}
	if wait, limited := s.rateLimited(method); limited {
		secs := max(1, int(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		writeJSON(w, http.StatusTooManyRequests, errorBody("ratelimited"))
		return
	}

	token := r.Form.Get("token")
	if token == "" {
		if scheme, v, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			token = v
		}
	}
	switch {
	case token == "":
		writeJSON(w, http.StatusOK, errorBody("not_authed"))
		return
	case token != s.world.BotToken:
		writeJSON(w, http.StatusOK, errorBody("invalid_auth"))
		return
	case s.accountInactive:
		writeJSON(w, http.StatusOK, errorBody("account_inactive"))
		return
	}
	if code, ok := s.methodErrors[method]; ok {
		body := errorBody(code)
		if code == "missing_scope" {
			body["needed"] = neededScope[method]
			body["provided"] = "channels:read,users:read"
		}
		writeJSON(w, http.StatusOK, body)
		return
	}

	h, ok := handlers[method]
	if !ok {
		writeJSON(w, http.StatusOK, errorBody("unknown_method"))
		return
	}
	status, body := h(s, r)
	writeJSON(w, status, body)
}

var neededScope = map[string]string{
	MethodConversationsList:    "channels:read",
	MethodConversationsHistory: "channels:history",
	MethodConversationsReplies: "channels:history",
	MethodConversationsMembers: "channels:read",
	MethodUsersList:            "users:read",
	MethodUsersInfo:            "users:read",
	MethodTeamInfo:             "team:read",
}

// rateLimited reports whether this call is refused, and for how long.
// It runs with s.mu held.
func (s *Server) rateLimited(method string) (time.Duration, bool) {
	now := s.now()
	if s.rateAfter > 0 {
		if !s.rateUntil.IsZero() {
			if now.Before(s.rateUntil) {
				return s.rateUntil.Sub(now), true
			}
			s.rateUntil, s.rateCount = time.Time{}, 0
		}
		if s.rateCount >= s.rateAfter {
			s.rateUntil = now.Add(s.rateRetryAfter)
			return s.rateRetryAfter, true
		}
		s.rateCount++
	}
	if b, ok := s.budgets[method]; ok {
		if b.start.IsZero() || !now.Before(b.start.Add(b.window)) {
			b.start, b.used = now, 0
		}
		if b.used >= b.perWindow {
			return b.start.Add(b.window).Sub(now), true
		}
		b.used++
	}
	return 0, false
}

func errorBody(code string) map[string]any {
	return map[string]any{"ok": false, "error": code}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"ok":false,"error":"fatal_error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
