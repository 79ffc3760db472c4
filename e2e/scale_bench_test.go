package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/slack"
	"github.com/crowdflow/crowdflow/integrations/slack/slackfake"
	"github.com/crowdflow/crowdflow/internal/quotafake"
	"github.com/crowdflow/crowdflow/store"
)

// The scale benchmark (issue 11, benchmark 4): a Slack onboarding of
// BENCH_SCALE_ACTIVITIES activities (default 1,000,000) processed by the
// worker binary itself, built from ./worker as the production image's
// (-tags nodev) and run as a subprocess
// against the benchmark's Temporal server and PostgreSQL database, with
// SLACK_API_URL pointing at the Slack fake (no latency, no quota:
// quotafake only counts the requests). It prints
//
//   - the worker process's peak resident memory (VmHWM of
//     /proc/<pid>/status; target ≤ 256 MB), and its resident memory at
//     the end of each tenth of the run;
//   - the largest number of history events of any execution of the run
//     (its continue-as-new chain and any child workflow, read through the
//     Temporal client; target ≤ 10k);
//   - pages/s in each tenth of the run, which must not fall as the
//     tables grow. A page is a conversations.history call: 200 messages,
//     nearly all the run's rows. (The other calls are not pages: the
//     users.info look-ups of the authors the users.list pages have not
//     yet cached come in bursts, tens in one page's step.)
//
//	BENCH_SCALE_ACTIVITIES=100000 go test ./e2e -run '^$' -bench Scale -benchtime 1x
//	go test ./e2e -run '^$' -bench Scale -benchtime 1x -timeout 2h
//
// The worker gets the benchmark's environment, so PARALLEL_STREAMS_SLACK
// and the like reach it.

// scaleShape is the workspace of n activities: channels of 5,000
// activities (at least one), each with five members' joins.
func scaleShape(n int) slackBenchShape {
	const perChannel, members = 5000, 5
	channels := max(1, n/perChannel)
	return slackBenchShape{Channels: channels, Messages: n/channels - members, Members: members, Users: 1000}
}

var (
	workerBinOnce sync.Once
	workerBin     string
	workerBinErr  error
)

// workerBinary builds the worker command once, as the Dockerfile builds
// the production image's (-tags nodev: without the dev mode's embedded
// Temporal server, whose packages alone hold about 150 MB resident).
func workerBinary(b *testing.B) string {
	b.Helper()
	workerBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "worker-bin-")
		if err != nil {
			workerBinErr = err
			return
		}
		workerBin = filepath.Join(dir, "worker")
		out, err := exec.Command("go", "build", "-tags", "nodev", "-o", workerBin, "github.com/crowdflow/crowdflow/worker").CombinedOutput()
		if err != nil {
			workerBinErr = fmt.Errorf("build worker: %v\n%s", err, out)
		}
	})
	require.NoError(b, workerBinErr)
	return workerBin
}

// procStatusKB reads a "<field>: <n> kB" line of /proc/<pid>/status.
func procStatusKB(pid int, field string) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// sample is the pages served and the worker's RSS at one moment.
type sample struct {
	at    time.Time
	pages int
	rssKB int
}

// historyEvents returns the number of events of each execution of the
// workflow execution (wfID, runID), its continue-as-new successors and
// its child workflows, by "workflowID/runID".
func historyEvents(ctx context.Context, c client.Client, wfID, runID string) (map[string]int, error) {
	out := map[string]int{}
	type execution struct{ wf, run string }
	todo := []execution{{wfID, runID}}
	for len(todo) > 0 {
		x := todo[0]
		todo = todo[1:]
		n := 0
		it := c.GetWorkflowHistory(ctx, x.wf, x.run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, fmt.Errorf("history of %s/%s: %w", x.wf, x.run, err)
			}
			n++
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
				todo = append(todo, execution{x.wf, ev.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()})
			case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
				we := ev.GetChildWorkflowExecutionStartedEventAttributes().GetWorkflowExecution()
				todo = append(todo, execution{we.GetWorkflowId(), we.GetRunId()})
			}
		}
		out[x.wf+"/"+x.run] = n
	}
	return out, nil
}

