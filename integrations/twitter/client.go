package twitter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/quota"
)

// Environment variables.
const (
	EnvAPIURL       = "TWITTER_API_URL"
	EnvClientID     = "TWITTER_CLIENT_ID"
	EnvClientSecret = "TWITTER_CLIENT_SECRET"
	// DefaultAPIURL is X's API host; requests go to {APIURL}/2/...
	DefaultAPIURL = "https://api.twitter.com"
)

// Options configure the client of the X API v2.
type Options struct {
	// APIURL is the API's base URL without /2 (default DefaultAPIURL).
	APIURL string
	// ClientID and ClientSecret are the app's OAuth 2.0 credentials, sent
	// by basic auth to the token endpoint when the access token is
	// refreshed.
	ClientID, ClientSecret string
	// HTTPClient defaults to one with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the clock that token expiry and rate-limit resets are read
	// against (default time.Now).
	Now func() time.Time
}

// FromEnv reads TWITTER_API_URL, TWITTER_CLIENT_ID and TWITTER_CLIENT_SECRET.
func FromEnv() Options {
	return Options{APIURL: os.Getenv(EnvAPIURL), ClientID: os.Getenv(EnvClientID), ClientSecret: os.Getenv(EnvClientSecret)}
}

// defaultAccessTTL is how long X's access tokens live.
const defaultAccessTTL = 2 * time.Hour

// errNoTokenEndpoint: the server has no token endpoint (an
// X-compatible server without OAuth).
var errNoTokenEndpoint = errors.New("the API has no token endpoint")

// refreshMargin: an access token that expires within it is refreshed
// before use, so a page fetch never starts with a token about to die.
const refreshMargin = 5 * time.Minute

// Client calls the X API v2 for one service. It is safe for concurrent use.
type Client struct {
	base string
	opts Options
	http *http.Client
	now  func() time.Time
}

// NewClient returns a client for the options.
func NewClient(o Options) *Client {
	base := strings.TrimSuffix(o.APIURL, "/")
	if base == "" {
		base = DefaultAPIURL
	}
	// A base given with /2 (as the spec's server plus version) is
	// accepted too: requests add /2 themselves.
	base = strings.TrimSuffix(base, "/2")
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	// Every call is booked in the quota ledger the activity's context
	// carries: one budget per endpoint and token, which twitter and
	// twitter-reach of one tenant share. The token endpoint is never booked.
	hc = quota.Wrap(hc, quota.Twitter)
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Client{base: base, opts: o, http: hc, now: now}
}

// Problem is an entry of a v2 answer's errors: a partial error in a 200
// body, or the body of a failed request.
type Problem struct {
	Title        string `json:"title"`
	Type         string `json:"type"`
	Detail       string `json:"detail"`
	Value        string `json:"value"`
	ResourceType string `json:"resource_type"`
	Parameter    string `json:"parameter"`
	// Code and Message are the v1.1-style form ({"code":88,...}).
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	switch {
	case p.Detail != "":
		return p.Title + ": " + p.Detail
	case p.Message != "":
		return fmt.Sprintf("%d %s", p.Code, p.Message)
	}
	return p.Title
}

// kind is the last part of a problem type URL: its host is api.twitter.com
// or api.x.com, so it is never compared whole.
func (p Problem) kind() string {
	return p.Type[strings.LastIndex(p.Type, "/")+1:]
}

// notVisible reports whether the problem says the resource is gone,
// suspended or hidden from this app: skipped, not retried.
func (p Problem) notVisible() bool {
	switch p.kind() {
	case "resource-not-found", "not-authorized-for-resource", "resource-unavailable":
		return true
	}
	return false
}

// envelope is every v2 answer: data, includes, meta and partial errors.
type envelope struct {
	Data     json.RawMessage `json:"data"`
	Includes includes        `json:"includes"`
	Meta     meta            `json:"meta"`
	Errors   []Problem       `json:"errors"`
}

