package slack

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/slack/slackfake"
	"github.com/crowdflow/crowdflow/internal/apicontract"
	"github.com/crowdflow/crowdflow/internal/syncbuf"
)

// The test workspace. IDs follow Slack's patterns, which the contract
// test checks.
const (
	testToken = "xoxb-0000000001-test-token-do-not-log"

	teamID  = "T0TEST0001"
	ada     = "U0TESTADA1"
	bob     = "U0TESTBOB1"
	cat     = "U0TESTCAT1"
	del     = "U0TESTDEL1" // deactivated
	botUser = "U0TESTBOT1" // the app's bot user: the token's user
	ghost   = "U0TESTGHO1" // in no users.list: users.info says user_not_found
	botID   = "B0TESTBOT01"

	general = "C0TESTGEN1"
	random  = "C0TESTRND1"
	noBot   = "C0TESTNOB1" // the bot is not in it
	fresh   = "C0TESTNEW1" // added between runs
)

var (
	// t0 is when the seeded history starts; startedAt is when the test
	// runs start: four weeks later, so the seed is outside the check window.
	t0        = time.Date(2026, time.February, 1, 9, 0, 0, 0, time.UTC)
	startedAt = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
)

// at is the ts of a message minutes after t0, with micro microseconds:
// non-zero micros show that no ts goes through a float.
func at(minutes, micro int) string {
	return slackfake.TS(atTime(minutes, micro))
}

func atTime(minutes, micro int) time.Time {
	return t0.Add(time.Duration(minutes)*time.Minute + time.Duration(micro)*time.Microsecond)
}

var (
	tsJoin    = at(0, 1)
	tsWelcome = at(1, 216)
	tsParent  = at(2, 0)
	tsReplyA  = at(3, 0)
	tsReplyC  = at(4, 5)
	tsHi      = at(20, 0)
	tsHey     = at(21, 0)
	tsBye     = at(8, 0) // by the deactivated user
)

func testWorld() slackfake.World {
	return slackfake.World{
		Team:      slackfake.Team{ID: teamID, Name: "Acme", Domain: "acme", EmailDomain: "example.com"},
		BotToken:  testToken,
		BotUserID: botUser,
		Users: []slackfake.User{
			{ID: ada, Name: "ada", RealName: "Ada Lovelace", DisplayName: "ada.l", Email: "ada@example.com",
				Title: "Engineer", TZ: "Europe/Berlin", TZLabel: "Central European Time", TZOffset: 3600},
			{ID: bob, Name: "bob", RealName: "Bob Builder"},
			{ID: cat, Name: "cat", RealName: "", DisplayName: "Cat S"},
			{ID: del, Name: "del", RealName: "Del Eted", Deleted: true},
			{ID: botUser, Name: "crowdbot", RealName: "Crowd bot", IsBot: true, BotID: botID, AppID: "A0TESTAPP1"},
			{ID: "USLACKBOT", Name: "slackbot", RealName: "Slackbot"},
		},
		Channels: []slackfake.Channel{
			{
				ID: general, Name: "general", IsGeneral: true, Creator: ada,
				Members: []string{ada, bob, cat, del, botUser},
				Messages: []slackfake.Message{
					{TS: tsJoin, User: bob, Subtype: "channel_join", Text: "<@" + bob + "> has joined the channel"},
					{TS: tsWelcome, User: ada, Text: "Welcome <@" + bob + ">! See <#" + random + "|random>",
						Reactions: []slackfake.Reaction{{Name: "wave", Users: []string{bob, cat}}, {Name: "tada", Users: []string{bob}}},
						Attachments: []slackfake.Attachment{{Title: "Docs", TitleLink: "https://example.com/docs",
							Fallback: "Docs", ServiceName: "example.com"}}},
					{TS: tsParent, User: bob, Text: "How do I start?"},
					{TS: tsReplyA, User: ada, ThreadTS: tsParent, Text: "Read the docs"},
					{TS: tsReplyC, User: cat, ThreadTS: tsParent, Text: "<@" + ada + "> thanks"},
					{TS: at(5, 0), User: botUser, BotID: botID, ThreadTS: tsParent, Text: "I am a bot reply"},
					{TS: at(6, 0), Subtype: "bot_message", BotID: botID, Username: "crowdbot", Text: "build passed"},
					{TS: at(7, 0), User: "USLACKBOT", Text: "reminder"},
					{TS: tsBye, User: del, Text: "bye"},
					{TS: at(9, 0), User: ada, Subtype: "channel_topic", Text: "set the channel topic: x"},
					{TS: at(10, 0), User: ghost, Text: "who am I"},
				},
			},
			{
				ID: random, Name: "random", Creator: bob,
				Members: []string{bob, cat, botUser},
				Messages: []slackfake.Message{
					{TS: tsHi, User: cat, Text: "hi all"},
					{TS: tsHey, User: bob, Text: "<@" + cat + "> hey"},
				},
			},
			{
				ID: noBot, Name: "no-bot", Creator: ada,
				Members:  []string{ada},
				Messages: []slackfake.Message{{TS: at(30, 0), User: ada, Text: "secret"}},
			},
		},
	}
}

