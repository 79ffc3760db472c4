// Package github is the GitHub integration: every event of the listed
// repositories (or of a GitHub App installation's) as an activity, read
// by polling GitHub's GraphQL API and, through package api's webhook route,
// from GitHub's webhooks.
//
// A run probes its repositories in one query (unreachable ones move to
// unavailableRepos and are tried again next run), then reads five streams
// per repository: stargazers, forks, pulls, issues and discussions, each
// newest first and paged to its end; a page queues the children of the
// items it read (comments, review threads and their comments, a PR's
// timeline, discussion comments and their replies), every one paged to
// its end too. A daily check walks the same connections and stops at the
// first page older than the start of the last run that read the
// repository fully (settings.checkpoints).
//
// Rate limits are GitHub's: a query's points (rateLimit{cost remaining
// resetAt}) are tracked per credential and a query the budget cannot pay
// for is not sent; RATE_LIMITED, 403/429 with Retry-After or
// x-ratelimit-remaining 0 become integrations.RateLimitedError, so the run
// sleeps on a durable timer without spending a retry. One credential's
// requests never run in parallel.
//
// Activities, their source ids, scores and attributes follow crowd.dev's
// (reference §5.6), with its bugs fixed: comment connections are paged past
// their first 100, and a webhook and a poll of the same event give the same
// source id (webhook.go). Package githubfake is the fake GitHub of the tests
// and the dev-mode demo.
package github
