package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/slack"
	"github.com/crowdflow/crowdflow/integrations/slack/slackfake"
	"github.com/crowdflow/crowdflow/internal/quotafake"
	"github.com/crowdflow/crowdflow/store"
)

// The quota-bound benchmark (issue 11, benchmark 2): a Slack onboarding
// through the real worker, the in-process Temporal server and PostgreSQL,
// against the Slack fake behind internal/quotafake, which answers after
// 100 ms and allows 20 requests a second per token (Retry-After only on a
// 429, as Slack). The figure is the onboarding's time divided by the least
// time the quota allows for the requests the fake served (served ÷ 20 s),
// first with one stream in flight (PARALLEL_STREAMS_SLACK=1), then with
// the number the Slack service's Config and the environment give, when it
// is more than one:
//
//	go test ./e2e -run '^$' -bench QuotaBound -benchtime 1x
//
// BENCH_QUOTA_CHANNELS (default 50) sizes the workspace; BENCH_QUOTA_RPS
// (20) and BENCH_QUOTA_LATENCY_MS (100) set the fake's quota and latency;
// BENCH_QUOTA_HEADERS=1 adds X-RateLimit-* headers to every answer.

// slackBenchShape is the size of a generated Slack workspace.
type slackBenchShape struct {
	Channels int
	// Messages top-level messages per channel, the first Threads of them
	// thread parents with Replies replies each.
	Messages, Threads, Replies int
	// Members people per channel (and the bot), of Users people in all.
	Members, Users int
}

// activities is how many activities an onboarding of the workspace
// stores: every message and reply, and one join per person of a channel
// (conversations.members; the bot has none).
func (s slackBenchShape) activities() int {
	return s.Channels * (s.Messages + s.Threads*s.Replies + s.Members)
}

// streams is how many streams its onboarding has at least: users.list, a
// channel, its members and its threads (more when a list takes pages).
func (s slackBenchShape) streams() int {
	return 1 + s.Channels*(2+s.Threads)
}

const slackBenchToken = "xoxb-0000000042-bench-fake-token"

// slackBenchWorld makes the workspace: ids as Slack's, every ts unique
// across channels (an activity's sourceId is its ts), history ten days
// old.
func slackBenchWorld(s slackBenchShape) slackfake.World {
	const bot = "UBENCHBOT01"
	w := slackfake.World{
		Team:      slackfake.Team{ID: "TBENCH0001", Name: "Bench", Domain: "bench-e2e"},
		BotToken:  slackBenchToken,
		BotUserID: bot,
		Users:     []slackfake.User{{ID: bot, Name: "benchbot", IsBot: true, BotID: "BBENCHBOT01", AppID: "ABENCH1"}},
	}
	user := func(i int) string { return fmt.Sprintf("UB%08d", i%s.Users) }
	for i := 0; i < s.Users; i++ {
		w.Users = append(w.Users, slackfake.User{ID: user(i), Name: fmt.Sprintf("person%d", i), RealName: fmt.Sprintf("Person %d", i)})
	}
	base := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	seq := 0
	ts := func() string {
		seq++
		return slackfake.TS(base.Add(time.Duration(seq) * time.Millisecond))
	}
	for c := 0; c < s.Channels; c++ {
		members := []string{bot}
		for j := 0; j < s.Members; j++ {
			members = append(members, user(c*s.Members+j))
		}
		ch := slackfake.Channel{ID: fmt.Sprintf("CB%08d", c), Name: fmt.Sprintf("channel-%d", c), Creator: members[1], Members: members}
		for m := 0; m < s.Messages; m++ {
			parent := slackfake.Message{TS: ts(), User: members[1+m%s.Members], Text: fmt.Sprintf("message %d of channel %d", m, c)}
			ch.Messages = append(ch.Messages, parent)
			if m >= s.Threads {
				continue
			}
			for r := 0; r < s.Replies; r++ {
				ch.Messages = append(ch.Messages, slackfake.Message{
					TS: ts(), ThreadTS: parent.TS, User: members[1+(m+r+1)%s.Members], Text: fmt.Sprintf("reply %d", r),
				})
			}
		}
		w.Channels = append(w.Channels, ch)
	}
	return w
}

