package discordfake

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Switches turn the quirks of the real API on and off. The zero value is a
// well-behaved API with both privileged intents and roomy rate limits.
type Switches struct {
	// Token is the bot token the fake accepts (without "Bot "). Empty
	// accepts any non-empty bot token.
	Token string
	// NoGuildMembersIntent: the bot lacks the GUILD_MEMBERS privileged
	// intent, so /guilds/{id}/members answers 403 Missing Access.
	NoGuildMembersIntent bool
	// NoMessageContentIntent: the bot lacks the MESSAGE_CONTENT
	// privileged intent, so content and attachments come back empty.
	NoMessageContentIntent bool
	// BucketLimit is the number of calls a rate-limit bucket (one route
	// and its guild or channel) allows per BucketWindow; the call past
	// it gets a 429. Default 50.
	BucketLimit int
	// BucketWindow is how long a bucket's window lasts, counted from its
	// first call. Default 1 s.
	BucketWindow time.Duration
	// Now is the fake's clock (buckets, X-RateLimit-Reset). Default
	// time.Now.
	Now func() time.Time
}

// Call is one request the fake answered.
type Call struct {
	Method string
	// Path is the request path, /api/v9 or /api/v10 prefix included.
	Path   string
	Query  url.Values
	Status int
}

// Fake is the fake Discord API. Its methods are safe for concurrent use.
type Fake struct {
	mu        sync.Mutex
	guild     Guild
	botUserID string
	users     map[string]*User
	members   []*Member // ascending by user id
	channels  map[string]*Channel
	chanOrder []string
	msgs      map[string][]*Message // per channel, ascending by id
	byID      map[string]*Message
	seq       int

	sw       Switches
	buckets  map[string]*bucket
	rlAfter  int // -1: no forced 429 pending
	rlRetry  time.Duration
	rlGlobal bool
	failNext int
	calls    []Call
}

type bucket struct {
	count int
	reset time.Time
}

// New returns a fake serving a copy of w.
func New(w World, sw Switches) *Fake {
	f := &Fake{
		guild:     w.Guild,
		botUserID: w.BotUserID,
		users:     map[string]*User{},
		channels:  map[string]*Channel{},
		msgs:      map[string][]*Message{},
		byID:      map[string]*Message{},
		sw:        sw,
		buckets:   map[string]*bucket{},
		rlAfter:   -1,
	}
	for _, u := range w.Users {
		f.addUser(u)
	}
	for _, c := range w.Channels {
		f.addChannel(c)
	}
	for _, m := range w.Members {
		f.addMember(m)
	}
	for _, m := range w.Messages {
		f.addMessage(m)
	}
	return f
}

// Update changes the switches under the fake's lock.
func (f *Fake) Update(fn func(*Switches)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.sw)
}

// RateLimitAfter makes the call after the next n answered calls a 429 with
// this retry_after (seconds with decimals in the body), once.
func (f *Fake) RateLimitAfter(n int, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rlAfter, f.rlRetry, f.rlGlobal = n, retryAfter, false
}

// GlobalRateLimitAfter is RateLimitAfter with the global limit's 429
// (X-RateLimit-Global: true, "global": true).
func (f *Fake) GlobalRateLimitAfter(n int, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rlAfter, f.rlRetry, f.rlGlobal = n, retryAfter, true
}

// FailNext makes the next n calls answer 500.
func (f *Fake) FailNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = n
}

// Calls returns the calls answered so far.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// ResetCalls forgets the calls answered so far, and empties the rate-limit
// buckets.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
	f.buckets = map[string]*bucket{}
}

// AddUser adds or replaces a user.
func (f *Fake) AddUser(u User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addUser(u)
}

// AddMember adds a user and their membership of the guild.
func (f *Fake) AddMember(u User, m Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addUser(u)
	m.UserID = u.ID
	f.addMember(m)
}

// AddChannel adds a channel or thread; an empty ID is made from now.
func (f *Fake) AddChannel(c Channel) Channel {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.ID == "" {
		f.seq++
		c.ID = Snowflake(f.now(), f.seq)
	}
	f.addChannel(c)
	return c
}

