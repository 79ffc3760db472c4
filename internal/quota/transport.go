package quota

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
)

// LearnMargin widens a pace a ledger learns from a 429: 3 % slower than
// what the API granted, so that evenly spaced calls do not fill a window
// to its last unit when the clock jitters.
const LearnMargin = 0.03

// EnvMaxWait names the environment variable of the longest wait for a
// budget inside a call (a Go duration); DefaultMaxWait when unset.
const EnvMaxWait = "QUOTA_MAX_WAIT"

const (
	// DefaultMaxWait is the longest a call waits in place for its budget
	// (the activity heartbeats meanwhile); a longer wait is a
	// RateLimitedError that the engine waits out on a durable timer.
	DefaultMaxWait = 3 * time.Second
	// noRetryAfter is the wait of a 429 that says nothing usable.
	noRetryAfter = time.Second
	// retriesInPlace bounds the sends of one request after short 429s.
	retriesInPlace = 2
	// maxFormBody bounds what is read of a form to find its token.
	maxFormBody = 1 << 20
)

// Transport books every request in the Ledger its context carries before
// sending it, and feeds the answer's rate-limit headers back. Without a
// ledger in the context it only sends.
type Transport struct {
	Next   http.RoundTripper
	Policy Policy
	// MaxWait bounds the wait in place: DefaultMaxWait when 0, none when
	// negative (every wait is a RateLimitedError, every 429 goes to the
	// caller).
	MaxWait time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger gets the ledger's failures (slog.Default when nil).
	Logger *slog.Logger
	// Identity, when set, names the credential instead of the request's
	// headers: a transport above one that adds the credential itself (a
	// GitHub App installation's, whose tokens change every hour while its
	// budget does not).
	Identity string
}

// Wrap returns a copy of c (a new client when nil) whose transport books
// every request under p. QUOTA_MAX_WAIT sets the longest wait in place.
func Wrap(c *http.Client, p Policy) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	if t, ok := cp.Transport.(*Transport); ok {
		cp.Transport = t.Next
	}
	cp.Transport = &Transport{Next: cp.Transport, Policy: p, MaxWait: MaxWaitFromEnv()}
	return &cp
}

// WrapAs is Wrap for a client whose credential is added below the
// transport: identity (hashed like a credential) names its budget.
func WrapAs(c *http.Client, p Policy, identity string) *http.Client {
	cp := Wrap(c, p)
	cp.Transport.(*Transport).Identity = identity
	return cp
}

// MaxWaitFromEnv returns QUOTA_MAX_WAIT as a Transport's MaxWait:
// DefaultMaxWait when it is unset or not a duration of at least zero, and
// no wait in place (-1) when it is zero.
func MaxWaitFromEnv() time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(os.Getenv(EnvMaxWait)))
	switch {
	case err != nil || d < 0:
		return DefaultMaxWait
	case d == 0:
		return -1
	}
	return d
}

func (t *Transport) next() http.RoundTripper {
	if t.Next == nil {
		return http.DefaultTransport
	}
	return t.Next
}

func (t *Transport) now() time.Time {
	if t.Now == nil {
		return time.Now()
	}
	return t.Now()
}

func (t *Transport) maxWait() time.Duration {
	switch {
	case t.MaxWait == 0:
		return DefaultMaxWait
	case t.MaxWait < 0:
		return 0
	}
	return t.MaxWait
}

func (t *Transport) logger() *slog.Logger {
	if t.Logger == nil {
		return slog.Default()
	}
	return t.Logger
}

// call is one request's budgets.
type call struct {
	cred    string // the key's prefix: policy|host|credential hash
	scope   string
	asks    []Ask
	booking Booking
}

func (c *call) primary() string { return c.asks[0].Key }

