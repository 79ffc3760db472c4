package safehttp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A redirect to another origin loses the credentials, a redirect within the
// origin keeps them; other headers go on either way.
func TestCheckRedirect(t *testing.T) {
	var got http.Header
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer target.Close()
	// 127.0.0.1 and localhost are different hosts to net/http: its own
	// rule would keep Authorization for a subdomain, not here.
	other := strings.Replace(target.URL, "127.0.0.1", "localhost", 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other+"/landed", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/final", http.StatusMovedPermanently)
		case "/final":
			got = r.Header.Clone()
		}
	}))
	defer origin.Close()

	for _, tc := range []struct {
		name, path string
		wantCreds  bool
	}{
		{"another origin", "/away", false},
		{"same origin", "/here", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			c := Client(nil, 5*time.Second, "api-key")
			req, _ := http.NewRequest("GET", origin.URL+tc.path, nil)
			req.Header.Set("api-key", "secret-key")
			req.Header.Set("Authorization", "Bearer secret-token")
			req.Header.Set("Accept", "application/json")
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got == nil {
				t.Fatal("the redirect was not followed")
			}
			for _, h := range []string{"Api-Key", "Authorization"} {
				if has := got.Get(h) != ""; has != tc.wantCreds {
					t.Errorf("%s forwarded: %v, want %v", h, has, tc.wantCreds)
				}
			}
			if got.Get("Accept") != "application/json" {
				t.Errorf("other headers go on: Accept = %q", got.Get("Accept"))
			}
		})
	}
}

func TestClientKeepsTheCallersClient(t *testing.T) {
	own := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	in := &http.Client{Timeout: time.Second, CheckRedirect: own}
	out := Client(in, time.Minute)
	if out == in || out.Timeout != time.Second || out.CheckRedirect == nil {
		t.Fatalf("got %+v", out)
	}
	bare := &http.Client{}
	if Client(bare, 0).CheckRedirect == nil || bare.CheckRedirect != nil {
		t.Fatal("a copy gets CheckRedirect; the caller's client is not changed")
	}
}
