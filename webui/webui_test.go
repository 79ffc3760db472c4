package webui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations/devto"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/pgtest"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/webui"
)

// These tests check the UI's HTTP contract (sign-in, cookies, CSRF, tenant
// scoping) without a browser or Temporal; e2e/ui_test.go drives it in
// Chromium against Temporal.

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	operatorToken = "ui-test-operator-token-0123456789"
	tenantAToken  = "ui-test-tenant-a-token-0123456789"
	tenantA       = "0b6e2a4c-1111-4a1a-9a1a-0000000000aa"
	tenantB       = "0b6e2a4c-2222-4b2b-9b2b-0000000000bb"
)

// tokens is an Authenticator whose tokens can be revoked, as issue 12's
// tenant-scoped tokens will be.
type tokens struct {
	mu      sync.Mutex
	revoked map[string]bool
}

func (k *tokens) authenticate(_ context.Context, token string) (webui.Principal, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.revoked[token] {
		return webui.Principal{}, webui.ErrUnknownToken
	}
	switch token {
	case operatorToken:
		return webui.Principal{Operator: true}, nil
	case tenantAToken:
		return webui.Principal{TenantID: tenantA}, nil
	}
	return webui.Principal{}, webui.ErrUnknownToken
}

func (k *tokens) revoke(token string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.revoked[token] = true
}

type fixture struct {
	t      *testing.T
	url    string
	ui     *webui.UI
	store  *store.Store
	tokens *tokens
}

