package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/crowdflow/crowdflow/api"
)

// TestUIMountSkipsTheBearerCheckThereOnly: with Options.UI the UI's paths
// reach it without a bearer token (it has its own sign-in) and / leads to
// it; without a UI those paths are ordinary unknown routes behind the
// token, and the API's own routes want the token either way.
func TestUIMountSkipsTheBearerCheckThereOnly(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	with := newFixture(t, func(o *api.Options) { o.UI = ui })
	assert.Equal(t, http.StatusTeapot, with.do(req{method: "GET", path: "/ui/integrations", noAuth: true}).status)
	assert.Equal(t, http.StatusTeapot, with.do(req{method: "POST", path: "/ui/signin", noAuth: true}).status)
	root := with.do(req{method: "GET", path: "/", noAuth: true})
	assert.Equal(t, http.StatusSeeOther, root.status)
	assert.Equal(t, "/ui/", root.header.Get("Location"))
	assert.Equal(t, http.StatusUnauthorized, with.do(req{method: "GET", path: "/api/v1/runs/x", noAuth: true}).status)
	assert.Equal(t, http.StatusUnauthorized, with.do(req{method: "GET", path: "/uix", noAuth: true}).status, "a prefix is not the UI")

	without := newFixture(t)
	assert.Equal(t, http.StatusUnauthorized, without.do(req{method: "GET", path: "/ui/integrations", noAuth: true}).status)
	assert.Equal(t, http.StatusUnauthorized, without.do(req{method: "GET", path: "/", noAuth: true}).status)
}
