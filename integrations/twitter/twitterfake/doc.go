// Package twitterfake is a fake of the X (Twitter) API v2, for tests and for
// the demo mode. It serves an in-memory world (users, posts, media, who
// follows whom) that a test seeds with New and changes between runs with
// the Server's methods, all safe for concurrent use.
//
// It reproduces what the real API does (reference/api-quirks.md §2.5):
//
//   - Routes under /2/: GET /2/users/{id}/followers, GET /2/users/{id}/mentions,
//     GET /2/tweets/search/recent, GET /2/users/by?usernames=, GET /2/users/{id},
//     and POST /2/oauth2/token.
//   - Ids are decimal strings of up to 19 digits; created_at is ISO-8601
//     with milliseconds.
//   - Fields are opt-in: a user is {id,name,username} and a post
//     {id,text,edit_history_tweet_ids} unless user.fields, tweet.fields,
//     media.fields and expansions ask for more; expanded authors and media
//     go to includes.users / includes.media. Unknown field names are a 400.
//   - Pagination with meta.next_token, sent back as pagination_token
//     (followers, mentions) or next_token (search, which accepts both); the
//     last page has no next_token; an empty result is
//     {"meta":{"result_count":0}} with no data key. max_results ranges:
//     followers 1-1000, search 10-100, mentions 5-100 (a 400 outside).
//   - Search covers the last 7 days of the fake's clock only.
//   - Partial errors come with HTTP 200: an unknown, suspended or protected
//     user in /2/users/by is an entry of errors beside the data of the
//     others, and only errors (no data) when none is found; the followers
//     or mentions of an unknown user id are a 200 with errors only.
//   - Every answer has x-rate-limit-limit/-remaining/-reset (epoch
//     seconds), counted per endpoint and bearer token in windows of
//     Switches.RateWindow; a used-up window answers 429. The 429 body comes
//     in the documented form {"errors":[{"code":88,...}]}, in problem JSON
//     form, or as a usage-capped problem (RateLimitNext chooses).
//   - OAuth 2.0: user access tokens expire (Switches.AccessTTL, two hours
//     by default) and answer 401 afterwards; refresh tokens are single-use:
//     POST /2/oauth2/token (grant_type=refresh_token, client credentials by
//     basic auth) returns a new pair and kills the old refresh token, which
//     answers 400 invalid_grant from then on. App-only bearer tokens
//     (Switches.AppTokens) never expire.
//
// Switches for failure tests: FailNext (the next N data requests answer a
// status), FailNextToken (the same for the token endpoint, which then
// leaves the refresh token valid), RateLimitNext (the next N data requests answer 429 in a given
// body form), LoseNextTokenResponse (the token endpoint rotates the pair
// and then drops the connection, as if the client had crashed before it
// could store the answer), PartialErrorNext (the next N timeline requests
// answer 200 with errors only), and counts of requests per route.
//
// The package does not import testing: the demo mode serves DemoWorld.
package twitterfake
