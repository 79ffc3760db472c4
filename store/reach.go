package store

import (
	"context"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/crowdflow/crowdflow/integrations"
)

// memberExtras writes what a page says about its members beyond the
// members row: their organizations and their reach.
func memberExtras(ctx context.Context, tx pgx.Tx, t Target, res *integrations.StreamResult, memberIDs map[string]string) error {
	if err := linkOrganizations(ctx, tx, t, res, memberIDs); err != nil {
		return err
	}
	return updateReach(ctx, tx, t, res, memberIDs)
}

// updateReach sets members.reach[platform] to the follower counts a page
// carries (the last one given per member) and recomputes the total, as
// crowd.dev's calculateReach does: {"github": 120, "twitter": 30, "total":
// 150}. A member without a count keeps its reach; an unchanged reach is not
// rewritten. Members are updated in id order (upsertMembers' lock order).
func updateReach(ctx context.Context, tx pgx.Tx, t Target, res *integrations.StreamResult, memberIDs map[string]string) error {
	counts := map[string]int{}
	add := func(m integrations.Member) {
		if id := memberIDs[m.Username]; m.Reach != nil && id != "" {
			counts[id] = *m.Reach
		}
	}
	for _, a := range res.Activities {
		add(a.Member)
	}
	for _, m := range res.Members {
		add(m)
	}
	if len(counts) == 0 {
		return nil
	}
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	ns := make([]int32, len(ids))
	for i, id := range ids {
		ns[i] = int32(counts[id])
	}
	_, err := tx.Exec(ctx, `WITH input AS (
			SELECT x.id, (coalesce(m.reach, '{}'::jsonb) - 'total') || jsonb_build_object($1::text, x.n) AS r
			FROM unnest($2::uuid[], $3::int[]) AS x(id, n) JOIN members m ON m.id = x.id
			ORDER BY x.id
			FOR UPDATE OF m
		), computed AS (
			SELECT id, r || jsonb_build_object('total', (SELECT coalesce(sum((v #>> '{}')::numeric), 0) FROM jsonb_each(r) AS e(k, v)
				WHERE jsonb_typeof(v) = 'number')) AS reach
			FROM input
		)
		UPDATE members m SET reach = c.reach, "updatedAt" = now()
		FROM computed c WHERE m.id = c.id AND m.reach IS DISTINCT FROM c.reach`, t.Platform, ids, ns)
	return err
}
