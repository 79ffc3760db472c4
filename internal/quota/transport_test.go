package quota_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/pgtest"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/internal/quota/quotatest"
	"github.com/crowdflow/crowdflow/internal/quotafake"
	"github.com/crowdflow/crowdflow/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openStore(t testing.TB, url string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// ok stands for a platform fake.
var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"ok":true}`) })

// slackCall is a Slack Web API call as slack-go makes it: a POST form with
// the token in it.
func slackCall(ctx context.Context, c *http.Client, base, token string) (int, error) {
	form := url.Values{"token": {token}, "channel": {"C1"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/conversations.history", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Two workers (two stores, two clients, four callers each) share one
// token against a server that allows 20 calls a second and refuses
// beyond. With rate-limit headers the ledger reserves against them and
// the server refuses nothing; with only Retry-After it learns the pace
// from the first refusals and keeps to it.
func TestTwoWorkersShareACredential(t *testing.T) {
	const (
		calls   = 80
		callers = 4
		limit   = 20
		token   = "xoxb-shared-secret"
	)
	for _, tc := range []struct {
		name        string
		headers     quotafake.HeaderMode
		maxRefusals int
	}{
		{"with rate-limit headers", quotafake.HeadersXRateLimit, 0},
		// The first window is learned by its refusals: at most the calls
		// in flight when it filled (2 workers x 4 callers), once more
		// if the first estimate was too fast.
		{"with Retry-After only", quotafake.HeadersRetryAfterOnly, 2 * 2 * callers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := quotafake.New(ok, quotafake.Options{Latency: 20 * time.Millisecond, Limit: limit, Window: time.Second, Headers: tc.headers, Refusal: quotafake.SlackRefusal})
			srv := httptest.NewServer(fake)
			defer srv.Close()
			start := time.Now()
			twoWorkers(t, srv.URL, token, calls, callers)
			elapsed := time.Since(start)
			c := fake.Counts(token)
			t.Logf("%d served, %d refused in %v (the quota's minimum %v: %.2f)", c.Served, c.Limited, elapsed.Round(time.Millisecond),
				fake.MinimumTime(c.Served), float64(elapsed)/float64(fake.MinimumTime(c.Served)))
			if c.Limited > tc.maxRefusals {
				t.Errorf("the server refused %d calls, want at most %d", c.Limited, tc.maxRefusals)
			}
			if c.Served < calls {
				t.Errorf("served %d, want %d", c.Served, calls)
			}
		})
	}
}

// twoWorkers makes calls successful Slack calls on token from two
// workers (two stores on one new database, each with its client and
// callers goroutines), each waiting out a RateLimitedError as the engine
// would.
func twoWorkers(t testing.TB, url, token string, calls, callers int32) {
	db := pgtest.NewDatabase(t)
	var done atomic.Int32
	var wg sync.WaitGroup
	for w := range 2 {
		ledger := openStore(t, db)
		client := quota.Wrap(&http.Client{Timeout: 10 * time.Second}, quota.Slack)
		ctx := quota.WithLedger(context.Background(), ledger)
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for done.Load() < calls {
					status, err := slackCall(ctx, client, url, token)
					var rl *integrations.RateLimitedError
					switch {
					case errors.As(err, &rl):
						time.Sleep(time.Until(rl.Until))
					case err != nil:
						t.Errorf("worker %d: %v", w, err)
						return
					case status == http.StatusOK:
						done.Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
}

// A budget that is not back within the wait in place is a
// RateLimitedError without a call; a route's carries its bucket, and it
// is found through the client's wrapping.
func TestLongWaitIsRateLimitedError(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-RateLimit-Limit", "5")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset-After", "3600")
		_, _ = io.WriteString(w, "[]")
	}))
	defer srv.Close()
	s := openStore(t, pgtest.NewDatabase(t))
	ctx := quota.WithLedger(context.Background(), s)
	c := quota.Wrap(nil, quota.Discord)
	get := func(path string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bot secret")
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get("/api/v10/channels/1/messages"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := get("/api/v10/channels/1/messages?before=5")
	rl, isRL := integrations.AsRateLimited(err)
	if !isRL {
		t.Fatalf("got %v, want a RateLimitedError", err)
	}
	if rl.Bucket != "GET /channels/1/messages" || time.Until(rl.Until) < 59*time.Minute {
		t.Fatalf("got %+v", rl)
	}
	if time.Since(start) > time.Second || hits.Load() != 1 {
		t.Fatalf("waited %v, %d calls: want no wait and no call", time.Since(start), hits.Load())
	}
	// Another route of the same bot is not held.
	if err := get("/api/v10/channels/2/messages"); err != nil {
		t.Fatalf("another route: %v", err)
	}
}

// A short 429 on a read is waited out and the read sent again; an OAuth
// token request is never booked nor sent twice; without a ledger nothing
// is booked.
func TestRetriesAndSkips(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "0.2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, "{}")
	}))
	defer srv.Close()
	s := openStore(t, pgtest.NewDatabase(t))
	do := func(ctx context.Context, p quota.Policy, method, path string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader("grant_type=refresh_token&refresh_token=r1"))
		req.Header.Set("Authorization", "Bearer secret")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := quota.Wrap(nil, p).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ctx := quota.WithLedger(context.Background(), s)

	hits.Store(0)
	if got := do(ctx, quota.Twitter, http.MethodGet, "/2/users/1/followers"); got != http.StatusOK || hits.Load() != 2 {
		t.Fatalf("read: status %d after %d calls, want 200 after 2", got, hits.Load())
	}
	hits.Store(0)
	if got := do(ctx, quota.Twitter, http.MethodPost, "/2/oauth2/token"); got != http.StatusTooManyRequests || hits.Load() != 1 {
		t.Fatalf("token request: status %d after %d calls, want the 429 after 1", got, hits.Load())
	}
	hits.Store(0)
	if got := do(context.Background(), quota.Twitter, http.MethodGet, "/2/users/1/followers"); got != http.StatusTooManyRequests || hits.Load() != 1 {
		t.Fatalf("no ledger: status %d after %d calls, want the 429 after 1", got, hits.Load())
	}
	var n int
	if err := s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM "quotaLedger" WHERE key LIKE '%oauth2%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("token requests booked: %d rows (%v)", n, err)
	}
}

// No credential reaches the ledger's table or the logs: keys hold a hash.
func TestNoTokenReachesTheLedgerOrLogs(t *testing.T) {
	const secret = "xoxb-0123-do-not-store"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "100")
		w.Header().Set("X-RateLimit-Remaining", "99")
		w.Header().Set("X-RateLimit-Reset-After", "1")
		_, _ = io.WriteString(w, "{}")
	}))
	defer srv.Close()
	s := openStore(t, pgtest.NewDatabase(t))
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	send := func(ctx context.Context, p quota.Policy) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/x", strings.NewReader(url.Values{"token": {secret}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("api-key", secret)
		c := &http.Client{Transport: &quota.Transport{Policy: p, Logger: logger}}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, p := range []quota.Policy{quota.Slack, quota.Devto, quota.Discord, quota.Twitter, quota.GitHub, quota.Default} {
		send(quota.WithLedger(context.Background(), s), p)
		send(quota.WithLedger(context.Background(), failing{}), p)
	}
	rows, err := s.Pool().Query(context.Background(), `SELECT row_to_json(q)::text FROM "quotaLedger" q`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			t.Fatal(err)
		}
		n++
		if strings.Contains(row, "0123") || strings.Contains(row, "do-not-store") {
			t.Errorf("a ledger row holds the token: %s", row)
		}
	}
	if n < 6 {
		t.Fatalf("%d ledger rows, want one per policy at least", n)
	}
	if !strings.Contains(logs.String(), "calling unbooked") {
		t.Fatalf("the failing ledger was not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "0123") || strings.Contains(logs.String(), "do-not-store") {
		t.Fatalf("the logs hold the token: %s", logs.String())
	}
}

// failing is a ledger that is down.
type failing struct{}

func (failing) Reserve(context.Context, []quota.Ask, time.Time, time.Duration) (quota.Booking, error) {
	return quota.Booking{}, errors.New("connection refused")
}

func (failing) Observe(context.Context, quota.Observation, time.Time) error {
	return errors.New("connection refused")
}

// A 429's JSON body refines its headers (Discord's retry_after has
// milliseconds where Retry-After has whole seconds, and "global" says the
// whole bot is refused), and the client still reads the body.
func TestRefusalBody(t *testing.T) {
	const body = `{"message":"You are being rate limited.","retry_after":0.25,"global":true}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	open := &quotatest.Open{}
	req, _ := http.NewRequestWithContext(quota.WithLedger(context.Background(), open), http.MethodPost, srv.URL+"/api/v10/channels/1/messages", nil)
	req.Header.Set("Authorization", "Bot secret")
	start := time.Now()
	resp, err := quota.Wrap(nil, quota.Discord).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != body {
		t.Fatalf("the client read %q", got)
	}
	var refused []quota.Observation
	for _, o := range open.Observations() {
		if o.Refused {
			refused = append(refused, o)
		}
	}
	if len(refused) != 1 || !strings.HasSuffix(refused[0].Key, "|global") {
		t.Fatalf("refusals fed: %+v, want one, of the global budget", refused)
	}
	if d := refused[0].Until.Sub(start); d < 200*time.Millisecond || d > 900*time.Millisecond {
		t.Fatalf("blocked for %v, want the body's 250 ms", d)
	}
}
