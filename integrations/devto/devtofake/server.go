package devtofake

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the fake API. Its methods are safe for concurrent use, also
// while it serves.
type Server struct {
	mu    sync.Mutex
	world World

	failNext   int
	failStatus int

	rlAfter    int
	rlCount    int
	retryAfter string

	// throttle is the API's per-address limit, requests per second (0:
	// off); window and used count the current second's requests per
	// address.
	throttle  int
	window    int64
	used      map[string]int
	throttled int
	now       func() time.Time

	counts map[string]int
	total  int

	mux *http.ServeMux
}

// Defaults and limits of the page parameters, as on Dev.to.
const (
	DefaultPerPage = 30
	MaxPerPage     = 1000
)

// Throttle is Forem's limit on API reads: 3 requests a second per address
// (Rack::Attack "api_throttle", a fixed window of one second keyed by the
// client's IP). Past it, Rack::Attack answers 429 with Retry-After: 1 and
// a plain-text body, not the API's JSON error.
const Throttle = 3

// ThrottledBody is Rack::Attack's plain-text body of a throttled request.
const ThrottledBody = "Retry later\n"

// New returns a fake serving a copy of world. It panics if the world's
// references do not hold (see World.Validate): seeds are code.
func New(world World) *Server {
	if err := world.Validate(); err != nil {
		panic("devtofake: invalid world: " + err.Error())
	}
	s := &Server{world: world.clone(), counts: map[string]int{}, retryAfter: "1",
		throttle: Throttle, used: map[string]int{}, now: time.Now}
	for i := range s.world.Articles {
		a := &s.world.Articles[i]
		if a.LastCommentAt.IsZero() {
			a.LastCommentAt = a.PublishedAt
			if t := newestComment(a.Comments); t.After(a.LastCommentAt) {
				a.LastCommentAt = t
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /articles", s.listArticles)
	mux.HandleFunc("GET /articles/{id}", s.getArticle)
	mux.HandleFunc("GET /organizations/{org}", s.getOrganization)
	mux.HandleFunc("GET /organizations/{org}/articles", s.listOrgArticles)
	mux.HandleFunc("GET /comments", s.listComments)
	mux.HandleFunc("GET /comments/{id}", s.getComment)
	mux.HandleFunc("GET /users/{id}", s.getUser)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, http.StatusNotFound, "not found") })
	s.mux = mux
	return s
}

// Handler returns the fake's http.Handler, for httptest.NewServer or a
// demo listener.
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP serves one request, under /api or at the root.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if p, ok := strings.CutPrefix(path, "/api"); ok && (p == "" || strings.HasPrefix(p, "/")) {
		path = p
		if path == "" {
			path = "/"
		}
	}
	s.mu.Lock()
	s.counts[path]++
	s.total++
	var fail int
	switch {
	case s.overThrottle(r):
		s.throttled++
		fail = http.StatusTooManyRequests
	case s.failNext > 0:
		s.failNext--
		fail = s.failStatus
	case s.rlCount > 0 && s.rlAfter == 0:
		s.rlCount--
		fail = http.StatusTooManyRequests
	case s.rlCount > 0:
		s.rlAfter--
	}
	retryAfter := s.retryAfter
	s.mu.Unlock()

	switch fail {
	case 0:
	case http.StatusTooManyRequests:
		// Rack::Attack's answer, whichever limit was hit.
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(fail)
		_, _ = w.Write([]byte(ThrottledBody))
		return
	default:
		writeError(w, fail, http.StatusText(fail))
		return
	}

	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = path, ""
	s.mux.ServeHTTP(w, r2)
}

// overThrottle counts r in its address's current one-second window and
// reports whether the window was already full. Called with s.mu held.
func (s *Server) overThrottle(r *http.Request) bool {
	if s.throttle <= 0 {
		return false
	}
	if sec := s.now().Unix(); sec != s.window {
		s.window, s.used = sec, map[string]int{}
	}
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	s.used[addr]++
	return s.used[addr] > s.throttle
}