// RoundTrip books, sends, and feeds the answer back. A wait longer than
// MaxWait returns a *integrations.RateLimitedError without sending. A
// short 429 on an idempotent request is waited out and the request sent
// again, a few times; else the 429 goes to the caller as it came.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	l := LedgerFrom(ctx)
	if l == nil || (t.Policy.Skip != nil && t.Policy.Skip(req)) {
		return t.next().RoundTrip(req)
	}
	req, c, err := t.prepare(req)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		booked, err := t.book(ctx, l, c)
		if err != nil {
			return nil, err
		}
		send := req
		if attempt > 0 {
			if send, err = rewind(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.next().RoundTrip(send)
		if err != nil {
			return nil, err
		}
		if !booked {
			return resp, nil
		}
		refused, until := t.observe(ctx, l, c, resp)
		if refused && attempt < retriesInPlace && t.Policy.idempotent(req) && canRewind(req) &&
			until.Sub(t.now()) <= t.maxWait() {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			continue
		}
		return resp, nil
	}
}

// prepare finds the request's keys. A form whose token must be read is
// read once and put back, so the request that goes is unchanged.
func (t *Transport) prepare(req *http.Request) (*http.Request, *call, error) {
	h := sha256.New()
	has := false
	add := func(name, v string) {
		if v == "" {
			return
		}
		has = true
		fmt.Fprintf(h, "%s\x00%s\x00", strings.ToLower(name), v)
	}
	switch {
	case t.Policy.PerAddress:
	case t.Identity != "":
		add("identity", t.Identity)
	default:
		add("Authorization", req.Header.Get("Authorization"))
		for _, name := range t.Policy.CredentialHeaders {
			add(name, req.Header.Get(name))
		}
		if t.Policy.FormToken {
			var token string
			var err error
			req, token, err = formToken(req)
			if err != nil {
				return nil, nil, err
			}
			add("token", token)
		}
	}
	cred := "-"
	if has {
		// 128 bits of the hash name the credential: enough to tell any two
		// apart, and nothing of it can be turned back into a token.
		cred = hex.EncodeToString(h.Sum(nil)[:16])
	}
	c := &call{cred: t.Policy.Name + "|" + strings.ToLower(req.URL.Host) + "|" + cred}
	if t.Policy.Scope != nil {
		c.scope = t.Policy.Scope(req)
	}
	c.asks = []Ask{{Key: c.cred + "|" + c.scope, Cost: costFrom(req.Context()), Interval: t.Policy.Interval}}
	if t.Policy.GlobalInterval > 0 {
		c.asks = append(c.asks, Ask{Key: c.cred + "|global", Cost: 1, Interval: t.Policy.GlobalInterval})
	}
	return req, c, nil
}

// formToken returns the `token` field of a form body, and a request whose
// body can still be read.
func formToken(req *http.Request) (*http.Request, string, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, req.URL.Query().Get("token"), nil
	}
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return req, "", nil
	}
	var body []byte
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, "", err
		}
		body, err = io.ReadAll(io.LimitReader(rc, maxFormBody))
		_ = rc.Close()
		if err != nil {
			return nil, "", err
		}
	} else {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, "", err
		}
		body = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return req, "", nil
	}
	return req, vals.Get("token"), nil
}

func canRewind(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = b
	}
	return r, nil
}

// book reserves the call's budgets, waiting in place up to MaxWait in all.
// It reports false when the ledger failed: the call then goes unbooked
// (a ledger that is down must not stop the APIs; the answers' 429s still
// hold the engine back).
func (t *Transport) book(ctx context.Context, l Ledger, c *call) (bool, error) {
	deadline := t.now().Add(t.maxWait())
	for {
		now := t.now()
		b, err := l.Reserve(ctx, c.asks, now, max(deadline.Sub(now), 0))
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			t.logger().Warn("quota: the ledger failed; calling unbooked", "key", c.primary(), "error", err)
			return false, nil
		}
		if !b.Booked && b.At.After(deadline) {
			return false, t.limited(c, b)
		}
		if err := sleepUntil(ctx, t.now(), b.At); err != nil {
			return false, err
		}
		if b.Booked {
			c.booking = b
			if r := reporterFrom(ctx); r != nil {
				r.l, r.key, r.seq, r.now, r.used = l, c.primary(), b.Seqs[0], t.now, true
			}
			return true, nil
		}
	}
}

// limited is the error of a budget that is not back within MaxWait.
func (t *Transport) limited(c *call, b Booking) error {
	e := &integrations.RateLimitedError{Until: b.At}
	which := "the credential's budget"
	if t.Policy.RouteBuckets && b.Waited == c.primary() && c.scope != "" {
		e.Bucket = c.scope
		which = "the budget of " + c.scope
	}
	e.Reason = fmt.Sprintf("%s: %s is spent (quota ledger)", t.Policy.Name, which)
	return e
}

