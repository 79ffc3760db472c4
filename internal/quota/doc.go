// Package quota keeps every worker within the rate limits of the API
// credentials they share: many runs use one credential (Discord's bot
// token across every guild, twitter and twitter-reach of one tenant, a
// GitHub App installation over several repositories), so no worker can
// keep the budget alone.
//
// # Where the budget lives
//
// A Ledger holds one row per budget; store.Store implements it on
// PostgreSQL (table "quotaLedger", migration 00115). Each reservation is
// one statement (the function "quotaReserve") that locks the budget's rows
// in key order and books or refuses in the same transaction: two workers
// never both take the last unit, and a call costs one round trip to book
// and, when the answer says something, one to feed it back.
//
// A PostgreSQL row was chosen over a limiter workflow reached by
// Update-with-Start: every worker already holds a connection pool to the
// database, a booking takes well under a millisecond there against several
// for an Update's round trip through the Temporal server (and history
// events for every call of every worker, which a limiter workflow would
// have to continue-as-new away), and the row's lock is the whole of the
// concurrency control. The ledger adds no process and nothing to operate.
//
// # How a budget is counted
//
// The key of a budget is "<policy>|<host>|<SHA-256 of the credential>|
// <scope>": the credential is the Authorization header, the policy's
// other credential headers (Dev.to's api-key) and Slack's form field
// `token`, hashed together; only 128 bits of the hash are kept, and no
// token is ever stored or logged. Policies say what one budget covers:
//
//   - Default and Slack: one budget per credential.
//   - Devto: one per address (Forem counts per client address), paced at 3
//     calls a second, which replaces the service's per-process pacer: two
//     workers on one address now share the 3 a second.
//   - Discord: one per route (the path, its major parameter kept), as
//     X-RateLimit-Bucket are, plus the bot's global 50 a second that every
//     route also draws on.
//   - Twitter: one per endpoint template; the OAuth token endpoint is
//     never booked nor retried (X's refresh tokens are single-use).
//   - GitHub: one per x-ratelimit-resource (core, graphql, search);
//     GraphQL's rateLimit object is fed back through a Reporter.
//
// A row keeps whichever model the API allows:
//
//   - With rate-limit headers (X-RateLimit-*, x-ratelimit-*, x-rate-limit-*,
//     RateLimit-*, Discord's Reset-After): remaining until reset. Every
//     booking takes one unit; every answer sets the server's count less
//     the calls booked after the answered one (in flight: the server had
//     not counted them), the lower count winning within a window. When a
//     window ends, the next starts with the limit less the calls still in
//     flight, and its end is predicted from the window's length (learned
//     from two successive resets) until an answer says it.
//   - With only 429 and Retry-After: a pace (GCRA). A refusal within 3 s
//     of the observation's start says how many calls the API granted in
//     it; that many per the time elapsed (at least a second: a burst is a
//     window's budget, not a rate), 3 % slower, is the pace every worker
//     then keeps (or 5 % slower than the pace in force, if that is
//     slower). A refusal after longer says what the caller did (the
//     engine may have been the slower side), not what the API allows: the
//     pace in force (the platform's, or a learned one) only slows by 5 %.
//     The budget's first refusal, with a Retry-After of a second at most
//     (whole seconds, rounded up), blocks only until a second after the
//     observation's first call: the window that call opened, or fell in,
//     is over by then. A minute without a refusal halves a learned pace,
//     so that one 429 does not hold a credential back for ever. An
//     observation starts where a block ends, or after 2 s without a call.
//     Platforms with a known pace (Dev.to, Discord's global) give it.
//   - A budget never heard of sends one call (a probe) and holds the
//     others until its answer: the headers it may bring say the window
//     before a burst could overspend it.
//   - A 429 (or GitHub's 403 with its budget spent) blocks the budget for
//     every worker until its Retry-After or reset (a JSON body's
//     retry_after, Discord's, when it is shorter: it has milliseconds).
//
// Rows idle for a week are deleted (store/quota.go, now and then during a
// booking).
//
// What it does against servers that count in different ways is measured
// by BenchmarkLedgerAgainstQuotaServers (README, Quotas). One case it does
// badly: a window opened by the first call whose reset comes in whole
// epoch seconds (rounded up): the reset is up to a second late, and every
// window waits for it.
//
// # The transport
//
// Transport (Wrap) books every request in the ledger the request's
// context carries (WithLedger: the activities put the store there before
// a service runs), waits in place for a booking up to QUOTA_MAX_WAIT
// (default 3 s; the activity heartbeats meanwhile), and returns a
// *integrations.RateLimitedError without calling when the budget is back
// later: the engine waits on a durable timer. Its Bucket is the route
// when only a route waits (Discord, X), so the engine holds only that
// stream. A short 429 on an idempotent request is waited out and sent
// again (twice at most); else the 429 reaches the client, which maps it
// as before. Without a ledger in the context (a service's unit tests) the
// transport only sends; a ledger that fails is logged and the call goes
// unbooked (the database being down must not stop the APIs).
package quota
