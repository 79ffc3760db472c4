package devtofake_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations/devto/devtofake"
)

func day(d int) time.Time {
	return time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d)
}

func serve(t *testing.T, w devtofake.World) (*devtofake.Server, *httptest.Server) {
	t.Helper()
	f := devtofake.New(w)
	f.SetThrottle(0) // TestThrottle is about the limit; these are not
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return f, srv
}

// get returns the status, headers and decoded JSON body of a GET.
func get(t *testing.T, srv *httptest.Server, path string) (int, http.Header, any) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(b, &v), "body %s", b)
	assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	return resp.StatusCode, resp.Header, v
}

func ids(t *testing.T, v any) []int {
	t.Helper()
	out := []int{}
	for _, it := range v.([]any) {
		out = append(out, int(it.(map[string]any)["id"].(float64)))
	}
	return out
}

func manyArticles(n int) devtofake.World {
	w := devtofake.World{
		Users:         []devtofake.User{{ID: 1, Username: "ann"}, {ID: 2, Username: "ben"}},
		Organizations: []devtofake.Organization{{Username: "org"}},
	}
	for i := 1; i <= n; i++ {
		a := devtofake.Article{ID: int64(i), Title: fmt.Sprint("Post ", i), UserID: 1, PublishedAt: day(0).Add(time.Duration(i) * time.Minute)}
		if i%2 == 0 {
			a.Organization = "org"
		}
		w.Articles = append(w.Articles, a)
	}
	w.Articles = append(w.Articles, devtofake.Article{ID: 5000, Title: "Ben's", UserID: 2, PublishedAt: day(1)})
	return w
}

func TestPagination(t *testing.T) {
	_, srv := serve(t, manyArticles(1001))

	status, h, v := get(t, srv, "/api/articles?username=ann")
	assert.Equal(t, 200, status)
	assert.Len(t, v, 30, "per_page defaults to 30")
	assert.Equal(t, 1001, ids(t, v)[0], "newest first")
	assert.Empty(t, h.Get("Link"), "no Link header")
	assert.Empty(t, h.Get("X-Total-Count"), "no total")

	_, _, v = get(t, srv, "/api/articles?username=ann&per_page=5000")
	assert.Len(t, v, 1000, "per_page is capped at 1000")
	_, _, v = get(t, srv, "/api/articles?username=ann&per_page=1000&page=2")
	assert.Equal(t, []int{1}, ids(t, v))
	_, _, v = get(t, srv, "/api/articles?username=ann&per_page=1000&page=3")
	assert.Equal(t, []any{}, v, "past the end: an empty array")

	_, _, v = get(t, srv, "/api/articles?username=ann&per_page=2&page=2")
	assert.Equal(t, []int{999, 998}, ids(t, v), "page is 1-based")
	_, _, v = get(t, srv, "/api/articles?username=ann&per_page=x&page=0")
	assert.Len(t, v, 30, "unreadable values fall back to the defaults")
}

func TestArticleLists(t *testing.T) {
	_, srv := serve(t, manyArticles(5))

	_, _, v := get(t, srv, "/api/articles?username=org")
	assert.Equal(t, []int{4, 2}, ids(t, v), "username= takes an organization too")
	_, _, v = get(t, srv, "/api/organizations/org/articles")
	assert.Equal(t, []int{4, 2}, ids(t, v))
	_, _, v = get(t, srv, "/api/articles?username=ann")
	assert.Equal(t, []int{5, 4, 3, 2, 1}, ids(t, v), "a user's list includes their organization posts")
	_, _, v = get(t, srv, "/articles?username=ben")
	assert.Equal(t, []int{5000}, ids(t, v), "served at the root too")
	_, _, v = get(t, srv, "/api/articles?username=nobody")
	assert.Equal(t, []any{}, v, "an unknown name lists nothing")
	_, _, v = get(t, srv, "/api/articles")
	assert.Len(t, v, 6)

	status, _, v := get(t, srv, "/api/organizations/nope/articles")
	assert.Equal(t, 404, status)
	assert.Equal(t, map[string]any{"error": "not found", "status": float64(404)}, v)
	status, _, _ = get(t, srv, "/api/nothing/here")
	assert.Equal(t, 404, status)
}

