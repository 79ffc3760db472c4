package integrations

import (
	"context"
	"time"
)

// Tokens is an integration's OAuth token pair as stored.
type Tokens struct {
	Access  string
	Refresh string
	// ExpiresAt is when Access expires; zero when unknown (a token given
	// at connect time).
	ExpiresAt time.Time
}

// TokenStore keeps the integrations' OAuth tokens. The engine gives one to
// every service call (RunContext.Tokens); tokens go from it to the API and
// nowhere else: never into workflow inputs, results, heartbeats or logs.
type TokenStore interface {
	// Tokens reads the integration's current pair.
	Tokens(ctx context.Context, integrationID string) (Tokens, error)
	// RefreshTokens serialises the refreshes of one integration across
	// runs and workers: it takes the integration's token lock, reads the
	// pair in force and calls refresh with it. When refresh returns a new
	// pair, it replaces the old one in the same transaction, committed
	// before RefreshTokens returns; when refresh returns nil (the pair is
	// fresh: another run refreshed it while this one waited for the lock)
	// nothing is written. It returns the pair in force afterwards. An
	// error of refresh rolls back and is returned as is.
	RefreshTokens(ctx context.Context, integrationID string, refresh func(ctx context.Context, current Tokens) (*Tokens, error)) (Tokens, error)
	// ExpireAccessToken marks access expired if it is still the
	// integration's access token: the API refused it before its known
	// expiry, so the next use refreshes the pair.
	ExpireAccessToken(ctx context.Context, integrationID, access string) error
	// SetNeedsReconnect sets the integration's status to needs-reconnect:
	// its refresh token was refused, and only the user can give a new one.
	SetNeedsReconnect(ctx context.Context, integrationID string) error
}

// MemberIdentity is a member's identity on one platform, with the member's
// reach (follower counts per platform, and total).
type MemberIdentity struct {
	MemberID string
	Username string
	Reach    map[string]int
}

// RecordStore answers a service's questions about what is stored, for the
// services that decide what to fetch from it (the engine gives one as
// RunContext.Records).
type RecordStore interface {
	// KnownSourceIDs returns which of sourceIDs have an activity of the
	// tenant, platform and type that was stored before the given time.
	KnownSourceIDs(ctx context.Context, tenantID, platform, activityType string, sourceIDs []string, before time.Time) (map[string]bool, error)
	// MembersWithIdentity pages through the tenant's members that have an
	// identity on platform, in username order after the username after.
	MembersWithIdentity(ctx context.Context, tenantID, platform, after string, limit int) ([]MemberIdentity, error)
	// UpdateReach sets reach[platform] of the tenant's members with these
	// usernames on platform to the given counts, with total recomputed,
	// writing only the members whose count changed; it returns how many
	// it changed.
	UpdateReach(ctx context.Context, tenantID, platform string, counts map[string]int) (int, error)
}
