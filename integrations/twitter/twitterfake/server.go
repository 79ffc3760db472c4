package twitterfake

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Route names, for Requests and Switches.Limits.
const (
	RouteFollowers = "followers"
	RouteMentions  = "mentions"
	RouteSearch    = "search"
	RouteUsersBy   = "users_by"
	RouteToken     = "token"
)

// Body forms of a 429.
const (
	// Form88 is the documented {"errors":[{"code":88,"message":"Rate limit exceeded"}]}.
	Form88 = "code88"
	// FormProblem is problem JSON {"title":"Too Many Requests","type":"about:blank","status":429,...}.
	FormProblem = "problem"
	// FormUsageCapped is the monthly cap's problem, type .../2/problems/usage-capped.
	FormUsageCapped = "usage-capped"
)

// Switches configure a fake.
type Switches struct {
	// AppTokens are app-only bearer tokens: they never expire.
	AppTokens []string
	// ClientID and ClientSecret, when set, must come by basic auth to the
	// token endpoint (a confidential client).
	ClientID, ClientSecret string
	// AccessTTL is how long an access token lives (default two hours).
	AccessTTL time.Duration
	// RateWindow is the rate-limit window (default 15 minutes).
	RateWindow time.Duration
	// Limits per route and window; a missing route gets X's limit for a
	// user token (followers 15, mentions 300, search 180, users_by 900).
	Limits map[string]int
	// Now is the fake's clock (default time.Now). Search's 7-day window,
	// token expiry and rate windows follow it.
	Now func() time.Time
}

var defaultLimits = map[string]int{RouteFollowers: 15, RouteMentions: 300, RouteSearch: 180, RouteUsersBy: 900}

// Server is the fake API.
type Server struct {
	mu    sync.Mutex
	world World
	sw    Switches

	access    map[string]time.Time // user access token -> expiry
	refresh   map[string]bool      // live refresh tokens
	refreshes int

	windows map[string]*window
	counts  map[string]int

	failNext, failStatus       int
	failToken, failTokenStatus int
	rlNext                     int
	rlForm                     string
	rlResetAfter               time.Duration
	loseToken                  int
	partialNext                int

	mux *http.ServeMux
}

type window struct {
	start time.Time
	used  int
}

// New returns a fake serving a copy of world. It panics if the world does
// not validate: seeds are code.
func New(world World, sw Switches) *Server {
	if err := world.Validate(); err != nil {
		panic("twitterfake: invalid world: " + err.Error())
	}
	if sw.AccessTTL <= 0 {
		sw.AccessTTL = 2 * time.Hour
	}
	if sw.RateWindow <= 0 {
		sw.RateWindow = 15 * time.Minute
	}
	if sw.Now == nil {
		sw.Now = time.Now
	}
	s := &Server{world: world.clone(), sw: sw, access: map[string]time.Time{}, refresh: map[string]bool{},
		windows: map[string]*window{}, counts: map[string]int{}, rlResetAfter: time.Second}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2/users/{id}/followers", s.followers)
	mux.HandleFunc("GET /2/users/{id}/mentions", s.mentions)
	mux.HandleFunc("GET /2/tweets/search/recent", s.search)
	mux.HandleFunc("GET /2/users/by", s.usersBy)
	s.mux = mux
	return s
}

// Handler returns the fake's http.Handler.
func (s *Server) Handler() http.Handler { return s }

