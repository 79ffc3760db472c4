// Package e2e holds the end-to-end tests: the real workflow and activities
// on a real Temporal server (go.temporal.io/server/temporaltest, in
// process) and a real PostgreSQL, with each platform's fake API behind the
// real service. Everything is in _test.go files, so only `go test` links
// the Temporal server (a first build takes about four minutes).
package e2e