type includes struct {
	Users []apiUser  `json:"users"`
	Media []apiMedia `json:"media"`
}

type meta struct {
	ResultCount *int   `json:"result_count"`
	NextToken   string `json:"next_token"`
}

// PartialError is a 200 answer with errors and no data: the request was
// refused as a whole (e.g. the profile is gone), not an empty page.
type PartialError struct {
	Path     string
	Problems []Problem
}

func (e *PartialError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("GET %s answered errors and no data: %s", e.Path, strings.Join(parts, "; "))
}

// NotVisible reports whether every problem says the resource is gone,
// suspended or hidden.
func (e *PartialError) NotVisible() bool {
	for _, p := range e.Problems {
		if !p.notVisible() {
			return false
		}
	}
	return len(e.Problems) > 0
}

// rateInfo is what the x-rate-limit-* headers said.
type rateInfo struct {
	Known     bool
	Remaining int
	Reset     time.Time
	// Shared: the call was booked in the quota ledger, which holds the
	// endpoint's next call until its reset (no Sleep of the whole run).
	Shared bool
}

func readRate(h http.Header) rateInfo {
	rem, err1 := strconv.Atoi(h.Get("x-rate-limit-remaining"))
	reset, err2 := strconv.ParseInt(h.Get("x-rate-limit-reset"), 10, 64)
	if err1 != nil || err2 != nil {
		return rateInfo{}
	}
	return rateInfo{Known: true, Remaining: rem, Reset: time.Unix(reset, 0).UTC()}
}

// SleepFor is how long to pause after a successful call: until the
// window's reset when at most one request is left in it, else 0.
// x-rate-limit-reset is an instant in epoch seconds, not a duration (the
// original waited that many seconds: decades).
func (r rateInfo) SleepFor(now time.Time) time.Duration {
	if !r.Known || r.Remaining > 1 || r.Shared {
		return 0
	}
	return max(r.Reset.Sub(now), 0)
}

// errUnauthorized is a 401: the access token was refused.
var errUnauthorized = errors.New("the access token was refused (401)")

// get calls GET {base}{path}?q with the bearer token and decodes the
// envelope. A 429 is a *integrations.RateLimitedError until the reset; a
// 200 with errors and no data is a *PartialError.
func (c *Client) get(ctx context.Context, token, path string, q url.Values) (*envelope, rateInfo, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, rateInfo{}, integrations.Permanent(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// The error names the URL, never the token (it is in a header).
		return nil, rateInfo{}, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, rateInfo{}, fmt.Errorf("GET %s: reading the answer: %w", path, err)
	}
	rate := readRate(resp.Header)
	rate.Shared = quota.LedgerFrom(ctx) != nil
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		// Either body form ({"errors":[{"code":88}]}, problem JSON,
		// usage-capped): only the status and the reset count.
		until := rate.Reset
		if until.IsZero() || !until.After(c.now()) {
			until = c.now().Add(time.Minute)
		}
		// X counts per endpoint: the engine holds only the stream that
		// met the limit.
		return nil, rate, &integrations.RateLimitedError{Until: until, Reason: "GET " + path + ": " + summary(body),
			Bucket: quota.EndpointTemplate(req)}
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, rate, fmt.Errorf("GET %s: %w", path, errUnauthorized)
	case resp.StatusCode >= 500:
		return nil, rate, fmt.Errorf("GET %s: %s: %s", path, resp.Status, summary(body))
	case resp.StatusCode != http.StatusOK:
		// 400 (a parameter the API refuses), 403 (the app's access
		// level): asking again will not help.
		return nil, rate, integrations.Permanent(fmt.Errorf("GET %s: %s: %s", path, resp.Status, summary(body)))
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, rate, fmt.Errorf("GET %s: undecodable answer: %w", path, err)
	}
	if len(env.Data) == 0 && len(env.Errors) > 0 {
		return nil, rate, &PartialError{Path: path, Problems: env.Errors}
	}
	// No data and no errors is an empty page, with or without meta.
	return &env, rate, nil
}

