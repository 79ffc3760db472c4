package devto

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto/devtofake"
	"github.com/crowdflow/crowdflow/internal/apicontract"
)

// at is a fixed day of the test world.
func at(day, hour int) time.Time { return time.Date(2026, time.May, day, hour, 0, 0, 0, time.UTC) }

// testWorld: alice posts 501 under acme (so both lists give it) and 502
// alone; bob's 503 is not followed. 501's tree has replies, a deleted
// comment with a reply, and a comment by a deleted account with a reply.
func testWorld() devtofake.World {
	return devtofake.World{
		Users: []devtofake.User{
			{ID: 1001, Username: "alice", Name: "Alice Example", Summary: "Writes Go.", Location: "Berlin", JoinedAt: at(1, 0)},
			{ID: 1002, Username: "bob", JoinedAt: at(1, 0)},
			{ID: 1003, Username: "carol", Name: "Carol Gone", JoinedAt: at(1, 0), Deleted: true},
		},
		Organizations: []devtofake.Organization{{Username: "acme", Name: "Acme", JoinedAt: at(1, 0)}},
		Articles: []devtofake.Article{
			{ID: 501, Title: "Hello Acme", UserID: 1001, Organization: "acme", PublishedAt: at(2, 9), Tags: []string{"go"},
				Comments: []devtofake.Comment{
					{IDCode: "c1", UserID: 1002, CreatedAt: at(2, 10), BodyHTML: `<p>Hi <b>there</b><script>alert(1)</script></p>`,
						Children: []devtofake.Comment{
							{IDCode: "c2", UserID: 1001, CreatedAt: at(2, 11), BodyHTML: `<p>Thanks!</p>`,
								Children: []devtofake.Comment{
									{IDCode: "c3", UserID: 1002, CreatedAt: at(2, 12), BodyHTML: `<p onclick="x()">Sure</p>`},
								}},
						}},
					{IDCode: "c4", Deleted: true, CreatedAt: at(3, 10),
						Children: []devtofake.Comment{
							{IDCode: "c5", UserID: 1001, CreatedAt: at(3, 11), BodyHTML: `<p>Reply to a deleted one</p>`},
						}},
					{IDCode: "c6", UserID: 1003, CreatedAt: at(3, 12), BodyHTML: `<p>By a deleted account</p>`,
						Children: []devtofake.Comment{
							{IDCode: "c7", UserID: 1002, CreatedAt: at(3, 13), BodyHTML: `<p>Reply to it</p>`},
						}},
				}},
			{ID: 502, Title: "Solo", UserID: 1001, PublishedAt: at(4, 9)},
			{ID: 503, Title: "Not followed", UserID: 1002, PublishedAt: at(4, 10),
				Comments: []devtofake.Comment{{IDCode: "d1", UserID: 1001, CreatedAt: at(4, 11), BodyHTML: "<p>x</p>"}}},
		},
	}
}

// fixture is a service wired to a fake behind a recorder.
type fixture struct {
	fake *devtofake.Server
	rec  *apicontract.Recorder
	srv  *httptest.Server
	svc  *Service
}

func newFixture(t *testing.T, w devtofake.World, pageSize int) *fixture {
	t.Helper()
	f := &fixture{fake: devtofake.New(w)}
	// The tests here are about other things than Dev.to's 3 requests a
	// second: neither the fake's throttle nor the service's pacing (see
	// TestThrottle for both).
	f.fake.SetThrottle(0)
	f.rec = apicontract.NewRecorder(f.fake.Handler())
	f.srv = httptest.NewServer(f.rec)
	t.Cleanup(f.srv.Close)
	f.svc = New(Options{BaseURL: f.srv.URL + "/api", HTTPClient: f.srv.Client(), PageSize: pageSize, RequestsPerSecond: -1})
	return f
}

// run is what a run left behind.
type run struct {
	pipeline   pipelineData
	streams    []integrations.Stream
	activities []integrations.Activity
	streamErrs map[string]error
	settings   json.RawMessage
}

// runOnce plays the engine's part for one run: preprocess, streams in
// order (a failed stream ends up in RunOutcome.Unfinished, as one that
// spent its retries), postprocess. It fails the test if a step other than
// ProcessStream fails.
func runOnce(t *testing.T, svc *Service, settings string, token string) run {
	t.Helper()
	ctx := context.Background()
	rc := &integrations.RunContext{
		RunID:       "run-1",
		StartedAt:   time.Now(),
		Integration: integrations.Integration{ID: "int-1", Platform: Platform, Settings: json.RawMessage(settings), Token: token},
	}
	pd, err := svc.Preprocess(ctx, rc)
	require.NoError(t, err)
	rc.PipelineData = pd
	var r run
	require.NoError(t, json.Unmarshal(pd, &r.pipeline))
	r.streams, err = svc.GetStreams(ctx, rc)
	require.NoError(t, err)
	r.streamErrs = map[string]error{}
	var outcome integrations.RunOutcome
	for _, s := range r.streams {
		res, err := svc.ProcessStream(ctx, rc, s)
		if err != nil {
			r.streamErrs[s.Name] = err
			outcome.Unfinished = append(outcome.Unfinished, s)
			continue
		}
		require.Nil(t, res.NextPage)
		require.Empty(t, res.NewStreams)
		r.activities = append(r.activities, res.Activities...)
	}
	r.settings, err = svc.Postprocess(ctx, rc, outcome)
	require.NoError(t, err)
	return r
}

func streamNames(ss []integrations.Stream) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func sourceIDs(as []integrations.Activity) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.SourceID)
	}
	return out
}

// newRawServer answers every request with status and body; it returns
// its URL.
func newRawServer(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
