package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/store"
)

// BenchmarkStreamPersistence measures the path every stream page takes
// (CommitStream: members, identities and activities upserted set-based in
// one transaction, with the stream's state change) against a plain COPY of
// the same rows into tables of the same shape and indexes, in the same run.
//
//	go test ./store -run '^$' -bench StreamPersistence -benchtime 20x
//
// It reports rows/s of both and persist/copy, the share of COPY's speed the
// real path reaches.
func BenchmarkStreamPersistence(b *testing.B) {
	const pageActivities, pageMembers = 1000, 200
	s, err := store.Open(context.Background(), pgtestDatabase(b))
	require.NoError(b, err)
	defer s.Close()
	ctx := context.Background()
	run, _ := newRun(b, s, "bench")
	_, err = s.Pool().Exec(ctx, `
		CREATE TABLE copy_members (LIKE members INCLUDING DEFAULTS INCLUDING INDEXES);
		CREATE TABLE copy_identities (LIKE "memberIdentities" INCLUDING DEFAULTS INCLUDING INDEXES);
		CREATE TABLE copy_activities (LIKE activities INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING CONSTRAINTS)`)
	require.NoError(b, err)

	page := func(i int) *integrations.StreamResult {
		res := &integrations.StreamResult{}
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for j := 0; j < pageActivities; j++ {
			u := fmt.Sprintf("user-%d-%d", i, j%pageMembers)
			res.Activities = append(res.Activities, integrations.Activity{
				Type: "message", SourceID: fmt.Sprintf("%d-%d", i, j), SourceParentID: fmt.Sprintf("%d-%d", i, j/10*10),
				Timestamp: base.Add(time.Duration(j) * time.Second), Channel: "general", URL: "https://example.test/" + u,
				Body: "a message of ordinary length, with a few words in it to look like chat", Score: 6, IsContribution: true,
				Attributes: map[string]any{"thread": j%10 != 0},
				Member:     integrations.Member{Username: u, DisplayName: u, Emails: []string{u + "@example.test"}, Attributes: map[string]any{"url": "https://example.test/" + u}},
			})
		}
		return res
	}
	rowsPerPage := pageActivities + 2*pageMembers // activities, members, identities

	var copyTime, persistTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := page(i)

		start := time.Now()
		require.NoError(b, copyPage(ctx, s, run, res, i))
		copyTime += time.Since(start)

		ids, err := s.NextStreams(ctx, run.ID, 1)
		require.NoError(b, err)
		st, err := s.GetStream(ctx, ids[0])
		require.NoError(b, err)
		next := integrations.NewStream("bench-page", map[string]int{"page": i + 1})
		start = time.Now()
		c, err := s.CommitStream(ctx, store.Page{Stream: st, Platform: "bench", Result: res, NextPage: &next})
		persistTime += time.Since(start)
		require.NoError(b, err)
		require.Equal(b, pageActivities, c.Records)
	}
	b.StopTimer()
	total := float64(rowsPerPage * b.N)
	b.ReportMetric(total/persistTime.Seconds(), "persist-rows/s")
	b.ReportMetric(total/copyTime.Seconds(), "copy-rows/s")
	b.ReportMetric(copyTime.Seconds()/persistTime.Seconds(), "persist/copy")
}

// copyPage COPYs the page's rows as they would be stored, in a transaction.
func copyPage(ctx context.Context, s *store.Store, run *store.Run, res *integrations.StreamResult, i int) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		seen := map[string]string{}
		var members, identities, acts [][]any
		now := time.Now()
		for _, a := range res.Activities {
			mid, ok := seen[a.Member.Username]
			if !ok {
				mid = uuid.NewString()
				seen[a.Member.Username] = mid
				members = append(members, []any{mid, run.TenantID, a.Member.DisplayName, a.Member.Emails,
					`{"url": {"bench": "x", "default": "x"}}`, a.Timestamp, now, now})
				identities = append(identities, []any{mid, run.TenantID, "bench", a.Member.Username, now, now})
			}
			acts = append(acts, []any{uuid.NewString(), run.TenantID, mid, "bench", a.Type, a.Timestamp, a.SourceID,
				a.SourceParentID, a.Member.Username, a.Channel, a.Body, a.URL, `{"thread": true}`, int32(a.Score), a.IsContribution, now, now})
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"copy_members"},
			[]string{"id", "tenantId", "displayName", "emails", "attributes", "joinedAt", "createdAt", "updatedAt"}, pgx.CopyFromRows(members)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"copy_identities"},
			[]string{"memberId", "tenantId", "platform", "username", "createdAt", "updatedAt"}, pgx.CopyFromRows(identities)); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"copy_activities"},
			[]string{"id", "tenantId", "memberId", "platform", "type", "timestamp", "sourceId", "sourceParentId", "username",
				"channel", "body", "url", "attributes", "score", "isContribution", "createdAt", "updatedAt"}, pgx.CopyFromRows(acts))
		return err
	})
}