func routeOf(method, path string) string {
	switch {
	case method == http.MethodPost && path == "/2/oauth2/token":
		return RouteToken
	case strings.HasPrefix(path, "/2/users/") && strings.HasSuffix(path, "/followers"):
		return RouteFollowers
	case strings.HasPrefix(path, "/2/users/") && strings.HasSuffix(path, "/mentions"):
		return RouteMentions
	case path == "/2/tweets/search/recent":
		return RouteSearch
	case path == "/2/users/by":
		return RouteUsersBy
	}
	return ""
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := routeOf(r.Method, r.URL.Path)
	s.mu.Lock()
	s.counts[route]++
	s.mu.Unlock()
	if route == RouteToken {
		s.token(w, r)
		return
	}
	if route == "" {
		writeProblem(w, http.StatusNotFound, "Not Found Error", "about:blank", "Sorry, that page does not exist.")
		return
	}
	if !s.authorized(r) {
		writeProblem(w, http.StatusUnauthorized, "Unauthorized", "about:blank", "Unauthorized")
		return
	}

	s.mu.Lock()
	now := s.sw.Now()
	win := s.windows[route]
	if win == nil || !now.Before(win.start.Add(s.sw.RateWindow)) {
		win = &window{start: now}
		s.windows[route] = win
	}
	limit := s.sw.Limits[route]
	if limit <= 0 {
		limit = defaultLimits[route]
	}
	reset := win.start.Add(s.sw.RateWindow)
	var fail, remaining int
	form := Form88
	switch {
	case s.failNext > 0:
		s.failNext--
		fail = s.failStatus
	case s.rlNext > 0:
		s.rlNext--
		fail, form = http.StatusTooManyRequests, s.rlForm
		reset = now.Add(s.rlResetAfter)
	case win.used >= limit:
		fail = http.StatusTooManyRequests
	default:
		win.used++
	}
	remaining = max(limit-win.used, 0)
	if fail == http.StatusTooManyRequests {
		remaining = 0
	}
	partial := false
	if fail == 0 && s.partialNext > 0 && (route == RouteFollowers || route == RouteMentions) {
		s.partialNext--
		partial = true
	}
	s.mu.Unlock()

	h := w.Header()
	h.Set("x-rate-limit-limit", strconv.Itoa(limit))
	h.Set("x-rate-limit-remaining", strconv.Itoa(remaining))
	// The reset is in whole epoch seconds, rounded up so that a client
	// that waits until it never comes back early.
	h.Set("x-rate-limit-reset", strconv.FormatInt(ceilUnix(reset), 10))
	switch {
	case fail == http.StatusTooManyRequests:
		write429(w, form)
		return
	case fail != 0:
		writeProblem(w, fail, http.StatusText(fail), "about:blank", http.StatusText(fail))
		return
	case partial:
		writeJSON(w, http.StatusOK, map[string]any{"errors": []any{map[string]any{
			"title": "Service Unavailable", "type": "https://api.twitter.com/2/problems/operational-disconnect",
			"detail": "The service is temporarily unavailable.",
		}}})
		return
	}
	s.mux.ServeHTTP(w, r)
}

func ceilUnix(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.sw.AppTokens {
		if a == tok {
			return true
		}
	}
	exp, ok := s.access[tok]
	return ok && s.sw.Now().Before(exp)
}

// token is POST /2/oauth2/token with grant_type=refresh_token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Malformed request body.")
		return
	}
	if s.sw.ClientID != "" {
		id, secret, ok := r.BasicAuth()
		if !ok || id != s.sw.ClientID || secret != s.sw.ClientSecret {
			writeOAuthError(w, http.StatusUnauthorized, "unauthorized_client", "Missing valid authorization header")
			return
		}
	}
	if r.PostForm.Get("grant_type") != "refresh_token" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter [grant_type].")
		return
	}
	old := r.PostForm.Get("refresh_token")
	s.mu.Lock()
	if s.failToken > 0 {
		s.failToken--
		status := s.failTokenStatus
		s.mu.Unlock()
		writeOAuthError(w, status, "server_error", http.StatusText(status))
		return
	}
	if !s.refresh[old] {
		s.mu.Unlock()
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Value passed for the token was invalid.")
		return
	}
	delete(s.refresh, old)
	access, refresh := s.issueLocked(s.sw.AccessTTL)
	s.refreshes++
	lose := s.loseToken > 0
	if lose {
		s.loseToken--
	}
	s.mu.Unlock()
	if lose {
		// The pair is rotated but the answer never arrives: the client
		// sees its connection drop, as if it had crashed after sending.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "bearer", "expires_in": int(s.sw.AccessTTL / time.Second), "access_token": access,
		"scope": "tweet.read users.read follows.read offline.access", "refresh_token": refresh,
	})
}