// SetThrottle sets the per-address limit in requests a second (Throttle by
// default, as Dev.to); 0 turns it off, for tests that make many requests
// and are not about the limit.
func (s *Server) SetThrottle(perSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = perSecond
}

// SetClock sets the clock of the throttle's windows (time.Now by default).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Throttled returns how many requests the throttle refused.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// FailNext makes the next n requests answer 500.
func (s *Server) FailNext(n int) { s.FailNextStatus(n, http.StatusInternalServerError) }

// FailNextStatus makes the next n requests answer status, e.g. 401 or 503,
// with an error body.
func (s *Server) FailNextStatus(n, status int) {
	if status <= 0 {
		status = http.StatusInternalServerError
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failStatus = n, status
}

// RateLimitAfter serves the next n requests normally, then answers the
// following k with 429 and Retry-After (1 second unless SetRetryAfter
// changed it). RateLimitAfter(0, 0) turns it off.
func (s *Server) RateLimitAfter(n, k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rlAfter, s.rlCount = n, k
}

// SetRetryAfter sets the Retry-After value of 429 answers; "" sends none.
func (s *Server) SetRetryAfter(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = v
}

// Requests returns how many requests reached path (without /api and the
// query, e.g. "/comments" or "/users/1000001"), failed ones included.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[path]
}

// RequestCounts returns a copy of the request count of every path.
func (s *Server) RequestCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// TotalRequests returns how many requests the fake got.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetCounts sets every request count back to zero.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts, s.total = map[string]int{}, 0
}

// Update changes the world under the fake's lock. The world must still
// be valid afterwards; Update reports it if not (and keeps the change).
func (s *Server) Update(fn func(w *World)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.world)
	return s.world.Validate()
}

// AddComment adds c to an article, as a reply to the comment parentIDCode
// or at the top level when it is "", and moves the article's
// last_comment_at to c.CreatedAt if that is later, as Dev.to does.
func (s *Server) AddComment(articleID int64, parentIDCode string, c Comment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.world.article(articleID)
	if a == nil {
		return fmt.Errorf("devtofake: no article %d", articleID)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now().UTC().Truncate(time.Second)
	}
	if err := s.world.checkNewComment(c); err != nil {
		return err
	}
	if parentIDCode == "" {
		a.Comments = append(a.Comments, c)
	} else {
		p := findComment(a.Comments, parentIDCode)
		if p == nil {
			return fmt.Errorf("devtofake: article %d has no comment %q", articleID, parentIDCode)
		}
		p.Children = append(p.Children, c)
	}
	if c.CreatedAt.After(a.LastCommentAt) {
		a.LastCommentAt = c.CreatedAt
	}
	return nil
}

// DeleteComment turns a comment into a deleted placeholder; its replies stay.
func (s *Server) DeleteComment(articleID int64, idCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.world.article(articleID)
	if a == nil {
		return fmt.Errorf("devtofake: no article %d", articleID)
	}
	c := findComment(a.Comments, idCode)
	if c == nil {
		return fmt.Errorf("devtofake: article %d has no comment %q", articleID, idCode)
	}
	c.Deleted = true
	return nil
}

// HardDeleteUser deletes an account and everything it wrote, as Forem
// does when a user deletes their account: /users/{id} answers 404, their
// comments leave the trees, and the replies to those comments stay, served
// as top-level comments (their parent is gone).
func (s *Server) HardDeleteUser(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.world.user(id)
	if u == nil {
		return fmt.Errorf("devtofake: no user %d", id)
	}
	u.Deleted = true
	for i := range s.world.Articles {
		a := &s.world.Articles[i]
		kept, orphans := removeAuthor(a.Comments, id)
		a.Comments = append(kept, orphans...)
	}
	return nil
}

