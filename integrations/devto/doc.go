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
//     comment. Deleted comments and deleted accounts are skipped; their
//     replies are not.
//   - Postprocess writes every article's last_comment_at back into the
//     settings, leaving out those whose stream did not finish.
//
// Errors: a 429 is an integrations.RateLimitedError until now + Retry-After
// (30 s when the header is missing or unreadable); crowd.dev slept in the
// process for short waits, here the engine's durable timer does the
// waiting. 401 and 403 are permanent. Other failures are plain errors
// that name the call (method, path, status), so the engine retries them.
// The api-key (the integration's token, optional: the reads are public) is
// sent as a header and never appears in errors.
//
// devtofake is the fake API the tests and the demo mode use.
package devto