func newFixture(t *testing.T) *fixture {
	st, err := store.Open(context.Background(), pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(st.Close)
	// No Temporal client: these tests start no run.
	ctl := &control.Controller{Store: st, Registry: registry.New(devto.New(devto.Options{BaseURL: "http://127.0.0.1:1/api"}))}
	k := &tokens{revoked: map[string]bool{}}
	ui, err := webui.New(webui.Options{Controller: ctl, Authenticate: k.authenticate})
	require.NoError(t, err)
	h, err := api.Handler(api.Options{Controller: ctl, Token: operatorToken, UI: ui})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{t: t, url: srv.URL, ui: ui, store: st, tokens: k}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so that each answer can be checked.
type browser struct {
	f      *fixture
	client *http.Client
}

func (f *fixture) browser() *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(f.t, err)
	return &browser{f: f, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type answer struct {
	status   int
	location string
	cookies  []*http.Cookie
	body     string
}

// do sends a request as a same-origin page would, plus extra headers.
func (b *browser) do(method, path string, form url.Values, header ...string) answer {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.f.url+path, body)
	require.NoError(b.f.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.f.url)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.client.Do(req)
	require.NoError(b.f.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(b.f.t, err)
	a := answer{status: res.StatusCode, location: res.Header.Get("Location"), cookies: res.Cookies(), body: string(raw)}
	for _, tok := range []string{operatorToken, tenantAToken} {
		assert.NotContains(b.f.t, a.body, tok, "a page holds a token")
		for _, c := range a.cookies {
			assert.NotContains(b.f.t, c.Value, tok, "a cookie holds a token")
		}
	}
	return a
}

func (b *browser) signIn(token string) answer {
	return b.do("POST", "/ui/signin", url.Values{"token": {token}})
}

// csrf reads the CSRF token of the forms of a page.
func csrf(t *testing.T, body string) string {
	t.Helper()
	const marker = `name="csrf" value="`
	i := strings.Index(body, marker)
	require.GreaterOrEqual(t, i, 0, "no CSRF field in the page")
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestSignInSetsAStrictHttpOnlySessionCookie(t *testing.T) {
	f := newFixture(t)
	b := f.browser()

	a := b.do("GET", "/ui/integrations", nil)
	assert.Equal(t, http.StatusSeeOther, a.status)
	assert.Equal(t, "/ui/signin", a.location)
	a = b.do("GET", "/", nil)
	assert.Equal(t, "/ui/", a.location, "the root leads to the UI")

	a = b.signIn("not-a-token")
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.Empty(t, a.cookies)
	assert.Contains(t, a.body, "That token is not valid")

	a = b.signIn(operatorToken)
	require.Equal(t, http.StatusSeeOther, a.status)
	assert.Equal(t, "/ui/integrations", a.location)
	require.Len(t, a.cookies, 1)
	c := a.cookies[0]
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	assert.Equal(t, "/ui/", c.Path)
	assert.GreaterOrEqual(t, len(c.Value), 40, "a random session id")

	a = b.do("GET", "/ui/integrations", nil)
	assert.Equal(t, http.StatusOK, a.status)
	assert.Contains(t, a.body, "signed in as operator")

	// The API's routes still want the bearer token, not the cookie.
	a = b.do("GET", "/api/v1/runs/"+uuid.NewString(), nil)
	assert.Equal(t, http.StatusUnauthorized, a.status)

	// Signing out ends the session on the server.
	a = b.do("POST", "/ui/signout", url.Values{"csrf": {csrf(t, b.do("GET", "/ui/integrations", nil).body)}})
	assert.Equal(t, "/ui/signin", a.location)
	assert.Equal(t, "/ui/signin", b.do("GET", "/ui/integrations", nil).location)
}

func TestFormsRefuseOtherSitesAndMissingCSRF(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.signIn(operatorToken)
	token := csrf(t, b.do("GET", "/ui/connect?platform=devto", nil).body)
	form := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "platform": {"devto"}, "tenant": {tenantA}, "setting.users": {"alice"}}
	}
	cases := []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no CSRF token", form(""), nil},
		{"a wrong CSRF token", form("x" + token), nil},
		{"another origin", form(token), []string{"Origin", "http://evil.example"}},
		{"a cross-site fetch", form(token), []string{"Sec-Fetch-Site", "cross-site"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := b.do("POST", "/ui/connect", c.form, c.header...)
			assert.Equal(t, http.StatusForbidden, a.status)
		})
	}
	assert.Equal(t, http.StatusForbidden, b.do("POST", "/ui/signin", url.Values{"token": {operatorToken}},
		"Origin", "http://evil.example").status, "a sign-in posted from another site")

	// With the token, the form gets through to validation (this server
	// has no Temporal, so the connect itself is refused), and nothing is
	// written.
	a := b.do("POST", "/ui/connect", form(token))
	assert.Equal(t, http.StatusServiceUnavailable, a.status, a.body)
	var n int
	require.NoError(t, f.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM integrations`).Scan(&n))
	assert.Zero(t, n)
}

func TestOneTimeCodeSignsInOnce(t *testing.T) {
	f := newFixture(t)
	code := f.ui.SignInCode(operatorToken)
	link := f.ui.SignInPath(code)
	assert.Equal(t, "/ui/signin?code="+code, link)

	b := f.browser()
	a := b.do("GET", link, nil)
	require.Equal(t, http.StatusSeeOther, a.status)
	assert.Equal(t, "/ui/integrations", a.location, "the code leaves the address bar")
	assert.Equal(t, http.StatusOK, b.do("GET", "/ui/integrations", nil).status)

	other := f.browser()
	a = other.do("GET", link, nil)
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.Contains(t, a.body, "used already or has expired")
	assert.Empty(t, a.cookies)
}

func TestRevokedTokenEndsItsSessions(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.signIn(tenantAToken)
	assert.Equal(t, http.StatusOK, b.do("GET", "/ui/integrations", nil).status)
	f.tokens.revoke(tenantAToken)
	assert.Equal(t, "/ui/signin", b.do("GET", "/ui/integrations", nil).location)
}

func TestTenantTokenSeesOnlyItsTenant(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	runOf := func(tenant string, failure ...store.Failure) string {
		id, err := f.store.CreateIntegration(ctx, store.NewIntegration{TenantID: tenant, Platform: devto.Platform,
			Status: store.StatusInProgress, Settings: []byte(`{"users":["alice"]}`)})
		require.NoError(t, err)
		runID := uuid.NewString()
		require.NoError(t, f.store.CreateRun(ctx, store.NewRun{ID: runID, TenantID: tenant, IntegrationID: id, Onboarding: true,
			WorkflowID: "integration/" + id}))
		fail := store.Failure{ErrorPoint: "test", Message: "failed in " + tenant}
		if len(failure) > 0 {
			fail = failure[0]
		}
		require.NoError(t, f.store.MarkRunError(ctx, runID, fail))
		return runID
	}
	runA, runB := runOf(tenantA), runOf(tenantB)

	b := f.browser()
	b.signIn(tenantAToken)
	a := b.do("GET", "/ui/runs/"+runA, nil)
	assert.Equal(t, http.StatusOK, a.status)
	assert.Contains(t, a.body, "failed in "+tenantA)
	a = b.do("GET", "/ui/runs/"+runB, nil)
	assert.Equal(t, http.StatusNotFound, a.status, "another tenant's run is not found")
	assert.NotContains(t, a.body, tenantB)
	assert.Equal(t, http.StatusNotFound, b.do("GET", "/ui/runs/"+runB+"/live", nil).status)
	assert.Equal(t, http.StatusForbidden, b.do("GET", "/ui/operators", nil).status)
	// The tenant parameter is the operator's: a tenant sees its own.
	a = b.do("GET", "/ui/integrations?tenant="+tenantB, nil)
	assert.Equal(t, http.StatusOK, a.status)
	assert.Contains(t, a.body, tenantA)
	assert.NotContains(t, a.body, tenantB)
	page := b.do("GET", "/ui/runs/"+runA, nil).body
	a = b.do("POST", "/ui/runs/"+runB+"/continue", url.Values{"csrf": {csrf(t, page)}})
	assert.Equal(t, http.StatusNotFound, a.status, "nor can it continue one")

	// The operator sees both failed runs on the operators' page, and a run
	// the reconciler ended is marked stuck.
	reconciled := runOf(tenantB, store.Failure{ErrorPoint: store.ErrorPointReconciled, Message: "workflow not found"})
	op := f.browser()
	op.signIn(operatorToken)
	a = op.do("GET", "/ui/operators", nil)
	assert.Equal(t, http.StatusOK, a.status)
	assert.Contains(t, a.body, "failed in "+tenantA)
	assert.Contains(t, a.body, "failed in "+tenantB)
	assert.Equal(t, 1, strings.Count(a.body, `state-stuck`))
	row := a.body[strings.Index(a.body, `data-id="`+reconciled+`"`):]
	assert.Contains(t, row[:strings.Index(row, "</tr>")], `state-stuck`)

	// A companion run (twitter-reach on a Twitter integration) names its
	// service.
	var integ string
	require.NoError(t, f.store.Pool().QueryRow(ctx, `SELECT "integrationId" FROM "integrationRuns" WHERE id = $1`, runA).Scan(&integ))
	companion := uuid.NewString()
	require.NoError(t, f.store.CreateRun(ctx, store.NewRun{ID: companion, TenantID: tenantA, IntegrationID: integ,
		WorkflowID: "integration/" + integ + "/reach", Service: "reach"}))
	require.NoError(t, f.store.MarkRunError(ctx, companion, store.Failure{ErrorPoint: "test", Message: "companion failed"}))
	a = op.do("GET", "/ui/operators", nil)
	crow := a.body[strings.Index(a.body, `data-id="`+companion+`"`):]
	assert.Contains(t, crow[:strings.Index(crow, "</tr>")], "devto (reach)")
	a = op.do("GET", "/ui/integrations?tenant="+tenantA, nil)
	assert.Contains(t, a.body, "reach check", "the latest run of the integration is the companion's")
}
