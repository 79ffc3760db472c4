package quotafake

import (
	"encoding/json"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HeaderMode is what the middleware tells a client about its budget.
type HeaderMode int

const (
	// HeadersRetryAfterOnly sends Retry-After on a 429 and nothing else,
	// as Slack does.
	HeadersRetryAfterOnly HeaderMode = iota
	// HeadersXRateLimit also sends X-RateLimit-Limit, -Remaining and
	// -Reset on every answer.
	HeadersXRateLimit
)

// The rate-limit headers, as the APIs spell them.
const (
	HeaderRetryAfter = "Retry-After"
	HeaderLimit      = "X-RateLimit-Limit"
	HeaderRemaining  = "X-RateLimit-Remaining"
	HeaderReset      = "X-RateLimit-Reset"
)

// Options configure the middleware. The zero value of a field takes the
// default given beside it.
type Options struct {
	// Latency is how long every answer takes. Default 0.
	Latency time.Duration
	// Limit is how many requests a credential may make per Window.
	// Default 20.
	Limit int
	// Window is the length of a credential's fixed window. Default 1 s.
	Window time.Duration
	// Headers is what the answers say about the budget. Default
	// HeadersRetryAfterOnly.
	Headers HeaderMode
	// Refusal writes the 429 (status and body; the rate-limit headers are
	// already set). Default GenericRefusal.
	Refusal Refusal
	// Token finds a request's credential. Default Token.
	Token func(*http.Request) string
	// Now is the clock of the windows. Default time.Now.
	Now func() time.Time
}

// Refusal writes a 429 answer's status and body.
type Refusal func(w http.ResponseWriter, retryAfter time.Duration)

// Counts is what the middleware saw of one credential (or of all).
type Counts struct {
	// Served counts the requests passed to the fake.
	Served int
	// Limited counts the requests refused with 429.
	Limited int
	// FirstServed and LastServed are when the first and the last served
	// requests arrived (zero when none was served).
	FirstServed, LastServed time.Time
}

// Requests is every request counted, served or refused.
func (c Counts) Requests() int { return c.Served + c.Limited }

// Middleware is the quota-enforcing wrapper of one fake. Make it with New.
type Middleware struct {
	next http.Handler
	opts Options

	mu      sync.Mutex
	windows map[string]*window
	counts  map[string]*Counts
}

// window is one credential's current fixed window.
type window struct {
	end  time.Time
	used int
}

// New wraps next (a platform fake) in the quota and the latency.
func New(next http.Handler, opts Options) *Middleware {
	if opts.Limit <= 0 {
		opts.Limit = 20
	}
	if opts.Window <= 0 {
		opts.Window = time.Second
	}
	if opts.Refusal == nil {
		opts.Refusal = GenericRefusal
	}
	if opts.Token == nil {
		opts.Token = Token
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Middleware{next: next, opts: opts, windows: map[string]*window{}, counts: map[string]*Counts{}}
}

// Limit and Window are the quota in force: Limit requests per Window.
func (m *Middleware) Limit() int            { return m.opts.Limit }
func (m *Middleware) Window() time.Duration { return m.opts.Window }

// MinimumTime is the least time served requests can take under the
// quota: the windows they fill, ignoring the last one's partial length
// (served ÷ Limit × Window, the figure the benchmarks divide by).
func (m *Middleware) MinimumTime(served int) time.Duration {
	return time.Duration(float64(served) / float64(m.opts.Limit) * float64(m.opts.Window))
}

// ServeHTTP counts the request against its credential's window, then
// serves it from the fake or refuses it, after the latency.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := m.opts.Token(r)
	served, remaining, reset := m.take(token)
	if m.opts.Headers == HeadersXRateLimit {
		h := w.Header()
		h.Set(HeaderLimit, strconv.Itoa(m.opts.Limit))
		h.Set(HeaderRemaining, strconv.Itoa(remaining))
		h.Set(HeaderReset, strconv.FormatFloat(float64(reset.UnixMilli())/1000, 'f', 3, 64))
	}
	if m.opts.Latency > 0 {
		t := time.NewTimer(m.opts.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			// The client gave up: nobody reads the answer.
			t.Stop()
			return
		}
	}
	if !served {
		wait := reset.Sub(m.opts.Now())
		w.Header().Set(HeaderRetryAfter, strconv.Itoa(RetryAfterSeconds(wait)))
		m.opts.Refusal(w, wait)
		return
	}
	m.next.ServeHTTP(w, r)
}

// take counts one request of token: whether it is served, the budget
// left in its window after it, and when the window closes.
func (m *Middleware) take(token string) (served bool, remaining int, reset time.Time) {
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	win := m.windows[token]
	if win == nil || !now.Before(win.end) {
		win = &window{end: now.Add(m.opts.Window)}
		m.windows[token] = win
	}
	c := m.counts[token]
	if c == nil {
		c = &Counts{}
		m.counts[token] = c
	}
	if win.used >= m.opts.Limit {
		c.Limited++
		return false, 0, win.end
	}
	win.used++
	c.Served++
	if c.FirstServed.IsZero() {
		c.FirstServed = now
	}
	c.LastServed = now
	return true, m.opts.Limit - win.used, win.end
}

// Counts returns what was counted for one credential.
func (m *Middleware) Counts(token string) Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.counts[token]; c != nil {
		return *c
	}
	return Counts{}
}

