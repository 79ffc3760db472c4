// Package store is the data access layer: plain SQL with pgx.
//
// Everything a run writes is idempotent: members are found by their identity
// (tenant, platform, username), activities by (tenant, platform, type,
// sourceId), streams by (run, md5 of name and metadata), and the ids of new
// members and activities are derived from those keys. A stream page is
// committed in one transaction with the stream's state change, so an
// activity retried after a crash either finds the stream processed or redoes
// the whole page.
package store