// SetReadable makes a channel readable by the bot, or not.
func (f *Fake) SetReadable(channelID string, readable bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.channels[channelID]; ok {
		c.Unreadable = !readable
	}
}

// AddMessage adds a message and returns it with its id and time filled in.
func (f *Fake) AddMessage(m Message) Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addMessage(m)
}

func (f *Fake) addUser(u User) {
	f.users[u.ID] = &u
}

func (f *Fake) addMember(m Member) {
	for i, old := range f.members {
		if old.UserID == m.UserID {
			f.members[i] = &m
			return
		}
	}
	f.members = append(f.members, &m)
	slices.SortFunc(f.members, func(a, b *Member) int { return cmpID(a.UserID, b.UserID) })
}

func (f *Fake) addChannel(c Channel) {
	if _, ok := f.channels[c.ID]; !ok {
		f.chanOrder = append(f.chanOrder, c.ID)
	}
	f.channels[c.ID] = &c
}

func (f *Fake) addMessage(m Message) Message {
	switch {
	case m.ID == "" && m.Timestamp.IsZero():
		panic("discordfake: a message needs an ID or a Timestamp")
	case m.ID == "":
		f.seq++
		m.ID = Snowflake(m.Timestamp, f.seq)
	case m.Timestamp.IsZero():
		t, err := SnowflakeTime(m.ID)
		if err != nil {
			panic("discordfake: " + err.Error())
		}
		m.Timestamp = t
	}
	m.Timestamp = m.Timestamp.UTC()
	p := &m
	list := f.msgs[m.ChannelID]
	i, found := slices.BinarySearchFunc(list, m.ID, func(x *Message, id string) int { return cmpID(x.ID, id) })
	if found {
		list[i] = p
	} else {
		list = slices.Insert(list, i, p)
	}
	f.msgs[m.ChannelID] = list
	f.byID[m.ID] = p
	return m
}

// cmpID compares snowflakes as numbers, as the API does.
func cmpID(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func (f *Fake) now() time.Time {
	if f.sw.Now != nil {
		return f.sw.Now()
	}
	return time.Now()
}

// route is one endpoint the fake serves.
type route struct {
	template string // the spec's path template, also the bucket's name
	major    string // the guild or channel id that splits buckets
	serve    func(f *Fake, q url.Values) (int, any)
}

// ServeHTTP answers one API call.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	status := f.serve(w, r)
	f.calls = append(f.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Status: status})
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) int {
	rest, ok := stripVersion(r.URL.Path)
	if !ok {
		return writeJSON(w, http.StatusNotFound, errorJSON{Message: "404: Not Found", Code: 0})
	}
	rt, ok := f.match(rest)
	if !ok {
		return writeJSON(w, http.StatusNotFound, errorJSON{Message: "404: Not Found", Code: 0})
	}
	if r.Method != http.MethodGet {
		return writeJSON(w, http.StatusMethodNotAllowed, errorJSON{Message: "405: Method Not Allowed", Code: 0})
	}
	if !f.authorized(r.Header.Get("Authorization")) {
		return writeJSON(w, http.StatusUnauthorized, errorJSON{Message: "401: Unauthorized", Code: 0})
	}
	if f.failNext > 0 {
		f.failNext--
		return writeJSON(w, http.StatusInternalServerError, errorJSON{Message: "500: Internal Server Error", Code: 0})
	}

	now := f.now()
	key := rt.template + " " + rt.major
	b := f.buckets[key]
	if b == nil || !now.Before(b.reset) {
		b = &bucket{reset: now.Add(f.window())}
		f.buckets[key] = b
	}
	if f.rlAfter == 0 {
		f.rlAfter = -1
		return f.tooMany(w, rt, b, now, f.rlRetry, f.rlGlobal)
	}
	if b.count >= f.limit() {
		return f.tooMany(w, rt, b, now, b.reset.Sub(now), false)
	}
	if f.rlAfter > 0 {
		f.rlAfter--
	}
	b.count++
	f.rateHeaders(w.Header(), rt, b, now)
	status, body := rt.serve(f, r.URL.Query())
	return writeJSON(w, status, body)
}

