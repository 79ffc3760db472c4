// Package quotafake is an http.Handler middleware that puts a real API's
// latency and per-credential quota in front of any of the integrations'
// fakes (integrations/*/…fake), for the quota benchmarks and the quota
// ledger's tests.
//
// What it does to every request, in this order:
//
//   - finds the credential the way the real APIs take it (Token): the
//     Authorization header's credential whatever its scheme ("Bearer x",
//     "Bot x", GitHub's "token x"), Dev.to's api-key header, Slack's token
//     form field or query parameter; a request without one is counted per
//     client address, as Dev.to counts anonymous reads;
//   - counts it against that credential's quota: Limit requests per Window
//     in a fixed window that the credential's first request opens and that
//     closes Window later (the next request after that opens the next
//     one), as GitHub's hourly window and Discord's buckets work. A request
//     past the limit is refused with HTTP 429 and Retry-After in whole
//     seconds (rounded up: a client that waits that long is never refused
//     again for the same window), and never reaches the fake;
//   - answers after Latency (the 429 too: a refusal costs a round trip as
//     well), or sooner if the client gives up. A request is counted when
//     it arrives, as an API counts it, even if its client then gives up.
//
// Headers selects what a client can learn before it is refused:
// HeadersRetryAfterOnly is Slack's way (Retry-After on the 429 and nothing
// else); HeadersXRateLimit adds X-RateLimit-Limit, X-RateLimit-Remaining
// and X-RateLimit-Reset (Unix seconds with milliseconds, as Discord sends
// it; a one-second window makes GitHub's whole seconds useless) to every
// answer, the 429 included. A fake that sets its own X-RateLimit-* headers
// (the Discord fake's route buckets) overrides them on its answers.
//
// The 429's body is the platform's (Refusal: SlackRefusal,
// DiscordRefusal, ...), so the client under test reads a refusal it knows.
//
// Counts gives, per credential, the requests served, the requests refused
// and the times of the first and last served one, for benchmarks (the
// theoretical minimum of an onboarding is served ÷ Limit × Window) and for
// tests that prove a quota was never overspent. The middleware is safe for
// concurrent use.
//
// The package does not import testing: benchmarks and, later, the demo
// mode may link it.
package quotafake
