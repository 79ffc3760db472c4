package e2e

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/github"
	"github.com/crowdflow/crowdflow/integrations/github/githubfake"
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
