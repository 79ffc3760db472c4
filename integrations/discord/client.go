package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/quota"
)

// How requests are made, and why.
//
// discordgo is the client: its typed calls build the URLs and decode the
// answers. Three of its habits do not fit a Temporal activity, so each call
// is made like this:
//
//   - On a 429 discordgo sleeps retry_after and tries again; on a 502 it
//     retries too. Both are turned off per call (WithRetryOnRatelimit(false),
//     WithRestRetries(0)): the service turns a 429 into RateLimitedError, a
//     durable timer in the workflow.
//   - Its Ratelimiter sleeps before a call when a bucket it remembers is
//     used up. Every call gets a new Session, hence a new, empty
//     Ratelimiter that never waits; the wait is the Sleep the stream
//     returns instead.
//   - Its typed calls return no headers. The Session's http.Client wraps
//     the transport in a capture that keeps the status, the headers and
//     (for errors) the body of the call's one response: the service reads
//     X-RateLimit-* and the 429 body from there.
//
// The transport under the capture sends every request to the configured
// base URL and API version: discordgo's own URLs say https://discord.com
// and /api/v9.
//
// The archived-threads listing is made with Session.RequestWithBucketID
// rather than ThreadsArchived, which formats before with second precision:
// a thread archived in the same second as the last one of a page, but
// earlier, would be skipped.

// apiError is a non-2xx answer. It holds no request: the request carries
// the token.
type apiError struct {
	Call    string
	Status  int
	Code    int
	Message string
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("discord: %s: HTTP %d", e.Call, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Code != 0 {
		s += fmt.Sprintf(" (code %d)", e.Code)
	}
	return s
}

// Discord error codes the service acts on.
const (
	codeUnknownChannel     = 10003
	codeMissingAccess      = 50001
	codeMissingPermissions = 50013
)

// channelGone reports whether err says the bot may not read a channel, or
// the channel no longer exists: such a channel is skipped, not failed.
func channelGone(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound) {
		return ae, true
	}
	return nil, false
}

// captured is what the capture saw of a call's response.
type captured struct {
	status int
	header http.Header
	body   []byte // error answers only
	// route is the request's rate-limit route (quota.DiscordRoute), the
	// Bucket of a route's 429.
	route string
}

type captureTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	last *captured
}

