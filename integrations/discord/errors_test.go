package discord_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/discord"
	"github.com/crowdflow/crowdflow/integrations/discord/discordfake"
)

var clock = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return clock }

// streamOf returns the root stream of a run with the given name.
func streamOf(t *testing.T, e *env, run *integrations.RunContext, kind, name string) integrations.Stream {
	t.Helper()
	pd, err := e.svc.Preprocess(context.Background(), run)
	require.NoError(t, err)
	run.PipelineData = pd
	streams, err := e.svc.GetStreams(context.Background(), run)
	require.NoError(t, err)
	for _, s := range streams {
		var m struct{ Name string }
		require.NoError(t, json.Unmarshal(s.Metadata, &m))
		if s.Name == kind && m.Name == name {
			return s
		}
	}
	t.Fatalf("no %s stream %q", kind, name)
	return integrations.Stream{}
}

// TestSleepWhenQuotaIsLow: X-RateLimit-Remaining of 1 or less makes the
// stream ask for a Sleep of X-RateLimit-Reset-After.
func TestSleepWhenQuotaIsLow(t *testing.T) {
	cases := []struct {
		name      string
		limit     int
		calls     int // calls of the stream's bucket before the one checked
		wantSleep time.Duration
	}{
		{name: "remaining 1", limit: 2, wantSleep: 90*time.Second + 250*time.Millisecond},
		{name: "remaining 0", limit: 1, wantSleep: 90*time.Second + 250*time.Millisecond},
		{name: "remaining 2: go on", limit: 3, wantSleep: 0},
		{name: "remaining 1 on a later call", limit: 3, calls: 1, wantSleep: 90*time.Second + 250*time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := smallWorld()
			e := newEnv(t, s.w, envOpts{switches: discordfake.Switches{
				BucketLimit: tc.limit, BucketWindow: 90*time.Second + 250*time.Millisecond, Now: fixedNow,
			}})
			run := e.run(s.guild, true, at(20), nil)
			st := streamOf(t, e, run, "channel", "general")
			for range tc.calls {
				_, err := e.svc.ProcessStream(context.Background(), run, st)
				require.NoError(t, err)
			}
			res, err := e.svc.ProcessStream(context.Background(), run, st)
			require.NoError(t, err)
			assert.Equal(t, tc.wantSleep, res.Sleep)
			assert.NotEmpty(t, res.Activities, "the page's records are kept; the sleep comes after them")
		})
	}
}

// TestRateLimited: a 429 is a RateLimitedError until now + retry_after,
// to the millisecond, and is not retried inside the call.
func TestRateLimited(t *testing.T) {
	cases := []struct {
		name       string
		retryAfter time.Duration
		global     bool
	}{
		{name: "half a second", retryAfter: 500 * time.Millisecond},
		{name: "decimals", retryAfter: 64570 * time.Millisecond},
		{name: "global", retryAfter: 1250 * time.Millisecond, global: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := smallWorld()
			e := newEnv(t, s.w, envOpts{now: fixedNow})
			run := e.run(s.guild, true, at(20), nil)
			st := streamOf(t, e, run, "channel", "general")
			if tc.global {
				e.fake.GlobalRateLimitAfter(0, tc.retryAfter)
			} else {
				e.fake.RateLimitAfter(0, tc.retryAfter)
			}
			before := len(e.fake.Calls())
			_, err := e.svc.ProcessStream(context.Background(), run, st)
			rl, ok := integrations.AsRateLimited(err)
			require.True(t, ok, "got %v", err)
			assert.Equal(t, clock.Add(tc.retryAfter), rl.Until)
			assert.Contains(t, rl.Reason, "list the messages of channel "+s.general)
			if tc.global {
				assert.Contains(t, rl.Reason, "global")
				assert.Empty(t, rl.Bucket, "the whole bot waits")
			} else {
				assert.Equal(t, "GET /channels/"+s.general+"/messages", rl.Bucket, "only the route waits")
			}
			assert.False(t, integrations.IsPermanent(err))
			assert.Len(t, e.fake.Calls(), before+1, "discordgo must not retry the 429 itself")

			// The same stream goes through once the engine has waited.
			res, err := e.svc.ProcessStream(context.Background(), run, st)
			require.NoError(t, err)
			assert.NotEmpty(t, res.Activities)
		})
	}
}

