// Package discordfake is an in-memory fake of the Discord REST API, for the
// discord service's tests and for the demo mode.
//
// A Fake is an http.Handler backed by a seedable World (one guild, its
// channels and threads, users, members and messages). Serve it with
// httptest.NewServer and point the service at the server's URL. It answers
// under both /api/v9 (what discordgo calls) and /api/v10 (what the API
// owner's OpenAPI description says):
//
//	GET /guilds/{guild_id}/channels
//	GET /guilds/{guild_id}/threads/active
//	GET /guilds/{guild_id}/members?after=&limit=
//	GET /channels/{channel_id}/messages?before=|after=|around=&limit=
//	GET /channels/{channel_id}/threads/archived/public?before=&limit=
//
// It reproduces what the real API does (reference/api-quirks.md §2.2):
//
//   - Authorization: Bot <token> is checked; anything else gets 401
//     {"message": "401: Unauthorized", "code": 0}.
//   - Snowflakes are strings made from timestamps (Snowflake); before, after
//     and around compare them as numbers.
//   - Messages come newest first, with before, after and around alike;
//     members come in ascending user id order, after the given id.
//   - Threads are not listed by /guilds/{id}/channels; active threads have
//     no has_more; archived public threads are paged by archive time.
//   - A channel marked Unreadable answers 403 {"message": "Missing Access",
//     "code": 50001}; so does /members without the GUILD_MEMBERS intent.
//     Without the MESSAGE_CONTENT intent, content, embeds and attachments
//     are empty, except in messages by or mentioning the bot.
//   - Every answer carries X-RateLimit-Limit, -Remaining, -Reset,
//     -Reset-After and -Bucket from per-route buckets (Switches); a bucket
//     used up answers 429 with Retry-After, X-RateLimit-Scope and the body
//     {"message": "You are being rate limited.", "retry_after": 0.5,
//     "global": false}.
//
// Failure knobs for tests: RateLimitAfter (a 429 after N more calls, with a
// short retry_after), FailNext (the next N calls get 500), and the mutators
// AddMessage, AddMember, AddChannel, SetReadable and Update (switches), all
// safe to call between runs while the server is up.
//
// The package does not import testing: the demo mode serves DemoWorld.
package discordfake
