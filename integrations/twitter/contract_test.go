package twitter

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/twitter/twitterfake"
	"github.com/crowdflow/crowdflow/internal/apicontract"
)

// xSpec loads the X spec with the relaxations the fake's answers need,
// each with its reason.
func xSpec(t *testing.T) *apicontract.Spec {
	return apicontract.LoadSpec(t, "x.latest.trimmed.json",
		apicontract.SkipStatus(http.StatusTooManyRequests, "the spec describes no 429 body nor the rate-limit headers (apispecs README)"),
		apicontract.PatchSpec("the trimmed spec leaves out GET /2/users/by (users by usernames), which answers the same "+
			"shape as GET /2/users; add it with its usernames parameter as X's reference gives it", func(doc map[string]any) {
			paths := apicontract.Lookup(doc, "paths")
			b, _ := json.Marshal(paths["/2/users"])
			var op map[string]any
			if err := json.Unmarshal(b, &op); err != nil {
				panic(err)
			}
			get := apicontract.Lookup(op, "get")
			params := get["parameters"].([]any)
			params[0] = map[string]any{"name": "usernames", "in": "query", "required": true, "style": "form", "explode": false,
				"schema": map[string]any{"type": "array", "minItems": 1, "maxItems": 100,
					"items": map[string]any{"type": "string", "pattern": "^[A-Za-z0-9_]{1,15}$"}}}
			get["operationId"] = "findUsersByUsername"
			paths["/2/users/by"] = op
		}),
	)
}

// TestContract runs the service's flows, and a request for the other
// answers the fake gives, through a recorder, and checks every exchange
// against X's spec. The token endpoint is left out: the spec names it only
// as the OAuth flow's tokenUrl and describes no operation for it.
func TestContract(t *testing.T) {
	spec := xSpec(t)
	w := world()
	w.Users = append(w.Users,
		twitterfake.User{ID: "1590000000000000014", Username: "demo_gone_x", Name: "Gone", Suspended: true},
		twitterfake.User{ID: "1590000000000000015", Username: "demo_locked_x", Name: "Locked", Protected: true},
	)
	f := newFixture(t, w, twitterfake.Switches{})
	rc := f.connect(t, `{"hashtags":["crowdflowdemo","nothing_here"]}`, true)
	ctx := context.Background()
	f.drain(t, rc)

	counts, err := f.svc.Client().FollowerCounts(ctx, rc, []string{"demo_ada_x", "nobody_here", "demo_gone_x", "demo_locked_x"})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"demo_ada_x": 1200}, counts.Followers)
	_, err = f.svc.Client().FollowerCounts(ctx, rc, []string{"nobody_here"})
	require.NoError(t, err)

	f.fake.PartialErrorNext(1)
	_, err = f.svc.ProcessStream(ctx, rc, integrations.NewStream(streamMentions, nil))
	require.Error(t, err)
	f.fake.RateLimitNext(1, twitterfake.FormProblem, time.Second)
	_, err = f.svc.ProcessStream(ctx, rc, integrations.NewStream(streamMentions, nil))
	require.Error(t, err)
	for _, id := range []string{"1234", "1590000000000000014", "1590000000000000013"} {
		rc.Integration.Identifier = id
		_, _ = f.svc.ProcessStream(ctx, rc, integrations.NewStream(streamFollowers, nil))
	}
	for _, p := range []string{
		"/2/users/" + twitterfake.DemoProfileID + "/followers?max_results=1",
		"/2/users/" + twitterfake.DemoProfileID + "/mentions?max_results=5",
	} {
		req, err := http.NewRequest(http.MethodGet, f.srv.URL+p, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+rc.Integration.Token)
		resp, err := f.srv.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	var data []apicontract.Exchange
	for _, e := range f.rec.Exchanges() {
		if e.Request.URL.Path != "/2/oauth2/token" {
			data = append(data, e)
		}
	}
	require.NotEmpty(t, data)
	spec.Check(t, data)
}
