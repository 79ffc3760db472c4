package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdflow/crowdflow/integrations"
)

// idSpace is the UUID namespace of the ids derived from natural keys. The
// same member identity or activity always gets the same id, so a page
// written twice (a retried activity whose first commit was lost with the
// connection) leaves the same rows as one clean write.
var idSpace = uuid.MustParse("5f0c3c1e-2a53-4c59-9b8e-6c1f2f4a7d10")

func memberID(tenantID, platform, username string) string {
	return uuid.NewSHA1(idSpace, []byte("member\x00"+tenantID+"\x00"+platform+"\x00"+username)).String()
}

func activityID(tenantID, platform, typ, sourceID string) string {
	return uuid.NewSHA1(idSpace, []byte("activity\x00"+tenantID+"\x00"+platform+"\x00"+typ+"\x00"+sourceID)).String()
}

// epoch is the joinedAt of a member seen without any timestamp; the merge
// rule never lets it win over a real date.
var epoch = time.Unix(0, 0).UTC()

// Target says where records go.
type Target struct {
	TenantID      string
	IntegrationID string
	Platform      string
}

type memberRow struct {
	username    string
	sourceID    string
	displayName string
	emails      map[string]struct{}
	joinedAt    time.Time
	attrs       map[string]any
	// reach is the follower count on the platform; nil when unknown.
	reach *int
}

