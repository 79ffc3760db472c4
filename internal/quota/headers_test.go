package quota

import (
	"net/http"
	"testing"
	"time"
)

func TestParseLimits(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		want   Limits
	}{
		{"none", h(), Limits{Limit: -1, Remaining: -1}},
		{"github lower case, epoch seconds", h("x-ratelimit-limit", "5000", "x-ratelimit-remaining", "4999", "x-ratelimit-reset", "1796040000", "x-ratelimit-resource", "GraphQL"),
			Limits{Limit: 5000, Remaining: 4999, Reset: time.Unix(1796040000, 0), Resource: "graphql"}},
		{"x family", h("x-rate-limit-limit", "15", "x-rate-limit-remaining", "0", "x-rate-limit-reset", "1796040900"),
			Limits{Limit: 15, Remaining: 0, Reset: time.Unix(1796040900, 0)}},
		{"discord: reset-after wins over the epoch, bucket and scope", h("X-RateLimit-Limit", "5", "X-RateLimit-Remaining", "1", "X-RateLimit-Reset", "1796040001.250", "X-RateLimit-Reset-After", "0.75", "X-RateLimit-Bucket", "abcd", "X-RateLimit-Scope", "user"),
			Limits{Limit: 5, Remaining: 1, Reset: now.Add(750 * time.Millisecond), Bucket: "abcd", Scope: "user"}},
		{"discord global 429", h("Retry-After", "2", "X-RateLimit-Global", "true", "X-RateLimit-Scope", "global"),
			Limits{Limit: -1, Remaining: -1, RetryAfter: 2 * time.Second, HasRetryAfter: true, Global: true, Scope: "global"}},
		{"reset as a delta", h("X-RateLimit-Remaining", "3", "X-RateLimit-Reset", "1"),
			Limits{Limit: -1, Remaining: 3, Reset: now.Add(time.Second)}},
		{"reset in epoch milliseconds", h("X-RateLimit-Remaining", "3", "X-RateLimit-Reset", "1796040000500"),
			Limits{Limit: -1, Remaining: 3, Reset: time.UnixMilli(1796040000500)}},
		{"ietf draft", h("RateLimit-Limit", "20", "RateLimit-Remaining", "7", "RateLimit-Reset", "0.4"),
			Limits{Limit: 20, Remaining: 7, Reset: now.Add(400 * time.Millisecond)}},
		{"retry-after as a date", h("Retry-After", now.Add(3*time.Second).Format(http.TimeFormat)),
			Limits{Limit: -1, Remaining: -1, RetryAfter: 3 * time.Second, HasRetryAfter: true}},
		{"retry-after with decimals", h("Retry-After", "0.25"),
			Limits{Limit: -1, Remaining: -1, RetryAfter: 250 * time.Millisecond, HasRetryAfter: true}},
		{"malformed values are not said", h("X-RateLimit-Limit", "lots", "X-RateLimit-Remaining", "-1", "Retry-After", "soon"),
			Limits{Limit: -1, Remaining: -1}},
		{"a family without remaining is skipped", h("X-RateLimit-Limit", "10", "x-rate-limit-remaining", "4", "x-rate-limit-limit", "15"),
			Limits{Limit: 15, Remaining: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseLimits(tc.header, now)
			if !got.Reset.Equal(tc.want.Reset) {
				t.Errorf("reset %v, want %v", got.Reset, tc.want.Reset)
			}
			got.Reset, tc.want.Reset = time.Time{}, time.Time{}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	for _, tc := range []struct {
		fn        func(*http.Request) string
		method, u string
		want      string
	}{
		{DiscordRoute, "GET", "http://x/api/v10/channels/123/messages?before=9", "GET /channels/123/messages"},
		{DiscordRoute, "GET", "http://x/api/v10/guilds/7/members", "GET /guilds/7/members"},
		{DiscordRoute, "DELETE", "http://x/api/v9/channels/1/messages/55", "DELETE /channels/1/messages/:id"},
		{DiscordRoute, "GET", "http://x/channels/1/threads/archived/public", "GET /channels/1/threads/archived/public"},
		{EndpointTemplate, "GET", "http://x/2/users/12/followers?max_results=1000", "GET /2/users/:id/followers"},
		{EndpointTemplate, "GET", "http://x/2/tweets/search/recent", "GET /2/tweets/search/recent"},
		{GitHubResource, "POST", "http://x/graphql", "graphql"},
		{GitHubResource, "GET", "http://x/api/v3/search/issues", "search"},
		{GitHubResource, "GET", "http://x/repos/a/b/stargazers", "core"},
	} {
		r, _ := http.NewRequest(tc.method, tc.u, nil)
		if got := tc.fn(r); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.u, got, tc.want)
		}
	}
}