func randomToken(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (s *Server) issueLocked(ttl time.Duration) (string, string) {
	access, refresh := randomToken("xat-"), randomToken("xrt-")
	s.access[access] = s.sw.Now().Add(ttl)
	s.refresh[refresh] = true
	return access, refresh
}

// IssuePair issues a user token pair, as the OAuth flow at connect time
// does: an access token that lives Switches.AccessTTL and a refresh token.
func (s *Server) IssuePair() (access, refresh string) { return s.IssuePairTTL(s.sw.AccessTTL) }

// IssuePairTTL issues a pair whose access token lives ttl (0 or less: it
// has expired already).
func (s *Server) IssuePairTTL(ttl time.Duration) (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(ttl)
}

// ValidPair reports whether access is a live access token and refresh a
// refresh token that has not been used.
func (s *Server) ValidPair(access, refresh string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.access[access]
	return ok && s.sw.Now().Before(exp) && s.refresh[refresh]
}

// LiveRefreshTokens counts the refresh tokens that can still be used.
func (s *Server) LiveRefreshTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.refresh)
}

// Refreshes counts the successful refreshes.
func (s *Server) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// Requests counts the requests of a route (RouteFollowers, ...).
func (s *Server) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[route]
}

// FailNext makes the next n data requests answer status.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failStatus = n, status
}

// FailNextToken makes the next n requests to the token endpoint answer
// status before they look at the refresh token (it stays valid).
func (s *Server) FailNextToken(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failToken, s.failTokenStatus = n, status
}

// RateLimitNext makes the next n data requests answer 429 in the given
// body form, with x-rate-limit-reset resetAfter from now.
func (s *Server) RateLimitNext(n int, form string, resetAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rlNext, s.rlForm, s.rlResetAfter = n, form, resetAfter
}

// LoseNextTokenResponse makes the next n successful refreshes rotate the
// pair and drop the connection instead of answering.
func (s *Server) LoseNextTokenResponse(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseToken = n
}

// PartialErrorNext makes the next n followers or mentions requests answer
// 200 with errors and no data.
func (s *Server) PartialErrorNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partialNext = n
}

// AddFollower puts follower at the top of user's followers, as a new follow.
func (s *Server) AddFollower(userID string, follower User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userLocked(follower.ID) == nil {
		s.world.Users = append(s.world.Users, follower)
	}
	s.world.Followers[userID] = append([]string{follower.ID}, s.world.Followers[userID]...)
}

// AddPost adds a post (its author must exist, or be given).
func (s *Server) AddPost(p Post, author *User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if author != nil && s.userLocked(author.ID) == nil {
		s.world.Users = append(s.world.Users, *author)
	}
	s.world.Posts = append(s.world.Posts, p)
}

// SetFollowersCount changes a user's public_metrics.followers_count.
func (s *Server) SetFollowersCount(username string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.world.Users {
		if strings.EqualFold(s.world.Users[i].Username, username) {
			s.world.Users[i].FollowersCount = n
		}
	}
}

func (s *Server) userLocked(id string) *User {
	for i := range s.world.Users {
		if s.world.Users[i].ID == id {
			return &s.world.Users[i]
		}
	}
	return nil
}

func (s *Server) userByNameLocked(name string) *User {
	for i := range s.world.Users {
		if strings.EqualFold(s.world.Users[i].Username, name) {
			return &s.world.Users[i]
		}
	}
	return nil
}

// ---- request parameters

type badParam struct{ name, value, msg string }

