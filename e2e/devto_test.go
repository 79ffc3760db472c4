package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto"
	"github.com/crowdflow/crowdflow/integrations/devto/devtofake"
	"github.com/crowdflow/crowdflow/store"
)

func devtoWorld() devtofake.World {
	at := func(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, time.UTC) }
	return devtofake.World{
		Users: []devtofake.User{
			{ID: 101, Username: "alice", Name: "Alice A", Summary: "Go dev", Location: "Lisbon", JoinedAt: at(1, 1)},
			{ID: 102, Username: "bob", Name: "Bob B", JoinedAt: at(1, 2)},
			{ID: 103, Username: "carol", Name: "", Location: "Oslo", JoinedAt: at(1, 3)},
			{ID: 104, Username: "gone", Name: "Gone", JoinedAt: at(1, 4), Deleted: true},
		},
		Organizations: []devtofake.Organization{{Username: "acme", Name: "Acme", JoinedAt: at(1, 0)}},
		Articles: []devtofake.Article{
			{ID: 9001, Title: "Durable runs", UserID: 101, Organization: "acme", PublishedAt: at(2, 9), Comments: []devtofake.Comment{
				{IDCode: "c1", UserID: 102, BodyHTML: "<p>Nice <script>x()</script>post</p>", CreatedAt: at(3, 1), Children: []devtofake.Comment{
					{IDCode: "c2", UserID: 101, BodyHTML: "<p>Thanks</p>", CreatedAt: at(3, 2), Children: []devtofake.Comment{
						{IDCode: "c3", UserID: 103, BodyHTML: "<p>+1</p>", CreatedAt: at(3, 3)},
					}},
				}},
				{IDCode: "c4", UserID: 104, BodyHTML: "<p>from a deleted account</p>", CreatedAt: at(3, 4)},
				{IDCode: "c5", UserID: 103, BodyHTML: "<p>removed</p>", CreatedAt: at(3, 5), Deleted: true, Children: []devtofake.Comment{
					{IDCode: "c6", UserID: 102, BodyHTML: "<p>reply to a deleted comment</p>", CreatedAt: at(3, 6)},
				}},
			}},
			{ID: 9002, Title: "Rate limits", UserID: 102, PublishedAt: at(4, 9), Comments: []devtofake.Comment{
				{IDCode: "c7", UserID: 103, BodyHTML: "<p>Good one</p>", CreatedAt: at(5, 1)},
			}},
			{ID: 9003, Title: "No comments yet", UserID: 101, PublishedAt: at(6, 9)},
		},
	}
}

const devtoSettings = `{"users": ["alice", "bob"], "organizations": ["acme"]}`

type devtoEnv struct {
	*env
	fake *devtofake.Server
	url  string
}

func newDevtoEnv(t *testing.T, opts ...option) *devtoEnv {
	fake := devtofake.New(devtoWorld())
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	url := srv.URL + "/api"
	svc := devto.New(devto.Options{BaseURL: url, PageSize: 2})
	return &devtoEnv{env: newEnv(t, []integrations.Service{svc}, opts...), fake: fake, url: url}
}

func (e *devtoEnv) assertOnboarded() {
	t := e.t
	// c4's author has no profile any more (/users/104 is 404): the comment
	// is kept, its member as the tree names them.
	assert.Equal(t, []string{"c1", "c2", "c3", "c4", "c6", "c7"}, e.strings(`SELECT "sourceId" FROM activities ORDER BY 1`))
	assert.Equal(t, []string{"alice", "bob", "carol", "gone"}, e.strings(`SELECT username FROM "memberIdentities" ORDER BY 1`))
	assert.Equal(t, 4, e.count(`SELECT count(*) FROM members`))
	assert.Equal(t, []string{
		"c1||bob|<p>Nice post</p>|https://dev.to/bob/comment/c1|false",
		"c2|c1|alice|<p>Thanks</p>|https://dev.to/alice/comment/c2|true",
		"c3|c2|carol|<p>+1</p>|https://dev.to/carol/comment/c3|true",
		"c4||gone|<p>from a deleted account</p>|https://dev.to/gone/comment/c4|false",
		"c6|c5|bob|<p>reply to a deleted comment</p>|https://dev.to/bob/comment/c6|true",
		"c7||carol|<p>Good one</p>|https://dev.to/carol/comment/c7|false",
	}, e.strings(`SELECT concat_ws('|', "sourceId", coalesce("sourceParentId", ''), username, body, url, attributes->>'thread')
		FROM activities ORDER BY "sourceId"`))
	assert.Equal(t, 6, e.count(`SELECT count(*) FROM activities WHERE type = 'comment' AND platform = 'devto' AND score = 6 AND "isContribution"`))
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM activities WHERE "sourceId" = 'c1'
		AND attributes->>'articleTitle' = 'Durable runs' AND attributes->>'articleUrl' LIKE 'https://dev.to/%durable-runs%'`),
		"the comment carries its article's title and URL")
	assert.Equal(t, []string{"Lisbon", "Oslo"}, e.strings(`SELECT attributes->'location'->>'devto' FROM members WHERE attributes ? 'location' ORDER BY 1`))
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM activities c JOIN activities p ON c."parentId" = p.id WHERE c."sourceId" = 'c3' AND p."sourceId" = 'c2'`))
}