// TestRateLimitedAfterCalls: the fake's "rate-limit after N calls" knob,
// through a whole run: Preprocess and streams alike return the error.
func TestRateLimitedAfterCalls(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{now: fixedNow})
	e.fake.RateLimitAfter(2, 300*time.Millisecond)
	run := e.run(s.guild, true, at(20), nil)
	_, err := e.svc.Preprocess(context.Background(), run)
	rl, ok := integrations.AsRateLimited(err)
	require.True(t, ok, "got %v", err)
	assert.Equal(t, clock.Add(300*time.Millisecond), rl.Until)
	// After the wait, Preprocess runs again from the start.
	_, err = e.svc.Preprocess(context.Background(), run)
	require.NoError(t, err)
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name      string
		setup     func(e *env, s *small, run *integrations.RunContext)
		stream    string // "" for Preprocess
		permanent bool
		contains  []string
	}{
		{
			name:      "401: a refused token is permanent",
			setup:     func(e *env, s *small, run *integrations.RunContext) { run.Integration.Token = "revoked-token-123" },
			permanent: true,
			contains:  []string{"HTTP 401", "401: Unauthorized", "the bot token was refused"},
		},
		{
			name:     "500: a plain error naming the call",
			setup:    func(e *env, s *small, run *integrations.RunContext) { e.fake.FailNext(1) },
			stream:   "general",
			contains: []string{"list the messages of channel", "HTTP 500"},
		},
		{
			name:     "500 in Preprocess",
			setup:    func(e *env, s *small, run *integrations.RunContext) { e.fake.FailNext(1) },
			contains: []string{"list the guild's channels", "HTTP 500"},
		},
		{
			name: "members without the GUILD_MEMBERS intent",
			setup: func(e *env, s *small, run *integrations.RunContext) {
				e.fake.Update(func(sw *discordfake.Switches) { sw.NoGuildMembersIntent = true })
			},
			stream:    "members",
			permanent: true,
			contains:  []string{"HTTP 403", "Missing Access", "Server Members Intent"},
		},
		{
			name: "unknown guild",
			setup: func(e *env, s *small, run *integrations.RunContext) {
				run.Integration.Settings = json.RawMessage(`{"guildId":"1111111111111111111"}`)
			},
			permanent: true,
			contains:  []string{"HTTP 404", "Unknown Guild", "is the bot a member of guild 1111111111111111111"},
		},
		{
			name:      "no token",
			setup:     func(e *env, s *small, run *integrations.RunContext) { run.Integration.Token = "" },
			permanent: true,
			contains:  []string{"no bot token"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := smallWorld()
			e := newEnv(t, s.w, envOpts{})
			run := e.run(s.guild, true, at(20), nil)
			var err error
			if tc.stream == "" {
				tc.setup(e, s, run)
				_, err = e.svc.Preprocess(context.Background(), run)
			} else {
				var st integrations.Stream
				if tc.stream == "members" {
					st = integrations.NewStream("members", map[string]string{})
					pd, perr := e.svc.Preprocess(context.Background(), run)
					require.NoError(t, perr)
					run.PipelineData = pd
				} else {
					st = streamOf(t, e, run, "channel", tc.stream)
				}
				tc.setup(e, s, run)
				_, err = e.svc.ProcessStream(context.Background(), run, st)
			}
			require.Error(t, err)
			assert.Equal(t, tc.permanent, integrations.IsPermanent(err), "%v", err)
			_, limited := integrations.AsRateLimited(err)
			assert.False(t, limited)
			for _, c := range tc.contains {
				assert.Contains(t, err.Error(), c)
			}
			assert.NotContains(t, err.Error(), testToken)
			assert.NotContains(t, err.Error(), "revoked-token-123")
			assert.NotContains(t, e.logs.String(), testToken)
		})
	}
}

