// Package workflows holds IntegrationRun, the durable workflow of one
// integration run (one per integration at a time: workflow id
// integration/<integrationId>).
//
// Workflow code is deterministic: no I/O, no time.Now, no goroutines, no map
// iteration. Everything that touches the database or an API is an activity
// (package activities). The queue of pending streams lives in the
// integrationStreams table, so the workflow carries only ids and counters and
// can continue-as-new at any stream boundary.
package workflows
