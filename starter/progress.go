package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/workflows"
)

// progressReporter shows a run's progress: a live bar redrawn in place on a
// terminal, one plain line per change otherwise (logs, CI, pipes).
type progressReporter struct {
	w    io.Writer
	tty  bool
	last string
}

func newProgressReporter(w io.Writer) *progressReporter {
	f, ok := w.(*os.File)
	return &progressReporter{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (r *progressReporter) report(run control.Started, p workflows.Progress) {
	line := progressLine(run, p)
	if line == r.last {
		return
	}
	r.last = line
	if !r.tty {
		fmt.Fprintln(r.w, line)
		return
	}
	fmt.Fprintf(r.w, "\r\033[K%s %s", progressBar(p, 24), line)
}

// done ends the bar's line on a terminal.
func (r *progressReporter) done() {
	if r.tty && r.last != "" {
		fmt.Fprintln(r.w)
	}
	r.last = ""
}

func progressBar(p workflows.Progress, width int) string {
	total := p.StreamsProcessed + p.StreamsFailed + p.StreamsPending
	filled := 0
	if total > 0 {
		filled = (p.StreamsProcessed + p.StreamsFailed) * width / total
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}

func progressLine(r control.Started, p workflows.Progress) string {
	line := fmt.Sprintf("run %s: %s, streams %d processed / %d failed / %d pending, %d record(s)",
		r.RunID, p.Step, p.StreamsProcessed, p.StreamsFailed, p.StreamsPending, p.Records)
	if p.Sleeping != nil {
		line += fmt.Sprintf(", sleeping until %s (%s)", p.Sleeping.Until.Format("15:04:05"), p.Sleeping.Reason)
	}
	return line
}
