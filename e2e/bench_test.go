package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
)

// The engine-overhead benchmarks (issue 11, benchmark 1): an onboarding
// through the real worker, the in-process Temporal server and PostgreSQL,
// against the zero-latency test service, so that what is measured is the
// engine's own cost per page and per stream. Sizes come from env vars so
// that `go test ./...` (which only compiles benchmarks) stays fast and a
// large run needs no code change:
//
//	BENCH_ACTIVITIES=20000 go test ./e2e -run '^$' -bench EngineOnboarding -benchtime 1x
//	BENCH_SMALL_STREAMS=300 go test ./e2e -run '^$' -bench SmallStreams -benchtime 1x

const (
	benchPageRecords    = 100 // records per page, as the platforms' page sizes
	benchPagesPerStream = 10
	benchStreamMembers  = 20 // distinct members per stream
)

// benchSize reads a positive size from the environment, def when unset.
func benchSize(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(b, err, name)
	require.Positive(b, n, name)
	return n
}

// benchOnboard connects the test service on a fresh env and returns how
// long the onboarding took, from the connect to the run's end. The run has
// BENCH_STREAMS_IN_FLIGHT slots (default 4, as Slack's), reported as the
// slots metric.
func benchOnboard(b *testing.B, script testservice.Script) (*env, time.Duration) {
	b.Helper()
	script.Config.ParallelStreams = benchSize(b, "BENCH_STREAMS_IN_FLIGHT", 4)
	b.ReportMetric(float64(script.Config.ParallelStreams), "slots")
	e := newEnv(b, []integrations.Service{testservice.New(script)})
	start := time.Now()
	started, err := e.ctl.Connect(context.Background(), control.ConnectInput{
		TenantID: "8f9a3d2e-0c1b-4a5d-9e6f-7a8b9c0d1e2f", Platform: testservice.Platform, Settings: []byte(`{}`),
	})
	require.NoError(b, err)
	// Longer than the tests' wait: a large BENCH_ACTIVITIES takes minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	state, err := e.ctl.Wait(ctx, started, nil)
	elapsed := time.Since(start)
	require.NoError(b, err)
	require.Equal(b, store.RunProcessed, state)
	return e, elapsed
}

// BenchmarkEngineOnboarding onboards BENCH_ACTIVITIES records (default
// 20k) in streams of ten 100-record pages, then, in the same database,
// COPYs the same number of members, identities and activities into
// staging tables and upserts them into the same tables. It reports rows/s
// of both and engine/copy, the share of the bulk path's speed the engine
// reaches (issue 11's target: 0.5).
func BenchmarkEngineOnboarding(b *testing.B) {
	total := benchSize(b, "BENCH_ACTIVITIES", 20000)
	perStream := benchPageRecords * benchPagesPerStream
	streams := (total + perStream - 1) / perStream
	newest := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	script := testservice.Script{Pages: map[string][]testservice.Page{}}
	for s := 0; s < streams; s++ {
		name := fmt.Sprintf("channel-%04d", s)
		script.Roots = append(script.Roots, name)
		for p := 0; p < benchPagesPerStream; p++ {
			script.Pages[name] = append(script.Pages[name], testservice.Page{
				Records: benchPageRecords, Newest: newest.Add(-time.Duration(p*benchPageRecords) * time.Minute), Members: benchStreamMembers,
			})
		}
	}

	var engineTime, copyTime time.Duration
	var rows, pages int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, elapsed := benchOnboard(b, script)
		engineTime += elapsed
		b.StopTimer()
		acts := e.count(`SELECT count(*) FROM activities`)
		members := e.count(`SELECT count(*) FROM members`)
		identities := e.count(`SELECT count(*) FROM "memberIdentities"`)
		require.Equal(b, streams*perStream, acts)
		require.Equal(b, streams*benchStreamMembers, members)
		require.Equal(b, members, identities)
		rows += acts + members + identities
		pages += streams * benchPagesPerStream

		start := time.Now()
		require.NoError(b, copyUpsert(context.Background(), e.store.Pool(), "8f9a3d2e-0c1b-4a5d-9e6f-7a8b9c0d1e2f", acts, members))
		copyTime += time.Since(start)
		require.Equal(b, 2*acts, e.count(`SELECT count(*) FROM activities`), "the baseline wrote as many activities")
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(rows)/engineTime.Seconds(), "engine-rows/s")
	b.ReportMetric(float64(pages)/engineTime.Seconds(), "pages/s")
	b.ReportMetric(float64(rows)/copyTime.Seconds(), "copy-rows/s")
	b.ReportMetric(copyTime.Seconds()/engineTime.Seconds(), "engine/copy")
}

