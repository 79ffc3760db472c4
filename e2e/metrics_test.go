package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/metrics"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
)

// metricValue is the value of a series in the registry (a counter's or
// gauge's value, a histogram's sample count), or -1 when it is absent.
func metricValue(t *testing.T, reg *metrics.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

// The domain metrics count what a run did: records written, a stream that
// failed, a rate-limit wait and its length, the run's end; the run gauges
// show the active runs and the oldest and most overdue delayed one.
func TestDomainMetrics(t *testing.T) {
	svc := testservice.New(testservice.Script{
		Roots: []string{"a", "b", "c"},
		Pages: map[string][]testservice.Page{
			"a": {{Records: 3}, {Records: 2}},
			"b": {{Records: 1}},
			"c": {{Records: 1}},
		},
		RateLimitOnce: map[string]time.Duration{"b": 2 * time.Second},
		PermanentFail: map[string]bool{"c": true},
	})
	e := newEnv(t, []integrations.Service{svc})
	reg := metrics.NewRegistry()
	e.store.SetObserver(metrics.NewDomain(reg))
	metrics.RegisterRunGauges(reg, e.store)

	started, state := e.connect(testservice.Platform, `{}`, "")
	require.Equal(t, store.RunError, state, "stream c fails")
	p := map[string]string{"platform": testservice.Platform}
	assert.Equal(t, 6.0, metricValue(t, reg, "crowdflow_records_written_total", p))
	assert.Equal(t, 1.0, metricValue(t, reg, "crowdflow_stream_failures_total", p))
	assert.Equal(t, 1.0, metricValue(t, reg, "crowdflow_runs_finished_total", map[string]string{"platform": testservice.Platform, "state": store.RunError}))
	assert.Equal(t, 1.0, metricValue(t, reg, "crowdflow_run_delay_seconds",
		map[string]string{"platform": testservice.Platform, "kind": store.DelayKindRateLimit}), "one rate-limit wait")
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "crowdflow_run_delay_seconds" {
			sum := f.GetMetric()[0].GetHistogram().GetSampleSum()
			assert.InDelta(t, 2, sum, 1, "the wait's length in seconds")
		}
	}
	assert.Equal(t, -1.0, metricValue(t, reg, "crowdflow_runs", p), "no active run once it ended")

	// A run left delayed an hour after it started, its wait over ten
	// minutes ago (its workflow gone).
	_, err = e.store.Pool().Exec(context.Background(), `INSERT INTO "integrationRuns" (id, "tenantId", "integrationId", state, "delayedUntil", "createdAt")
		SELECT gen_random_uuid(), "tenantId", id, 'delayed', now() - interval '10 minutes', now() - interval '1 hour'
		FROM integrations WHERE id = $1`, started.IntegrationID)
	require.NoError(t, err)
	delayed := map[string]string{"platform": testservice.Platform, "state": store.RunDelayed}
	assert.Equal(t, 1.0, metricValue(t, reg, "crowdflow_runs", delayed))
	assert.GreaterOrEqual(t, metricValue(t, reg, "crowdflow_runs_oldest_seconds", delayed), 3600.0)
	assert.GreaterOrEqual(t, metricValue(t, reg, "crowdflow_delayed_runs_overdue_seconds", p), 600.0)
}
