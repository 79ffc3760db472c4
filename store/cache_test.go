package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/pgtest"
)

// countingConn counts the bytes the client reads from the server.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// A Dev.to onboarding's settings and pipeline data grow with its articles,
// and it has one stream per article. What the streams read must grow
// linearly with the articles, not with their square: the documents are
// read once per worker, then only their versions.
func TestStreamReadsGrowLinearlyWithTheArticles(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	measure := func(articles int) int64 {
		var read atomic.Int64
		s, err := open(ctx, url, func(cfg *pgxpool.Config) {
			dial := cfg.ConnConfig.DialFunc
			cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return countingConn{Conn: c, n: &read}, nil
			}
		})
		require.NoError(t, err)
		defer s.Close()
		type article struct {
			ID            int64  `json:"id"`
			URL           string `json:"url"`
			Title         string `json:"title"`
			LastCommentAt string `json:"lastCommentAt"`
		}
		var list []article
		var streams []integrations.Stream
		for i := range articles {
			list = append(list, article{ID: int64(100000 + i), URL: fmt.Sprintf("https://dev.to/ann/article-%d", i),
				Title: fmt.Sprintf("Article number %d", i), LastCommentAt: "2026-01-01T00:00:00Z"})
			streams = append(streams, integrations.NewStream(fmt.Sprint(100000+i), map[string]int{"articleId": 100000 + i}))
		}
		settings, _ := json.Marshal(map[string]any{"users": []string{"ann"}, "articles": list})
		pipeline, _ := json.Marshal(map[string]any{"articles": list, "articlesFromAPI": list})
		tenant := uuid.NewString()
		integ, err := s.CreateIntegration(ctx, NewIntegration{TenantID: tenant, Platform: "devto", Status: StatusInProgress, Settings: settings})
		require.NoError(t, err)
		runID := uuid.NewString()
		require.NoError(t, s.StartRun(ctx, NewRun{ID: runID, TenantID: tenant, IntegrationID: integ}, "wf"))
		require.NoError(t, s.SetPipelineData(ctx, runID, pipeline))
		r, err := s.GetRun(ctx, runID)
		require.NoError(t, err)
		_, err = s.AddStreams(ctx, r, streams)
		require.NoError(t, err)
		ids, err := s.NextStreams(ctx, runID, articles)
		require.NoError(t, err)
		require.Len(t, ids, articles)

		read.Store(0)
		// What ProcessStream reads per stream (activities.runContext).
		for _, id := range ids {
			st, err := s.GetStream(ctx, id)
			require.NoError(t, err)
			r, err := s.GetRun(ctx, st.RunID)
			require.NoError(t, err)
			require.JSONEq(t, string(pipeline), string(r.PipelineData))
			in, err := s.GetIntegration(ctx, r.IntegrationID)
			require.NoError(t, err)
			require.JSONEq(t, string(settings), string(in.Settings))
		}
		return read.Load()
	}
	small, large := measure(100), measure(400)
	ratio := float64(large) / float64(small)
	t.Logf("bytes read by the streams: %d for 100 articles, %d for 400 (x%.1f; linear is x4, quadratic x16)", small, large, ratio)
	assert.Less(t, ratio, 6.0, "bytes read must grow linearly with the articles")
}

// A cached document is used only while it is the stored version: a change
// by anyone (here a plain UPDATE, as an operator or the API would make) is
// read at once.
func TestCachedDocumentsFollowChanges(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	defer s.Close()
	tenant := uuid.NewString()
	integ, err := s.CreateIntegration(ctx, NewIntegration{TenantID: tenant, Platform: "devto", Status: StatusDone, Settings: json.RawMessage(`{"users":["a"]}`)})
	require.NoError(t, err)
	runID := uuid.NewString()
	require.NoError(t, s.StartRun(ctx, NewRun{ID: runID, TenantID: tenant, IntegrationID: integ}, "wf"))
	require.NoError(t, s.SetPipelineData(ctx, runID, json.RawMessage(`{"v":1}`)))

	in, err := s.GetIntegration(ctx, integ)
	require.NoError(t, err)
	assert.JSONEq(t, `{"users":["a"]}`, string(in.Settings))
	r, err := s.GetRun(ctx, runID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"v":1}`, string(r.PipelineData))

	_, err = s.Pool().Exec(ctx, `UPDATE integrations SET settings = '{"users":["b"]}'`)
	require.NoError(t, err)
	_, err = s.Pool().Exec(ctx, `UPDATE "integrationRuns" SET "pipelineData" = '{"v":2}'`)
	require.NoError(t, err)
	// Counters on the same rows do not change the versions.
	_, err = s.Pool().Exec(ctx, `UPDATE integrations SET "limitCount" = 5`)
	require.NoError(t, err)

	in2, err := s.GetIntegration(ctx, integ)
	require.NoError(t, err)
	assert.JSONEq(t, `{"users":["b"]}`, string(in2.Settings))
	assert.Greater(t, in2.SettingsVersion, in.SettingsVersion)
	r2, err := s.GetRun(ctx, runID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"v":2}`, string(r2.PipelineData))

	// Compare-and-set: the old version is refused, the current one taken.
	assert.ErrorIs(t, s.ReplaceSettings(ctx, integ, json.RawMessage(`{"users":["c"]}`), in.SettingsVersion), ErrSettingsChanged)
	require.NoError(t, s.ReplaceSettings(ctx, integ, json.RawMessage(`{"users":["c"]}`), in2.SettingsVersion))
	in3, err := s.GetIntegration(ctx, integ)
	require.NoError(t, err)
	assert.JSONEq(t, `{"users":["c"]}`, string(in3.Settings))
}
