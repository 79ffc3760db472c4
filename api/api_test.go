package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/metrics"
	"github.com/crowdflow/crowdflow/internal/pgtest"
	"github.com/crowdflow/crowdflow/internal/secrets"
	"github.com/crowdflow/crowdflow/store"
)

// These tests need no Temporal: the controller has none, so every request
// that would start a run is refused (503) after its input was checked. The
// routes that start runs are tested end to end in e2e/api_test.go.

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	apiToken = "test-api-token-0123456789"
	// secret is a platform token stored on integrations: no answer may
	// ever hold it.
	secret = "platform-secret-token-9f8e7d"
	tenant = "3c1e5b8a-7d2f-4a6e-9b0c-1f2e3d4c5b6a"
)

type fixture struct {
	t       *testing.T
	store   *store.Store
	handler http.Handler
	reg     *metrics.Registry
}

func newFixture(t *testing.T, opts ...func(*api.Options)) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(st.Close)
	ring, err := secrets.NewRandomKeyring()
	require.NoError(t, err)
	st.SetKeyring(ring)
	reg := metrics.NewRegistry()
	m, err := api.NewMetrics(reg)
	require.NoError(t, err)
	o := api.Options{
		Controller:    &control.Controller{Store: st, Registry: registry.Default(), TaskQueue: "api-test"},
		Token:         apiToken,
		TemporalUIURL: "http://temporal.example:8233/",
		Namespace:     "crowd",
		Metrics:       m,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range opts {
		f(&o)
	}
	h, err := api.Handler(o)
	require.NoError(t, err)
	return &fixture{t: t, store: st, handler: h, reg: reg}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &v), "body: %s", r.body)
	return v
}

// errorOf returns the error object of an error answer, checking its shape.
func (r response) errorOf(t *testing.T) map[string]any {
	t.Helper()
	assert.Contains(t, r.header.Get("Content-Type"), "application/json")
	v := r.json(t)
	e, ok := v["error"].(map[string]any)
	require.True(t, ok, "no error object in %s", r.body)
	assert.NotEmpty(t, e["code"])
	assert.NotEmpty(t, e["message"])
	return e
}

type req struct {
	method, path, body string
	header             map[string]string
	noAuth             bool
}

// do sends a request with the API token (unless noAuth) and checks that
// the answer never holds a platform token.
func (f *fixture) do(r req) response {
	f.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if !r.noAuth {
		hr.Header.Set("Authorization", "Bearer "+apiToken)
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, hr)
	out := response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
	assert.NotContains(f.t, out.body, secret, "a platform token was sent back")
	for k, vs := range out.header {
		assert.NotContains(f.t, k+strings.Join(vs, ","), secret)
	}
	return out
}

