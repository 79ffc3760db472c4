package twitterfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations/twitter/twitterfake"
)

var now = time.Date(2026, time.March, 10, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	fake  *twitterfake.Server
	srv   *httptest.Server
	clock *clock
}

const appToken = "app-token"

func newFixture(t *testing.T, w twitterfake.World, sw twitterfake.Switches) *fixture {
	t.Helper()
	c := &clock{t: now}
	sw.Now = c.Now
	sw.AppTokens = append(sw.AppTokens, appToken)
	f := twitterfake.New(w, sw)
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return &fixture{fake: f, srv: srv, clock: c}
}

// get returns the status, headers and decoded body of a GET with token.
func (f *fixture) get(t *testing.T, token, path string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(b, &v), "body %s", b)
	return resp.StatusCode, resp.Header, v
}

func (f *fixture) refresh(t *testing.T, refreshToken string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {"cid"}}
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/2/oauth2/token", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("cid", "secret")
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var v map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return resp.StatusCode, v
}

func world() twitterfake.World {
	w := twitterfake.DemoWorld(now)
	w.Users = append(w.Users,
		twitterfake.User{ID: "1590000000000000014", Username: "demo_gone_x", Name: "Gone", Suspended: true},
		twitterfake.User{ID: "1590000000000000015", Username: "demo_locked_x", Name: "Locked", Protected: true},
	)
	w.Posts = append(w.Posts, twitterfake.Post{ID: "1590000000000000099", AuthorID: "1590000000000000011",
		CreatedAt: now.Add(-8 * 24 * time.Hour), Text: "Old news #crowdflowdemo @crowdflow_demo"})
	return w
}

func dataIDs(v map[string]any) []string {
	var out []string
	data, _ := v["data"].([]any)
	for _, d := range data {
		out = append(out, d.(map[string]any)["id"].(string))
	}
	return out
}

func TestFieldsAreOptIn(t *testing.T) {
	f := newFixture(t, world(), twitterfake.Switches{})
	_, _, bare := f.get(t, appToken, "/2/users/"+twitterfake.DemoProfileID+"/followers")
	first := bare["data"].([]any)[0].(map[string]any)
	assert.ElementsMatch(t, []string{"id", "name", "username"}, keys(first), "defaults only")

	_, _, rich := f.get(t, appToken, "/2/users/"+twitterfake.DemoProfileID+"/followers?user.fields=public_metrics,description,location")
	first = rich["data"].([]any)[0].(map[string]any)
	assert.Contains(t, keys(first), "public_metrics")
	assert.NotContains(t, keys(first), "profile_image_url", "not asked for")

	_, _, posts := f.get(t, appToken, "/2/users/"+twitterfake.DemoProfileID+"/mentions")
	p := posts["data"].([]any)[0].(map[string]any)
	assert.ElementsMatch(t, []string{"id", "text", "edit_history_tweet_ids"}, keys(p))
	assert.Nil(t, posts["includes"])

	_, _, full := f.get(t, appToken, "/2/users/"+twitterfake.DemoProfileID+
		"/mentions?tweet.fields=created_at,entities,attachments,author_id&expansions=author_id,attachments.media_keys&media.fields=url")
	p = full["data"].([]any)[1].(map[string]any)
	assert.Equal(t, "1590000000000000101", p["id"])
	assert.Equal(t, "2026-03-08T10:00:00.000Z", p["created_at"], "ISO-8601 with milliseconds")
	ents := p["entities"].(map[string]any)
	assert.Equal(t, "crowdflowdemo", ents["hashtags"].([]any)[0].(map[string]any)["tag"])
	assert.Equal(t, twitterfake.DemoProfileID, ents["mentions"].([]any)[0].(map[string]any)["id"])
	inc := full["includes"].(map[string]any)
	assert.Len(t, inc["users"], 2)
	assert.Equal(t, "https://example.com/demo-photo.png", inc["media"].([]any)[0].(map[string]any)["url"])

	status, _, bad := f.get(t, appToken, "/2/users/"+twitterfake.DemoProfileID+"/followers?user.fields=nope")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "https://api.twitter.com/2/problems/invalid-request", bad["type"])
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPagination(t *testing.T) {
	f := newFixture(t, world(), twitterfake.Switches{})
	base := "/2/users/" + twitterfake.DemoProfileID + "/followers?max_results=2"
	_, _, p1 := f.get(t, appToken, base)
	assert.Equal(t, []string{"1590000000000000013", "1590000000000000012"}, dataIDs(p1), "most recent follower first")
	next := p1["meta"].(map[string]any)["next_token"].(string)
	assert.GreaterOrEqual(t, len(next), 16)
	_, _, p2 := f.get(t, appToken, base+"&pagination_token="+next)
	assert.Equal(t, []string{"1590000000000000011"}, dataIDs(p2))
	assert.NotContains(t, p2["meta"], "next_token", "last page")

	_, _, none := f.get(t, appToken, "/2/users/1590000000000000013/followers")
	assert.Equal(t, map[string]any{"meta": map[string]any{"result_count": float64(0)}}, none, "empty: no data key")

	for _, bad := range []string{"?max_results=0", "?max_results=1001", "?pagination_token=garbage-garbage-garbage"} {
		status, _, _ := f.get(t, appToken, "/2/users/"+twitterfake.DemoProfileID+"/followers"+bad)
		assert.Equal(t, http.StatusBadRequest, status, bad)
	}
	status, _, _ := f.get(t, appToken, "/2/tweets/search/recent?query=%23x&max_results=9")
	assert.Equal(t, http.StatusBadRequest, status, "search takes 10 to 100")
	status, _, _ = f.get(t, appToken, "/2/users/"+twitterfake.DemoProfileID+"/mentions?max_results=4")
	assert.Equal(t, http.StatusBadRequest, status, "mentions take 5 to 100")
}

