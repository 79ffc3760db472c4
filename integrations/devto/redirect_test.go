package devto_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto"
	"github.com/crowdflow/crowdflow/internal/safehttp/safehttptest"
)

// The api-key never follows a redirect to another server.
func TestAPIKeyDoesNotFollowRedirects(t *testing.T) {
	trap := safehttptest.NewTrap(t, http.StatusFound, `[]`)
	svc := devto.New(devto.Options{BaseURL: trap.URL})
	_, _ = svc.Preprocess(context.Background(), &integrations.RunContext{Integration: integrations.Integration{
		Token: "devto-secret-key", Settings: json.RawMessage(`{"users":["ann"],"organizations":[]}`)}})
	trap.AssertNoSecret(t, "devto-secret-key", true)
}
