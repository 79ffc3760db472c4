package webui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Principal is who a token signs in: the operator (every tenant) or one
// tenant.
type Principal struct {
	// Operator sees every tenant and the operators' page.
	Operator bool
	// TenantID is the only tenant a tenant-scoped token sees.
	TenantID string
}

// CanSee says whether the principal may see a tenant's data.
func (p Principal) CanSee(tenantID string) bool {
	return p.Operator || (p.TenantID != "" && p.TenantID == tenantID)
}

// Name is how the page header names the principal.
func (p Principal) Name() string {
	if p.Operator {
		return "operator"
	}
	return "tenant " + p.TenantID
}

// ErrUnknownToken is what an Authenticator returns for a token it does not
// know (or one that was revoked).
var ErrUnknownToken = errors.New("unknown or revoked token")

// Authenticator resolves an API token to its principal. The UI calls it at
// sign-in and again on every request, so that a revoked token ends its
// sessions at once.
type Authenticator func(ctx context.Context, token string) (Principal, error)

// OperatorToken accepts the one operator token (API_TOKEN). The comparison
// is of SHA-256 digests in constant time, as the API's bearer check does.
func OperatorToken(token string) Authenticator {
	want := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return func(_ context.Context, given string) (Principal, error) {
		got := sha256.Sum256([]byte(strings.TrimSpace(given)))
		if strings.TrimSpace(given) == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return Principal{}, ErrUnknownToken
		}
		return Principal{Operator: true}, nil
	}
}

const (
	// sessionCookie holds a random session id; the token stays on the
	// server, in the session.
	sessionCookie = "crowdflow_session"
	// sessionTTL is how long a sign-in lasts.
	sessionTTL = 12 * time.Hour
	// codeTTL is how long a one-time sign-in code is valid.
	codeTTL = time.Hour
	// csrfField is the hidden input of every form.
	csrfField = "csrf"
)

// session is one signed-in browser.
type session struct {
	token   string
	csrf    string
	expires time.Time
}

type oneTimeCode struct {
	token   string
	expires time.Time
}

// sessions keeps sessions and one-time codes in memory, keyed by the
// SHA-256 of the secret so that a dump of the map holds no usable cookie.
// A restart signs everyone out; an API behind a load balancer needs sticky
// sessions (or one replica serving /ui).
type sessions struct {
	mu       sync.Mutex
	byID     map[[sha256.Size]byte]*session
	codes    map[[sha256.Size]byte]oneTimeCode
	now      func() time.Time
	lastTidy time.Time
}

func newSessions() *sessions {
	return &sessions{byID: map[[sha256.Size]byte]*session{}, codes: map[[sha256.Size]byte]oneTimeCode{}, now: time.Now}
}

func randomSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("webui: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func key(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// create starts a session for a token and returns its id.
func (s *sessions) create(token string) (string, *session) {
	id := randomSecret()
	sess := &session{token: token, csrf: randomSecret(), expires: s.now().Add(sessionTTL)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tidy()
	s.byID[key(id)] = sess
	return id, sess
}

func (s *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.byID[key(id)]
	if sess == nil || s.now().After(sess.expires) {
		delete(s.byID, key(id))
		return nil
	}
	return sess
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, key(id))
}

// issueCode returns a code that signs a browser in once with token.
func (s *sessions) issueCode(token string) string {
	code := randomSecret()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tidy()
	s.codes[key(code)] = oneTimeCode{token: token, expires: s.now().Add(codeTTL)}
	return code
}

// redeem returns the token of a valid code and forgets the code.
func (s *sessions) redeem(code string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[key(code)]
	delete(s.codes, key(code))
	if !ok || s.now().After(c.expires) {
		return "", false
	}
	return c.token, true
}

// tidy drops expired sessions and codes, at most once a minute; s.mu is held.
func (s *sessions) tidy() {
	now := s.now()
	if now.Sub(s.lastTidy) < time.Minute {
		return
	}
	s.lastTidy = now
	for k, v := range s.byID {
		if now.After(v.expires) {
			delete(s.byID, k)
		}
	}
	for k, v := range s.codes {
		if now.After(v.expires) {
			delete(s.codes, k)
		}
	}
}

// setSessionCookie sends the session id: HttpOnly (no script reads it),
// SameSite=Strict (no other site's page sends it), Secure over HTTPS.
func (u *UI) setSessionCookie(w http.ResponseWriter, r *http.Request, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: u.base + "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secureCookies || r.TLS != nil,
	})
}

// sameOrigin refuses a state-changing request another site's page sent:
// browsers say where a request comes from in Sec-Fetch-Site and Origin.
// It backs up the forms' CSRF token (and covers the sign-in form, which
// has no session yet).
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return origin == ""
	}
	o, err := url.Parse(origin)
	return err == nil && o.Host == r.Host
}

// validCSRF compares the form's token with the session's in constant time.
func validCSRF(sess *session, given string) bool {
	return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(sess.csrf)) == 1
}