func TestSearchCoversSevenDays(t *testing.T) {
	f := newFixture(t, world(), twitterfake.Switches{})
	_, _, v := f.get(t, appToken, "/2/tweets/search/recent?query=%23crowdflowdemo&max_results=10")
	assert.Equal(t, []string{"1590000000000000103", "1590000000000000101"}, dataIDs(v), "case-insensitive tag; the 8-day-old post is out")
	_, _, m := f.get(t, appToken, "/2/users/"+twitterfake.DemoProfileID+"/mentions")
	assert.Contains(t, dataIDs(m), "1590000000000000099", "the mentions timeline has no 7-day window")
	f.clock.Add(6 * 24 * time.Hour)
	_, _, v = f.get(t, appToken, "/2/tweets/search/recent?query=%23crowdflowdemo")
	assert.Equal(t, []string{"1590000000000000103"}, dataIDs(v))
}

func TestPartialErrors(t *testing.T) {
	f := newFixture(t, world(), twitterfake.Switches{})
	status, _, v := f.get(t, appToken, "/2/users/by?usernames=demo_ada_x,nobody_here,demo_gone_x,demo_locked_x&user.fields=public_metrics")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{"1590000000000000011"}, dataIDs(v))
	errs := v["errors"].([]any)
	require.Len(t, errs, 3)
	assert.Equal(t, "https://api.twitter.com/2/problems/resource-not-found", errs[0].(map[string]any)["type"])
	assert.Equal(t, "https://api.twitter.com/2/problems/not-authorized-for-resource", errs[2].(map[string]any)["type"])

	status, _, v = f.get(t, appToken, "/2/users/by?usernames=nobody_here")
	assert.Equal(t, http.StatusOK, status)
	assert.NotContains(t, v, "data")
	status, _, v = f.get(t, appToken, "/2/users/1234/followers")
	assert.Equal(t, http.StatusOK, status, "an unknown user's followers: 200 with errors only")
	assert.NotContains(t, v, "data")
	assert.NotContains(t, v, "meta")

	f.fake.PartialErrorNext(1)
	status, _, v = f.get(t, appToken, "/2/users/"+twitterfake.DemoProfileID+"/mentions")
	assert.Equal(t, http.StatusOK, status)
	assert.NotContains(t, v, "data")
	assert.NotEmpty(t, v["errors"])
}

func TestRateLimits(t *testing.T) {
	f := newFixture(t, world(), twitterfake.Switches{Limits: map[string]int{twitterfake.RouteFollowers: 2}, RateWindow: time.Minute})
	path := "/2/users/" + twitterfake.DemoProfileID + "/followers"
	status, h, _ := f.get(t, appToken, path)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "2", h.Get("x-rate-limit-limit"))
	assert.Equal(t, "1", h.Get("x-rate-limit-remaining"))
	assert.Equal(t, strconv.FormatInt(now.Add(time.Minute).Unix(), 10), h.Get("x-rate-limit-reset"), "epoch seconds")
	f.get(t, appToken, path)
	status, h, v := f.get(t, appToken, path)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, "0", h.Get("x-rate-limit-remaining"))
	assert.Equal(t, float64(88), v["errors"].([]any)[0].(map[string]any)["code"])
	f.clock.Add(time.Minute)
	status, _, _ = f.get(t, appToken, path)
	assert.Equal(t, http.StatusOK, status, "a new window")

	for form, want := range map[string]string{twitterfake.FormProblem: "about:blank", twitterfake.FormUsageCapped: "https://api.twitter.com/2/problems/usage-capped"} {
		f.fake.RateLimitNext(1, form, 5*time.Second)
		status, h, v := f.get(t, appToken, "/2/tweets/search/recent?query=x")
		assert.Equal(t, http.StatusTooManyRequests, status, form)
		assert.Equal(t, want, v["type"], form)
		assert.Equal(t, strconv.FormatInt(f.clock.Now().Add(5*time.Second).Unix(), 10), h.Get("x-rate-limit-reset"))
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t, world(), twitterfake.Switches{ClientID: "cid", ClientSecret: "secret"})
	path := "/2/users/" + twitterfake.DemoProfileID + "/followers"
	access, refresh := f.fake.IssuePair()
	status, _, _ := f.get(t, access, path)
	assert.Equal(t, http.StatusOK, status)
	status, _, v := f.get(t, "wrong", path)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "Unauthorized", v["title"])

	status, pair := f.refresh(t, refresh)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, float64(7200), pair["expires_in"])
	assert.NotEqual(t, refresh, pair["refresh_token"])
	status, again := f.refresh(t, refresh)
	assert.Equal(t, http.StatusBadRequest, status, "refresh tokens are single-use")
	assert.Equal(t, "invalid_grant", again["error"])
	assert.True(t, f.fake.ValidPair(pair["access_token"].(string), pair["refresh_token"].(string)))
	assert.Equal(t, 1, f.fake.LiveRefreshTokens())

	f.clock.Add(2*time.Hour + time.Second)
	status, _, _ = f.get(t, pair["access_token"].(string), path)
	assert.Equal(t, http.StatusUnauthorized, status, "access tokens expire")
	status, _, _ = f.get(t, appToken, path)
	assert.Equal(t, http.StatusOK, status, "app tokens do not")

	f.fake.LoseNextTokenResponse(1)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pair["refresh_token"].(string)}}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/2/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("cid", "secret")
	_, err := f.srv.Client().Do(req)
	require.Error(t, err, "the answer is lost")
	status, _ = f.refresh(t, pair["refresh_token"].(string))
	assert.Equal(t, http.StatusBadRequest, status, "but the pair was rotated")
	assert.Equal(t, 2, f.fake.Refreshes())
}
