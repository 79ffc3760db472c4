package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Run is an integrationRuns row.
type Run struct {
	ID            string
	TenantID      string
	IntegrationID string
	Onboarding    bool
	State         string
	DelayedUntil  *time.Time
	DelayReason   string
	ProcessedAt   *time.Time
	Error         json.RawMessage
	PipelineData  json.RawMessage
	WorkflowID    string
	WorkflowRunID string
	// PipelineVersion changes whenever PipelineData is set.
	PipelineVersion int64
	RecordsWritten  int64
	// Service is the service that processes the run when it is not the
	// integration's platform (twitter-reach); empty otherwise.
	Service   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

const runColumns = `id, "tenantId", "integrationId", onboarding, state, "delayedUntil", coalesce("delayReason", ''),
	"processedAt", error, "pipelineData", coalesce("workflowId", ''), coalesce("workflowRunId", ''),
	"recordsWritten", "createdAt", "updatedAt", "pipelineVersion", coalesce(service, '')`

func scanRun(row pgx.Row) (*Run, error) {
	var r Run
	err := row.Scan(&r.ID, &r.TenantID, &r.IntegrationID, &r.Onboarding, &r.State, &r.DelayedUntil, &r.DelayReason,
		&r.ProcessedAt, &r.Error, &r.PipelineData, &r.WorkflowID, &r.WorkflowRunID, &r.RecordsWritten, &r.CreatedAt, &r.UpdatedAt, &r.PipelineVersion,
		&r.Service)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &r, err
}

// runColumnsLight are runColumns without pipelineData, and its version.
const runColumnsLight = `id, "tenantId", "integrationId", onboarding, state, "delayedUntil", coalesce("delayReason", ''),
	"processedAt", error, coalesce("workflowId", ''), coalesce("workflowRunId", ''),
	"recordsWritten", "createdAt", "updatedAt", "pipelineVersion", coalesce(service, '')`

// GetRun loads a run. Its pipeline data comes from the worker's cache
// when the stored version is the cached one (see cache.go).
func (s *Store) GetRun(ctx context.Context, id string) (*Run, error) {
	if !validUUID(id) {
		return nil, ErrNotFound
	}
	var r Run
	err := s.pool.QueryRow(ctx, `SELECT `+runColumnsLight+` FROM "integrationRuns" WHERE id = $1`, id).Scan(
		&r.ID, &r.TenantID, &r.IntegrationID, &r.Onboarding, &r.State, &r.DelayedUntil, &r.DelayReason,
		&r.ProcessedAt, &r.Error, &r.WorkflowID, &r.WorkflowRunID, &r.RecordsWritten, &r.CreatedAt, &r.UpdatedAt, &r.PipelineVersion,
		&r.Service)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if data, ok := s.docs.get(docPipeline, r.ID, r.PipelineVersion); ok {
		r.PipelineData = data
		return &r, nil
	}
	// Data and version read together, so what is cached is consistent
	// even if the data changed since the first read.
	err = s.pool.QueryRow(ctx, `SELECT "pipelineData", "pipelineVersion" FROM "integrationRuns" WHERE id = $1`, id).
		Scan(&r.PipelineData, &r.PipelineVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	s.docs.put(docPipeline, r.ID, r.PipelineVersion, r.PipelineData)
	return &r, nil
}

// ActiveRun returns the integration's run that is pending, processing or
// delayed, or ErrNotFound.
func (s *Store) ActiveRun(ctx context.Context, integrationID string) (*Run, error) {
	return scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM "integrationRuns"
		WHERE "integrationId" = $1 AND state IN ('pending', 'processing', 'delayed')
		ORDER BY "createdAt" DESC LIMIT 1`, integrationID))
}

// NewRun describes a run about to start.
type NewRun struct {
	ID            string
	TenantID      string
	IntegrationID string
	Onboarding    bool
	WorkflowID    string
	// Service: see Run.Service.
	Service string
}

// CreateRun inserts a pending run row; a row that exists is left alone.
func (s *Store) CreateRun(ctx context.Context, r NewRun) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO "integrationRuns" (id, "tenantId", "integrationId", onboarding, state, "workflowId", service)
		VALUES ($1, $2, $3, $4, 'pending', $5, nullif($6, '')) ON CONFLICT (id) DO NOTHING`,
		r.ID, r.TenantID, r.IntegrationID, r.Onboarding, r.WorkflowID, r.Service)
	return err
}

// ErrRunEnded is returned when a run that already ended (or was superseded)
// is asked to go on.
var ErrRunEnded = errors.New("run already ended")

// StartRun marks the run processing (inserting it if the starter did not)
// and records which workflow execution runs it. A run that already ended is
// left alone and ErrRunEnded returned: a terminated execution's last
// activity must not bring its run back to life.
func (s *Store) StartRun(ctx context.Context, r NewRun, workflowRunID string) error {
	_, err := s.BeginRun(ctx, r, workflowRunID, false)
	return err
}

// BeginRun is the first step of every execution of a run's workflow, in one
// transaction:
//   - the run is marked processing (inserted if the starter did not) and
//     "workflowRunId" names this execution, so it follows continue-as-new;
//   - with restart (continue-run), a run that ended is taken up again and
//     its failed or interrupted streams go back to pending, retry counts
//     kept; without it, a run that ended is left alone (ErrRunEnded);
//   - an onboarding run (not a companion service's) marks its
//     integration in-progress. Doing it here,
//     and not in the starter after the start, orders it before the run's
//     own end: a fast run's done can never be overwritten by it.
//
// It returns how many streams a restart put back. Running it twice leaves
// the same rows.
func (s *Store) BeginRun(ctx context.Context, r NewRun, workflowRunID string, restart bool) (int, error) {
	reset := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO "integrationRuns" (id, "tenantId", "integrationId", onboarding, state, "workflowId", "workflowRunId", service)
			VALUES ($1, $2, $3, $4, 'processing', $5, $6, nullif($8, ''))
			ON CONFLICT (id) DO UPDATE SET state = 'processing', "delayedUntil" = NULL, "delayReason" = NULL,
				"processedAt" = NULL, error = NULL, "workflowId" = EXCLUDED."workflowId",
				"workflowRunId" = EXCLUDED."workflowRunId", "updatedAt" = now()
			WHERE $7 OR "integrationRuns".state IN ('pending', 'processing', 'delayed')`,
			r.ID, r.TenantID, r.IntegrationID, r.Onboarding, r.WorkflowID, workflowRunID, restart, r.Service)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrRunEnded
		}
		if restart {
			tag, err = tx.Exec(ctx, `UPDATE "integrationStreams" SET state = 'pending', "processedAt" = NULL, "updatedAt" = now()
				WHERE "runId" = $1 AND state IN ('error', 'processing')`, r.ID)
			if err != nil {
				return err
			}
			reset = int(tag.RowsAffected())
		}
		// A companion service's run (twitter-reach) leaves the status alone,
		// as FinishRun does.
		if r.Onboarding && r.Service == "" {
			_, err = tx.Exec(ctx, `UPDATE integrations SET status = $2, "updatedAt" = now() WHERE id = $1 AND status <> $2`,
				r.IntegrationID, StatusInProgress)
		}
		return err
	})
	return reset, err
}

// SetRunWorkflowRunID records the execution that now runs the run (after a
// continue-as-new), without touching its state.
func (s *Store) SetRunWorkflowRunID(ctx context.Context, runID, workflowRunID string) error {
	_, err := s.pool.Exec(ctx, `UPDATE "integrationRuns" SET "workflowRunId" = $2, "updatedAt" = now()
		WHERE id = $1 AND "workflowRunId" IS DISTINCT FROM $2`, runID, workflowRunID)
	return err
}

// SetPipelineData stores what preprocess returned.
func (s *Store) SetPipelineData(ctx context.Context, runID string, data json.RawMessage) error {
	if len(data) == 0 {
		data = nil
	}
	data = cleanRaw(data)
	_, err := s.pool.Exec(ctx, `UPDATE "integrationRuns" SET "pipelineData" = $2, "updatedAt" = now() WHERE id = $1`, runID, data)
	return err
}

// SetRunDelayed marks the run delayed until the given time.
func (s *Store) SetRunDelayed(ctx context.Context, runID string, until time.Time, reason string) error {
	return s.setRunDelayed(ctx, runID, delayKind(reason), &until, time.Until(until), reason)
}

// SetRunDelayedFor marks the run delayed for wait from now, by the
// database's clock: the wait travels as a duration, and no worker's clock
// is compared with another's. kind is one of the DelayKind constants.
func (s *Store) SetRunDelayedFor(ctx context.Context, runID, kind string, wait time.Duration, reason string) error {
	return s.setRunDelayed(ctx, runID, kind, nil, wait, reason)
}

// setRunDelayed sets delayedUntil to until, or to now + wait by the
// database's clock when until is nil.
func (s *Store) setRunDelayed(ctx context.Context, runID, kind string, until *time.Time, wait time.Duration, reason string) error {
	var platform string
	err := s.pool.QueryRow(ctx, `UPDATE "integrationRuns" r SET state = 'delayed',
			"delayedUntil" = coalesce($4::timestamptz, now() + $2::interval), "delayReason" = $3, "updatedAt" = now()
		WHERE id = $1 AND state IN ('processing', 'delayed')
		RETURNING coalesce((SELECT platform FROM integrations WHERE id = r."integrationId"), '')`,
		runID, wait, cleanText(reason), until).Scan(&platform)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // ended meanwhile: nothing to delay
	}
	if err == nil {
		s.obs.RunDelayed(platform, kind, wait)
	}
	return err
}

// SetRunProcessing marks a delayed run processing again.
func (s *Store) SetRunProcessing(ctx context.Context, runID string) error {
	_, err := s.pool.Exec(ctx, `UPDATE "integrationRuns" SET state = 'processing', "delayedUntil" = NULL, "delayReason" = NULL, "updatedAt" = now()
		WHERE id = $1 AND state IN ('processing', 'delayed')`, runID)
	return err
}

// ErrorPointSkipped marks a processed stream that its service skipped.
const ErrorPointSkipped = "skipped"

// Failure is the error JSON of a run or a stream.
type Failure struct {
	ErrorPoint string `json:"errorPoint"`
	Message    string `json:"message"`
	StreamID   string `json:"streamId,omitempty"`
	Stream     string `json:"stream,omitempty"`
}

// FinishRun ends a run. With failure nil the state comes from its streams:
// error when a stream failed, processed otherwise. The integration's status
// follows: done after a processed run, error after a failed onboarding; a
// failed check leaves it as it was, so the next check still runs. It
// returns the final state.
func (s *Store) FinishRun(ctx context.Context, runID string, failure *Failure) (string, error) {
	var state, platform string
	finished := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		finished = false
		var integrationID, current string
		var onboarding, companion bool
		// A companion service's run (twitter-reach) counts under the
		// service's name.
		if err := tx.QueryRow(ctx, `SELECT r."integrationId", r.onboarding, r.state, coalesce(r.service, i.platform, ''), r.service IS NOT NULL
			FROM "integrationRuns" r LEFT JOIN integrations i ON i.id = r."integrationId" WHERE r.id = $1 FOR UPDATE OF r`, runID).
			Scan(&integrationID, &onboarding, &current, &platform, &companion); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if current == RunProcessed || current == RunError {
			// Ended elsewhere (superseded by an onboarding): keep that end.
			state = current
			return nil
		}
		var errJSON []byte
		if failure != nil {
			state = RunError
			errJSON = failureJSON(*failure)
		} else {
			var failed int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM "integrationStreams" WHERE "runId" = $1 AND state <> 'processed'`, runID).
				Scan(&failed); err != nil {
				return err
			}
			state = RunProcessed
			if failed > 0 {
				state = RunError
				errJSON, _ = json.Marshal(Failure{ErrorPoint: "process_streams", Message: fmt.Sprintf("%d stream(s) failed", failed)})
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE "integrationRuns" SET state = $2, error = $3, "processedAt" = now(),
			"delayedUntil" = NULL, "delayReason" = NULL, "updatedAt" = now(),
			"recordsWritten" = (SELECT coalesce(sum("recordsWritten"), 0) FROM "integrationStreams" WHERE "runId" = $1)
			WHERE id = $1`, runID, state, errJSON); err != nil {
			return err
		}
		finished = true
		status := ""
		switch {
		case companion:
			// A run of another service on this integration (twitter-reach
			// on a twitter integration) says nothing about the
			// integration's own runs.
		case state == RunProcessed:
			status = StatusDone
		case onboarding:
			status = StatusError
		}
		if status != "" {
			// needs-reconnect stays until the user connects again: a run
			// that ends after it was set cannot fix the tokens.
			_, err := tx.Exec(ctx, `UPDATE integrations SET status = $2, "updatedAt" = now() WHERE id = $1 AND status <> $3`,
				integrationID, status, StatusNeedsReconnect)
			return err
		}
		return nil
	})
	if err == nil && finished {
		s.obs.RunFinished(platform, state)
	}
	return state, err
}

// MarkRunError ends a run as error without looking at its streams, for a
// run whose workflow was terminated or could not start.
func (s *Store) MarkRunError(ctx context.Context, runID string, failure Failure) error {
	errJSON := failureJSON(failure)
	var platform string
	err := s.pool.QueryRow(ctx, `UPDATE "integrationRuns" r SET state = 'error', error = $2, "processedAt" = now(),
		"delayedUntil" = NULL, "updatedAt" = now() WHERE id = $1 AND state NOT IN ('processed', 'error')
		RETURNING coalesce((SELECT platform FROM integrations WHERE id = r."integrationId"), '')`, runID, errJSON).Scan(&platform)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // ended already
	}
	if err == nil {
		s.obs.RunFinished(platform, RunError)
	}
	return err
}
