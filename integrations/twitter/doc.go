// Package twitter is the twitter integration on the X API v2: the
// followers of the connected profile, the posts that mention it, and the
// recent posts with the hashtags its settings track.
//
// Connect: starter connect --platform twitter --identifier PROFILE_ID
// --settings '{"hashtags":["#crowddev","opensource"]}' --token ACCESS
// --refresh-token REFRESH. Hashtags may come as a list or a comma-separated
// string, with or without '#' (ValidateSettings normalises them).
//
// Streams: followers, mentions, and hashtag/<tag>, paged with
// meta.next_token at each endpoint's largest page. Activities: follow
// (score 2; sourceId from the profile and follower ids, so the same in
// every run; 1970-01-01 when an onboarding finds it, the run's start when a
// check does), mention and hashtag (score 6, contributions; sourceId the
// post id as a string, as ids exceed 2^53). A post that mentions the
// profile and carries a tracked hashtag is stored once per type.
// Members carry reach.twitter = followers_count.
//
// Check runs stop a stream at the first page holding an activity stored
// before the run began: followers and posts are listed newest first. The
// known followers are the stored follow activities (unique per tenant,
// platform, type and sourceId, indexed): a table that grows by a row per
// follower, where crowd.dev kept a list in settings that every run would
// read and rewrite whole. Recent search covers 7 days only: a hashtag
// post older than that is never found, by onboarding or check.
//
// Tokens (client.go, AccessToken): X's access tokens last two hours and
// its refresh tokens are single-use. A token is refreshed only when it
// expires within five minutes (or its expiry is unknown, as for a pair
// given at connect time), under the integration's token lock, and the new
// pair is committed by the same short transaction that receives it
// (store.RefreshTokens). A refused refresh token sets the integration's
// status to needs-reconnect and fails the step without retries.
//
// Rate limits: x-rate-limit-remaining <= 1 pauses the run until
// x-rate-limit-reset (epoch seconds); a 429, whichever body it has, is
// integrations.RateLimitedError until the reset. A 200 with errors and no
// data is an error (PartialError), never an empty page.
package twitter
