package discord_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations/discord/discordfake"
)

// The fake's quirks, seen from the wire. Every exchange here goes through
// the contract check as well.

type wire struct {
	t *testing.T
	e *env
}

func (w wire) get(path, auth string) (int, http.Header, []byte) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.e.srv.URL+path, nil)
	require.NoError(w.t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := w.e.srv.Client().Do(req)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(w.t, err)
	return resp.StatusCode, resp.Header, b
}

// invalid sends a request the spec itself forbids (no credentials, a
// parameter out of range) straight to the fake, past the contract
// recorder: the request is wrong on purpose, the answer is asserted.
func (w wire) invalid(path, auth string) (int, []byte) {
	w.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rr := httptest.NewRecorder()
	w.e.fake.ServeHTTP(rr, req)
	return rr.Code, rr.Body.Bytes()
}

func (w wire) ok(path string, v any) http.Header {
	w.t.Helper()
	status, h, b := w.get(path, "Bot "+testToken)
	require.Equal(w.t, http.StatusOK, status, "%s: %s", path, b)
	require.NoError(w.t, json.Unmarshal(b, v))
	return h
}

type msgJSON struct {
	ID       string
	Content  string
	Mentions []struct{ ID string }
}

func ids(ms []msgJSON) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestFakeAuthorization(t *testing.T) {
	s := smallWorld()
	w := wire{t, newEnv(t, s.w, envOpts{})}
	for _, auth := range []string{"", "Bot wrong", "Bearer " + testToken, testToken} {
		var status int
		var body []byte
		if auth == "" {
			status, body = w.invalid("/api/v10/guilds/"+s.guild+"/channels", auth)
		} else {
			status, _, body = w.get("/api/v10/guilds/"+s.guild+"/channels", auth)
		}
		assert.Equal(t, http.StatusUnauthorized, status, auth)
		assert.JSONEq(t, `{"message": "401: Unauthorized", "code": 0}`, string(body))
	}
}

func TestFakeVersions(t *testing.T) {
	s := smallWorld()
	w := wire{t, newEnv(t, s.w, envOpts{})}
	var v9, v10 []json.RawMessage
	w.ok("/api/v9/guilds/"+s.guild+"/channels", &v9)
	w.ok("/api/v10/guilds/"+s.guild+"/channels", &v10)
	assert.Equal(t, v9, v10)
	assert.Len(t, v10, 6, "channels only: threads are not listed")
}

func TestFakeMessageOrder(t *testing.T) {
	// Ids of different lengths: as strings "10" < "9", as numbers not.
	w0 := discordfake.World{
		Guild:    discordfake.Guild{ID: "5", Name: "g"},
		Users:    []discordfake.User{{ID: "4", Username: "u"}},
		Channels: []discordfake.Channel{{ID: "6", Name: "c", Type: discordfake.ChannelText}},
	}
	for _, id := range []string{"7", "8", "9", "10", "11", "12"} {
		w0.Messages = append(w0.Messages, discordfake.Message{ID: id, ChannelID: "6", AuthorID: "4", Content: "m" + id})
	}
	w := wire{t, newEnv(t, w0, envOpts{})}
	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{"12", "11", "10", "9", "8", "7"}},
		{"?limit=2", []string{"12", "11"}},
		{"?before=10&limit=2", []string{"9", "8"}},
		{"?before=10", []string{"9", "8", "7"}},
		{"?after=9&limit=2", []string{"11", "10"}}, // the batch right after 9, newest first
		{"?after=8", []string{"12", "11", "10", "9"}},
		{"?around=10&limit=3", []string{"11", "10", "9"}},
		{"?before=7", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			var got []msgJSON
			w.ok("/api/v10/channels/6/messages"+tc.query, &got)
			assert.Equal(t, tc.want, ids(got))
		})
	}
	for _, bad := range []string{"?limit=0", "?limit=101", "?before=x"} {
		status, body := w.invalid("/api/v10/channels/6/messages"+bad, "Bot "+testToken)
		assert.Equal(t, http.StatusBadRequest, status, bad)
		assert.Contains(t, string(body), `"code":50035`)
	}
	// Valid for the spec (each parameter is), refused by the API: and
	// so the 400's body is checked against the spec too.
	status, _, body := w.get("/api/v10/channels/6/messages?before=9&after=8", "Bot "+testToken)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, string(body), `"code":50035`)
}

