// Package devto is the Dev.to (Forem) integration: it reads the comments
// on the articles of the users and organizations an integration follows
// and turns them into "comment" activities of their authors.
//
// A run (reference/crowddev.md §5.1, without its bugs):
//
//   - Preprocess lists every article of each organization
//     (/organizations/{org}/articles) and each user (/articles?username=),
//     page by page until an empty page, de-duplicated by id, and picks the
//     articles to check: new ones, ones stored with no lastCommentAt, and
//     ones whose last_comment_at changed. There is no date window: change
//     detection rests on last_comment_at alone, in check and onboarding
//     runs alike.
//   - GetStreams makes one stream per article to check, named by its id.
//   - ProcessStream fetches the article's whole comment tree (/comments),
//     each commenter once (/users/{id}), and returns one activity per
//     comment. Deleted comments (placeholders) are skipped; their replies
//     are not. A commenter whose /users/{id} answers 404 is kept, as the
//     tree names them (username, name); replies to the comments of a
//     hard-deleted account, which Forem serves as top-level, are kept as
//     such.
//   - Postprocess writes every article's last_comment_at back into the
//     settings, leaving out those whose stream did not finish.
//
// Pacing: Dev.to lets an address make 3 API reads a second (429 with
// Retry-After: 1 and a plain-text body past it). In an activity, every
// request is booked in the shared quota ledger (internal/quota's Devto
// policy: one budget per address, 3 a second, whatever the worker);
// called without a ledger, a Service spaces its own requests to that rate
// (Options.RequestsPerSecond). A 429 asking for
// at most 2 s is waited out in place, up to 5 times a request, so that a
// stream of a tree and N profiles keeps what it fetched (the activity
// heartbeats meanwhile). A longer Retry-After (30 s when the header is
// missing or unreadable) is an integrations.RateLimitedError until then,
// waited out on the engine's durable timer. 401 and 403 are permanent. Other failures are plain errors
// that name the call (method, path, status), so the engine retries them.
// The api-key (the integration's token, optional: the reads are public) is
// sent as a header and never appears in errors.
//
// devtofake is the fake API the tests and the demo mode use.
package devto