func TestListAndDetailShapes(t *testing.T) {
	w := manyArticles(2)
	w.Articles[1].Tags = []string{"go", "api"}
	_, srv := serve(t, w)

	_, _, v := get(t, srv, "/api/articles?username=org")
	item := v.([]any)[0].(map[string]any)
	assert.Equal(t, []any{"go", "api"}, item["tag_list"])
	assert.Equal(t, "go, api", item["tags"])
	assert.NotContains(t, item, "body_html")
	assert.Equal(t, "https://dev.to/org/post-2-2", item["url"])
	assert.Equal(t, "org", item["organization"].(map[string]any)["slug"])
	assert.Nil(t, item["cover_image"])
	assert.Contains(t, item, "edited_at")

	_, _, v = get(t, srv, "/api/articles/2")
	detail := v.(map[string]any)
	assert.Equal(t, "go, api", detail["tag_list"])
	assert.Equal(t, []any{"go", "api"}, detail["tags"])
	assert.Contains(t, detail, "body_html")
	assert.Contains(t, detail, "body_markdown")

	status, _, _ := get(t, srv, "/api/articles/77")
	assert.Equal(t, 404, status)
}

func TestCommentsAndUsers(t *testing.T) {
	f, srv := serve(t, devtofake.DemoWorld())

	_, _, v := get(t, srv, "/api/comments?a_id=2600001")
	top := v.([]any)
	require.Len(t, top, 2)
	first := top[0].(map[string]any)
	assert.Equal(t, "3d0a1", first["id_code"])
	assert.Equal(t, "comment", first["type_of"])
	assert.Equal(t, float64(1000102), first["user"].(map[string]any)["user_id"])
	reply := first["children"].([]any)[0].(map[string]any)
	assert.Equal(t, "3d0a2", reply["id_code"])
	assert.Equal(t, "3d0a3", reply["children"].([]any)[0].(map[string]any)["id_code"], "children nest recursively")

	deleted := top[1].(map[string]any)
	assert.Equal(t, "<p>[deleted]</p>", deleted["body_html"])
	assert.Equal(t, map[string]any{}, deleted["user"], "a placeholder has an empty user")
	assert.Len(t, deleted["children"], 1, "its replies stay")

	_, _, v = get(t, srv, "/api/comments/3d0a2")
	assert.Equal(t, "3d0a2", v.(map[string]any)["id_code"])

	status, _, v := get(t, srv, "/api/comments?a_id=1")
	assert.Equal(t, 404, status)
	assert.Equal(t, map[string]any{"error": "not found", "status": float64(404)}, v)

	_, _, v = get(t, srv, "/api/users/1000101")
	u := v.(map[string]any)
	assert.Equal(t, "demo_ada", u["username"])
	assert.Equal(t, "Demo account: writes about Go and Temporal.", u["summary"])
	assert.Equal(t, "Demo City", u["location"])
	assert.Nil(t, u["twitter_username"])
	assert.Equal(t, "user", u["type_of"])

	_, _, v = get(t, srv, "/api/users/by_username?url=demo_grace")
	assert.Equal(t, float64(1000102), v.(map[string]any)["id"])
	for _, p := range []string{"/api/users/1000104", "/api/users/42", "/api/users/demo_ada"} {
		status, _, v = get(t, srv, p)
		assert.Equal(t, 404, status, p)
		assert.Equal(t, map[string]any{"error": "not found", "status": float64(404)}, v, p)
	}
	// The deleted account still shows on its comment (edge-cached tree).
	_, _, v = get(t, srv, "/api/comments?a_id=2600002")
	assert.Equal(t, "demo_gone", v.([]any)[0].(map[string]any)["user"].(map[string]any)["username"])

	assert.Equal(t, 3, f.Requests("/comments"))
	assert.Equal(t, 1, f.Requests("/users/1000101"))
}

