package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/github"
	"github.com/crowdflow/crowdflow/integrations/github/githubfake"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/store"
)

const githubToken = "ghp_e2etoken"

func ghAt(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, time.UTC) }

// githubWorld: one repository with every kind of item (an issue with 120
// comments, two pages), a bot and a deleted account, and one repository
// that is gone.
func githubWorld() githubfake.World {
	var many []githubfake.Comment
	for i := 0; i < 120; i++ {
		many = append(many, githubfake.Comment{Author: []string{"alice", "bob"}[i%2], Body: fmt.Sprintf("comment %d", i), CreatedAt: ghAt(5, 0).Add(time.Duration(i) * time.Minute)})
	}
	return githubfake.World{
		Users: []githubfake.User{
			{Login: "alice", Name: "Alice A", Company: "@acme", Followers: 120, CreatedAt: ghAt(1, 0)},
			{Login: "bob", Name: "Bob B", Email: "bob@example.com", Company: "ACME", Followers: 5, CreatedAt: ghAt(1, 0)},
			{Login: "carol", Followers: 1, CreatedAt: ghAt(1, 0)},
			{Login: "renovate", Bot: true, CreatedAt: ghAt(1, 0)},
		},
		Repos: []githubfake.Repo{
			{Owner: "acme", Name: "rocket", CreatedAt: ghAt(1, 0),
				Stars: []githubfake.Star{{User: "alice", At: ghAt(2, 1)}, {User: "bob", At: ghAt(2, 2)}, {User: "renovate", At: ghAt(2, 3)}},
				Forks: []githubfake.Fork{{Owner: "carol", CreatedAt: ghAt(2, 5)}},
				Issues: []githubfake.Issue{
					{Number: 1, Author: "bob", Title: "Big thread", CreatedAt: ghAt(4, 0), Comments: many},
					{Number: 2, Author: "", Title: "by a ghost", CreatedAt: ghAt(4, 1), Comments: []githubfake.Comment{{Author: "carol", Body: "hi", CreatedAt: ghAt(4, 2)}}},
				},
				Pulls: []githubfake.Pull{{Number: 3, Author: "carol", Title: "Fix", State: "MERGED", CreatedAt: ghAt(6, 0),
					Comments:      []githubfake.Comment{{Author: "alice", Body: "lgtm", CreatedAt: ghAt(6, 1)}},
					ReviewThreads: [][]githubfake.Comment{{{Author: "alice", Body: "nit", CreatedAt: ghAt(6, 2)}}},
					Events: []githubfake.Event{
						{Type: githubfake.EventAssigned, Actor: "alice", Subject: "carol", At: ghAt(6, 1)},
						{Type: githubfake.EventReviewRequested, Actor: "carol", Subject: "bob", At: ghAt(6, 1)},
						{Type: githubfake.EventReviewed, Actor: "bob", Body: "ok", State: "APPROVED", At: ghAt(6, 4)},
						{Type: githubfake.EventMerged, Actor: "bob", At: ghAt(6, 5)},
						{Type: githubfake.EventClosed, Actor: "bob", At: ghAt(6, 5)},
					}}},
				Discussions: []githubfake.Discussion{{Number: 4, Author: "alice", Title: "Q", Category: "Q&A", CreatedAt: ghAt(7, 0),
					Comments: []githubfake.DiscussionComment{
						{Author: "bob", Body: "A", IsAnswer: true, CreatedAt: ghAt(7, 1), Replies: []githubfake.Comment{{Author: "alice", Body: "thx", CreatedAt: ghAt(7, 2)}}},
					}}},
			},
			{Owner: "acme", Name: "gone", Unavailable: "NOT_FOUND"},
		},
	}
}

const githubSettings = `{"repos":[{"owner":"acme","name":"rocket"},{"owner":"acme","name":"gone"}]}`

// githubOnboarded is the exact count per type of githubWorld.
var githubOnboarded = map[string]int{
	github.TypeStar: 2, github.TypeFork: 1, github.TypeIssueOpened: 1, github.TypeIssueComment: 121,
	github.TypePullOpened: 1, github.TypePullComment: 1, github.TypePullThreadComment: 1, github.TypePullAssigned: 1,
	github.TypePullReviewRequested: 1, github.TypePullReviewed: 1, github.TypePullMerged: 1, github.TypePullClosed: 1,
	github.TypeDiscussionStarted: 1, github.TypeDiscussionComment: 2,
}

type githubEnv struct {
	*env
	fake *githubfake.Server
	srv  *httptest.Server
}

