// Package activities holds the Temporal activities of an integration run:
// every step that does I/O. They are methods on Activities, which holds their
// dependencies, as in temporalio/samples-go.
//
// Every activity may run more than once (a retry, a worker that died after
// its commit): each is idempotent. Records are fetched and stored inside
// ProcessStream; only ids, counts and times go back to the workflow, and
// tokens are loaded here by integration id, never passed through history.
package activities
