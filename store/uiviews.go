package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reads for the web UI's lists: a tenant's integrations with their latest
// run, and the runs an operator should look at. Neither reads a token.

// ErrorPointReconciled is the errorPoint of a run that the reconciler
// (checks/reconcile.go) ended because its workflow was closed or gone.
const ErrorPointReconciled = "reconciled"

// Tenant is a tenants row.
type Tenant struct {
	ID   string
	Name string
}

// ListTenants returns up to limit live tenants, by name then id.
func (s *Store) ListTenants(ctx context.Context, limit int) ([]Tenant, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name FROM tenants WHERE "deletedAt" IS NULL ORDER BY name, id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Tenant, error) {
		var t Tenant
		err := row.Scan(&t.ID, &t.Name)
		return t, err
	})
}

// RunSummary is a run as the lists show it.
type RunSummary struct {
	ID            string
	TenantID      string
	IntegrationID string
	Platform      string
	// Service is the companion service that ran it (twitter-reach on a
	// Twitter integration), "" for the platform's own runs.
	Service      string
	Onboarding   bool
	State        string
	DelayedUntil *time.Time
	DelayReason  string
	Error        json.RawMessage
	// Stuck says a run that should be moving has not changed for longer
	// than the threshold given to AttentionRuns.
	Stuck          bool
	RecordsWritten int64
	// Streams by state.
	Pending, Processing, Processed, Failed int
	CreatedAt, UpdatedAt                   time.Time
}

// IntegrationSummary is an integration with its latest run (nil before the
// first).
type IntegrationSummary struct {
	ID         string
	TenantID   string
	Platform   string
	Status     string
	Identifier string
	CreatedAt  time.Time
	LatestRun  *RunSummary
}

// IntegrationFilter narrows ListIntegrations; empty fields match all.
type IntegrationFilter struct {
	TenantID string
	Platform string
	Status   string
	Limit    int
}

// streamCountsSQL counts the streams of the run aliased r by state.
const streamCountsSQL = `LEFT JOIN LATERAL (SELECT
		count(*) FILTER (WHERE state = 'pending') AS pending,
		count(*) FILTER (WHERE state = 'processing') AS processing,
		count(*) FILTER (WHERE state = 'processed') AS processed,
		count(*) FILTER (WHERE state = 'error') AS failed
	FROM "integrationStreams" WHERE "runId" = r.id) sc ON true`

// ListIntegrations returns a tenant's live integrations, newest first, each
// with its latest run and that run's streams by state.
func (s *Store) ListIntegrations(ctx context.Context, f IntegrationFilter) ([]IntegrationSummary, error) {
	if !validUUID(f.TenantID) {
		return nil, nil
	}
	if f.Limit <= 0 {
		f.Limit = 200
	}
	rows, err := s.pool.Query(ctx, `SELECT i.id, i."tenantId", i.platform, i.status, coalesce(i."integrationIdentifier", ''), i."createdAt",
			r.id, coalesce(r.service, ''), r.onboarding, r.state, r."delayedUntil", coalesce(r."delayReason", ''), r.error, r."recordsWritten",
			r."createdAt", r."updatedAt",
			coalesce(sc.pending, 0), coalesce(sc.processing, 0), coalesce(sc.processed, 0), coalesce(sc.failed, 0)
		FROM integrations i
		LEFT JOIN LATERAL (SELECT * FROM "integrationRuns" WHERE "integrationId" = i.id ORDER BY "createdAt" DESC, id LIMIT 1) r ON true
		`+streamCountsSQL+`
		WHERE i."tenantId" = $1 AND i."deletedAt" IS NULL AND ($2 = '' OR i.platform = $2) AND ($3 = '' OR i.status = $3)
		ORDER BY i."createdAt" DESC, i.id LIMIT $4`, f.TenantID, f.Platform, f.Status, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (IntegrationSummary, error) {
		var i IntegrationSummary
		var (
			runID, service, state *string
			onboarding            *bool
			records               *int64
			createdAt, updatedAt  *time.Time
			r                     RunSummary
		)
		err := row.Scan(&i.ID, &i.TenantID, &i.Platform, &i.Status, &i.Identifier, &i.CreatedAt,
			&runID, &service, &onboarding, &state, &r.DelayedUntil, &r.DelayReason, &r.Error, &records, &createdAt, &updatedAt,
			&r.Pending, &r.Processing, &r.Processed, &r.Failed)
		if err != nil || runID == nil {
			return i, err
		}
		r.ID, r.TenantID, r.IntegrationID, r.Platform, r.Service = *runID, i.TenantID, i.ID, i.Platform, *service
		r.Onboarding, r.State, r.RecordsWritten = *onboarding, *state, *records
		r.CreatedAt, r.UpdatedAt = *createdAt, *updatedAt
		i.LatestRun = &r
		return i, nil
	})
}

// AttentionRuns returns up to limit runs, across tenants, that an operator
// should look at, most recently changed first: delayed runs, failed runs,
// and runs that are pending or processing but have not changed for longer
// than stuckAfter, or whose delay ended longer than stuckAfter ago (their
// workflow is gone or its worker is down). Stuck is set on those, and on
// the runs the reconciler ended because their workflow was gone.
func (s *Store) AttentionRuns(ctx context.Context, stuckAfter time.Duration, limit int) ([]RunSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.id, r."tenantId", r."integrationId", coalesce(i.platform, ''), coalesce(r.service, ''), r.onboarding, r.state,
			r."delayedUntil", coalesce(r."delayReason", ''), r.error, r."recordsWritten", r."createdAt", r."updatedAt",
			(r.state IN ('pending', 'processing') AND r."updatedAt" < now() - $1::bigint * interval '1 second')
				OR (r.state = 'delayed' AND r."delayedUntil" < now() - $1::bigint * interval '1 second')
				OR (r.state = 'error' AND r.error->>'errorPoint' = $3),
			coalesce(sc.pending, 0), coalesce(sc.processing, 0), coalesce(sc.processed, 0), coalesce(sc.failed, 0)
		FROM "integrationRuns" r
		LEFT JOIN integrations i ON i.id = r."integrationId"
		`+streamCountsSQL+`
		WHERE r.state <> 'processed' AND (r.state IN ('delayed', 'error') OR r."updatedAt" < now() - $1::bigint * interval '1 second')
		ORDER BY r."updatedAt" DESC, r.id LIMIT $2`, int64(stuckAfter/time.Second), limit, ErrorPointReconciled)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (RunSummary, error) {
		var r RunSummary
		err := row.Scan(&r.ID, &r.TenantID, &r.IntegrationID, &r.Platform, &r.Service, &r.Onboarding, &r.State,
			&r.DelayedUntil, &r.DelayReason, &r.Error, &r.RecordsWritten, &r.CreatedAt, &r.UpdatedAt, &r.Stuck,
			&r.Pending, &r.Processing, &r.Processed, &r.Failed)
		return r, err
	})
}
