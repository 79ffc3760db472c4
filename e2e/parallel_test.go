package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
)

// parallelScript is n one-page streams of records records each, slow
// enough (hold) that the run's slots are all busy at once.
func parallelScript(n, records, slots int, hold time.Duration) testservice.Script {
	newest := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := testservice.Script{Pages: map[string][]testservice.Page{}, HoldFirst: map[string]time.Duration{}}
	s.Config.ParallelStreams = slots
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("s-%02d", i)
		s.Roots = append(s.Roots, name)
		s.Pages[name] = []testservice.Page{{Records: records, Newest: newest}}
		if hold > 0 {
			s.HoldFirst[name] = hold
		}
	}
	return s
}

// processedAt lists the run's streams' processedAt, earliest first.
func (e *env) processedTimes(runID string) []time.Time {
	e.t.Helper()
	rows, err := e.store.Pool().Query(context.Background(),
		`SELECT "processedAt" FROM "integrationStreams" WHERE "runId" = $1 AND state = 'processed' ORDER BY "processedAt"`, runID)
	require.NoError(e.t, err)
	var out []time.Time
	for rows.Next() {
		var at time.Time
		require.NoError(e.t, rows.Scan(&at))
		out = append(out, at)
	}
	require.NoError(e.t, rows.Err())
	return out
}

// A 429 while three streams are in flight: the run stops claiming, lets
// the two others finish, sleeps once until the refusal's end, then goes
// on. Every stream is fetched once (the refused one twice), every row is
// stored once.
func TestRateLimitWithStreamsInFlight(t *testing.T) {
	script := parallelScript(9, 4, 3, 300*time.Millisecond)
	// s-00 is refused once its neighbours are in flight.
	script.HoldFirst["s-00"] = 150 * time.Millisecond
	script.RateLimitOnce = map[string]time.Duration{"s-00": 2 * time.Second}
	svc := testservice.New(script)
	e := newEnv(t, []integrations.Service{svc})
	started, state := e.connect(testservice.Platform, `{}`, "")
	require.Equal(t, store.RunProcessed, state)

	assert.Equal(t, 36, e.count(`SELECT count(*) FROM activities`))
	assert.Equal(t, 2, svc.Attempts("s-00#0"), "refused, then fetched after the wait")
	for i := 1; i < 9; i++ {
		assert.Equal(t, 1, svc.Attempts(fmt.Sprintf("s-%02d#0", i)), "s-%02d fetched once", i)
	}
	h := e.history(started)
	require.Len(t, h.Delays, 1, "one sleep for the run")
	assert.Contains(t, h.Delays[0], "s-00 rate limited")
	// The two streams in flight when s-00 was refused were stored; nothing
	// else was until the gate opened, two seconds later.
	first := e.strings(`SELECT name FROM "integrationStreams" WHERE "runId" = $1 ORDER BY "processedAt" LIMIT 2`, started.RunID)
	assert.ElementsMatch(t, []string{"s-01", "s-02"}, first)
	at := e.processedTimes(started.RunID)
	require.Len(t, at, 9)
	assert.GreaterOrEqual(t, at[2].Sub(at[1]), 1500*time.Millisecond, "nothing was claimed while the run was gated: %v", at)
}

// A route's rate limit (a Discord bucket) holds back its own stream only:
// the other streams go on meanwhile, and the run does not sleep until
// nothing else is left.
func TestRouteRateLimitHoldsOnlyItsStream(t *testing.T) {
	script := parallelScript(8, 2, 2, 0)
	script.RateLimitOnce = map[string]time.Duration{"s-00": 2 * time.Second}
	script.RateLimitBucket = map[string]string{"s-00": "channels/s-00/messages"}
	svc := testservice.New(script)
	e := newEnv(t, []integrations.Service{svc})
	started, state := e.connect(testservice.Platform, `{}`, "")
	require.Equal(t, store.RunProcessed, state)

	assert.Equal(t, 16, e.count(`SELECT count(*) FROM activities`))
	assert.Equal(t, 2, svc.Attempts("s-00#0"))
	calls := svc.Calls()
	require.Len(t, calls, 8)
	assert.Equal(t, "s-00#0", calls[len(calls)-1], "the held stream came last; the others did not wait for it")
	h := e.history(started)
	assert.LessOrEqual(t, len(h.Delays), 1, "at most one wait, for the held stream alone at the end")
}

// The global limit with three streams in flight overshoots by at most a
// page per slot, and the run then waits for the window.
func TestGlobalLimitWithStreamsInFlight(t *testing.T) {
	const limit, page, slots = 10, 4, 3
	script := parallelScript(12, page, slots, 100*time.Millisecond)
	script.Config.GlobalLimit, script.Config.LimitResetFrequency = limit, 24*time.Hour
	e := newEnv(t, []integrations.Service{testservice.New(script)})
	started := e.connectNoWait("")
	t.Cleanup(func() {
		_ = e.ctl.Temporal.TerminateWorkflow(context.Background(), started.WorkflowID, "", "test over")
	})
	require.Eventually(t, func() bool {
		state, _, _ := e.runRow(started.RunID)
		return state == store.RunDelayed
	}, 30*time.Second, 20*time.Millisecond)

	stored := e.count(`SELECT count(*) FROM activities`)
	assert.GreaterOrEqual(t, stored, limit, "the limit was reached")
	assert.LessOrEqual(t, stored, limit-1+slots*page, "at most a page per slot past the limit")
	assert.Equal(t, stored, e.count(`SELECT "limitCount" FROM integrations`), "the counter is exact")
	run, err := e.store.GetRun(context.Background(), started.RunID)
	require.NoError(t, err)
	assert.Contains(t, run.DelayReason, "global limit")
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM "integrationStreams" WHERE state = 'processing'`), "nothing left in flight")
}

// A long run with streams in flight continues as new between its steps:
// every execution's history stays small, no step outlives its execution,
// and the rows are exact. Each execution starts as many steps as it has
// slots: its last one, all of whose steps find the queue empty, ends the
// run instead of continuing as new (before, it did so for ever).
func TestContinueAsNewWithStreamsInFlight(t *testing.T) {
	script := parallelScript(40, 3, 4, 0)
	svc := testservice.New(script)
	e := newEnv(t, []integrations.Service{svc}, func(e *env) { e.run.MaxStreamsPerExecution, e.run.SlotStepFor = 4, 0 })
	started, state := e.connect(testservice.Platform, `{}`, "")
	require.Equal(t, store.RunProcessed, state)

	assert.Equal(t, 120, e.count(`SELECT count(*) FROM activities`))
	calls := svc.Calls()
	sort.Strings(calls)
	assert.Len(t, calls, 40, "each stream fetched once")
	for i := 1; i < len(calls); i++ {
		assert.NotEqual(t, calls[i-1], calls[i])
	}
	lengths := e.executionLengths(started)
	assert.Greater(t, len(lengths), 2, "the run continued as new")
	for i, n := range lengths {
		assert.Less(t, n, 200, "execution %d's history stays small", i)
	}
}

// executionLengths follows a run's chain of executions (continue-as-new)
// from its first and returns each one's number of history events.
func (e *env) executionLengths(s control.Started) []int {
	e.t.Helper()
	var out []int
	for runID := s.WorkflowRunID; runID != ""; {
		it := e.ctl.Temporal.GetWorkflowHistory(context.Background(), s.WorkflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		n, next := 0, ""
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(e.t, err)
			n++
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		out = append(out, n)
		runID = next
	}
	return out
}
