package e2e

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations/devto"
	"github.com/crowdflow/crowdflow/webui"
)

// The web UI's tests drive it in a real headless Chromium, against the
// API's handler (which mounts the UI) on the harness's Temporal server and
// PostgreSQL, with the Dev.to fake behind the service.
//
// UI_SCREENSHOTS=<folder> (relative to the repository) saves the pages the
// README shows.

// chromiumPath finds Debian's chromium. Outside CI a machine without it
// skips the browser tests; in CI .ci/run installs it, so its absence fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: .ci/run installs it (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed: `apt-get install -y chromium` to run the web UI's browser tests (.ci/run does in CI)")
	return ""
}

// uiEnv is a Dev.to env with the API and its web UI served over HTTP, and
// a browser.
type uiEnv struct {
	*devtoEnv
	url     string
	browser context.Context
}

func newUIEnv(t *testing.T) *uiEnv {
	chromium := chromiumPath(t)
	e := newDevtoEnv(t)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	ui, err := webui.New(webui.Options{
		Controller: e.ctl, Authenticate: webui.OperatorToken(apiToken), Namespace: temporalServer().GetDefaultNamespace(), Logger: logger,
	})
	require.NoError(t, err)
	h, err := api.Handler(api.Options{Controller: e.ctl, Token: apiToken, UI: ui, Logger: logger,
		Namespace: temporalServer().GetDefaultNamespace()})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 800),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	// A bound on the whole test's browsing: a page that never shows what
	// is waited for fails the test instead of hanging it.
	browser, cancelTimeout := context.WithTimeout(browser, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	return &uiEnv{devtoEnv: e, url: srv.URL, browser: browser}
}

func (u *uiEnv) run(steps ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	require.NoError(u.t, chromedp.Do(u.browser, steps...))
}

// get runs an action that returns a value.
func get[T any](u *uiEnv, a chromedp.Action[T]) T {
	u.t.Helper()
	v, err := chromedp.Run(u.browser, a)
	require.NoError(u.t, err)
	return v
}

// text reads an element's text in one evaluation in the page: the run
// page swaps its live part every second, and a node found by one protocol
// call may be gone by the next.
func (u *uiEnv) text(sel string) string {
	u.t.Helper()
	s := get(u, chromedp.Evaluate[*string](`(() => { const el = document.querySelector(`+strconv.Quote(sel)+`); `+
		`return el ? el.innerText : null; })()`))
	require.NotNil(u.t, s, "no element %s", sel)
	return strings.TrimSpace(*s)
}

