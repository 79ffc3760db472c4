// Package auth resolves the API's bearer tokens to a principal: the
// operator (API_TOKEN, every tenant) or one tenant (a token made by
// `starter api-token create`, stored as its SHA-256 only). The API's
// middleware uses it, and so may any other HTTP surface that signs in with
// the same tokens (a web UI).
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/crowdflow/crowdflow/store"
)

// TokenPrefix starts every tenant token, so a leaked one is recognisable
// (and secret scanners can look for it).
const TokenPrefix = "cft_"

// ErrInvalidToken is a token that is neither the operator's nor a live
// tenant token (unknown, malformed or revoked: the caller is not told
// which).
var ErrInvalidToken = errors.New("invalid or revoked bearer token")

// Principal is who a request acts for.
type Principal struct {
	// Operator: the API_TOKEN, which sees every tenant.
	Operator bool
	// TenantID is the one tenant a tenant token sees.
	TenantID string
	// TokenID is the tenant token's id ("" for the operator).
	TokenID string
}

// CanSee reports whether the principal may see the tenant's data.
func (p Principal) CanSee(tenantID string) bool {
	return p.Operator || (p.TenantID != "" && p.TenantID == tenantID)
}

// Key names the principal for per-token limits.
func (p Principal) Key() string {
	if p.Operator {
		return "operator"
	}
	return "token:" + p.TokenID
}

// TokenStore finds tenant tokens by hash (*store.Store is one).
type TokenStore interface {
	APITokenByHash(ctx context.Context, hash []byte) (*store.APIToken, error)
}

// Resolver turns bearer tokens into principals.
type Resolver struct {
	operator [sha256.Size]byte
	store    TokenStore
}

// NewResolver resolves operatorToken to the operator and tenant tokens
// through st (nil: the operator token only).
func NewResolver(operatorToken string, st TokenStore) (*Resolver, error) {
	operatorToken = strings.TrimSpace(operatorToken)
	if operatorToken == "" {
		return nil, errors.New("no operator API token")
	}
	return &Resolver{operator: sha256.Sum256([]byte(operatorToken)), store: st}, nil
}

// Resolve returns the principal of a bearer token: ErrInvalidToken when it
// opens nothing, another error when the store does not answer. The
// operator token is compared as SHA-256 digests in constant time, so
// neither its bytes nor its length leak through timing; tenant tokens are
// looked up by digest, which reveals nothing usable either.
func (r *Resolver) Resolve(ctx context.Context, token string) (Principal, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Principal{}, ErrInvalidToken
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], r.operator[:]) == 1 {
		return Principal{Operator: true}, nil
	}
	if r.store == nil || !strings.HasPrefix(token, TokenPrefix) {
		return Principal{}, ErrInvalidToken
	}
	t, err := r.store.APITokenByHash(ctx, sum[:])
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrInvalidToken
	}
	if err != nil {
		return Principal{}, err
	}
	if t.RevokedAt != nil {
		return Principal{}, ErrInvalidToken
	}
	return Principal{TenantID: t.TenantID, TokenID: t.ID}, nil
}

// NewToken makes a tenant token and the hash to store.
func NewToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is the stored form of a tenant token.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return sum[:]
}

// Bearer is the token of "Authorization: Bearer <token>" ("" when absent
// or of another scheme).
func Bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext is the principal of a request that passed authentication.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
