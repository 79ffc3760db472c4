// Package slack is the Slack integration: it reads the channels a Slack
// app's bot user is in and turns messages, thread replies and channel joins
// into crowd activities.
//
// The Web API is called with github.com/slack-go/slack (imported as
// slackapi), pointed at SLACK_API_URL (default https://slack.com/api/), with
// the integration's bot token. slack-go's own retries stay off: a 429
// becomes an integrations.RateLimitedError until now+Retry-After, which the
// engine waits out on a durable timer.
//
// A run:
//
//   - Preprocess lists every channel the bot is in (conversations.list, all
//     cursor pages) and reads the workspace URL (team.info). A channel the
//     settings do not list yet is new.
//   - GetStreams: "members" (onboarding only) and one "channel" stream per
//     channel.
//   - "members" pages users.list into members (no activities).
//   - "channel" pages conversations.history, newest first, into `message`
//     and `channel_joined` activities; every message with replies adds a
//     "thread" stream; the last page of an onboarding or new channel adds a
//     "channel_members" stream.
//   - "thread" pages conversations.replies; the parent, which comes first,
//     is skipped (the channel stream made it; a deleted parent with
//     replies is a tombstone and makes nothing). A reply's `thread`
//     attribute is {body, id} of its parent, false on other messages.
//   - "channel_members" pages conversations.members into `channel_joined`
//     activities dated at the Unix epoch (Slack keeps no join date). The
//     source id of a join is made of the channel and the user, so a join
//     message and a membership give the same activity row: one join per
//     member and channel.
//   - Check runs (not onboarding) make activities of the check window
//     (24 h, or the checkWindowSeconds setting) before the run started. They
//     page a known channel's history back to the thread window (45 days),
//     for the parents' latest_reply: a thread with a reply inside the check
//     window gets a "thread" stream however old its parent, and
//     conversations.replies is asked for the window only. A reply to a
//     thread whose parent is older than 45 days is not seen by check runs
//     (unless also sent to the channel): that bounds their cost to the
//     history pages of 45 days per channel. New channels are read to their
//     beginning.
//   - Postprocess writes the channel list into settings.channels.
//
// Settings: {"channels": [{"id", "name", "general"}], "checkWindowSeconds": n},
// plus any other key, kept as is.
//
// Bots (is_bot, bot_id, bot_message), Slackbot and unknown users make no
// members and no activities. Deactivated users (deleted:true) are kept, as
// crowd.dev kept them, with the member attribute isDeactivated. Users are looked up through a
// per-process cache (filled by users.list and users.info, 24 h), so a page
// of messages costs at most one users.info call per author not seen yet.
//
// A channel the bot can no longer read (not_in_channel, channel_not_found,
// thread_not_found) is skipped with a warning in the run's log instead of
// failing the run; a refused token (invalid_auth, not_authed,
// account_inactive, ...) or a missing scope is a PermanentError.
package slack
