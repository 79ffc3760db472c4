// Package safehttptest gives the platforms' tests a redirect trap: an API
// base URL whose every answer redirects to another origin, which records
// what reaches it.
package safehttptest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Received is a request that reached the other origin.
type Received struct {
	Method, Path string
	Header       http.Header
	Query        string
	Body         string
}

// Trap is the redirecting API and the origin it sends requests to.
type Trap struct {
	// URL is the API base to give the service.
	URL string

	mu       sync.Mutex
	received []Received
}

// NewTrap starts the two servers; they stop when the test ends. The API
// redirects with status (302 turns a POST into a GET without its body;
// 307 and 308 resend the body), and the other origin answers every request
// with 200 and answer.
func NewTrap(t testing.TB, status int, answer string) *Trap {
	tr := &Trap{}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		tr.mu.Lock()
		tr.received = append(tr.received, Received{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Query: r.URL.RawQuery, Body: string(b)})
		tr.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer) //nolint:errcheck
	}))
	t.Cleanup(other.Close)
	// The same host on another port: another origin, which net/http's own
	// rule (it compares host names, not ports) would still trust with
	// Authorization.
	otherURL := other.URL
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherURL+r.URL.RequestURI(), status)
	}))
	t.Cleanup(api.Close)
	tr.URL = api.URL
	return tr
}

// Received returns the requests that reached the other origin.
func (tr *Trap) Received() []Received {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]Received(nil), tr.received...)
}

// AssertNoSecret fails the test when secret appears in anything that
// reached the other origin (headers, query, body), and when nothing
// reached it at all while followed is true.
func (tr *Trap) AssertNoSecret(t testing.TB, secret string, followed bool) {
	t.Helper()
	got := tr.Received()
	if followed && len(got) == 0 {
		t.Fatal("no request followed the redirect: the test proves nothing")
	}
	for _, r := range got {
		for name, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, secret) {
					t.Errorf("%s %s: the credential followed the redirect in %s", r.Method, r.Path, name)
				}
			}
		}
		if strings.Contains(r.Query, secret) || strings.Contains(r.Body, secret) {
			t.Errorf("%s %s: the credential followed the redirect in the query or body", r.Method, r.Path)
		}
	}
}
