package e2e

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/testservice"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// scaled is the production retry schedule with every interval divided by
// 600 (two seconds become milliseconds, five minutes half a second): the
// same attempts and shape, so "an incident of N minutes" becomes N/10 s.
func scaled(r *workflows.Run) {
	def := workflows.DefaultRun()
	r.StreamRetry = def.StreamRetry
	r.StreamRetry.InitialInterval = def.StreamRetry.InitialInterval / 600
	r.StreamRetry.MaximumInterval = def.StreamRetry.MaximumInterval / 600
}

// The production policy outlasts ordinary incidents: its attempts span
// more than half an hour (before: five attempts in about 30 s).
func TestStreamRetrySpansAnIncident(t *testing.T) {
	span := workflows.RetrySpan(workflows.DefaultRun().StreamRetry)
	assert.GreaterOrEqual(t, span, 30*time.Minute)
	assert.LessOrEqual(t, span, time.Hour)
	assert.LessOrEqual(t, workflows.DefaultRun().StreamRetry.MaximumInterval, 5*time.Minute, "capped")
}

// An API that answers 503 for a while and then recovers: the stream is
// retried until it succeeds, and the onboarding ends processed with every
// record. The outage here (6 s) is longer than the old policy's five
// attempts took in this harness (the test server spaces retries at least
// about a second apart), which failed the stream.
func TestAPIOutageIsSurvived(t *testing.T) {
	svc := testservice.New(engineScript())
	e := newEnv(t, []integrations.Service{svc}, func(e *env) { scaled(e.run) })
	svc.SetFailFor("b", 6*time.Second)
	_, state := e.connect(testservice.Platform, `{}`, "")
	require.Equal(t, store.RunProcessed, state)
	assert.Greater(t, svc.Attempts("b#0"), 5, "b failed for longer than five attempts")
	assert.Equal(t, 20, e.count(`SELECT count(*) FROM activities`))
	assert.Equal(t, store.StatusDone, e.strings(`SELECT status FROM integrations`)[0])
}

// tcpProxy stands between the worker and PostgreSQL, so a test can take
// the database away (every connection cut, new ones refused) and bring it
// back.
type tcpProxy struct {
	t      *testing.T
	target string
	mu     sync.Mutex
	ln     net.Listener
	addr   string
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	require.NoError(p.t, err)
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// down cuts every connection and stops listening: the database is gone.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// up listens again on the same address.
func (p *tcpProxy) up() { p.listen(p.addr) }

// through returns the database URL with the proxy as its host.
func (p *tcpProxy) through(dbURL string) string {
	u, err := url.Parse(dbURL)
	require.NoError(p.t, err)
	u.Host = p.addr
	return u.String()
}

// A database outage spends no attempt of the stream: the step that meets
// it is tried again, with its attempts whole, until the database is back.
// Here a stream has one attempt only, and the database goes away while its
// page is being fetched; the run still ends processed with every record.
// (Before, the commit's error spent the attempt and failed the stream.)
func TestDatabaseOutageSpendsNoAttempt(t *testing.T) {
	script := engineScript()
	script.HoldFirst = map[string]time.Duration{"b": 1500 * time.Millisecond}
	svc := testservice.New(script)
	e := newEnv(t, []integrations.Service{svc}, func(e *env) {
		e.run.StreamRetry.MaximumAttempts = 1
	})
	// The worker's store goes through the proxy; the test's does not.
	u, err := url.Parse(e.dbURL)
	require.NoError(t, err)
	proxy := newTCPProxy(t, u.Host)
	workerStore, err := store.Open(context.Background(), proxy.through(e.dbURL))
	require.NoError(t, err)
	t.Cleanup(workerStore.Close)
	e.worker.Stop()
	e.worker = temporalServer().NewWorkerWithOptions(e.queue, func(r worker.Registry) {
		e.run.Register(r, &activities.Activities{Store: workerStore, Registry: e.reg, HeartbeatInterval: 100 * time.Millisecond})
	}, worker.Options{})

	started := e.connectNoWait("")
	require.Eventually(t, func() bool { return svc.Attempts("b#0") == 1 }, 30*time.Second, 10*time.Millisecond)
	proxy.down()
	time.Sleep(3 * time.Second) // b's page comes back while the database is away
	proxy.up()

	require.Equal(t, store.RunProcessed, e.wait(started))
	assert.Equal(t, 2, svc.Attempts("b#0"), "fetched again once the database was back")
	assert.Equal(t, 20, e.count(`SELECT count(*) FROM activities`))
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM "integrationStreams" WHERE state <> 'processed'`))
}

// A worker stopped gracefully (SIGTERM in a rolling restart) in the middle
// of a stream does not spend that stream's attempt: the interrupted
// attempt reports itself as such, and the stream is run again on the next
// worker with its attempts whole. With one attempt per stream, the run
// still ends processed.
func TestWorkerStopSpendsNoAttempt(t *testing.T) {
	script := engineScript()
	script.HoldFirst = map[string]time.Duration{"b": time.Minute}
	svc := testservice.New(script)
	e := newEnv(t, []integrations.Service{svc}, func(e *env) {
		e.run.StreamRetry.MaximumAttempts = 1
		// Long enough that only the graceful stop, not the heartbeat
		// timeout, ends the attempt.
		e.run.HeartbeatTimeout = time.Minute
	})
	e.worker.Stop()
	e.worker = e.newWorker(worker.Options{WorkerStopTimeout: 200 * time.Millisecond})

	started := e.connectNoWait("")
	require.Eventually(t, func() bool { return svc.Attempts("b#0") == 1 }, 30*time.Second, 10*time.Millisecond)
	e.worker.Stop() // what the worker does on SIGTERM
	e.worker = e.newWorker(worker.Options{WorkerStopTimeout: 200 * time.Millisecond})

	require.Equal(t, store.RunProcessed, e.wait(started))
	assert.Equal(t, 2, svc.Attempts("b#0"))
	assert.Equal(t, 20, e.count(`SELECT count(*) FROM activities`))
}
