package slack_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/slack"
	"github.com/crowdflow/crowdflow/internal/safehttp/safehttptest"
)

// The bot token never follows a redirect to another server. slack-go sends
// it in the form body, which a 307 would resend.
func TestTokenDoesNotFollowRedirects(t *testing.T) {
	trap := safehttptest.NewTrap(t, http.StatusTemporaryRedirect, `{"ok":true,"channels":[],"response_metadata":{"next_cursor":""}}`)
	svc := slack.New(slack.Options{APIURL: trap.URL})
	_, _ = svc.Preprocess(context.Background(), &integrations.RunContext{Integration: integrations.Integration{Token: "xoxb-slack-secret"}})
	trap.AssertNoSecret(t, "xoxb-slack-secret", false)
}