func (f *Fake) limit() int {
	if f.sw.BucketLimit > 0 {
		return f.sw.BucketLimit
	}
	return 50
}

func (f *Fake) window() time.Duration {
	if f.sw.BucketWindow > 0 {
		return f.sw.BucketWindow
	}
	return time.Second
}

func (f *Fake) authorized(h string) bool {
	tok, ok := strings.CutPrefix(h, "Bot ")
	if !ok || tok == "" {
		return false
	}
	return f.sw.Token == "" || tok == f.sw.Token
}

// rateHeaders sets the X-RateLimit-* headers of a bucket.
func (f *Fake) rateHeaders(h http.Header, rt route, b *bucket, now time.Time) {
	left := max(b.reset.Sub(now), 0)
	h.Set("X-RateLimit-Limit", strconv.Itoa(f.limit()))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(f.limit()-b.count, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(b.reset.UnixMilli())/1000, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", seconds(left))
	sum := sha1.Sum([]byte(rt.template))
	h.Set("X-RateLimit-Bucket", hex.EncodeToString(sum[:8]))
}

// tooMany answers 429 as the API does: the body's retry_after in seconds
// with decimals, Retry-After in whole seconds, and the scope.
func (f *Fake) tooMany(w http.ResponseWriter, rt route, b *bucket, now time.Time, retry time.Duration, global bool) int {
	h := w.Header()
	f.rateHeaders(h, rt, b, now)
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset-After", seconds(retry))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(now.Add(retry).UnixMilli())/1000, 'f', 3, 64))
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	if global {
		h.Set("X-RateLimit-Global", "true")
		h.Set("X-RateLimit-Scope", "global")
	} else {
		h.Set("X-RateLimit-Scope", "user")
	}
	return writeJSON(w, http.StatusTooManyRequests, rateLimitedJSON{
		Message:    "You are being rate limited.",
		RetryAfter: math.Round(retry.Seconds()*1000) / 1000,
		Global:     global,
	})
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Milliseconds())/1000, 'f', 3, 64)
}

func writeJSON(w http.ResponseWriter, status int, body any) int {
	b, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"message": "fake: ` + strings.ReplaceAll(err.Error(), `"`, `'`) + `", "code": 0}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

func stripVersion(p string) (string, bool) {
	for _, v := range []string{"/api/v9", "/api/v10"} {
		if rest, ok := strings.CutPrefix(p, v); ok && strings.HasPrefix(rest, "/") {
			return rest, true
		}
	}
	return "", false
}

func (f *Fake) match(p string) (route, bool) {
	seg := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(seg) == 3 && seg[0] == "guilds" && seg[2] == "channels":
		g := seg[1]
		return route{"/guilds/{guild_id}/channels", g, func(f *Fake, q url.Values) (int, any) { return f.guildChannels(g) }}, true
	case len(seg) == 4 && seg[0] == "guilds" && seg[2] == "threads" && seg[3] == "active":
		g := seg[1]
		return route{"/guilds/{guild_id}/threads/active", g, func(f *Fake, q url.Values) (int, any) { return f.activeThreads(g) }}, true
	case len(seg) == 3 && seg[0] == "guilds" && seg[2] == "members":
		g := seg[1]
		return route{"/guilds/{guild_id}/members", g, func(f *Fake, q url.Values) (int, any) { return f.guildMembers(g, q) }}, true
	case len(seg) == 3 && seg[0] == "channels" && seg[2] == "messages":
		c := seg[1]
		return route{"/channels/{channel_id}/messages", c, func(f *Fake, q url.Values) (int, any) { return f.channelMessages(c, q) }}, true
	case len(seg) == 5 && seg[0] == "channels" && seg[2] == "threads" && seg[3] == "archived" && seg[4] == "public":
		c := seg[1]
		return route{"/channels/{channel_id}/threads/archived/public", c, func(f *Fake, q url.Values) (int, any) { return f.archivedThreads(c, q) }}, true
	}
	return route{}, false
}