func TestMutations(t *testing.T) {
	f, srv := serve(t, devtofake.DemoWorld())
	before, _ := f.LastCommentAt(2600003)
	assert.Equal(t, "2026-03-06T12:00:00Z", before, "no comments: the publish time")
	lca, _ := f.LastCommentAt(2600001)
	assert.Equal(t, "2026-03-04T11:00:00Z", lca, "the newest comment, replies included")

	c := devtofake.Comment{IDCode: "4a0a1", UserID: 1000103, CreatedAt: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), BodyHTML: "<p>new</p>"}
	require.NoError(t, f.AddComment(2600003, "", c))
	after, _ := f.LastCommentAt(2600003)
	assert.Equal(t, "2026-04-01T00:00:00Z", after)
	_, _, v := get(t, srv, "/api/articles?username=demo_grace")
	for _, it := range v.([]any) {
		if m := it.(map[string]any); m["id"] == float64(2600003) {
			assert.Equal(t, "2026-04-01T00:00:00Z", m["last_comment_at"])
			assert.Equal(t, float64(1), m["comments_count"])
		}
	}

	require.NoError(t, f.AddComment(2600003, "4a0a1", devtofake.Comment{IDCode: "4a0a2", UserID: 1000101}))
	_, _, v = get(t, srv, "/api/comments?a_id=2600003")
	assert.Len(t, v.([]any)[0].(map[string]any)["children"], 1)

	assert.Error(t, f.AddComment(1, "", devtofake.Comment{IDCode: "x1", UserID: 1000101}), "unknown article")
	assert.Error(t, f.AddComment(2600003, "nope", devtofake.Comment{IDCode: "x2", UserID: 1000101}), "unknown parent")
	assert.Error(t, f.AddComment(2600003, "", devtofake.Comment{IDCode: "4a0a1", UserID: 1000101}), "id_code taken")
	assert.Error(t, f.AddComment(2600003, "", devtofake.Comment{IDCode: "x3", UserID: 7}), "unknown user")

	require.NoError(t, f.DeleteComment(2600003, "4a0a1"))
	_, _, v = get(t, srv, "/api/comments?a_id=2600003")
	assert.Equal(t, "<p>[deleted]</p>", v.([]any)[0].(map[string]any)["body_html"])

	require.NoError(t, f.SetLastCommentAt(2600002, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
	lca, _ = f.LastCommentAt(2600002)
	assert.Equal(t, "2027-01-01T00:00:00Z", lca)

	assert.Error(t, f.Update(func(w *devtofake.World) { w.Articles[0].UserID = 9 }), "Update reports a broken world")
}

func TestNewRefusesABrokenWorld(t *testing.T) {
	w := devtofake.World{Articles: []devtofake.Article{{ID: 1, UserID: 9}}}
	assert.PanicsWithValue(t, "devtofake: invalid world: article 1: unknown user 9", func() { devtofake.New(w) })
}

func TestSwitches(t *testing.T) {
	f, srv := serve(t, devtofake.DemoWorld())

	f.FailNext(2)
	for range 2 {
		status, _, v := get(t, srv, "/api/users/1000101")
		assert.Equal(t, 500, status)
		assert.Equal(t, float64(500), v.(map[string]any)["status"])
	}
	status, _, _ := get(t, srv, "/api/users/1000101")
	assert.Equal(t, 200, status)

	f.FailNextStatus(1, 401)
	status, _, _ = get(t, srv, "/api/users/1000101")
	assert.Equal(t, 401, status)

	// 429s come as Rack::Attack sends them: plain text, not JSON.
	raw := func(path string) (int, http.Header, string) {
		resp, err := srv.Client().Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header, string(b)
	}
	f.RateLimitAfter(1, 2)
	var got []int
	for range 4 {
		status, h, body := raw("/api/articles")
		got = append(got, status)
		if status == 429 {
			assert.Equal(t, "1", h.Get("Retry-After"))
			assert.Equal(t, devtofake.ThrottledBody, body)
		}
	}
	assert.Equal(t, []int{200, 429, 429, 200}, got)

	f.SetRetryAfter("")
	f.RateLimitAfter(0, 1)
	status, h, body := raw("/api/articles")
	assert.Equal(t, 429, status)
	assert.NotContains(t, h, "Retry-After")
	assert.Equal(t, "text/plain", h.Get("Content-Type"))
	assert.Equal(t, devtofake.ThrottledBody, body)

	assert.Equal(t, 4, f.Requests("/users/1000101"))
	assert.Equal(t, 5, f.Requests("/articles"))
	assert.Equal(t, 9, f.TotalRequests())
	assert.Equal(t, map[string]int{"/users/1000101": 4, "/articles": 5}, f.RequestCounts())
	f.ResetCounts()
	assert.Equal(t, 0, f.TotalRequests())
}

func TestConcurrentUse(t *testing.T) {
	f, srv := serve(t, devtofake.DemoWorld())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				resp, err := srv.Client().Get(srv.URL + "/api/comments?a_id=2600003")
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			}
			_ = f.AddComment(2600003, "", devtofake.Comment{IDCode: fmt.Sprintf("5a0%02d", i), UserID: 1000101})
			_ = f.SetLastCommentAt(2600003, time.Now())
		}()
	}
	wg.Wait()
	assert.Equal(t, 80, f.Requests("/comments"))
}

