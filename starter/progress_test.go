package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/workflows"
)

func TestProgressReporterPrintsPlainLinesOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	r := newProgressReporter(&buf)
	run := control.Started{RunID: "r1"}
	r.report(run, workflows.Progress{Step: "streams", StreamsProcessed: 1, StreamsPending: 3, Records: 10})
	r.report(run, workflows.Progress{Step: "streams", StreamsProcessed: 1, StreamsPending: 3, Records: 10})
	r.report(run, workflows.Progress{Step: "streams", StreamsProcessed: 4, Records: 40})
	r.done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	assert.Equal(t, []string{
		"run r1: streams, streams 1 processed / 0 failed / 3 pending, 10 record(s)",
		"run r1: streams, streams 4 processed / 0 failed / 0 pending, 40 record(s)",
	}, lines, "one line per change, no escape codes")
}

func TestProgressBar(t *testing.T) {
	cases := []struct {
		p    workflows.Progress
		want string
	}{
		{workflows.Progress{}, "[....]"},
		{workflows.Progress{StreamsProcessed: 1, StreamsPending: 3}, "[#...]"},
		{workflows.Progress{StreamsProcessed: 2, StreamsFailed: 1, StreamsPending: 1}, "[###.]"},
		{workflows.Progress{StreamsProcessed: 4}, "[####]"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, progressBar(c.p, 4))
	}
}
