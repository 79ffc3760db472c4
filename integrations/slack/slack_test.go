package slack

import (
	"context"
	"encoding/json"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/slack/slackfake"
)

func TestPlatformAndConfig(t *testing.T) {
	s := New(Options{})
	assert.Equal(t, "slack", s.Platform())
	assert.Equal(t, integrations.Config{Ticks: 20, ParallelStreams: 4}, s.Config())
	assert.Equal(t, DefaultAPIURL, s.apiURL)

	t.Setenv(EnvAPIURL, "http://127.0.0.1:9/api")
	assert.Equal(t, "http://127.0.0.1:9/api/", New(FromEnv()).apiURL, "a trailing slash is added")
}

func TestMemberAttributes(t *testing.T) {
	var names []string
	for _, a := range New(Options{}).MemberAttributes() {
		names = append(names, a.Name+":"+a.Type)
	}
	assert.Equal(t, []string{"sourceId:string", "avatarUrl:url", "timezone:string", "jobTitle:string", "isDeactivated:boolean"}, names)
}

// member values the test world gives.
var (
	adaMember = integrations.Member{
		Username: "ada", SourceID: ada, DisplayName: "Ada Lovelace", Emails: []string{"ada@example.com"},
		Attributes: map[string]any{
			"sourceId": ada, "avatarUrl": "https://avatars.slack-edge.com/fake/" + ada + "_72.png",
			"timezone": "Central European Time", "jobTitle": "Engineer",
		},
	}
	bobMember = integrations.Member{
		Username: "bob", SourceID: bob, DisplayName: "Bob Builder",
		Attributes: map[string]any{
			"sourceId": bob, "avatarUrl": "https://avatars.slack-edge.com/fake/" + bob + "_72.png",
			"timezone": "Pacific Standard Time",
		},
	}
	delMember = integrations.Member{
		Username: "del", SourceID: del, DisplayName: "Del Eted",
		Attributes: map[string]any{
			"sourceId": del, "avatarUrl": "https://avatars.slack-edge.com/fake/" + del + "_72.png",
			"isDeactivated": true,
		},
	}
	catMember = integrations.Member{
		Username: "cat", SourceID: cat, DisplayName: "Cat S",
		Attributes: map[string]any{
			"sourceId": cat, "avatarUrl": "https://avatars.slack-edge.com/fake/" + cat + "_72.png",
			"timezone": "Pacific Standard Time",
		},
	}
)

func link(channel, ts string) string {
	return "https://acme.slack.com/archives/" + channel + "/p" + strings.Replace(ts, ".", "", 1)
}

func noAttachments() []map[string]any { return []map[string]any{} }

