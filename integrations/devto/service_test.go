package devto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto/devtofake"
)

const followAliceAndAcme = `{"users":["alice"],"organizations":["acme"]}`

func TestServiceBasics(t *testing.T) {
	s := New(Options{})
	assert.Equal(t, "devto", s.Platform())
	assert.Equal(t, integrations.Config{Ticks: 20, ParallelStreams: 2}, s.Config())
	assert.Equal(t, 0, s.Config().EffectiveLimit(true))
	assert.Equal(t, DefaultAPIURL, s.c.base)
	assert.Equal(t, "http://x/api", New(Options{BaseURL: "http://x/api/"}).c.base)

	t.Setenv(EnvAPIURL, "http://127.0.0.1:9/api")
	assert.Equal(t, "http://127.0.0.1:9/api", New(FromEnv()).c.base)

	attrs := map[string]integrations.MemberAttribute{}
	for _, a := range s.MemberAttributes() {
		attrs[a.Name] = a
	}
	assert.Equal(t, integrations.MemberAttribute{Name: "url", Label: "URL", Type: "url", Show: true}, attrs["url"])
	assert.Equal(t, "string", attrs["bio"].Type)
	assert.Equal(t, "string", attrs["location"].Type)
	assert.Equal(t, "string", attrs["name"].Type)
	assert.False(t, attrs["sourceId"].Show, "sourceId is hidden")
	assert.Len(t, attrs, 5)
}

func TestHappyPath(t *testing.T) {
	f := newFixture(t, testWorld(), 0)
	r := runOnce(t, f.svc, followAliceAndAcme, "")

	require.Empty(t, r.streamErrs)
	// The org's list comes first, then alice's (newest first); 501 is in
	// both and counted once.
	assert.Equal(t, []int64{501, 502}, articleIDs(r.pipeline.ArticlesFromAPI))
	assert.Equal(t, []string{"501", "502"}, streamNames(r.streams))
	var md streamMeta
	require.NoError(t, r.streams[0].DecodeMetadata(&md))
	assert.Equal(t, streamMeta{ArticleID: 501, URL: "https://dev.to/acme/hello-acme-dx", Title: "Hello Acme"}, md)

	alice := integrations.Member{Username: "alice", SourceID: "1001", DisplayName: "Alice Example",
		Attributes: map[string]any{"url": "https://dev.to/alice", "sourceId": "1001", "name": "Alice Example", "bio": "Writes Go.", "location": "Berlin"}}
	// bob has no name on Dev.to: the API gives his username as the name.
	bob := integrations.Member{Username: "bob", SourceID: "1002", DisplayName: "bob",
		Attributes: map[string]any{"url": "https://dev.to/bob", "sourceId": "1002", "name": "bob"}}
	carol := integrations.Member{Username: "carol", SourceID: "1003", DisplayName: "Carol Gone",
		Attributes: map[string]any{"url": "https://dev.to/carol", "sourceId": "1003", "name": "Carol Gone"}}
	act := func(id, parent string, ts time.Time, m integrations.Member, body string) integrations.Activity {
		return integrations.Activity{
			Type: "comment", SourceID: id, SourceParentID: parent, Timestamp: ts, Member: m, Body: body,
			URL: "https://dev.to/" + m.Username + "/comment/" + id,
			Attributes: map[string]any{"thread": parent != "", "articleUrl": "https://dev.to/acme/hello-acme-dx",
				"articleTitle": "Hello Acme", "userUrl": "https://dev.to/" + m.Username},
			Score: 6, IsContribution: true,
		}
	}
	want := []integrations.Activity{
		act("c1", "", at(2, 10), bob, `<p>Hi <b>there</b></p>`),
		act("c2", "c1", at(2, 11), alice, `<p>Thanks!</p>`),
		act("c3", "c2", at(2, 12), bob, `<p>Sure</p>`),
		// c4 is a deleted placeholder: skipped, its reply kept, under it.
		act("c5", "c4", at(3, 11), alice, `<p>Reply to a deleted one</p>`),
		// c6 is by an account /users/{id} answers 404 for: kept, the
		// member as the tree names them (username, name).
		act("c6", "", at(3, 12), carol, `<p>By a deleted account</p>`),
		act("c7", "c6", at(3, 13), bob, `<p>Reply to it</p>`),
	}
	assert.Equal(t, want, r.activities)

	// Each commenter is fetched once per stream, the deleted one too.
	for _, p := range []string{"/users/1001", "/users/1002", "/users/1003", "/comments"} {
		want := 1
		if p == "/comments" {
			want = 2
		}
		assert.Equal(t, want, f.fake.Requests(p), p)
	}

	assert.JSONEq(t, `{"users":["alice"],"organizations":["acme"],"articles":[
		{"id":501,"lastCommentAt":"2026-05-03T13:00:00Z"},
		{"id":502,"lastCommentAt":"2026-05-04T09:00:00Z"}]}`, string(r.settings))

	for _, ex := range f.rec.Exchanges() {
		assert.Equal(t, acceptV1, ex.Request.Header.Get("Accept"), ex.Request.URL.Path)
		assert.Empty(t, ex.Request.Header.Get("api-key"), "no token, no key")
	}
}