func sleepUntil(ctx context.Context, now, at time.Time) error {
	d := at.Sub(now)
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// observe feeds an answer to the ledger and reports whether it was a
// refusal, and until when.
func (t *Transport) observe(ctx context.Context, l Ledger, c *call, resp *http.Response) (bool, time.Time) {
	now := t.now()
	lim := ParseLimits(resp.Header, now)
	if resp.StatusCode == http.StatusTooManyRequests {
		refinedByBody(resp, &lim)
	}
	o := Observation{Key: c.primary(), Seq: c.booking.Seqs[0], Limit: lim.Limit, Remaining: lim.Remaining, Reset: lim.Reset}
	if t.Policy.AnswerScope != nil {
		if s := t.Policy.AnswerScope(lim); s != "" && s != c.scope {
			// Counted against another budget than foreseen: feed that
			// one (its booking is unknown), and end the foreseen one's
			// probe if this call was it.
			o.Key, o.Seq = c.cred+"|"+s, 0
			if c.booking.Seqs[0] == 1 {
				probe := Observation{Key: c.primary(), Seq: 1, Limit: -1, Remaining: -1}
				if err := l.Observe(ctx, probe, now); err != nil {
					t.logger().Warn("quota: feeding the ledger failed", "key", probe.Key, "error", err)
				}
			}
		}
	}
	o.Refused, o.Until = refusal(resp.StatusCode, lim, now)
	if o.Refused && lim.Global && len(c.asks) > 1 {
		// The whole credential is refused, not the route.
		g := Observation{Key: c.asks[1].Key, Seq: c.booking.Seqs[1], Limit: -1, Remaining: -1, Refused: true, Until: o.Until}
		if err := l.Observe(ctx, g, now); err != nil {
			t.logger().Warn("quota: feeding the ledger failed", "key", g.Key, "error", err)
		}
		o.Refused = false
	}
	if !o.Refused && !o.HasWindow() && o.Limit < 0 && o.Seq != 1 {
		// Nothing to learn (but the first answer of a budget, which
		// ends its probe): no round trip.
		return false, time.Time{}
	}
	if err := l.Observe(ctx, o, now); err != nil {
		t.logger().Warn("quota: feeding the ledger failed", "key", o.Key, "error", err)
	}
	refused, until := refusal(resp.StatusCode, lim, now)
	return refused, until
}

// refinedByBody reads a 429's JSON body for what Discord puts there: a
// retry_after in seconds with milliseconds (its Retry-After header is
// whole seconds, up to a second more than needed) and "global". The body
// is put back for the client.
func refinedByBody(resp *http.Response, lim *Limits) {
	if resp.Body == nil {
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return
	}
	var b struct {
		RetryAfter *float64 `json:"retry_after"`
		Global     bool     `json:"global"`
	}
	if json.Unmarshal(body, &b) != nil {
		return
	}
	if b.RetryAfter != nil {
		if d, ok := seconds(strconv.FormatFloat(*b.RetryAfter, 'f', -1, 64)); ok && (!lim.HasRetryAfter || d < lim.RetryAfter) {
			lim.RetryAfter, lim.HasRetryAfter = d, true
		}
	}
	lim.Global = lim.Global || b.Global
}

// refusal reports whether an answer refuses for the budget, and until
// when: a 429, or a 403 that says the budget is spent (GitHub's primary
// limit with x-ratelimit-remaining 0, its secondary with Retry-After).
func refusal(status int, lim Limits, now time.Time) (bool, time.Time) {
	switch {
	case status == http.StatusTooManyRequests:
	case status == http.StatusForbidden && (lim.Remaining == 0 || lim.HasRetryAfter):
	default:
		return false, time.Time{}
	}
	switch {
	case lim.HasRetryAfter:
		return true, now.Add(lim.RetryAfter)
	case lim.Remaining == 0 && lim.Reset.After(now):
		return true, lim.Reset
	}
	return true, now.Add(noRetryAfter)
}