func TestOnboarding(t *testing.T) {
	e := newEnv(t, testWorld(), 2) // two items a page: every list takes several pages
	out := e.run(e.runContext(true, `{"updateMemberAttributes":true}`))

	t.Run("pipeline", func(t *testing.T) {
		assert.Equal(t, pipelineData{
			TeamID: teamID, TeamURL: "https://acme.slack.com/",
			Channels: []channelInfo{
				{ID: general, Name: "general", General: true, New: true},
				{ID: random, Name: "random", New: true},
			},
		}, out.pipeline, "no-bot is listed by Slack but the bot is not in it")
		assert.Equal(t, 2, e.fake.Calls(slackfake.MethodConversationsList), "conversations.list is followed to its last cursor")
	})

	t.Run("members", func(t *testing.T) {
		assert.Equal(t, []integrations.Member{adaMember, bobMember, catMember, delMember}, out.members,
			"bots and Slackbot make no member; a deactivated user is kept, marked")
		assert.Equal(t, 3, out.count(StreamMembers), "users.list: 6 users, 2 a page")
	})

	rows := out.rows()
	t.Run("rows", func(t *testing.T) {
		var keys []string
		for k := range rows {
			keys = append(keys, k)
		}
		assert.ElementsMatch(t, []string{
			"message/" + tsWelcome, "message/" + tsParent, "message/" + tsReplyA, "message/" + tsReplyC,
			"message/" + tsHi, "message/" + tsHey, "message/" + tsBye,
			"channel_joined/" + joinSourceID(general, bob), "channel_joined/" + joinSourceID(general, ada),
			"channel_joined/" + joinSourceID(general, cat), "channel_joined/" + joinSourceID(general, del),
			"channel_joined/" + joinSourceID(random, bob), "channel_joined/" + joinSourceID(random, cat),
		}, keys, "bot replies, bot_message, Slackbot, unknown users, and channel_topic make nothing")
		assert.Equal(t, delMember, rows["message/"+tsBye].Member, "a deactivated user's message is kept")
	})

	t.Run("message", func(t *testing.T) {
		assert.Equal(t, integrations.Activity{
			Type: "message", SourceID: tsWelcome, Timestamp: atTime(1, 216),
			Member: adaMember, Channel: "general",
			Body: "Welcome @bob! See #random",
			URL:  link(general, tsWelcome),
			Attributes: map[string]any{
				"thread": false,
				"reactions": []map[string]any{
					{"name": "wave", "count": 2},
					{"name": "tada", "count": 1},
				},
				"attachments": []map[string]any{
					{"title": "Docs", "titleLink": "https://example.com/docs", "fallback": "Docs", "serviceName": "example.com"},
				},
			},
			Score: 6, IsContribution: true,
		}, rows["message/"+tsWelcome])
		assert.Equal(t, "1769936460.000216", tsWelcome, "the ts is kept as Slack wrote it")
		assert.Equal(t, "https://acme.slack.com/archives/C0TESTGEN1/p1769936460000216", rows["message/"+tsWelcome].URL)
	})

	t.Run("thread", func(t *testing.T) {
		parent := rows["message/"+tsParent]
		assert.Equal(t, "", parent.SourceParentID)
		assert.Equal(t, false, parent.Attributes["thread"])
		assert.Equal(t, integrations.Activity{
			Type: "message", SourceID: tsReplyC, SourceParentID: tsParent, Timestamp: atTime(4, 5),
			Member: catMember, Channel: "general", Body: "@ada thanks", URL: link(general, tsReplyC),
			Attributes: map[string]any{
				"thread":    map[string]any{"body": "How do I start?", "id": tsParent},
				"reactions": []map[string]any{}, "attachments": noAttachments(),
			},
			Score: 6, IsContribution: true,
		}, rows["message/"+tsReplyC])
		assert.Equal(t, tsParent, rows["message/"+tsReplyA].SourceParentID)

		emitted := 0
		for _, a := range out.activities {
			if a.SourceID == tsParent {
				emitted++
			}
		}
		assert.Equal(t, 1, emitted, "the thread stream skips the parent the channel stream emitted")
		assert.Equal(t, 2, out.count(StreamThread), "parent + 3 replies, 2 a page")
	})

	t.Run("joins", func(t *testing.T) {
		fromMessage := 0
		for _, a := range out.activities {
			if a.Type == TypeChannelJoined && a.SourceID == joinSourceID(general, bob) {
				fromMessage++
			}
		}
		assert.Equal(t, 2, fromMessage, "bob's join comes from the join message and from the membership...")
		assert.Len(t, rows, 13, "...and both give the same row")
		assert.Equal(t, integrations.Activity{
			Type: "channel_joined", SourceID: "gen-channel_joined-C0TESTGEN1-U0TESTBOB1", Timestamp: atTime(0, 1),
			Member: bobMember, Channel: "general", Attributes: map[string]any{}, Score: 3,
		}, rows["channel_joined/"+joinSourceID(general, bob)], "the join message comes first, with its time")
		assert.Equal(t, integrations.Activity{
			Type: "channel_joined", SourceID: joinSourceID(general, ada), Timestamp: time.Unix(0, 0).UTC(),
			Member: adaMember, Channel: "general", Attributes: map[string]any{}, Score: 3,
		}, rows["channel_joined/"+joinSourceID(general, ada)], "a membership alone has no date")
	})

	t.Run("pagination", func(t *testing.T) {
		// general: 8 top-level messages at 2 a page; random: 2 messages.
		assert.Equal(t, 5, out.count(StreamChannel))
		assert.Equal(t, 5, e.fake.Calls(slackfake.MethodConversationsHistory))
		// general: 5 members, random: 3, at 2 a page.
		assert.Equal(t, 5, out.count(StreamChannelMembers))
	})

	t.Run("user lookups", func(t *testing.T) {
		seen := map[string]int{}
		for _, ex := range e.rec.Exchanges() {
			if path.Base(ex.Request.URL.Path) == slackfake.MethodUsersInfo {
				form, err := url.ParseQuery(string(ex.Request.Body))
				require.NoError(t, err)
				seen[form.Get("user")]++
			}
		}
		for id, n := range seen {
			assert.Equal(t, 1, n, "users.info for %s", id)
		}
		assert.Contains(t, seen, ghost, "an author users.list does not know is asked for once")
	})

	t.Run("settings", func(t *testing.T) {
		assert.JSONEq(t, `{"updateMemberAttributes":true,"channels":[
			{"id":"C0TESTGEN1","name":"general","general":true},
			{"id":"C0TESTRND1","name":"random","general":false}]}`, string(out.settings))
	})

	t.Run("no token in logs", func(t *testing.T) {
		assert.NotContains(t, e.logs.String(), testToken)
	})
}

