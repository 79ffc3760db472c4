package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/github/githubfake"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/internal/quota/quotatest"
)

// In an activity every query is booked in the quota ledger on the
// token's graphql budget; the answer's budget is fed back from the
// headers, or from the rateLimit object when the headers are missing; a
// spent budget is a RateLimitedError with no request made.
func TestCallsAreBookedInTheLedger(t *testing.T) {
	meta := integrations.NewStream(streamStargazers, streamMeta{Repo: Repo{Owner: "acme", Name: "rocket", URL: "https://github.com/acme/rocket"}})
	rc := &integrations.RunContext{Integration: tokenIntegration(rocketAndFriends)}

	for _, tc := range []struct {
		name    string
		headers bool
	}{{"rate-limit headers", true}, {"the rateLimit object alone", false}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testWorld(), githubfake.Options{})
			svc := f.svc
			if !tc.headers {
				strip := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rec := httptest.NewRecorder()
					f.fake.Handler().ServeHTTP(rec, r)
					for k, v := range rec.Header() {
						if !strings.HasPrefix(strings.ToLower(k), "x-ratelimit") {
							w.Header()[k] = v
						}
					}
					w.WriteHeader(rec.Code)
					_, _ = w.Write(rec.Body.Bytes())
				}))
				t.Cleanup(strip.Close)
				svc = New(Options{APIURL: strip.URL, GraphQLURL: strip.URL + "/graphql"})
			}
			open := &quotatest.Open{}
			_, err := svc.ProcessStream(quota.WithLedger(context.Background(), open), rc, meta)
			require.NoError(t, err)
			asks := open.Asks()
			require.NotEmpty(t, asks)
			assert.True(t, strings.HasPrefix(asks[0].Key, "github|"), asks[0].Key)
			assert.True(t, strings.HasSuffix(asks[0].Key, "|graphql"), asks[0].Key)
			assert.NotContains(t, asks[0].Key, testToken)
			obs := open.Observations()
			require.NotEmpty(t, obs, "the budget was fed back")
			last := obs[len(obs)-1]
			assert.Equal(t, asks[0].Key, last.Key)
			assert.Positive(t, last.Seq, "fed with the query's booking")
			assert.Positive(t, last.Remaining)
			assert.False(t, last.Reset.IsZero())
		})
	}

	t.Run("spent", func(t *testing.T) {
		f := newFixture(t, testWorld(), githubfake.Options{})
		until := time.Now().Add(time.Hour)
		_, err := f.svc.ProcessStream(quota.WithLedger(context.Background(), &quotatest.Spent{Until: until}), rc, meta)
		rl, ok := integrations.AsRateLimited(err)
		require.True(t, ok, "%v", err)
		assert.WithinDuration(t, until, rl.Until, time.Millisecond)
		assert.Empty(t, rl.Bucket, "the whole credential waits")
		assert.Zero(t, f.fake.Stats().Requests, "nothing reached GitHub")
	})

	t.Run("an installation's budget is the installation's", func(t *testing.T) {
		in := &installations{app: &App{ID: 77, Key: testAppKey(t)}, apiURL: "http://127.0.0.1:1"}
		c, err := in.client(4242)
		require.NoError(t, err)
		tr, ok := c.Transport.(*quota.Transport)
		require.True(t, ok, "booked above ghinstallation")
		assert.Equal(t, "installation:4242", tr.Identity)
	})
}

// testAppKey is a GitHub App private key (PEM).
func testAppKey(t *testing.T) []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}
