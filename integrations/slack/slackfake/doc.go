// Package slackfake is a fake of the Slack Web API methods the slack
// integration calls (conversations.list/history/replies/members,
// users.list/info, team.info), backed by an in-memory, seedable World.
//
// It is an http.Handler: serve it with httptest and point slack-go at it
// with slack.OptionAPIURL(srv.URL + "/"). Tests and the demo mode share it.
//
// It reproduces the behaviour of the real API a crawler meets
// (reference/api-quirks.md §2.1):
//
//   - application errors are HTTP 200 with {"ok":false,"error":"<code>"}:
//     invalid_auth and not_authed (token checked in the form body, the
//     query or an Authorization: Bearer header), account_inactive,
//     not_in_channel, channel_not_found, invalid_cursor, user_not_found,
//     thread_not_found, missing_scope (with needed/provided);
//   - cursor pagination with opaque cursors and next_cursor "" (not absent)
//     on the last page; has_more on history and replies; `limit` is a
//     maximum and the fake may return fewer (SetMaxLimit);
//   - ts values are strings, compared without floats; history is newest
//     first with oldest/latest/inclusive; replies give the parent first;
//   - subtypes channel_join, bot_message (no user), thread_broadcast; bot
//     users (is_bot, profile.bot_id), USLACKBOT (is_bot false) and
//     deactivated users (deleted:true) are listed by users.list;
//   - HTTP 429 with Retry-After: RateLimitAfter (deterministic, after N
//     calls), SetMethodBudget and SetNonMarketplace (per-method windows);
//   - HTTP 500 with an HTML body: FailNext.
//
// Every key path the fake sends appears in testdata/apispecs/slack_keypaths with the
// same JSON type (the slack integration's contract test checks it), with
// one documented exception: the element type of reactions[].users, which
// the recorded samples hold as empty arrays.
//
// The package does not import testing: the demo mode links it.
package slackfake
