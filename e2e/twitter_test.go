package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/twitter"
	"github.com/crowdflow/crowdflow/integrations/twitter/twitterfake"
	"github.com/crowdflow/crowdflow/integrations/twitterreach"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/store"
)

const (
	twitterTenant   = "5b0e7c1a-3f2d-4e8b-9a6c-1d2e3f4a5b6c"
	twitterSettings = `{"hashtags": "#crowdflowdemo, Go"}`
	twitterClient   = "e2e-client"
	twitterSecret   = "e2e-secret"
)

type twitterEnv struct {
	*env
	fake *twitterfake.Server
	url  string
	// given are the tokens connect gave.
	given []string
}

func newTwitterEnv(t *testing.T, sw twitterfake.Switches, opts ...option) *twitterEnv {
	sw.ClientID, sw.ClientSecret = twitterClient, twitterSecret
	fake := twitterfake.New(twitterfake.DemoWorld(time.Now()), sw)
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	o := twitter.Options{APIURL: srv.URL, ClientID: twitterClient, ClientSecret: twitterSecret}
	e := newEnv(t, []integrations.Service{twitter.New(o), twitterreach.New(o)}, opts...)
	return &twitterEnv{env: e, fake: fake, url: srv.URL}
}

// connect connects the demo profile with a pair the fake issued (as the
// OAuth flow would), its expiry unknown, and waits for the onboarding.
func (e *twitterEnv) connect() (control.Started, string) {
	e.t.Helper()
	access, refresh := e.fake.IssuePair()
	e.given = append(e.given, access, refresh)
	started, err := e.ctl.Connect(context.Background(), control.ConnectInput{
		TenantID: twitterTenant, Platform: twitter.Platform, Settings: []byte(twitterSettings),
		Token: access, RefreshToken: refresh, Identifier: twitterfake.DemoProfileID,
	})
	require.NoError(e.t, err)
	return started, e.wait(started)
}

// tokens are the stored pair; the test checks it is the one live pair.
func (e *twitterEnv) assertOneValidPair(integrationID string) {
	e.t.Helper()
	tok, err := e.store.Tokens(context.Background(), integrationID)
	require.NoError(e.t, err)
	assert.True(e.t, e.fake.ValidPair(tok.Access, tok.Refresh), "the stored pair works")
	assert.Equal(e.t, 1, e.fake.LiveRefreshTokens(), "and no other refresh token is alive")
	assert.WithinDuration(e.t, time.Now().Add(2*time.Hour), tok.ExpiresAt, time.Minute, "its expiry is kept")
}

// historyText is every event of a run's workflow history as text,
// payloads included.
func (e *twitterEnv) historyText(s control.Started) string {
	e.t.Helper()
	var b strings.Builder
	it := e.ctl.Temporal.GetWorkflowHistory(context.Background(), s.WorkflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(e.t, err)
		b.WriteString(ev.String())
	}
	return b.String()
}

func (e *twitterEnv) keys() []string {
	return sorted(e.strings(`SELECT concat_ws('|', type, "sourceId", username, to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD'), score, "isContribution")
		FROM activities`))
}

func followKey(id, username, day string) string {
	return fmt.Sprintf("follow|%s|%s|%s|2|f", twitter.FollowSourceID(twitterfake.DemoProfileID, id), username, day)
}

func postKey(typ, id, username string, at time.Time) string {
	return fmt.Sprintf("%s|%s|%s|%s|6|t", typ, id, username, at.UTC().Format("2006-01-02"))
}

