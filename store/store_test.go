package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/pgtest"
	"github.com/crowdflow/crowdflow/internal/secrets"
	"github.com/crowdflow/crowdflow/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	ring, err := secrets.NewRandomKeyring()
	require.NoError(t, err)
	s.SetKeyring(ring)
	return s
}

// newRun stores a tenant, an integration, a processing run and one pending stream.
func newRun(t testing.TB, s *store.Store, platform string) (*store.Run, *store.Stream) {
	t.Helper()
	ctx := context.Background()
	tenant := uuid.NewString()
	integ, err := s.CreateIntegration(ctx, store.NewIntegration{TenantID: tenant, Platform: platform, Status: store.StatusInProgress})
	require.NoError(t, err)
	runID := uuid.NewString()
	require.NoError(t, s.StartRun(ctx, store.NewRun{ID: runID, TenantID: tenant, IntegrationID: integ, Onboarding: true, WorkflowID: "integration/" + integ}, "wf-run"))
	run, err := s.GetRun(ctx, runID)
	require.NoError(t, err)
	_, err = s.AddStreams(ctx, run, []integrations.Stream{integrations.NewStream("root", map[string]int{"page": 1})})
	require.NoError(t, err)
	ids, err := s.NextStreams(ctx, runID, 10)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	st, err := s.GetStream(ctx, ids[0])
	require.NoError(t, err)
	return run, st
}

type memberView struct {
	DisplayName string
	Emails      []string
	Attributes  map[string]map[string]any
	JoinedAt    time.Time
}

func member(t *testing.T, s *store.Store, tenant, platform, username string) memberView {
	t.Helper()
	var v memberView
	var attrs []byte
	err := s.Pool().QueryRow(context.Background(), `SELECT m."displayName", m.emails, m.attributes, m."joinedAt"
		FROM members m JOIN "memberIdentities" i ON i."memberId" = m.id
		WHERE i."tenantId" = $1 AND i.platform = $2 AND i.username = $3`, tenant, platform, username).
		Scan(&v.DisplayName, &v.Emails, &attrs, &v.JoinedAt)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(attrs, &v.Attributes))
	return v
}

func TestMemberMergeRules(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	run, _ := newRun(t, s, "devto")
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	write := func(platform string, res *integrations.StreamResult) {
		t.Helper()
		tx, err := s.Pool().Begin(ctx)
		require.NoError(t, err)
		_, err = store.WriteRecords(ctx, tx, store.Target{TenantID: run.TenantID, IntegrationID: run.IntegrationID, Platform: platform}, res)
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
	}
	act := func(id string, ts time.Time, m integrations.Member) integrations.Activity {
		return integrations.Activity{Type: "comment", SourceID: id, Timestamp: ts, Member: m}
	}
	// First page: ann twice on the page; joinedAt comes from her earliest activity.
	write("devto", &integrations.StreamResult{Activities: []integrations.Activity{
		act("c2", t0.Add(time.Hour), integrations.Member{Username: "ann", DisplayName: "Ann", Emails: []string{"b@x.io"}, Attributes: map[string]any{"bio": "old"}}),
		act("c1", t0, integrations.Member{Username: "ann", DisplayName: "Ann Other", Emails: []string{"a@x.io"}, Attributes: map[string]any{"location": "Oslo"}}),
	}})
	m := member(t, s, run.TenantID, "devto", "ann")
	assert.Equal(t, "Ann", m.DisplayName, "first display name is kept")
	assert.Equal(t, []string{"a@x.io", "b@x.io"}, m.Emails)
	assert.True(t, m.JoinedAt.Equal(t0), "joinedAt = earliest activity, got %s", m.JoinedAt)
	assert.Equal(t, map[string]any{"devto": "old", "default": "old"}, m.Attributes["bio"])

	// Second page: an epoch-ish joinedAt never wins; a real earlier one does; emails are a union.
	write("devto", &integrations.StreamResult{Members: []integrations.Member{
		{Username: "ann", DisplayName: "Changed", Emails: []string{"c@x.io", "a@x.io"}, JoinedAt: time.Unix(100, 0), Attributes: map[string]any{"bio": "new"}},
	}})
	m = member(t, s, run.TenantID, "devto", "ann")
	assert.Equal(t, "Ann", m.DisplayName)
	assert.Equal(t, []string{"a@x.io", "b@x.io", "c@x.io"}, m.Emails)
	assert.True(t, m.JoinedAt.Equal(t0), "epoch date must not win, got %s", m.JoinedAt)
	assert.Equal(t, map[string]any{"devto": "new", "default": "new"}, m.Attributes["bio"])
	assert.Equal(t, map[string]any{"devto": "Oslo", "default": "Oslo"}, m.Attributes["location"])

	write("devto", &integrations.StreamResult{Members: []integrations.Member{{Username: "ann", JoinedAt: t0.Add(-48 * time.Hour)}}})
	m = member(t, s, run.TenantID, "devto", "ann")
	assert.True(t, m.JoinedAt.Equal(t0.Add(-48*time.Hour)), "earlier real date wins, got %s", m.JoinedAt)
	assert.Equal(t, "Ann", m.DisplayName, "a record without a name does not replace a real one")

	// A member first stored without a name (their username stands in) gets
	// the first real name that comes, whichever stream stored what first;
	// a later real name does not replace it.
	write("devto", &integrations.StreamResult{Members: []integrations.Member{{Username: "bob"}}})
	assert.Equal(t, "bob", member(t, s, run.TenantID, "devto", "bob").DisplayName)
	write("devto", &integrations.StreamResult{Members: []integrations.Member{{Username: "bob", DisplayName: "Bobby"}}})
	assert.Equal(t, "Bobby", member(t, s, run.TenantID, "devto", "bob").DisplayName)
	write("devto", &integrations.StreamResult{Members: []integrations.Member{{Username: "bob", DisplayName: "Robert"}}})
	write("devto", &integrations.StreamResult{Members: []integrations.Member{{Username: "bob"}}})
	assert.Equal(t, "Bobby", member(t, s, run.TenantID, "devto", "bob").DisplayName)
}