func articleIDs(as []article) []int64 {
	out := []int64{}
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func TestPagination(t *testing.T) {
	w := devtofake.World{
		Users:         []devtofake.User{{ID: 1, Username: "paul"}},
		Organizations: []devtofake.Organization{{Username: "big"}},
	}
	for i := range 9 {
		a := devtofake.Article{ID: int64(100 + i), Title: fmt.Sprint("A", i), UserID: 1, PublishedAt: at(1+i, 0)}
		if i >= 5 { // 105..108 under the org: 4 org articles, all 9 are paul's
			a.Organization = "big"
		}
		w.Articles = append(w.Articles, a)
	}
	f := newFixture(t, w, 3)
	r := runOnce(t, f.svc, `{"users":["paul"],"organizations":["big"]}`, "")

	// org: 3 + 1 + empty page; paul: 3 + 3 + 3 + empty page.
	assert.Equal(t, 3, f.fake.Requests("/organizations/big/articles"))
	assert.Equal(t, 4, f.fake.Requests("/articles"))
	assert.Equal(t, []int64{108, 107, 106, 105, 104, 103, 102, 101, 100}, articleIDs(r.pipeline.ArticlesFromAPI))
	assert.Len(t, r.streams, 9)

	var pages []string
	for _, ex := range f.rec.Exchanges() {
		if ex.Request.URL.Path == "/api/articles" {
			q := ex.Request.URL.Query()
			assert.Equal(t, "paul", q.Get("username"))
			assert.Equal(t, "3", q.Get("per_page"))
			pages = append(pages, q.Get("page"))
		}
	}
	assert.Equal(t, []string{"1", "2", "3", "4"}, pages)
}

func TestChangeDetectionAcrossRuns(t *testing.T) {
	f := newFixture(t, testWorld(), 0)
	r1 := runOnce(t, f.svc, followAliceAndAcme, "")
	require.Len(t, r1.streams, 2)

	// Nothing changed: no article to check, the settings stay.
	f.fake.ResetCounts()
	r2 := runOnce(t, f.svc, string(r1.settings), "")
	assert.Empty(t, r2.streams)
	assert.Equal(t, 0, f.fake.Requests("/comments"))
	assert.JSONEq(t, string(r1.settings), string(r2.settings))

	// A new comment moves last_comment_at: only that article is checked.
	require.NoError(t, f.fake.AddComment(502, "", devtofake.Comment{IDCode: "e1", UserID: 1002, CreatedAt: at(6, 0), BodyHTML: "<p>New</p>"}))
	r3 := runOnce(t, f.svc, string(r2.settings), "")
	assert.Equal(t, []string{"502"}, streamNames(r3.streams))
	assert.Equal(t, []string{"e1"}, sourceIDs(r3.activities))
	assert.Contains(t, string(r3.settings), `{"id":502,"lastCommentAt":"2026-05-06T00:00:00Z"}`)

	// A changed last_comment_at alone is enough; same instant in another
	// format is not a change.
	require.NoError(t, f.fake.SetLastCommentAt(501, at(7, 0)))
	r4 := runOnce(t, f.svc, string(r3.settings), "")
	assert.Equal(t, []string{"501"}, streamNames(r4.streams))
	assert.Len(t, r4.activities, 6, "the same comments again: the sink de-duplicates by sourceId")

	sameInOtherFormat := strings.Replace(string(r4.settings), "2026-05-07T00:00:00Z", "2026-05-07T02:00:00+02:00", 1)
	require.NotEqual(t, string(r4.settings), sameInOtherFormat)
	assert.Empty(t, runOnce(t, f.svc, sameInOtherFormat, "").streams)
}

func TestUnfinishedStreamIsCheckedAgain(t *testing.T) {
	f := newFixture(t, testWorld(), 0)
	ctx := context.Background()
	rc := &integrations.RunContext{Integration: integrations.Integration{Settings: json.RawMessage(followAliceAndAcme)}}
	pd, err := f.svc.Preprocess(ctx, rc)
	require.NoError(t, err)
	rc.PipelineData = pd
	streams, err := f.svc.GetStreams(ctx, rc)
	require.NoError(t, err)
	require.Equal(t, "501", streams[0].Name)

	f.fake.FailNext(1)
	_, err = f.svc.ProcessStream(ctx, rc, streams[0])
	require.Error(t, err)
	_, err = f.svc.ProcessStream(ctx, rc, streams[1])
	require.NoError(t, err)

	settings, err := f.svc.Postprocess(ctx, rc, integrations.RunOutcome{Unfinished: streams[:1]})
	require.NoError(t, err)
	assert.JSONEq(t, `{"users":["alice"],"organizations":["acme"],"articles":[
		{"id":501,"lastCommentAt":null},
		{"id":502,"lastCommentAt":"2026-05-04T09:00:00Z"}]}`, string(settings))

	r2 := runOnce(t, f.svc, string(settings), "")
	assert.Equal(t, []string{"501"}, streamNames(r2.streams))
	assert.Empty(t, r2.streamErrs)
	assert.Len(t, r2.activities, 6)
}

func TestPostprocessKeepsWhatItDoesNotOwn(t *testing.T) {
	f := newFixture(t, testWorld(), 0)
	// 999 is no longer listed: kept as it was. Other keys stay byte for byte.
	r := runOnce(t, f.svc, `{"users":["alice"],"organizations":["acme"],"updateMemberAttributes":true,
		"articles":[{"id":999,"lastCommentAt":"2025-01-01T00:00:00Z"},{"id":502,"lastCommentAt":"2026-05-04T09:00:00Z"}]}`, "")
	assert.Equal(t, []string{"501"}, streamNames(r.streams), "502 is unchanged")
	assert.JSONEq(t, `{"users":["alice"],"organizations":["acme"],"updateMemberAttributes":true,"articles":[
		{"id":501,"lastCommentAt":"2026-05-03T13:00:00Z"},
		{"id":502,"lastCommentAt":"2026-05-04T09:00:00Z"},
		{"id":999,"lastCommentAt":"2025-01-01T00:00:00Z"}]}`, string(r.settings))
}

func TestMissingThingsAreSkipped(t *testing.T) {
	f := newFixture(t, testWorld(), 0)
	// An organization that is gone does not stop the others.
	r := runOnce(t, f.svc, `{"users":["alice","nobody"],"organizations":["gone-org"]}`, "")
	assert.Equal(t, []int64{502, 501}, articleIDs(r.pipeline.ArticlesFromAPI))

	// An article deleted between listing and processing has no comments.
	require.NoError(t, f.fake.Update(func(w *devtofake.World) { w.Articles = w.Articles[1:] }))
	res, err := f.svc.ProcessStream(context.Background(), &integrations.RunContext{},
		integrations.NewStream("501", streamMeta{ArticleID: 501}))
	require.NoError(t, err)
	assert.Empty(t, res.Activities)
}

func TestRateLimited(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"Retry-After longer than the in-place wait", "3", 3 * time.Second},
		{"no Retry-After", "", 30 * time.Second},
		{"unreadable Retry-After", "soon", 30 * time.Second},
		{"HTTP date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testWorld(), 0)
			f.svc.c.now = func() time.Time { return now }
			f.fake.SetRetryAfter(tc.retryAfter)
			f.fake.RateLimitAfter(0, 1)
			rc := &integrations.RunContext{Integration: integrations.Integration{Settings: json.RawMessage(followAliceAndAcme)}}
			_, err := f.svc.Preprocess(context.Background(), rc)
			rl, ok := integrations.AsRateLimited(err)
			require.True(t, ok, "got %v", err)
			assert.Equal(t, now.Add(tc.want), rl.Until)
			assert.Contains(t, rl.Reason, "GET /organizations/acme/articles")
		})
	}

	t.Run("in a stream", func(t *testing.T) {
		f := newFixture(t, testWorld(), 0)
		f.svc.c.now = func() time.Time { return now }
		f.fake.SetRetryAfter("30")
		f.fake.RateLimitAfter(1, 1) // /comments answers, the first /users/{id} is refused
		_, err := f.svc.ProcessStream(context.Background(), &integrations.RunContext{},
			integrations.NewStream("501", streamMeta{ArticleID: 501}))
		rl, ok := integrations.AsRateLimited(err)
		require.True(t, ok, "got %v", err)
		assert.Equal(t, now.Add(30*time.Second), rl.Until)
		assert.Contains(t, rl.Reason, "GET /users/1002")
	})

	// Retry-After: 1 (what the throttle says) is waited out in place: the
	// stream goes on with what it fetched, and only the refused request is
	// sent again.
	t.Run("a short wait is waited out in place", func(t *testing.T) {
		f := newFixture(t, testWorld(), 0)
		f.fake.RateLimitAfter(1, 2) // the first /users/{id} is refused twice
		res, err := f.svc.ProcessStream(context.Background(), &integrations.RunContext{},
			integrations.NewStream("501", streamMeta{ArticleID: 501}))
		require.NoError(t, err)
		assert.Len(t, res.Activities, 6)
		assert.Equal(t, 1, f.fake.Requests("/comments"), "the tree is not fetched again")
		assert.Equal(t, 3, f.fake.Requests("/users/1002"))
	})

	t.Run("in-place retries are bounded", func(t *testing.T) {
		f := newFixture(t, testWorld(), 0)
		f.svc.c.now = func() time.Time { return now }
		f.fake.SetRetryAfter("0")
		f.fake.RateLimitAfter(1, 100)
		_, err := f.svc.ProcessStream(context.Background(), &integrations.RunContext{},
			integrations.NewStream("501", streamMeta{ArticleID: 501}))
		rl, ok := integrations.AsRateLimited(err)
		require.True(t, ok, "got %v", err)
		assert.Equal(t, now, rl.Until)
		assert.Equal(t, 1+maxRetriesInPlace, f.fake.Requests("/users/1002"))
	})
}

