package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/metrics"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
)

const (
	apiToken = "e2e-api-token-0123456789abcdef"
	// platformToken is the integration's token: no answer may hold it.
	platformToken = "devto-secret-token-5b4a39"
	apiTenant     = "2a7c9e1b-4d3f-4b8a-a6c5-0e9d8f7a6b5c"
)

// apiClient calls the API as the product UI does and checks that no answer
// ever carries the platform token.
type apiClient struct {
	t   *testing.T
	url string
}

type apiAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (c *apiClient) call(method, path, body string) apiAnswer {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	a := apiAnswer{status: res.StatusCode, header: res.Header, raw: string(b)}
	require.NoError(c.t, json.Unmarshal(b, &a.body), "not JSON: %s", b)
	assert.NotContains(c.t, a.raw, platformToken, "the platform token was sent back")
	return a
}

func (a apiAnswer) str(key string) string {
	s, _ := a.body[key].(string)
	return s
}

// waitRun polls GET /api/v1/runs/{id} until the run ends.
func (c *apiClient) waitRun(runID string) apiAnswer {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		a := c.call("GET", "/api/v1/runs/"+runID, "")
		require.Equal(c.t, 200, a.status, a.raw)
		if st := a.str("state"); st == store.RunProcessed || st == store.RunError {
			return a
		}
		require.True(c.t, time.Now().Before(deadline), "run %s did not end: %s", runID, a.raw)
		time.Sleep(200 * time.Millisecond)
	}
}

func scrapeMetrics(t *testing.T, addr string) string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

// metricLine finds a sample line of a metric whose labels include all of
// the given ones, and returns it ("" if none).
func metricLine(text, name string, labels ...string) string {
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, name+"{") {
			continue
		}
		ok := true
		for _, lb := range labels {
			ok = ok && strings.Contains(l, lb)
		}
		if ok {
			return l
		}
	}
	return ""
}