func (f *fixture) count(table string) int {
	f.t.Helper()
	var n int
	require.NoError(f.t, f.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

var tables = []string{"tenants", "integrations", `"integrationRuns"`, `"integrationStreams"`, "members",
	`"memberIdentities"`, "activities", `"memberAttributeSettings"`}

func (f *fixture) assertEmpty() {
	f.t.Helper()
	for _, tb := range tables {
		assert.Zero(f.t, f.count(tb), "rows in %s", tb)
	}
}

func TestHandlerNeedsATokenAndAController(t *testing.T) {
	ctl := &control.Controller{Store: &store.Store{}, Registry: registry.Default()}
	for name, o := range map[string]api.Options{
		"no token":      {Controller: ctl},
		"blank token":   {Controller: ctl, Token: "  "},
		"no controller": {Token: apiToken},
		"bad UI URL":    {Controller: ctl, Token: apiToken, TemporalUIURL: "temporal:8233"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := api.Handler(o)
			assert.Error(t, err)
		})
	}
}

func TestAuth(t *testing.T) {
	f := newFixture(t)
	integ, err := f.store.CreateIntegration(context.Background(), store.NewIntegration{
		TenantID: tenant, Platform: "devto", Status: store.StatusDone, Token: secret,
	})
	require.NoError(t, err)
	path := "/api/v1/integrations/" + integ
	cases := []struct {
		name   string
		method string
		path   string
		auth   string
		status int
	}{
		{"no header", "GET", path, "", 401},
		{"wrong token", "GET", path, "Bearer not-the-token", 401},
		{"token as a prefix", "GET", path, "Bearer " + apiToken + "x", 401},
		{"token cut short", "GET", path, "Bearer " + apiToken[:len(apiToken)-1], 401},
		{"empty bearer", "GET", path, "Bearer ", 401},
		{"basic scheme", "GET", path, "Basic " + apiToken, 401},
		{"token alone", "GET", path, apiToken, 401},
		{"unknown route without a token", "GET", "/api/v1/nothing", "", 401},
		{"write without a token", "POST", "/api/v1/tenants/" + tenant + "/integrations", "", 401},
		{"good token", "GET", path, "Bearer " + apiToken, 200},
		{"scheme in lower case", "GET", path, "bearer " + apiToken, 200},
		{"health needs no token", "GET", "/healthz", "", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(req{method: c.method, path: c.path, noAuth: true, header: map[string]string{"Authorization": c.auth}})
			require.Equal(t, c.status, r.status, r.body)
			if c.status == 401 {
				assert.Equal(t, "unauthorized", r.errorOf(t)["code"])
				assert.Contains(t, r.header.Get("WWW-Authenticate"), "Bearer")
			}
		})
	}
	// A request refused for its token writes nothing.
	r := f.do(req{method: "POST", path: "/api/v1/tenants/" + uuid.NewString() + "/integrations",
		body: `{"platform": "devto", "settings": {"users": ["ben"]}}`, noAuth: true})
	assert.Equal(t, 401, r.status)
	assert.Equal(t, 1, f.count("tenants"))
	assert.Equal(t, 1, f.count("integrations"))
}