func TestHTTPErrors(t *testing.T) {
	const token = "sekrit-token-value"
	tests := []struct {
		status    int
		permanent bool
	}{
		{500, false}, {502, false}, {503, false}, {400, false},
		{401, true}, {403, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			f := newFixture(t, testWorld(), 0)
			f.fake.FailNextStatus(1, tc.status)
			rc := &integrations.RunContext{Integration: integrations.Integration{Settings: json.RawMessage(followAliceAndAcme), Token: token}}
			_, err := f.svc.Preprocess(context.Background(), rc)
			require.Error(t, err)
			_, limited := integrations.AsRateLimited(err)
			assert.False(t, limited)
			assert.Equal(t, tc.permanent, integrations.IsPermanent(err))
			assert.Contains(t, err.Error(), "GET /organizations/acme/articles")
			assert.Contains(t, err.Error(), fmt.Sprint(tc.status))
			assert.NotContains(t, err.Error(), token)

			// The key went out as the api-key header, nowhere else.
			ex := f.rec.Exchanges()
			require.NotEmpty(t, ex)
			assert.Equal(t, token, ex[0].Request.Header.Get("api-key"))
			assert.NotContains(t, ex[0].Request.URL.String(), token)
		})
	}

	t.Run("stream 500 names the call", func(t *testing.T) {
		f := newFixture(t, testWorld(), 0)
		f.fake.FailNext(1)
		_, err := f.svc.ProcessStream(context.Background(), &integrations.RunContext{},
			integrations.NewStream("501", streamMeta{ArticleID: 501}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "GET /comments?a_id=501: 500")
		assert.False(t, integrations.IsPermanent(err))
	})

	t.Run("connection refused", func(t *testing.T) {
		f := newFixture(t, testWorld(), 0)
		f.srv.Close()
		_, err := f.svc.ProcessStream(context.Background(), &integrations.RunContext{},
			integrations.NewStream("501", streamMeta{ArticleID: 501}))
		require.Error(t, err)
		assert.False(t, integrations.IsPermanent(err))
	})

	t.Run("garbage body", func(t *testing.T) {
		srv := newRawServer(t, 200, "not json")
		s := New(Options{BaseURL: srv})
		_, err := s.ProcessStream(context.Background(), &integrations.RunContext{},
			integrations.NewStream("501", streamMeta{ArticleID: 501}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "GET /comments?a_id=501: decoding")
	})
}

func TestBadStreamAndPipeline(t *testing.T) {
	s := New(Options{BaseURL: "http://127.0.0.1:1"})
	_, err := s.ProcessStream(context.Background(), &integrations.RunContext{}, integrations.Stream{Name: "x", Metadata: json.RawMessage(`{}`)})
	assert.True(t, integrations.IsPermanent(err))
	_, err = s.GetStreams(context.Background(), &integrations.RunContext{})
	assert.True(t, integrations.IsPermanent(err))

	keep := json.RawMessage(`{"users":["a"],"articles":[{"id":1,"lastCommentAt":"x"}]}`)
	got, err := s.Postprocess(context.Background(), &integrations.RunContext{Integration: integrations.Integration{Settings: keep}}, integrations.RunOutcome{})
	require.NoError(t, err)
	assert.Equal(t, string(keep), string(got), "no pipeline data: the settings stay")
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"1":    time.Second,
		" 5 ":  5 * time.Second,
		"0":    0,
		"1.5":  1500 * time.Millisecond,
		"":     defaultRetryAfter,
		"-3":   defaultRetryAfter,
		"NaN":  defaultRetryAfter,
		"soon": defaultRetryAfter,
		now.Add(time.Minute).Format(http.TimeFormat):  time.Minute,
		now.Add(-time.Minute).Format(http.TimeFormat): 0,
	}
	for in, want := range tests {
		assert.Equal(t, want, retryAfter(in, now), "%q", in)
	}
}