func TestDemoWorld(t *testing.T) {
	w := devtofake.DemoWorld()
	require.NoError(t, w.Validate())
	for _, a := range w.Articles {
		assert.True(t, strings.HasPrefix(a.Title, "[demo]"), a.Title)
	}
	for _, u := range w.Users {
		assert.True(t, strings.HasPrefix(u.Username, "demo_"), u.Username)
	}
	// DemoWorld returns a fresh copy: changing one does not change the next.
	w.Articles[0].Title = "changed"
	assert.NotEqual(t, "changed", devtofake.DemoWorld().Articles[0].Title)
}

// TestThrottle: Dev.to's limit, 3 requests a second per address in fixed
// one-second windows, answered as Rack::Attack does: 429, Retry-After: 1,
// a plain-text body. Another address has its own count; the next second
// starts afresh.
func TestThrottle(t *testing.T) {
	f := devtofake.New(devtofake.DemoWorld())
	now := time.Date(2026, 5, 1, 12, 0, 0, 100_000_000, time.UTC)
	f.SetClock(func() time.Time { return now })
	call := func(addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/api/articles?username=demo_ada", nil)
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		f.Handler().ServeHTTP(rec, req)
		return rec
	}
	for i := 0; i < devtofake.Throttle; i++ {
		require.Equal(t, http.StatusOK, call("10.0.0.1:1000").Code)
	}
	rec := call("10.0.0.1:1001")
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Equal(t, "text/plain", rec.Header().Get("Content-Type"))
	assert.Equal(t, "Retry later\n", rec.Body.String(), "not the API's JSON error")
	assert.Equal(t, http.StatusOK, call("10.0.0.2:1000").Code, "per address")
	assert.Equal(t, 1, f.Throttled())

	now = now.Add(900 * time.Millisecond) // the next second
	assert.Equal(t, http.StatusOK, call("10.0.0.1:1002").Code)
}

// TestHardDeleteUser: the account and its comments go; the replies to
// them are served as top-level comments.
func TestHardDeleteUser(t *testing.T) {
	w := devtofake.World{
		Users: []devtofake.User{{ID: 1, Username: "ann"}, {ID: 2, Username: "ben"}},
		Articles: []devtofake.Article{{ID: 7, Title: "T", UserID: 1, PublishedAt: day(1),
			Comments: []devtofake.Comment{
				{IDCode: "a", UserID: 1, CreatedAt: day(2), Children: []devtofake.Comment{
					{IDCode: "b", UserID: 2, CreatedAt: day(3), Children: []devtofake.Comment{
						{IDCode: "c", UserID: 1, CreatedAt: day(4)},
					}},
				}},
			}}},
	}
	f, srv := serve(t, w)
	require.NoError(t, f.HardDeleteUser(2))
	status, _, body := get(t, srv, "/api/users/2")
	assert.Equal(t, http.StatusNotFound, status, "%v", body)
	_, _, tree := get(t, srv, "/api/comments?a_id=7")
	var roots []string
	for _, c := range tree.([]any) {
		roots = append(roots, c.(map[string]any)["id_code"].(string))
	}
	assert.Equal(t, []string{"a", "c"}, roots, "c, the reply to ben's b, is a root now")
	assert.Empty(t, tree.([]any)[0].(map[string]any)["children"])
}
