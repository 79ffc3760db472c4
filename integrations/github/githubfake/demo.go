package githubfake

import (
	"fmt"
	"time"
)

// DemoToken is the token the demo integration uses; the demo fake accepts
// it and nothing else.
const DemoToken = "ghp_crowdflowDemoTokenNotReal0000000000"

// DemoOwner and DemoRepo name the demo repository.
const (
	DemoOwner = "crowdflow-demo"
	DemoRepo  = "rocket"
)

// DemoWorld is a small made-up repository for `worker --dev`: a few people
// (one with a company, one bot, one deleted account), stars, a fork, an
// issue with comments, a pull request with a review, a merge and a review
// thread, and a discussion with an answer and a reply.
func DemoWorld() World {
	at := func(d, h int) time.Time { return time.Date(2026, 9, d, h, 0, 0, 0, time.UTC) }
	users := []User{
		{Login: "demo-ada", Name: "Ada (demo)", Company: "@crowdflow-demo-labs", Bio: "Made-up demo person", Location: "Nowhere", Followers: 42, IsHireable: true, CreatedAt: at(1, 0)},
		{Login: "demo-grace", Name: "Grace (demo)", Email: "grace@example.invalid", Followers: 7, CreatedAt: at(1, 1)},
		{Login: "demo-linus", Name: "Linus (demo)", Company: "Crowdflow Demo Labs", Followers: 3, CreatedAt: at(1, 2)},
		{Login: "demo-ci", Bot: true, CreatedAt: at(1, 3)},
	}
	var comments []Comment
	for i := 0; i < 3; i++ {
		comments = append(comments, Comment{Author: users[i%3].Login, Body: fmt.Sprintf("Demo comment %d", i+1), CreatedAt: at(3, i)})
	}
	comments = append(comments, Comment{Author: "", Body: "from a deleted account", CreatedAt: at(3, 5)})
	return World{
		Users: users,
		Repos: []Repo{{
			Owner: DemoOwner, Name: DemoRepo, CreatedAt: at(1, 0),
			Stars: []Star{{User: "demo-ada", At: at(2, 1)}, {User: "demo-grace", At: at(2, 2)}, {User: "demo-ci", At: at(2, 3)}},
			Forks: []Fork{{Owner: "demo-linus", CreatedAt: at(2, 4)}},
			Issues: []Issue{{Number: 1, Author: "demo-grace", Title: "Demo issue: the launch is late", Body: "Made-up issue.",
				CreatedAt: at(3, 0), Labels: []string{"bug"}, Comments: comments}},
			Pulls: []Pull{{Number: 2, Author: "demo-linus", Title: "Demo PR: faster launches", Body: "Made-up pull request.",
				State: "MERGED", CreatedAt: at(4, 0), Additions: 10, Deletions: 2, ChangedFiles: 1, Labels: []string{"enhancement"},
				Comments:      []Comment{{Author: "demo-ada", Body: "Looks good", CreatedAt: at(4, 1)}},
				ReviewThreads: [][]Comment{{{Author: "demo-ada", Body: "Nit: rename this", CreatedAt: at(4, 2)}}},
				Events: []Event{
					{Type: EventReviewRequested, Actor: "demo-linus", Subject: "demo-ada", At: at(4, 1)},
					{Type: EventReviewed, Actor: "demo-ada", Body: "Approved", State: "APPROVED", At: at(4, 3)},
					{Type: EventMerged, Actor: "demo-ada", At: at(4, 4)},
					{Type: EventClosed, Actor: "demo-ada", At: at(4, 4)},
				}}},
			Discussions: []Discussion{{Number: 3, Author: "demo-ada", Title: "Demo discussion: how do launches work?", Body: "Made-up question.",
				Category: "Q&A", CreatedAt: at(5, 0), Comments: []DiscussionComment{
					{Author: "demo-grace", Body: "Like this.", IsAnswer: true, CreatedAt: at(5, 1),
						Replies: []Comment{{Author: "demo-ada", Body: "Thanks!", CreatedAt: at(5, 2)}}},
				}}},
		}},
	}
}