func TestTwitterOnboardingAndChecks(t *testing.T) {
	e := newTwitterEnv(t, twitterfake.Switches{})
	world := twitterfake.DemoWorld(time.Now())
	at := map[string]time.Time{}
	for _, p := range world.Posts {
		at[p.ID] = p.CreatedAt
	}
	started, state := e.connect()
	require.Equal(t, store.RunProcessed, state)

	onboarded := sorted([]string{
		followKey("1590000000000000011", "demo_ada_x", "1970-01-01"),
		followKey("1590000000000000012", "demo_grace_x", "1970-01-01"),
		followKey("1590000000000000013", "demo_linus_x", "1970-01-01"),
		postKey("mention", "1590000000000000101", "demo_ada_x", at["1590000000000000101"]),
		postKey("mention", "1590000000000000102", "demo_grace_x", at["1590000000000000102"]),
		postKey("hashtag", "1590000000000000101", "demo_ada_x", at["1590000000000000101"]),
		postKey("hashtag", "1590000000000000103", "demo_linus_x", at["1590000000000000103"]),
	})
	assert.Equal(t, onboarded, e.keys())
	assert.Equal(t, []string{"demo_ada_x", "demo_grace_x", "demo_linus_x"}, e.strings(`SELECT username FROM "memberIdentities" ORDER BY 1`))
	assert.Equal(t, []string{`{"total": 1200, "twitter": 1200}`, `{"total": 340, "twitter": 340}`, `{"total": 7, "twitter": 7}`},
		e.strings(`SELECT m.reach::text FROM members m JOIN "memberIdentities" i ON i."memberId" = m.id ORDER BY i.username`))
	assert.Equal(t, []string{`["crowdflowdemo", "Go"]`}, e.strings(`SELECT (settings->'hashtags')::text FROM integrations`), "normalised at connect")
	assert.Equal(t, []string{"https://twitter.com/i/status/1590000000000000101|crowdflowdemo|photo"},
		e.strings(`SELECT concat_ws('|', url, attributes->>'hashtag', attributes->'attachments'->0->>'type') FROM activities
			WHERE type = 'hashtag' AND "sourceId" = '1590000000000000101'`))
	assert.Equal(t, 1, e.fake.Refreshes(), "the connect-time pair (expiry unknown) refreshed once")
	e.assertOneValidPair(started.IntegrationID)
	requests := func() [4]int {
		return [4]int{e.fake.Requests(twitterfake.RouteToken), e.fake.Requests(twitterfake.RouteFollowers),
			e.fake.Requests(twitterfake.RouteMentions), e.fake.Requests(twitterfake.RouteSearch)}
	}
	assert.Equal(t, [4]int{1, 1, 1, 2}, requests(), "token, followers, mentions, one search per hashtag")
	tok, err := e.store.Tokens(context.Background(), started.IntegrationID)
	require.NoError(t, err)
	history := e.historyText(started)
	require.Contains(t, history, started.RunID, "the history is readable")
	for _, secret := range append(e.given, tok.Access, tok.Refresh) {
		assert.NotContains(t, history, secret, "no token in workflow inputs, results or failures")
	}
	assert.Equal(t, []string{store.StatusDone}, e.strings(`SELECT status FROM integrations`))

	// New follower and posts; a check adds exactly those.
	e.fake.AddFollower(twitterfake.DemoProfileID, twitterfake.User{ID: "1590000000000000021", Username: "demo_new_x", Name: "New Demo", FollowersCount: 3})
	newAt := time.Now().Add(-time.Minute).Truncate(time.Second)
	e.fake.AddPost(twitterfake.Post{ID: "1590000000000000201", AuthorID: "1590000000000000021", CreatedAt: newAt,
		Text: "@crowdflow_demo hello #go"}, nil)
	before := e.keys()
	check, state := e.start(started.IntegrationID, false)
	require.Equal(t, store.RunProcessed, state)
	var seen time.Time
	require.NoError(t, e.store.Pool().QueryRow(context.Background(), `SELECT "createdAt" FROM "integrationRuns" WHERE id = $1`, check.RunID).Scan(&seen))
	assert.Equal(t, sorted([]string{
		followKey("1590000000000000021", "demo_new_x", seen.UTC().Format("2006-01-02")),
		postKey("mention", "1590000000000000201", "demo_new_x", newAt),
		postKey("hashtag", "1590000000000000201", "demo_new_x", newAt),
	}), without(e.keys(), before))
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM activities a JOIN "integrationRuns" r ON r.id = $1
		WHERE a.type = 'follow' AND a.username = 'demo_new_x' AND a.timestamp = r."createdAt"`, check.RunID),
		"a follow a check finds is dated when the check began")
	assert.Equal(t, [4]int{1, 2, 2, 4}, requests(), "a check: the first page of each stream")
	e.checkAddsNothing(started.IntegrationID)
	assert.Equal(t, [4]int{1, 3, 3, 6}, requests(), "checks within the token's two hours refresh nothing")
}

// TestTwitterAndReachAtOnce: a twitter check and a twitter-reach run start
// at the same moment on a token about to expire; both succeed, one
// refresh is made, one valid pair is left.
func TestTwitterAndReachAtOnce(t *testing.T) {
	e := newTwitterEnv(t, twitterfake.Switches{})
	started, state := e.connect()
	require.Equal(t, store.RunProcessed, state)
	ctx := context.Background()
	tok, err := e.store.Tokens(ctx, started.IntegrationID)
	require.NoError(t, err)
	tok.ExpiresAt = time.Now().Add(time.Minute)
	require.NoError(t, e.store.SaveTokens(ctx, started.IntegrationID, tok))
	e.fake.SetFollowersCount("demo_grace_x", 341)

	var wg sync.WaitGroup
	var check, reach control.Started
	var errCheck, errReach error
	wg.Add(2)
	go func() { defer wg.Done(); check, errCheck = e.ctl.StartRun(ctx, started.IntegrationID, false) }()
	go func() {
		defer wg.Done()
		reach, errReach = e.ctl.StartServiceRun(ctx, started.IntegrationID, twitterreach.Platform, "")
	}()
	wg.Wait()
	require.NoError(t, errCheck)
	require.NoError(t, errReach)
	assert.Equal(t, "integration/"+started.IntegrationID, check.WorkflowID)
	assert.Equal(t, "integration/"+started.IntegrationID+"/twitter-reach", reach.WorkflowID)
	assert.Equal(t, store.RunProcessed, e.wait(check))
	assert.Equal(t, store.RunProcessed, e.wait(reach))
	assert.Equal(t, 2, e.fake.Refreshes(), "the connect's refresh and one more")
	e.assertOneValidPair(started.IntegrationID)
	assert.Equal(t, []string{"twitter-reach|" + started.IntegrationID + "|processed|0"},
		e.strings(`SELECT concat_ws('|', service, "integrationId", state, "recordsWritten") FROM "integrationRuns" WHERE service IS NOT NULL`))
	assert.Equal(t, []string{"usernames"}, e.strings(`SELECT DISTINCT s.name FROM "integrationStreams" s
		JOIN "integrationRuns" r ON r.id = s."runId" WHERE r.service = 'twitter-reach'`), "the reach service's streams")
	assert.Equal(t, []string{`{"total": 341, "twitter": 341}`},
		e.strings(`SELECT m.reach::text FROM members m JOIN "memberIdentities" i ON i."memberId" = m.id WHERE i.username = 'demo_grace_x'`))
}

func TestTwitterRefreshCrashes(t *testing.T) {
	t.Run("token endpoint fails before it rotates: retried, one pair", func(t *testing.T) {
		e := newTwitterEnv(t, twitterfake.Switches{})
		e.fake.FailNextToken(1, http.StatusBadGateway)
		started, state := e.connect()
		require.Equal(t, store.RunProcessed, state)
		assert.Equal(t, 1, e.fake.Refreshes())
		assert.Equal(t, 1, e.history(started).Retries)
		e.assertOneValidPair(started.IntegrationID)
	})
	t.Run("step dies after the new pair is committed: the retry uses it", func(t *testing.T) {
		e := newTwitterEnv(t, twitterfake.Switches{})
		// The followers step refreshes, commits, then its request fails.
		e.fake.FailNext(1, http.StatusServiceUnavailable)
		started, state := e.connect()
		require.Equal(t, store.RunProcessed, state)
		assert.Equal(t, 1, e.fake.Refreshes(), "no second refresh")
		assert.Equal(t, 1, e.history(started).Retries)
		e.assertOneValidPair(started.IntegrationID)
	})
	t.Run("the answer is lost before the commit: reconnect, no retries", func(t *testing.T) {
		e := newTwitterEnv(t, twitterfake.Switches{})
		e.fake.LoseNextTokenResponse(1)
		started, state := e.connect()
		require.Equal(t, store.RunError, state)
		assert.Equal(t, 2, e.fake.Requests(twitterfake.RouteToken), "the lost one and one refused; nothing more")
		assert.Equal(t, []string{store.StatusNeedsReconnect}, e.strings(`SELECT status FROM integrations`))
		errs := e.strings(`SELECT error->>'message' FROM "integrationStreams" WHERE state = 'error' ORDER BY name`)
		require.NotEmpty(t, errs)
		for _, msg := range errs {
			assert.Contains(t, msg, "reconnect")
		}
		assert.Equal(t, 1, e.history(started).Retries, "only the lost answer's attempt was retried")
		assert.Zero(t, e.count(`SELECT count(*) FROM activities`))
		// A scheduled check skips it; a run started by hand fails at once.
		_, err := e.ctl.StartCheckRun(context.Background(), started.IntegrationID, "00000000-0000-4000-8000-000000000001")
		require.ErrorIs(t, err, control.ErrNotDone)
	})
}

func TestTwitterRateLimited(t *testing.T) {
	clean := newTwitterEnv(t, twitterfake.Switches{})
	_, state := clean.connect()
	require.Equal(t, store.RunProcessed, state)

	// The quota transport would wait a 2 s reset out in place and send
	// the call again: with QUOTA_MAX_WAIT under it, it reaches the engine.
	t.Setenv(quota.EnvMaxWait, "1s")
	e := newTwitterEnv(t, twitterfake.Switches{})
	e.fake.RateLimitNext(1, twitterfake.FormUsageCapped, 2*time.Second)
	stop := e.watchDelays()
	started, state := e.connect()
	seen := stop()
	require.Equal(t, store.RunProcessed, state)
	h := e.history(started)
	assert.Equal(t, 1, h.Timers, "a durable timer until the reset")
	require.Len(t, h.Delays, 1)
	assert.Contains(t, h.Delays[0], "rate limited")
	assert.Zero(t, h.Retries, "a 429 spends no retry")
	assert.NotEmpty(t, seen, "the run row said delayed")
	assert.Equal(t, clean.keys(), e.keys(), "the same rows as a clean run")
}

func TestTwitterReachThroughTheStarter(t *testing.T) {
	e := newTwitterEnv(t, twitterfake.Switches{})
	started, state := e.connect()
	require.Equal(t, store.RunProcessed, state)
	ctx := context.Background()
	// A member the API does not know, and one whose username cannot be a handle.
	tx, err := e.store.Pool().Begin(ctx)
	require.NoError(t, err)
	_, err = store.WriteRecords(ctx, tx, store.Target{TenantID: twitterTenant, IntegrationID: started.IntegrationID, Platform: twitter.Platform},
		&integrations.StreamResult{Members: []integrations.Member{{Username: "nobody_here"}, {Username: "not a handle"}}})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	e.fake.SetFollowersCount("demo_ada_x", 1250)
	before := e.strings(`SELECT concat_ws('|', i.username, m.reach::text, m."updatedAt"::text) FROM members m
		JOIN "memberIdentities" i ON i."memberId" = m.id ORDER BY i.username`)
	activities := e.count(`SELECT count(*) FROM activities`)

	out, errOut, code := e.runStarter([]string{"TWITTER_API_URL=" + e.url}, "process-integration", "-p", "twitter-reach", "--wait")
	require.Equal(t, 0, code, errOut)
	runID := strings.TrimSpace(out)
	run, err := e.store.GetRun(ctx, runID)
	require.NoError(t, err)
	assert.Equal(t, twitterreach.Platform, run.Service)
	assert.Equal(t, started.IntegrationID, run.IntegrationID)
	assert.Equal(t, store.RunProcessed, run.State)
	assert.Equal(t, "integration/"+started.IntegrationID+"/twitter-reach", run.WorkflowID)

	after := e.strings(`SELECT concat_ws('|', i.username, m.reach::text, m."updatedAt"::text) FROM members m
		JOIN "memberIdentities" i ON i."memberId" = m.id ORDER BY i.username`)
	changed := without(after, before)
	require.Len(t, changed, 1, "only the member whose count changed is written")
	assert.True(t, strings.HasPrefix(changed[0], `demo_ada_x|{"total": 1250, "twitter": 1250}|`), changed[0])
	assert.Equal(t, activities, e.count(`SELECT count(*) FROM activities`), "no activities")
	assert.Equal(t, []string{store.StatusDone}, e.strings(`SELECT status FROM integrations`))

	// Again: nothing changed, nothing written.
	out, errOut, code = e.runStarter([]string{"TWITTER_API_URL=" + e.url}, "process-integration", "-p", "twitter-reach", "--wait")
	require.Equal(t, 0, code, errOut)
	assert.NotEqual(t, runID, strings.TrimSpace(out))
	assert.Equal(t, after, e.strings(`SELECT concat_ws('|', i.username, m.reach::text, m."updatedAt"::text) FROM members m
		JOIN "memberIdentities" i ON i."memberId" = m.id ORDER BY i.username`))

	// continue-run of a reach run goes on in the reach workflow id.
	cont, err := e.ctl.ContinueRun(ctx, runID)
	require.NoError(t, err)
	assert.Equal(t, run.WorkflowID, cont.WorkflowID)
	assert.Equal(t, store.RunProcessed, e.wait(cont))
}

// TestTwitterConnectRefusesBadInput: a handle for the profile id, bad
// hashtags, or a connect of twitter-reach: one clear error, exit 2,
// nothing written.
func TestTwitterConnectRefusesBadInput(t *testing.T) {
	e := newTwitterEnv(t, twitterfake.Switches{})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a handle, not an id", []string{"--platform", "twitter", "--identifier", "crowdflow_demo"}, "identifier"},
		{"no identifier", []string{"--platform", "twitter"}, "identifier"},
		{"bad hashtag", []string{"--platform", "twitter", "--identifier", "123", "--settings", `{"hashtags":["c++"]}`}, "hashtags"},
		{"twitter-reach", []string{"--platform", "twitter-reach"}, "twitter-reach"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"connect", "--tenant", twitterTenant, "--token", "x"}, tc.args...)
			out, errOut, code := e.runStarter(nil, args...)
			assert.Equal(t, 2, code, errOut)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
			assert.Equal(t, 1, len(strings.Split(strings.TrimSpace(errOut), "\n")), "one line: %q", errOut)
		})
	}
	assert.Zero(t, e.count(`SELECT count(*) FROM integrations`))
}
