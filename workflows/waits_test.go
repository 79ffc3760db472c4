package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// timers records the durations of the workflow's timers.
func (h *harness) timers() *[]time.Duration {
	var out []time.Duration
	h.env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { out = append(out, d) })
	return &out
}

// A Retry-After of 0 (a wait whose end is already past) used to loop
// ProcessStream with no pause at all. Every wait has a floor, and rate
// limits in a row back off: 1 s, 2 s, 4 s, ... A short storm still ends in
// the data.
func TestRetryAfterZeroBacksOffAndEndsInTheData(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots:          []string{"storm", "after"},
		Pages:          map[string][]testservice.Page{"storm": pages(2), "after": pages(1)},
		RateLimitTimes: map[string]int{"storm": 6},
	}, true, nil)
	timers := h.timers()
	res, err := h.execute()
	require.NoError(t, err)
	assert.Equal(t, store.RunProcessed, res.State)
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second}, *timers)
	assert.Equal(t, 7, h.svc.Attempts("storm#0"))
	assert.Equal(t, []string{"storm#0", "after#0"}, h.svc.Calls())
	assert.Equal(t, 0, h.count(`SELECT coalesce(max(retries), 0) FROM "integrationStreams"`), "rate limits spend no attempt")
}

// The backoff is capped: a long storm does not end in waits of days.
func TestRateLimitBackoffIsCapped(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots: []string{"storm"}, Pages: map[string][]testservice.Page{"storm": pages(1)},
		RateLimitTimes: map[string]int{"storm": 14},
	}, true, nil)
	timers := h.timers()
	_, err := h.execute()
	require.NoError(t, err)
	max := workflows.DefaultRun().RateLimitBackoffMax
	require.Len(t, *timers, 14)
	for _, d := range *timers {
		assert.LessOrEqual(t, d, max)
	}
	assert.Equal(t, max, (*timers)[13])
}

// A stream refused without a break for longer than MaxRateLimitedFor
// fails honestly, with the reason; the others are stored and the run ends.
func TestStreamRateLimitedForHoursFails(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots:          []string{"throttled", "fine"},
		Pages:          map[string][]testservice.Page{"throttled": pages(1), "fine": pages(2)},
		RateLimitTimes: map[string]int{"throttled": -1},
		RateLimitWait:  map[string]time.Duration{"throttled": time.Hour},
	}, true, nil)
	start := h.env.Now()
	_, err := h.execute()
	require.Error(t, err, "a failed stream fails the run")
	bound := workflows.DefaultRun().MaxRateLimitedFor
	assert.GreaterOrEqual(t, h.env.Now().Sub(start), bound)
	assert.Less(t, h.env.Now().Sub(start), bound+2*time.Hour)
	var failure store.Failure
	var errJSON []byte
	require.NoError(t, h.store.Pool().QueryRow(context.Background(),
		`SELECT error FROM "integrationStreams" WHERE name = 'throttled' AND state = 'error'`).Scan(&errJSON))
	require.NoError(t, json.Unmarshal(errJSON, &failure))
	assert.Contains(t, failure.Message, "rate limited without a break for")
	assert.Equal(t, []string{"fine#0"}, h.svc.Calls())
	assert.Equal(t, store.RunError, h.run().State)
}

// A run that is rate limited again and again continues as new between the
// waits (before, a rate limit skipped the check and a long throttle grew
// the history to Temporal's limit); the streak goes with it.
func TestRateLimitsContinueAsNew(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots: []string{"storm"}, Pages: map[string][]testservice.Page{"storm": pages(1)},
		RateLimitTimes: map[string]int{"storm": 10},
	}, true, func(r *workflows.Run) { r.MaxStreamsPerExecution = 3 })
	_, err := h.execute()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "expected continue-as-new, got %v", err)
	var next workflows.RunInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	assert.True(t, next.Continued)
	assert.Equal(t, 3, next.Streak.Count, "the backoff goes on in the next execution")
	assert.Equal(t, 3, h.svc.Attempts("storm#0"))
}

// Delays travel as durations: the wait is what the API asked for, however
// far workflow time is from the worker's clock (before, the worker's
// instant was compared with workflow time).
func TestDelayIsADuration(t *testing.T) {
	h := newHarness(t, testservice.Script{
		Roots: []string{"limited"}, Pages: map[string][]testservice.Page{"limited": pages(1)},
		RateLimitOnce: map[string]time.Duration{"limited": time.Hour},
	}, true, nil)
	h.env.SetStartTime(time.Now().Add(-24 * time.Hour))
	timers := h.timers()
	_, err := h.execute()
	require.NoError(t, err)
	require.Len(t, *timers, 1)
	assert.InDelta(t, time.Hour.Seconds(), (*timers)[0].Seconds(), 60)
}

// The setup steps' rate limits get the same floor, backoff and time bound
// as the streams'.
func TestPreprocessRateLimits(t *testing.T) {
	t.Run("a storm of Retry-After: 0 backs off and ends in the data", func(t *testing.T) {
		h := newHarness(t, testservice.Script{
			Roots: []string{"a"}, Pages: map[string][]testservice.Page{"a": pages(1)},
			PreprocessRateLimitTimes: 3,
		}, true, nil)
		timers := h.timers()
		res, err := h.execute()
		require.NoError(t, err)
		assert.Equal(t, store.RunProcessed, res.State)
		assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, *timers)
	})
	t.Run("refused for hours fails the run honestly", func(t *testing.T) {
		h := newHarness(t, testservice.Script{
			Roots: []string{"a"}, Pages: map[string][]testservice.Page{"a": pages(1)},
			PreprocessRateLimitTimes: -1, PreprocessRateLimitWait: time.Hour,
		}, true, nil)
		_, err := h.execute()
		require.Error(t, err)
		run := h.run()
		assert.Equal(t, store.RunError, run.State)
		var failure store.Failure
		require.NoError(t, json.Unmarshal(run.Error, &failure))
		assert.Equal(t, "preprocessing", failure.ErrorPoint)
		assert.Contains(t, failure.Message, "rate limited without a break for")
		assert.Equal(t, store.StatusError, h.integrationStatus())
	})
}
