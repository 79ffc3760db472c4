package twitterfake

import "time"

// Demo ids and tokens. The ids are above 2^53, as real ones are, so that a
// client that reads them as float64 would garble them.
const (
	DemoProfileID = "1590000000000000001"
	DemoUsername  = "crowdflow_demo"
	// DemoAppToken is an app-only bearer token the demo fake accepts.
	DemoAppToken = "demo-twitter-app-token"
	// DemoHashtag is the hashtag the demo integration tracks.
	DemoHashtag = "crowdflowdemo"
)

// DemoWorld is a small, made-up world for the demo mode: the demo profile,
// three followers, and posts of the last days that mention it or carry the
// demo hashtag (one does both, one has a photo), relative to now so that
// recent search (7 days) finds them. Every name says "demo".
func DemoWorld(now time.Time) World {
	ago := func(h int) time.Time { return now.Add(-time.Duration(h) * time.Hour).Truncate(time.Second) }
	return World{
		Users: []User{
			{ID: DemoProfileID, Username: DemoUsername, Name: "Crowdflow Demo", Description: "Demo profile: made-up data.",
				CreatedAt: ago(24 * 400)},
			{ID: "1590000000000000011", Username: "demo_ada_x", Name: "Ada Demo", Description: "Demo account: Go and Temporal.",
				Location: "Demo City", URL: "https://example.com/ada", ProfileImageURL: "https://example.com/ada.png",
				CreatedAt: ago(24 * 300), FollowersCount: 1200},
			{ID: "1590000000000000012", Username: "demo_grace_x", Name: "Grace Demo", Description: "Demo account: community.",
				CreatedAt: ago(24 * 200), FollowersCount: 340},
			{ID: "1590000000000000013", Username: "demo_linus_x", Name: "Linus Demo", CreatedAt: ago(24 * 100), FollowersCount: 7},
		},
		Media: []Media{{Key: "3_1590000000000000101", Type: "photo", URL: "https://example.com/demo-photo.png", Width: 800, Height: 600}},
		Posts: []Post{
			{ID: "1590000000000000101", AuthorID: "1590000000000000011", CreatedAt: ago(50),
				Text: "Trying @crowdflow_demo with durable runs #crowdflowdemo", MediaKeys: []string{"3_1590000000000000101"}},
			{ID: "1590000000000000102", AuthorID: "1590000000000000012", CreatedAt: ago(30),
				Text: "Hello @crowdflow_demo, how do rate limits work?"},
			{ID: "1590000000000000103", AuthorID: "1590000000000000013", CreatedAt: ago(10),
				Text: "Demo data everywhere #CrowdflowDemo #go"},
		},
		Followers: map[string][]string{
			DemoProfileID: {"1590000000000000013", "1590000000000000012", "1590000000000000011"},
		},
	}
}