// TestRejectedRequestsWriteNothing sends every kind of bad request to every
// route, then checks that no table has a row.
func TestRejectedRequestsWriteNothing(t *testing.T) {
	f := newFixture(t)
	connect := "/api/v1/tenants/" + tenant + "/integrations"
	unknown := uuid.NewString()
	cases := []struct {
		name   string
		req    req
		status int
		code   string
		field  string
	}{
		// POST /api/v1/tenants/{tenantId}/integrations
		{"tenant is not a UUID", req{method: "POST", path: "/api/v1/tenants/acme/integrations", body: `{"platform": "devto"}`}, 400, "invalid", "tenantId"},
		{"unknown platform", req{method: "POST", path: connect, body: `{"platform": "myspace", "token": "` + secret + `"}`}, 400, "invalid", "platform"},
		{"no platform", req{method: "POST", path: connect, body: `{"settings": {}}`}, 400, "invalid", "platform"},
		{"platform is a number", req{method: "POST", path: connect, body: `{"platform": 5}`}, 400, "invalid", "platform"},
		{"settings not an object", req{method: "POST", path: connect, body: `{"platform": "devto", "settings": [1]}`}, 400, "invalid", "settings"},
		{"settings of the wrong shape", req{method: "POST", path: connect, body: `{"platform": "devto", "settings": {"users": "alice"}, "token": "` + secret + `"}`}, 400, "invalid", "settings.users"},
		{"bad Dev.to username", req{method: "POST", path: connect, body: `{"platform": "devto", "settings": {"users": ["no spaces allowed"]}}`}, 400, "invalid", "settings.users[0]"},
		{"unknown Dev.to setting", req{method: "POST", path: connect, body: `{"platform": "devto", "settings": {"organisations": ["forem"]}}`}, 400, "invalid", "settings.organisations"},
		{"unknown field", req{method: "POST", path: connect, body: `{"platform": "devto", "tokens": "x"}`}, 400, "invalid", "tokens"},
		{"malformed JSON", req{method: "POST", path: connect, body: `{"platform": "devto"`}, 400, "bad_json", ""},
		{"not JSON at all", req{method: "POST", path: connect, body: `platform=devto`}, 400, "bad_json", ""},
		{"empty body", req{method: "POST", path: connect}, 400, "bad_json", ""},
		{"array body", req{method: "POST", path: connect, body: `[{"platform": "devto"}]`}, 400, "bad_json", ""},
		{"two JSON values", req{method: "POST", path: connect, body: `{"platform": "devto"} {"platform": "devto"}`}, 400, "bad_json", ""},
		{"form content type", req{method: "POST", path: connect, body: `{"platform": "devto"}`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "unsupported_media_type", ""},
		{"good input but no Temporal", req{method: "POST", path: connect, body: `{"platform": "devto", "settings": {"users": ["ben"]}, "token": "` + secret + `"}`}, 503, "unavailable", ""},

		// POST /api/v1/integrations/{id}/runs
		{"run of an unknown integration", req{method: "POST", path: "/api/v1/integrations/" + unknown + "/runs", body: `{"onboarding": true}`}, 404, "not_found", ""},
		{"run of a malformed id", req{method: "POST", path: "/api/v1/integrations/42/runs"}, 404, "not_found", ""},
		{"onboarding is a string", req{method: "POST", path: "/api/v1/integrations/" + unknown + "/runs", body: `{"onboarding": "yes"}`}, 400, "invalid", "onboarding"},
		{"run body with an unknown field", req{method: "POST", path: "/api/v1/integrations/" + unknown + "/runs", body: `{"force": true}`}, 400, "invalid", "force"},
		{"run body malformed", req{method: "POST", path: "/api/v1/integrations/" + unknown + "/runs", body: `{`}, 400, "bad_json", ""},

		// POST /api/v1/runs/{id}/continue
		{"continue an unknown run", req{method: "POST", path: "/api/v1/runs/" + unknown + "/continue"}, 404, "not_found", ""},
		{"continue a malformed id", req{method: "POST", path: "/api/v1/runs/x/continue", body: `{}`}, 404, "not_found", ""},
		{"continue with a body", req{method: "POST", path: "/api/v1/runs/" + unknown + "/continue", body: `{"all": true}`}, 400, "invalid", "all"},

		// GET
		{"unknown integration", req{method: "GET", path: "/api/v1/integrations/" + unknown}, 404, "not_found", ""},
		{"malformed integration id", req{method: "GET", path: "/api/v1/integrations/42"}, 404, "not_found", ""},
		{"unknown run", req{method: "GET", path: "/api/v1/runs/" + unknown}, 404, "not_found", ""},

		// Unknown routes and wrong methods.
		{"unknown route", req{method: "GET", path: "/api/v2/integrations/" + unknown}, 404, "not_found", ""},
		{"no list of integrations", req{method: "GET", path: "/api/v1/integrations"}, 404, "not_found", ""},
		{"root", req{method: "GET", path: "/"}, 404, "not_found", ""},
		{"GET on connect", req{method: "GET", path: connect}, 405, "method_not_allowed", ""},
		{"DELETE an integration", req{method: "DELETE", path: "/api/v1/integrations/" + unknown}, 405, "method_not_allowed", ""},
		{"PUT a run", req{method: "PUT", path: "/api/v1/runs/" + unknown, body: `{}`}, 405, "method_not_allowed", ""},
		{"GET on continue", req{method: "GET", path: "/api/v1/runs/" + unknown + "/continue"}, 405, "method_not_allowed", ""},
		{"POST on health", req{method: "POST", path: "/healthz"}, 405, "method_not_allowed", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(c.req)
			require.Equal(t, c.status, r.status, r.body)
			e := r.errorOf(t)
			assert.Equal(t, c.code, e["code"], r.body)
			if c.field != "" {
				assert.Equal(t, c.field, e["field"], r.body)
			} else {
				assert.NotContains(t, e, "field")
			}
			if c.status == 405 {
				assert.NotEmpty(t, r.header.Get("Allow"))
			}
		})
	}
	f.assertEmpty()
}