// BenchmarkSmallStreams onboards BENCH_SMALL_STREAMS streams (default 300)
// of one page with three records each, as threads of a few replies are,
// and reports streams/s of the run (issue 11's target: 100).
func BenchmarkSmallStreams(b *testing.B) {
	streams := benchSize(b, "BENCH_SMALL_STREAMS", 300)
	newest := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	script := testservice.Script{Pages: map[string][]testservice.Page{}}
	for s := 0; s < streams; s++ {
		name := fmt.Sprintf("thread-%05d", s)
		script.Roots = append(script.Roots, name)
		script.Pages[name] = []testservice.Page{{Records: 3, Newest: newest}}
	}
	var elapsed time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, d := benchOnboard(b, script)
		elapsed += d
		b.StopTimer()
		require.Equal(b, 3*streams, e.count(`SELECT count(*) FROM activities`))
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(streams*b.N)/elapsed.Seconds(), "streams/s")
}

// copyUpsert is the bulk baseline: acts activities by members members
// (and one identity each), shaped as the test service's, COPYed into
// staging tables and upserted into members, "memberIdentities" and
// activities in one transaction. Its rows are on their own platform, so
// they add to the engine's rows instead of meeting them.
func copyUpsert(ctx context.Context, pool interface {
	Begin(context.Context) (pgx.Tx, error)
}, tenantID string, acts, members int) error {
	const platform = "copy-baseline"
	now := time.Now()
	newest := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	memberRows := make([][]any, members)
	identityRows := make([][]any, members)
	ids := make([]string, members)
	for m := 0; m < members; m++ {
		ids[m] = uuid.NewString()
		user := fmt.Sprintf("user-%d", m)
		memberRows[m] = []any{ids[m], tenantID, user, []string{}, `{"url": {"copy-baseline": "https://example.test/u", "default": "https://example.test/u"}}`, newest, now, now}
		identityRows[m] = []any{ids[m], tenantID, platform, user, now, now}
	}
	actRows := make([][]any, acts)
	for a := 0; a < acts; a++ {
		m := a % members
		actRows[a] = []any{uuid.NewString(), tenantID, ids[m], platform, "message", newest.Add(-time.Duration(a) * time.Minute),
			fmt.Sprintf("copy-%d", a), fmt.Sprintf("user-%d", m), "channel", "hello", "{}", int32(1), false, now, now}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, `
		CREATE TEMP TABLE stage_members (LIKE members INCLUDING DEFAULTS) ON COMMIT DROP;
		CREATE TEMP TABLE stage_identities (LIKE "memberIdentities" INCLUDING DEFAULTS) ON COMMIT DROP;
		CREATE TEMP TABLE stage_activities (LIKE activities INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
		return err
	}
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"stage_members", []string{"id", "tenantId", "displayName", "emails", "attributes", "joinedAt", "createdAt", "updatedAt"}, memberRows},
		{"stage_identities", []string{"memberId", "tenantId", "platform", "username", "createdAt", "updatedAt"}, identityRows},
		{"stage_activities", []string{"id", "tenantId", "memberId", "platform", "type", "timestamp", "sourceId", "username",
			"channel", "body", "attributes", "score", "isContribution", "createdAt", "updatedAt"}, actRows},
	}
	for _, c := range copies {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return fmt.Errorf("copy %s: %w", c.table, err)
		}
	}
	for _, q := range []string{
		`INSERT INTO members SELECT * FROM stage_members
			ON CONFLICT (id) DO UPDATE SET attributes = members.attributes || EXCLUDED.attributes, "updatedAt" = EXCLUDED."updatedAt"`,
		`INSERT INTO "memberIdentities" SELECT * FROM stage_identities
			ON CONFLICT ("tenantId", platform, username) DO NOTHING`,
		`INSERT INTO activities SELECT * FROM stage_activities
			ON CONFLICT ON CONSTRAINT ix_unique_activities_tenantId_platform_type_sourceId DO UPDATE SET
				body = EXCLUDED.body, attributes = activities.attributes || EXCLUDED.attributes, "updatedAt" = EXCLUDED."updatedAt"`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
