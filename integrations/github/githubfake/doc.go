// Package githubfake is a fake GitHub for the github integration's tests and
// the dev-mode demo: GraphQL and the few REST routes the integration and its
// tests use, on one HTTP handler, over an in-memory World.
//
// GraphQL queries are parsed and validated against GitHub's own public
// schema (embedded, see schema/README.md) with gqlparser, so a query that
// github.com would refuse is refused here too, and are then executed over
// the world: aliases, fragments on interfaces and unions, variables,
// connections paged both ways (first/after, last/before) with opaque
// cursors, orderBy on the connections that have it. Each query costs points
// as GitHub computes them (rateLimit{cost remaining resetAt}); an
// exhausted budget answers RATE_LIMITED with HTTP 200, as GitHub does.
//
// What the real API does and the fake reproduces: deleted accounts answer
// author null; bots are Bot with a "[bot]" login; an unknown or forbidden
// repository nulls repository with a NOT_FOUND or FORBIDDEN error; first or
// last over 100 is EXCESSIVE_PAGINATION; secondary limits are 403/429 with
// Retry-After; app JWTs buy installation tokens that expire.
package githubfake
