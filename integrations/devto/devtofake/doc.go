// Package devtofake is a fake of the Dev.to (Forem) API v1, for tests and
// for the demo mode. It serves an in-memory world (users, organizations,
// articles and their comment trees) that a test seeds with New and changes
// between runs with the Server's methods, all safe for concurrent use.
//
// It reproduces what the real API does (reference/api-quirks.md §2.4):
//
//   - Paths are served both at the root and under /api, so DEVTO_API_URL may
//     be the server's URL or the server's URL + "/api", as https://dev.to/api.
//   - Page-number pagination only: page is 1-based, per_page defaults to 30
//     and is capped at 1000; there is no Link header and no total, and a
//     page past the end is an empty array.
//   - GET /articles?username= takes a user's or an organization's slug and
//     lists newest first (a user's list includes the articles they posted
//     under an organization); GET /organizations/{org}/articles likewise.
//   - GET /comments?a_id= returns the whole thread tree: top-level comments
//     with recursive children, ids as string id_codes, no pagination.
//     A deleted comment stays in the tree as a placeholder, so that its
//     replies keep their place; this fake uses the shape Forem's views
//     render: body_html "<p>[deleted]</p>" (or "<p>[hidden by post
//     author]</p>" for a hidden one) and an empty user object. The API
//     docs do not show a placeholder, so this shape is our best reading.
//   - GET /users/{id} takes a numeric id (and the literal by_username with
//     ?url=); an unknown or deleted user is 404 {"error":"not found",
//     "status":404}. A deleted user still shows on the comments they wrote:
//     the comment trees of the real API are served from an edge cache and
//     lag behind account deletions.
//   - The list and detail shapes differ: list items have tag_list as an
//     array and tags as "a, b"; GET /articles/{id} has tag_list "a, b",
//     tags as an array, and body_html/body_markdown.
//   - Errors are {"error":"...","status":N}.
//   - The throttle: 3 requests a second per client address, in fixed
//     one-second windows (Forem's Rack::Attack "api_throttle"); past it,
//     429 with Retry-After: 1 and the plain-text body "Retry later", not
//     JSON. On by default (Throttle); SetThrottle changes it, 0 turns it
//     off for tests about other things.
//   - HardDeleteUser: the account and its comments go, and the replies to
//     them are served as top-level comments.
//
// Switches for failure tests: FailNext (the next N requests answer 500),
// FailNextStatus (any status), RateLimitAfter (after N more requests the
// next K answer 429 with Retry-After: 1; SetRetryAfter changes or drops the
// header), and request counts per path (Requests, TotalRequests,
// Throttled).
//
// The package does not import testing: the demo mode serves DemoWorld.
package devtofake
