package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crowdflow/crowdflow/integrations"
)

// KnownSourceIDs returns which of sourceIDs have an activity of the
// tenant, platform and type created before the given time. A check run
// passes its start, so that what it stored itself does not count as known.
func (s *Store) KnownSourceIDs(ctx context.Context, tenantID, platform, activityType string, sourceIDs []string, before time.Time) (map[string]bool, error) {
	out := map[string]bool{}
	if len(sourceIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT "sourceId" FROM activities
		WHERE "sourceId" = ANY($1) AND "tenantId" = $2 AND platform = $3 AND type = $4 AND "createdAt" < $5`,
		sourceIDs, tenantID, platform, activityType, before)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, id := range ids {
		out[id] = true
	}
	return out, err
}

// MembersWithIdentity pages through the tenant's live members that have an
// identity on platform, in username order after the username after.
func (s *Store) MembersWithIdentity(ctx context.Context, tenantID, platform, after string, limit int) ([]integrations.MemberIdentity, error) {
	rows, err := s.pool.Query(ctx, `SELECT mi."memberId", mi.username, m.reach FROM "memberIdentities" mi
		JOIN members m ON m.id = mi."memberId" AND m."deletedAt" IS NULL
		WHERE mi."tenantId" = $1 AND mi.platform = $2 AND mi.username > $3
		ORDER BY mi.username LIMIT $4`, tenantID, platform, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (integrations.MemberIdentity, error) {
		var m integrations.MemberIdentity
		err := r.Scan(&m.MemberID, &m.Username, &m.Reach)
		return m, err
	})
}

// UpdateReach sets reach[platform] of the tenant's members with these
// usernames on platform, total recomputed (crowd_merge_reach), and writes
// only the members whose count changed: a second call with the same counts
// writes nothing.
func (s *Store) UpdateReach(ctx context.Context, tenantID, platform string, counts map[string]int) (int, error) {
	if len(counts) == 0 {
		return 0, nil
	}
	names := make([]string, 0, len(counts))
	values := make([]int64, 0, len(counts))
	for n, c := range counts {
		names = append(names, n)
		values = append(values, int64(c))
	}
	tag, err := s.pool.Exec(ctx, `UPDATE members m SET reach = crowd_merge_reach(m.reach, jsonb_build_object($2::text, x.n)),
			"updatedAt" = now()
		FROM unnest($3::text[], $4::bigint[]) AS x(username, n)
		JOIN "memberIdentities" mi ON mi."tenantId" = $1 AND mi.platform = $2 AND mi.username = x.username
		WHERE m.id = mi."memberId" AND m.reach -> $2 IS DISTINCT FROM to_jsonb(x.n)`,
		tenantID, platform, names, values)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

var _ integrations.RecordStore = (*Store)(nil)