// quotaOptions are the fake's latency (BENCH_QUOTA_LATENCY_MS, default
// 100) and quota (the variable rpsVar, default defRPS, requests a second
// per token), from the environment.
func quotaOptions(b *testing.B, refusal quotafake.Refusal, rpsVar string, defRPS int) quotafake.Options {
	opts := quotafake.Options{
		Latency: time.Duration(benchSize(b, "BENCH_QUOTA_LATENCY_MS", 100)) * time.Millisecond,
		Limit:   benchSize(b, rpsVar, defRPS),
		Window:  time.Second,
		Refusal: refusal,
	}
	if os.Getenv("BENCH_QUOTA_HEADERS") == "1" {
		opts.Headers = quotafake.HeadersXRateLimit
	}
	return opts
}

// quotaFigures reports what a quota-bound onboarding measured.
func quotaFigures(b *testing.B, q *quotafake.Middleware, elapsed time.Duration) {
	total := q.Total()
	minimum := q.MinimumTime(total.Served)
	b.ReportMetric(elapsed.Seconds(), "s")
	b.ReportMetric(minimum.Seconds(), "min-s")
	b.ReportMetric(elapsed.Seconds()/minimum.Seconds(), "time/min")
	b.ReportMetric(float64(total.Served), "requests")
	b.ReportMetric(float64(total.Limited), "429s")
	b.Logf("%s: %.1f s for %d requests served (minimum %.1f s at %d/%s): %.2f × the minimum, %d answered 429",
		b.Name(), elapsed.Seconds(), total.Served, minimum.Seconds(), q.Limit(), q.Window(),
		elapsed.Seconds()/minimum.Seconds(), total.Limited)
}

func BenchmarkQuotaBound(b *testing.B) {
	shape := slackBenchShape{
		Channels: benchSize(b, "BENCH_QUOTA_CHANNELS", 50),
		Messages: 30, Threads: 4, Replies: 3, Members: 5, Users: 100,
	}
	world := slackBenchWorld(shape)
	// The number of streams in flight the Slack service runs with,
	// before this benchmark sets anything.
	configured := slack.New(slack.Options{}).Config().StreamsInFlight(slack.Platform)
	run := func(b *testing.B, streams int) {
		b.Setenv("PARALLEL_STREAMS_SLACK", strconv.Itoa(streams))
		b.Logf("workspace: %d channels, at least %d streams, %d activities; %d streams in flight", shape.Channels, shape.streams(), shape.activities(), streams)
		for i := 0; i < b.N; i++ {
			fake := slackfake.New(world)
			q := quotafake.New(fake, quotaOptions(b, quotafake.SlackRefusal, "BENCH_QUOTA_RPS", 20))
			srv := httptest.NewServer(q)
			e := newEnv(b, []integrations.Service{slack.New(slack.Options{APIURL: srv.URL + "/"})})
			start := time.Now()
			started, state := connectAndWait(b, e, slack.Platform, `{}`, slackBenchToken)
			elapsed := time.Since(start)
			b.StopTimer()
			require.Equal(b, store.RunProcessed, state, started.WorkflowID)
			require.Equal(b, shape.activities(), e.count(`SELECT count(*) FROM activities`))
			require.Equal(b, shape.Users, e.count(`SELECT count(*) FROM members`))
			require.Equal(b, shape.Users, e.count(`SELECT count(*) FROM "memberIdentities"`))
			require.GreaterOrEqual(b, e.count(`SELECT count(*) FROM "integrationStreams"`), shape.streams())
			quotaFigures(b, q, elapsed)
			b.Logf("calls: %s", slackCalls(fake))
			srv.Close()
			b.StartTimer()
		}
	}
	b.Run("streams=1", func(b *testing.B) { run(b, 1) })
	if configured > 1 {
		b.Run(fmt.Sprintf("streams=%d", configured), func(b *testing.B) { run(b, configured) })
	} else {
		b.Logf("the Slack service runs one stream at a time (Config and PARALLEL_STREAMS[_SLACK]): no second measure")
	}
}

// benchTenant is the tenant of the benchmarks' integrations.
const benchTenant = "8f9a3d2e-0c1b-4a5d-9e6f-7a8b9c0d1e2f"

// connectAndWait connects an integration of benchTenant and waits (up to
// two hours: a large benchmark takes long) for its onboarding to end.
func connectAndWait(b *testing.B, e *env, platform, settings, token string) (control.Started, string) {
	b.Helper()
	started, err := e.ctl.Connect(context.Background(), control.ConnectInput{
		TenantID: benchTenant, Platform: platform, Settings: []byte(settings), Token: token,
	})
	require.NoError(b, err)
	return started, waitLong(b, e, started)
}

// waitLong waits up to two hours for a run to end.
func waitLong(b testing.TB, e *env, started control.Started) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	state, err := e.ctl.Wait(ctx, started, nil)
	require.NoError(b, err)
	return state
}