func TestMethodNotAllowedSaysWhatIs(t *testing.T) {
	f := newFixture(t)
	id := uuid.NewString()
	for path, allow := range map[string]string{
		"/api/v1/tenants/" + tenant + "/integrations": "POST",
		"/api/v1/integrations/" + id:                  "GET",
		"/api/v1/integrations/" + id + "/runs":        "POST",
		"/api/v1/runs/" + id:                          "GET",
		"/api/v1/runs/" + id + "/continue":            "POST",
		"/healthz":                                    "GET",
	} {
		r := f.do(req{method: "PATCH", path: path})
		assert.Equal(t, 405, r.status, path)
		assert.Equal(t, allow, r.header.Get("Allow"), path)
	}
}

func TestBodySizeLimit(t *testing.T) {
	f := newFixture(t)
	connect := "/api/v1/tenants/" + tenant + "/integrations"
	big := `{"platform": "devto", "settings": {"users": ["` + strings.Repeat("a", api.DefaultMaxBodyBytes) + `"]}, "token": "` + secret + `"}`

	r := f.do(req{method: "POST", path: connect, body: big})
	require.Equal(t, 413, r.status, "announced by Content-Length")
	assert.Equal(t, "too_large", r.errorOf(t)["code"])

	// Without a Content-Length the body is cut while it is read.
	hr := httptest.NewRequest("POST", connect, io.MultiReader(strings.NewReader(big)))
	hr.ContentLength = -1
	hr.Header.Set("Authorization", "Bearer "+apiToken)
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, hr)
	require.Equal(t, 413, rec.Code, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), secret)

	// Just under the limit is read (and refused for its content).
	small := `{"platform": "devto", "settings": {"users": ["` + strings.Repeat("a", api.DefaultMaxBodyBytes-100) + `"]}}`
	r = f.do(req{method: "POST", path: connect, body: small})
	assert.Equal(t, 400, r.status, r.body)
	f.assertEmpty()

	// The limit is an option.
	f2 := newFixture(t, func(o *api.Options) { o.MaxBodyBytes = 64 })
	r = f2.do(req{method: "POST", path: connect, body: `{"platform": "devto", "settings": {"users": ["` + strings.Repeat("b", 64) + `"]}}`})
	assert.Equal(t, 413, r.status)
	f2.assertEmpty()
}

