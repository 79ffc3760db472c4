package devto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/quota"
)

const (
	// acceptV1 selects the API v1 (api-quirks §2.4.1).
	acceptV1 = "application/vnd.forem.api-v1+json"
	// defaultRetryAfter is the wait after a 429 that says nothing usable;
	// the v0 docs say "try again in 30 seconds".
	defaultRetryAfter = 30 * time.Second
	// maxBody bounds what one response may make us read.
	maxBody = 64 << 20
	// DefaultRequestsPerSecond paces the requests of a Service: Forem
	// lets an address make 3 API reads a second (Rack::Attack
	// "api_throttle"), all credentials together, and answers 429 past it.
	DefaultRequestsPerSecond = 3
	// maxWaitInPlace is the longest Retry-After waited out inside the call
	// (as crowd.dev did, up to 2 s): the throttle's own 429 says 1 s, and
	// sleeping it keeps what the stream fetched so far. A longer wait
	// becomes a RateLimitedError, which the engine waits out on a
	// durable timer and then runs the stream again.
	maxWaitInPlace = 2 * time.Second
	// maxRetriesInPlace bounds the in-place retries of one request.
	maxRetriesInPlace = 5
)

// errNotFound is a 404: callers decide what a missing thing means.
var errNotFound = errors.New("not found")

// client is a thin client of the few Dev.to API v1 calls the service makes.
type client struct {
	base string // e.g. https://dev.to/api, no trailing slash
	http *http.Client
	now  func() time.Time
	// pace spaces every request of the process's Service when the call's
	// context carries no quota ledger (a service called outside an
	// activity: tests, tools): Forem counts per address, so one limiter
	// for all integrations and keys (nil: no pacing). Its burst is 1, so
	// no fixed one-second window ever sees more than the rate's requests.
	// In an activity the ledger paces instead (quota.Devto), for every
	// worker of the address at once, not per process.
	pace *rate.Limiter
}

// article is an item of an article list, reduced to what the service uses.
type article struct {
	ID            int64  `json:"id"`
	Title         string `json:"title"`
	URL           string `json:"url"`
	LastCommentAt string `json:"last_comment_at"`
}

// comment is a node of the tree /comments returns.
type comment struct {
	IDCode    string    `json:"id_code"`
	CreatedAt time.Time `json:"created_at"`
	BodyHTML  string    `json:"body_html"`
	User      *treeUser `json:"user"`
	Children  []comment `json:"children"`
}

// treeUser is the user a comment of the tree carries: {} on placeholders.
type treeUser struct {
	UserID   int64  `json:"user_id"`
	Username string `json:"username"`
	Name     string `json:"name"`
}

// user is what /users/{id} returns.
type user struct {
	ID       int64   `json:"id"`
	Username string  `json:"username"`
	Name     string  `json:"name"`
	Summary  *string `json:"summary"`
	Location *string `json:"location"`
}

// throttled is a 429 answer: how long it asks to wait.
type throttled struct {
	call string
	wait time.Duration
}

func (e *throttled) Error() string { return "devto " + e.call + ": 429 Too Many Requests" }

// get fetches path (below the base URL) with query and decodes the JSON
// answer into out, paced by c.pace. A 429 that asks for a short wait
// (maxWaitInPlace) is waited out and the request sent again, a few times;
// the activity heartbeats meanwhile (it heartbeats during every service
// call), and ctx ends the wait. Another 429 becomes a RateLimitedError.
// apiKey, when set, is sent in the api-key header and never appears in
// errors or logs.
func (c *client) get(ctx context.Context, path string, query url.Values, apiKey string, out any) error {
	for attempt := 0; ; attempt++ {
		if c.pace != nil && quota.LedgerFrom(ctx) == nil {
			if err := c.pace.Wait(ctx); err != nil {
				return fmt.Errorf("devto GET %s: %w", path, err)
			}
		}
		err := c.getOnce(ctx, path, query, apiKey, out)
		var th *throttled
		if !errors.As(err, &th) {
			return err
		}
		if th.wait > maxWaitInPlace || attempt >= maxRetriesInPlace {
			return integrations.RateLimited(c.now().Add(th.wait), th.Error())
		}
		t := time.NewTimer(th.wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("devto GET %s: %w", path, ctx.Err())
		case <-t.C:
		}
	}
}

// getOnce sends one request; a 429 is a *throttled.
func (c *client) getOnce(ctx context.Context, path string, query url.Values, apiKey string, out any) error {
	ref := path
	if len(query) > 0 {
		ref += "?" + query.Encode()
	}
	u := c.base + ref
	// What errors name: the path and query (an article id, a page, a user
	// name), never the host nor a credential, which only travels in a header.
	call := "GET " + ref
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("devto %s: %w", call, err)
	}
	req.Header.Set("Accept", acceptV1)
	req.Header.Set("User-Agent", "crowdflow-devto")
	if apiKey != "" {
		req.Header.Set("api-key", apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error repeats the URL, which holds no secret: the key is a header.
		return fmt.Errorf("devto %s: %w", call, err)
	}
	defer resp.Body.Close()

	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
	case s == http.StatusTooManyRequests:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		// Rack::Attack's body is plain text ("Retry later"): only the
		// header counts.
		return &throttled{call: call, wait: retryAfter(resp.Header.Get("Retry-After"), c.now())}
	case s == http.StatusNotFound:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("devto %s: %w", call, errNotFound)
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return integrations.Permanent(fmt.Errorf("devto %s: %s%s", call, resp.Status, apiMessage(resp.Body)))
	default:
		return fmt.Errorf("devto %s: %s%s", call, resp.Status, apiMessage(resp.Body))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
		return fmt.Errorf("devto %s: decoding the answer: %w", call, err)
	}
	return nil
}

// apiMessage returns ": <error>" from a {"error":...,"status":N} body, or "".
func apiMessage(body io.Reader) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.NewDecoder(io.LimitReader(body, 4096)).Decode(&e) != nil || e.Error == "" {
		return ""
	}
	msg := e.Error
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return ": " + msg
}

// retryAfter reads a Retry-After value: delta seconds (decimals are
// tolerated) or an HTTP date. A missing, malformed or negative value gives
// defaultRetryAfter, so that a 429 is never retried in a tight loop.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return defaultRetryAfter
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || secs != secs || secs > 7*24*3600 { // NaN and absurd values too
			return defaultRetryAfter
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
		return 0
	}
	return defaultRetryAfter
}

// listArticles pages through path (an article list) from page 1 until an
// empty page and returns its articles, each once. Dev.to pages by number
// only, with no total and no Link header (api-quirks §2.4.2).
func (c *client) listArticles(ctx context.Context, path string, query url.Values, perPage int, apiKey string) ([]article, error) {
	var out []article
	seen := map[int64]bool{}
	for page := 1; ; page++ {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(perPage))
		var items []article
		if err := c.get(ctx, path, q, apiKey, &items); err != nil {
			return nil, err
		}
		fresh := 0
		for _, a := range items {
			if !seen[a.ID] {
				seen[a.ID] = true
				out = append(out, a)
				fresh++
			}
		}
		// An empty page ends the list. A page with nothing new ends it too:
		// a server that ignored page would otherwise repeat itself forever.
		if fresh == 0 {
			return out, nil
		}
	}
}