func newGitHubEnv(t *testing.T, opts ...option) *githubEnv {
	fake := githubfake.New(githubWorld(), githubfake.Options{Tokens: []string{githubToken}})
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	svc := github.New(github.Options{APIURL: srv.URL, GraphQLURL: srv.URL + "/graphql"})
	return &githubEnv{env: newEnv(t, []integrations.Service{svc}, opts...), fake: fake, srv: srv}
}

func (e *githubEnv) typeCounts() map[string]int {
	out := map[string]int{}
	for _, row := range e.strings(`SELECT type || '=' || count(*) FROM activities GROUP BY type`) {
		k, v, _ := strings.Cut(row, "=")
		var n int
		fmt.Sscan(v, &n)
		out[k] = n
	}
	return out
}

func TestGitHubOnboardingAndChecks(t *testing.T) {
	e := newGitHubEnv(t)
	started, state := e.connect(github.Platform, githubSettings, githubToken)
	require.Equal(t, store.RunProcessed, state)
	assert.Equal(t, githubOnboarded, e.typeCounts())
	assert.Equal(t, []string{"alice", "bob", "carol"}, e.strings(`SELECT username FROM "memberIdentities" ORDER BY 1`))
	// "@acme" and "ACME" are one organization, with both members.
	assert.Equal(t, []string{"acme"}, e.strings(`SELECT lower(name) FROM organizations`))
	assert.Equal(t, 2, e.count(`SELECT count(*) FROM "memberOrganizations"`))
	// Reach: the followers, and the total.
	assert.Equal(t, []string{`alice|{"total": 120, "github": 120}`, `bob|{"total": 5, "github": 5}`, `carol|{"total": 1, "github": 1}`},
		e.strings(`SELECT i.username || '|' || m.reach::text FROM members m JOIN "memberIdentities" i ON i."memberId" = m.id ORDER BY 1`))
	assert.Equal(t, []string{"acme/gone"}, e.strings(`SELECT r->>'owner' || '/' || (r->>'name') FROM integrations, jsonb_array_elements(settings->'unavailableRepos') r`))
	assert.Equal(t, []string{"https://github.com/acme/rocket"}, e.strings(`SELECT r->>'url' FROM integrations, jsonb_array_elements(settings->'repos') r`))
	stats := e.fake.Stats()
	t.Logf("onboarding: %d requests, %d points", stats.Requests, stats.Points)

	// A check with nothing new adds nothing, in a few requests.
	e.fake.ResetStats()
	e.checkAddsNothing(started.IntegrationID)
	assert.LessOrEqual(t, e.fake.Stats().Requests, 6, "the probe and a page per root stream")

	// New events: a check adds exactly them.
	before := e.activityKeys()
	e.fake.Update(func(w *githubfake.World) {
		r := &w.Repos[0]
		r.Stars = append(r.Stars, githubfake.Star{User: "carol", At: time.Now().Add(-time.Minute).UTC().Truncate(time.Second)})
		r.Issues[0].Comments = append(r.Issues[0].Comments, githubfake.Comment{Author: "carol", Body: "late", CreatedAt: time.Now().UTC().Truncate(time.Second)})
		r.Discussions[0].Comments[0].Replies = append(r.Discussions[0].Comments[0].Replies, githubfake.Comment{Author: "carol", Body: "me too", CreatedAt: time.Now().UTC().Truncate(time.Second)})
	})
	_, state = e.start(started.IntegrationID, false)
	require.Equal(t, store.RunProcessed, state)
	added := without(e.activityKeys(), before)
	require.Len(t, added, 3, "%v", added)
	assert.Contains(t, added[0]+added[1]+added[2], "|carol|")
	e.checkAddsNothing(started.IntegrationID)
}