// TestCheckRun runs onboarding, changes the workspace, and runs a check:
// known channels stop at the check window, a new channel is read whole.
func TestCheckRun(t *testing.T) {
	e := newEnv(t, testWorld(), 2)
	onboard := e.run(e.runContext(true, `{}`))

	recent := func(ago time.Duration) time.Time { return startedAt.Add(-ago) }
	_, err := e.fake.PostMessage(general, ada, "fresh news", recent(time.Hour))
	require.NoError(t, err)
	newParent, err := e.fake.PostMessage(general, cat, "a new question", recent(50*time.Minute))
	require.NoError(t, err)
	newReply, err := e.fake.Reply(general, newParent, bob, "an answer", recent(40*time.Minute))
	require.NoError(t, err)
	// A late reply to a four-week-old thread (not sent to the channel):
	// only the parent's latest_reply in the history shows it.
	lateReply, err := e.fake.Reply(general, tsParent, cat, "late, but still useful", recent(30*time.Minute))
	require.NoError(t, err)
	// Beyond the thread window (45 days), a thread is not looked at again:
	// the page that crosses it (50 and 55 days old) is the last one read.
	for _, days := range []time.Duration{50, 55} {
		require.NoError(t, e.fake.AddMessage(general, slackfake.Message{
			TS: slackfake.TS(startedAt.Add(-days * 24 * time.Hour)), User: ada, Text: "old news"}))
	}
	ancient := slackfake.TS(startedAt.Add(-60 * 24 * time.Hour))
	require.NoError(t, e.fake.AddMessage(general, slackfake.Message{TS: ancient, User: ada, Text: "an ancient question"}))
	_, err = e.fake.Reply(general, ancient, bob, "a reply to an ancient thread", recent(20*time.Minute))
	require.NoError(t, err)
	require.NoError(t, e.fake.AddChannel(slackfake.Channel{
		ID: fresh, Name: "new-stuff", Creator: ada, Members: []string{ada, botUser},
		Messages: []slackfake.Message{
			{TS: at(40, 0), User: ada, Text: "old one"},
			{TS: at(41, 0), User: ada, Text: "old two"},
			{TS: at(42, 0), User: ada, Text: "old three"},
		},
	}))
	e.fake.ResetCalls()
	e.rec.Reset()

	run := e.runContext(false, string(onboard.settings))
	out := e.run(run)

	assert.Equal(t, []channelInfo{
		{ID: general, Name: "general", General: true},
		{ID: fresh, Name: "new-stuff", New: true},
		{ID: random, Name: "random"},
	}, out.pipeline.Channels)
	assert.Zero(t, out.count(StreamMembers), "no members stream in a check run")

	historyCalls := map[string]int{}
	var repliesOldest []string
	for _, ex := range e.rec.Exchanges() {
		form, _ := url.ParseQuery(string(ex.Request.Body))
		switch path.Base(ex.Request.URL.Path) {
		case slackfake.MethodConversationsHistory:
			historyCalls[form.Get("channel")]++
		case slackfake.MethodConversationsReplies:
			repliesOldest = append(repliesOldest, form.Get("oldest"))
		}
	}
	assert.Equal(t, map[string]int{
		general: 6, // 2 new, 8 seed messages (4 weeks old: within the thread window) and 2 older at 2 a page; the 6th crosses the thread window: stop
		random:  1, // one page
		fresh:   2, // new: read whole, old as it is
	}, historyCalls)
	window := formatTS(startedAt.Add(-24 * time.Hour))
	assert.Equal(t, []string{window, window}, repliesOldest,
		"the new thread and the old one with a late reply are asked for the window's replies; no other")
	assert.Equal(t, 1, out.count(StreamChannelMembers), "channel_members for the new channel only")

	var got []string
	for _, a := range out.activities {
		got = append(got, a.Type+" "+a.Channel+" "+a.Body)
	}
	assert.ElementsMatch(t, []string{
		"message general a new question",
		"message general fresh news",
		"message general an answer",
		"message general late, but still useful",
		"message new-stuff old three",
		"message new-stuff old two",
		"message new-stuff old one",
		"channel_joined new-stuff ",
	}, got)
	assert.Equal(t, newParent, out.rows()["message/"+newReply].SourceParentID)
	late := out.rows()["message/"+lateReply]
	assert.Equal(t, tsParent, late.SourceParentID)
	assert.Equal(t, map[string]any{"body": "How do I start?", "id": tsParent}, late.Attributes["thread"])

	assert.JSONEq(t, `{"channels":[
		{"id":"C0TESTGEN1","name":"general","general":true},
		{"id":"C0TESTNEW1","name":"new-stuff","general":false},
		{"id":"C0TESTRND1","name":"random","general":false}]}`, string(out.settings))
}

