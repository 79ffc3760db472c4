package e2e

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/slack"
	"github.com/crowdflow/crowdflow/integrations/slack/slackfake"
	"github.com/crowdflow/crowdflow/internal/quotafake"
	"github.com/crowdflow/crowdflow/store"
)

// TestTwoWorkersShareACredential: two tenants connect the same Slack
// workspace with the same bot token, and two workers (each with its own
// store and Slack service, on one database and task queue) onboard both
// at once, several streams in flight each, against an API that allows the
// token 10 calls a second and refuses beyond. Every call is booked in the
// quota ledger both workers share: with rate-limit headers the API refuses
// nothing; with Retry-After alone, only the first window's calls in flight
// when it filled. Both onboardings are exact.
func TestTwoWorkersShareACredential(t *testing.T) {
	shape := slackBenchShape{Channels: 6, Messages: 8, Threads: 2, Replies: 2, Members: 3, Users: 12}
	world := slackBenchWorld(shape)
	tenants := []string{benchTenant, "5b0c7a2e-4d3f-4e8a-9b1c-2d3e4f5a6b7c"}
	for _, tc := range []struct {
		name        string
		headers     quotafake.HeaderMode
		maxRefusals int
	}{
		{"with rate-limit headers", quotafake.HeadersXRateLimit, 0},
		// Two runs of up to 4 streams in flight each: the first window's
		// refusals, and once more if the first guess was too fast.
		{"with Retry-After only", quotafake.HeadersRetryAfterOnly, 2 * 2 * 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := quotafake.New(slackfake.New(world), quotafake.Options{
				Latency: 50 * time.Millisecond, Limit: 10, Window: time.Second, Headers: tc.headers, Refusal: quotafake.SlackRefusal,
			})
			srv := httptest.NewServer(q)
			t.Cleanup(srv.Close)
			e := newEnv(t, []integrations.Service{slack.New(slack.Options{APIURL: srv.URL + "/"})})
			startSecondWorker(t, e, []integrations.Service{slack.New(slack.Options{APIURL: srv.URL + "/"})})

			var runs []control.Started
			for _, tenant := range tenants {
				started, err := e.ctl.Connect(context.Background(), control.ConnectInput{
					TenantID: tenant, Platform: slack.Platform, Settings: []byte(`{}`), Token: slackBenchToken,
				})
				require.NoError(t, err)
				runs = append(runs, started)
			}
			for _, r := range runs {
				require.Equal(t, store.RunProcessed, waitLong(t, e, r), r.WorkflowID)
			}
			for _, tenant := range tenants {
				assert.Equal(t, shape.activities(), e.count(`SELECT count(*) FROM activities WHERE "tenantId" = $1`, tenant))
				assert.Equal(t, shape.Users, e.count(`SELECT count(*) FROM members WHERE "tenantId" = $1`, tenant))
			}
			c := q.Counts(slackBenchToken)
			t.Logf("%d calls served, %d refused", c.Served, c.Limited)
			assert.LessOrEqual(t, c.Limited, tc.maxRefusals, "the API's refusals")
			assert.Equal(t, 1, e.count(`SELECT count(*) FROM "quotaLedger" WHERE key LIKE 'slack|%'`), "one budget for the token")
			assert.Zero(t, e.count(`SELECT count(*) FROM "quotaLedger" WHERE key LIKE '%' || $1 || '%'`, slackBenchToken), "no token in the ledger")
		})
	}
}
