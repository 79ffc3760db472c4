package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/quota"
)

// client sends GraphQL queries and REST requests for one credential at a
// time: GitHub punishes concurrency on one credential with secondary
// limits, so each credential's requests go one after the other.
type client struct {
	graphqlURL string
	restURL    string
	now        func() time.Time

	mu     sync.Mutex
	states map[string]*credState
}

// credState is what the client knows of one credential's budget.
type credState struct {
	lock      sync.Mutex // one request at a time
	remaining int        // -1: unknown
	resetAt   time.Time
	lastCost  map[string]int
}

func (c *client) state(key string) *credState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.states == nil {
		c.states = map[string]*credState{}
	}
	st := c.states[key]
	if st == nil {
		st = &credState{remaining: -1, lastCost: map[string]int{}}
		c.states[key] = st
	}
	return st
}

// gqlErr is one entry of a GraphQL answer's errors.
type gqlErr struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Path    []any  `json:"path"`
}

// queryError is an answer whose errors are not a rate limit: the caller
// decides (a NOT_FOUND repository is skipped, anything else fails).
type queryError struct {
	op     string
	errors []gqlErr
}

func (e *queryError) Error() string {
	var msgs []string
	for _, g := range e.errors {
		m := g.Message
		if g.Type != "" {
			m = g.Type + ": " + m
		}
		msgs = append(msgs, m)
	}
	return fmt.Sprintf("github graphql %s: %s", e.op, strings.Join(msgs, "; "))
}

// unavailable reports whether every error is a repository or node that is
// gone or hidden (NOT_FOUND, FORBIDDEN).
func (e *queryError) unavailable() bool {
	for _, g := range e.errors {
		if g.Type != "NOT_FOUND" && g.Type != "FORBIDDEN" {
			return false
		}
	}
	return len(e.errors) > 0
}

// cred is how one request authenticates: an http.Client that adds the
// credential (a token header, or ghinstallation's transport) and a key
// naming the credential for the budget and the one-at-a-time lock.
type cred struct {
	key  string
	http *http.Client
	// token is sent as "bearer <token>" when set; an installation's client
	// adds its own header.
	token string
}