func TestIsProcessingFinished(t *testing.T) {
	s := New(Options{})
	chanStream := func(isNew bool) integrations.Stream {
		return integrations.NewStream(StreamChannel, channelMeta{ChannelID: general, ChannelName: "general", New: isNew})
	}
	threadStream := integrations.NewStream(StreamThread, threadMeta{ChannelID: general, ThreadTS: tsParent})
	old := startedAt.Add(-25 * time.Hour)
	recent := startedAt.Add(-23 * time.Hour)
	pastThreads := startedAt.Add(-ThreadWindow - time.Hour)
	for _, tc := range []struct {
		name       string
		onboarding bool
		settings   string
		stream     integrations.Stream
		last       time.Time
		want       bool
	}{
		{"known channel, page past the window is read on for threads", false, `{}`, chanStream(false), old, false},
		{"known channel, page reaches past the thread window", false, `{}`, chanStream(false), pastThreads, true},
		{"known channel, page inside the window", false, `{}`, chanStream(false), recent, false},
		{"new channel is read whole", false, `{}`, chanStream(true), old, false},
		{"onboarding is read whole", true, `{}`, chanStream(false), old, false},
		{"thread of a known channel", false, `{}`, threadStream, old, true},
		{"members stream never stops", false, `{}`, integrations.NewStream(StreamMembers, membersMeta{}), old, false},
		{"empty page", false, `{}`, chanStream(false), time.Time{}, false},
		{"checkWindowSeconds widens the window", false, `{"checkWindowSeconds":172800}`, threadStream, old, false},
		{"checkWindowSeconds narrows it", false, `{"checkWindowSeconds":3600}`, threadStream, startedAt.Add(-2 * time.Hour), true},
		{"a bad window falls back to a day", false, `{"checkWindowSeconds":"x"}`, threadStream, recent, false},
		{"a check window wider than the thread window", false, `{"checkWindowSeconds":31536000}`, chanStream(false), pastThreads, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := &integrations.RunContext{Onboarding: tc.onboarding, StartedAt: startedAt,
				Integration: integrations.Integration{Settings: json.RawMessage(tc.settings)}}
			res := &integrations.StreamResult{LastRecordTimestamp: tc.last}
			assert.Equal(t, tc.want, s.IsProcessingFinished(run, tc.stream, res))
		})
	}
}

// channelStream runs Preprocess and GetStreams and returns the stream of
// one channel.
func (e *env) channelStream(run *integrations.RunContext, channel string) integrations.Stream {
	e.t.Helper()
	pd, err := e.svc.Preprocess(context.Background(), run)
	require.NoError(e.t, err)
	run.PipelineData = pd
	streams, err := e.svc.GetStreams(context.Background(), run)
	require.NoError(e.t, err)
	for _, st := range streams {
		var md channelMeta
		require.NoError(e.t, st.DecodeMetadata(&md))
		if st.Name == StreamChannel && md.ChannelID == channel {
			return st
		}
	}
	e.t.Fatalf("no stream for %s", channel)
	return integrations.Stream{}
}