// removeAuthor drops the comments of user id from cs, at any depth, and
// returns what is left and the replies of the dropped comments, which the
// caller puts at the top level: Forem serves them as roots.
func removeAuthor(cs []Comment, id int64) (kept, orphans []Comment) {
	for _, c := range cs {
		var deeper []Comment
		c.Children, deeper = removeAuthor(c.Children, id)
		orphans = append(orphans, deeper...)
		if c.UserID == id && !c.Deleted && !c.Hidden {
			orphans = append(orphans, c.Children...)
			continue
		}
		kept = append(kept, c)
	}
	return kept, orphans
}

// SetLastCommentAt sets an article's last_comment_at.
func (s *Server) SetLastCommentAt(articleID int64, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.world.article(articleID)
	if a == nil {
		return fmt.Errorf("devtofake: no article %d", articleID)
	}
	a.LastCommentAt = t
	return nil
}

// LastCommentAt returns an article's last_comment_at as the API renders it.
func (s *Server) LastCommentAt(articleID int64) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.world.article(articleID)
	if a == nil {
		return "", false
	}
	return ts(a.LastCommentAt), true
}

// --- handlers ---

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorJSON{Error: msg, Status: status})
}

// pageParams reads page and per_page the way Forem does: page is 1-based,
// per_page defaults to 30 and is capped at 1000; values that are not
// positive numbers fall back to the defaults.
func pageParams(r *http.Request) (page, perPage int) {
	page, perPage = 1, DefaultPerPage
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 0 {
		page = n
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && n > 0 {
		perPage = min(n, MaxPerPage)
	}
	return page, perPage
}

// writeArticlePage sorts articles newest first and writes the asked page.
func (s *Server) writeArticlePage(w http.ResponseWriter, r *http.Request, keep func(a *Article) bool) {
	page, perPage := pageParams(r)
	s.mu.Lock()
	var list []*Article
	for i := range s.world.Articles {
		if a := &s.world.Articles[i]; keep(a) {
			list = append(list, a)
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].PublishedAt.Equal(list[j].PublishedAt) {
			return list[i].PublishedAt.After(list[j].PublishedAt)
		}
		return list[i].ID > list[j].ID
	})
	out := []articleJSON{}
	if start := (page - 1) * perPage; start < len(list) {
		for _, a := range list[start:min(start+perPage, len(list))] {
			out = append(out, s.world.renderArticle(a, false))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listArticles(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("username")
	if name == "" {
		s.writeArticlePage(w, r, func(*Article) bool { return true })
		return
	}
	// username= takes a user or an organization; an unknown one gives an
	// empty list, not a 404.
	s.mu.Lock()
	var uid int64
	if u := s.world.userByName(name); u != nil {
		uid = u.ID
	}
	s.mu.Unlock()
	s.writeArticlePage(w, r, func(a *Article) bool {
		return (uid != 0 && a.UserID == uid) || a.Organization == name
	})
}

func (s *Server) listOrgArticles(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("org")
	s.mu.Lock()
	found := s.world.org(slug) != nil
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	s.writeArticlePage(w, r, func(a *Article) bool { return a.Organization == slug })
}

func (s *Server) getArticle(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.world.article(id)
	if err != nil || a == nil {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	writeJSON(w, http.StatusOK, s.world.renderArticle(a, true))
}

func (s *Server) getOrganization(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.world.org(r.PathValue("org"))
	if o == nil {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	writeJSON(w, http.StatusOK, renderOrg(o))
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.URL.Query().Get("a_id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.world.article(id)
	if err != nil || a == nil {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	writeJSON(w, http.StatusOK, s.world.renderComments(a.Comments))
}

func (s *Server) getComment(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.world.Articles {
		if c := findComment(s.world.Articles[i].Comments, code); c != nil {
			writeJSON(w, http.StatusOK, s.world.renderComment(c))
			return
		}
	}
	writeError(w, http.StatusNotFound, "not found")
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var u *User
	if idStr := r.PathValue("id"); idStr == "by_username" {
		u = s.world.userByName(r.URL.Query().Get("url"))
	} else if id, err := strconv.ParseInt(idStr, 10, 64); err == nil {
		u = s.world.user(id)
	}
	if u == nil || u.Deleted {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	writeJSON(w, http.StatusOK, renderUser(u))
}