func TestCommitStreamIsIdempotent(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	run, st := newRun(t, s, "devto")
	ts := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	next := integrations.NewStream("root", map[string]int{"page": 2})
	page := store.Page{Stream: st, Platform: "devto", NextPage: &next, Result: &integrations.StreamResult{
		Activities: []integrations.Activity{
			{Type: "comment", SourceID: "p1", Timestamp: ts, Body: "parent", Member: integrations.Member{Username: "bob"}},
			{Type: "comment", SourceID: "c1", SourceParentID: "p1", Timestamp: ts.Add(time.Minute), Body: "child", Member: integrations.Member{Username: "eve"}},
		},
		NewStreams: []integrations.Stream{integrations.NewStream("article", map[string]int{"id": 7})},
	}}
	c, err := s.CommitStream(ctx, page)
	require.NoError(t, err)
	assert.Equal(t, store.Committed{Records: 2, NewStreams: 2}, c)

	snapshot := func() string {
		var out string
		require.NoError(t, s.Pool().QueryRow(ctx, `SELECT (
			SELECT json_agg(a ORDER BY a."sourceId") FROM (SELECT id, "memberId", "sourceId", "sourceParentId", "parentId", body, timestamp FROM activities) a)::text
			|| (SELECT json_agg(m ORDER BY m.id) FROM (SELECT id, "displayName", emails, attributes, "joinedAt" FROM members) m)::text
			|| (SELECT json_agg(s ORDER BY s.seq) FROM (SELECT seq, name, metadata, state FROM "integrationStreams") s)::text`).Scan(&out))
		return out
	}
	before := snapshot()

	// The same commit again (an attempt whose completion was lost) writes nothing.
	c, err = s.CommitStream(ctx, page)
	require.NoError(t, err)
	assert.True(t, c.AlreadyProcessed)
	assert.Equal(t, before, snapshot())

	// The same records written under another stream (a second run) change nothing either.
	run2ID := uuid.NewString()
	require.NoError(t, s.StartRun(ctx, store.NewRun{ID: run2ID, TenantID: run.TenantID, IntegrationID: run.IntegrationID}, "x"))
	run2, err := s.GetRun(ctx, run2ID)
	require.NoError(t, err)
	_, err = s.AddStreams(ctx, run2, []integrations.Stream{integrations.NewStream("root", nil)})
	require.NoError(t, err)
	ids, err := s.NextStreams(ctx, run2ID, 1)
	require.NoError(t, err)
	st2, err := s.GetStream(ctx, ids[0])
	require.NoError(t, err)
	_, err = s.CommitStream(ctx, store.Page{Stream: st2, Platform: "devto", Result: &integrations.StreamResult{Activities: page.Result.Activities}})
	require.NoError(t, err)
	var acts, members int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM activities), (SELECT count(*) FROM members)`).Scan(&acts, &members))
	assert.Equal(t, 2, acts)
	assert.Equal(t, 2, members)

	var parentLinked bool
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT c."parentId" = p.id FROM activities c, activities p WHERE c."sourceId" = 'c1' AND p."sourceId" = 'p1'`).Scan(&parentLinked))
	assert.True(t, parentLinked, "child activity linked to its parent")
}