func TestChannelSkips(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(f *slackfake.Server)
		code    string
	}{
		{"bot removed after the listing", func(f *slackfake.Server) { require.NoError(t, f.SetBotMember(general, false)) }, "not_in_channel"},
		{"channel deleted after the listing", func(f *slackfake.Server) { f.SetChannelError(general, "channel_not_found") }, "channel_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, testWorld(), 100)
			run := e.runContext(true, `{}`)
			st := e.channelStream(run, general)
			tc.breakIt(e.fake)

			res, err := e.svc.ProcessStream(context.Background(), run, st)
			require.NoError(t, err, "the run goes on with the other channels")
			assert.Equal(t, &integrations.StreamResult{Skipped: "channel general (" + general + "): " + tc.code}, res,
				"no records, and the reason for the stream's row")
			logs := e.logs.String()
			assert.Contains(t, logs, "channel skipped")
			assert.Contains(t, logs, "reason="+tc.code)
			assert.Contains(t, logs, "channelId="+general)
			assert.NotContains(t, logs, testToken)
		})
	}

	t.Run("thread whose parent was deleted", func(t *testing.T) {
		e := newEnv(t, testWorld(), 100)
		run := e.runContext(true, `{}`)
		st := integrations.NewStream(StreamThread, threadMeta{ChannelID: general, ChannelName: "general", ThreadTS: at(99, 0)})
		res, err := e.svc.ProcessStream(context.Background(), run, st)
		require.NoError(t, err)
		assert.Empty(t, res.Activities)
		assert.Contains(t, e.logs.String(), "reason=thread_not_found")
	})
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(e *env, run *integrations.RunContext)
		call  func(e *env, run *integrations.RunContext) error
		check func(t *testing.T, err error)
	}{
		{
			name:  "invalid_auth is permanent",
			setup: func(e *env, run *integrations.RunContext) { run.Integration.Token = "xoxb-revoked-token-value" },
			call:  preprocess,
			check: permanent("invalid_auth"),
		},
		{
			name:  "account_inactive is permanent",
			setup: func(e *env, run *integrations.RunContext) { e.fake.SetAccountInactive(true) },
			call:  preprocess,
			check: permanent("account_inactive"),
		},
		{
			name:  "no token is permanent",
			setup: func(e *env, run *integrations.RunContext) { run.Integration.Token = "" },
			call:  preprocess,
			check: permanent("no bot token"),
		},
		{
			name: "missing_scope is permanent and names the scope",
			setup: func(e *env, run *integrations.RunContext) {
				e.fake.SetMethodError(slackfake.MethodUsersList, "missing_scope")
			},
			call:  processStream(integrations.NewStream(StreamMembers, membersMeta{})),
			check: permanent(`missing_scope (needed "users:read")`),
		},
		{
			name: "429 on a page waits for Retry-After",
			setup: func(e *env, run *integrations.RunContext) {
				e.fake.RateLimitAfter(1, 7*time.Second)
				_, err := e.svc.ProcessStream(ctx, run, integrations.NewStream(StreamMembers, membersMeta{}))
				require.NoError(e.t, err)
			},
			call:  processStream(integrations.NewStream(StreamChannel, channelMeta{ChannelID: general, ChannelName: "general"})),
			check: rateLimited(7*time.Second, "conversations.history"),
		},
		{
			name:  "429 on team.info (the hand-made call) too",
			setup: func(e *env, run *integrations.RunContext) { e.fake.RateLimitAfter(1, time.Second) },
			call:  preprocess, // conversations.list (1 page at 100), then team.info
			check: rateLimited(time.Second, "team.info"),
		},
		{
			name: "429 on users.info for an author",
			setup: func(e *env, run *integrations.RunContext) {
				e.fake.SetMethodBudget(slackfake.MethodUsersInfo, 1, 30*time.Second)
			},
			call:  processStream(integrations.NewStream(StreamChannel, channelMeta{ChannelID: general, ChannelName: "general"})),
			check: rateLimited(30*time.Second, "users.info"),
		},
		{
			name:  "500 is retried by the engine",
			setup: func(e *env, run *integrations.RunContext) { e.fake.FailNext(1) },
			call:  processStream(integrations.NewStream(StreamChannel, channelMeta{ChannelID: general, ChannelName: "general"})),
			check: func(t *testing.T, err error) {
				require.Error(t, err)
				assert.False(t, integrations.IsPermanent(err))
				_, limited := integrations.AsRateLimited(err)
				assert.False(t, limited)
				assert.Contains(t, err.Error(), "HTTP 500")
			},
		},
		{
			name:  "unknown stream is permanent",
			call:  processStream(integrations.Stream{Name: "nope", Metadata: json.RawMessage(`{}`)}),
			check: permanent(`unknown stream "nope"`),
		},
		{
			name:  "a stream without its channel is permanent",
			call:  processStream(integrations.Stream{Name: StreamChannel, Metadata: json.RawMessage(`{}`)}),
			check: permanent("bad metadata"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, testWorld(), 100)
			run := e.runContext(true, `{}`)
			if tc.setup != nil {
				tc.setup(e, run)
			}
			before := e.fake.TotalCalls()
			err := tc.call(e, run)
			tc.check(t, err)
			assert.NotContains(t, err.Error(), testToken)
			assert.NotContains(t, err.Error(), "xoxb-")
			assert.LessOrEqual(t, e.fake.TotalCalls()-before, 3, "slack-go does not retry on its own")
		})
	}
}

