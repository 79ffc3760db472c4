package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/discord"
	"github.com/crowdflow/crowdflow/integrations/discord/discordfake"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/quotafake"
	"github.com/crowdflow/crowdflow/store"
)

// The shared-credential benchmark (issue 11, benchmark 3): one Discord
// bot token in two guilds, each guild an integration of its own tenant,
// both onboarded at once by two workers (two worker instances with their
// own store and pool and their own Discord service, on one database and
// one task queue, as two worker processes would be) against one API that
// answers after 100 ms and allows the token 50 requests a second, as
// Discord's global limit does (its 429 says "global": true):
//
//	go test ./e2e -run '^$' -bench SharedCredential -benchtime 1x
//
// It prints the 429s the API answered and the time both onboardings took
// against the least the quota allows for the requests served.
// BENCH_SHARED_CHANNELS (default 100) sizes each guild, BENCH_SHARED_RPS
// (50) sets the quota, BENCH_QUOTA_LATENCY_MS (100) the latency.

const discordBenchToken = "bench-discord-bot-token"

// discordBenchShape is the size of a generated guild.
type discordBenchShape struct {
	// Channels text channels of Messages messages each, by Users members.
	Channels, Messages, Users int
}

// activities is what an onboarding of the guild stores: every message
// and every member's join.
func (s discordBenchShape) activities() int { return s.Channels*s.Messages + s.Users }

// discordBenchGuild makes guild g: snowflakes unique across guilds (g
// goes into their low bits), messages a millisecond apart, ten days old.
func discordBenchGuild(g int, s discordBenchShape) discordfake.World {
	seq := 0
	id := func(t time.Time) string {
		seq++
		return discordfake.Snowflake(t, g<<10|seq%1024)
	}
	old := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	w := discordfake.World{Guild: discordfake.Guild{ID: id(old), Name: fmt.Sprintf("Bench guild %d", g)}}
	w.BotUserID = id(old.Add(time.Second))
	w.Users = append(w.Users, discordfake.User{ID: w.BotUserID, Username: "bench-bot", Discriminator: "1234", Bot: true})
	w.Members = append(w.Members, discordfake.Member{UserID: w.BotUserID, JoinedAt: old.Add(time.Hour)})
	users := make([]string, s.Users)
	for u := range users {
		users[u] = id(old.Add(time.Duration(2+u) * time.Second))
		w.Users = append(w.Users, discordfake.User{ID: users[u], Username: fmt.Sprintf("g%d-person%d", g, u)})
		w.Members = append(w.Members, discordfake.Member{UserID: users[u], JoinedAt: old.Add(time.Duration(24+u) * time.Hour)})
	}
	base := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	at := 0
	for c := 0; c < s.Channels; c++ {
		ch := discordfake.Channel{ID: id(old.Add(time.Duration(100000+c) * time.Second)), Name: fmt.Sprintf("channel-%d", c),
			Type: discordfake.ChannelText, Position: c}
		w.Channels = append(w.Channels, ch)
		for m := 0; m < s.Messages; m++ {
			at++
			t := base.Add(time.Duration(at) * time.Millisecond)
			w.Messages = append(w.Messages, discordfake.Message{ID: discordfake.Snowflake(t, g), ChannelID: ch.ID,
				AuthorID: users[(c+m)%s.Users], Type: discordfake.MessageDefault, Timestamp: t, Content: fmt.Sprintf("message %d", m)})
		}
	}
	return w
}

// discordRouter serves several guilds' fakes as the one API they are:
// a request goes to the fake of the guild or channel its path names, one
// naming neither to the first.
type discordRouter struct {
	fakes []http.Handler
	byID  map[string]http.Handler
}

func newDiscordRouter(worlds []discordfake.World) *discordRouter {
	r := &discordRouter{byID: map[string]http.Handler{}}
	for _, w := range worlds {
		f := discordfake.New(w, discordfake.Switches{Token: discordBenchToken})
		r.fakes = append(r.fakes, f)
		r.byID[w.Guild.ID] = f
		for _, c := range w.Channels {
			r.byID[c.ID] = f
		}
	}
	return r
}

func (d *discordRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(r.URL.Path, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "guilds" || parts[i] == "channels" {
			if f := d.byID[parts[i+1]]; f != nil {
				f.ServeHTTP(w, r)
				return
			}
		}
	}
	d.fakes[0].ServeHTTP(w, r)
}

// startSecondWorker starts another worker on e's task queue with its own
// store (pool) on e's database and its own services, as a second worker
// process would; it stops when the benchmark ends.
func startSecondWorker(b testing.TB, e *env, services []integrations.Service) {
	st, err := store.Open(context.Background(), e.dbURL)
	require.NoError(b, err)
	b.Cleanup(st.Close)
	st.SetKeyring(e.ring)
	reg := registry.New(services...)
	w := temporalServer().NewWorkerWithOptions(e.queue, func(r worker.Registry) {
		e.run.Register(r, &activities.Activities{
			Store: st, Registry: reg, HeartbeatInterval: 100 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		})
	}, worker.Options{})
	b.Cleanup(w.Stop)
}

func BenchmarkSharedCredential(b *testing.B) {
	shape := discordBenchShape{Channels: benchSize(b, "BENCH_SHARED_CHANNELS", 100), Messages: 150, Users: 50}
	worlds := []discordfake.World{discordBenchGuild(1, shape), discordBenchGuild(2, shape)}
	tenants := []string{benchTenant, "5b0c7a2e-4d3f-4e8a-9b1c-2d3e4f5a6b7c"}
	b.Logf("two guilds of %d channels, %d activities each; one bot token; %d streams in flight per run",
		shape.Channels, shape.activities(), discord.New(discord.Options{}).Config().StreamsInFlight(discord.Platform))
	for i := 0; i < b.N; i++ {
		q := quotafake.New(newDiscordRouter(worlds), quotaOptions(b, quotafake.DiscordRefusal, "BENCH_SHARED_RPS", 50))
		srv := httptest.NewServer(q)
		e := newEnv(b, []integrations.Service{discord.New(discord.Options{APIURL: srv.URL})})
		startSecondWorker(b, e, []integrations.Service{discord.New(discord.Options{APIURL: srv.URL})})

		start := time.Now()
		var runs []control.Started
		for g, w := range worlds {
			started, err := e.ctl.Connect(context.Background(), control.ConnectInput{
				TenantID: tenants[g], Platform: discord.Platform, Settings: []byte(fmt.Sprintf(`{"guildId": %q}`, w.Guild.ID)), Token: discordBenchToken,
			})
			require.NoError(b, err)
			runs = append(runs, started)
		}
		for _, r := range runs {
			require.Equal(b, store.RunProcessed, waitLong(b, e, r), r.WorkflowID)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		for g := range worlds {
			require.Equal(b, shape.activities(), e.count(`SELECT count(*) FROM activities WHERE "tenantId" = $1`, tenants[g]), "tenant %d", g)
			require.Equal(b, shape.Users, e.count(`SELECT count(*) FROM members WHERE "tenantId" = $1`, tenants[g]), "tenant %d", g)
		}
		require.Len(b, q.Tokens(), 1, "every request on the one bot token")
		quotaFigures(b, q, elapsed)
		srv.Close()
		b.StartTimer()
	}
}