func (e *badParam) Error() string { return e.msg }

func writeBadParam(w http.ResponseWriter, e *badParam) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []any{map[string]any{"parameters": map[string]any{e.name: []string{e.value}}, "message": e.msg}},
		"title":  "Invalid Request", "detail": "One or more parameters to your request was invalid.",
		"type": "https://api.twitter.com/2/problems/invalid-request",
	})
}

var (
	userFieldNames  = set("affiliation", "confirmed_email", "connection_status", "created_at", "description", "entities", "id", "is_identity_verified", "location", "most_recent_tweet_id", "name", "parody", "pinned_tweet_id", "profile_banner_url", "profile_image_url", "protected", "public_metrics", "receives_your_dm", "subscription", "subscription_type", "url", "username", "verified", "verified_followers_count", "verified_type", "withheld")
	tweetFieldNames = set("article", "attachments", "author_id", "card_uri", "community_id", "context_annotations", "conversation_id", "created_at", "display_text_range", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id", "in_reply_to_user_id", "lang", "media_metadata", "non_public_metrics", "note_tweet", "organic_metrics", "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets", "reply_settings", "scopes", "source", "suggested_source_links", "suggested_source_links_with_counts", "text", "withheld")
	mediaFieldNames = set("alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics", "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width")
	tweetExpansions = set("article.cover_media", "article.media_entities", "attachments.media_keys", "attachments.media_source_tweet", "attachments.poll_ids", "author_id", "edit_history_tweet_ids", "entities.mentions.username", "geo.place_id", "in_reply_to_user_id", "entities.note.mentions.username", "referenced_tweets.id", "referenced_tweets.id.attachments.media_keys", "referenced_tweets.id.author_id")
	userExpansions  = set("affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id")
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// fields reads a comma-separated list parameter whose values must be known.
func fields(r *http.Request, name string, known map[string]bool) (map[string]bool, *badParam) {
	out := map[string]bool{}
	v := r.URL.Query().Get(name)
	if v == "" {
		return out, nil
	}
	for _, f := range strings.Split(v, ",") {
		if !known[f] {
			return nil, &badParam{name, v, fmt.Sprintf("The `%s` query parameter value [%s] is not one of [%s]", name, f, strings.Join(sortedKeys(known), ","))}
		}
		out[f] = true
	}
	return out, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func maxResults(r *http.Request, lo, hi, def int) (int, *badParam) {
	v := r.URL.Query().Get("max_results")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &badParam{"max_results", v, fmt.Sprintf("The `max_results` query parameter value [%s] is not between %d and %d", v, lo, hi)}
	}
	return n, nil
}

var tokenEnc = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// pageToken is an opaque next_token: the offset into the list, for the
// route it came from (at least 16 characters, as the spec asks).
func pageToken(route string, offset int) string {
	return tokenEnc.EncodeToString([]byte(fmt.Sprintf("%s/%010d", route, offset)))
}

func readPageToken(r *http.Request, route string, names ...string) (int, *badParam) {
	for _, name := range names {
		v := r.URL.Query().Get(name)
		if v == "" {
			continue
		}
		b, err := tokenEnc.DecodeString(v)
		rest, ok := strings.CutPrefix(string(b), route+"/")
		n, aerr := strconv.Atoi(rest)
		if err != nil || !ok || aerr != nil || n < 0 {
			return 0, &badParam{name, v, fmt.Sprintf("The `%s` query parameter value [%s] is not valid", name, v)}
		}
		return n, nil
	}
	return 0, nil
}

var userIDParam = regexp.MustCompile(`^[0-9]{1,19}$`)

// ---- routes

func (s *Server) followers(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !userIDParam.MatchString(id) {
		writeBadParam(w, &badParam{"id", id, fmt.Sprintf("The `id` query parameter value [%s] does not match ^[0-9]{1,19}$", id)})
		return
	}
	uf, bad := fields(r, "user.fields", userFieldNames)
	if bad == nil {
		_, bad = fields(r, "expansions", userExpansions)
	}
	if bad == nil {
		_, bad = fields(r, "tweet.fields", tweetFieldNames)
	}
	n, bad2 := maxResults(r, 1, 1000, 100)
	offset, bad3 := readPageToken(r, RouteFollowers, "pagination_token")
	for _, b := range []*badParam{bad, bad2, bad3} {
		if b != nil {
			writeBadParam(w, b)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(id)
	if p := userProblem(u, id, "id"); p != nil {
		writeJSON(w, http.StatusOK, map[string]any{"errors": []any{p}})
		return
	}
	var list []*User
	for _, fid := range s.world.Followers[id] {
		if f := s.userLocked(fid); f != nil && !f.Suspended {
			list = append(list, f)
		}
	}
	page, next := window_(list, offset, n)
	data := make([]any, len(page))
	for i, f := range page {
		data[i] = s.renderUserLocked(f, uf)
	}
	writeJSON(w, http.StatusOK, listBody(data, nil, meta(len(data), next, RouteFollowers, offset+n, nil)))
}

func window_[T any](list []T, offset, n int) ([]T, bool) {
	if offset >= len(list) {
		return nil, false
	}
	end := min(offset+n, len(list))
	return list[offset:end], end < len(list)
}

func meta(count int, next bool, route string, nextOffset int, extra map[string]any) map[string]any {
	m := map[string]any{"result_count": count}
	if next {
		m["next_token"] = pageToken(route, nextOffset)
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// listBody is {data, includes, meta}, with no data key when empty.
func listBody(data []any, includes map[string]any, meta map[string]any) map[string]any {
	body := map[string]any{"meta": meta}
	if len(data) > 0 {
		body["data"] = data
	}
	if len(includes) > 0 {
		body["includes"] = includes
	}
	return body
}

// userProblem is the partial error of a user that cannot be served.
func userProblem(u *User, value, param string) map[string]any {
	switch {
	case u == nil:
		return map[string]any{"value": value, "detail": fmt.Sprintf("Could not find user with %s: [%s].", param, value),
			"title": "Not Found Error", "resource_type": "user", "parameter": param, "resource_id": value,
			"type": "https://api.twitter.com/2/problems/resource-not-found"}
	case u.Suspended:
		return map[string]any{"value": value, "detail": fmt.Sprintf("User has been suspended: [%s].", value),
			"title": "Forbidden", "resource_type": "user", "parameter": param, "resource_id": value,
			"type": "https://api.twitter.com/2/problems/resource-not-found"}
	case u.Protected:
		return map[string]any{"value": value, "detail": fmt.Sprintf("Sorry, you are not authorized to see the user with %s: [%s].", param, value),
			"title": "Authorization Error", "resource_type": "user", "parameter": param, "resource_id": value,
			"section": "data", "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"}
	}
	return nil
}

func (s *Server) followersCountLocked(u *User) int {
	if u.FollowersCount > 0 {
		return u.FollowersCount
	}
	return len(s.world.Followers[u.ID])
}

func (s *Server) renderUserLocked(u *User, f map[string]bool) map[string]any {
	out := map[string]any{"id": u.ID, "name": u.Name, "username": u.Username}
	if f["created_at"] && !u.CreatedAt.IsZero() {
		out["created_at"] = isoTime(u.CreatedAt)
	}
	if f["description"] {
		out["description"] = u.Description
	}
	if f["location"] && u.Location != "" {
		out["location"] = u.Location
	}
	if f["url"] {
		out["url"] = u.URL
	}
	if f["profile_image_url"] && u.ProfileImageURL != "" {
		out["profile_image_url"] = u.ProfileImageURL
	}
	if f["verified"] {
		out["verified"] = u.Verified
	}
	if f["protected"] {
		out["protected"] = u.Protected
	}
	if f["public_metrics"] {
		out["public_metrics"] = map[string]any{"followers_count": s.followersCountLocked(u), "following_count": u.FollowingCount,
			"tweet_count": u.TweetCount, "listed_count": 0, "like_count": 0}
	}
	return out
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// postParams are the field selections of a post timeline.
type postParams struct {
	tweet, user, media, expansions map[string]bool
}

func readPostParams(r *http.Request) (postParams, *badParam) {
	var p postParams
	var bad *badParam
	for _, x := range []struct {
		dst   *map[string]bool
		name  string
		known map[string]bool
	}{
		{&p.tweet, "tweet.fields", tweetFieldNames}, {&p.user, "user.fields", userFieldNames},
		{&p.media, "media.fields", mediaFieldNames}, {&p.expansions, "expansions", tweetExpansions},
	} {
		if *x.dst, bad = fields(r, x.name, x.known); bad != nil {
			return p, bad
		}
	}
	// poll.fields and place.fields are accepted and ignored: the fake
	// has no polls or places.
	return p, nil
}

func (s *Server) renderPostsLocked(posts []*Post, p postParams) ([]any, map[string]any) {
	data := make([]any, len(posts))
	var users []any
	var media []any
	seenU, seenM := map[string]bool{}, map[string]bool{}
	for i, post := range posts {
		out := map[string]any{"id": post.ID, "text": post.Text, "edit_history_tweet_ids": []string{post.ID}}
		if p.tweet["created_at"] {
			out["created_at"] = isoTime(post.CreatedAt)
		}
		if p.tweet["author_id"] {
			out["author_id"] = post.AuthorID
		}
		if p.tweet["conversation_id"] {
			out["conversation_id"] = post.ID
		}
		if p.tweet["attachments"] && len(post.MediaKeys) > 0 {
			out["attachments"] = map[string]any{"media_keys": post.MediaKeys}
		}
		if p.tweet["referenced_tweets"] && post.RepliedTo != "" {
			out["referenced_tweets"] = []any{map[string]any{"type": "replied_to", "id": post.RepliedTo}}
		}
		if p.tweet["entities"] {
			if ent := s.entitiesLocked(post.Text); len(ent) > 0 {
				out["entities"] = ent
			}
		}
		data[i] = out
		if p.expansions["author_id"] && !seenU[post.AuthorID] {
			seenU[post.AuthorID] = true
			if u := s.userLocked(post.AuthorID); u != nil {
				users = append(users, s.renderUserLocked(u, p.user))
			}
		}
		if p.expansions["attachments.media_keys"] {
			for _, k := range post.MediaKeys {
				if seenM[k] {
					continue
				}
				seenM[k] = true
				for _, m := range s.world.Media {
					if m.Key == k {
						media = append(media, renderMedia(m, p.media))
					}
				}
			}
		}
	}
	inc := map[string]any{}
	if len(users) > 0 {
		inc["users"] = users
	}
	if len(media) > 0 {
		inc["media"] = media
	}
	return data, inc
}

func renderMedia(m Media, f map[string]bool) map[string]any {
	out := map[string]any{"media_key": m.Key, "type": m.Type}
	if f["url"] && m.URL != "" && m.Type == "photo" {
		out["url"] = m.URL
	}
	if f["preview_image_url"] && m.URL != "" && m.Type != "photo" {
		out["preview_image_url"] = m.URL
	}
	if f["width"] && m.Width > 0 {
		out["width"] = m.Width
	}
	if f["height"] && m.Height > 0 {
		out["height"] = m.Height
	}
	return out
}

func (s *Server) entitiesLocked(text string) map[string]any {
	out := map[string]any{}
	var tags, mentions []any
	for _, e := range findEntities(text, hashtagRE) {
		tags = append(tags, map[string]any{"start": e.Start, "end": e.End, "tag": e.Tag})
	}
	for _, e := range findEntities(text, mentionRE) {
		m := map[string]any{"start": e.Start, "end": e.End, "username": e.Tag}
		if u := s.userByNameLocked(e.Tag); u != nil {
			m["id"] = u.ID
			m["username"] = u.Username
		}
		mentions = append(mentions, m)
	}
	if len(tags) > 0 {
		out["hashtags"] = tags
	}
	if len(mentions) > 0 {
		out["mentions"] = mentions
	}
	return out
}

// newestFirst orders posts as timelines and search list them.
func newestFirst(posts []*Post) {
	sort.SliceStable(posts, func(i, j int) bool {
		if !posts[i].CreatedAt.Equal(posts[j].CreatedAt) {
			return posts[i].CreatedAt.After(posts[j].CreatedAt)
		}
		if len(posts[i].ID) != len(posts[j].ID) {
			return len(posts[i].ID) > len(posts[j].ID)
		}
		return posts[i].ID > posts[j].ID
	})
}

func (s *Server) visiblePostsLocked(match func(*Post) bool) []*Post {
	var out []*Post
	for i := range s.world.Posts {
		p := &s.world.Posts[i]
		if a := s.userLocked(p.AuthorID); a == nil || a.Suspended || a.Protected {
			continue
		}
		if match(p) {
			out = append(out, p)
		}
	}
	newestFirst(out)
	return out
}

// maxMentions is how far back the mentions timeline goes.
const maxMentions = 800

func (s *Server) mentions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !userIDParam.MatchString(id) {
		writeBadParam(w, &badParam{"id", id, fmt.Sprintf("The `id` query parameter value [%s] does not match ^[0-9]{1,19}$", id)})
		return
	}
	pp, bad := readPostParams(r)
	n, bad2 := maxResults(r, 5, 100, 10)
	offset, bad3 := readPageToken(r, RouteMentions, "pagination_token")
	for _, b := range []*badParam{bad, bad2, bad3} {
		if b != nil {
			writeBadParam(w, b)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(id)
	if p := userProblem(u, id, "id"); p != nil {
		writeJSON(w, http.StatusOK, map[string]any{"errors": []any{p}})
		return
	}
	list := s.visiblePostsLocked(func(p *Post) bool {
		for _, e := range findEntities(p.Text, mentionRE) {
			if strings.EqualFold(e.Tag, u.Username) {
				return true
			}
		}
		return false
	})
	if len(list) > maxMentions {
		list = list[:maxMentions]
	}
	s.writePostsLocked(w, list, pp, offset, n, RouteMentions)
}

func (s *Server) writePostsLocked(w http.ResponseWriter, list []*Post, pp postParams, offset, n int, route string) {
	page, next := window_(list, offset, n)
	data, inc := s.renderPostsLocked(page, pp)
	var extra map[string]any
	if len(page) > 0 {
		extra = map[string]any{"newest_id": page[0].ID, "oldest_id": page[len(page)-1].ID}
	}
	writeJSON(w, http.StatusOK, listBody(data, inc, meta(len(data), next, route, offset+n, extra)))
}

// searchWindow is how far back recent search looks.
const searchWindow = 7 * 24 * time.Hour

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("query")
	if q == "" {
		writeBadParam(w, &badParam{"query", "", "The `query` query parameter can not be empty"})
		return
	}
	match, qerr := parseQuery(q)
	if qerr != nil {
		writeBadParam(w, &badParam{"query", q, qerr.Error()})
		return
	}
	pp, bad := readPostParams(r)
	n, bad2 := maxResults(r, 10, 100, 10)
	offset, bad3 := readPageToken(r, RouteSearch, "next_token", "pagination_token")
	for _, b := range []*badParam{bad, bad2, bad3} {
		if b != nil {
			writeBadParam(w, b)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	since := s.sw.Now().Add(-searchWindow)
	list := s.visiblePostsLocked(func(p *Post) bool {
		return !p.CreatedAt.Before(since) && match(p)
	})
	s.writePostsLocked(w, list, pp, offset, n, RouteSearch)
}

// parseQuery understands the part of X's query language the fake needs:
// terms (#hashtag, @mention, a word) joined by spaces (and) or OR.
func parseQuery(q string) (func(*Post) bool, error) {
	var alts [][]string
	for _, alt := range strings.Split(q, " OR ") {
		terms := strings.Fields(alt)
		if len(terms) == 0 {
			return nil, fmt.Errorf("There were errors processing your request: Ambiguous use of OR (at position 1)")
		}
		for _, t := range terms {
			if strings.Contains(t, ":") || strings.ContainsAny(t, "()\"") {
				return nil, fmt.Errorf("There were errors processing your request: operator %q is not supported by this server", t)
			}
		}
		alts = append(alts, terms)
	}
	return func(p *Post) bool {
		for _, terms := range alts {
			all := true
			for _, t := range terms {
				if !termMatches(p, t) {
					all = false
					break
				}
			}
			if all {
				return true
			}
		}
		return false
	}, nil
}

func termMatches(p *Post, t string) bool {
	switch {
	case strings.HasPrefix(t, "#"):
		for _, e := range findEntities(p.Text, hashtagRE) {
			if strings.EqualFold(e.Tag, t[1:]) {
				return true
			}
		}
		return false
	case strings.HasPrefix(t, "@"):
		for _, e := range findEntities(p.Text, mentionRE) {
			if strings.EqualFold(e.Tag, t[1:]) {
				return true
			}
		}
		return false
	}
	return strings.Contains(strings.ToLower(p.Text), strings.ToLower(t))
}

var usernameParam = regexp.MustCompile(`^[A-Za-z0-9_]{1,15}$`)

func (s *Server) usersBy(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query().Get("usernames")
	names := strings.Split(v, ",")
	if v == "" || len(names) > 100 {
		writeBadParam(w, &badParam{"usernames", v, "The `usernames` query parameter must list 1 to 100 usernames"})
		return
	}
	for _, n := range names {
		if !usernameParam.MatchString(n) {
			writeBadParam(w, &badParam{"usernames", n, fmt.Sprintf("The `usernames` query parameter value [%s] does not match ^[A-Za-z0-9_]{1,15}$", n)})
			return
		}
	}
	uf, bad := fields(r, "user.fields", userFieldNames)
	if bad == nil {
		_, bad = fields(r, "expansions", userExpansions)
	}
	if bad == nil {
		_, bad = fields(r, "tweet.fields", tweetFieldNames)
	}
	if bad != nil {
		writeBadParam(w, bad)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var data, errs []any
	for _, n := range names {
		u := s.userByNameLocked(n)
		if p := userProblem(u, n, "usernames"); p != nil {
			errs = append(errs, p)
			continue
		}
		data = append(data, s.renderUserLocked(u, uf))
	}
	body := map[string]any{}
	if len(data) > 0 {
		body["data"] = data
	}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	writeJSON(w, http.StatusOK, body)
}

// ---- bodies

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, title, typ, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"title": title, "type": typ, "status": status, "detail": detail})
}

func write429(w http.ResponseWriter, form string) {
	switch form {
	case FormProblem:
		writeProblem(w, http.StatusTooManyRequests, "Too Many Requests", "about:blank", "Too Many Requests")
	case FormUsageCapped:
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusTooManyRequests)
		_ = json.NewEncoder(w).Encode(map[string]any{"title": "UsageCapExceeded", "type": "https://api.twitter.com/2/problems/usage-capped",
			"period": "Monthly", "scope": "Product", "detail": "Usage cap exceeded: Monthly product cap"})
	default:
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"errors": []any{map[string]any{"code": 88, "message": "Rate limit exceeded"}}})
	}
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
}
