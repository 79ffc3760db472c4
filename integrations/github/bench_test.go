package github

import (
	"fmt"
	"testing"
	"time"

	"github.com/crowdflow/crowdflow/integrations/github/githubfake"
)

// sizedWorld is one repository with n stars, n forks and n issues (3
// comments each), n/10 pull requests (2 comments, a review thread, 3
// timeline events) and n/10 discussions (2 comments, 1 reply).
func sizedWorld(n int) githubfake.World {
	w := githubfake.World{}
	var logins []string
	for i := 0; i < 50; i++ {
		l := fmt.Sprintf("user%02d", i)
		logins = append(logins, l)
		w.Users = append(w.Users, githubfake.User{Login: l, Name: "U " + l, Followers: i, CreatedAt: at(1, 0)})
	}
	who := func(i int) string { return logins[i%len(logins)] }
	t := func(i int) time.Time { return at(2, 0).Add(time.Duration(i) * time.Minute) }
	r := githubfake.Repo{Owner: "acme", Name: "big", CreatedAt: at(1, 0)}
	for i := 0; i < n; i++ {
		r.Stars = append(r.Stars, githubfake.Star{User: who(i), At: t(i)})
		r.Forks = append(r.Forks, githubfake.Fork{Owner: who(i + 1), CreatedAt: t(i)})
		r.Issues = append(r.Issues, githubfake.Issue{Number: i + 1, Author: who(i), Title: "issue", CreatedAt: t(i), Comments: []githubfake.Comment{
			{Author: who(i + 1), Body: "a", CreatedAt: t(i + 1)}, {Author: who(i + 2), Body: "b", CreatedAt: t(i + 2)}, {Author: who(i + 3), Body: "c", CreatedAt: t(i + 3)}}})
	}
	for i := 0; i < n/10; i++ {
		r.Pulls = append(r.Pulls, githubfake.Pull{Number: n + i + 1, Author: who(i), Title: "pr", State: "MERGED", CreatedAt: t(i),
			Comments:      []githubfake.Comment{{Author: who(i + 1), Body: "a", CreatedAt: t(i + 1)}, {Author: who(i + 2), Body: "b", CreatedAt: t(i + 2)}},
			ReviewThreads: [][]githubfake.Comment{{{Author: who(i + 3), Body: "nit", CreatedAt: t(i + 3)}}},
			Events: []githubfake.Event{{Type: githubfake.EventReviewed, Actor: who(i + 3), Body: "ok", State: "APPROVED", At: t(i + 4)},
				{Type: githubfake.EventMerged, Actor: who(i + 4), At: t(i + 5)}, {Type: githubfake.EventClosed, Actor: who(i + 4), At: t(i + 5)}}})
		r.Discussions = append(r.Discussions, githubfake.Discussion{Number: 2*n + i + 1, Author: who(i), Title: "d", CreatedAt: t(i),
			Comments: []githubfake.DiscussionComment{{Author: who(i + 1), Body: "a", CreatedAt: t(i + 1), Replies: []githubfake.Comment{{Author: who(i + 2), Body: "r", CreatedAt: t(i + 2)}}},
				{Author: who(i + 3), Body: "b", CreatedAt: t(i + 3)}}})
	}
	w.Repos = []githubfake.Repo{r}
	return w
}

// BenchmarkOnboarding reports the requests and GraphQL points an
// onboarding of one repository with n items takes (and a check with
// nothing new), as the fake counts them:
//
//	go test ./integrations/github -run '^$' -bench Onboarding -benchtime 1x
func BenchmarkOnboarding(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			f := newFixture(b, sizedWorld(n), githubfake.Options{})
			it := tokenIntegration(`{"repos":[{"owner":"acme","name":"big"}]}`)
			var acts, reqs, points, checkReqs, checkPoints int
			for i := 0; i < b.N; i++ {
				f.fake.ResetStats()
				r := runOnce(b, f.svc, it, true, at(20, 0))
				st := f.fake.Stats()
				acts, reqs, points = len(r.activities), st.Requests, st.Points
				f.fake.ResetStats()
				it2 := it
				it2.Settings = r.settings
				runOnce(b, f.svc, it2, false, at(21, 0))
				st = f.fake.Stats()
				checkReqs, checkPoints = st.Requests, st.Points
			}
			b.ReportMetric(float64(acts), "activities")
			b.ReportMetric(float64(reqs), "requests")
			b.ReportMetric(float64(points), "points")
			b.ReportMetric(float64(checkReqs), "check-requests")
			b.ReportMetric(float64(checkPoints), "check-points")
		})
	}
}
