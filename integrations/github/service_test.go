package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/github/githubfake"
)

// TestQueriesAgainstSchema checks every query the service sends against
// GitHub's GraphQL schema (the build-time check a generated client would
// give): a field, argument or fragment GitHub does not have fails here.
func TestQueriesAgainstSchema(t *testing.T) {
	schema, err := githubfake.Schema()
	require.NoError(t, err)
	queries := map[string]string{}
	for k, v := range allQueries {
		queries[k] = v
	}
	svc := New(Options{})
	_ = svc
	var b strings.Builder
	b.WriteString("query Probe {\n  " + rateLimitFields + "\n")
	for i, r := range []Repo{{Owner: "a", Name: "b"}, {Owner: "c", Name: "d.e"}} {
		fmt.Fprintf(&b, "  r%d: repository(owner: %q, name: %q) %s\n", i, r.Owner, r.Name, probeFields)
	}
	b.WriteString("}")
	queries["Probe"] = b.String()
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			_, errs := gqlparser.LoadQueryWithRules(schema, q, nil)
			require.Empty(t, errs, "%s is not valid against GitHub's schema", name)
		})
	}
	// And the check can fail: a field GitHub does not have.
	_, errs := gqlparser.LoadQueryWithRules(schema, `query { repository(owner: "a", name: "b") { stars } }`, nil)
	require.NotEmpty(t, errs)
}

func tokenIntegration(settings string) integrations.Integration {
	return integrations.Integration{ID: "i1", Platform: Platform, Settings: json.RawMessage(settings), Token: testToken}
}

const rocketAndFriends = `{"repos":[{"owner":"acme","name":"rocket"},{"owner":"acme","name":"empty"},{"owner":"acme","name":"gone"},{"owner":"other","name":"locked"}]}`

func TestOnboardingReadsEverything(t *testing.T) {
	f := newFixture(t, testWorld(), githubfake.Options{})
	r := runOnce(t, f.svc, tokenIntegration(rocketAndFriends), true, at(20, 0))
	assert.Equal(t, wantOnboarding, countTypes(r.activities))

	// Source ids are unique per type, and never carry a bot or a ghost.
	seen := map[string]bool{}
	for _, a := range r.activities {
		k := a.Type + "|" + a.SourceID
		assert.False(t, seen[k], "duplicate %s", k)
		seen[k] = true
		assert.NotEqual(t, "dependabot[bot]", a.Member.Username)
		assert.NotContains(t, a.Title, "\x00")
		if a.Type != TypePullThreadComment {
			assert.Equal(t, "https://github.com/acme/rocket", a.Channel)
		}
	}

	var st Settings
	require.NoError(t, json.Unmarshal(r.settings, &st))
	var avail, gone []string
	for _, x := range st.Repos {
		avail = append(avail, x.FullName())
		assert.Equal(t, "https://github.com/"+x.FullName(), x.URL)
		assert.NotEmpty(t, x.CreatedAt)
	}
	for _, x := range st.UnavailableRepos {
		gone = append(gone, x.FullName())
	}
	assert.Equal(t, []string{"acme/rocket", "acme/empty"}, avail)
	assert.Equal(t, []string{"acme/gone", "other/locked"}, gone)
	assert.Equal(t, at(20, 0), st.Checkpoints["acme/rocket"])

	// Members: profile, reach and organization from GraphQL.
	var alice *integrations.Member
	for i, a := range r.activities {
		if a.Member.Username == "alice" && a.Type == TypeStar {
			alice = &r.activities[i].Member
		}
	}
	require.NotNil(t, alice)
	assert.Equal(t, "Alice A", alice.DisplayName)
	require.NotNil(t, alice.Reach)
	assert.Equal(t, 120, *alice.Reach)
	assert.Equal(t, []integrations.Organization{{Name: "acme"}}, alice.Organizations)
	assert.Equal(t, true, alice.Attributes[attrIsHireable])
	assert.Equal(t, "https://alice.example", alice.Attributes[attrWebsiteURL])

	stats := f.fake.Stats()
	assert.Equal(t, 1, stats.MaxInFlight, "one credential's requests never overlap")
	t.Logf("onboarding of testWorld: %d streams, %d requests, %d points", r.streams, stats.Requests, stats.Points)
}