func (t *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	c := &captured{status: resp.StatusCode, header: resp.Header.Clone(), route: quota.DiscordRoute(r)}
	if resp.StatusCode >= 400 {
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		c.body = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	t.mu.Lock()
	t.last = c
	t.mu.Unlock()
	return resp, nil
}

func (t *captureTransport) response() *captured {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// rewriteTransport sends discordgo's requests to the configured server.
type rewriteTransport struct {
	next    http.RoundTripper
	base    *url.URL
	version string
}

func (t *rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	p := r.URL.Path
	for _, v := range []string{"/api/v9/", "/api/v10/"} {
		if rest, ok := strings.CutPrefix(p, v); ok {
			p = "/api/v" + t.version + "/" + rest
			break
		}
	}
	r2.URL.Scheme = t.base.Scheme
	r2.URL.Host = t.base.Host
	r2.URL.Path = t.base.Path + p
	r2.URL.RawPath = ""
	r2.Host = ""
	return t.next.RoundTrip(r2)
}

// client makes the calls of one activity with one token.
type client struct {
	svc   *Service
	token string
}

func (s *Service) newClient(token string) *client { return &client{svc: s, token: token} }

// call makes one API call through fn and maps its outcome: a 429 becomes
// RateLimitedError, a 401 a permanent error, other failures an *apiError
// or the transport's error, each naming the call. The response headers
// are returned for the rate-limit Sleep.
func (c *client) call(ctx context.Context, name string, fn func(s *discordgo.Session, opts ...discordgo.RequestOption) error) (http.Header, error) {
	base := c.svc.client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	capture := &captureTransport{next: &rewriteTransport{next: base, base: c.svc.base, version: c.svc.version}}
	hc := &http.Client{
		Transport:     capture,
		Timeout:       c.svc.client.Timeout,
		Jar:           c.svc.client.Jar,
		CheckRedirect: c.svc.client.CheckRedirect,
	}
	sess, err := discordgo.New("Bot " + c.token)
	if err != nil {
		return nil, fmt.Errorf("discord: %s: %v", name, err)
	}
	sess.Client = hc
	sess.ShouldRetryOnRateLimit = false
	sess.MaxRestRetries = 0
	sess.StateEnabled = false

	err = fn(sess,
		discordgo.WithContext(ctx),
		discordgo.WithClient(hc),
		discordgo.WithRetryOnRatelimit(false),
		discordgo.WithRestRetries(0),
	)
	resp := capture.response()
	if resp == nil {
		if err == nil {
			return nil, fmt.Errorf("discord: %s: no response", name)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("discord: %s: %w", name, ctxErr)
		}
		// A transport error: it names the URL, never the token (the
		// token travels in a header).
		return nil, fmt.Errorf("discord: %s: %w", name, err)
	}
	switch {
	case resp.status == http.StatusTooManyRequests:
		return resp.header, c.rateLimited(name, resp)
	case resp.status >= 200 && resp.status < 300:
		if err != nil {
			// Garbage in a 2xx body, or headers discordgo could not
			// parse: worth a retry.
			return resp.header, fmt.Errorf("discord: %s: %v", name, err)
		}
		return resp.header, nil
	}
	ae := &apiError{Call: name, Status: resp.status}
	var body struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	}
	if json.Unmarshal(resp.body, &body) == nil {
		ae.Message, ae.Code = body.Message, body.Code
	}
	switch resp.status {
	case http.StatusUnauthorized:
		return resp.header, integrations.Permanent(fmt.Errorf("%w: the bot token was refused", ae))
	case http.StatusBadRequest:
		// The request itself is wrong: sending it again cannot help.
		return resp.header, integrations.Permanent(ae)
	}
	// 403 and 404 are left to the caller (a channel is skipped, a guild
	// is not); 5xx and the rest are worth a retry.
	return resp.header, ae
}

// rateLimited turns a 429 into RateLimitedError. The wait is the body's
// retry_after (seconds with decimals); failing that X-RateLimit-Reset-After,
// then Retry-After (whole seconds), then one second.
func (c *client) rateLimited(name string, resp *captured) error {
	var body struct {
		RetryAfter *float64 `json:"retry_after"`
		Global     bool     `json:"global"`
	}
	_ = json.Unmarshal(resp.body, &body)
	wait, ok := time.Duration(0), false
	if body.RetryAfter != nil && *body.RetryAfter >= 0 {
		wait, ok = secondsToDuration(*body.RetryAfter), true
	}
	if !ok {
		wait, ok = parseSeconds(resp.header.Get("X-RateLimit-Reset-After"))
	}
	if !ok {
		wait, ok = parseSeconds(resp.header.Get("Retry-After"))
	}
	if !ok {
		wait = time.Second
	}
	scope := resp.header.Get("X-RateLimit-Scope")
	if body.Global || resp.header.Get("X-RateLimit-Global") != "" {
		scope = "global"
	}
	reason := "discord: " + name + ": 429 rate limited"
	if scope != "" {
		reason += " (" + scope + ")"
	}
	e := &integrations.RateLimitedError{Until: c.svc.now().Add(wait), Reason: reason}
	if scope != "global" {
		// One route's bucket: the engine holds only the stream that met
		// it, the bot's other routes go on.
		e.Bucket = resp.route
	}
	return e
}

// sleepFor is the pause a response asks for: X-RateLimit-Reset-After when
// X-RateLimit-Remaining is 1 or less, else 0. Without Reset-After it is
// X-RateLimit-Reset less the response's Date (or now). In an activity,
// whose context carries the quota ledger, it is 0: the ledger holds the
// route's next call until the reset (in place, or by a RateLimitedError
// for that route alone), where a Sleep would stop the whole run.
func (s *Service) sleepFor(ctx context.Context, h http.Header) time.Duration {
	if quota.LedgerFrom(ctx) != nil {
		return 0
	}
	rem := h.Get("X-RateLimit-Remaining")
	if rem == "" {
		return 0
	}
	n, err := strconv.ParseFloat(rem, 64)
	if err != nil || n > 1 {
		return 0
	}
	if d, ok := parseSeconds(h.Get("X-RateLimit-Reset-After")); ok {
		return d
	}
	if reset, err := strconv.ParseFloat(h.Get("X-RateLimit-Reset"), 64); err == nil {
		now := s.now()
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			now = d
		}
		at := time.UnixMilli(int64(math.Round(reset * 1000)))
		return max(at.Sub(now), 0)
	}
	return 0
}