// TestChannelLostMidRun: a channel that turns unreadable after Preprocess
// is skipped by its stream, not failed.
func TestChannelLostMidRun(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{})
	run := e.run(s.guild, true, at(20), nil)
	st := streamOf(t, e, run, "channel", "general")
	e.fake.SetReadable(s.general, false)
	res, err := e.svc.ProcessStream(context.Background(), run, st)
	require.NoError(t, err)
	assert.Empty(t, res.Activities)
	assert.Nil(t, res.NextPage)
	assert.Contains(t, e.logs.String(), "skipping a channel the bot can no longer read")
}

// TestWithoutMessageContentIntent: the messages still count, with empty
// bodies, and the log says why.
func TestWithoutMessageContentIntent(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{switches: discordfake.Switches{NoMessageContentIntent: true}})
	out := runAll(t, e.svc, e.run(s.guild, true, at(20), nil), hooks{})
	msgs := out.byType(discord.TypeMessage)
	assert.Len(t, msgs, 11)
	assert.Empty(t, msgs[s.m["g1"]].Body)
	assert.Nil(t, msgs[s.m["f2"]].Attributes["attachments"])
	assert.Contains(t, e.logs.String(), "Message Content Intent")
}

func TestPostprocess(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{})
	run := e.run(s.guild, true, at(20), map[string]any{"updateMemberAttributes": true})
	out := runAll(t, e.svc, run, hooks{})
	_ = out

	want := []discord.ChannelRef{{ID: s.general, Name: "general"}, {ID: s.news, Name: "announcements"}, {ID: s.forum, Name: "help"}, {ID: s.voice, Name: "lounge"}}
	cases := []struct {
		name       string
		unfinished []integrations.Stream
		want       []discord.ChannelRef
	}{
		{name: "all done", want: want},
		{name: "a thread of #general failed: #general is read in full again next time",
			unfinished: []integrations.Stream{{Name: "channel", Metadata: json.RawMessage(`{"id":"` + s.tActive + `","name":"Release planning","parentId":"` + s.general + `","parentName":"general"}`)}},
			want:       want[1:]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.svc.Postprocess(context.Background(), run, integrations.RunOutcome{Unfinished: tc.unfinished})
			require.NoError(t, err)
			var set struct {
				GuildID                string
				UpdateMemberAttributes bool
				Channels               []discord.ChannelRef
			}
			require.NoError(t, json.Unmarshal(got, &set))
			assert.Equal(t, s.guild, set.GuildID)
			assert.True(t, set.UpdateMemberAttributes, "other settings are kept")
			assert.Equal(t, tc.want, set.Channels)
		})
	}
}

func TestValidateSettings(t *testing.T) {
	svc := discord.New(discord.Options{})
	cases := []struct {
		in      string
		want    string
		field   string
		message string
	}{
		{in: `{"guildId":"613425648685547541"}`, want: `{"guildId":"613425648685547541"}`},
		{in: `{"guildId":" 613425648685547541 ","checkWindowSeconds":3600,"updateMemberAttributes":true}`,
			want: `{"checkWindowSeconds":3600,"guildId":"613425648685547541","updateMemberAttributes":true}`},
		{in: `{"guildId":"613425648685547541","channels":[{"id":"613425648685547542","name":"general"}]}`,
			want: `{"channels":[{"id":"613425648685547542","name":"general"}],"guildId":"613425648685547541"}`},
		{in: ``, field: "guildId", message: "is required"},
		{in: `{}`, field: "guildId", message: "is required"},
		{in: `{"guildId":""}`, field: "guildId", message: "is required"},
		{in: `[1]`, field: "settings", message: "must be a JSON object"},
		{in: `{"guildId":613425648685547541}`, field: "guildId", message: "must be a string"},
		{in: `{"guildId":"my server"}`, field: "guildId", message: "snowflake"},
		{in: `{"guildId":"0613425648685547541"}`, field: "guildId", message: "snowflake"},
		{in: `{"guildId":"99999999999999999999999"}`, field: "guildId", message: "snowflake"},
		{in: `{"guildId":"613425648685547541","checkWindowSeconds":-5}`, field: "checkWindowSeconds", message: "positive"},
		{in: `{"guildId":"613425648685547541","checkWindowSeconds":"1d"}`, field: "checkWindowSeconds", message: "positive"},
		{in: `{"guildId":"613425648685547541","channels":[{"id":"x","name":"general"}]}`, field: "channels[0].id", message: "snowflake"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := svc.ValidateSettings(json.RawMessage(tc.in))
			if tc.field == "" {
				require.NoError(t, err)
				assert.JSONEq(t, tc.want, string(got))
				return
			}
			var fe *integrations.FieldError
			require.True(t, errors.As(err, &fe), "got %v", err)
			assert.Equal(t, tc.field, fe.Field)
			assert.Contains(t, fe.Message, tc.message)
		})
	}
}

