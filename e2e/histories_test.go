package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// historiesDir is where the replay test (workflows/replay_test.go) finds
// the recorded histories.
const historiesDir = "../workflows/testdata/histories"

// TestRecordHistories records the histories of real runs on the real
// Temporal test server, for the replay test: an onboarding that continues
// as new, rate-limit waits (a Retry-After and a storm of Retry-After: 0),
// a failed stream and a cancelled run. It writes only when
// RECORD_HISTORIES=1 (the files are committed; recording them again is a
// deliberate act, after a change that is patched with workflow.GetVersion:
// see the README's "Deploys" section; record one scenario with
// -run 'TestRecordHistories/<name>'); otherwise it checks that every
// scenario still has its files.
func TestRecordHistories(t *testing.T) {
	record := os.Getenv("RECORD_HISTORIES") == "1"
	for _, sc := range []struct {
		name   string
		script func(*testservice.Script)
		tune   func(*workflows.Run)
		end    func(e *env, s control.Started)
		state  string
	}{
		{name: "onboarding-continue-as-new", tune: func(r *workflows.Run) { r.MaxStreamsPerExecution = 2 }, state: store.RunProcessed},
		{name: "rate-limit-waits", script: func(s *testservice.Script) {
			s.RateLimitOnce = map[string]time.Duration{"b": time.Second}
			s.RateLimitTimes = map[string]int{"c": 2}
			s.SleepAfter = map[string]time.Duration{"d": time.Second}
		}, state: store.RunProcessed},
		{name: "failed-stream", script: func(s *testservice.Script) { s.FailTimes = map[string]int{"b": -1} }, state: store.RunError},
		{name: "cancelled-in-sleep", script: func(s *testservice.Script) { s.SleepAfter = map[string]time.Duration{"a": time.Hour} },
			end: func(e *env, s control.Started) {
				require.Eventually(e.t, func() bool {
					state, _, _ := e.runRow(s.RunID)
					return state == store.RunDelayed
				}, 30*time.Second, 20*time.Millisecond)
				require.NoError(e.t, e.ctl.Temporal.CancelWorkflow(context.Background(), s.WorkflowID, ""))
			}, state: store.RunError},
		// The same with three streams in flight (runSlots), one page per
		// step so the executions continue as new.
		{name: "slots-continue-as-new", tune: func(r *workflows.Run) { r.MaxStreamsPerExecution, r.SlotStepFor = 3, 0 },
			script: slots(3), state: store.RunProcessed},
		{name: "slots-rate-limit-waits", script: func(s *testservice.Script) {
			slots(3)(s)
			s.RateLimitOnce = map[string]time.Duration{"b": time.Second}
			s.RateLimitTimes = map[string]int{"c": 2}
			s.SleepAfter = map[string]time.Duration{"d": time.Second}
		}, state: store.RunProcessed},
		{name: "slots-failed-stream", script: func(s *testservice.Script) {
			slots(3)(s)
			s.FailTimes = map[string]int{"b": -1, "c": 1}
		}, state: store.RunError},
	} {
		t.Run(sc.name, func(t *testing.T) {
			if !record {
				matches, err := filepath.Glob(filepath.Join(historiesDir, sc.name+"-*.json"))
				require.NoError(t, err)
				require.NotEmpty(t, matches, "no recorded history for %s: run with RECORD_HISTORIES=1", sc.name)
				return
			}
			script := engineScript()
			if sc.script != nil {
				sc.script(&script)
			}
			e := newEnv(t, []integrations.Service{testservice.New(script)}, func(e *env) {
				if sc.tune != nil {
					sc.tune(e.run)
				}
			})
			started := e.connectNoWait("")
			if sc.end != nil {
				sc.end(e, started)
			}
			require.Equal(t, sc.state, e.wait(started))
			e.saveHistories(sc.name, started)
		})
	}
}

// slots sets a script's streams in flight.
func slots(n int) func(*testservice.Script) {
	return func(s *testservice.Script) { s.Config.ParallelStreams = n }
}

// saveHistories writes every execution of the run, following
// continue-as-new, as <name>-<n>.json, and the workflow's tunables as
// <name>.run.json (the replay needs the same ones).
func (e *env) saveHistories(name string, s control.Started) {
	e.t.Helper()
	require.NoError(e.t, os.MkdirAll(historiesDir, 0o755))
	old, _ := filepath.Glob(filepath.Join(historiesDir, name+"-*.json"))
	for _, f := range old {
		require.NoError(e.t, os.Remove(f))
	}
	tunables, err := json.MarshalIndent(e.run, "", "  ")
	require.NoError(e.t, err)
	require.NoError(e.t, os.WriteFile(filepath.Join(historiesDir, name+".run.json"), append(tunables, '\n'), 0o644))
	runID := s.WorkflowRunID
	for n := 1; runID != ""; n++ {
		h := &historypb.History{}
		it := e.ctl.Temporal.GetWorkflowHistory(context.Background(), s.WorkflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		next := ""
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(e.t, err)
			h.Events = append(h.Events, ev)
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
		require.NoError(e.t, err)
		require.NoError(e.t, os.WriteFile(filepath.Join(historiesDir, fmt.Sprintf("%s-%d.json", name, n)), append(b, '\n'), 0o644))
		runID = next
	}
}
