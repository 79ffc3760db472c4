package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/internal/auth"
	"github.com/crowdflow/crowdflow/store"
)

// tenantWorld is one tenant's integration and run.
type tenantWorld struct {
	tenant, integration, run string
}

func newTenantWorld(t *testing.T, st *store.Store) tenantWorld {
	t.Helper()
	ctx := context.Background()
	w := tenantWorld{tenant: uuid.NewString(), run: uuid.NewString()}
	var err error
	w.integration, err = st.CreateIntegration(ctx, store.NewIntegration{TenantID: w.tenant, Platform: "devto", Status: store.StatusDone, Token: secret})
	require.NoError(t, err)
	require.NoError(t, st.CreateRun(ctx, store.NewRun{ID: w.run, TenantID: w.tenant, IntegrationID: w.integration, WorkflowID: "integration/" + w.integration}))
	return w
}

func tenantToken(t *testing.T, st *store.Store, tenant string) (token, id string) {
	t.Helper()
	token, hash, err := auth.NewToken()
	require.NoError(t, err)
	id, err = st.CreateAPIToken(context.Background(), tenant, "test", hash)
	require.NoError(t, err)
	return token, id
}

// routeRequests is one request per route of the API, on a tenant's ids.
// Every route the API registers must be here (TestTenantTokenSeesOnlyItsTenant
// checks): a new route gets its cross-tenant check by being added.
var routeRequests = map[string]func(w tenantWorld) req{
	"POST " + api.RouteConnect: func(w tenantWorld) req {
		return req{method: "POST", path: "/api/v1/tenants/" + w.tenant + "/integrations", body: `{"platform": "devto", "settings": {"users": ["ben"]}}`}
	},
	"POST " + api.RouteStartRun: func(w tenantWorld) req {
		return req{method: "POST", path: "/api/v1/integrations/" + w.integration + "/runs"}
	},
	"GET " + api.RouteGetIntegration: func(w tenantWorld) req {
		return req{method: "GET", path: "/api/v1/integrations/" + w.integration}
	},
	"GET " + api.RouteGetRun: func(w tenantWorld) req {
		return req{method: "GET", path: "/api/v1/runs/" + w.run}
	},
	"POST " + api.RouteContinueRun: func(w tenantWorld) req {
		return req{method: "POST", path: "/api/v1/runs/" + w.run + "/continue"}
	},
}

// unscoped are the routes that answer about no tenant.
var unscoped = map[string]bool{"GET " + api.RouteHealth: true, "POST /webhooks/github": true}

func TestTenantTokenSeesOnlyItsTenant(t *testing.T) {
	f := newFixture(t)
	mine, theirs := newTenantWorld(t, f.store), newTenantWorld(t, f.store)
	token, _ := tenantToken(t, f.store, mine.tenant)
	as := func(r req, bearer string) response {
		r.header = map[string]string{"Authorization": "Bearer " + bearer}
		return f.do(r)
	}

	var routes []string
	require.NoError(t, chi.Walk(f.handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+route)
		return nil
	}))
	require.NotEmpty(t, routes)
	for _, route := range routes {
		if unscoped[route] {
			continue
		}
		build, ok := routeRequests[route]
		if !assert.True(t, ok, "route %s has no cross-tenant case in routeRequests", route) {
			continue
		}
		t.Run(route, func(t *testing.T) {
			// Another tenant's ids: 404, exactly as an id that does not
			// exist, and nothing written.
			before := f.count(`"integrationRuns"`) + f.count("integrations")
			other := as(build(theirs), token)
			assert.Equal(t, 404, other.status, other.body)
			assert.Equal(t, "not_found", other.errorOf(t)["code"])
			absent := build(tenantWorld{tenant: uuid.NewString(), integration: uuid.NewString(), run: uuid.NewString()})
			gone := as(absent, token)
			assert.Equal(t, 404, gone.status)
			assert.Equal(t, before, f.count(`"integrationRuns"`)+f.count("integrations"))

			// Its own ids: past the scoping (200, or 503 here where
			// there is no Temporal to start runs on).
			own := as(build(mine), token)
			assert.Contains(t, []int{200, 503}, own.status, own.body)
			// The operator sees every tenant.
			op := as(build(theirs), apiToken)
			assert.Contains(t, []int{200, 503}, op.status, op.body)
		})
	}
}

func TestRevokedTenantToken(t *testing.T) {
	f := newFixture(t)
	w := newTenantWorld(t, f.store)
	token, id := tenantToken(t, f.store, w.tenant)
	get := req{method: "GET", path: "/api/v1/integrations/" + w.integration, header: map[string]string{"Authorization": "Bearer " + token}}
	require.Equal(t, 200, f.do(get).status)

	_, err := f.store.RevokeAPIToken(context.Background(), id)
	require.NoError(t, err)
	r := f.do(get)
	assert.Equal(t, 401, r.status)
	assert.Equal(t, "unauthorized", r.errorOf(t)["code"])
	assert.Contains(t, r.header.Get("WWW-Authenticate"), "invalid_token")

	// A token of the right shape that was never issued.
	fake, _, err := auth.NewToken()
	require.NoError(t, err)
	get.header["Authorization"] = "Bearer " + fake
	assert.Equal(t, 401, f.do(get).status)

	// Only the hash is stored.
	var n int
	require.NoError(t, f.store.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM "apiTokens" t WHERE strpos(t::text, $1) > 0`, strings.TrimPrefix(token, auth.TokenPrefix)).Scan(&n))
	assert.Zero(t, n)
}

func TestRateLimitPerToken(t *testing.T) {
	f := newFixture(t, func(o *api.Options) { o.RateLimit, o.RateBurst = 0.5, 3 })
	w := newTenantWorld(t, f.store)
	token, _ := tenantToken(t, f.store, w.tenant)
	get := func(bearer string) response {
		return f.do(req{method: "GET", path: "/api/v1/runs/" + w.run, header: map[string]string{"Authorization": "Bearer " + bearer}})
	}
	for i := 0; i < 3; i++ {
		require.Equal(t, 200, get(token).status, "request %d is within the burst", i+1)
	}
	r := get(token)
	assert.Equal(t, 429, r.status)
	assert.Equal(t, "rate_limited", r.errorOf(t)["code"])
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds: %q", r.header.Get("Retry-After"))
	assert.GreaterOrEqual(t, secs, 1)
	assert.LessOrEqual(t, secs, 2, "one request at 0.5/s is 2 s away")

	// The limit is per token: the operator and another tenant's token are
	// not held back by this one.
	other, _ := tenantToken(t, f.store, w.tenant)
	assert.Equal(t, 200, get(other).status)
	assert.Equal(t, 200, get(apiToken).status)
	// An unauthenticated request is a 401, not a 429.
	assert.Equal(t, 401, get("cft_nope").status)
}