func preprocess(e *env, run *integrations.RunContext) error {
	_, err := e.svc.Preprocess(context.Background(), run)
	return err
}

func processStream(st integrations.Stream) func(e *env, run *integrations.RunContext) error {
	return func(e *env, run *integrations.RunContext) error {
		_, err := e.svc.ProcessStream(context.Background(), run, st)
		return err
	}
}

func permanent(contains string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		require.Error(t, err)
		assert.True(t, integrations.IsPermanent(err), "%v", err)
		assert.Contains(t, err.Error(), contains)
	}
}

func rateLimited(wait time.Duration, call string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		require.Error(t, err)
		rl, ok := integrations.AsRateLimited(err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, startedAt.Add(wait), rl.Until, "now + Retry-After, not a fixed 60 s")
		assert.Contains(t, rl.Reason, call)
	}
}

func TestRateLimitResumes(t *testing.T) {
	// After the wait, the same stream goes through: nothing was lost.
	e := newEnv(t, testWorld(), 100)
	now := startedAt
	e.fake.SetClock(func() time.Time { return now })
	run := e.runContext(true, `{}`)
	st := integrations.NewStream(StreamChannel, channelMeta{ChannelID: random, ChannelName: "random", TeamURL: "https://acme.slack.com/"})
	e.fake.RateLimitAfter(0, 0)
	e.fake.SetMethodBudget(slackfake.MethodConversationsHistory, 1, time.Second)
	_, err := e.svc.ProcessStream(context.Background(), run, st)
	require.NoError(t, err)
	_, err = e.svc.ProcessStream(context.Background(), run, st)
	rl, ok := integrations.AsRateLimited(err)
	require.True(t, ok, "%v", err)
	now = rl.Until
	res, err := e.svc.ProcessStream(context.Background(), run, st)
	require.NoError(t, err)
	assert.Len(t, res.Activities, 2)
}

func TestOmittedEndCursor(t *testing.T) {
	// Some answers end a list with no response_metadata at all rather than
	// next_cursor "": both end the paging.
	e := newEnv(t, testWorld(), 2)
	e.noContract = "conversations.members requires response_metadata, which this test leaves out on purpose"
	e.fake.SetOmitEmptyCursor(true)
	out := e.run(e.runContext(true, `{}`))
	assert.Len(t, out.rows(), 13, "as TestOnboarding")
}