func TestMemberNameFallback(t *testing.T) {
	m := member(&user{ID: 7, Username: "zed"}, "https://dev.to/zed")
	assert.Equal(t, integrations.Member{Username: "zed", SourceID: "7", DisplayName: "zed",
		Attributes: map[string]any{"url": "https://dev.to/zed", "sourceId": "7"}}, m)
}

func TestValidateSettings(t *testing.T) {
	s := New(Options{})
	ok := []struct {
		in, want string
	}{
		{`{"users":["alice"]}`, `{"users":["alice"],"organizations":[]}`},
		{`{"organizations":["acme"],"users":null}`, `{"users":[],"organizations":["acme"]}`},
		{`{"users":[" Alice ","@alice","https://dev.to/alice/","bob"],"organizations":["acme","ACME"]}`,
			`{"users":["alice","bob"],"organizations":["acme"]}`},
		{`{"users":["alice"],"articles":[{"id":5,"lastCommentAt":"2026-01-01T00:00:00Z"},{"id":6}]}`,
			`{"users":["alice"],"organizations":[],"articles":[{"id":5,"lastCommentAt":"2026-01-01T00:00:00Z"},{"id":6,"lastCommentAt":null}]}`},
	}
	for _, tc := range ok {
		got, err := s.ValidateSettings(json.RawMessage(tc.in))
		if assert.NoError(t, err, tc.in) {
			assert.JSONEq(t, tc.want, string(got), tc.in)
		}
	}

	bad := []struct {
		in, field string
	}{
		{``, "settings"},
		{`[]`, "settings"},
		{`"alice"`, "settings"},
		{`null`, "settings"},
		{`{"users":["a"]} {}`, "settings"},
		{`{}`, "users"},
		{`{"users":[],"organizations":[]}`, "users"},
		{`{"users":"alice"}`, "users"},
		{`{"organizations":{"a":1}}`, "organizations"},
		{`{"users":["alice", ""]}`, "users[1]"},
		{`{"users":["  "]}`, "users[0]"},
		{`{"users":[42]}`, "users[0]"},
		{`{"organizations":["acme/../x"]}`, "organizations[0]"},
		{`{"users":["alice"],"organisations":["acme"]}`, "organisations"},
		{`{"users":["alice"],"articles":"x"}`, "articles"},
		{`{"users":["alice"],"articles":[{"id":0}]}`, "articles[0].id"},
	}
	for _, tc := range bad {
		_, err := s.ValidateSettings(json.RawMessage(tc.in))
		var fe *integrations.FieldError
		if assert.True(t, errors.As(err, &fe), "%s: got %v", tc.in, err) {
			assert.Equal(t, tc.field, fe.Field, tc.in)
			assert.NotEmpty(t, fe.Message)
		}
	}
}