// summary is the start of an error body, for messages.
func summary(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// tokenAnswer is the token endpoint's answer.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// refusedError is a refresh token the token endpoint refused: only a new
// connect can help.
type refusedError struct{ code, desc string }

func (e *refusedError) Error() string {
	return e.code + ": " + e.desc
}

// refresh trades a refresh token for a new pair at POST /2/oauth2/token.
// Neither token appears in what it returns on error.
func (c *Client) refresh(ctx context.Context, refreshToken string) (*integrations.Tokens, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	if c.opts.ClientID != "" {
		form.Set("client_id", c.opts.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/2/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, integrations.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.opts.ClientID != "" && c.opts.ClientSecret != "" {
		req.SetBasicAuth(c.opts.ClientID, c.opts.ClientSecret)
	}
	sent := c.now()
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST /2/oauth2/token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("POST /2/oauth2/token: reading the answer: %w", err)
	}
	var ans tokenAnswer
	_ = json.Unmarshal(body, &ans)
	switch {
	case resp.StatusCode == http.StatusOK && ans.AccessToken != "":
		t := &integrations.Tokens{Access: ans.AccessToken, Refresh: ans.RefreshToken}
		// Counted from when the request was sent: never later than the
		// server's own count. Without expires_in, X's two hours: an
		// unknown expiry would refresh (and rotate) before every call.
		ttl := time.Duration(ans.ExpiresIn) * time.Second
		if ttl <= 0 {
			ttl = defaultAccessTTL
		}
		t.ExpiresAt = sent.Add(ttl)
		// Without a new refresh token (a grant without offline.access)
		// none is kept: the old one is spent.
		return t, nil
	case ans.Error == "invalid_grant",
		// X answers a used or revoked refresh token with invalid_request
		// and "Value passed for the token was invalid".
		ans.Error == "invalid_request" && strings.Contains(strings.ToLower(ans.Description), "token"):
		return nil, &refusedError{code: ans.Error, desc: ans.Description}
	case resp.StatusCode == http.StatusTooManyRequests:
		rate := readRate(resp.Header)
		until := rate.Reset
		if until.IsZero() || !until.After(c.now()) {
			until = c.now().Add(time.Minute)
		}
		return nil, integrations.RateLimited(until, "POST /2/oauth2/token")
	case resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusMethodNotAllowed, resp.StatusCode == http.StatusNotImplemented:
		return nil, fmt.Errorf("POST /2/oauth2/token: %s: %w", resp.Status, errNoTokenEndpoint)
	case resp.StatusCode >= 500:
		return nil, fmt.Errorf("POST /2/oauth2/token: %s", resp.Status)
	case ans.Error == "invalid_client" || ans.Error == "unauthorized_client":
		return nil, integrations.Permanent(fmt.Errorf("POST /2/oauth2/token: %s (%s): check %s and %s",
			ans.Error, ans.Description, EnvClientID, EnvClientSecret))
	}
	return nil, integrations.Permanent(fmt.Errorf("POST /2/oauth2/token: %s: %s %s", resp.Status, ans.Error, ans.Description))
}

// needsRefresh reports whether the pair's access token must be refreshed
// before use: it can be (there is a refresh token) and it expires within
// refreshMargin, or its expiry is unknown (a pair given at connect time).
func (c *Client) needsRefresh(t integrations.Tokens) bool {
	if t.Refresh == "" {
		return false
	}
	return t.Access == "" || t.ExpiresAt.IsZero() || !c.now().Before(t.ExpiresAt.Add(-refreshMargin))
}

// ReconnectMessage is the run error of an integration whose refresh token
// was refused.
const ReconnectMessage = "reconnect the Twitter integration: X refused its refresh token"

// AccessToken returns the integration's access token, refreshed first if
// it is about to expire. The refresh runs under the integration's token
// lock (TokenStore.RefreshTokens) and stores the new pair before this
// returns. A refused refresh token sets the integration's status to
// needs-reconnect and is a permanent error: retrying would only send the
// dead token again.
func (c *Client) AccessToken(ctx context.Context, rc *integrations.RunContext) (string, error) {
	if rc.Tokens == nil {
		// A service called outside the engine (unit tests): the token
		// the integration was loaded with.
		return rc.Integration.Token, nil
	}
	id := rc.Integration.ID
	cur, err := rc.Tokens.Tokens(ctx, id)
	if err != nil {
		return "", fmt.Errorf("read tokens: %w", err)
	}
	if !c.needsRefresh(cur) {
		if cur.Access == "" {
			// Never given, or cleared when X refused the refresh token.
			return "", integrations.Permanent(errors.New(ReconnectMessage + " (the integration has no token: connect it with --token and --refresh-token)"))
		}
		return cur.Access, nil
	}
	refreshed := false
	var refused *refusedError
	t, err := rc.Tokens.RefreshTokens(ctx, id, func(ctx context.Context, cur integrations.Tokens) (*integrations.Tokens, error) {
		// Another run may have refreshed while this one waited for the
		// lock: its pair is fresh, and this one's refresh token is dead.
		if !c.needsRefresh(cur) {
			return nil, nil
		}
		next, err := c.refresh(ctx, cur.Refresh)
		if errors.As(err, &refused) {
			// The pair is dead: cleared in the same transaction, so the
			// run's other steps fail at once without asking X again.
			return &integrations.Tokens{}, nil
		}
		refreshed = err == nil
		return next, err
	})
	if err == nil && refused != nil {
		if serr := rc.Tokens.SetNeedsReconnect(context.WithoutCancel(ctx), id); serr != nil {
			return "", fmt.Errorf("%s (%v), and setting the status failed: %w", ReconnectMessage, refused, serr)
		}
		return "", integrations.Permanent(fmt.Errorf("%s (%v)", ReconnectMessage, refused))
	}
	if errors.Is(err, errNoTokenEndpoint) && cur.Access != "" && cur.ExpiresAt.IsZero() {
		// A token of unknown expiry on a server that cannot refresh:
		// use it as it is; a 401 will say when it is no good.
		if rc.Logger != nil {
			rc.Logger.Warn("twitter: the API has no token endpoint; using the access token as connected")
		}
		return cur.Access, nil
	}
	if err != nil {
		return "", fmt.Errorf("refresh the access token: %w", err)
	}
	if refreshed && rc.Logger != nil {
		rc.Logger.Info("twitter access token refreshed", "expiresAt", t.ExpiresAt)
	}
	return t.Access, nil
}

// call is get with the integration's token. A 401 before the token's
// known expiry marks it expired, so the retry refreshes it; without a
// refresh token a 401 cannot be fixed here, and asks for a reconnect.
func (c *Client) call(ctx context.Context, rc *integrations.RunContext, path string, q url.Values) (*envelope, rateInfo, error) {
	token, err := c.AccessToken(ctx, rc)
	if err != nil {
		return nil, rateInfo{}, err
	}
	env, rate, err := c.get(ctx, token, path, q)
	if errors.Is(err, errUnauthorized) && rc.Tokens != nil {
		cur, terr := rc.Tokens.Tokens(ctx, rc.Integration.ID)
		if terr == nil && cur.Refresh == "" {
			if serr := rc.Tokens.SetNeedsReconnect(context.WithoutCancel(ctx), rc.Integration.ID); serr != nil {
				return nil, rate, serr
			}
			return nil, rate, integrations.Permanent(fmt.Errorf("reconnect the Twitter integration: X refused its token (%w)", err))
		}
		if eerr := rc.Tokens.ExpireAccessToken(ctx, rc.Integration.ID, token); eerr != nil {
			return nil, rate, fmt.Errorf("%w (and marking it expired failed: %v)", err, eerr)
		}
		return nil, rate, fmt.Errorf("%w: refreshed on the next attempt", err)
	}
	return env, rate, err
}
