// Package safehttp keeps the integrations' API credentials from following
// a redirect to another server.
//
// net/http copies a request's headers to the request that follows a
// redirect. It drops Authorization and Cookie when the new host is not the
// old one or its subdomain, but copies every other header, so a custom
// credential header (Dev.to's api-key) goes wherever a Location points: a
// compromised or misconfigured proxy, an API base URL mistyped to a
// redirecting host, or a plain http:// downgrade. Every platform client
// sets CheckRedirect from here.
package safehttp

import (
	"errors"
	"net/http"
	"time"
)

// maxRedirects is net/http's own limit.
const maxRedirects = 10

// alwaysSensitive are the headers that carry credentials for any API.
var alwaysSensitive = []string{"Authorization", "Proxy-Authorization", "Cookie"}

// CheckRedirect returns an http.Client CheckRedirect that follows at most
// 10 redirects and, when a redirect leaves the first request's origin
// (scheme, host and port), removes Authorization, Proxy-Authorization,
// Cookie and the given credential headers from the new request. A redirect
// within the origin keeps them: it goes to the server that already has
// them. A redirect that would resend a request body to another origin is
// not followed.
func CheckRedirect(credentialHeaders ...string) func(req *http.Request, via []*http.Request) error {
	headers := append(append([]string(nil), alwaysSensitive...), credentialHeaders...)
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return errors.New("stopped after 10 redirects")
		}
		if len(via) == 0 || sameOrigin(req, via[0]) {
			return nil
		}
		// A 307/308 resends the body (a Slack form may carry its token):
		// never to another origin.
		if req.Body != nil && req.Body != http.NoBody {
			return errors.New("refusing to resend a request body to another origin on redirect")
		}
		for _, h := range headers {
			req.Header.Del(h)
		}
		return nil
	}
}

func sameOrigin(a, b *http.Request) bool {
	return a.URL.Scheme == b.URL.Scheme && a.URL.Host == b.URL.Host
}

// Client returns c with CheckRedirect set (a copy: c is not changed), or
// a new client with the given timeout when c is nil. A client that has its
// own CheckRedirect keeps it: whoever set it decided.
func Client(c *http.Client, timeout time.Duration, credentialHeaders ...string) *http.Client {
	if c == nil {
		return &http.Client{Timeout: timeout, CheckRedirect: CheckRedirect(credentialHeaders...)}
	}
	cp := *c
	if cp.CheckRedirect == nil {
		cp.CheckRedirect = CheckRedirect(credentialHeaders...)
	}
	return &cp
}
