package workflows_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crowdflow/crowdflow/workflows"
)

// TestReplayRecordedHistories replays the histories of real runs recorded
// by e2e's TestRecordHistories (an onboarding that continued as new,
// rate-limit waits, a failed stream, a cancelled run) against the workflow
// code as it is now. A change that would make a run started by the
// deployed code fail when the new code takes it over fails here: such a
// change must be patched with workflow.GetVersion (README, "Deploys").
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*-*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories")
	for _, f := range files {
		if strings.HasSuffix(f, ".run.json") {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			// The tunables the run was recorded with: some of them (how many
			// streams per execution) decide what the workflow does.
			name := strings.TrimSuffix(filepath.Base(f), ".json")
			name = name[:strings.LastIndex(name, "-")]
			b, err := os.ReadFile(filepath.Join("testdata/histories", name+".run.json"))
			require.NoError(t, err)
			run := workflows.DefaultRun()
			require.NoError(t, json.Unmarshal(b, run))

			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(run.Execute, workflow.RegisterOptions{Name: workflows.RunWorkflowName})
			require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}