func TestPostprocessKeepsUnfinishedNewChannelsNew(t *testing.T) {
	s := New(Options{})
	pd, err := json.Marshal(pipelineData{TeamURL: "https://acme.slack.com/", Channels: []channelInfo{
		{ID: general, Name: "general", General: true},
		{ID: random, Name: "random", New: true},
		{ID: fresh, Name: "new-stuff", New: true},
	}})
	require.NoError(t, err)
	run := &integrations.RunContext{PipelineData: pd, Integration: integrations.Integration{
		Settings: json.RawMessage(`{"checkWindowSeconds":3600,"channels":[{"id":"C0TESTGEN1","name":"general","general":true}]}`),
	}}
	settings, err := s.Postprocess(context.Background(), run, integrations.RunOutcome{Unfinished: []integrations.Stream{
		integrations.NewStream(StreamThread, threadMeta{ChannelID: fresh, ChannelName: "new-stuff", ThreadTS: tsParent}),
		integrations.NewStream(StreamChannel, channelMeta{ChannelID: general, ChannelName: "general", Cursor: "x"}),
	}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"checkWindowSeconds":3600,"channels":[
		{"id":"C0TESTGEN1","name":"general","general":true},
		{"id":"C0TESTRND1","name":"random","general":false}]}`, string(settings),
		"new-stuff stays out (and so new); general is known and stays")

	run.PipelineData = nil
	settings, err = s.Postprocess(context.Background(), run, integrations.RunOutcome{})
	require.NoError(t, err)
	assert.Equal(t, string(run.Integration.Settings), string(settings), "no pipeline data: settings unchanged")
}

func TestValidateSettings(t *testing.T) {
	s := New(Options{})
	for _, tc := range []struct {
		in, want, field string
	}{
		{in: ``, want: `{}`},
		{in: `null`, want: `{}`},
		{in: ` { "checkWindowSeconds": 3600 } `, want: `{"checkWindowSeconds":3600}`},
		{in: `{"channels":[{"id":"C0TESTGEN1","name":"general","general":true}],"x":1}`,
			want: `{"channels":[{"id":"C0TESTGEN1","name":"general","general":true}],"x":1}`},
		{in: `{"channels":[]}`, want: `{"channels":[]}`},
		{in: `[]`, field: "settings"},
		{in: `"x"`, field: "settings"},
		{in: `{bad`, field: "settings"},
		{in: `{"checkWindowSeconds":0}`, field: "checkWindowSeconds"},
		{in: `{"checkWindowSeconds":-5}`, field: "checkWindowSeconds"},
		{in: `{"checkWindowSeconds":1.5}`, field: "checkWindowSeconds"},
		{in: `{"checkWindowSeconds":"3600"}`, field: "checkWindowSeconds"},
		{in: `{"checkWindowSeconds":99999999999}`, field: "checkWindowSeconds"},
		{in: `{"channels":{}}`, field: "channels"},
		{in: `{"channels":null}`, field: "channels"},
		{in: `{"channels":["C1"]}`, field: "channels[0]"},
		{in: `{"channels":[{"id":"C0TESTGEN1"},{"name":"x"}]}`, field: "channels[1].id"},
		{in: `{"channels":[{"id":"C0TESTGEN1","general":"yes"}]}`, field: "channels[0].general"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := s.ValidateSettings(json.RawMessage(tc.in))
			if tc.field != "" {
				var fe *integrations.FieldError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tc.field, fe.Field)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

func TestRenderBody(t *testing.T) {
	users := map[string]*userInfo{ada: {ID: ada, Name: "ada"}, bob: {ID: bob, Name: "bob"}}
	for _, tc := range []struct{ in, want string }{
		{"hi <@U0TESTADA1>", "hi @ada"},
		{"<@U0TESTADA1> and <@U0TESTBOB1>!", "@ada and @bob!"},
		{"old form <@U0TESTADA1|ada.l>", "old form @ada"},
		{"unknown <@U0TESTGHO1>", "unknown @U0TESTGHO1"},
		{"unknown with label <@U0TESTGHO1|ghost>", "unknown with label @ghost"},
		{"see <#C0TESTRND1|random>", "see #random"},
		{"a <https://example.com|link> &amp; more", "a <https://example.com|link> &amp; more"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			assert.Equal(t, tc.want, renderBody(tc.in, users))
		})
	}
}

func TestParseTS(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1512085950.000216", time.Unix(1512085950, 216000).UTC(), true},
		{"1512085950.999999", time.Unix(1512085950, 999999000).UTC(), true},
		{"1512085950", time.Unix(1512085950, 0).UTC(), true},
		{"1512085950.5", time.Unix(1512085950, 500000000).UTC(), true},
		{"", time.Time{}, false},
		{"abc.000001", time.Time{}, false},
		{"-1.000000", time.Time{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseTS(tc.in)
			assert.Equal(t, tc.ok, ok)
			assert.True(t, tc.want.Equal(got), "%s != %s", got, tc.want)
		})
	}
	assert.Equal(t, "1512085950.000216", formatTS(time.Unix(1512085950, 216000)))
}

func TestUserCache(t *testing.T) {
	c := newUserCache(time.Hour)
	u := &userInfo{ID: ada}
	c.put("i1", ada, u, startedAt)
	got, ok := c.get("i1", ada, startedAt.Add(59*time.Minute))
	assert.True(t, ok)
	assert.Same(t, u, got)
	_, ok = c.get("i2", ada, startedAt)
	assert.False(t, ok, "per integration")
	_, ok = c.get("i1", ada, startedAt.Add(61*time.Minute))
	assert.False(t, ok, "expired")
	c.put("i1", ghost, nil, startedAt)
	got, ok = c.get("i1", ghost, startedAt)
	assert.True(t, ok, "a miss is cached too")
	assert.Nil(t, got)
}

func TestTeamInfoWithoutScope(t *testing.T) {
	// Without team:read the run goes on; its activities have no links.
	e := newEnv(t, testWorld(), 100)
	e.fake.SetMethodError(slackfake.MethodTeamInfo, "missing_scope")
	run := e.runContext(true, `{}`)
	st := e.channelStream(run, random)
	var pd pipelineData
	require.NoError(t, json.Unmarshal(run.PipelineData, &pd))
	assert.Equal(t, "", pd.TeamURL)
	assert.Contains(t, e.logs.String(), "team.info refused")
	res, err := e.svc.ProcessStream(context.Background(), run, st)
	require.NoError(t, err)
	require.Len(t, res.Activities, 2)
	assert.Equal(t, "", res.Activities[0].URL)
}

// TestThreadSubtypes: threads as conversations.replies really serves them.
// A deleted parent (a tombstone by USLACKBOT) makes no activity but its
// replies do; a reply also sent to the channel is one row, whichever
// stream sees it; a classic bot reply (bot_message, no user) makes nothing
// and asks users.info for no one.
func TestThreadSubtypes(t *testing.T) {
	w := testWorld()
	broadcast, botReply := at(11, 0), at(12, 0)
	w.Channels[0].Messages = append(w.Channels[0].Messages,
		slackfake.Message{TS: broadcast, User: bob, ThreadTS: tsParent, Subtype: "thread_broadcast", Text: "also in #general"},
		slackfake.Message{TS: botReply, ThreadTS: tsParent, Subtype: "bot_message", BotID: botID, Username: "crowdbot", Text: "ci passed"},
	)
	e := newEnv(t, w, 100)
	require.NoError(t, e.fake.DeleteMessage(general, tsParent))
	out := e.run(e.runContext(true, `{}`))
	rows := out.rows()

	assert.NotContains(t, rows, "message/"+tsParent, "a tombstone is no activity")
	for _, ts := range []string{tsReplyA, tsReplyC, broadcast} {
		require.Contains(t, rows, "message/"+ts, "the replies of a deleted parent are kept")
		assert.Equal(t, tsParent, rows["message/"+ts].SourceParentID)
		assert.Equal(t, map[string]any{"body": "This message was deleted.", "id": tsParent}, rows["message/"+ts].Attributes["thread"])
	}
	assert.NotContains(t, rows, "message/"+botReply)
	n := 0
	for _, a := range out.activities {
		if a.SourceID == broadcast {
			n++
		}
	}
	assert.Equal(t, 2, n, "the broadcast comes from the history and from the thread...")
	assert.Equal(t, bobMember, rows["message/"+broadcast].Member, "...as one row of bob's")
	for _, ex := range e.rec.Exchanges() {
		if path.Base(ex.Request.URL.Path) == slackfake.MethodUsersInfo {
			form, err := url.ParseQuery(string(ex.Request.Body))
			require.NoError(t, err)
			assert.NotContains(t, []string{"", "USLACKBOT"}, form.Get("user"))
		}
	}
}