func TestDevtoOnboardingThenChecks(t *testing.T) {
	e := newDevtoEnv(t)
	started, state := e.connect(devto.Platform, devtoSettings, "")
	require.Equal(t, store.RunProcessed, state)
	e.assertOnboarded()
	assert.Equal(t, 3, e.count(`SELECT count(*) FROM "integrationStreams" WHERE "runId" = $1 AND state = 'processed'`, started.RunID))
	assert.Equal(t, []string{"done"}, e.strings(`SELECT status FROM integrations`))
	assert.Equal(t, []string{"processed"}, e.strings(`SELECT state FROM "integrationRuns"`))
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM "memberAttributeSettings" WHERE name = 'location'`))

	// Temporal Web finds the run by its search attributes.
	query := fmt.Sprintf(`Platform = "devto" AND IntegrationId = %q AND Onboarding = true`, started.IntegrationID)
	require.Eventually(t, func() bool {
		res, err := e.ctl.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: temporalServer().GetDefaultNamespace(), Query: query,
		})
		return err == nil && len(res.GetExecutions()) == 1 && res.GetExecutions()[0].GetExecution().GetWorkflowId() == started.WorkflowID
	}, 10*time.Second, 200*time.Millisecond, "no workflow found by %s", query)

	// A check with nothing new adds nothing and fetches no comments.
	e.fake.ResetCounts()
	e.checkAddsNothing(started.IntegrationID)
	assert.Equal(t, 0, e.fake.Requests("/comments"))

	// A new reply: the check fetches that article alone and adds exactly it.
	require.NoError(t, e.fake.AddComment(9002, "c7", devtofake.Comment{IDCode: "c8", UserID: 101, BodyHTML: "<p>Agreed</p>",
		CreatedAt: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}))
	check, state := e.start(started.IntegrationID, false)
	require.Equal(t, store.RunProcessed, state)
	assert.Equal(t, []string{"9002"}, e.strings(`SELECT name FROM "integrationStreams" WHERE "runId" = $1`, check.RunID))
	assert.Equal(t, 7, e.count(`SELECT count(*) FROM activities`))
	assert.Equal(t, []string{"c7"}, e.strings(`SELECT "sourceParentId" FROM activities WHERE "sourceId" = 'c8'`))
	assert.Equal(t, 4, e.count(`SELECT count(*) FROM members`))
	assert.Equal(t, []string{"processed", "processed", "processed"}, e.strings(`SELECT state FROM "integrationRuns"`))
}

func TestDevtoFailsTwiceThenAnswers(t *testing.T) {
	e := newDevtoEnv(t)
	e.fake.FailNext(2)
	_, state := e.connect(devto.Platform, devtoSettings, "")
	require.Equal(t, store.RunProcessed, state)
	e.assertOnboarded()
}

func TestDevtoRateLimitDelaysTheRun(t *testing.T) {
	e := newDevtoEnv(t)
	// The article lists take a few calls; the limit hits the comment trees.
	// A Retry-After of 5 s is longer than the service waits in place (2 s):
	// the engine waits it out.
	e.fake.SetRetryAfter("5")
	e.fake.RateLimitAfter(8, 1)
	started, state := e.connect(devto.Platform, devtoSettings, "")
	require.Equal(t, store.RunProcessed, state)
	e.assertOnboarded()
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM "integrationStreams" WHERE retries IS NOT NULL`), "a rate limit spends no retry attempt")

	// The wait was a durable timer in the workflow's history.
	assert.Equal(t, 1, e.history(started).Timers)
}

