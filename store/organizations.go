package store

import (
	"context"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdflow/crowdflow/integrations"
)

func organizationID(tenantID, name string) string {
	return uuid.NewSHA1(idSpace, []byte("organization\x00"+tenantID+"\x00"+strings.ToLower(name))).String()
}

// linkOrganizations stores the organizations of a page's members
// (crowd.dev's organizations and "memberOrganizations"): an organization is
// found by name, case-insensitively, in the tenant, and created when new;
// each member is linked to it once. Two statements per page whatever its
// size, rows touched in key order (see upsertMembers' lock order).
func linkOrganizations(ctx context.Context, tx pgx.Tx, t Target, res *integrations.StreamResult, memberIDs map[string]string) error {
	type link struct{ member, org string }
	names := map[string]string{} // lower(name) -> name as first seen
	links := map[link]bool{}
	add := func(m integrations.Member) {
		for _, o := range m.Organizations {
			name := strings.TrimSpace(cleanText(o.Name))
			if name == "" || memberIDs[m.Username] == "" {
				continue
			}
			k := strings.ToLower(name)
			if _, ok := names[k]; !ok {
				names[k] = name
			}
			links[link{memberIDs[m.Username], k}] = true
		}
	}
	for _, a := range res.Activities {
		add(a.Member)
	}
	for _, m := range res.Members {
		add(m)
	}
	if len(names) == 0 {
		return nil
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	orgNames, orgIDs := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		orgNames[i], orgIDs[i] = names[k], organizationID(t.TenantID, k)
	}
	// New organizations are inserted, existing ones (from an earlier page,
	// another platform or the product) found by name; the unique index on
	// lower(name) settles a race between two pages.
	rows, err := tx.Query(ctx, `WITH ins AS (
			INSERT INTO organizations (id, "tenantId", name)
			SELECT t.id, $1, t.name FROM unnest($2::text[], $3::uuid[]) AS t(name, id)
			ORDER BY t.id
			ON CONFLICT DO NOTHING
			RETURNING id, lower(name) AS k
		)
		SELECT k, id::text FROM ins
		UNION ALL
		SELECT lower(o.name), o.id::text FROM organizations o
		WHERE o."tenantId" = $1 AND o."deletedAt" IS NULL AND lower(o.name) = ANY($4)`,
		t.TenantID, orgNames, orgIDs, keys)
	if err != nil {
		return err
	}
	found := map[string]string{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			rows.Close()
			return err
		}
		found[k] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var mids, oids []string
	for l := range links {
		if id, ok := found[l.org]; ok {
			mids, oids = append(mids, l.member), append(oids, id)
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO "memberOrganizations" ("memberId", "organizationId")
		SELECT m, o FROM unnest($1::uuid[], $2::uuid[]) AS t(m, o)
		ORDER BY m, o
		ON CONFLICT DO NOTHING`, mids, oids)
	return err
}