func TestBadAPIURL(t *testing.T) {
	svc := discord.New(discord.Options{APIURL: "discord.com"})
	run := &integrations.RunContext{Integration: integrations.Integration{Settings: json.RawMessage(`{"guildId":"613425648685547541"}`), Token: "x"}}
	_, err := svc.Preprocess(context.Background(), run)
	require.Error(t, err)
	assert.True(t, integrations.IsPermanent(err))
	assert.Contains(t, err.Error(), "DISCORD_API_URL")
}

// TestNoWaitingInsideTheActivity: a used-up bucket whose reset is an hour
// away is reported (Sleep, then RateLimitedError), never waited on inside
// the call. If discordgo's own limiter slept, this test would hang.
func TestNoWaitingInsideTheActivity(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{now: fixedNow, switches: discordfake.Switches{BucketLimit: 1, BucketWindow: time.Hour, Now: fixedNow}})
	run := e.run(s.guild, true, at(20), nil)
	st := streamOf(t, e, run, "channel", "general")

	res, err := e.svc.ProcessStream(context.Background(), run, st)
	require.NoError(t, err)
	assert.Equal(t, time.Hour, res.Sleep)

	_, err = e.svc.ProcessStream(context.Background(), run, st)
	rl, ok := integrations.AsRateLimited(err)
	require.True(t, ok, "got %v", err)
	assert.Equal(t, clock.Add(time.Hour), rl.Until)
}

// TestMessageTimeFromTimestampField: a message's time is its timestamp
// field, not the time in its snowflake.
func TestMessageTimeFromTimestampField(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{})
	imported := e.fake.AddMessage(discordfake.Message{ID: sf(at(1.5), 77), ChannelID: s.news, AuthorID: s.bob,
		Type: discordfake.MessageDefault, Timestamp: at(1.75), Content: "imported"})
	out := runAll(t, e.svc, e.run(s.guild, true, at(20), nil), hooks{})
	a, ok := out.byType(discord.TypeMessage)[imported.ID]
	require.True(t, ok)
	assert.Equal(t, at(1.75), a.Timestamp)
}

// TestAPIURLWithPath: DISCORD_API_URL may carry a path (a proxy); the
// version path goes after it.
func TestAPIURLWithPath(t *testing.T) {
	s := smallWorld()
	e := newEnv(t, s.w, envOpts{})
	proxy := httptest.NewServer(http.StripPrefix("/discord-proxy", e.srv.Config.Handler))
	t.Cleanup(proxy.Close)
	svc := discord.New(discord.Options{APIURL: proxy.URL + "/discord-proxy/"})
	out := runAll(t, svc, e.run(s.guild, true, at(20), nil), hooks{})
	assert.Len(t, out.byType(discord.TypeMessage), 11)
	for _, c := range e.fake.Calls() {
		assert.True(t, strings.HasPrefix(c.Path, "/api/v10/"), c.String())
	}
}
