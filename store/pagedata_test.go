package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/store"
)

// Data that must not break a page (issue 8, items 7-9).

// A NUL anywhere in what a service returns, or in an error message, is
// stored without it instead of failing the page on every attempt.
func TestNULIsDroppedAtTheStoreBoundary(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	run, st := newRun(t, s, "devto")
	ts := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	next := integrations.Stream{Name: "root\x00", Metadata: json.RawMessage(`{"page":2,"q":"a\u0000b"}`)}
	c, err := s.CommitStream(ctx, store.Page{Stream: st, Platform: "devto", NextPage: &next, Result: &integrations.StreamResult{
		Activities: []integrations.Activity{{
			Type: "comment", SourceID: "c\x001", Timestamp: ts, Channel: "gen\x00eral", Title: "ti\x00tle",
			Body: "bo\x00dy \\u0000 stays", URL: "https://x.test/\x00",
			Attributes: map[string]any{"k\x00ey": "v\x00al", "nested": map[string]any{"list": []any{"a\x00"}}},
			Member: integrations.Member{Username: "an\x00n", DisplayName: "A\x00nn", Emails: []string{"a\x00@x.io"},
				Attributes: map[string]any{"bio": "b\x00io"}},
		}},
		Members: []integrations.Member{{Username: "bob", DisplayName: "B\x00ob"}},
	}})
	require.NoError(t, err, "a NUL must not fail the page")
	assert.Equal(t, 2, c.Records)
	assert.Equal(t, 1, c.NewStreams)

	var body, title, channel, url, sourceID, attrs, username string
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT body, title, channel, url, "sourceId", attributes::text, username FROM activities`).
		Scan(&body, &title, &channel, &url, &sourceID, &attrs, &username))
	assert.Equal(t, `body \u0000 stays`, body, "the six characters \\u0000 as text are not a NUL")
	assert.Equal(t, "title", title)
	assert.Equal(t, "general", channel)
	assert.Equal(t, "https://x.test/", url)
	assert.Equal(t, "c1", sourceID)
	assert.Equal(t, "ann", username)
	assert.JSONEq(t, `{"key":"val","nested":{"list":["a"]}}`, attrs)
	m := member(t, s, run.TenantID, "devto", "ann")
	assert.Equal(t, "Ann", m.DisplayName)
	assert.Equal(t, []string{"a@x.io"}, m.Emails)
	assert.Equal(t, "bio", m.Attributes["bio"]["devto"])
	assert.Equal(t, "Bob", member(t, s, run.TenantID, "devto", "bob").DisplayName)
	var name, meta string
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT name, metadata::text FROM "integrationStreams" WHERE state = 'pending'`).Scan(&name, &meta))
	assert.Equal(t, "root", name)
	assert.JSONEq(t, `{"page":2,"q":"ab"}`, meta)

	// An API error text with a NUL: the attempt's error and the final
	// failure are both recorded.
	_, err = s.AddStreams(ctx, run, []integrations.Stream{integrations.NewStream("other", nil)})
	require.NoError(t, err)
	var other string
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT id FROM "integrationStreams" WHERE name = 'other'`).Scan(&other))
	failure := store.Failure{ErrorPoint: "process_stream", Message: "bad \x00 answer", StreamID: other, Stream: "oth\x00er"}
	require.NoError(t, s.RecordStreamAttemptError(ctx, other, 1, failure))
	require.NoError(t, s.FailStream(ctx, other, 5, failure))
	got, err := s.GetStream(ctx, other)
	require.NoError(t, err)
	assert.Equal(t, store.StreamError, got.State)
	assert.JSONEq(t, fmt.Sprintf(`{"errorPoint":"process_stream","message":"bad  answer","streamId":%q,"stream":"other"}`, other), string(got.Error))

	// What else a run writes: its delay reason, pipeline data, settings,
	// and its own failure.
	require.NoError(t, s.SetRunDelayed(ctx, run.ID, time.Now().Add(time.Minute), "rate \x00limited"))
	require.NoError(t, s.SetPipelineData(ctx, run.ID, json.RawMessage(`{"a":"x\u0000y"}`)))
	require.NoError(t, s.UpdateIntegrationSettings(ctx, run.IntegrationID, json.RawMessage(`{"users":["\u0000ann"]}`)))
	state, err := s.FinishRun(ctx, run.ID, &store.Failure{ErrorPoint: "preprocess", Message: "\x00"})
	require.NoError(t, err)
	assert.Equal(t, store.RunError, state)
	r, err := s.GetRun(ctx, run.ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":"xy"}`, string(r.PipelineData))
	integ, err := s.GetIntegration(ctx, run.IntegrationID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"users":["ann"]}`, string(integ.Settings))
}

// Two usernames of one page whose identities belong to the same member
// (merged in the product) make one member row, merged.
func TestTwoIdentitiesOfOneMemberOnAPage(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	run, st := newRun(t, s, "devto")
	ts := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	write := func(st *store.Stream, acts ...integrations.Activity) {
		t.Helper()
		_, err := s.CommitStream(ctx, store.Page{Stream: st, Platform: "devto", Result: &integrations.StreamResult{Activities: acts}})
		require.NoError(t, err)
	}
	write(st, integrations.Activity{Type: "comment", SourceID: "1", Timestamp: ts, Member: integrations.Member{Username: "ann", Emails: []string{"a@x.io"}}})
	// The product merged ann's second account into her member.
	_, err := s.Pool().Exec(ctx, `INSERT INTO "memberIdentities" ("memberId", "tenantId", platform, username)
		SELECT "memberId", "tenantId", platform, 'ann-old' FROM "memberIdentities" WHERE username = 'ann'`)
	require.NoError(t, err)

	_, err = s.AddStreams(ctx, run, []integrations.Stream{integrations.NewStream("root", map[string]int{"page": 2})})
	require.NoError(t, err)
	ids, err := s.NextStreams(ctx, run.ID, 1)
	require.NoError(t, err)
	st2, err := s.GetStream(ctx, ids[0])
	require.NoError(t, err)
	write(st2,
		integrations.Activity{Type: "comment", SourceID: "2", Timestamp: ts.Add(-time.Hour), Member: integrations.Member{Username: "ann", Emails: []string{"b@x.io"}}},
		integrations.Activity{Type: "comment", SourceID: "3", Timestamp: ts, Member: integrations.Member{Username: "ann-old", Emails: []string{"c@x.io"},
			Attributes: map[string]any{"bio": "old account"}}},
	)
	var members, acts int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM members), (SELECT count(DISTINCT "memberId") FROM activities)`).Scan(&members, &acts))
	assert.Equal(t, 1, members)
	assert.Equal(t, 1, acts, "all three activities belong to the one member")
	m := member(t, s, run.TenantID, "devto", "ann-old")
	assert.Equal(t, []string{"a@x.io", "b@x.io", "c@x.io"}, m.Emails)
	assert.True(t, m.JoinedAt.Equal(ts.Add(-time.Hour)), "joinedAt %s", m.JoinedAt)
	assert.Equal(t, "old account", m.Attributes["bio"]["devto"])
}

