package github

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
)

func whUser(login string) string {
	return fmt.Sprintf(`{"login": %q, "id": 7, "type": "User", "html_url": "https://github.com/%s"}`, login, login)
}

const whRepo = `"repository": {"full_name": "acme/rocket", "html_url": "https://github.com/acme/rocket"}`

// TestWebhookRecords maps each event GitHub sends to the activities (type,
// source id, member) a poll of the same event gives.
func TestWebhookRecords(t *testing.T) {
	svc := New(Options{})
	received := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	pr := `"pull_request": {"node_id": "PR_1", "title": "T", "html_url": "https://github.com/acme/rocket/pull/1", "state": "open",
		"created_at": "2026-10-01T00:00:00Z", "updated_at": "2026-10-02T00:00:00Z", "user": ` + whUser("carol") + `}`
	for _, tc := range []struct {
		event, payload string
		want           []string // type|sourceId|member
	}{
		{"issues", `{"action": "opened", ` + whRepo + `, "issue": {"node_id": "I_1", "title": "x", "state": "open", "created_at": "2026-10-01T00:00:00Z", "user": ` + whUser("bob") + `}}`,
			[]string{"issues-opened|I_1|bob"}},
		{"issues", `{"action": "labeled", ` + whRepo + `, "issue": {"node_id": "I_1", "user": ` + whUser("bob") + `}}`, nil},
		{"pull_request", `{"action": "opened", ` + whRepo + `, ` + pr + `}`, []string{"pull_request-opened|PR_1|carol"}},
		{"pull_request", `{"action": "assigned", ` + whRepo + `, ` + pr + `, "sender": ` + whUser("alice") + `, "assignee": ` + whUser("carol") + `}`,
			[]string{"pull_request-assigned|gen-AE_PR_1_alice_carol|alice"}},
		{"pull_request", `{"action": "review_requested", ` + whRepo + `, ` + pr + `, "sender": ` + whUser("carol") + `, "requested_reviewer": ` + whUser("bob") + `}`,
			[]string{"pull_request-review-requested|gen-RRE_PR_1_carol_bob|carol"}},
		{"pull_request_review", `{"action": "submitted", ` + whRepo + `, ` + pr + `, "review": {"node_id": "PRR_1", "state": "approved", "body": "ok", "submitted_at": "2026-10-03T00:00:00Z", "user": ` + whUser("bob") + `}}`,
			[]string{"pull_request-reviewed|gen-PRR_PR_1_bob_2026-10-03T00:00:00Z|bob"}},
		{"pull_request_review", `{"action": "submitted", ` + whRepo + `, ` + pr + `, "review": {"node_id": "PRR_2", "state": "commented", "body": "", "user": ` + whUser("bob") + `}}`, nil},
		{"pull_request_review_comment", `{"action": "created", ` + whRepo + `, ` + pr + `, "comment": {"node_id": "PRRC_1", "body": "nit", "created_at": "2026-10-03T00:00:00Z", "user": ` + whUser("alice") + `}}`,
			[]string{"pull_request-review-thread-comment|PRRC_1|alice"}},
		{"issue_comment", `{"action": "created", ` + whRepo + `, "issue": {"node_id": "PR_1", "pull_request": {"url": "u"}}, "comment": {"node_id": "IC_1", "body": "b", "created_at": "2026-10-03T00:00:00Z", "user": ` + whUser("alice") + `}}`,
			[]string{"pull_request-comment|IC_1|alice"}},
		{"issue_comment", `{"action": "created", ` + whRepo + `, "issue": {"node_id": "I_1"}, "comment": {"node_id": "IC_2", "body": "b", "created_at": "2026-10-03T00:00:00Z", "user": {"login": "renovate[bot]", "type": "Bot"}}}`, nil},
		{"discussion", `{"action": "created", ` + whRepo + `, "discussion": {"node_id": "D_1", "title": "q", "created_at": "2026-10-03T00:00:00Z", "category": {"node_id": "DIC_1", "name": "Q&A", "is_answerable": true}, "user": ` + whUser("alice") + `}}`,
			[]string{"discussion-started|D_1|alice"}},
		{"discussion", `{"action": "answered", ` + whRepo + `, "discussion": {"node_id": "D_1"}, "answer": {"node_id": "DC_1", "body": "a", "created_at": "2026-10-03T00:00:00Z", "user": ` + whUser("bob") + `}}`,
			[]string{"discussion-comment|DC_1|bob"}},
		{"discussion_comment", `{"action": "created", ` + whRepo + `, "discussion": {"node_id": "D_1"}, "comment": {"node_id": "DC_1", "body": "a", "created_at": "2026-10-03T00:00:00Z", "user": ` + whUser("bob") + `}}`,
			[]string{"discussion-comment|DC_1|bob"}},
		{"star", `{"action": "created", "starred_at": "2026-10-02T01:00:00Z", ` + whRepo + `, "sender": ` + whUser("alice") + `}`,
			[]string{"star|" + starSourceID("alice", time.Date(2026, 10, 2, 1, 0, 0, 0, time.UTC)) + "|alice"}},
		{"fork", `{` + whRepo + `, "forkee": {"node_id": "R_9", "html_url": "https://github.com/carol/rocket", "created_at": "2026-10-02T01:00:00Z", "owner": ` + whUser("carol") + `}}`,
			[]string{"fork|R_9|carol"}},
		{"push", `{}`, nil},
	} {
		res, err := svc.WebhookRecords(integrations.Integration{}, tc.event, json.RawMessage(tc.payload), received)
		require.NoError(t, err, tc.payload)
		var got []string
		if res != nil {
			for _, a := range res.Activities {
				got = append(got, a.Type+"|"+a.SourceID+"|"+a.Member.Username)
				assert.Equal(t, "https://github.com/acme/rocket", a.Channel[:len("https://github.com/acme/rocket")])
			}
		}
		assert.Equal(t, tc.want, got, "%s %s", tc.event, tc.payload)
	}
	_, err := svc.WebhookRecords(integrations.Integration{}, "issues", json.RawMessage(`not json`), received)
	require.Error(t, err)
}
