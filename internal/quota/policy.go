package quota

import (
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Policy says how a platform counts its budgets: which headers carry the
// credential, what one budget covers (scope), which calls may be sent
// again after a short 429, and which are never booked at all.
type Policy struct {
	// Name starts every key of the policy.
	Name string
	// CredentialHeaders are hashed with Authorization into the key.
	CredentialHeaders []string
	// FormToken: the credential may travel as `token` in a form body
	// (Slack's Web API).
	FormToken bool
	// PerAddress: the platform counts per client address, whatever the
	// credential (Dev.to's Rack::Attack): one budget per host.
	PerAddress bool
	// Interval is the platform's pace of one budget (0: none but the
	// learned one).
	Interval time.Duration
	// Scope names the budget of a request within its credential; nil or
	// "" is the credential's one budget.
	Scope func(r *http.Request) string
	// AnswerScope names the budget an answer was counted against, when
	// the answer says so (GitHub's x-ratelimit-resource); "" keeps the
	// request's.
	AnswerScope func(l Limits) string
	// RouteBuckets: a scope is a route of its own (Discord's buckets, X's
	// endpoints): a RateLimitedError for it carries Bucket, so the engine
	// holds only the stream that asked.
	RouteBuckets bool
	// GlobalInterval, when set, is a second budget of the whole
	// credential that every scope also draws on, at this pace (Discord:
	// 50 calls a second per bot).
	GlobalInterval time.Duration
	// Idempotent reports whether a request may be sent again after a
	// short 429; nil means GET and HEAD.
	Idempotent func(r *http.Request) bool
	// Skip reports requests that are never booked nor retried (OAuth
	// token requests: X's refresh tokens are single-use).
	Skip func(r *http.Request) bool
}

func (p Policy) idempotent(r *http.Request) bool {
	if p.Idempotent != nil {
		return p.Idempotent(r)
	}
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// Default is one budget per credential.
var Default = Policy{Name: "default"}

// Slack counts per token (a fake may; the real API per method and
// workspace, which one budget per token is the cautious side of). Every
// method the service calls is a read, sent as a POST form with the token
// in it.
var Slack = Policy{
	Name:       "slack",
	FormToken:  true,
	Idempotent: func(*http.Request) bool { return true },
}

// Devto: Forem allows an address 3 reads a second, all keys together.
var Devto = Policy{
	Name:              "devto",
	CredentialHeaders: []string{"api-key"},
	PerAddress:        true,
	// A third of a second and a little: evenly spaced calls whose
	// arrival jitters by a few milliseconds still never put 4 in one of
	// Forem's fixed one-second windows.
	Interval: time.Second/3 + 5*time.Millisecond,
}

// Discord: a budget per route (a path whose major parameter, the channel,
// guild or webhook id, is kept and the other ids are not), as its
// X-RateLimit-Bucket are, and the bot's global 50 calls a second.
var Discord = Policy{
	Name:           "discord",
	Scope:          DiscordRoute,
	RouteBuckets:   true,
	GlobalInterval: time.Second / 50,
}

// Twitter: X counts per endpoint (and token); the OAuth token endpoint is
// never booked nor retried.
var Twitter = Policy{
	Name:         "twitter",
	Scope:        EndpointTemplate,
	RouteBuckets: true,
	Skip:         func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/oauth2/token") },
}

// GitHub: one budget per x-ratelimit-resource (core, graphql, search) of
// a token or installation. GraphQL POSTs are queries (the service sends no
// mutation): reads.
var GitHub = Policy{
	Name:  "github",
	Scope: GitHubResource,
	AnswerScope: func(l Limits) string {
		return l.Resource
	},
	Idempotent: func(r *http.Request) bool {
		return r.Method == http.MethodGet || r.Method == http.MethodHead || strings.HasSuffix(r.URL.Path, "/graphql")
	},
	Skip: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/access_tokens") },
}

var (
	idSegment  = regexp.MustCompile(`^[0-9]+$`)
	apiVersion = regexp.MustCompile(`^v[0-9]+$`)
)

// DiscordRoute is "GET /channels/123/messages": the path from the resource
// on (no /api/vN), ids templated except right after channels, guilds and
// webhooks (Discord's major parameters).
func DiscordRoute(r *http.Request) string {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if i := indexAfterAPI(segs); i > 0 {
		segs = segs[i:]
	}
	out := make([]string, len(segs))
	for i, s := range segs {
		major := i > 0 && (segs[i-1] == "channels" || segs[i-1] == "guilds" || segs[i-1] == "webhooks")
		if idSegment.MatchString(s) && !major {
			s = ":id"
		}
		out[i] = s
	}
	return r.Method + " /" + strings.Join(out, "/")
}

// indexAfterAPI is the index after "api/vN" (or "api") in segs, or 0.
func indexAfterAPI(segs []string) int {
	for i, s := range segs {
		if s == "api" {
			if i+1 < len(segs) && apiVersion.MatchString(segs[i+1]) {
				return i + 2
			}
			return i + 1
		}
	}
	return 0
}

// EndpointTemplate is "GET /2/users/:id/followers": the path with its
// numeric ids templated (not the version that starts it: /2/).
func EndpointTemplate(r *http.Request) string {
	segs := strings.Split(r.URL.Path, "/")
	for i, s := range segs {
		if i > 0 && segs[i-1] != "" && idSegment.MatchString(s) {
			segs[i] = ":id"
		}
	}
	return r.Method + " " + strings.Join(segs, "/")
}

// GitHubResource is the rate-limit resource a request will be counted
// against: graphql, search, or core.
func GitHubResource(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/graphql"):
		return "graphql"
	case strings.Contains(p, "/search/"):
		return "search"
	}
	return "core"
}
