package slackfake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests speak plain HTTP to the fake, the way clients other than
// slack-go do (GET, query token, Bearer header), and cover the switches
// the slack integration's tests do not reach. The integration's contract
// test checks the fake's answers against the spec and the key paths.

var base = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

func world() World { return DemoWorld() }

type client struct {
	t   *testing.T
	srv *httptest.Server
}

func newClient(t *testing.T, s *Server) *client {
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &client{t: t, srv: srv}
}

// post calls method slack-go's way: POST, form body, token in the form.
func (c *client) post(method string, form url.Values) (int, http.Header, map[string]any) {
	c.t.Helper()
	resp, err := http.PostForm(c.srv.URL+"/"+method, form)
	require.NoError(c.t, err)
	return decode(c.t, resp)
}

func (c *client) get(method, query string, header http.Header) (int, http.Header, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.srv.URL+"/api/"+method+"?"+query, nil)
	require.NoError(c.t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	return decode(c.t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, http.Header, map[string]any) {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(b, &body), "%s", b)
	}
	return resp.StatusCode, resp.Header, body
}

func tok(extra ...string) url.Values {
	v := url.Values{"token": {DemoToken}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func TestTokenForms(t *testing.T) {
	c := newClient(t, New(world()))
	for _, tc := range []struct {
		name   string
		query  string
		header http.Header
		want   any
	}{
		{"query token", "token=" + DemoToken, nil, true},
		{"bearer header", "", http.Header{"Authorization": {"Bearer " + DemoToken}}, true},
		{"no token", "", nil, "not_authed"},
		{"wrong token", "token=xoxb-nope", nil, "invalid_auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := c.get(MethodTeamInfo, tc.query, tc.header)
			assert.Equal(t, http.StatusOK, status, "Slack errors are HTTP 200")
			if tc.want == true {
				assert.Equal(t, true, body["ok"])
				return
			}
			assert.Equal(t, false, body["ok"])
			assert.Equal(t, tc.want, body["error"])
		})
	}
}

func TestCursorsAndEnds(t *testing.T) {
	s := New(world())
	c := newClient(t, s)
	var ids []string
	cursor := ""
	for range 10 {
		_, _, body := c.post(MethodUsersList, tok("limit", "2", "cursor", cursor))
		for _, m := range body["members"].([]any) {
			ids = append(ids, m.(map[string]any)["id"].(string))
		}
		meta := body["response_metadata"].(map[string]any)
		cursor = meta["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	assert.Len(t, ids, 6, "every user, bots and deactivated ones included")

	s.SetOmitEmptyCursor(true)
	_, _, body := c.post(MethodUsersList, tok("limit", "100"))
	assert.NotContains(t, body, "response_metadata")

	_, _, body = c.post(MethodUsersList, tok("cursor", "garbage"))
	assert.Equal(t, "invalid_cursor", body["error"])

	s.SetMaxLimit(1)
	_, _, body = c.post(MethodConversationsList, tok("limit", "100"))
	assert.Len(t, body["channels"], 1, "limit is a maximum")
	assert.NotEmpty(t, body["response_metadata"].(map[string]any)["next_cursor"])
}

func TestHistoryOrderAndRange(t *testing.T) {
	s := New(world())
	c := newClient(t, s)
	_, _, body := c.post(MethodConversationsHistory, tok("channel", "C0DEMOGEN01"))
	msgs := body["messages"].([]any)
	var ts []string
	for _, m := range msgs {
		ts = append(ts, m.(map[string]any)["ts"].(string))
	}
	require.Len(t, ts, 7, "top-level messages only: the two replies stay in their thread")
	for i := 1; i < len(ts); i++ {
		assert.Greater(t, ts[i-1], ts[i], "newest first")
	}
	assert.Equal(t, false, body["has_more"])

	// oldest/latest are exclusive unless inclusive=1.
	_, _, body = c.post(MethodConversationsHistory, tok("channel", "C0DEMOGEN01", "oldest", ts[2], "latest", ts[0]))
	assert.Len(t, body["messages"], 1)
	_, _, body = c.post(MethodConversationsHistory, tok("channel", "C0DEMOGEN01", "oldest", ts[2], "latest", ts[0], "inclusive", "1"))
	assert.Len(t, body["messages"], 3)

	_, _, body = c.post(MethodConversationsHistory, tok("channel", "C0DEMOPRV01"))
	assert.Equal(t, "not_in_channel", body["error"])
	_, _, body = c.post(MethodConversationsHistory, tok("channel", "C0NOPE00001"))
	assert.Equal(t, "channel_not_found", body["error"])
}

func TestRepliesParentFirst(t *testing.T) {
	s := New(world())
	c := newClient(t, s)
	parent := TS(time.Date(2026, time.January, 12, 9, 30, 0, 0, time.UTC))
	_, _, body := c.post(MethodConversationsReplies, tok("channel", "C0DEMOGEN01", "ts", parent, "limit", "2"))
	msgs := body["messages"].([]any)
	require.Len(t, msgs, 2)
	first := msgs[0].(map[string]any)
	assert.Equal(t, parent, first["ts"])
	assert.Equal(t, float64(2), first["reply_count"])
	assert.Equal(t, parent, msgs[1].(map[string]any)["thread_ts"])
	assert.Equal(t, true, body["has_more"])

	next := body["response_metadata"].(map[string]any)["next_cursor"].(string)
	_, _, body = c.post(MethodConversationsReplies, tok("channel", "C0DEMOGEN01", "ts", parent, "cursor", next))
	assert.Len(t, body["messages"], 1, "the parent is on the first page only")
	assert.Equal(t, false, body["has_more"])
	assert.Equal(t, "", body["response_metadata"].(map[string]any)["next_cursor"])
}

func TestRateLimitAfter(t *testing.T) {
	s := New(world())
	now := base
	s.SetClock(func() time.Time { return now })
	c := newClient(t, s)
	s.RateLimitAfter(2, 1500*time.Millisecond)
	for range 2 {
		status, _, _ := c.post(MethodTeamInfo, tok())
		assert.Equal(t, http.StatusOK, status)
	}
	status, h, body := c.post(MethodTeamInfo, tok())
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, "2", h.Get("Retry-After"), "whole seconds, rounded up")
	assert.Equal(t, "ratelimited", body["error"])
	now = now.Add(time.Second)
	status, _, _ = c.post(MethodTeamInfo, tok())
	assert.Equal(t, http.StatusTooManyRequests, status, "still inside the wait")
	now = now.Add(time.Second)
	status, _, _ = c.post(MethodTeamInfo, tok())
	assert.Equal(t, http.StatusOK, status, "the wait is over: N more calls")
	assert.Equal(t, 5, s.Calls(MethodTeamInfo))
}

func TestNonMarketplace(t *testing.T) {
	s := New(world())
	now := base
	s.SetClock(func() time.Time { return now })
	c := newClient(t, s)
	s.SetNonMarketplace(true)
	s.SetMaxLimit(0)
	_, _, body := c.post(MethodConversationsHistory, tok("channel", "C0DEMOGEN01", "limit", "200"))
	assert.Len(t, body["messages"], 7)
	status, h, _ := c.post(MethodConversationsHistory, tok("channel", "C0DEMOGEN01"))
	assert.Equal(t, http.StatusTooManyRequests, status, "one call a minute")
	assert.Equal(t, "60", h.Get("Retry-After"))
	status, _, _ = c.post(MethodUsersList, tok())
	assert.Equal(t, http.StatusOK, status, "other methods keep their tier")
	now = now.Add(time.Minute)
	status, _, _ = c.post(MethodConversationsHistory, tok("channel", "C0DEMOGEN01"))
	assert.Equal(t, http.StatusOK, status)
}

func TestFailuresAndForcedErrors(t *testing.T) {
	s := New(world())
	c := newClient(t, s)
	s.FailNext(1)
	status, h, _ := c.post(MethodTeamInfo, tok())
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, h.Get("Content-Type"), "text/html")
	status, _, _ = c.post(MethodTeamInfo, tok())
	assert.Equal(t, http.StatusOK, status)

	s.SetMethodError(MethodUsersList, "missing_scope")
	_, _, body := c.post(MethodUsersList, tok())
	assert.Equal(t, map[string]any{"ok": false, "error": "missing_scope", "needed": "users:read", "provided": "channels:read,users:read"}, body)

	s.SetAccountInactive(true)
	_, _, body = c.post(MethodTeamInfo, tok())
	assert.Equal(t, "account_inactive", body["error"])
}

func TestWorldChangesBetweenRuns(t *testing.T) {
	s := New(world())
	at := base.Add(100 * 24 * time.Hour)
	ts1, err := s.PostMessage("C0DEMORND01", "U0DEMOBEN1", "one", at)
	require.NoError(t, err)
	ts2, err := s.PostMessage("C0DEMORND01", "U0DEMOBEN1", "two", at)
	require.NoError(t, err)
	assert.Equal(t, TS(at), ts1)
	assert.NotEqual(t, ts1, ts2, "ts stays unique in a channel")
	_, err = s.Reply("C0DEMORND01", "1.000000", "U0DEMOBEN1", "x", at)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Join("C0DEMOPRV01", "U0DEMOBEN1", at)
	require.NoError(t, err)
	require.NoError(t, s.SetBotMember("C0DEMOPRV01", true))

	c := newClient(t, s)
	_, _, body := c.post(MethodConversationsHistory, tok("channel", "C0DEMOPRV01"))
	msgs := body["messages"].([]any)
	require.Len(t, msgs, 2)
	assert.Equal(t, "channel_join", msgs[0].(map[string]any)["subtype"])
	_, _, body = c.post(MethodConversationsMembers, tok("channel", "C0DEMOPRV01"))
	assert.ElementsMatch(t, []any{"U0DEMOADA1", "U0DEMOBEN1", "U0DEMOBOT1"}, body["members"])
}

// TestRepliesKeepSubtypes: conversations.replies serves messages as they
// are, as the real API does: a reply also sent to the channel keeps
// thread_broadcast, a classic bot reply is a bot_message with a username
// and no user, and a deleted parent with replies is a tombstone by
// USLACKBOT, still listed first.
func TestRepliesKeepSubtypes(t *testing.T) {
	s := New(world())
	c := newClient(t, s)
	const ch = "C0DEMOGEN01"
	parent := TS(time.Date(2026, time.January, 12, 9, 30, 0, 0, time.UTC))
	broadcast := TS(time.Date(2026, time.January, 12, 9, 50, 0, 0, time.UTC))
	botReply := TS(time.Date(2026, time.January, 12, 9, 55, 0, 0, time.UTC))
	require.NoError(t, s.AddMessage(ch, Message{TS: broadcast, User: "U0DEMOBEN1", ThreadTS: parent,
		Subtype: "thread_broadcast", Text: "also in the channel"}))
	require.NoError(t, s.AddMessage(ch, Message{TS: botReply, ThreadTS: parent, Subtype: "bot_message",
		BotID: "B0DEMOBOT01", Username: "crowdflow-demo-bot", Text: "a bot in the thread"}))
	require.NoError(t, s.DeleteMessage(ch, parent))

	_, _, body := c.post(MethodConversationsReplies, tok("channel", ch, "ts", parent))
	require.Equal(t, true, body["ok"], "%v", body)
	byTS := map[string]map[string]any{}
	for _, m := range body["messages"].([]any) {
		byTS[m.(map[string]any)["ts"].(string)] = m.(map[string]any)
	}
	first := body["messages"].([]any)[0].(map[string]any)
	assert.Equal(t, parent, first["ts"], "the tombstone still comes first")
	assert.Equal(t, "tombstone", first["subtype"])
	assert.Equal(t, "USLACKBOT", first["user"])
	assert.Equal(t, float64(4), first["reply_count"])
	assert.Equal(t, "thread_broadcast", byTS[broadcast]["subtype"])
	assert.Equal(t, "bot_message", byTS[botReply]["subtype"])
	assert.Equal(t, "crowdflow-demo-bot", byTS[botReply]["username"])
	assert.NotContains(t, byTS[botReply], "user", "a classic bot message has no user")

	// The history lists the tombstone (it has replies) and the broadcast.
	_, _, body = c.post(MethodConversationsHistory, tok("channel", ch))
	subtypes := map[string]any{}
	for _, m := range body["messages"].([]any) {
		subtypes[m.(map[string]any)["ts"].(string)] = m.(map[string]any)["subtype"]
	}
	assert.Equal(t, "tombstone", subtypes[parent])
	assert.Equal(t, "thread_broadcast", subtypes[broadcast])
	assert.NotContains(t, subtypes, botReply)

	// A message without replies goes for good.
	plain, err := s.PostMessage(ch, "U0DEMOADA1", "soon gone", time.Date(2026, time.January, 12, 10, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.NoError(t, s.DeleteMessage(ch, plain))
	_, _, body = c.post(MethodConversationsHistory, tok("channel", ch))
	for _, m := range body["messages"].([]any) {
		assert.NotEqual(t, plain, m.(map[string]any)["ts"])
	}
}
