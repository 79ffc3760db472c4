package workflows

import (
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

// RunMemo is the memo of a run's workflow: what Temporal Web shows beside
// it, and how a starter learns which run an execution works on.
type RunMemo struct {
	RunID      string `json:"runId"`
	Platform   string `json:"platform"`
	TenantID   string `json:"tenantId"`
	Onboarding bool   `json:"onboarding"`
}

// Memo is the memo to start a run's workflow with.
func Memo(in RunInput) map[string]any {
	return map[string]any{
		"runId": in.RunID, "platform": in.Platform, "tenantId": in.TenantID, "onboarding": in.Onboarding,
	}
}

// ReadMemo decodes a run workflow's memo.
func ReadMemo(m *commonpb.Memo) (RunMemo, error) {
	var out RunMemo
	dc := converter.GetDefaultDataConverter()
	fields := m.GetFields()
	for key, dst := range map[string]any{"runId": &out.RunID, "platform": &out.Platform, "tenantId": &out.TenantID, "onboarding": &out.Onboarding} {
		if p, ok := fields[key]; ok {
			if err := dc.FromPayload(p, dst); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}