func (u *uiEnv) html() string {
	u.t.Helper()
	return get(u, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

// signIn signs in with the operator token through the form.
func (u *uiEnv) signIn() {
	u.run(
		chromedp.Navigate(u.url+"/ui/signin"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), apiToken),
		chromedp.Click(chromedp.CSS("#signin")),
		// The header names who is signed in once the session exists.
		chromedp.WaitVisible(chromedp.CSS("header .who")),
	)
}

// screenshot saves the page as <UI_SCREENSHOTS>/<name>.png when asked to.
func (u *uiEnv) screenshot(name string) {
	dir := os.Getenv("UI_SCREENSHOTS")
	if dir == "" {
		return
	}
	if !filepath.IsAbs(dir) {
		// Relative to the repository, where the command was typed, not to
		// e2e/, where go test runs the package.
		dir = filepath.Join("..", dir)
	}
	png := get(u, chromedp.FullScreenshot(100))
	require.NoError(u.t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// TestUIConnectsDevtoAndFollowsTheRun connects a Dev.to integration through
// the form and watches its onboarding reach processed on the run page,
// which the page's script updates without reloading.
func TestUIConnectsDevtoAndFollowsTheRun(t *testing.T) {
	u := newUIEnv(t)
	u.signIn()

	// The session cookie is out of scripts' and other sites' reach.
	res, err := chromedp.Call(u.browser, network.GetCookies, network.GetCookiesParams{})
	require.NoError(t, err)
	cookies := res.Cookies
	require.Len(t, cookies, 1)
	assert.True(t, cookies[0].HTTPOnly, "HttpOnly")
	assert.Equal(t, network.CookieSameSiteStrict, cookies[0].SameSite)
	assert.NotContains(t, cookies[0].Value, apiToken)

	u.run(
		chromedp.Navigate(u.url+"/ui/connect?tenant="+apiTenant),
		chromedp.Click(chromedp.CSS("a.platform-devto")),
		chromedp.WaitVisible(chromedp.CSS("#setting-users")),
		chromedp.SendKeys(chromedp.CSS("#setting-users"), "alice, @Bob"),
		chromedp.SendKeys(chromedp.CSS("#setting-organizations"), "acme"),
		chromedp.SendKeys(chromedp.CSS("#token"), platformToken),
	)
	u.screenshot("connect")
	u.run(
		chromedp.Click(chromedp.CSS("#connect")),
		chromedp.WaitVisible(chromedp.CSS("#live")),
		// A mark on the window: a reload would wipe it.
		chromedp.Evaluate[chromedp.Void](`window.__notReloaded = true`),
		chromedp.WaitVisible(chromedp.CSS("#run-state .state-processed")),
	)
	assert.True(t, get(u, chromedp.Evaluate[bool](`window.__notReloaded === true`)), "the run page reloaded instead of updating itself")
	assert.Regexp(t, `^0 pending · 0 processing · 3 processed · 0 failed$`, u.text("#run-streams"))
	assert.NotEqual(t, "0", u.text("#run-records"))
	assert.NotContains(t, u.html(), platformToken)
	assert.Contains(t, get(u, chromedp.AttributeValue(chromedp.CSS("#temporal-link"), "href")).Value, "integration%2F"+u.strings(`SELECT id::text FROM integrations`)[0])
	u.screenshot("run-processed")

	// What the form sent is what the API would have stored: settings
	// normalised by the service, the token in its column.
	assert.Equal(t, []string{`{"users": ["alice", "bob"], "organizations": ["acme"]}`},
		u.strings(`SELECT settings - 'articles' FROM integrations`))
	assert.Equal(t, 0, u.count(`SELECT count(*) FROM integrations i WHERE strpos(i::text, $1) > 0`, platformToken), "the token is stored encrypted")
	stored, err := u.store.GetIntegration(context.Background(), u.strings(`SELECT id::text FROM integrations`)[0])
	require.NoError(t, err)
	token, _, err := u.store.OpenSecrets(context.Background(), stored)
	require.NoError(t, err)
	assert.Equal(t, platformToken, token)

	// The tenant's list shows the integration and its run.
	u.run(chromedp.Navigate(u.url+"/ui/integrations?tenant="+apiTenant), chromedp.WaitVisible(chromedp.CSS("#integrations")))
	row := u.text("#integrations tr.integration")
	assert.Contains(t, row, "devto")
	assert.Contains(t, row, "done")
	assert.Contains(t, row, "processed")
	assert.Contains(t, row, "0 / 3 / 0")
	u.screenshot("integrations")
	// The filter: no Slack integration.
	u.run(chromedp.Navigate(u.url+"/ui/integrations?platform=slack&tenant="+apiTenant), chromedp.WaitVisible(chromedp.CSS("#integrations")))
	assert.Contains(t, u.text("#integrations tbody"), "No integration matches the filter")
}

// TestUIShowsFieldErrors submits bad settings: the service's error shows
// next to its field, the values typed are kept, the token is not sent back,
// and nothing is written.
func TestUIShowsFieldErrors(t *testing.T) {
	u := newUIEnv(t)
	u.signIn()
	u.run(
		chromedp.Navigate(u.url+"/ui/connect?platform=devto&tenant="+apiTenant),
		chromedp.WaitVisible(chromedp.CSS("#setting-users")),
		chromedp.SendKeys(chromedp.CSS("#setting-users"), "alice, Bad Name!"),
		chromedp.SendKeys(chromedp.CSS("#token"), platformToken),
		chromedp.Click(chromedp.CSS("#connect")),
		chromedp.WaitVisible(chromedp.CSS("#err-users")),
	)
	assert.Equal(t, `users[1]: "Bad Name!" is not a Dev.to name (letters, digits, _ and -)`, u.text("#err-users"))
	assert.Equal(t, "alice, Bad Name!", get(u, chromedp.Value(chromedp.CSS("#setting-users"))))
	assert.Empty(t, get(u, chromedp.Value(chromedp.CSS("#token"))), "the token is never sent back")
	assert.NotContains(t, u.html(), platformToken)
	u.screenshot("field-error")

	// Neither users nor organizations: the error names users.
	u.run(
		chromedp.Navigate(u.url+"/ui/connect?platform=devto&tenant="+apiTenant),
		chromedp.WaitVisible(chromedp.CSS("#setting-users")),
		chromedp.Click(chromedp.CSS("#connect")),
		chromedp.WaitVisible(chromedp.CSS("#err-users")),
	)
	assert.Equal(t, "give at least one user or organization", u.text("#err-users"))
	assert.Equal(t, 0, u.count(`SELECT count(*) FROM integrations`))
	assert.Equal(t, 0, u.count(`SELECT count(*) FROM tenants`))
}

// TestUIShowsDelayedRunCountdown makes the fake rate-limit the run for two
// minutes: the run page and the operators' page show the wait, its reason,
// and a countdown that runs.
func TestUIShowsDelayedRunCountdown(t *testing.T) {
	u := newUIEnv(t)
	u.fake.RateLimitAfter(8, 1)
	u.fake.SetRetryAfter("120")
	started, err := u.ctl.Connect(context.Background(), control.ConnectInput{
		TenantID: apiTenant, Platform: devto.Platform, Settings: []byte(devtoSettings),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = u.ctl.Temporal.TerminateWorkflow(context.Background(), started.WorkflowID, "", "test over")
	})
	u.signIn()
	u.run(
		chromedp.Navigate(u.url+"/ui/runs/"+started.RunID),
		chromedp.WaitVisible(chromedp.CSS("#run-sleep .countdown")),
	)
	assert.Equal(t, "delayed", u.text("#run-state"))
	first := countdownSeconds(t, u.text("#run-sleep .countdown"))
	assert.True(t, first > 0 && first <= 120, "countdown %d s", first)
	assert.Contains(t, u.text("#run-sleep"), "429")
	// The countdown runs in the page.
	get(u, chromedp.Poll[bool](`document.querySelector("#run-sleep .countdown").textContent !== `+
		strconv.Quote(u.text("#run-sleep .countdown")), chromedp.WithPollingTimeout(10*time.Second)))
	assert.Less(t, countdownSeconds(t, u.text("#run-sleep .countdown")), first)
	u.screenshot("run-delayed")

	u.run(chromedp.Navigate(u.url+"/ui/operators"), chromedp.WaitVisible(chromedp.CSS("#attention")))
	row := u.text(`#attention tr.run-row[data-id="` + started.RunID + `"]`)
	assert.Contains(t, row, "delayed")
	assert.Contains(t, row, "devto")
	assert.Regexp(t, `\d+ (min \d\d )?s left`, row)
	u.screenshot("operators")
}

var countdownRe = regexp.MustCompile(`^(?:(\d+) min )?(\d+) s$`)

// countdownSeconds reads "1 min 05 s" or "42 s".
func countdownSeconds(t *testing.T, s string) int {
	t.Helper()
	m := countdownRe.FindStringSubmatch(s)
	require.NotNil(t, m, "not a countdown: %q", s)
	mins, _ := strconv.Atoi(m[1])
	secs, _ := strconv.Atoi(m[2])
	return mins*60 + secs
}

// TestUIWorksWithoutJavaScript turns scripts off in the page: signing in,
// a refused form with its field error, connecting, and following the run by
// reloading all work; only the live refresh needs the script.
func TestUIWorksWithoutJavaScript(t *testing.T) {
	u := newUIEnv(t)
	u.run(chromedp.Navigate("about:blank"))
	_, err := chromedp.Call(u.browser, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	require.NoError(t, err)
	u.signIn()
	u.run(
		chromedp.Navigate(u.url+"/ui/connect?platform=devto&tenant="+apiTenant),
		chromedp.WaitVisible(chromedp.CSS("#setting-users")),
		chromedp.SendKeys(chromedp.CSS("#setting-users"), "Bad Name!"),
		chromedp.Click(chromedp.CSS("#connect")),
		chromedp.WaitVisible(chromedp.CSS("#err-users")),
	)
	assert.Contains(t, u.text("#err-users"), "is not a Dev.to name")
	u.run(
		chromedp.Navigate(u.url+"/ui/connect?platform=devto&tenant="+apiTenant),
		chromedp.WaitVisible(chromedp.CSS("#setting-users")),
		chromedp.SendKeys(chromedp.CSS("#setting-users"), "alice"),
		chromedp.Click(chromedp.CSS("#connect")),
		chromedp.WaitVisible(chromedp.CSS("#live")),
	)
	// With scripting off, the browser parses <noscript> into elements.
	assert.True(t, get(u, chromedp.Evaluate[bool](`document.querySelector(".actions noscript a") !== null`)), "scripts still run")
	runPage := get(u, chromedp.Evaluate[string](`location.href`))
	assert.Contains(t, runPage, "/ui/runs/")
	// No script: the page does not change by itself; a reload shows the
	// run's progress, until it has ended.
	for i := 0; ; i++ {
		if st := u.text("#run-state"); st == "processed" {
			break
		}
		require.Less(t, i, 240, "the run did not end")
		time.Sleep(500 * time.Millisecond)
		u.run(chromedp.Navigate(runPage), chromedp.WaitVisible(chromedp.CSS("#run-state")))
	}
	assert.Contains(t, u.text("#run-streams"), "processed")
}