var (
	errUnknownGuild   = errorJSON{Message: "Unknown Guild", Code: 10004}
	errUnknownChannel = errorJSON{Message: "Unknown Channel", Code: 10003}
	errMissingAccess  = errorJSON{Message: "Missing Access", Code: 50001}
	errChannelType    = errorJSON{Message: "Cannot execute action on this channel type", Code: 50024}
)

func invalidForm(field, msg string) (int, any) {
	return http.StatusBadRequest, map[string]any{
		"message": "Invalid Form Body",
		"code":    50035,
		"errors": map[string]any{field: map[string]any{
			"_errors": []map[string]string{{"code": "BASE_TYPE_BAD", "message": msg}},
		}},
	}
}

// intParam reads an integer query parameter within [lo, hi].
func intParam(q url.Values, name string, def, lo, hi int) (int, bool) {
	s := q.Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

func snowflakeParam(q url.Values, name string) (string, bool) {
	s := q.Get(name)
	if s == "" {
		return "", true
	}
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return "", false
	}
	return strings.TrimLeft(s, "0"), true
}

func (f *Fake) guildChannels(g string) (int, any) {
	if g != f.guild.ID {
		return http.StatusNotFound, errUnknownGuild
	}
	out := []channelJSON{}
	for _, id := range f.chanOrder {
		c := f.channels[id]
		if c.IsThread() {
			continue // threads are channels, but this listing leaves them out
		}
		out = append(out, f.renderChannel(c))
	}
	return http.StatusOK, out
}

// readable reports whether the bot may read channel c (and, for a thread,
// its parent).
func (f *Fake) readable(c *Channel) bool {
	if c.Unreadable {
		return false
	}
	if c.IsThread() {
		if p, ok := f.channels[c.ParentID]; ok && p.Unreadable {
			return false
		}
	}
	return true
}

func (f *Fake) activeThreads(g string) (int, any) {
	if g != f.guild.ID {
		return http.StatusNotFound, errUnknownGuild
	}
	var list []*Channel
	for _, c := range f.channels {
		if c.IsThread() && !c.Archived && f.readable(c) {
			list = append(list, c)
		}
	}
	slices.SortFunc(list, func(a, b *Channel) int { return cmpID(a.ID, b.ID) })
	out := threadsJSON{Threads: []channelJSON{}, Members: []struct{}{}}
	for _, c := range list {
		out.Threads = append(out.Threads, f.renderChannel(c))
	}
	return http.StatusOK, out
}

func (f *Fake) archivedThreads(id string, q url.Values) (int, any) {
	c, ok := f.channels[id]
	if !ok {
		return http.StatusNotFound, errUnknownChannel
	}
	if !f.readable(c) {
		return http.StatusForbidden, errMissingAccess
	}
	// Threads live in text, announcement, forum and media channels; voice
	// and stage channels have a text chat but no threads.
	if c.Type != ChannelText && c.Type != ChannelAnnouncement && c.Type != ChannelForum && c.Type != ChannelMedia {
		return http.StatusBadRequest, errChannelType
	}
	limit, ok := intParam(q, "limit", 50, 2, 100)
	if !ok {
		return invalidForm("limit", "Value must be between 2 and 100.")
	}
	var before time.Time
	if s := q.Get("before"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return invalidForm("before", "Could not interpret \""+s+"\" as a timestamp.")
		}
		before = t
	}
	var list []*Channel
	for _, t := range f.channels {
		if t.ParentID != id || !t.Archived || t.Type == ChannelPrivateThread {
			continue
		}
		if !before.IsZero() && !t.ArchivedAt.Before(before) {
			continue
		}
		list = append(list, t)
	}
	// Most recently archived first.
	slices.SortFunc(list, func(a, b *Channel) int {
		if c := b.ArchivedAt.Compare(a.ArchivedAt); c != 0 {
			return c
		}
		return cmpID(b.ID, a.ID)
	})
	more := len(list) > limit
	if more {
		list = list[:limit]
	}
	out := threadsJSON{Threads: []channelJSON{}, Members: []struct{}{}, HasMore: &more}
	for _, t := range list {
		out.Threads = append(out.Threads, f.renderChannel(t))
	}
	return http.StatusOK, out
}