// parseSeconds reads a header of seconds with decimals, e.g. "64.57".
func parseSeconds(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return secondsToDuration(f), true
}

// secondsToDuration converts seconds with decimals to a Duration, rounded
// to the millisecond (Discord sends at most three decimals): 64.57 is
// 64.570 s exactly, not a float's 64.569999.
func secondsToDuration(f float64) time.Duration {
	return time.Duration(math.Round(f*1000)) * time.Millisecond
}

// The calls.

func (c *client) guildChannels(ctx context.Context, guildID string) ([]*discordgo.Channel, http.Header, error) {
	var out []*discordgo.Channel
	h, err := c.call(ctx, "list the guild's channels", func(s *discordgo.Session, opts ...discordgo.RequestOption) (err error) {
		out, err = s.GuildChannels(guildID, opts...)
		return err
	})
	return out, h, err
}

func (c *client) activeThreads(ctx context.Context, guildID string) (*discordgo.ThreadsList, http.Header, error) {
	var out *discordgo.ThreadsList
	h, err := c.call(ctx, "list the guild's active threads", func(s *discordgo.Session, opts ...discordgo.RequestOption) (err error) {
		out, err = s.GuildThreadsActive(guildID, opts...)
		return err
	})
	if err == nil && out == nil {
		out = &discordgo.ThreadsList{}
	}
	return out, h, err
}

func (c *client) archivedThreads(ctx context.Context, channelID string, before time.Time) (*discordgo.ThreadsList, http.Header, error) {
	q := url.Values{}
	if !before.IsZero() {
		q.Set("before", before.UTC().Format(time.RFC3339Nano))
	}
	q.Set("limit", strconv.Itoa(threadsPageSize))
	endpoint := discordgo.EndpointChannelPublicArchivedThreads(channelID)
	var out *discordgo.ThreadsList
	h, err := c.call(ctx, "list the archived threads of channel "+channelID, func(s *discordgo.Session, opts ...discordgo.RequestOption) error {
		body, err := s.RequestWithBucketID(http.MethodGet, endpoint+"?"+q.Encode(), nil, endpoint, opts...)
		if err != nil {
			return err
		}
		return json.Unmarshal(body, &out)
	})
	if err == nil && out == nil {
		out = &discordgo.ThreadsList{}
	}
	return out, h, err
}

func (c *client) messages(ctx context.Context, channelID, before string) ([]*discordgo.Message, http.Header, error) {
	var out []*discordgo.Message
	h, err := c.call(ctx, "list the messages of channel "+channelID, func(s *discordgo.Session, opts ...discordgo.RequestOption) (err error) {
		out, err = s.ChannelMessages(channelID, messagesPageSize, before, "", "", opts...)
		return err
	})
	return out, h, err
}

func (c *client) members(ctx context.Context, guildID, after string) ([]*discordgo.Member, http.Header, error) {
	var out []*discordgo.Member
	h, err := c.call(ctx, "list the guild's members", func(s *discordgo.Session, opts ...discordgo.RequestOption) (err error) {
		out, err = s.GuildMembers(guildID, after, membersPageSize, opts...)
		return err
	})
	return out, h, err
}
