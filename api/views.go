package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/crowdflow/crowdflow/store"
)

// maxStreamErrors is how many failed streams a run view lists.
const maxStreamErrors = 20

// IntegrationView is the answer of GET /api/v1/integrations/{id}. It never
// carries the integration's tokens.
type IntegrationView struct {
	ID         string          `json:"id"`
	TenantID   string          `json:"tenantId"`
	Platform   string          `json:"platform"`
	Status     string          `json:"status"`
	Settings   json.RawMessage `json:"settings"`
	Identifier string          `json:"identifier,omitempty"`
	// HasToken says whether a token is stored; the token itself is not sent.
	HasToken  bool      `json:"hasToken"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// LatestRun is the most recent run, null before the first.
	LatestRun *RunView `json:"latestRun"`
}

// RunView is the answer of GET /api/v1/runs/{id}.
type RunView struct {
	ID            string `json:"id"`
	IntegrationID string `json:"integrationId"`
	TenantID      string `json:"tenantId"`
	Onboarding    bool   `json:"onboarding"`
	// State is pending, processing, delayed, processed or error.
	State string `json:"state"`
	// DelayedUntil and DelayReason are set while the run waits (a rate
	// limit, the global limit, a service's sleep).
	DelayedUntil *time.Time `json:"delayedUntil"`
	DelayReason  *string    `json:"delayReason"`
	ProcessedAt  *time.Time `json:"processedAt"`
	// Error is why the run failed, null otherwise.
	Error json.RawMessage `json:"error"`
	// StreamErrors are the first streams that exhausted their retries.
	StreamErrors   []store.StreamFailure `json:"streamErrors"`
	RecordsWritten int64                 `json:"recordsWritten"`
	Streams        StreamCounts          `json:"streams"`
	WorkflowID     string                `json:"workflowId"`
	WorkflowRunID  string                `json:"workflowRunId"`
	TemporalURL    string                `json:"temporalUrl"`
	CreatedAt      time.Time             `json:"createdAt"`
	UpdatedAt      time.Time             `json:"updatedAt"`
}

// StreamCounts are a run's streams by state.
type StreamCounts struct {
	Pending    int `json:"pending"`
	Processing int `json:"processing"`
	Processed  int `json:"processed"`
	Error      int `json:"error"`
	Total      int `json:"total"`
}

func integrationView(i *store.Integration) IntegrationView {
	settings := i.Settings
	if len(settings) == 0 {
		settings = json.RawMessage(`{}`)
	}
	return IntegrationView{
		ID: i.ID, TenantID: i.TenantID, Platform: i.Platform, Status: i.Status,
		Settings: redactSettings(settings), Identifier: i.Identifier,
		HasToken:  i.Token != "" || i.RefreshToken != "",
		CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt,
	}
}

func (s *server) runView(ctx context.Context, run *store.Run) (RunView, error) {
	counts, err := s.store.StreamCounts(ctx, run.ID)
	if err != nil {
		return RunView{}, err
	}
	failed, err := s.store.FailedStreams(ctx, run.ID, maxStreamErrors)
	if err != nil {
		return RunView{}, err
	}
	if failed == nil {
		failed = []store.StreamFailure{}
	}
	v := RunView{
		ID: run.ID, IntegrationID: run.IntegrationID, TenantID: run.TenantID, Onboarding: run.Onboarding,
		State: run.State, DelayedUntil: run.DelayedUntil, ProcessedAt: run.ProcessedAt,
		Error: run.Error, StreamErrors: failed, RecordsWritten: run.RecordsWritten,
		Streams: StreamCounts{
			Pending: counts[store.StreamPending], Processing: counts[store.StreamProcessing],
			Processed: counts[store.StreamProcessed], Error: counts[store.StreamError],
		},
		WorkflowID: run.WorkflowID, WorkflowRunID: run.WorkflowRunID,
		TemporalURL: s.temporalURL(run.WorkflowID, run.WorkflowRunID),
		CreatedAt:   run.CreatedAt, UpdatedAt: run.UpdatedAt,
	}
	for _, n := range counts {
		v.Streams.Total += n
	}
	if run.DelayReason != "" {
		reason := run.DelayReason
		v.DelayReason = &reason
	}
	if len(v.Error) == 0 || string(v.Error) == "null" {
		v.Error = nil
	}
	return v, nil
}

func (s *server) temporalURL(workflowID, workflowRunID string) string {
	return TemporalWebURL(s.uiURL, s.namespace, workflowID, workflowRunID)
}

// TemporalWebURL links a workflow execution in Temporal Web at base:
// <base>/namespaces/<ns>/workflows/<workflowId>/<runId>. The workflow id
// holds a slash (integration/<id>), so it is escaped as one path segment.
// Without an execution id the link lists the workflow's executions; without
// a workflow id there is no link ("").
func TemporalWebURL(base, namespace, workflowID, workflowRunID string) string {
	if workflowID == "" {
		return ""
	}
	base = strings.TrimRight(base, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows"
	if workflowRunID == "" {
		return base + "?query=" + url.QueryEscape(`WorkflowId="`+workflowID+`"`)
	}
	return base + "/" + url.PathEscape(workflowID) + "/" + url.PathEscape(workflowRunID)
}

// redactSettings hides values under keys that name secrets, at any depth.
// Settings are not where tokens belong (they have their own column), but a
// client may have put one there, and the API never sends secrets back.
func redactSettings(raw json.RawMessage) json.RawMessage {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw
	}
	if !redact(v) {
		return raw
	}
	out, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return out
}

// redact replaces secret values in place and reports whether it did.
func redact(v any) bool {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if secretKey(k) {
				if child != nil && child != "" {
					t[k] = "[redacted]"
					changed = true
				}
				continue
			}
			changed = redact(child) || changed
		}
	case []any:
		for _, child := range t {
			changed = redact(child) || changed
		}
	}
	return changed
}

func secretKey(k string) bool {
	k = strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(k))
	for _, s := range []string{"token", "secret", "password", "apikey", "credential", "privatekey"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