func (f *Fake) channelMessages(id string, q url.Values) (int, any) {
	c, ok := f.channels[id]
	if !ok {
		return http.StatusNotFound, errUnknownChannel
	}
	if !f.readable(c) {
		return http.StatusForbidden, errMissingAccess
	}
	// Forum and media channels hold threads only; a category holds
	// nothing. Voice and stage channels have their own text chat.
	if c.Type == ChannelCategory || c.Type == ChannelForum || c.Type == ChannelMedia {
		return http.StatusBadRequest, errChannelType
	}
	limit, ok := intParam(q, "limit", 50, 1, 100)
	if !ok {
		return invalidForm("limit", "Value must be between 1 and 100.")
	}
	before, ok1 := snowflakeParam(q, "before")
	after, ok2 := snowflakeParam(q, "after")
	around, ok3 := snowflakeParam(q, "around")
	if !ok1 || !ok2 || !ok3 {
		return invalidForm("before", "Value is not snowflake.")
	}
	n := 0
	for _, s := range []string{q.Get("before"), q.Get("after"), q.Get("around")} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return invalidForm("around", "Only one of around, before and after may be given.")
	}

	all := f.msgs[id] // ascending
	var page []*Message
	switch {
	case q.Get("after") != "":
		// The batch right after the id, still answered newest first.
		i, _ := slices.BinarySearchFunc(all, after, func(m *Message, id string) int { return cmpID(m.ID, id) })
		for ; i < len(all) && all[i].ID == after; i++ {
		}
		page = all[i:min(i+limit, len(all))]
	case q.Get("around") != "":
		i, _ := slices.BinarySearchFunc(all, around, func(m *Message, id string) int { return cmpID(m.ID, id) })
		lo := max(i-limit/2, 0)
		page = all[lo:min(lo+limit, len(all))]
	default:
		end := len(all)
		if q.Get("before") != "" {
			end, _ = slices.BinarySearchFunc(all, before, func(m *Message, id string) int { return cmpID(m.ID, id) })
		}
		page = all[max(end-limit, 0):end]
	}
	out := make([]messageJSON, 0, len(page))
	for i := len(page) - 1; i >= 0; i-- {
		out = append(out, f.renderMessage(page[i], false))
	}
	return http.StatusOK, out
}

func (f *Fake) guildMembers(g string, q url.Values) (int, any) {
	if g != f.guild.ID {
		return http.StatusNotFound, errUnknownGuild
	}
	if f.sw.NoGuildMembersIntent {
		return http.StatusForbidden, errMissingAccess
	}
	limit, ok := intParam(q, "limit", 1, 1, 1000)
	if !ok {
		return invalidForm("limit", "Value must be between 1 and 1000.")
	}
	after, ok := snowflakeParam(q, "after")
	if !ok {
		return invalidForm("after", "Value is not snowflake.")
	}
	out := []memberJSON{}
	for _, m := range f.members {
		if after != "" && cmpID(m.UserID, after) <= 0 {
			continue
		}
		u, ok := f.users[m.UserID]
		if !ok {
			continue
		}
		out = append(out, renderMember(*m, *u))
		if len(out) == limit {
			break
		}
	}
	return http.StatusOK, out
}

// String describes a call, e.g. "GET /api/v10/guilds/1/members?after=2&limit=1000 -> 200".
func (c Call) String() string {
	s := c.Method + " " + c.Path
	if len(c.Query) > 0 {
		s += "?" + c.Query.Encode()
	}
	return fmt.Sprintf("%s -> %d", s, c.Status)
}
