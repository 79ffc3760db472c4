package discord_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/discord"
	"github.com/crowdflow/crowdflow/integrations/discord/discordfake"
	"github.com/crowdflow/crowdflow/internal/apicontract"
	"github.com/crowdflow/crowdflow/internal/syncbuf"
)

const testToken = "test-bot-token-7f3a9c"

// env is a fake Discord behind a contract recorder, and a service pointed
// at it. Every exchange of the test is checked against the API owner's
// spec when the test ends (contract_test.go).
type env struct {
	fake *discordfake.Fake
	srv  *httptest.Server
	svc  *discord.Service
	logs *syncbuf.Buffer
}

type envOpts struct {
	switches   discordfake.Switches
	apiVersion string
	now        func() time.Time
}

func newEnv(t *testing.T, w discordfake.World, o envOpts) *env {
	t.Helper()
	if o.switches.Token == "" {
		o.switches.Token = testToken
	}
	fake := discordfake.New(w, o.switches)
	rec := apicontract.NewRecorder(fake)
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { checkContract(t, rec.Exchanges()) })
	svc := discord.New(discord.Options{APIURL: srv.URL, HTTPClient: srv.Client(), APIVersion: o.apiVersion, Now: o.now})
	return &env{fake: fake, srv: srv, svc: svc, logs: &syncbuf.Buffer{}}
}

// run returns a RunContext for the env's guild.
func (e *env) run(guildID string, onboarding bool, startedAt time.Time, extra map[string]any) *integrations.RunContext {
	settings := map[string]any{"guildId": guildID}
	for k, v := range extra {
		settings[k] = v
	}
	b, _ := json.Marshal(settings)
	return &integrations.RunContext{
		RunID:      "run-1",
		Onboarding: onboarding,
		StartedAt:  startedAt,
		Integration: integrations.Integration{
			ID: "integration-1", TenantID: "tenant-1", Platform: discord.Platform,
			Identifier: guildID, Settings: b, Token: testToken,
		},
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// outcome is what a run produced, as the engine would have stored it.
type outcome struct {
	pipeline   json.RawMessage
	streams    []integrations.Stream // every stream processed, in order
	activities []integrations.Activity
	members    []integrations.Member
	sleeps     []time.Duration
	// duplicates counts new streams dropped because the engine's unique
	// key (run, name, metadata) already held them.
	duplicates int
	finished   int // next pages dropped by IsProcessingFinished
}

type hooks struct {
	// afterPreprocess runs between Preprocess and the streams: the world
	// may change then, as it does between the steps of a real run.
	afterPreprocess func()
}

// runAll plays the engine: Preprocess, GetStreams, then the FIFO queue of
// streams, each stored once per (name, metadata); in check runs a next
// page is dropped when IsProcessingFinished says so. Sleeps are recorded,
// not slept.
func runAll(t *testing.T, svc *discord.Service, run *integrations.RunContext, h hooks) *outcome {
	t.Helper()
	ctx := context.Background()
	out := &outcome{}
	pd, err := svc.Preprocess(ctx, run)
	require.NoError(t, err)
	out.pipeline = pd
	run.PipelineData = pd
	if h.afterPreprocess != nil {
		h.afterPreprocess()
	}
	roots, err := svc.GetStreams(ctx, run)
	require.NoError(t, err)

	seen := map[string]bool{}
	var queue []integrations.Stream
	push := func(s integrations.Stream) bool {
		k := s.Name + "\x00" + string(s.Metadata)
		if seen[k] {
			return false
		}
		seen[k] = true
		queue = append(queue, s)
		return true
	}
	for _, s := range roots {
		push(s)
	}
	for steps := 0; len(queue) > 0; steps++ {
		require.Less(t, steps, 10000, "runaway run")
		s := queue[0]
		queue = queue[1:]
		res, err := svc.ProcessStream(ctx, run, s)
		require.NoError(t, err, "stream %s %s", s.Name, s.Metadata)
		out.streams = append(out.streams, s)
		out.activities = append(out.activities, res.Activities...)
		out.members = append(out.members, res.Members...)
		if res.Sleep > 0 {
			out.sleeps = append(out.sleeps, res.Sleep)
		}
		for _, ns := range res.NewStreams {
			if !push(ns) {
				out.duplicates++
			}
		}
		if res.NextPage != nil {
			if !run.Onboarding && svc.IsProcessingFinished(run, s, res) {
				out.finished++
				continue
			}
			push(*res.NextPage)
		}
	}
	return out
}

func (o *outcome) byType(typ string) map[string]integrations.Activity {
	m := map[string]integrations.Activity{}
	for _, a := range o.activities {
		if a.Type == typ {
			m[a.SourceID] = a
		}
	}
	return m
}

// callsTo returns the fake's calls whose path ends with suffix.
func callsTo(f *discordfake.Fake, suffix string) []discordfake.Call {
	var out []discordfake.Call
	for _, c := range f.Calls() {
		if strings.HasSuffix(c.Path, suffix) {
			out = append(out, c)
		}
	}
	return out
}
