package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/github/githubfake"
	"github.com/crowdflow/crowdflow/internal/apicontract"
)

const testToken = "ghp_testtoken"

func at(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, time.UTC) }

// testWorld has two repositories and one that is gone, with every kind of
// item, a bot and a deleted account, and an issue with 150 comments (more
// than one page).
func testWorld() githubfake.World {
	var many []githubfake.Comment
	for i := 0; i < 150; i++ {
		many = append(many, githubfake.Comment{Author: []string{"alice", "bob"}[i%2], Body: fmt.Sprintf("comment %d", i), CreatedAt: at(5, 0).Add(time.Duration(i) * time.Minute)})
	}
	return githubfake.World{
		Users: []githubfake.User{
			{Login: "alice", Name: "Alice A", Company: "@acme", Followers: 120, IsHireable: true, Bio: "Go", Location: "Lisbon", WebsiteURL: "https://alice.example", CreatedAt: at(1, 0)},
			{Login: "bob", Name: "Bob B", Email: "bob@example.com", Company: "ACME", Followers: 5, CreatedAt: at(1, 0)},
			{Login: "carol", Name: "", Followers: 0, CreatedAt: at(1, 0)},
			{Login: "dependabot", Bot: true, CreatedAt: at(1, 0)},
		},
		Repos: []githubfake.Repo{
			{Owner: "acme", Name: "rocket", CreatedAt: at(1, 0),
				Stars: []githubfake.Star{{User: "alice", At: at(2, 1)}, {User: "bob", At: at(2, 2)}, {User: "dependabot", At: at(2, 3)}},
				Forks: []githubfake.Fork{{Owner: "carol", CreatedAt: at(2, 5)}},
				Issues: []githubfake.Issue{
					{Number: 1, Author: "bob", Title: "Big\x00 thread", Body: "lots", CreatedAt: at(4, 0), Comments: many},
					{Number: 2, Author: "", Title: "by a ghost", CreatedAt: at(4, 1), Comments: []githubfake.Comment{{Author: "carol", Body: "hi", CreatedAt: at(4, 2)}}},
					{Number: 3, Author: "carol", Title: "quiet", CreatedAt: at(4, 3)},
				},
				Pulls: []githubfake.Pull{{Number: 4, Author: "carol", Title: "Fix", Body: "b", State: "MERGED", CreatedAt: at(6, 0),
					Additions: 3, Deletions: 1, ChangedFiles: 1, Labels: []string{"bug"},
					Comments:      []githubfake.Comment{{Author: "alice", Body: "lgtm", CreatedAt: at(6, 1)}, {Author: "dependabot", Body: "bump", CreatedAt: at(6, 1)}},
					ReviewThreads: [][]githubfake.Comment{{{Author: "alice", Body: "nit", CreatedAt: at(6, 2)}, {Author: "carol", Body: "done", CreatedAt: at(6, 3)}}},
					Events: []githubfake.Event{
						{Type: githubfake.EventAssigned, Actor: "alice", Subject: "carol", At: at(6, 1)},
						{Type: githubfake.EventReviewRequested, Actor: "carol", Subject: "bob", At: at(6, 1)},
						{Type: githubfake.EventReviewed, Actor: "bob", Body: "ok", State: "APPROVED", At: at(6, 4)},
						{Type: githubfake.EventReviewed, Actor: "alice", State: "COMMENTED", At: at(6, 2)},
						{Type: githubfake.EventMerged, Actor: "bob", At: at(6, 5)},
						{Type: githubfake.EventClosed, Actor: "bob", At: at(6, 5)},
					}}},
				Discussions: []githubfake.Discussion{{Number: 5, Author: "alice", Title: "Q", Body: "?", Category: "Q&A", CreatedAt: at(7, 0),
					Comments: []githubfake.DiscussionComment{
						{Author: "bob", Body: "A", IsAnswer: true, CreatedAt: at(7, 1), Replies: []githubfake.Comment{{Author: "alice", Body: "thx", CreatedAt: at(7, 2)}}},
						{Author: "carol", Body: "B", CreatedAt: at(7, 3)},
					}}},
			},
			{Owner: "acme", Name: "empty", CreatedAt: at(1, 0)},
			{Owner: "acme", Name: "gone", Unavailable: "NOT_FOUND"},
			{Owner: "other", Name: "locked", Unavailable: "FORBIDDEN"},
		},
	}
}

// wantOnboarding is the exact count per type of testWorld's onboarding.
var wantOnboarding = map[string]int{
	TypeStar: 2, TypeFork: 1, TypeIssueOpened: 2, TypeIssueComment: 151,
	TypePullOpened: 1, TypePullComment: 1, TypePullThreadComment: 2,
	TypePullAssigned: 1, TypePullReviewRequested: 1, TypePullReviewed: 1, TypePullMerged: 1, TypePullClosed: 1,
	TypeDiscussionStarted: 1, TypeDiscussionComment: 3,
}

type fixture struct {
	fake *githubfake.Server
	srv  *httptest.Server
	rec  *apicontract.Recorder
	svc  *Service
}

func newFixture(t testing.TB, w githubfake.World, o githubfake.Options) *fixture {
	if o.Tokens == nil {
		o.Tokens = []string{testToken}
	}
	fake := githubfake.New(w, o)
	rec := apicontract.NewRecorder(fake.Handler())
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return &fixture{fake: fake, srv: srv, rec: rec, svc: New(Options{APIURL: srv.URL, GraphQLURL: srv.URL + "/graphql"})}
}

// runResult is what a run wrote and how it ended.
type runResult struct {
	activities []integrations.Activity
	members    []integrations.Member
	settings   json.RawMessage
	streams    int
	skipped    []string
}

// runOnce plays the engine: preprocess, streams FIFO, next pages unless a
// check is finished, postprocess. A stream error fails the test.
func runOnce(t testing.TB, svc *Service, it integrations.Integration, onboarding bool, started time.Time) runResult {
	t.Helper()
	ctx := context.Background()
	rc := &integrations.RunContext{Onboarding: onboarding, StartedAt: started, Integration: it}
	pd, err := svc.Preprocess(ctx, rc)
	require.NoError(t, err)
	rc.PipelineData = pd
	queue, err := svc.GetStreams(ctx, rc)
	require.NoError(t, err)
	var out runResult
	var unfinished []integrations.Stream
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		out.streams++
		res, err := svc.ProcessStream(ctx, rc, st)
		require.NoError(t, err, "stream %s %s", st.Name, st.Metadata)
		if res.Skipped != "" {
			out.skipped = append(out.skipped, res.Skipped)
			unfinished = append(unfinished, st)
		}
		out.activities = append(out.activities, res.Activities...)
		out.members = append(out.members, res.Members...)
		queue = append(queue, res.NewStreams...)
		if res.NextPage != nil && (onboarding || !svc.IsProcessingFinished(rc, st, res)) {
			queue = append(queue, *res.NextPage)
		}
	}
	out.settings, err = svc.Postprocess(ctx, rc, integrations.RunOutcome{Unfinished: unfinished})
	require.NoError(t, err)
	return out
}

func countTypes(acts []integrations.Activity) map[string]int {
	out := map[string]int{}
	for _, a := range acts {
		out[a.Type]++
	}
	return out
}