func BenchmarkScale(b *testing.B) {
	total := benchSize(b, "BENCH_SCALE_ACTIVITIES", 1000000)
	shape := scaleShape(total)
	bin := workerBinary(b)
	b.Logf("workspace: %d channels of %d messages and %d joins, %d people: %d activities",
		shape.Channels, shape.Messages, shape.Members, shape.Users, shape.activities())
	for i := 0; i < b.N; i++ {
		// No latency, no quota: the middleware counts the pages.
		fake := slackfake.New(slackBenchWorld(shape))
		q := quotafake.New(fake, quotafake.Options{Limit: 1 << 30})
		srv := httptest.NewServer(q)
		e := newEnv(b, []integrations.Service{slack.New(slack.Options{APIURL: srv.URL + "/"})})
		e.worker.Stop() // the worker binary does the work

		logPath := filepath.Join(b.TempDir(), "worker.log")
		logFile, err := os.Create(logPath)
		require.NoError(b, err)
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(),
			"DATABASE_URL="+e.dbURL,
			"TEMPORAL_ADDRESS="+temporalServer().GetFrontendHostPort(),
			"TEMPORAL_NAMESPACE="+temporalServer().GetDefaultNamespace(),
			"TEMPORAL_TASK_QUEUE="+e.queue,
			"ENCRYPTION_KEY="+e.key,
			"METRICS_ADDR=off",
			slack.EnvAPIURL+"="+srv.URL+"/",
		)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		require.NoError(b, cmd.Start())
		pid := cmd.Process.Pid
		var stopOnce sync.Once
		stopWorker := func() {
			stopOnce.Do(func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				_ = cmd.Wait()
				logFile.Close()
			})
		}
		// Stopped even when the benchmark fails half-way.
		b.Cleanup(stopWorker)

		var (
			mu      sync.Mutex
			samples []sample
		)
		sampleNow := func() {
			rss, _ := procStatusKB(pid, "VmRSS")
			mu.Lock()
			samples = append(samples, sample{at: time.Now(), pages: fake.Calls(slackfake.MethodConversationsHistory), rssKB: rss})
			mu.Unlock()
		}
		stopSampling := make(chan struct{})
		sampled := make(chan struct{})
		var stopSamplingOnce sync.Once
		endSampling := func() {
			stopSamplingOnce.Do(func() { close(stopSampling) })
			<-sampled
		}
		start := time.Now()
		started, err := e.ctl.Connect(context.Background(), control.ConnectInput{
			TenantID: benchTenant, Platform: slack.Platform, Settings: []byte(`{}`), Token: slackBenchToken,
		})
		require.NoError(b, err)
		b.Cleanup(endSampling)
		go func() {
			defer close(sampled)
			for {
				sampleNow()
				select {
				case <-stopSampling:
					return
				case <-time.After(250 * time.Millisecond):
				}
			}
		}()
		state := waitLong(b, e, started)
		elapsed := time.Since(start)
		endSampling()
		sampleNow()
		b.StopTimer()
		hwm, err := procStatusKB(pid, "VmHWM")
		stopWorker()
		require.NoError(b, err)
		if state != store.RunProcessed {
			log, _ := os.ReadFile(logPath)
			b.Fatalf("run ended %s; worker log:\n%s", state, tail(string(log), 4000))
		}
		require.Equal(b, shape.activities(), e.count(`SELECT count(*) FROM activities`))
		require.Equal(b, shape.Users, e.count(`SELECT count(*) FROM members`))

		events, err := historyEvents(context.Background(), e.ctl.Temporal, started.WorkflowID, started.WorkflowRunID)
		require.NoError(b, err)
		maxEvents := 0
		for _, n := range events {
			maxEvents = max(maxEvents, n)
		}

		served := q.Total().Served
		pages := fake.Calls(slackfake.MethodConversationsHistory)
		b.ReportMetric(float64(hwm)/1024, "peak-RSS-MB")
		b.ReportMetric(float64(maxEvents), "max-events/execution")
		b.ReportMetric(float64(len(events)), "executions")
		b.ReportMetric(float64(pages)/elapsed.Seconds(), "pages/s")
		b.ReportMetric(float64(shape.activities())/elapsed.Seconds(), "activities/s")
		b.Logf("%d activities, %d pages (%d requests: %s) in %.1f s; worker peak RSS %.1f MB; %d executions, at most %d history events in one",
			shape.activities(), pages, served, slackCalls(fake), elapsed.Seconds(), float64(hwm)/1024, len(events), maxEvents)
		// On stdout: a benchmark's log keeps only its first ten lines.
		fmt.Printf("%s: tenths of the run (by pages): pages/s, and the worker's RSS at its end\n", b.Name())
		for _, line := range tenths(samples, pages) {
			fmt.Println(line)
		}
		srv.Close()
		b.StartTimer()
	}
}

// tenths splits the run into ten equal shares of its pages and gives
// each one's pages/s and the RSS sampled when it ended.
func tenths(samples []sample, pages int) []string {
	var out []string
	if len(samples) == 0 || pages == 0 {
		return out
	}
	prev := samples[0]
	j := 0
	for k := 1; k <= 10; k++ {
		goal := pages * k / 10
		for j < len(samples)-1 && samples[j].pages < goal {
			j++
		}
		s := samples[j]
		secs := s.at.Sub(prev.at).Seconds()
		rate := 0.0
		if secs > 0 {
			rate = float64(s.pages-prev.pages) / secs
		}
		out = append(out, fmt.Sprintf("  tenth %2d: pages %6d-%6d  %7.1f pages/s  RSS %6.1f MB", k, prev.pages, s.pages, rate, float64(s.rssKB)/1024))
		prev = s
	}
	return out
}

// tail is the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// slackCalls lists the Slack fake's calls by method.
func slackCalls(f *slackfake.Server) string {
	var parts []string
	for _, m := range []string{slackfake.MethodTeamInfo, slackfake.MethodConversationsList, slackfake.MethodUsersList,
		slackfake.MethodConversationsHistory, slackfake.MethodConversationsReplies, slackfake.MethodConversationsMembers,
		slackfake.MethodUsersInfo} {
		if n := f.Calls(m); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", m, n))
		}
	}
	return strings.Join(parts, ", ")
}
