package discord_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/discord"
	"github.com/crowdflow/crowdflow/internal/safehttp/safehttptest"
)

// The bot token never follows a redirect to another server.
func TestTokenDoesNotFollowRedirects(t *testing.T) {
	trap := safehttptest.NewTrap(t, http.StatusFound, `[]`)
	svc := discord.New(discord.Options{APIURL: trap.URL})
	_, _ = svc.Preprocess(context.Background(), &integrations.RunContext{Integration: integrations.Integration{
		Token: "discord-secret-token", Identifier: "1234567890"}})
	// The client pins every request to the API base (rewriteTransport), so a
	// redirect elsewhere is not reached at all; CheckRedirect is the second guard.
	trap.AssertNoSecret(t, "discord-secret-token", false)
}
