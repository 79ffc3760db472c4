package quotafake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations/slack/slackfake"
)

// clock is a settable clock for the windows.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// okFake stands for a platform fake: 200 "ok", and it counts its calls.
type okFake struct{ calls atomic.Int64 }

func (f *okFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok")
}

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func get(h http.Handler, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/api/thing", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestToken(t *testing.T) {
	form := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/api/conversations.history", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	header := func(k, v string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header.Set(k, v)
		return r
	}
	tests := []struct {
		name string
		req  *http.Request
		want string
	}{
		{"bearer (Slack, Twitter, GitHub GraphQL)", header("Authorization", "Bearer xoxb-1"), "xoxb-1"},
		{"lower-case bearer (the GitHub client)", header("Authorization", "bearer ghs_1"), "ghs_1"},
		{"Discord bot token", header("Authorization", "Bot MTA.x.y"), "MTA.x.y"},
		{"GitHub token scheme", header("Authorization", "token ghp_1"), "ghp_1"},
		{"no scheme", header("Authorization", "raw"), "raw"},
		{"Dev.to api-key", header("api-key", "devto-key"), "devto-key"},
		{"Slack form field", form("channel=C1&token=xoxb-2"), "xoxb-2"},
		{"Slack query parameter", httptest.NewRequest(http.MethodGet, "/api/team.info?token=xoxb-3", nil), "xoxb-3"},
		{"anonymous: the client's address", httptest.NewRequest(http.MethodGet, "/api/articles", nil), "ip:192.0.2.1"},
		{"header wins over the form", func() *http.Request {
			r := form("token=form-token")
			r.Header.Set("Authorization", "Bearer header-token")
			return r
		}(), "header-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Token(tt.req))
		})
	}
}