// manyCommenters is an article commented on by n people, each with a
// profile: a stream fetches the tree, then n profiles.
func manyCommenters(n int) devtofake.World {
	w := devtofake.World{Users: []devtofake.User{{ID: 1, Username: "author", JoinedAt: at(1, 0)}}}
	a := devtofake.Article{ID: 900, Title: "Popular", UserID: 1, PublishedAt: at(2, 0)}
	for i := 0; i < n; i++ {
		id := int64(100 + i)
		w.Users = append(w.Users, devtofake.User{ID: id, Username: fmt.Sprintf("reader%d", i), JoinedAt: at(1, 0)})
		a.Comments = append(a.Comments, devtofake.Comment{IDCode: fmt.Sprintf("k%d", i), UserID: id,
			CreatedAt: at(3, i%24), BodyHTML: "<p>nice</p>"})
	}
	w.Articles = []devtofake.Article{a}
	return w
}

// TestThrottle runs a stream of one tree and 11 profiles against the fake
// with Dev.to's throttle (3 requests a second per address): paced, the
// service is never refused; unpaced, it is refused and waits each
// Retry-After: 1 out in place, and either way the stream finishes whole on
// its first attempt. The second case is what failed before: any 429
// failed the whole stream, which then started over and met the throttle
// again.
func TestThrottle(t *testing.T) {
	for _, tc := range []struct {
		name          string
		rps           float64
		wantThrottled bool
	}{
		{"paced at 3 a second", 0, false},
		{"unpaced: 429s waited out in place", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := devtofake.New(manyCommenters(11))
			srv := httptest.NewServer(fake.Handler())
			t.Cleanup(srv.Close)
			svc := New(Options{BaseURL: srv.URL + "/api", RequestsPerSecond: tc.rps})
			res, err := svc.ProcessStream(context.Background(), &integrations.RunContext{},
				integrations.NewStream("900", streamMeta{ArticleID: 900}))
			require.NoError(t, err)
			assert.Len(t, res.Activities, 11)
			assert.Equal(t, 1, fake.Requests("/comments"), "the tree is fetched once")
			assert.Equal(t, tc.wantThrottled, fake.Throttled() > 0, "429s: %d", fake.Throttled())
			t.Logf("%d requests, %d refused by the throttle", fake.TotalRequests(), fake.Throttled())
		})
	}
}

// TestHardDeletedAccount: when an account is deleted with its comments,
// Forem serves the replies to them as top-level comments; they are kept,
// as roots.
func TestHardDeletedAccount(t *testing.T) {
	f := newFixture(t, testWorld(), 0)
	require.NoError(t, f.fake.HardDeleteUser(1002)) // bob wrote c1, c3 and c7
	res, err := f.svc.ProcessStream(context.Background(), &integrations.RunContext{},
		integrations.NewStream("501", streamMeta{ArticleID: 501}))
	require.NoError(t, err)
	got := map[string]string{}
	for _, a := range res.Activities {
		got[a.SourceID] = a.SourceParentID
	}
	assert.Equal(t, map[string]string{"c2": "", "c5": "c4", "c6": ""}, got,
		"c2 (alice's reply to bob's c1) is a root now; bob's comments are gone")
	assert.Zero(t, f.fake.Requests("/users/1002"), "bob is not in the tree any more")
}
