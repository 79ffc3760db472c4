package github

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations/github/githubfake"
	"github.com/crowdflow/crowdflow/internal/apicontract"
)

// notInTheRESTSpec are the fake's routes that github.rest.trimmed.json does
// not describe: GraphQL (checked against the GraphQL schema instead, by the
// fake itself and TestQueriesAgainstSchema) and the GitHub App routes the
// trimmed spec leaves out.
var notInTheRESTSpec = []string{"/graphql", "/app/installations/", "/installation/repositories"}

// TestRESTContract checks every REST answer the fake serves, to the
// service and to direct requests for each route, against GitHub's REST
// description.
func TestRESTContract(t *testing.T) {
	spec := apicontract.LoadSpec(t, "github.rest.trimmed.json",
		apicontract.SkipStatus(http.StatusForbidden,
			"the spec does not model the secondary-limit 403 with Retry-After (apispecs README, api-quirks §2.3.5)"),
		apicontract.PatchSpec("GitHub answers 404 (basic-error) for a repository the token cannot see "+
			"(api-quirks §2.3.5); the stargazers operation lists 200 and 422 only", func(doc map[string]any) {
			apicontract.Lookup(doc, "paths", "/repos/{owner}/{repo}/stargazers", "get", "responses")["404"] =
				map[string]any{"$ref": "#/components/responses/not_found"}
		}),
		apicontract.PatchSpec("GitHub's own Link next URLs name the repository by id, /repositories/{id}/stargazers "+
			"(api-quirks §2.3.1); the spec lists only the /repos/{owner}/{repo} form: check the other against the same operation",
			func(doc map[string]any) {
				paths := apicontract.Lookup(doc, "paths")
				b, _ := json.Marshal(paths["/repos/{owner}/{repo}/stargazers"])
				var alias map[string]any
				if err := json.Unmarshal(b, &alias); err != nil {
					panic(err)
				}
				get := apicontract.Lookup(alias, "get")
				get["operationId"] = "activity/list-stargazers-for-repo-by-id"
				get["parameters"] = []any{
					map[string]any{"name": "repository_id", "in": "path", "required": true, "schema": map[string]any{"type": "integer"}},
					map[string]any{"$ref": "#/components/parameters/per-page"},
					map[string]any{"$ref": "#/components/parameters/page"},
				}
				paths["/repositories/{repository_id}/stargazers"] = alias
			}))
	f := newFixture(t, testWorld(), githubfake.Options{})
	runOnce(t, f.svc, tokenIntegration(rocketAndFriends), true, at(20, 0))
	f.fake.SecondaryLimitAfter(0, http.StatusForbidden, 1)
	for _, p := range []struct{ path, accept string }{
		{"/users/gone-for-good", ""},
		{"/repos/acme/rocket/stargazers", ""},
		{"/users/alice", ""},
		{"/users/dependabot[bot]", ""},
		{"/repos/acme/rocket/stargazers?per_page=1", ""},
		{"/repos/acme/rocket/stargazers?per_page=1&page=2", "application/vnd.github.star+json"},
		{"/repositories/500000/stargazers?per_page=2&page=1", "application/vnd.github.star+json"},
		{"/repos/acme/gone/stargazers", ""},
		{"/repos/acme/rocket/stargazers?page=401", ""},
		{"/rate_limit", ""},
	} {
		req, err := http.NewRequest(http.MethodGet, f.srv.URL+p.path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "bearer "+testToken)
		if p.accept != "" {
			req.Header.Set("Accept", p.accept)
		}
		resp, err := f.srv.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	var rest []apicontract.Exchange
	for _, ex := range f.rec.Exchanges() {
		skip := false
		for _, p := range notInTheRESTSpec {
			skip = skip || strings.HasPrefix(ex.Request.URL.Path, p)
		}
		if !skip {
			rest = append(rest, ex)
		}
	}
	require.GreaterOrEqual(t, len(rest), 9)
	spec.Check(t, rest)
}