func TestCheckAddsOnlyWhatIsNew(t *testing.T) {
	f := newFixture(t, testWorld(), githubfake.Options{})
	it := tokenIntegration(rocketAndFriends)
	r := runOnce(t, f.svc, it, true, at(20, 0))
	it.Settings = r.settings

	// Nothing new: a check reads the first page of each root stream.
	f.fake.ResetStats()
	r2 := runOnce(t, f.svc, it, false, at(21, 0))
	assert.Equal(t, 2*5, r2.streams, "five root streams per available repository, no children")
	assert.Equal(t, 1+10, f.fake.Stats().Requests, "the probe and one page per root stream")
	it.Settings = r2.settings

	// A new star and a new comment on the 150-comment issue.
	f.fake.Update(func(w *githubfake.World) {
		w.Repos[0].Stars = append(w.Repos[0].Stars, githubfake.Star{User: "carol", At: at(21, 5)})
		w.Repos[0].Issues[0].Comments = append(w.Repos[0].Issues[0].Comments, githubfake.Comment{Author: "carol", Body: "late", CreatedAt: at(21, 6)})
	})
	r3 := runOnce(t, f.svc, it, false, at(22, 0))
	// The check reads the first page of each root stream again, with the
	// 10 newest comments of each issue: the new one is among them, so no
	// older page is read. The store's upserts make the items read again add
	// nothing.
	got := countTypes(r3.activities)
	assert.Equal(t, 10+1, got[TypeIssueComment], "the issues' newest comments: %v", got)
	assert.Equal(t, 2*5, r3.streams, "root streams only")

	// More new comments than come with the issue: the check reads back
	// until it reaches what the last run saw.
	it.Settings = r3.settings
	f.fake.Update(func(w *githubfake.World) {
		for i := 0; i < 15; i++ {
			w.Repos[0].Issues[0].Comments = append(w.Repos[0].Issues[0].Comments, githubfake.Comment{Author: "carol", Body: "later", CreatedAt: at(22, 5).Add(time.Duration(i) * time.Minute)})
		}
	})
	r4 := runOnce(t, f.svc, it, false, at(23, 0))
	assert.Equal(t, 15, countBodies(r4.activities, "later"))
	assert.Equal(t, 2*5+1, r4.streams, "root streams and one older page of the issue's comments")
	assert.Contains(t, ids(r3.activities, TypeStar), starSourceID("carol", at(21, 5)))
	assert.Contains(t, bodies(r3.activities, TypeIssueComment), "late")
}

func countBodies(acts []integrations.Activity, body string) int {
	n := 0
	for _, a := range acts {
		if a.Body == body {
			n++
		}
	}
	return n
}

func ids(acts []integrations.Activity, typ string) []string {
	var out []string
	for _, a := range acts {
		if a.Type == typ {
			out = append(out, a.SourceID)
		}
	}
	return out
}

func bodies(acts []integrations.Activity, typ string) []string {
	var out []string
	for _, a := range acts {
		if a.Type == typ {
			out = append(out, a.Body)
		}
	}
	return out
}

