// Package discord is the Discord integration: it reads one guild (server)
// with a bot token and turns its members and messages into crowdflow
// members and activities.
//
// # Settings
//
//	{"guildId": "613425648685547541", "checkWindowSeconds": 86400}
//
// guildId is the guild to read (a snowflake string; Integration.Identifier
// is used when it is missing). checkWindowSeconds is how far back a check
// run reads (default 86400). Postprocess adds "channels": [{id, name}], the
// channels read in full so far. The bot token is Integration.Token; it is
// sent as "Authorization: Bot <token>" and never logged.
//
// # A run
//
// Preprocess lists the guild's channels and active threads, and the first
// page of archived public threads of every text, announcement, forum and
// media channel; a channel the bot may not read (403 Missing Access) is
// skipped and recorded with its reason in the pipeline data. GetStreams
// returns:
//
//   - "members": GET /guilds/{id}/members?after=&limit=1000, ascending by
//     user id; a joined_guild activity per human member (in a check run,
//     per member who joined within the check window: the listing is read
//     whole, one request per 1000 members, as it is not ordered by join
//     time; there is no gateway listener). joined_at null: a member
//     without an activity;
//   - "channel", one per readable text or announcement channel, voice or
//     stage channel's text chat, and public thread (forum and media
//     channels hold threads only): GET /channels/{id}/messages?before=&limit=100,
//     newest first; a message activity per default or reply message by a
//     person; the opening message of a forum or media post (its id is the
//     thread's) is thread_started. Attributes: thread, forum, childChannel
//     (the thread's name), reactions [{emoji, emojiId, count}],
//     attachments. A message that started a thread adds that thread's
//     stream unless the thread is known already;
//   - "threads": the rest of an archived-thread listing longer than a page.
//
// A check run stops a channel once its page's oldest message is older than
// the check window (IsProcessingFinished), and skips channels and threads
// with nothing newer, except channels new to the integration, which are
// read in full.
//
// # Rate limits
//
// A response with X-RateLimit-Remaining of 1 or less makes the stream
// return Sleep = X-RateLimit-Reset-After; a 429 returns
// integrations.RateLimited(now + retry_after). Nothing sleeps inside an
// activity: see client.go for how discordgo's own waiting is bypassed.
//
// The API is reached through discordgo, pointed at DISCORD_API_URL by an
// http.RoundTripper; discordfake is the fake API the tests and the demo use.
package discord
