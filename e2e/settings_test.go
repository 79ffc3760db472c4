package e2e

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/pgtest"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
)

// cursorService's Postprocess adds its cursor to the settings it is given,
// keeping every other key; its first call waits until the test lets it go,
// so that a user's edit can land while it works.
type cursorService struct {
	*testservice.Service
	entered, proceed chan struct{}
	calls            int
}

func (s *cursorService) Postprocess(_ context.Context, run *integrations.RunContext, _ integrations.RunOutcome) (json.RawMessage, error) {
	s.calls++
	if s.calls == 1 {
		close(s.entered)
		<-s.proceed
	}
	fields := map[string]json.RawMessage{}
	if err := json.Unmarshal(run.Integration.Settings, &fields); err != nil {
		return nil, err
	}
	fields["cursor"] = json.RawMessage(`"after-run"`)
	return json.Marshal(fields)
}

// A user who edits the settings while a run ends keeps the edit: the run's
// Postprocess result is written only over the settings it was computed
// from, and computed again on the user's.
func TestPostprocessKeepsAUsersEditMadeMeanwhile(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	defer st.Close()
	svc := &cursorService{Service: testservice.New(testservice.Script{}), entered: make(chan struct{}), proceed: make(chan struct{})}
	acts := &activities.Activities{Store: st, Registry: registry.New(svc)}
	tenant := uuid.NewString()
	integ, err := st.CreateIntegration(ctx, store.NewIntegration{TenantID: tenant, Platform: svc.Platform(), Status: store.StatusDone,
		Settings: json.RawMessage(`{"organizations":["forem"]}`)})
	require.NoError(t, err)
	runID := uuid.NewString()
	require.NoError(t, st.StartRun(ctx, store.NewRun{ID: runID, TenantID: tenant, IntegrationID: integ}, "wf"))

	done := make(chan error, 1)
	go func() { done <- acts.Postprocess(ctx, activities.RunRef{RunID: runID}) }()
	<-svc.entered
	// The user adds an organization (as the product's settings page would).
	_, err = st.Pool().Exec(ctx, `UPDATE integrations SET settings = '{"organizations":["forem","crowd"]}' WHERE id = $1`, integ)
	require.NoError(t, err)
	close(svc.proceed)
	require.NoError(t, <-done)

	got, err := st.GetIntegration(ctx, integ)
	require.NoError(t, err)
	assert.JSONEq(t, `{"organizations":["forem","crowd"],"cursor":"after-run"}`, string(got.Settings),
		"the user's edit and the run's cursor are both kept")
	assert.Equal(t, 2, svc.calls, "postprocess ran again on the edited settings")
}
