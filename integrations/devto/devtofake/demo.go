package devtofake

import "time"

// DemoWorld is a small, made-up data set for the demo mode: two users, an
// organization, four articles (one posted under the organization, so it
// is listed for both) and nested comments, with a deleted comment that
// still has a reply, a comment by a deleted account, and a new user who
// only comments. Every name says "demo": none of it is real Dev.to data.
func DemoWorld() World {
	day := func(d, h int) time.Time { return time.Date(2026, time.March, d, h, 0, 0, 0, time.UTC) }
	return World{
		Users: []User{
			{ID: 1000101, Username: "demo_ada", Name: "Ada Demo", Summary: "Demo account: writes about Go and Temporal.",
				Location: "Demo City", GithubUsername: "demo-ada", JoinedAt: day(1, 9)},
			{ID: 1000102, Username: "demo_grace", Name: "Grace Demo", Summary: "Demo account: community manager.",
				TwitterUsername: "demo_grace", WebsiteURL: "https://example.com/grace", JoinedAt: day(1, 10)},
			{ID: 1000103, Username: "demo_linus", Name: "", JoinedAt: day(2, 8)},
			{ID: 1000104, Username: "demo_gone", Name: "Gone Demo", JoinedAt: day(2, 9), Deleted: true},
		},
		Organizations: []Organization{
			{Username: "crowdflow-demo", Name: "Crowdflow Demo Org", Summary: "A demo organization.",
				Location: "Demo City", URL: "https://example.com", TechStack: "Go, Temporal, PostgreSQL",
				TagLine: "Demo data only", JoinedAt: day(1, 8)},
		},
		Articles: []Article{
			{ID: 2600001, Title: "[demo] Durable integration runs with Temporal", UserID: 1000101,
				Organization: "crowdflow-demo", Tags: []string{"go", "temporal"},
				Description: "Demo article: why a run is a workflow.", BodyMarkdown: "Demo body.", PublishedAt: day(3, 12),
				Comments: []Comment{
					{IDCode: "3d0a1", UserID: 1000102, CreatedAt: day(3, 14),
						BodyHTML: "<p>Great write-up! How do you handle <strong>rate limits</strong>?</p>\n",
						Children: []Comment{
							{IDCode: "3d0a2", UserID: 1000101, CreatedAt: day(3, 15),
								BodyHTML: "<p>A durable timer until the reset. <a href=\"https://example.com/doc\">Details</a>.</p>\n",
								Children: []Comment{
									{IDCode: "3d0a3", UserID: 1000103, CreatedAt: day(4, 9),
										BodyHTML: "<p>Thanks, that helped.<script>alert('demo')</script></p>\n"},
								}},
						}},
					{IDCode: "3d0a4", Deleted: true, CreatedAt: day(4, 10),
						Children: []Comment{
							{IDCode: "3d0a5", UserID: 1000102, CreatedAt: day(4, 11),
								BodyHTML: "<p>Replying to a comment that was deleted since.</p>\n"},
						}},
				}},
			{ID: 2600002, Title: "[demo] Paging through Dev.to", UserID: 1000101, Tags: []string{"api"},
				Description: "Demo article about page-number pagination.", PublishedAt: day(5, 12),
				Comments: []Comment{
					{IDCode: "3d0b1", UserID: 1000104, CreatedAt: day(5, 13),
						BodyHTML: "<p>A comment by an account deleted since.</p>\n"},
					{IDCode: "3d0b2", UserID: 1000103, CreatedAt: day(6, 8),
						BodyHTML: "<p>What happens on an empty page?</p>\n"},
				}},
			{ID: 2600003, Title: "[demo] Community metrics that matter", UserID: 1000102, Tags: []string{"community"},
				Description: "Demo article with no comments yet.", PublishedAt: day(6, 12)},
			{ID: 2600004, Title: "[demo] Hello from the demo org", UserID: 1000102, Organization: "crowdflow-demo",
				Tags: []string{"meta"}, Description: "Demo article posted under the organization.", PublishedAt: day(7, 12),
				Comments: []Comment{
					{IDCode: "3d0c1", UserID: 1000101, CreatedAt: day(7, 13), BodyHTML: "<p>Welcome!</p>\n"},
				}},
		},
	}
}