// env is a fake Slack behind a contract recorder, and a service pointed
// at it. Every exchange is checked against the spec and the recorded key
// paths when the test ends (see contract_test.go).
type env struct {
	t    *testing.T
	fake *slackfake.Server
	rec  *apicontract.Recorder
	svc  *Service
	logs *syncbuf.Buffer
	// noContract, when set, is why this test's exchanges are not checked.
	noContract string
}

func newEnv(t *testing.T, w slackfake.World, pageSize int) *env {
	t.Helper()
	fake := slackfake.New(w)
	fake.SetClock(func() time.Time { return startedAt })
	rec := apicontract.NewRecorder(fake)
	srv := httptest.NewServer(rec)
	e := &env{
		t: t, fake: fake, rec: rec, logs: &syncbuf.Buffer{},
		svc: New(Options{APIURL: srv.URL, PageSize: pageSize, Now: func() time.Time { return startedAt }}),
	}
	t.Cleanup(func() {
		srv.Close()
		if e.noContract == "" && !t.Failed() {
			checkContract(t, rec.Exchanges())
		}
	})
	return e
}

func (e *env) runContext(onboarding bool, settings string) *integrations.RunContext {
	return &integrations.RunContext{
		RunID:      "run-1",
		Onboarding: onboarding,
		StartedAt:  startedAt,
		Integration: integrations.Integration{
			ID: "integration-1", TenantID: "tenant-1", Platform: Platform, Identifier: teamID,
			Settings: json.RawMessage(settings), Token: testToken,
		},
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// runOut is what a whole run produced.
type runOut struct {
	pipeline   pipelineData
	activities []integrations.Activity // as emitted, in order
	members    []integrations.Member
	processed  []integrations.Stream
	settings   json.RawMessage
}

// rows de-duplicates activities the way the store does: one row per
// (type, sourceId).
func (o runOut) rows() map[string]integrations.Activity {
	out := map[string]integrations.Activity{}
	for _, a := range o.activities {
		k := a.Type + "/" + a.SourceID
		if _, ok := out[k]; !ok {
			out[k] = a
		}
	}
	return out
}

func (o runOut) count(name string) int {
	n := 0
	for _, s := range o.processed {
		if s.Name == name {
			n++
		}
	}
	return n
}

// run drives a whole run the way the engine does: preprocess, root
// streams, then a FIFO queue where new streams go before the next page,
// and a check run drops the next page when IsProcessingFinished says so.
func (e *env) run(run *integrations.RunContext) runOut {
	e.t.Helper()
	ctx := context.Background()
	var out runOut
	pd, err := e.svc.Preprocess(ctx, run)
	require.NoError(e.t, err)
	run.PipelineData = pd
	require.NoError(e.t, json.Unmarshal(pd, &out.pipeline))
	queue, err := e.svc.GetStreams(ctx, run)
	require.NoError(e.t, err)
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		res, err := e.svc.ProcessStream(ctx, run, st)
		require.NoError(e.t, err, "stream %s %s", st.Name, st.Metadata)
		out.processed = append(out.processed, st)
		out.activities = append(out.activities, res.Activities...)
		out.members = append(out.members, res.Members...)
		queue = append(queue, res.NewStreams...)
		if res.NextPage != nil && (run.Onboarding || !e.svc.IsProcessingFinished(run, st, res)) {
			queue = append(queue, *res.NextPage)
		}
	}
	out.settings, err = e.svc.Postprocess(ctx, run, integrations.RunOutcome{})
	require.NoError(e.t, err)
	return out
}