func TestGitHubRateLimitedMidRun(t *testing.T) {
	// The quota transport would wait so short a secondary limit out in
	// place and send the query again: with QUOTA_MAX_WAIT under a second,
	// it reaches the engine.
	t.Setenv(quota.EnvMaxWait, "500ms")
	e := newGitHubEnv(t)
	// The GraphQL budget runs out after 4 queries (RATE_LIMITED, resets in
	// 2 s), and a secondary limit (429, Retry-After: 1) hits later.
	e.fake.RateLimitAfter(4, 2*time.Second)
	e.fake.SecondaryLimitAfter(9, http.StatusTooManyRequests, 1)
	stop := e.watchDelays()
	started, state := e.connect(github.Platform, githubSettings, githubToken)
	delays := stop()
	require.Equal(t, store.RunProcessed, state)
	assert.Equal(t, githubOnboarded, e.typeCounts(), "the run completes exact")
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM "integrationStreams" WHERE retries IS NOT NULL`), "a rate limit spends no retry attempt")
	h := e.history(started)
	assert.Equal(t, 2, h.Timers, "each wait is a durable timer: %v", h.Delays)
	require.Len(t, h.Delays, 2)
	assert.Regexp(t, `RATE_LIMITED|budget is spent \(quota ledger\)`, h.Delays[0])
	// Four streams are in flight: the run sleeps until the latest end,
	// the 429's own, or the ledger's for a stream that met the budget it
	// blocked.
	assert.Regexp(t, `secondary rate limit|budget is spent \(quota ledger\)`, h.Delays[1])
	assert.NotEmpty(t, delays, "the run row showed the wait")
}

const webhookSecret = "e2e-webhook-secret"

// webhookServer is `starter serve`'s handler on the env's store and
// Temporal, with a webhook secret.
func (e *githubEnv) webhookServer() *httptest.Server {
	h, err := api.Handler(api.Options{Controller: e.ctl, Token: "e2e-api-token-0123456789", GitHubWebhookSecret: webhookSecret})
	require.NoError(e.t, err)
	srv := httptest.NewServer(h)
	e.t.Cleanup(srv.Close)
	return srv
}

// deliver posts a signed delivery (sign false: a wrong signature) and,
// when the answer names a workflow, waits for it.
func (e *githubEnv) deliver(srv *httptest.Server, event, delivery, payload string, sign bool) (int, map[string]any) {
	e.t.Helper()
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	if !sign {
		mac = hmac.New(sha256.New, []byte("not the secret"))
	}
	mac.Write([]byte(payload))
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/github", strings.NewReader(payload))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&body))
	if wf, _ := body["workflowId"].(string); wf != "" && resp.StatusCode == http.StatusAccepted {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(e.t, e.ctl.Temporal.GetWorkflow(ctx, wf, "").Get(ctx, nil))
	}
	return resp.StatusCode, body
}

func ghUser(login string, id int) string {
	return fmt.Sprintf(`{"login": %q, "id": %d, "type": "User", "html_url": "https://github.com/%s", "avatar_url": "https://avatars.githubusercontent.com/u/%d?v=4"}`, login, id, login, id)
}

const ghRepo = `{"id": 500000, "name": "rocket", "full_name": "acme/rocket", "html_url": "https://github.com/acme/rocket"}`

func TestGitHubWebhooks(t *testing.T) {
	e := newGitHubEnv(t)
	started, state := e.connect(github.Platform, githubSettings, githubToken)
	require.Equal(t, store.RunProcessed, state)
	srv := e.webhookServer()
	webhooks := func() int { return e.count(`SELECT count(*) FROM "incomingWebhooks"`) }

	// A new comment arrives by webhook first.
	issueID := githubfake.IssueNodeID("acme", "rocket", 1)
	newComment := githubfake.CommentNodeID(issueID, 120)
	now := time.Now().UTC().Truncate(time.Second)
	e.fake.Update(func(w *githubfake.World) {
		w.Repos[0].Issues[0].Comments = append(w.Repos[0].Issues[0].Comments, githubfake.Comment{Author: "carol", Body: "by webhook", CreatedAt: now})
	})
	comment := fmt.Sprintf(`{"action": "created", "repository": %s, "sender": %s,
		"issue": {"node_id": %q, "number": 1, "title": "Big thread", "html_url": "https://github.com/acme/rocket/issues/1", "user": %s},
		"comment": {"node_id": %q, "body": "by webhook", "html_url": "https://github.com/acme/rocket/issues/1#issuecomment-9", "created_at": %q, "user": %s}}`,
		ghRepo, ghUser("carol", 1002), issueID, ghUser("bob", 1001), newComment, now.Format(time.RFC3339), ghUser("carol", 1002))
	code, body := e.deliver(srv, "issue_comment", "d-comment", comment, true)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	assert.Equal(t, "accepted", body["status"])
	assert.Equal(t, "webhook/d-comment", body["workflowId"])
	assert.Equal(t, githubOnboarded[github.TypeIssueComment]+1, e.typeCounts()[github.TypeIssueComment])
	assert.Equal(t, []string{"PROCESSED"}, e.strings(`SELECT state FROM "incomingWebhooks"`))

	// The PR's close and merge, and a star, that the onboarding polled
	// already: the same source ids (actor, not author), nothing added.
	prID := githubfake.PullNodeID("acme", "rocket", 3)
	closed := fmt.Sprintf(`{"action": "closed", "repository": %s, "sender": %s, "pull_request": {"node_id": %q, "number": 3,
		"title": "Fix", "html_url": "https://github.com/acme/rocket/pull/3", "state": "closed", "merged": true,
		"created_at": %q, "closed_at": %q, "merged_at": %q, "user": %s, "merged_by": %s}}`,
		ghRepo, ghUser("bob", 1001), prID, ghAt(6, 0).Format(time.RFC3339), ghAt(6, 5).Format(time.RFC3339), ghAt(6, 5).Format(time.RFC3339),
		ghUser("carol", 1002), ghUser("bob", 1001))
	star := fmt.Sprintf(`{"action": "created", "starred_at": %q, "repository": %s, "sender": %s}`, ghAt(2, 1).Format(time.RFC3339), ghRepo, ghUser("alice", 1000))
	before := e.activityKeys()
	for delivery, p := range map[string][2]string{"d-closed": {"pull_request", closed}, "d-star": {"star", star}} {
		code, body := e.deliver(srv, p[0], delivery, p[1], true)
		require.Equal(t, http.StatusAccepted, code, "%v", body)
	}
	assert.Equal(t, before, e.activityKeys(), "a webhook of a polled event adds nothing")

	// The poll of the webhook's comment: the same row.
	_, state = e.start(started.IntegrationID, false)
	require.Equal(t, store.RunProcessed, state)
	assert.Equal(t, before, e.activityKeys(), "the poll of a webhook's event adds nothing")

	// A redelivery stores nothing twice.
	n := webhooks()
	code, body = e.deliver(srv, "issue_comment", "d-comment", comment, true)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "duplicate", body["status"])
	assert.Equal(t, n, webhooks())
	assert.Equal(t, before, e.activityKeys())

	// An unstar has no poll: one activity, once however often delivered.
	unstar := fmt.Sprintf(`{"action": "deleted", "starred_at": null, "repository": %s, "sender": %s}`, ghRepo, ghUser("bob", 1001))
	for i := 0; i < 2; i++ {
		code, _ := e.deliver(srv, "star", "d-unstar", unstar, true)
		require.Contains(t, []int{http.StatusAccepted, http.StatusOK}, code)
	}
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM activities WHERE type = 'unstar'`))

	// A bad or missing signature: 401, nothing stored.
	n = webhooks()
	code, _ = e.deliver(srv, "issue_comment", "d-forged", strings.Replace(comment, "by webhook", "forged", 1), false)
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Equal(t, n, webhooks())
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM activities WHERE body = 'forged'`))

	// A delivery for a repository no integration has: 202, ignored.
	other := strings.ReplaceAll(star, "acme/rocket", "someone/else")
	code, body = e.deliver(srv, "star", "d-other", other, true)
	assert.Equal(t, http.StatusAccepted, code)
	assert.Equal(t, "ignored", body["status"])
	assert.Equal(t, n, webhooks())
}

// TestGitHubAppInstallation connects a GitHub App installation (no token):
// the worker signs the app JWT, buys an installation token, lists the
// installation's repositories, and a webhook finds the integration by its
// installation id.
func TestGitHubAppInstallation(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	w := githubWorld()
	w.Installations = []githubfake.Installation{{ID: 4242, Repos: []string{"acme/rocket"}}}
	fake := githubfake.New(w, githubfake.Options{AppID: 31, AppKey: &key.PublicKey})
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	svc := github.New(github.Options{APIURL: srv.URL, GraphQLURL: srv.URL + "/graphql", App: &github.App{ID: 31, Key: pemKey}})
	e := &githubEnv{env: newEnv(t, []integrations.Service{svc}), fake: fake, srv: srv}

	started, err := e.ctl.Connect(context.Background(), control.ConnectInput{
		TenantID: "8f9a3d2e-0c1b-4a5d-9e6f-7a8b9c0d1e2f", Platform: github.Platform, Settings: []byte(`{}`), Identifier: "4242",
	})
	require.NoError(t, err)
	require.Equal(t, store.RunProcessed, e.wait(started))
	assert.Equal(t, githubOnboarded, e.typeCounts())
	assert.Equal(t, []string{"acme/rocket"}, e.strings(`SELECT r->>'owner' || '/' || (r->>'name') FROM integrations, jsonb_array_elements(settings->'repos') r`))
	assert.Equal(t, 1, fake.Stats().TokensIssued, "one installation token, kept in memory, for the whole run")
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM integrations WHERE token IS NOT NULL AND token <> ''`), "no token is stored")

	// A delivery through the app names the installation.
	star := fmt.Sprintf(`{"action": "created", "starred_at": %q, "installation": {"id": 4242}, "repository": {"full_name": "acme/other", "html_url": "https://github.com/acme/other"}, "sender": %s}`,
		time.Now().UTC().Format(time.RFC3339), ghUser("carol", 1002))
	code, body := e.deliver(e.webhookServer(), "star", "d-app-star", star, true)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	assert.Equal(t, []string{started.IntegrationID}, e.strings(`SELECT "integrationId"::text FROM "incomingWebhooks"`))
	assert.Equal(t, githubOnboarded[github.TypeStar]+1, e.typeCounts()[github.TypeStar])
}
