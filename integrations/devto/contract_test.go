package devto

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto/devtofake"
	"github.com/crowdflow/crowdflow/internal/apicontract"
)

// foremSpec loads the Forem v1 spec with the fixes its defects need. Each
// option says why; none hides a shape the fake makes up.
func foremSpec(t *testing.T) *apicontract.Spec {
	return apicontract.LoadSpec(t, "forem.v1.trimmed.json",
		apicontract.SkipStatus(http.StatusTooManyRequests,
			"the spec describes no 429; Dev.to answers one with Retry-After and an error body (api-quirks §2.4.6)"),
		apicontract.PatchSpec("GET /users/{id} is public like the other reads (api-quirks §2.4.1), "+
			"but the spec leaves it under the global api-key requirement", func(doc map[string]any) {
			apicontract.Lookup(doc, "paths", "/users/{id}", "get")["security"] = []any{}
		}),
		apicontract.PatchSpec("GET /users/{id} answers 404 {error, status} for an unknown or deleted user, "+
			"as every other operation of the spec documents; the spec lists 200 only", func(doc map[string]any) {
			apicontract.Lookup(doc, "paths", "/users/{id}", "get", "responses")["404"] = map[string]any{
				"description": "Not Found",
			}
		}),
		apicontract.PatchSpec("GET /comments/{id} takes the comment's id_code, a base-26 string such as "+
			"\"2f0ah\" (Comment.id_code is a string); the spec types the parameter integer while its own "+
			"example is the string \"321\"", func(doc map[string]any) {
			params := apicontract.Lookup(doc, "paths", "/comments/{id}", "get")["parameters"].([]any)
			params[0].(map[string]any)["schema"] = map[string]any{"type": "string"}
		}),
		apicontract.PatchSpec("a tightening, not a relaxation: the 200 schemas of GET /users/{id} and "+
			"GET /organizations/{username} sit under `items` of an object, which checks nothing; point "+
			"them at User and Organization", func(doc map[string]any) {
			for path, schema := range map[string]string{"/users/{id}": "User", "/organizations/{username}": "Organization"} {
				apicontract.Lookup(doc, "paths", path, "get", "responses", "200", "content", "application/json")["schema"] =
					map[string]any{"$ref": "#/components/schemas/" + schema}
			}
		}),
		apicontract.PatchSpec("a tightening too: GET /articles/{id} has the same `items` defect, and its "+
			"detail shape is ArticleIndex with tag_list and tags swapped (api-quirks §2.4.4, the spec's own "+
			"example); check it against that", func(doc map[string]any) {
			schemas := apicontract.Lookup(doc, "components", "schemas")
			var detail map[string]any
			b, _ := json.Marshal(schemas["ArticleIndex"])
			if err := json.Unmarshal(b, &detail); err != nil {
				panic(err)
			}
			props := apicontract.Lookup(detail, "properties")
			props["tag_list"] = map[string]any{"type": "string"}
			props["tags"] = map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
			props["body_html"] = map[string]any{"type": "string"}
			props["body_markdown"] = map[string]any{"type": "string"}
			detail["required"] = append(detail["required"].([]any), "body_html", "body_markdown")
			schemas["ArticleDetail"] = detail
			apicontract.Lookup(doc, "paths", "/articles/{id}", "get", "responses", "200", "content", "application/json")["schema"] =
				map[string]any{"$ref": "#/components/schemas/ArticleDetail"}
		}),
		apicontract.PatchSpec("User and Organization type twitter_username/github_username as plain strings, "+
			"but the API sends null for an account with none linked, as SharedUser (the same fields in "+
			"articles and comments) declares", func(doc map[string]any) {
			for _, schema := range []string{"User", "Organization"} {
				props := apicontract.Lookup(doc, "components", "schemas", schema, "properties")
				for _, f := range []string{"twitter_username", "github_username"} {
					apicontract.Lookup(props, f)["nullable"] = true
				}
			}
		}),
	)
}

// TestContract runs the service's flows, and a request for every other
// route the fake serves, through a recorder, and checks every exchange
// against the API owner's spec.
func TestContract(t *testing.T) {
	spec := foremSpec(t)
	var all []apicontract.Exchange

	t.Run("runs", func(t *testing.T) {
		// Small pages, so that page 2.. and the empty last page are checked.
		f := newFixture(t, testWorld(), 1)
		r1 := runOnce(t, f.svc, followAliceAndAcme, "")
		require.NoError(t, f.fake.AddComment(502, "", devtofake.Comment{IDCode: "e1", UserID: 1002, CreatedAt: at(6, 0), BodyHTML: "<p>x</p>"}))
		runOnce(t, f.svc, string(r1.settings), "")
		runOnce(t, f.svc, `{"users":["alice","nobody"],"organizations":["gone-org"]}`, "")
		all = append(all, f.rec.Exchanges()...)
	})

	t.Run("demo world", func(t *testing.T) {
		f := newFixture(t, devtofake.DemoWorld(), 0)
		r := runOnce(t, f.svc, `{"users":["demo_ada","demo_grace"],"organizations":["crowdflow-demo"]}`, "")
		require.NotEmpty(t, r.activities)
		all = append(all, f.rec.Exchanges()...)
	})

	t.Run("rate limited and gone", func(t *testing.T) {
		f := newFixture(t, testWorld(), 0)
		f.fake.RateLimitAfter(0, 1)
		rc := &integrations.RunContext{Integration: integrations.Integration{Settings: json.RawMessage(followAliceAndAcme)}}
		_, err := f.svc.Preprocess(context.Background(), rc)
		_, limited := integrations.AsRateLimited(err)
		require.True(t, limited)
		_, err = f.svc.ProcessStream(context.Background(), rc, integrations.NewStream("9", streamMeta{ArticleID: 9}))
		require.NoError(t, err, "an article that is gone has no comments")
		all = append(all, f.rec.Exchanges()...)
	})

	t.Run("every other route of the fake", func(t *testing.T) {
		f := newFixture(t, devtofake.DemoWorld(), 0)
		for _, p := range []string{
			"/api/articles",
			"/api/articles?per_page=1000&page=1",
			"/api/articles?username=crowdflow-demo",
			"/api/articles?username=demo_ada&page=99",
			"/api/articles/2600001",
			"/api/articles/1",
			"/api/organizations/crowdflow-demo",
			"/api/organizations/nope",
			"/api/organizations/crowdflow-demo/articles?page=1&per_page=2",
			"/api/organizations/nope/articles",
			"/api/comments?a_id=2600001",
			"/api/comments?a_id=1",
			"/api/comments/3d0a1",
			"/api/comments/3d0a4",
			"/api/comments/nope",
			"/api/users/1000101",
			"/api/users/1000102",
			"/api/users/1000103",
			"/api/users/1000104",
			"/api/users/by_username?url=demo_grace",
			"/articles?username=demo_grace",
		} {
			req, err := http.NewRequest(http.MethodGet, f.srv.URL+p, nil)
			require.NoError(t, err)
			req.Header.Set("Accept", acceptV1)
			resp, err := f.srv.Client().Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		all = append(all, f.rec.Exchanges()...)
	})

	spec.Check(t, all)
}