// TestAPIOnboardsDevto connects a Dev.to integration through the API, polls
// its run until it is processed, starts a check and continues it, all over
// HTTP; the API's Temporal client and the worker report their metrics.
func TestAPIOnboardsDevto(t *testing.T) {
	e := newDevtoEnv(t)
	ts := temporalServer()
	reg := metrics.NewRegistry()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	// The API's Temporal client and a worker in place of the harness's,
	// both reporting to the registry, as `starter serve` and the worker do.
	tc, err := client.Dial(client.Options{
		HostPort: ts.GetFrontendHostPort(), Namespace: ts.GetDefaultNamespace(), Logger: quietLogger(), MetricsHandler: reg.TemporalHandler(),
	})
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	e.worker.Stop()
	w := worker.New(tc, e.queue, worker.Options{})
	e.run.Register(w, &activities.Activities{Store: e.store, Registry: e.reg, Logger: logger, HeartbeatInterval: 100 * time.Millisecond})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	ctl := *e.ctl
	ctl.Temporal = tc

	m, err := api.NewMetrics(reg)
	require.NoError(t, err)
	h, err := api.Handler(api.Options{Controller: &ctl, Token: apiToken, Namespace: ts.GetDefaultNamespace(), Metrics: m, Logger: logger})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ms, err := metrics.Listen("127.0.0.1:0", reg, logger)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ms.Close() })
	c := &apiClient{t: t, url: srv.URL}

	// Bad settings: 400 naming the field, and nothing stored.
	a := c.call("POST", "/api/v1/tenants/"+apiTenant+"/integrations",
		`{"platform": "devto", "settings": {"users": "alice"}, "token": "`+platformToken+`"}`)
	require.Equal(t, 400, a.status, a.raw)
	assert.Equal(t, "settings.users", a.body["error"].(map[string]any)["field"])
	assert.Zero(t, e.count(`SELECT count(*) FROM integrations`))
	assert.Zero(t, e.count(`SELECT count(*) FROM tenants`))

	// Connect: 201 with the ids and the Temporal Web link.
	a = c.call("POST", "/api/v1/tenants/"+apiTenant+"/integrations",
		`{"platform": "devto", "settings": `+devtoSettings+`, "token": "`+platformToken+`"}`)
	require.Equal(t, 201, a.status, a.raw)
	integ, runID, wfRun := a.str("integrationId"), a.str("runId"), a.str("workflowRunId")
	require.True(t, store.ValidUUID(integ), a.raw)
	require.True(t, store.ValidUUID(runID), a.raw)
	require.NotEmpty(t, wfRun)
	assert.Equal(t, "integration/"+integ, a.str("workflowId"))
	assert.Equal(t, "http://127.0.0.1:8233/namespaces/"+ts.GetDefaultNamespace()+"/workflows/integration%2F"+integ+"/"+wfRun, a.str("temporalUrl"))
	assert.Equal(t, "/api/v1/integrations/"+integ, a.header.Get("Location"))
	stored, err := e.store.GetIntegration(context.Background(), integ)
	require.NoError(t, err)
	token, _, err := e.store.OpenSecrets(context.Background(), stored)
	require.NoError(t, err)
	assert.Equal(t, platformToken, token, "the token is stored")
	assert.NotContains(t, strings.Join(e.strings(`SELECT i::text FROM integrations i`), ""), platformToken, "the token is stored encrypted")

	// Poll the run until it is processed.
	a = c.waitRun(runID)
	require.Equal(t, store.RunProcessed, a.str("state"), a.raw)
	assert.Equal(t, true, a.body["onboarding"])
	assert.Equal(t, map[string]any{"pending": 0.0, "processing": 0.0, "processed": 3.0, "error": 0.0, "total": 3.0}, a.body["streams"])
	assert.Equal(t, float64(e.count(`SELECT "recordsWritten" FROM "integrationRuns" WHERE id = $1`, runID)), a.body["recordsWritten"])
	assert.GreaterOrEqual(t, a.body["recordsWritten"], 5.0)
	assert.Nil(t, a.body["error"])
	assert.Nil(t, a.body["delayedUntil"])
	assert.NotEmpty(t, a.body["processedAt"])
	e.assertOnboarded()

	// The integration: done, its latest run that one, its token hidden.
	a = c.call("GET", "/api/v1/integrations/"+integ, "")
	require.Equal(t, 200, a.status, a.raw)
	assert.Equal(t, store.StatusDone, a.str("status"))
	assert.Equal(t, true, a.body["hasToken"])
	latest := a.body["latestRun"].(map[string]any)
	assert.Equal(t, runID, latest["id"])
	assert.Equal(t, store.RunProcessed, latest["state"])
	assert.Equal(t, []any{"alice", "bob"}, a.body["settings"].(map[string]any)["users"])

	// A check run: 202, then processed, nothing doubled.
	a = c.call("POST", "/api/v1/integrations/"+integ+"/runs", "")
	require.Equal(t, 202, a.status, a.raw)
	check := a.str("runId")
	require.True(t, store.ValidUUID(check))
	assert.NotEqual(t, runID, check)
	assert.Equal(t, "/api/v1/runs/"+check, a.header.Get("Location"))
	a = c.waitRun(check)
	require.Equal(t, store.RunProcessed, a.str("state"), a.raw)
	assert.Equal(t, false, a.body["onboarding"])
	e.assertOnboarded()

	// Continue the check: the same run again, processed.
	a = c.call("POST", "/api/v1/runs/"+check+"/continue", "")
	require.Equal(t, 202, a.status, a.raw)
	assert.Equal(t, check, a.str("runId"))
	a = c.waitRun(check)
	require.Equal(t, store.RunProcessed, a.str("state"), a.raw)
	e.assertOnboarded()
	a = c.call("GET", "/api/v1/integrations/"+integ, "")
	assert.Equal(t, check, a.body["latestRun"].(map[string]any)["id"])

	// The metrics: the API's requests, the SDK's client calls and the
	// worker's tasks.
	text := scrapeMetrics(t, ms.Addr())
	assert.Equal(t, `crowdflow_api_requests_total{method="POST",route="/api/v1/tenants/{tenantId}/integrations",status="201"} 1`,
		metricLine(text, "crowdflow_api_requests_total", `method="POST"`, `route="/api/v1/tenants/{tenantId}/integrations"`, `status="201"`))
	assert.Equal(t, `crowdflow_api_requests_total{method="POST",route="/api/v1/tenants/{tenantId}/integrations",status="400"} 1`,
		metricLine(text, "crowdflow_api_requests_total", `route="/api/v1/tenants/{tenantId}/integrations"`, `status="400"`))
	assert.NotEmpty(t, metricLine(text, "crowdflow_api_requests_total", `route="/api/v1/runs/{id}/continue"`, `status="202"`))
	assert.NotEmpty(t, metricLine(text, "crowdflow_api_request_duration_seconds_count", `route="/api/v1/runs/{id}"`))
	assert.NotEmpty(t, metricLine(text, "temporal_request_total", `operation="StartWorkflowExecution"`), "the SDK's client metrics")
	assert.NotEmpty(t, metricLine(text, "temporal_activity_execution_latency_seconds_count", `activity_type="ProcessStreams"`), "the worker's activity metrics")
	assert.NotEmpty(t, metricLine(text, "temporal_workflow_completed_total", `workflow_type=`), "the worker's workflow metrics")
}