// TestDevtoThrottlePacedByTheLedger: the fake throttles as Dev.to does (3
// requests a second per address) and the service's own pacer is off: the
// quota ledger paces the worker's requests for the address, so the
// throttle refuses nothing, and the run needs no timer and no retry, and
// loses nothing. (Before the ledger, these unpaced requests met the
// throttle and waited its 429s out in place: the devto package's
// TestThrottle keeps that path covered.)
func TestDevtoThrottlePacedByTheLedger(t *testing.T) {
	fake := devtofake.New(devtoWorld())
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	svc := devto.New(devto.Options{BaseURL: srv.URL + "/api", PageSize: 2, RequestsPerSecond: -1})
	e := &devtoEnv{env: newEnv(t, []integrations.Service{svc}), fake: fake, url: srv.URL + "/api"}
	started, state := e.connect(devto.Platform, devtoSettings, "")
	require.Equal(t, store.RunProcessed, state)
	e.assertOnboarded()
	assert.Zero(t, fake.Throttled(), "the throttle refused nothing")
	h := e.history(started)
	assert.Zero(t, h.Timers, "no durable wait")
	assert.Zero(t, h.Retries, "no activity retried")
	t.Logf("%d requests, %d refused by the throttle", fake.TotalRequests(), fake.Throttled())
}

func TestDevtoThroughTheStarter(t *testing.T) {
	e := newDevtoEnv(t)
	apiEnv := []string{"DEVTO_API_URL=" + e.url}
	// --identifier and the refresh token are general connect inputs: stored
	// as given, whether or not the platform uses them.
	out, errOut, code := e.runStarter(append(apiEnv, "INTEGRATION_REFRESH_TOKEN=r-1"), "connect", "--tenant", "6d1f4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
		"--platform", "devto", "--settings", devtoSettings, "--identifier", "acct-42")
	require.Equal(t, 0, code, errOut)
	id := strings.TrimSpace(out)
	require.True(t, store.ValidUUID(id), "stdout is the integration id alone: %q", out)
	stored, err := e.store.GetIntegration(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, "acct-42", stored.Identifier)
	assert.True(t, stored.RefreshToken.IsSealed(), "the refresh token is stored encrypted")
	_, refresh, err := e.store.OpenSecrets(context.Background(), stored)
	require.NoError(t, err)
	assert.Equal(t, "r-1", refresh)
	active, err := e.store.ActiveRun(context.Background(), id)
	if err == nil {
		require.Equal(t, store.RunProcessed, e.wait(control.Started{IntegrationID: id, RunID: active.ID, WorkflowID: "integration/" + id}))
	}
	e.assertOnboarded()

	out, errOut, code = e.runStarter(apiEnv, "process-integration", "-i", id, "--wait")
	require.Equal(t, 0, code, errOut)
	runID := strings.TrimSpace(out)
	assert.True(t, store.ValidUUID(runID), "stdout is the run id alone: %q", out)
	assert.Contains(t, errOut, "processed")
	e.assertOnboarded()

	out, errOut, code = e.runStarter(apiEnv, "continue-run", "-r", runID, "--wait")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, runID, strings.TrimSpace(out))
	e.assertOnboarded()
}

func TestStarterRejectsBadInputAndWritesNothing(t *testing.T) {
	e := newDevtoEnv(t)
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		msg  string
	}{
		{"unknown platform", nil, []string{"connect", "--tenant", "6d1f4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", "--platform", "myspace"}, 2, "unknown platform"},
		{"malformed settings", nil, []string{"connect", "--tenant", "6d1f4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", "--platform", "devto", "--settings", "{users"}, 2, "settings"},
		{"settings of the wrong shape", nil, []string{"connect", "--tenant", "6d1f4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", "--platform", "devto", "--settings", `{"users": "alice"}`}, 2, "settings.users"},
		{"bad tenant", nil, []string{"connect", "--tenant", "acme", "--platform", "devto", "--settings", devtoSettings}, 2, "tenant"},
		{"unknown integration", nil, []string{"process-integration", "-i", "6d1f4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", "--wait"}, 1, "not found"},
		{"malformed integration id", nil, []string{"process-integration", "-i", "42"}, 2, "not a UUID"},
		{"unknown run", nil, []string{"continue-run", "-r", "6d1f4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6"}, 1, "not found"},
		{"no database", []string{"DATABASE_URL="}, []string{"process-integration", "-i", "6d1f4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6"}, 1, "DATABASE_URL"},
		{"unreachable Temporal", []string{"TEMPORAL_ADDRESS=127.0.0.1:1"}, []string{"connect", "--tenant", "6d1f4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", "--platform", "devto", "--settings", devtoSettings}, 1, "Temporal"},
		{"unreachable database", []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}, []string{"migrate"}, 1, "connect"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := e.runStarter(c.env, c.args...)
			assert.Equal(t, c.code, code, errOut)
			assert.Empty(t, out, "nothing on stdout")
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			assert.Len(t, lines, 1, "one clear line: %q", errOut)
			assert.Contains(t, errOut, c.msg)
		})
	}
	assert.Equal(t, 0, e.count(`SELECT (SELECT count(*) FROM integrations) + (SELECT count(*) FROM tenants) + (SELECT count(*) FROM "integrationRuns")`))
}