// The fake behind still reads a form the middleware parsed.
func TestFormReachesTheFake(t *testing.T) {
	var seen url.Values
	m := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		seen = r.Form
	}), Options{})
	r := httptest.NewRequest(http.MethodPost, "/api/conversations.history", strings.NewReader("channel=C1&token=xoxb-2"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	m.ServeHTTP(httptest.NewRecorder(), r)
	assert.Equal(t, "C1", seen.Get("channel"))
	assert.Equal(t, "xoxb-2", seen.Get("token"))
	assert.Equal(t, 1, m.Counts("xoxb-2").Served)
}

// Requests at given offsets from t0, and what each gets.
func TestWindow(t *testing.T) {
	type step struct {
		at         time.Duration
		token      string
		status     int
		retryAfter string // "" when none is sent
		remaining  string
		reset      string
	}
	const a, b = "token-a", "token-b"
	tests := []struct {
		name    string
		opts    Options
		steps   []step
		counts  map[string]Counts
		minimum time.Duration
	}{
		{
			name: "X-RateLimit headers, 3 per second",
			opts: Options{Limit: 3, Headers: HeadersXRateLimit},
			steps: []step{
				{0, a, 200, "", "2", "1795867201.000"},
				{100 * time.Millisecond, a, 200, "", "1", "1795867201.000"},
				{200 * time.Millisecond, a, 200, "", "0", "1795867201.000"},
				// Over: 800 ms left, rounded up to 1 s.
				{200 * time.Millisecond, a, 429, "1", "0", "1795867201.000"},
				{999 * time.Millisecond, a, 429, "1", "0", "1795867201.000"},
				// The window closed at 1 s; this request opens the next.
				{1500 * time.Millisecond, a, 200, "", "2", "1795867202.500"},
			},
			counts:  map[string]Counts{a: {Served: 4, Limited: 2, FirstServed: t0, LastServed: t0.Add(1500 * time.Millisecond)}},
			minimum: 4 * time.Second / 3,
		},
		{
			name: "Retry-After only, as Slack: no budget headers",
			opts: Options{Limit: 1, Window: time.Minute},
			steps: []step{
				{0, a, 200, "", "", ""},
				// 59.5 s left: Retry-After 60.
				{500 * time.Millisecond, a, 429, "60", "", ""},
				{59 * time.Second, a, 429, "1", "", ""},
				{time.Minute, a, 200, "", "", ""},
			},
			counts:  map[string]Counts{a: {Served: 2, Limited: 2, FirstServed: t0, LastServed: t0.Add(time.Minute)}},
			minimum: 2 * time.Minute,
		},
		{
			name: "each credential its own window",
			opts: Options{Limit: 1, Headers: HeadersXRateLimit},
			steps: []step{
				{0, a, 200, "", "0", "1795867201.000"},
				{0, a, 429, "1", "0", "1795867201.000"},
				{300 * time.Millisecond, b, 200, "", "0", "1795867201.300"},
				{400 * time.Millisecond, b, 429, "1", "0", "1795867201.300"},
			},
			counts: map[string]Counts{
				a: {Served: 1, Limited: 1, FirstServed: t0, LastServed: t0},
				b: {Served: 1, Limited: 1, FirstServed: t0.Add(300 * time.Millisecond), LastServed: t0.Add(300 * time.Millisecond)},
			},
			minimum: 2 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: t0}
			fake := &okFake{}
			tt.opts.Now = clk.now
			m := New(fake, tt.opts)
			served := 0
			for i, s := range tt.steps {
				clk.set(t0.Add(s.at))
				w := get(m, s.token)
				assert.Equal(t, s.status, w.Code, "step %d", i)
				assert.Equal(t, s.retryAfter, w.Header().Get(HeaderRetryAfter), "step %d Retry-After", i)
				assert.Equal(t, s.remaining, w.Header().Get(HeaderRemaining), "step %d remaining", i)
				assert.Equal(t, s.reset, w.Header().Get(HeaderReset), "step %d reset", i)
				if tt.opts.Headers == HeadersXRateLimit {
					assert.Equal(t, strconv.Itoa(tt.opts.Limit), w.Header().Get(HeaderLimit), "step %d limit", i)
				} else {
					assert.Empty(t, w.Header().Get(HeaderLimit), "step %d limit", i)
				}
				if s.status == 200 {
					served++
					assert.Equal(t, "ok", w.Body.String())
				}
			}
			assert.Equal(t, int64(served), fake.calls.Load(), "a refused request never reaches the fake")
			assert.Equal(t, tt.counts, m.Tokens())
			total := m.Total()
			assert.Equal(t, served, total.Served)
			assert.Equal(t, len(tt.steps), total.Requests())
			assert.Equal(t, tt.minimum, m.MinimumTime(total.Served))
			m.Reset()
			assert.Empty(t, m.Tokens())
		})
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name        string
		refusal     Refusal
		contentType string
		body        string
		header      map[string]string
	}{
		{"generic", nil, "application/json; charset=utf-8", `{"message":"rate limit exceeded"}`, nil},
		{"Slack", SlackRefusal, "application/json; charset=utf-8", `{"error":"ratelimited","ok":false}`, nil},
		{"Discord's global limit", DiscordRefusal, "application/json; charset=utf-8",
			`{"global":true,"message":"You are being rate limited.","retry_after":0.75}`,
			map[string]string{"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}},
		{"Dev.to's Rack::Attack", DevtoRefusal, "text/plain", "Retry later\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: t0}
			m := New(&okFake{}, Options{Limit: 1, Refusal: tt.refusal, Now: clk.now})
			require.Equal(t, 200, get(m, "t").Code)
			clk.set(t0.Add(250 * time.Millisecond))
			w := get(m, "t")
			require.Equal(t, http.StatusTooManyRequests, w.Code)
			assert.Equal(t, "1", w.Header().Get(HeaderRetryAfter))
			assert.Equal(t, tt.contentType, w.Header().Get("Content-Type"))
			if strings.HasPrefix(tt.contentType, "application/json") {
				assert.JSONEq(t, tt.body, w.Body.String())
			} else {
				assert.Equal(t, tt.body, w.Body.String())
			}
			for k, v := range tt.header {
				assert.Equal(t, v, w.Header().Get(k), k)
			}
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		want int
	}{
		{0, 1}, {-time.Second, 1}, {time.Millisecond, 1}, {time.Second, 1},
		{time.Second + time.Nanosecond, 2}, {59500 * time.Millisecond, 60},
	} {
		assert.Equal(t, tt.want, RetryAfterSeconds(tt.wait), tt.wait.String())
	}
}

// Many clients at once on one credential, within one window: exactly
// Limit are served, whatever the interleaving (run with -race).
func TestConcurrentOneWindow(t *testing.T) {
	clk := &clock{t: t0}
	fake := &okFake{}
	m := New(fake, Options{Limit: 20, Now: clk.now})
	var wg sync.WaitGroup
	var ok, refused atomic.Int64
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				switch get(m, "shared").Code {
				case 200:
					ok.Add(1)
				case 429:
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(20), ok.Load())
	assert.Equal(t, int64(480), refused.Load())
	assert.Equal(t, int64(20), fake.calls.Load())
	assert.Equal(t, Counts{Served: 20, Limited: 480, FirstServed: t0, LastServed: t0}, m.Counts("shared"))
}

// Every answer, a refusal too, waits for the latency; over real HTTP,
// with the real clock.
func TestLatency(t *testing.T) {
	const latency = 50 * time.Millisecond
	m := New(&okFake{}, Options{Latency: latency, Limit: 1, Window: time.Hour, Refusal: SlackRefusal})
	srv := httptest.NewServer(m)
	defer srv.Close()
	for _, want := range []int{200, 429} {
		start := time.Now()
		resp, err := http.PostForm(srv.URL+"/api/users.list", url.Values{"token": {"xoxb-lat"}})
		require.NoError(t, err)
		elapsed := time.Since(start)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, string(body))
		assert.GreaterOrEqual(t, elapsed, latency, "answered before the latency")
		if want == 429 {
			var slack struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			require.NoError(t, json.Unmarshal(body, &slack))
			assert.Equal(t, "ratelimited", slack.Error)
			assert.Equal(t, "3600", resp.Header.Get(HeaderRetryAfter))
		}
	}
	assert.Equal(t, Counts{Served: 1, Limited: 1}, withoutTimes(m.Counts("xoxb-lat")))
}

func withoutTimes(c Counts) Counts {
	c.FirstServed, c.LastServed = time.Time{}, time.Time{}
	return c
}

// The Slack client the integration uses reads the middleware's refusal in
// front of the Slack fake as Slack's own: a RateLimitedError with the
// window's remaining time.
func TestSlackClientReadsTheRefusal(t *testing.T) {
	const token = "xoxb-quotafake-test"
	world := slackfake.World{
		Team: slackfake.Team{ID: "TQUOTA0001", Name: "Quota", Domain: "quota"}, BotToken: token, BotUserID: "UQUOTABOT1",
		Users: []slackfake.User{{ID: "UQUOTABOT1", Name: "bot", IsBot: true, BotID: "BQUOTABOT1"}},
	}
	m := New(slackfake.New(world), Options{Limit: 1, Window: time.Minute, Refusal: SlackRefusal})
	srv := httptest.NewServer(m)
	defer srv.Close()
	api := slackapi.New(token, slackapi.OptionAPIURL(srv.URL+"/"))
	// One page at a time, as the integration asks (GetUsers would wait
	// out the 429 itself).
	_, err := api.GetUsersPaginated().Next(context.Background())
	require.NoError(t, err)
	_, err = api.GetUsersPaginated().Next(context.Background())
	var rl *slackapi.RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.Equal(t, time.Minute, rl.RetryAfter)
	assert.Equal(t, Counts{Served: 1, Limited: 1}, withoutTimes(m.Counts(token)))
}