func TestViews(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	st := f.store
	integ, err := st.CreateIntegration(ctx, store.NewIntegration{
		TenantID: tenant, Platform: "devto", Status: store.StatusInProgress, Token: secret,
		Settings: json.RawMessage(`{"users": ["alice"], "note": {"apiToken": "` + secret + `"}}`),
	})
	require.NoError(t, err)

	// Before any run: latestRun is null.
	r := f.do(req{method: "GET", path: "/api/v1/integrations/" + integ})
	require.Equal(t, 200, r.status, r.body)
	v := r.json(t)
	assert.Equal(t, integ, v["id"])
	assert.Equal(t, tenant, v["tenantId"])
	assert.Equal(t, "devto", v["platform"])
	assert.Equal(t, "in-progress", v["status"])
	assert.Equal(t, true, v["hasToken"])
	assert.Nil(t, v["latestRun"])
	assert.NotContains(t, v, "token")
	assert.Equal(t, map[string]any{"users": []any{"alice"}, "note": map[string]any{"apiToken": "[redacted]"}}, v["settings"])

	// An old run, then the latest: delayed, with streams in every state.
	old := uuid.NewString()
	require.NoError(t, st.CreateRun(ctx, store.NewRun{ID: old, TenantID: tenant, IntegrationID: integ, WorkflowID: "integration/" + integ}))
	_, err = st.FinishRun(ctx, old, nil)
	require.NoError(t, err)
	time.Sleep(10 * time.Millisecond) // createdAt orders the runs
	runID := uuid.NewString()
	require.NoError(t, st.StartRun(ctx, store.NewRun{ID: runID, TenantID: tenant, IntegrationID: integ, Onboarding: true,
		WorkflowID: "integration/" + integ}, "0192f0a1-exec"))
	run, err := st.GetRun(ctx, runID)
	require.NoError(t, err)
	var streams []integrations.Stream
	for _, n := range []string{"s1", "s2", "s3", "s4", "s5"} {
		streams = append(streams, integrations.NewStream(n, nil))
	}
	_, err = st.AddStreams(ctx, run, streams)
	require.NoError(t, err)
	ids, err := st.NextStreams(ctx, runID, 5)
	require.NoError(t, err)
	require.Len(t, ids, 5)
	require.NoError(t, st.MarkStreamProcessing(ctx, ids[0]))
	require.NoError(t, st.FailStream(ctx, ids[1], 5, store.Failure{ErrorPoint: "process-stream", Message: "HTTP 500"}))
	_, err = st.Pool().Exec(ctx, `UPDATE "integrationStreams" SET state = 'processed' WHERE id = ANY($1)`, ids[2:4])
	require.NoError(t, err)
	_, err = st.Pool().Exec(ctx, `UPDATE "integrationRuns" SET "recordsWritten" = 42 WHERE id = $1`, runID)
	require.NoError(t, err)
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	require.NoError(t, st.SetRunDelayed(ctx, runID, until, "rate limited by devto"))

	r = f.do(req{method: "GET", path: "/api/v1/runs/" + runID})
	require.Equal(t, 200, r.status, r.body)
	var rv api.RunView
	require.NoError(t, json.Unmarshal([]byte(r.body), &rv))
	assert.Equal(t, runID, rv.ID)
	assert.Equal(t, integ, rv.IntegrationID)
	assert.True(t, rv.Onboarding)
	assert.Equal(t, "delayed", rv.State)
	require.NotNil(t, rv.DelayedUntil)
	assert.True(t, until.Equal(*rv.DelayedUntil))
	require.NotNil(t, rv.DelayReason)
	assert.Equal(t, "rate limited by devto", *rv.DelayReason)
	assert.Equal(t, "null", string(rv.Error))
	assert.EqualValues(t, 42, rv.RecordsWritten)
	assert.Equal(t, api.StreamCounts{Pending: 1, Processing: 1, Processed: 2, Error: 1, Total: 5}, rv.Streams)
	require.Len(t, rv.StreamErrors, 1)
	assert.Equal(t, ids[1], rv.StreamErrors[0].StreamID)
	assert.Equal(t, "s2", rv.StreamErrors[0].Name)
	assert.Equal(t, 5, rv.StreamErrors[0].Retries)
	assert.Contains(t, string(rv.StreamErrors[0].Error), "HTTP 500")
	assert.Equal(t, "integration/"+integ, rv.WorkflowID)
	assert.Equal(t, "0192f0a1-exec", rv.WorkflowRunID)
	assert.Equal(t, "http://temporal.example:8233/namespaces/crowd/workflows/integration%2F"+integ+"/0192f0a1-exec", rv.TemporalURL)

	// The integration shows that run as its latest.
	r = f.do(req{method: "GET", path: "/api/v1/integrations/" + integ})
	require.Equal(t, 200, r.status, r.body)
	var iv api.IntegrationView
	require.NoError(t, json.Unmarshal([]byte(r.body), &iv))
	require.NotNil(t, iv.LatestRun)
	assert.Equal(t, runID, iv.LatestRun.ID)
	assert.Equal(t, 5, iv.LatestRun.Streams.Total)

	// The old run: processed, no streams, a link that lists the workflow's
	// executions since it has no execution id.
	r = f.do(req{method: "GET", path: "/api/v1/runs/" + old})
	require.Equal(t, 200, r.status, r.body)
	v = r.json(t)
	assert.Equal(t, "processed", v["state"])
	assert.Nil(t, v["delayedUntil"])
	assert.Nil(t, v["delayReason"])
	assert.Nil(t, v["error"])
	assert.Equal(t, []any{}, v["streamErrors"])
	assert.Equal(t, map[string]any{"pending": 0.0, "processing": 0.0, "processed": 0.0, "error": 0.0, "total": 0.0}, v["streams"])
	assert.Equal(t, `http://temporal.example:8233/namespaces/crowd/workflows?query=WorkflowId%3D%22integration%2F`+integ+`%22`, v["temporalUrl"])

	// A failed run shows its error.
	require.NoError(t, st.MarkRunError(ctx, runID, store.Failure{ErrorPoint: "superseded", Message: "superseded by onboarding run x"}))
	r = f.do(req{method: "GET", path: "/api/v1/runs/" + runID})
	require.Equal(t, 200, r.status, r.body)
	v = r.json(t)
	assert.Equal(t, "error", v["state"])
	assert.Contains(t, r.body, "superseded by onboarding run x")

	// An integration that was starting a run when Temporal was unreachable
	// is found, and the start refused as unavailable: nothing written.
	before := f.count(`"integrationRuns"`)
	r = f.do(req{method: "POST", path: "/api/v1/integrations/" + integ + "/runs", body: `{"onboarding": true}`})
	assert.Equal(t, 503, r.status, r.body)
	r = f.do(req{method: "POST", path: "/api/v1/runs/" + runID + "/continue"})
	assert.Equal(t, 503, r.status, r.body)
	assert.Equal(t, before, f.count(`"integrationRuns"`))
	assert.Equal(t, "error", f.runState(runID))
}

