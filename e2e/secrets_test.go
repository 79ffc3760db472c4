package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto"
	"github.com/crowdflow/crowdflow/integrations/devto/devtofake"
	"github.com/crowdflow/crowdflow/internal/auth"
	"github.com/crowdflow/crowdflow/internal/secrets"
	"github.com/crowdflow/crowdflow/store"
)

// keysSeen records the api-key headers the Dev.to fake receives.
type keysSeen struct {
	mu   sync.Mutex
	keys map[string]int
}

func (k *keysSeen) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.keys[r.Header.Get("api-key")]++
		k.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (k *keysSeen) saw(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys[key] > 0
}

// TestTokensAtRestAndKeyRotation connects through the starter, finds the
// token nowhere in the database, rotates the key with the starter, and
// runs with the new key alone: the service still gets the token.
func TestTokensAtRestAndKeyRotation(t *testing.T) {
	const devtoKey = "devto-api-key-7f3e9c1d"
	seen := &keysSeen{keys: map[string]int{}}
	srv := httptest.NewServer(seen.wrap(devtofake.New(devtoWorld()).Handler()))
	t.Cleanup(srv.Close)
	e := newEnv(t, []integrations.Service{devto.New(devto.Options{BaseURL: srv.URL + "/api", PageSize: 2})})
	tenant := "5e0c7a39-1b2d-4c6e-8f0a-9b8c7d6e5f4a"

	out, errOut, code := e.runStarter([]string{"INTEGRATION_TOKEN=" + devtoKey, "INTEGRATION_REFRESH_TOKEN=refresh-" + devtoKey},
		"connect", "--tenant", tenant, "--platform", "devto", "--settings", devtoSettings)
	require.Equal(t, 0, code, errOut)
	id := strings.TrimSpace(out)
	run, err := e.store.ActiveRun(context.Background(), id)
	if err == nil {
		require.Equal(t, store.RunProcessed, e.wait(control.Started{IntegrationID: id, RunID: run.ID, WorkflowID: "integration/" + id}))
	}
	assert.True(t, seen.saw(devtoKey), "the service called the API with the token")
	// A dump of every table with a token column holds no token.
	assert.NotContains(t, dumpAll(t, e), devtoKey)

	// Rotate: the new key current, the old one still accepted.
	newKey, err := secrets.NewKey()
	require.NoError(t, err)
	rotateEnv := []string{"ENCRYPTION_KEY=" + newKey, "ENCRYPTION_KEYS_OLD=" + e.key}
	out, errOut, code = e.runStarter(rotateEnv, "rotate-key", "--batch-size", "1")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "1\n", out, "one integration resealed")
	out, errOut, code = e.runStarter(rotateEnv, "rotate-key")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "0\n", out, "a second rotation has nothing left to do")
	// A malformed key is refused before anything is read.
	_, errOut, code = e.runStarter([]string{"ENCRYPTION_KEY=not-a-key"}, "rotate-key")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "ENCRYPTION_KEY")

	// The worker with the new key alone runs the integration.
	raw, err := secrets.ParseKey(newKey)
	require.NoError(t, err)
	ring, err := secrets.NewKeyring(raw)
	require.NoError(t, err)
	e.store.SetKeyring(ring)
	seen.keys = map[string]int{}
	_, state := e.start(id, false)
	assert.Equal(t, store.RunProcessed, state)
	assert.True(t, seen.saw(devtoKey))
	assert.NotContains(t, dumpAll(t, e), devtoKey)
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM integrations WHERE token LIKE $1 AND "refreshToken" LIKE $1`,
		"enc:v1:"+ring.CurrentKeyID()+":%"))
}

// TestAPITokenCommands makes, lists and revokes a tenant token with the
// starter.
func TestAPITokenCommands(t *testing.T) {
	e := newEnv(t, nil)
	tenant := "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
	out, errOut, code := e.runStarter(nil, "api-token", "create", "--tenant", tenant, "--name", "product UI")
	require.Equal(t, 0, code, errOut)
	token := strings.TrimSpace(out)
	require.True(t, strings.HasPrefix(token, auth.TokenPrefix), out)
	assert.NotContains(t, dumpAll(t, e), strings.TrimPrefix(token, auth.TokenPrefix), "only the hash is stored")

	r, err := auth.NewResolver("operator-token-0123456789", e.store)
	require.NoError(t, err)
	p, err := r.Resolve(context.Background(), token)
	require.NoError(t, err)
	assert.Equal(t, auth.Principal{TenantID: tenant, TokenID: p.TokenID}, p)

	out, errOut, code = e.runStarter(nil, "api-token", "list", "--tenant", tenant)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, p.TokenID)
	assert.Contains(t, out, "product UI")
	assert.NotContains(t, out, token)

	for _, bad := range [][]string{
		{"api-token", "create", "--tenant", "acme"},
		{"api-token", "revoke", "not-an-id"},
		{"api-token", "revoke", "7d0a7f0e-0000-4000-8000-000000000000"},
	} {
		_, errOut, code = e.runStarter(nil, bad...)
		assert.Equal(t, 2, code, "%v: %s", bad, errOut)
	}

	out, errOut, code = e.runStarter(nil, "api-token", "revoke", p.TokenID)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, p.TokenID+"\n", out)
	_, err = r.Resolve(context.Background(), token)
	assert.ErrorIs(t, err, auth.ErrInvalidToken)
}

// dumpAll is the database's user tables as text, as a dump would show them.
func dumpAll(t *testing.T, e *env) string {
	t.Helper()
	var b strings.Builder
	for _, table := range e.strings(`SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'`) {
		for _, row := range e.strings(`SELECT t::text FROM ` + table + ` t`) {
			b.WriteString(row)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