func TestFakeMembers(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{})
	w := wire{t, e}
	type member struct {
		User struct{ ID string }
		Nick *string
	}
	var one, page, rest []member
	w.ok("/api/v10/guilds/"+s.guild+"/members", &one)
	assert.Len(t, one, 1, "limit defaults to 1")
	w.ok("/api/v10/guilds/"+s.guild+"/members?limit=3", &page)
	require.Len(t, page, 3)
	assert.Equal(t, []string{s.alice, s.bob, s.carol}, []string{page[0].User.ID, page[1].User.ID, page[2].User.ID}, "ascending user ids")
	w.ok("/api/v10/guilds/"+s.guild+"/members?limit=1000&after="+page[2].User.ID, &rest)
	assert.Len(t, rest, 3)
	for _, m := range rest {
		assert.Positive(t, cmpSnowflake(m.User.ID, page[2].User.ID))
	}

	e.fake.Update(func(sw *discordfake.Switches) { sw.NoGuildMembersIntent = true })
	status, _, body := w.get("/api/v10/guilds/"+s.guild+"/members?limit=10", "Bot "+testToken)
	assert.Equal(t, http.StatusForbidden, status)
	assert.JSONEq(t, `{"message":"Missing Access","code":50001}`, string(body))
}

func cmpSnowflake(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestFakeThreads(t *testing.T) {
	s := smallWorld()
	w := wire{t, newEnv(t, s.w, envOpts{})}
	var active map[string]json.RawMessage
	w.ok("/api/v10/guilds/"+s.guild+"/threads/active", &active)
	assert.NotContains(t, active, "has_more", "the active listing has no has_more")
	var threads []struct{ ID string }
	require.NoError(t, json.Unmarshal(active["threads"], &threads))
	assert.Len(t, threads, 3, "the two public active threads and the private one")

	var archived struct {
		Threads []struct{ ID string }
		HasMore bool `json:"has_more"`
	}
	w.ok("/api/v10/channels/"+s.general+"/threads/archived/public?limit=2", &archived)
	require.Len(t, archived.Threads, 1)
	assert.Equal(t, s.tArchived, archived.Threads[0].ID)
	assert.False(t, archived.HasMore)
	w.ok("/api/v10/channels/"+s.general+"/threads/archived/public?before="+at(10).Format(time.RFC3339Nano), &archived)
	assert.Empty(t, archived.Threads, "before is exclusive")

	status, _, body := w.get("/api/v10/channels/"+s.secret+"/threads/archived/public", "Bot "+testToken)
	assert.Equal(t, http.StatusForbidden, status)
	assert.JSONEq(t, `{"message":"Missing Access","code":50001}`, string(body))
	status, _, _ = w.get("/api/v10/channels/"+s.voice+"/threads/archived/public", "Bot "+testToken)
	assert.Equal(t, http.StatusBadRequest, status)
	status, _, body = w.get("/api/v10/channels/1234/messages", "Bot "+testToken)
	assert.Equal(t, http.StatusNotFound, status)
	assert.JSONEq(t, `{"message":"Unknown Channel","code":10003}`, string(body))
}

func TestFakeMessageContentIntent(t *testing.T) {
	s := smallWorld()
	// A message mentioning the bot keeps its content without the intent.
	s.w.Messages = append(s.w.Messages, discordfake.Message{ChannelID: s.news, AuthorID: s.bob, Type: discordfake.MessageDefault,
		Timestamp: at(3), Content: "hey <@" + s.bot + "> help"})
	e := newEnv(t, s.w, envOpts{switches: discordfake.Switches{NoMessageContentIntent: true}})
	w := wire{t, e}
	var got []msgJSON
	w.ok("/api/v10/channels/"+s.news+"/messages", &got)
	require.Len(t, got, 2)
	assert.Equal(t, "hey <@"+s.bot+"> help", got[0].Content)
	assert.Empty(t, got[1].Content)
	w.ok("/api/v10/channels/"+s.general+"/messages?limit=100", &got)
	for _, m := range got {
		if m.ID == s.m["g3"] {
			assert.Equal(t, "I am a bot", m.Content, "the bot's own messages keep their content")
		} else {
			assert.Empty(t, m.Content)
		}
	}
	// Mentions still come through.
	for _, m := range got {
		if m.ID == s.m["g1"] {
			assert.Len(t, m.Mentions, 2)
		}
	}
}

func TestFakeRateLimits(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{switches: discordfake.Switches{BucketLimit: 3, BucketWindow: 2500 * time.Millisecond, Now: fixedNow}})
	w := wire{t, e}
	path := "/api/v10/channels/" + s.general + "/messages"
	var msgs []msgJSON
	h := w.ok(path, &msgs)
	assert.Equal(t, "3", h.Get("X-RateLimit-Limit"))
	assert.Equal(t, "2", h.Get("X-RateLimit-Remaining"))
	assert.Equal(t, "2.500", h.Get("X-RateLimit-Reset-After"))
	assert.Equal(t, "1772366402.500", h.Get("X-RateLimit-Reset"))
	assert.NotEmpty(t, h.Get("X-RateLimit-Bucket"))
	assert.Equal(t, "1", w.ok(path, &msgs).Get("X-RateLimit-Remaining"))
	assert.Equal(t, "0", w.ok(path, &msgs).Get("X-RateLimit-Remaining"))
	// The bucket is used up: 429.
	status, h, body := w.get(path, "Bot "+testToken)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.JSONEq(t, `{"message":"You are being rate limited.","retry_after":2.5,"global":false}`, string(body))
	assert.Equal(t, "3", h.Get("Retry-After"), "whole seconds, rounded up")
	assert.Equal(t, "user", h.Get("X-RateLimit-Scope"))
	// Other buckets are not affected.
	w.ok("/api/v10/channels/"+s.news+"/messages", &msgs)

	// Forced 429 after N calls, once.
	e.fake.RateLimitAfter(1, 500*time.Millisecond)
	w.ok("/api/v10/guilds/"+s.guild+"/channels", &[]json.RawMessage{})
	status, h, body = w.get("/api/v10/guilds/"+s.guild+"/channels", "Bot "+testToken)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.JSONEq(t, `{"message":"You are being rate limited.","retry_after":0.5,"global":false}`, string(body))
	assert.Equal(t, "1", h.Get("Retry-After"))
	assert.Equal(t, "0.500", h.Get("X-RateLimit-Reset-After"))
	w.ok("/api/v10/guilds/"+s.guild+"/channels", &[]json.RawMessage{})

	e.fake.GlobalRateLimitAfter(0, 1500*time.Millisecond)
	status, h, body = w.get("/api/v10/guilds/"+s.guild+"/channels", "Bot "+testToken)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.JSONEq(t, `{"message":"You are being rate limited.","retry_after":1.5,"global":true}`, string(body))
	assert.Equal(t, "true", h.Get("X-RateLimit-Global"))
	assert.Equal(t, "global", h.Get("X-RateLimit-Scope"))

	e.fake.FailNext(2)
	for range 2 {
		status, _, _ = w.get("/api/v10/guilds/"+s.guild+"/channels", "Bot "+testToken)
		assert.Equal(t, http.StatusInternalServerError, status)
	}
	w.ok("/api/v10/guilds/"+s.guild+"/channels", &[]json.RawMessage{})
}