// TestAPIRefusesASecondRun: while a run sleeps, the API shows it delayed,
// and a second run or a continue of another run is a 409 naming the run in
// progress.
func TestAPIRefusesASecondRun(t *testing.T) {
	script := engineScript()
	script.SleepAfter = map[string]time.Duration{"a": 4 * time.Second}
	e := newEnv(t, []integrations.Service{testservice.New(script)})
	h, err := api.Handler(api.Options{Controller: e.ctl, Token: apiToken, Namespace: temporalServer().GetDefaultNamespace(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := &apiClient{t: t, url: srv.URL}

	a := c.call("POST", "/api/v1/tenants/"+apiTenant+"/integrations", `{"platform": "test"}`)
	require.Equal(t, 201, a.status, a.raw)
	integ, onboarding := a.str("integrationId"), a.str("runId")
	require.Equal(t, store.RunProcessed, c.waitRun(onboarding).str("state"))

	a = c.call("POST", "/api/v1/integrations/"+integ+"/runs", `{"onboarding": false}`)
	require.Equal(t, 202, a.status, a.raw)
	check := a.str("runId")

	a = c.call("POST", "/api/v1/integrations/"+integ+"/runs", `{}`)
	require.Equal(t, 409, a.status, a.raw)
	e409 := a.body["error"].(map[string]any)
	assert.Equal(t, "already_running", e409["code"])
	assert.Equal(t, check, e409["runId"])

	a = c.call("POST", "/api/v1/runs/"+onboarding+"/continue", "")
	require.Equal(t, 409, a.status, a.raw)
	assert.Equal(t, check, a.body["error"].(map[string]any)["runId"])

	// The sleeping run is delayed, with until when and why.
	deadline := time.Now().Add(time.Minute)
	for {
		a = c.call("GET", "/api/v1/runs/"+check, "")
		require.Equal(t, 200, a.status, a.raw)
		if a.str("state") == store.RunDelayed {
			break
		}
		require.NotEqual(t, store.RunProcessed, a.str("state"), "the run ended before it was seen delayed")
		require.True(t, time.Now().Before(deadline), a.raw)
		time.Sleep(100 * time.Millisecond)
	}
	assert.NotEmpty(t, a.body["delayedUntil"])
	assert.NotEmpty(t, a.body["delayReason"])

	require.Equal(t, store.RunProcessed, c.waitRun(check).str("state"))
	// Only the two runs exist: the refused ones wrote nothing.
	assert.Equal(t, 2, e.count(`SELECT count(*) FROM "integrationRuns"`))
}

// TestStarterServe runs `starter serve` as an operator would.
func TestStarterServe(t *testing.T) {
	e := newDevtoEnv(t)
	bin := starter(t)
	ts := temporalServer()
	baseEnv := append(os.Environ(),
		"DATABASE_URL="+e.dbURL,
		"TEMPORAL_ADDRESS="+ts.GetFrontendHostPort(),
		"TEMPORAL_NAMESPACE="+ts.GetDefaultNamespace(),
		"TEMPORAL_TASK_QUEUE="+e.queue,
		"API_ADDR=127.0.0.1:0",
		"METRICS_ADDR=127.0.0.1:0",
		"ENCRYPTION_KEY="+e.key,
	)

	// It refuses to start without a (long enough) token or with a bad UI URL.
	for name, extra := range map[string][]string{
		"no token":           {"API_TOKEN="},
		"short token":        {"API_TOKEN=abc"},
		"bad UI URL":         {"API_TOKEN=" + apiToken, "TEMPORAL_UI_URL=localhost:8233"},
		"no encryption key":  {"API_TOKEN=" + apiToken, "ENCRYPTION_KEY="},
		"bad encryption key": {"API_TOKEN=" + apiToken, "ENCRYPTION_KEY=c2hvcnQ="},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, "serve")
			cmd.Env = append(append([]string{}, baseEnv...), extra...)
			var out, errOut strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, errOut.String())
			assert.Equal(t, 2, ee.ExitCode())
			assert.Empty(t, out.String())
			assert.Len(t, strings.Split(strings.TrimSpace(errOut.String()), "\n"), 1, errOut.String())
		})
	}

	cmd := exec.Command(bin, "serve")
	cmd.Env = append(append([]string{}, baseEnv...), "API_TOKEN="+apiToken, "TEMPORAL_UI_URL=https://temporal.example.com/")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	addrs := make(chan [2]string, 1)
	go func() {
		apiRe := regexp.MustCompile(`api: listening on http://(\S+)`)
		metricsRe := regexp.MustCompile(`metrics: listening on http://(\S+)/metrics`)
		var apiAddr, metricsAddr string
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := apiRe.FindStringSubmatch(sc.Text()); m != nil {
				apiAddr = m[1]
			}
			if m := metricsRe.FindStringSubmatch(sc.Text()); m != nil {
				metricsAddr = m[1]
			}
			if !sent && apiAddr != "" && metricsAddr != "" {
				addrs <- [2]string{apiAddr, metricsAddr}
				sent = true
			}
		}
		exited <- cmd.Wait()
	}()
	var apiAddr, metricsAddr string
	select {
	case a := <-addrs:
		apiAddr, metricsAddr = a[0], a[1]
	case err := <-exited:
		t.Fatalf("starter serve exited: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("starter serve did not say where it listens")
	}

	res, err := http.Get("http://" + apiAddr + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
	res, err = http.Get("http://" + apiAddr + "/api/v1/runs/" + apiTenant)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 401, res.StatusCode)

	c := &apiClient{t: t, url: "http://" + apiAddr}
	a := c.call("POST", "/api/v1/tenants/"+apiTenant+"/integrations",
		`{"platform": "devto", "settings": `+devtoSettings+`, "token": "`+platformToken+`"}`)
	require.Equal(t, 201, a.status, a.raw)
	assert.True(t, strings.HasPrefix(a.str("temporalUrl"), "https://temporal.example.com/namespaces/"+ts.GetDefaultNamespace()+"/workflows/integration%2F"), a.raw)
	require.Equal(t, store.RunProcessed, c.waitRun(a.str("runId")).str("state"))
	e.assertOnboarded()
	a = c.call("GET", "/api/v1/integrations/"+a.str("integrationId"), "")
	assert.Equal(t, store.StatusDone, a.str("status"))

	text := scrapeMetrics(t, metricsAddr)
	assert.NotEmpty(t, metricLine(text, "crowdflow_api_requests_total", `route="/api/v1/tenants/{tenantId}/integrations"`, `status="201"`))
	assert.NotEmpty(t, metricLine(text, "crowdflow_api_requests_total", `route="/api/v1/runs/{id}"`, `status="401"`))
	assert.NotEmpty(t, metricLine(text, "temporal_request_total", `operation="StartWorkflowExecution"`))

	// SIGTERM: a clean stop.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		assert.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("starter serve did not stop on SIGTERM")
	}
}
