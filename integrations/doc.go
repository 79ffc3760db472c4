// Package integrations is the contract between the run engine and the
// platform services (devto, slack, discord, ...): the Go form of crowd.dev's
// IntegrationServiceBase.
//
// A service implements the small Service interface. Optional steps of a run
// (preprocess, member attributes, the check-run early stop, postprocess,
// settings validation) are separate interfaces the engine discovers by type
// assertion, the way io.WriterTo is discovered by io.Copy.
//
// Services never touch the database or Temporal: they call their API and
// return records. The engine persists them idempotently and turns sleeps and
// RateLimitedError into durable timers.
package integrations