// Two commits of one tenant that carry the same people and activities in
// opposite orders never deadlock: rows are locked in key order. A trigger
// that sleeps on every row makes the two transactions overlap row by row,
// so taking the rows in the order given would deadlock every time.
func TestOppositeOrdersDoNotDeadlock(t *testing.T) {
	users := []string{"ann", "bob", "cid", "dan"}
	cases := []struct {
		name string
		// existing: the members and activities exist before (their rows are
		// updated and locked); otherwise the identities are new (their
		// unique keys are inserted and waited on).
		existing bool
		// ownMembers: each commit's activities are by members of its
		// own, so only the activities are shared.
		ownMembers bool
		trigger    string
	}{
		{"new identities", false, false, `CREATE TRIGGER slow BEFORE INSERT ON "memberIdentities" FOR EACH ROW EXECUTE FUNCTION slow_row()`},
		{"existing members", true, false, `CREATE TRIGGER slow BEFORE UPDATE ON members FOR EACH ROW EXECUTE FUNCTION slow_row()`},
		{"existing activities", true, true, `CREATE TRIGGER slow BEFORE UPDATE ON activities FOR EACH ROW EXECUTE FUNCTION slow_row()`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ctx := context.Background()
			run, _ := newRun(t, s, "devto")
			page := func(order []string, round int) *integrations.StreamResult {
				res := &integrations.StreamResult{}
				for _, u := range order {
					author := u
					if tc.ownMembers {
						author = fmt.Sprintf("%s-%d", u, round)
					}
					res.Activities = append(res.Activities, integrations.Activity{
						Type: "comment", SourceID: "c-" + u, Timestamp: time.Unix(1700000000, 0),
						Body:   fmt.Sprintf("round %d", round),
						Member: integrations.Member{Username: author, Emails: []string{fmt.Sprintf("%s%d@x.io", u, round)}},
					})
				}
				return res
			}
			target := store.Target{TenantID: run.TenantID, IntegrationID: run.IntegrationID, Platform: "devto"}
			commit := func(res *integrations.StreamResult) error {
				tx, err := s.Pool().Begin(ctx)
				if err != nil {
					return err
				}
				defer tx.Rollback(ctx) //nolint:errcheck
				if _, err := store.WriteRecords(ctx, tx, target, res); err != nil {
					return err
				}
				return tx.Commit(ctx)
			}
			if tc.existing {
				require.NoError(t, commit(page(users, 0)))
			}
			_, err := s.Pool().Exec(ctx, `CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN PERFORM pg_sleep(0.2); RETURN NEW; END $$`)
			require.NoError(t, err)
			_, err = s.Pool().Exec(ctx, tc.trigger)
			require.NoError(t, err)

			reversed := make([]string, len(users))
			for i, u := range users {
				reversed[len(users)-1-i] = u
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, order := range [][]string{users, reversed} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = commit(page(order, i+1))
				}()
			}
			wg.Wait()
			for _, err := range errs {
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
					t.Fatalf("deadlock: %v", err)
				}
				require.NoError(t, err)
			}
			var n int
			require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM activities WHERE body <> 'round 0'`).Scan(&n))
			assert.Equal(t, len(users), n, "every activity written")
		})
	}
}