// Tokens returns the counts of every credential seen, by credential.
func (m *Middleware) Tokens() map[string]Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Counts, len(m.counts))
	for t, c := range m.counts {
		out[t] = *c
	}
	return out
}

// Total sums the counts of every credential (the first and last served
// times are the earliest and the latest of all).
func (m *Middleware) Total() Counts {
	var total Counts
	for _, c := range m.Tokens() {
		total.Served += c.Served
		total.Limited += c.Limited
		if !c.FirstServed.IsZero() && (total.FirstServed.IsZero() || c.FirstServed.Before(total.FirstServed)) {
			total.FirstServed = c.FirstServed
		}
		if c.LastServed.After(total.LastServed) {
			total.LastServed = c.LastServed
		}
	}
	return total
}

// Reset forgets every window and count (between two measured runs).
func (m *Middleware) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.windows = map[string]*window{}
	m.counts = map[string]*Counts{}
}

// RetryAfterSeconds is Retry-After's whole seconds for a wait: rounded
// up, so that a client waiting that long finds the window closed, and at
// least 1 (0 would invite an immediate retry into the same window).
func RetryAfterSeconds(wait time.Duration) int {
	return max(int(math.Ceil(wait.Seconds())), 1)
}

// Token finds a request's credential as the real APIs take it: the
// Authorization header's credential whatever the scheme (Bearer, Bot,
// token), Dev.to's api-key header, Slack's token form field or query
// parameter; without any, "ip:" and the client's address, as anonymous
// reads are counted per address. Slack's form field is read with
// ParseForm, which leaves r.Form to the fake.
func Token(r *http.Request) string {
	if auth := strings.TrimSpace(r.Header.Get("Authorization")); auth != "" {
		if _, cred, ok := strings.Cut(auth, " "); ok {
			return strings.TrimSpace(cred)
		}
		return auth
	}
	if key := r.Header.Get("api-key"); key != "" {
		return key
	}
	if err := r.ParseForm(); err == nil {
		if t := r.Form.Get("token"); t != "" {
			return t
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}

// GenericRefusal answers 429 with a JSON message.
func GenericRefusal(w http.ResponseWriter, _ time.Duration) {
	writeJSON(w, map[string]any{"message": "rate limit exceeded"})
}

// SlackRefusal answers as Slack does: {"ok":false,"error":"ratelimited"}.
func SlackRefusal(w http.ResponseWriter, _ time.Duration) {
	writeJSON(w, map[string]any{"ok": false, "error": "ratelimited"})
}

// DiscordRefusal answers as Discord's global limit does: retry_after in
// seconds with decimals, global true, and the X-RateLimit-Global and
// -Scope headers.
func DiscordRefusal(w http.ResponseWriter, retryAfter time.Duration) {
	w.Header().Set("X-RateLimit-Global", "true")
	w.Header().Set("X-RateLimit-Scope", "global")
	writeJSON(w, map[string]any{
		"message": "You are being rate limited.", "retry_after": math.Round(retryAfter.Seconds()*1000) / 1000, "global": true,
	})
}

// DevtoRefusal answers as Dev.to's Rack::Attack does: plain text.
func DevtoRefusal(w http.ResponseWriter, _ time.Duration) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte("Retry later\n"))
}

func writeJSON(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(body)
}