func TestStreamsAreFIFOAndDeduplicated(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	run, _ := newRun(t, s, "devto")
	var streams []integrations.Stream
	for i := 0; i < 5; i++ {
		streams = append(streams, integrations.NewStream("article", map[string]any{"id": i, "title": "t"}))
	}
	// Same metadata with keys in another order is the same stream.
	streams = append(streams, integrations.Stream{Name: "article", Metadata: json.RawMessage(`{"title":"t","id":0}`)})
	n, err := s.AddStreams(ctx, run, streams)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	ids, err := s.NextStreams(ctx, run.ID, 10)
	require.NoError(t, err)
	require.Len(t, ids, 6) // the root stream and five articles
	for i, id := range ids[1:] {
		st, err := s.GetStream(ctx, id)
		require.NoError(t, err)
		var md struct{ ID int }
		require.NoError(t, json.Unmarshal(st.Metadata, &md))
		assert.Equal(t, i, md.ID, "FIFO order")
	}
}

func TestGlobalLimitWindow(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	run, st := newRun(t, s, "devto")
	until, err := s.CheckLimit(ctx, run.IntegrationID, 2, time.Hour)
	require.NoError(t, err)
	assert.True(t, until.IsZero())
	c, err := s.CommitStream(ctx, store.Page{Stream: st, Platform: "devto", Limit: 2, LimitWindow: time.Hour, Result: &integrations.StreamResult{
		Members: []integrations.Member{{Username: "a"}, {Username: "b"}},
	}})
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(time.Hour), c.LimitReachedUntil, time.Minute)
	until, err = s.CheckLimit(ctx, run.IntegrationID, 2, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, c.LimitReachedUntil, until)
	// Once the window has passed the counter resets.
	_, err = s.Pool().Exec(ctx, `UPDATE integrations SET "limitLastResetAt" = now() - interval '2 hours'`)
	require.NoError(t, err)
	until, err = s.CheckLimit(ctx, run.IntegrationID, 2, time.Hour)
	require.NoError(t, err)
	assert.True(t, until.IsZero())
	var count int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT "limitCount" FROM integrations`).Scan(&count))
	assert.Equal(t, 0, count)
}

func pgtestDatabase(tb testing.TB) string { return pgtest.NewDatabase(tb) }

func TestSkippedStreamKeepsItsReasonAndCountsAsUnfinished(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	run, st := newRun(t, s, "slack")
	_, err := s.CommitStream(ctx, store.Page{Stream: st, Platform: "slack", Result: &integrations.StreamResult{Skipped: "channel random: not_in_channel"}})
	require.NoError(t, err)
	got, err := s.GetStream(ctx, st.ID)
	require.NoError(t, err)
	assert.Equal(t, store.StreamProcessed, got.State, "a skip does not fail the run")
	var f store.Failure
	require.NoError(t, json.Unmarshal(got.Error, &f))
	assert.Equal(t, store.Failure{ErrorPoint: store.ErrorPointSkipped, Message: "channel random: not_in_channel", StreamID: st.ID, Stream: st.Name}, f)
	unfinished, err := s.UnfinishedStreams(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, unfinished, 1)
	assert.Equal(t, st.ID, unfinished[0].ID)
	state, err := s.FinishRun(ctx, run.ID, nil)
	require.NoError(t, err)
	assert.Equal(t, store.RunProcessed, state)
}