func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	meta := integrations.NewStream(streamStargazers, streamMeta{Repo: Repo{Owner: "acme", Name: "rocket", URL: "https://github.com/acme/rocket"}})
	rc := &integrations.RunContext{Integration: tokenIntegration(rocketAndFriends)}

	t.Run("RATE_LIMITED", func(t *testing.T) {
		f := newFixture(t, testWorld(), githubfake.Options{})
		f.fake.RateLimitAfter(0, 30*time.Second)
		_, err := f.svc.ProcessStream(ctx, rc, meta)
		rl, ok := integrations.AsRateLimited(err)
		require.True(t, ok, "%v", err)
		assert.WithinDuration(t, time.Now().Add(31*time.Second), rl.Until, 3*time.Second)
		assert.Contains(t, rl.Reason, "RATE_LIMITED")
		// The client now knows the budget is spent: the next query is not
		// even sent.
		before := f.fake.Stats().Requests
		_, err = f.svc.ProcessStream(ctx, rc, meta)
		_, ok = integrations.AsRateLimited(err)
		require.True(t, ok)
		assert.Equal(t, before, f.fake.Stats().Requests)
	})

	for _, status := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		t.Run(fmt.Sprintf("secondary %d", status), func(t *testing.T) {
			f := newFixture(t, testWorld(), githubfake.Options{})
			f.fake.SecondaryLimitAfter(0, status, 7)
			_, err := f.svc.ProcessStream(ctx, rc, meta)
			rl, ok := integrations.AsRateLimited(err)
			require.True(t, ok, "%v", err)
			assert.WithinDuration(t, time.Now().Add(7*time.Second), rl.Until, 2*time.Second)
			assert.Contains(t, rl.Reason, "secondary rate limit")
			res, err := f.svc.ProcessStream(ctx, rc, meta)
			require.NoError(t, err)
			assert.Len(t, res.Activities, 2)
		})
	}

	t.Run("bad token is permanent", func(t *testing.T) {
		f := newFixture(t, testWorld(), githubfake.Options{})
		bad := &integrations.RunContext{Integration: integrations.Integration{Token: "nope", Settings: json.RawMessage(rocketAndFriends)}}
		_, err := f.svc.ProcessStream(ctx, bad, meta)
		require.Error(t, err)
		assert.True(t, integrations.IsPermanent(err), "%v", err)
	})
}

func TestInvalidQueryFailsAsOnGitHub(t *testing.T) {
	f := newFixture(t, testWorld(), githubfake.Options{})
	var out map[string]any
	err := f.svc.c.query(context.Background(), cred{key: "t", http: f.srv.Client(), token: testToken}, "Bad",
		`query Bad { repository(owner: "acme", name: "rocket") { stargazers(first: 101) { nodes { login } } } }`, nil, &out)
	require.ErrorContains(t, err, "EXCESSIVE_PAGINATION")
	err = f.svc.c.query(context.Background(), cred{key: "t", http: f.srv.Client(), token: testToken}, "Bad",
		`query Bad { repository(owner: "acme", name: "rocket") { stars } }`, nil, &out)
	require.ErrorContains(t, err, "Cannot query field")
}

func TestAppInstallation(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	w := testWorld()
	w.Installations = []githubfake.Installation{{ID: 4242, Repos: []string{"acme/rocket", "acme/empty"}}}
	f := newFixture(t, w, githubfake.Options{AppID: 77, AppKey: &key.PublicKey})
	svc := New(Options{APIURL: f.srv.URL, GraphQLURL: f.srv.URL + "/graphql", App: &App{ID: 77, Key: pemKey}})
	it := integrations.Integration{ID: "i2", Platform: Platform, Identifier: "4242", Settings: json.RawMessage(`{}`)}
	r := runOnce(t, svc, it, true, at(20, 0))
	assert.Equal(t, wantOnboarding, countTypes(r.activities))
	var st Settings
	require.NoError(t, json.Unmarshal(r.settings, &st))
	require.Len(t, st.Repos, 2)
	assert.Equal(t, 1, f.fake.Stats().TokensIssued, "the installation token is kept in memory and reused")

	// A token about to expire (GitHub's live an hour; this fake's 61 s, so
	// ghinstallation, which renews a minute before the end, renews it after
	// a second) is renewed for the next request, never used stale.
	short := newFixture(t, w, githubfake.Options{AppID: 77, AppKey: &key.PublicKey, InstallationTokenTTL: 61 * time.Second})
	svc2 := New(Options{APIURL: short.srv.URL, GraphQLURL: short.srv.URL + "/graphql", App: &App{ID: 77, Key: pemKey}})
	rc := &integrations.RunContext{Onboarding: true, Integration: it}
	_, err = svc2.Preprocess(context.Background(), rc)
	require.NoError(t, err)
	require.Equal(t, 1, short.fake.Stats().TokensIssued)
	time.Sleep(1100 * time.Millisecond)
	_, err = svc2.Preprocess(context.Background(), rc)
	require.NoError(t, err)
	assert.Equal(t, 2, short.fake.Stats().TokensIssued, "renewed before it expired")

	// An installation the app does not have: permanent.
	bad := integrations.Integration{ID: "i3", Platform: Platform, Identifier: "999", Settings: json.RawMessage(`{}`)}
	_, err = svc.Preprocess(context.Background(), &integrations.RunContext{Onboarding: true, Integration: bad})
	require.Error(t, err)
	assert.True(t, integrations.IsPermanent(err), "%v", err)

	// No app configured.
	_, err = New(Options{APIURL: f.srv.URL}).Preprocess(context.Background(), &integrations.RunContext{Integration: it})
	require.ErrorContains(t, err, EnvAppID)
}

