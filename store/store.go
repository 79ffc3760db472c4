package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/secrets"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// Run states.
const (
	RunPending    = "pending"
	RunProcessing = "processing"
	RunDelayed    = "delayed"
	RunProcessed  = "processed"
	RunError      = "error"
)

// Stream states.
const (
	StreamPending    = "pending"
	StreamProcessing = "processing"
	StreamProcessed  = "processed"
	StreamError      = "error"
)

// Integration statuses.
const (
	StatusInProgress    = "in-progress"
	StatusDone          = "done"
	StatusError         = "error"
	StatusPendingAction = "pending-action"
)

// Store wraps a pgx pool.
type Store struct {
	pool *pgxpool.Pool
	docs *docCache
	obs  Observer
	// keys seals the tokens written and opens those read (secrets.go);
	// without it a token cannot be written.
	keys *secrets.Keyring
}

// Open connects to the database at url, with the pool sized and its
// statements bounded as PoolOptionsFromEnv and the options say.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	return open(ctx, url, nil, opts...)
}

// open is Open with a last change to the pool's configuration (tests count
// the bytes read through it).
func open(ctx context.Context, url string, tweak func(*pgxpool.Config), opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("bad DATABASE_URL: %w", err)
	}
	po, err := PoolOptionsFromEnv()
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(&po)
	}
	po.apply(cfg)
	if tweak != nil {
		tweak(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return &Store{pool: pool, docs: newDocCache(), obs: noObserver{}}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Pool exposes the pool for tests and benchmarks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Integration is an integrations row.
type Integration struct {
	ID       string
	TenantID string
	Platform string
	Status   string
	Settings json.RawMessage
	// Token and RefreshToken are as stored: sealed (or legacy plain text).
	// Only the activity that calls the platform opens them
	// (Store.OpenSecrets).
	Token            secrets.Sealed
	RefreshToken     secrets.Sealed
	Identifier       string
	LimitCount       int
	LimitLastResetAt *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// SettingsVersion changes whenever Settings is set (by anyone): what
	// ReplaceSettings compares.
	SettingsVersion int64
}

// NewIntegration is what connect stores.
type NewIntegration struct {
	TenantID     string
	Platform     string
	Status       string
	Settings     json.RawMessage
	Token        string
	RefreshToken string
	Identifier   string
}

// CreateIntegration creates the tenant when it is new and stores the
// integration. It returns the new integration's id.
func (s *Store) CreateIntegration(ctx context.Context, in NewIntegration) (string, error) {
	// One insert for every connect: see CreateIntegrationOnce (a live
	// integration with the same identifier is returned, not doubled).
	id, _, err := s.CreateIntegrationOnce(ctx, ConnectOnce{NewIntegration: in})
	return id, err
}

// integrationColumns are an integration's columns but its settings, and
// the settings' version.
const integrationColumns = `id, "tenantId", platform, status, coalesce(token, ''), coalesce("refreshToken", ''),
	coalesce("integrationIdentifier", ''), "limitCount", "limitLastResetAt", "createdAt", "updatedAt", "settingsVersion"`

// GetIntegration loads a live (not deleted) integration, token included.
// Its settings come from the worker's cache when the stored version is the
// cached one (see cache.go).
func (s *Store) GetIntegration(ctx context.Context, id string) (*Integration, error) {
	if !validUUID(id) {
		return nil, ErrNotFound
	}
	var i Integration
	err := s.pool.QueryRow(ctx, `SELECT `+integrationColumns+` FROM integrations WHERE id = $1 AND "deletedAt" IS NULL`, id).Scan(
		&i.ID, &i.TenantID, &i.Platform, &i.Status, &i.Token, &i.RefreshToken,
		&i.Identifier, &i.LimitCount, &i.LimitLastResetAt, &i.CreatedAt, &i.UpdatedAt, &i.SettingsVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if data, ok := s.docs.get(docSettings, i.ID, i.SettingsVersion); ok {
		i.Settings = data
		return &i, nil
	}
	err = s.pool.QueryRow(ctx, `SELECT settings, "settingsVersion" FROM integrations WHERE id = $1`, id).Scan(&i.Settings, &i.SettingsVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	s.docs.put(docSettings, i.ID, i.SettingsVersion, i.Settings)
	return &i, nil
}

// ListIntegrationIDs pages through the live integrations of a platform with
// the given status, in id order, after afterID.
func (s *Store) ListIntegrationIDs(ctx context.Context, platform, status, afterID string, limit int) ([]string, error) {
	if afterID == "" {
		afterID = uuid.Nil.String()
	}
	rows, err := s.pool.Query(ctx, `SELECT id FROM integrations
		WHERE platform = $1 AND status = $2 AND "deletedAt" IS NULL AND id > $3 ORDER BY id LIMIT $4`,
		platform, status, afterID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ErrSettingsChanged is returned by ReplaceSettings when the settings are
// no longer the version the caller read.
var ErrSettingsChanged = errors.New("settings changed since they were read")

// ReplaceSettings replaces the integration's settings if they are still
// at version (compare-and-set): a run's Postprocess computed its settings
// from that version, and must not overwrite an edit a user made since.
// On ErrSettingsChanged the caller reads them again and recomputes.
func (s *Store) ReplaceSettings(ctx context.Context, id string, settings json.RawMessage, version int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE integrations SET settings = $2, "updatedAt" = now() WHERE id = $1 AND "settingsVersion" = $3`,
		id, cleanRaw(settings), version)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrSettingsChanged
	}
	return nil
}

// UpdateIntegrationSettings replaces the integration's settings,
// whatever they are now.
func (s *Store) UpdateIntegrationSettings(ctx context.Context, id string, settings json.RawMessage) error {
	_, err := s.pool.Exec(ctx, `UPDATE integrations SET settings = $2, "updatedAt" = now() WHERE id = $1`, id, cleanRaw(settings))
	return err
}

// SetIntegrationStatus sets the integration's status.
func (s *Store) SetIntegrationStatus(ctx context.Context, id, status string) error {
	_, err := s.pool.Exec(ctx, `UPDATE integrations SET status = $2, "updatedAt" = now() WHERE id = $1`, id, status)
	return err
}

// CheckLimit resets the integration's global-limit window when it has
// passed, and reports until when the integration is blocked (zero time when
// it is not). limit <= 0 disables the limit.
func (s *Store) CheckLimit(ctx context.Context, integrationID string, limit int, window time.Duration) (time.Time, error) {
	if limit <= 0 || window <= 0 {
		return time.Time{}, nil
	}
	var count int
	var resetAt time.Time
	// Only a window that has passed is written: checking, once per page of
	// every stream in flight, must not lock the integration's row.
	err := s.pool.QueryRow(ctx, `WITH reset AS (
			UPDATE integrations SET "limitCount" = 0, "limitLastResetAt" = now()
			WHERE id = $1 AND ("limitLastResetAt" IS NULL OR "limitLastResetAt" <= now() - $2::interval)
			RETURNING "limitCount", "limitLastResetAt")
		SELECT "limitCount", "limitLastResetAt" FROM reset
		UNION ALL
		SELECT "limitCount", "limitLastResetAt" FROM integrations WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM reset)`,
		integrationID, window).Scan(&count, &resetAt)
	if err != nil {
		return time.Time{}, err
	}
	if count >= limit {
		return resetAt.Add(window), nil
	}
	return time.Time{}, nil
}

func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil
}

// ValidUUID reports whether s is a UUID, the form of every id here.
func ValidUUID(s string) bool { return validUUID(s) }

// CreateMemberAttributes creates a platform's member attributes for a
// tenant, once: a later call for the same pair does nothing, and an
// attribute that exists (created by another platform) is kept.
func (s *Store) CreateMemberAttributes(ctx context.Context, tenantID, platform string, attrs []integrations.MemberAttribute) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO "memberAttributePlatforms" ("tenantId", platform) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, tenantID, platform)
		if err != nil || tag.RowsAffected() == 0 || len(attrs) == 0 {
			return err
		}
		names := make([]string, len(attrs))
		labels := make([]string, len(attrs))
		types := make([]string, len(attrs))
		show := make([]bool, len(attrs))
		canDelete := make([]bool, len(attrs))
		for i, a := range attrs {
			names[i], labels[i], types[i], show[i], canDelete[i] = a.Name, a.Label, a.Type, a.Show, a.CanDelete
		}
		_, err = tx.Exec(ctx, `INSERT INTO "memberAttributeSettings" (id, "tenantId", name, label, type, show, "canDelete")
			SELECT gen_random_uuid(), $1, t.name, t.label, t.type, t.show, t.can_delete
			FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[], $6::bool[]) AS t(name, label, type, show, can_delete)
			ON CONFLICT ("tenantId", name) DO NOTHING`, tenantID, names, labels, types, show, canDelete)
		return err
	})
}

// DeleteIntegration removes an integration that never ran (a connect whose
// onboarding could not be started).
func (s *Store) DeleteIntegration(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM integrations WHERE id = $1`, id)
	return err
}