func (f *fixture) runState(id string) string {
	f.t.Helper()
	run, err := f.store.GetRun(context.Background(), id)
	require.NoError(f.t, err)
	return run.State
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	r := f.do(req{method: "GET", path: "/healthz", noAuth: true})
	require.Equal(t, 200, r.status)
	assert.Equal(t, "ok", r.json(t)["status"])

	// With the database gone it says so, still without a token.
	st, err := store.Open(context.Background(), pgtest.NewDatabase(t))
	require.NoError(t, err)
	h, err := api.Handler(api.Options{Controller: &control.Controller{Store: st, Registry: registry.Default()}, Token: apiToken,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	st.Close()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	assert.Equal(t, 503, rec.Code)
	assert.Contains(t, rec.Body.String(), `"status":"unavailable"`)
}

func TestMetricsEndpoint(t *testing.T) {
	f := newFixture(t)
	ms, err := metrics.Listen("127.0.0.1:0", f.reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = ms.Close() })

	id := uuid.NewString()
	f.do(req{method: "GET", path: "/api/v1/runs/" + id})
	f.do(req{method: "GET", path: "/api/v1/runs/" + uuid.NewString()})
	f.do(req{method: "GET", path: "/healthz", noAuth: true})
	f.do(req{method: "GET", path: "/api/v1/runs/" + id, noAuth: true})
	f.do(req{method: "GET", path: "/no/such/" + id})
	f.do(req{method: "DELETE", path: "/api/v1/runs/" + id})

	res, err := http.Get("http://" + ms.Addr() + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	text := string(b)
	lines := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		lines[l] = true
	}
	for _, line := range []string{
		`crowdflow_api_requests_total{method="GET",route="/api/v1/runs/{id}",status="404"} 2`,
		`crowdflow_api_requests_total{method="GET",route="/api/v1/runs/{id}",status="401"} 1`,
		`crowdflow_api_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`crowdflow_api_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`crowdflow_api_requests_total{method="DELETE",route="unmatched",status="405"} 1`,
		`crowdflow_api_request_duration_seconds_count{method="GET",route="/api/v1/runs/{id}"} 3`,
		`crowdflow_api_requests_in_flight 0`,
	} {
		assert.True(t, lines[line], "no line %s", line)
	}
	assert.Contains(t, text, "\ngo_goroutines ", "the Go runtime's metrics")
	assert.NotContains(t, text, id, "ids never become labels")

	// Only /metrics is served there.
	res2, err := http.Get("http://" + ms.Addr() + "/")
	require.NoError(t, err)
	res2.Body.Close()
	assert.Equal(t, 404, res2.StatusCode)
}
