// Package api is the onboarding HTTP API the product UI calls: connecting
// an integration (which stores it and starts its onboarding run), starting
// and continuing runs, and reading an integration or a run with its
// streams' progress. It is served by `starter serve`.
//
// JSON in and out. Every route but /healthz needs the bearer token the
// server was started with (API_TOKEN). Errors are 4xx or 5xx with
//
//	{"error": {"code": "...", "message": "...", "field": "..."}}
//
// where field names the input at fault when there is one. A request that is
// refused writes nothing. Tokens are accepted, stored and never sent back.
//
// The handlers call control.Controller, as the starter commands do, so the
// API and the CLI behave the same.
package api