func TestFakeDemoWorld(t *testing.T) {
	d := discordfake.DemoWorld()
	e := newEnv(t, d, envOpts{switches: discordfake.Switches{Token: testToken}})
	assert.Equal(t, discordfake.DemoGuildID, d.Guild.ID)
	assert.Contains(t, d.Guild.Name, "fake data")
	out := runAll(t, e.svc, e.run(d.Guild.ID, true, time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC), nil), hooks{})
	var pd struct{ Skipped []struct{ Name string } }
	require.NoError(t, json.Unmarshal(out.pipeline, &pd))
	require.Len(t, pd.Skipped, 1)
	assert.Equal(t, "staff-only", pd.Skipped[0].Name)
	// 6 human joins; general: question, reply, thread starter; the
	// thread: 2; announcements: 1; the forum post: its opening message
	// (thread_started) and a reply.
	assert.Len(t, out.byType("joined_guild"), 6)
	assert.Len(t, out.byType("message"), 7)
	assert.Len(t, out.byType("thread_started"), 1)
	// Restarting the demo serves the same ids.
	assert.Equal(t, d, discordfake.DemoWorld())
}

// TestFakeChannelKinds: the fake answers each kind of channel as the API
// does: a media channel has threads and no messages of its own (400,
// code 50024); voice and stage channels have a text chat and no threads.
func TestFakeChannelKinds(t *testing.T) {
	s := smallWorld()
	media, stage := sf(at(-190), 60), sf(at(-189), 61)
	s.w.Channels = append(s.w.Channels,
		discordfake.Channel{ID: media, Name: "showcase", Type: discordfake.ChannelMedia, Position: 6},
		discordfake.Channel{ID: stage, Name: "town-hall", Type: discordfake.ChannelStageVoice, Position: 7},
	)
	w := wire{t, newEnv(t, s.w, envOpts{})}
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/api/v10/channels/" + media + "/messages", 400},
		{"/api/v10/channels/" + media + "/threads/archived/public", 200},
		{"/api/v10/channels/" + stage + "/messages", 200},
		{"/api/v10/channels/" + stage + "/threads/archived/public", 400},
		{"/api/v10/channels/" + s.voice + "/messages", 200},
		{"/api/v10/channels/" + s.voice + "/threads/archived/public", 400},
	} {
		status, _, body := w.get(tc.path, "Bot "+testToken)
		assert.Equal(t, tc.want, status, "%s: %s", tc.path, body)
		if tc.want == 400 {
			assert.Contains(t, string(body), `"code":50024`)
		}
	}
}