// query runs one GraphQL document. Rate limits become
// *integrations.RateLimitedError with the time to wait; a query that the
// last known budget cannot pay for is not sent at all. In an activity the
// budget is the quota ledger's, shared by every worker: the query books
// its last cost there, and the answer's rateLimit object is fed back;
// without a ledger (a service called outside an activity) this client's
// own memory of the budget decides.
func (c *client) query(ctx context.Context, cr cred, op, doc string, vars map[string]any, out any) error {
	st := c.state(cr.key)
	st.lock.Lock()
	defer st.lock.Unlock()
	now := c.now()
	expected := max(st.lastCost[op], 1)
	shared := quota.LedgerFrom(ctx) != nil
	if !shared && st.remaining >= 0 && st.remaining < expected && now.Before(st.resetAt) {
		return integrations.RateLimited(st.resetAt.Add(time.Second), fmt.Sprintf("github graphql %s: %d points left, the query costs %d", op, st.remaining, expected))
	}
	ctx, report := quota.WithReporter(quota.WithCost(ctx, expected))
	body, err := json.Marshal(map[string]any{"query": doc, "variables": vars, "operationName": op})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.graphqlURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if cr.token != "" {
		req.Header.Set("Authorization", "bearer "+cr.token)
	}
	resp, err := cr.http.Do(req)
	if err != nil {
		return transportError(fmt.Errorf("github graphql %s: %w", op, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("github graphql %s: reading the answer: %w", op, err)
	}
	if err := c.httpError(resp, raw, "graphql "+op); err != nil {
		return err
	}
	var env struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlErr        `json:"errors"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("github graphql %s: answer is not JSON: %w", op, err)
	}
	for _, e := range env.Errors {
		if e.Type == "RATE_LIMITED" {
			until := resetHeader(resp, c.now().Add(time.Minute))
			st.remaining, st.resetAt = 0, until
			// An HTTP 200: the transport saw no refusal, the ledger hears it here.
			c.report(ctx, report, 0, until)
			return integrations.RateLimited(until.Add(time.Second), fmt.Sprintf("github graphql %s: RATE_LIMITED: %s", op, e.Message))
		}
	}
	var rl struct {
		RateLimit *rateLimit `json:"rateLimit"`
	}
	if len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, &rl); err == nil && rl.RateLimit != nil {
			st.remaining, st.resetAt = rl.RateLimit.Remaining, rl.RateLimit.ResetAt
			st.lastCost[op] = rl.RateLimit.Cost
			if resp.Header.Get("X-RateLimit-Remaining") == "" {
				// The transport fed the headers when GitHub sent them;
				// the object tells the ledger when they are missing.
				c.report(ctx, report, rl.RateLimit.Remaining, rl.RateLimit.ResetAt)
			}
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("github graphql %s: decoding data: %w", op, err)
		}
	}
	if len(env.Errors) > 0 {
		return &queryError{op: op, errors: env.Errors}
	}
	return nil
}

// report feeds the budget an answer's body gave to the quota ledger. A
// ledger that fails costs the next call its accuracy, not this answer.
func (c *client) report(ctx context.Context, r *quota.Reporter, remaining int, reset time.Time) {
	if err := r.Report(ctx, -1, remaining, reset); err != nil {
		slog.Default().Warn("github: feeding the quota ledger failed", "error", err)
	}
}

// httpError turns a non-2xx answer into an error: the primary and
// secondary rate limits (403 or 429 with Retry-After, or with
// x-ratelimit-remaining 0) into a RateLimitedError, bad credentials into a
// permanent error, the rest into a plain error the retry policy handles.
func (c *client) httpError(resp *http.Response, body []byte, what string) error {
	if resp.StatusCode < 300 {
		return nil
	}
	msg := strings.TrimSpace(string(body))
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests {
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil {
				return integrations.RateLimited(c.now().Add(time.Duration(secs)*time.Second), fmt.Sprintf("github %s: %d %s", what, resp.StatusCode, msg))
			}
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			return integrations.RateLimited(resetHeader(resp, c.now().Add(time.Minute)).Add(time.Second), fmt.Sprintf("github %s: %d %s", what, resp.StatusCode, msg))
		}
		if strings.Contains(strings.ToLower(msg), "secondary rate limit") || resp.StatusCode == http.StatusTooManyRequests {
			// No Retry-After: GitHub asks for at least a minute.
			return integrations.RateLimited(c.now().Add(time.Minute), fmt.Sprintf("github %s: %d %s", what, resp.StatusCode, msg))
		}
	}
	err := fmt.Errorf("github %s: %d %s", what, resp.StatusCode, msg)
	if resp.StatusCode == http.StatusUnauthorized {
		return integrations.Permanent(err)
	}
	return err
}

// resetHeader reads x-ratelimit-reset (epoch seconds).
func resetHeader(resp *http.Response, fallback time.Time) time.Time {
	if v := resp.Header.Get("X-RateLimit-Reset"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			return time.Unix(n, 0).UTC()
		}
	}
	return fallback
}

// getJSON is a REST GET; it returns the Link header's next URL.
func (c *client) getJSON(ctx context.Context, cr cred, url string, out any) (next string, err error) {
	st := c.state(cr.key)
	st.lock.Lock()
	defer st.lock.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	if cr.token != "" {
		req.Header.Set("Authorization", "bearer "+cr.token)
	}
	resp, err := cr.http.Do(req)
	if err != nil {
		return "", transportError(fmt.Errorf("github GET %s: %w", req.URL.Path, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return "", err
	}
	if err := c.httpError(resp, raw, "GET "+req.URL.Path); err != nil {
		return "", err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return "", fmt.Errorf("github GET %s: %w", req.URL.Path, err)
	}
	return nextLink(resp.Header.Get("Link")), nil
}

// nextLink returns the rel="next" URL of a Link header, verbatim (GitHub's
// may switch to /repositories/{id}/...).
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		segs := strings.Split(part, ";")
		if len(segs) < 2 {
			continue
		}
		for _, s := range segs[1:] {
			if strings.TrimSpace(s) == `rel="next"` {
				return strings.Trim(strings.TrimSpace(segs[0]), "<>")
			}
		}
	}
	return ""
}

var errNoRepos = errors.New("no repositories")

// transportError classifies a failed request: an installation token that
// GitHub refused to issue because the installation or the app is unknown
// (401, 404) will not be issued on a retry either.
func transportError(err error) error {
	var he *ghinstallation.HTTPError
	if errors.As(err, &he) && he.Response != nil {
		switch he.Response.StatusCode {
		case http.StatusUnauthorized, http.StatusNotFound:
			return integrations.Permanent(err)
		}
	}
	return err
}