func TestValidateSettings(t *testing.T) {
	svc := New(Options{})
	for _, tc := range []struct {
		in, want, field string
	}{
		{in: `{"repos":[{"owner":"acme","name":"rocket"}]}`,
			want: `{"repos":[{"url":"https://github.com/acme/rocket","owner":"acme","name":"rocket"}],"unavailableRepos":[]}`},
		{in: `{"repos":[{"url":"https://github.com/acme/rocket/"},{"owner":"acme","name":"rocket"}]}`,
			want: `{"repos":[{"url":"https://github.com/acme/rocket","owner":"acme","name":"rocket"}],"unavailableRepos":[]}`},
		{in: `{}`, want: `{"repos":[],"unavailableRepos":[]}`},
		{in: `{"repos":["acme/rocket", "https://github.com/acme/empty"]}`,
			want: `{"repos":[{"url":"https://github.com/acme/rocket","owner":"acme","name":"rocket"},{"url":"https://github.com/acme/empty","owner":"acme","name":"empty"}],"unavailableRepos":[]}`},
		{in: `{"repos":["acme"]}`, field: "repos[0]"},
		{in: `{"repos":[{"owner":"acme"}]}`, field: "repos[0]"},
		{in: `{"repos":[{"owner":"-x","name":"y"}]}`, field: "repos[0]"},
		{in: `{"repos":[{"url":"https://gitlab.com/a/b"}]}`, field: "repos[0]"},
		{in: `{"repos":[{"owner":"a","name":"b","stars":1}]}`, field: "repos[0]"},
		{in: `{"repo":[]}`, field: "repo"},
		{in: `[]`, field: "settings"},
	} {
		got, err := svc.ValidateSettings(json.RawMessage(tc.in))
		if tc.field != "" {
			var fe *integrations.FieldError
			require.ErrorAs(t, err, &fe, tc.in)
			assert.Equal(t, tc.field, fe.Field, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.JSONEq(t, tc.want, string(got), tc.in)
	}
}

// TestHTTPErrors: GitHub's refusals, and what each becomes.
func TestHTTPErrors(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	c := &client{now: func() time.Time { return now }}
	reset := now.Add(20 * time.Minute)
	for _, tc := range []struct {
		name      string
		status    int
		headers   map[string]string
		body      string
		until     time.Time // zero: not a rate limit
		permanent bool
	}{
		{"secondary with Retry-After", 403, map[string]string{"Retry-After": "30"}, `{"message":"You have exceeded a secondary rate limit."}`, now.Add(30 * time.Second), false},
		{"429 with Retry-After", 429, map[string]string{"Retry-After": "5"}, `{}`, now.Add(5 * time.Second), false},
		{"primary exhausted", 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(reset.Unix())}, `{"message":"API rate limit exceeded"}`, reset.Add(time.Second), false},
		{"secondary without headers", 403, nil, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes"}`, now.Add(time.Minute), false},
		{"forbidden", 403, nil, `{"message":"Resource not accessible by integration"}`, time.Time{}, false},
		{"bad credentials", 401, nil, `{"message":"Bad credentials"}`, time.Time{}, true},
		{"server error", 502, nil, `<html>bad gateway</html>`, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
			for k, v := range tc.headers {
				resp.Header.Set(k, v)
			}
			err := c.httpError(resp, []byte(tc.body), "graphql Q")
			require.Error(t, err)
			rl, limited := integrations.AsRateLimited(err)
			if tc.until.IsZero() {
				assert.False(t, limited, "%v", err)
			} else {
				require.True(t, limited, "%v", err)
				assert.Equal(t, tc.until, rl.Until)
			}
			assert.Equal(t, tc.permanent, integrations.IsPermanent(err))
		})
	}
}