// mergeMembers folds the members of a page into one row per username, with
// the same rules the database applies across pages: first display name and
// source id, union of emails, later attribute values win, earliest real
// joinedAt (a member's earliest activity on the page when it has none).
func mergeMembers(res *integrations.StreamResult) ([]*memberRow, error) {
	byName := map[string]*memberRow{}
	var order []*memberRow
	add := func(m integrations.Member, seenAt time.Time) error {
		if m.Username == "" {
			return errors.New("a record has a member without a username")
		}
		row, ok := byName[m.Username]
		if !ok {
			row = &memberRow{username: m.Username, emails: map[string]struct{}{}, attrs: map[string]any{}}
			byName[m.Username] = row
			order = append(order, row)
		}
		if row.sourceID == "" {
			row.sourceID = m.SourceID
		}
		if row.displayName == "" {
			row.displayName = m.DisplayName
		}
		for _, e := range m.Emails {
			if e != "" {
				row.emails[e] = struct{}{}
			}
		}
		for k, v := range m.Attributes {
			if v != nil && v != "" {
				row.attrs[k] = v
			}
		}
		if m.Reach != nil {
			row.reach = m.Reach
		}
		joined := m.JoinedAt
		if joined.IsZero() {
			joined = seenAt
		}
		row.joinedAt = mergeJoinedAt(row.joinedAt, joined)
		return nil
	}
	for _, a := range res.Activities {
		if err := add(a.Member, a.Timestamp); err != nil {
			return nil, fmt.Errorf("activity %s %s: %w", a.Type, a.SourceID, err)
		}
	}
	for _, m := range res.Members {
		if err := add(m, time.Time{}); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// mergeJoinedAt is crowd_merge_joined_at in Go.
func mergeJoinedAt(old, new time.Time) time.Time {
	realDate := epoch.Add(5 * 24 * time.Hour)
	switch {
	case old.IsZero():
		return new
	case new.IsZero():
		return old
	case new.Before(realDate):
		return old
	case old.Before(realDate):
		return new
	case new.Before(old):
		return new
	}
	return old
}

// WriteRecords upserts the members and activities of one stream page inside
// tx, set-based: a fixed number of statements whatever the page size. It
// returns the number of records the page carried.
func WriteRecords(ctx context.Context, tx pgx.Tx, t Target, res *integrations.StreamResult) (int, error) {
	if res == nil || res.RecordCount() == 0 {
		return 0, nil
	}
	res = cleanResult(res)
	members, err := mergeMembers(res)
	if err != nil {
		return 0, err
	}
	ids, err := upsertMembers(ctx, tx, t, members)
	if err != nil {
		return 0, fmt.Errorf("upsert members: %w", err)
	}
	if err := linkOrganizations(ctx, tx, t, res, ids); err != nil {
		return 0, fmt.Errorf("organizations: %w", err)
	}
	if err := upsertActivities(ctx, tx, t, res.Activities, ids); err != nil {
		return 0, fmt.Errorf("upsert activities: %w", err)
	}
	return res.RecordCount(), nil
}

// upsertMembers resolves every username to a member id, creating the
// identities and members that are new and merging the rest. It returns
// username -> member id.
//
// Lock order: every statement here and in upsertActivities touches its
// rows sorted by their key (identities by username, members and
// activities by id), never in the order the API gave them. Two runs of one
// tenant that see the same people in opposite orders then queue behind
// each other instead of each holding a row the other waits for, a
// deadlock (40P01) that would cost both an attempt. The statements run
// in a fixed sequence (identities, members, activities, adopted
// children), so the order holds across them too.
func upsertMembers(ctx context.Context, tx pgx.Tx, t Target, members []*memberRow) (map[string]string, error) {
	n := len(members)
	usernames := make([]string, n)
	newIDs := make([]string, n)
	sourceIDs := make([]string, n)
	for i, m := range members {
		usernames[i] = m.username
		newIDs[i] = memberID(t.TenantID, t.Platform, m.username)
		sourceIDs[i] = m.sourceID
	}
	// The identity decides which member a username belongs to: insert the
	// ones that are new (their member rows follow in the next statement; the
	// foreign key is deferred) and read the existing ones.
	rows, err := tx.Query(ctx, `WITH input AS (
			SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[]) AS t(username, id, source_id)
		), ins AS (
			INSERT INTO "memberIdentities" ("memberId", "tenantId", platform, username, "sourceId", "integrationId")
			SELECT id, $4, $5, username, nullif(source_id, ''), $6 FROM input
			-- Key order: see "Lock order" below.
			ORDER BY username
			ON CONFLICT ("tenantId", platform, username) DO NOTHING
			RETURNING username, "memberId"
		)
		SELECT i.username, coalesce(ins."memberId", mi."memberId")
		FROM input i
		LEFT JOIN ins ON ins.username = i.username
		LEFT JOIN "memberIdentities" mi ON mi."tenantId" = $4 AND mi.platform = $5 AND mi.username = i.username`,
		usernames, newIDs, sourceIDs, t.TenantID, t.Platform, nullable(t.IntegrationID))
	if err != nil {
		return nil, err
	}
	ids := make(map[string]string, n)
	var missing []string
	for rows.Next() {
		var u string
		var id *string
		if err := rows.Scan(&u, &id); err != nil {
			rows.Close()
			return nil, err
		}
		if id == nil {
			missing = append(missing, u)
			continue
		}
		ids[u] = *id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		// Another transaction created these identities after this
		// statement's snapshot was taken: read them again.
		rows, err := tx.Query(ctx, `SELECT username, "memberId" FROM "memberIdentities"
			WHERE "tenantId" = $1 AND platform = $2 AND username = ANY($3)`, t.TenantID, t.Platform, missing)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var u, id string
			if err := rows.Scan(&u, &id); err != nil {
				rows.Close()
				return nil, err
			}
			ids[u] = id
		}
		rows.Close()
		if len(ids) != n {
			return nil, fmt.Errorf("could not resolve %d member identities", n-len(ids))
		}
	}

	// Two usernames of the page may be identities of one member (merged in
	// the product): the upsert below must see that member once, or
	// PostgreSQL refuses it ("ON CONFLICT DO UPDATE command cannot affect
	// row a second time"). Fold them into one row per member id.
	members = foldByMember(members, ids)
	n = len(members)
	memberIDs := make([]string, n)
	names := make([]string, n)
	emails := make([]string, n)
	attrs := make([]string, n)
	joined := make([]time.Time, n)
	reach := make([]*string, n)
	for i, m := range members {
		if m.reach != nil {
			r := fmt.Sprintf(`{%q: %d}`, t.Platform, *m.reach)
			reach[i] = &r
		}
		memberIDs[i] = ids[m.username]
		names[i] = m.displayName
		if names[i] == "" {
			names[i] = m.username
		}
		emails[i] = sortedJSON(m.emails)
		attrs[i] = platformAttributes(t.Platform, m.attrs)
		joined[i] = m.joinedAt
		if joined[i].IsZero() {
			joined[i] = epoch
		}
	}
	// A new member takes the row as given; an existing one is merged by the
	// rules of reference §4.4/§4.8, and only written when something changes
	// (a second run over the same data rewrites nothing).
	// Reach (follower counts) merges as crowd.dev's calculateReach does:
	// the platform's count replaced, total recomputed; a member without a
	// count keeps its reach.
	_, err = tx.Exec(ctx, `INSERT INTO members (id, "tenantId", "displayName", emails, attributes, "joinedAt", reach)
		SELECT t.id, $1, t.name, ARRAY(SELECT jsonb_array_elements_text(t.emails)), t.attrs, t.joined, crowd_merge_reach(NULL, t.reach)
		FROM unnest($2::uuid[], $3::text[], $4::jsonb[], $5::jsonb[], $6::timestamptz[], $7::jsonb[]) AS t(id, name, emails, attrs, joined, reach)
		ORDER BY t.id
		ON CONFLICT (id) DO UPDATE SET
			"displayName" = CASE WHEN `+placeholderName+` THEN EXCLUDED."displayName" ELSE members."displayName" END,
			emails = ARRAY(SELECT DISTINCT e FROM unnest(members.emails || EXCLUDED.emails) AS e ORDER BY e),
			attributes = crowd_merge_attributes(members.attributes, EXCLUDED.attributes),
			"joinedAt" = crowd_merge_joined_at(members."joinedAt", EXCLUDED."joinedAt"),
			reach = crowd_merge_reach(members.reach, EXCLUDED.reach),
			"updatedAt" = now()
		WHERE `+placeholderName+`
			OR NOT members.emails @> EXCLUDED.emails
			OR members.attributes IS DISTINCT FROM crowd_merge_attributes(members.attributes, EXCLUDED.attributes)
			OR members."joinedAt" IS DISTINCT FROM crowd_merge_joined_at(members."joinedAt", EXCLUDED."joinedAt")
			OR members.reach IS DISTINCT FROM crowd_merge_reach(members.reach, EXCLUDED.reach)`,
		t.TenantID, memberIDs, names, emails, attrs, joined, reach)
	return ids, err
}

// placeholderName is true, in the members upsert, when the stored display
// name only repeats one of the member's usernames (the name a record
// without one gets) and the incoming one is a real name: the real one
// wins. The first real name is kept, as crowd.dev kept the first; a
// username is no name. With streams in flight, a Discord member's message
// may be stored before the members listing that names them: the result
// must not depend on which came first.
const placeholderName = `members."displayName" IN (SELECT username FROM "memberIdentities" WHERE "memberId" = members.id)
	AND EXCLUDED."displayName" NOT IN (SELECT username FROM "memberIdentities" WHERE "memberId" = members.id)`

// upsertActivities writes the page's activities. An activity seen before
// keeps its id and original timestamp; its content is updated when it
// changed (an edited message). Parent links follow sourceParentId both ways:
// a child finds a parent stored earlier, and a parent adopts children stored
// before it.
func upsertActivities(ctx context.Context, tx pgx.Tx, t Target, acts []integrations.Activity, memberIDs map[string]string) error {
	if len(acts) == 0 {
		return nil
	}
	// The same (type, sourceId) twice on one page would make the upsert
	// touch a row twice: keep the last.
	index := make(map[[2]string]int, len(acts))
	var uniq []integrations.Activity
	for _, a := range acts {
		if a.Type == "" || a.SourceID == "" {
			return fmt.Errorf("activity without type or sourceId (type %q, sourceId %q)", a.Type, a.SourceID)
		}
		k := [2]string{a.Type, a.SourceID}
		if i, ok := index[k]; ok {
			uniq[i] = a
			continue
		}
		index[k] = len(uniq)
		uniq = append(uniq, a)
	}
	n := len(uniq)
	var (
		ids, mids, types, ts, sids, parents, users = make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n), make([]string, n), make([]string, n), make([]string, n)
		channels, titles, bodies, urls, attrs      = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		scores                                     = make([]int32, n)
		contrib                                    = make([]bool, n)
		parentIDs                                  = make([]*string, n)
	)
	for i, a := range uniq {
		ids[i] = activityID(t.TenantID, t.Platform, a.Type, a.SourceID)
		mids[i] = memberIDs[a.Member.Username]
		types[i] = a.Type
		ts[i] = a.Timestamp
		if ts[i].IsZero() {
			ts[i] = epoch
		}
		sids[i] = a.SourceID
		parents[i] = a.SourceParentID
		users[i] = a.Member.Username
		channels[i], titles[i], bodies[i], urls[i] = a.Channel, a.Title, a.Body, a.URL
		attrs[i] = "{}"
		if len(a.Attributes) > 0 {
			b, err := json.Marshal(a.Attributes)
			if err != nil {
				return fmt.Errorf("activity %s attributes: %w", a.SourceID, err)
			}
			attrs[i] = string(cleanJSON(b))
		}
		scores[i] = int32(a.Score)
		contrib[i] = a.IsContribution
	}
	if err := resolveParents(ctx, tx, t, uniq, ids, parentIDs); err != nil {
		return fmt.Errorf("resolve parents: %w", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO activities (id, "tenantId", "memberId", "integrationId", platform, type, timestamp,
			"sourceId", "sourceParentId", "parentId", username, channel, title, body, url, attributes, score, "isContribution")
		SELECT t.id, $1, t.mid, $2, $3, t.type, t.ts, t.sid, nullif(t.parent, ''), t.parent_id, t.username,
			nullif(t.channel, ''), nullif(t.title, ''), nullif(t.body, ''), nullif(t.url, ''), t.attrs, t.score, t.contrib
		FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::timestamptz[], $8::text[], $9::text[], $10::text[],
			$11::text[], $12::text[], $13::text[], $14::text[], $15::jsonb[], $16::int[], $17::bool[], $18::uuid[])
			AS t(id, mid, type, ts, sid, parent, username, channel, title, body, url, attrs, score, contrib, parent_id)
		ORDER BY t.id
		ON CONFLICT ON CONSTRAINT ix_unique_activities_tenantId_platform_type_sourceId DO UPDATE SET
			"memberId" = EXCLUDED."memberId", "sourceParentId" = EXCLUDED."sourceParentId", username = EXCLUDED.username,
			channel = EXCLUDED.channel, title = EXCLUDED.title, body = EXCLUDED.body, url = EXCLUDED.url,
			attributes = activities.attributes || EXCLUDED.attributes, score = EXCLUDED.score,
			"parentId" = coalesce(EXCLUDED."parentId", activities."parentId"),
			"isContribution" = EXCLUDED."isContribution", "updatedAt" = now()
		WHERE (activities."memberId", activities."sourceParentId", activities.username, activities.channel, activities.title,
				activities.body, activities.url, activities.score, activities."isContribution")
			IS DISTINCT FROM (EXCLUDED."memberId", EXCLUDED."sourceParentId", EXCLUDED.username, EXCLUDED.channel, EXCLUDED.title,
				EXCLUDED.body, EXCLUDED.url, EXCLUDED.score, EXCLUDED."isContribution")
			OR NOT activities.attributes @> EXCLUDED.attributes
			OR (EXCLUDED."parentId" IS NOT NULL AND activities."parentId" IS DISTINCT FROM EXCLUDED."parentId")`,
		t.TenantID, nullable(t.IntegrationID), t.Platform, ids, mids, types, ts, sids, parents, users,
		channels, titles, bodies, urls, attrs, scores, contrib, parentIDs)
	if err != nil {
		return err
	}
	// Children stored earlier whose parent arrived now are adopted. The
	// lookup leads with the source id (see resolveParents); the children
	// are locked in id order first, as everything else here (see "Lock
	// order" in upsertMembers).
	_, err = tx.Exec(ctx, `WITH x AS (
			SELECT * FROM unnest($3::uuid[], $4::text[]) AS x(id, sid)
		), orphans AS (
			SELECT c.id, x.id AS parent FROM activities c JOIN x ON c."sourceParentId" = x.sid
			WHERE c."tenantId" = $1 AND c.platform = $2 AND c."parentId" IS NULL AND c.id <> x.id
			ORDER BY c.id
			FOR UPDATE OF c
		)
		UPDATE activities c SET "parentId" = o.parent FROM orphans o WHERE c.id = o.id`,
		t.TenantID, t.Platform, ids, sids)
	return err
}

// resolveParents sets the parentId of every activity whose parent is known:
// on this page, or stored before. Resolving before the insert writes each
// row once instead of inserting and then updating it.
func resolveParents(ctx context.Context, tx pgx.Tx, t Target, acts []integrations.Activity, ids []string, out []*string) error {
	onPage := make(map[string]int, len(acts))
	for i, a := range acts {
		if j, ok := onPage[a.SourceID]; !ok || a.Timestamp.Before(acts[j].Timestamp) {
			onPage[a.SourceID] = i
		}
	}
	var missing []string
	seen := map[string]bool{}
	for i, a := range acts {
		if a.SourceParentID == "" {
			continue
		}
		if j, ok := onPage[a.SourceParentID]; ok && j != i {
			out[i] = &ids[j]
		} else if !ok && !seen[a.SourceParentID] {
			seen[a.SourceParentID] = true
			missing = append(missing, a.SourceParentID)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	// On a young table (no statistics yet: the first minutes of an
	// onboarding) the planner would take any index that starts with the
	// tenant and scan the whole tenant once per parent; leading with the
	// source id, and "platform || ''" kept out of the index choice, avoids it.
	rows, err := tx.Query(ctx, `SELECT DISTINCT ON ("sourceId") "sourceId", id::text FROM activities
		WHERE "sourceId" = ANY($1) AND "tenantId" = $2 AND platform || '' = $3
		ORDER BY "sourceId", timestamp, id`, missing, t.TenantID, t.Platform)
	if err != nil {
		return err
	}
	defer rows.Close()
	found := map[string]string{}
	for rows.Next() {
		var sid, id string
		if err := rows.Scan(&sid, &id); err != nil {
			return err
		}
		found[sid] = id
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, a := range acts {
		if out[i] == nil {
			if id, ok := found[a.SourceParentID]; ok {
				out[i] = &id
			}
		}
	}
	return nil
}

// platformAttributes wraps a member's attribute values of one platform in
// the stored shape {name: {platform: value, default: value}}: what
// crowd_merge_attributes makes of them for a new member, computed here to
// spare the database a function call per row.
func platformAttributes(platform string, attrs map[string]any) string {
	if len(attrs) == 0 {
		return "{}"
	}
	wrapped := make(map[string]map[string]any, len(attrs))
	for k, v := range attrs {
		wrapped[k] = map[string]any{platform: v, "default": v}
	}
	b, err := json.Marshal(wrapped)
	if err != nil {
		return "{}"
	}
	return string(cleanJSON(b))
}

func sortedJSON(set map[string]struct{}) string {
	out := make([]string, 0, len(set))
	for e := range set {
		out = append(out, e)
	}
	sort.Strings(out)
	b, _ := json.Marshal(out)
	return string(b)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// foldByMember merges the rows whose usernames resolved to the same member
// into the first of them, with mergeMembers' rules, keeping the first
// row's position.
func foldByMember(members []*memberRow, ids map[string]string) []*memberRow {
	byID := make(map[string]*memberRow, len(members))
	out := members[:0:0]
	for _, m := range members {
		id := ids[m.username]
		first, ok := byID[id]
		if !ok {
			byID[id] = m
			out = append(out, m)
			continue
		}
		if first.displayName == "" {
			first.displayName = m.displayName
		}
		for e := range m.emails {
			first.emails[e] = struct{}{}
		}
		for k, v := range m.attrs {
			first.attrs[k] = v
		}
		if m.reach != nil {
			first.reach = m.reach
		}
		first.joinedAt = mergeJoinedAt(first.joinedAt, m.joinedAt)
	}
	return out
}
