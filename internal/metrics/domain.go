package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crowdflow/crowdflow/store"
)

// The engine's own metrics (README "Metrics"): what an operator watches to
// know that runs end, streams get through, and rate limits are survived.
// Counters are per worker process (sum them across workers); the run gauges
// are read from the database at each scrape, so every worker reports the
// same totals (take max or any one, not the sum).

// DelayBuckets are the buckets of the delay histogram, in seconds: from the
// one-second floor to a day.
var DelayBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600}

// Domain records what the store reports (it is a store.Observer).
type Domain struct {
	runsFinished   *prometheus.CounterVec
	streamFailures *prometheus.CounterVec
	delays         *prometheus.HistogramVec
	records        *prometheus.CounterVec
}

var _ store.Observer = (*Domain)(nil)

// NewDomain registers the domain counters in r.
func NewDomain(r *Registry) *Domain {
	d := &Domain{
		runsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdflow_runs_finished_total",
			Help: "Runs that ended, by platform and final state (processed, error).",
		}, []string{"platform", "state"}),
		streamFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdflow_stream_failures_total",
			Help: "Streams marked error after their attempts were spent, by platform.",
		}, []string{"platform"}),
		delays: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crowdflow_run_delay_seconds",
			Help:    "Waits a run was put in, by platform and kind (rate-limit: the API refused; global-limit: the integration's own record limit; sleep: the service asked), in seconds; _count is the number of waits.",
			Buckets: DelayBuckets,
		}, []string{"platform", "kind"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdflow_records_written_total",
			Help: "Members and activities committed by stream pages, by platform.",
		}, []string{"platform"}),
	}
	r.MustRegister(d.runsFinished, d.streamFailures, d.delays, d.records)
	return d
}

// RecordsWritten implements store.Observer.
func (d *Domain) RecordsWritten(platform string, n int) {
	d.records.WithLabelValues(platform).Add(float64(n))
}

// StreamFailed implements store.Observer.
func (d *Domain) StreamFailed(platform string) { d.streamFailures.WithLabelValues(platform).Inc() }

// RunFinished implements store.Observer.
func (d *Domain) RunFinished(platform, state string) {
	d.runsFinished.WithLabelValues(platform, state).Inc()
}

// RunDelayed implements store.Observer. A wait below zero (an instant
// already past) is recorded as zero.
func (d *Domain) RunDelayed(platform, kind string, wait time.Duration) {
	d.delays.WithLabelValues(platform, kind).Observe(max(wait, 0).Seconds())
}

// RunCounter reads the active runs (store.Store.ActiveRunCounts).
type RunCounter interface {
	ActiveRunCounts(ctx context.Context) ([]store.RunCount, error)
}

// runGauges reads the active runs from the database at each scrape.
type runGauges struct {
	src     RunCounter
	timeout time.Duration
	runs    *prometheus.Desc
	oldest  *prometheus.Desc
	overdue *prometheus.Desc
}

// RegisterRunGauges registers the gauges of the active runs, read through
// src at each scrape (one query on a partial index):
//
//	crowdflow_runs{platform,state}                      pending, processing, delayed
//	crowdflow_runs_oldest_seconds{platform,state}       age of the oldest run in that state
//	crowdflow_delayed_runs_overdue_seconds{platform}    how long past its end the most overdue wait is
//
// A state with no run has no series. A failed read is reported as a scrape
// error of these series only; the other metrics are still served.
func RegisterRunGauges(r *Registry, src RunCounter) {
	r.MustRegister(&runGauges{
		src:     src,
		timeout: 5 * time.Second,
		runs:    prometheus.NewDesc("crowdflow_runs", "Runs in an active state, by platform and state (pending, processing, delayed).", []string{"platform", "state"}, nil),
		oldest: prometheus.NewDesc("crowdflow_runs_oldest_seconds",
			"Age of the oldest run in an active state, by platform and state; for delayed, the oldest delayed run.", []string{"platform", "state"}, nil),
		overdue: prometheus.NewDesc("crowdflow_delayed_runs_overdue_seconds",
			"How long past its delayedUntil the most overdue delayed run still waits (0: none is): a run whose wait ended long ago has lost its workflow.", []string{"platform"}, nil),
	})
}

func (g *runGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.runs
	ch <- g.oldest
	ch <- g.overdue
}

func (g *runGauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	counts, err := g.src.ActiveRunCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(g.runs, err)
		return
	}
	for _, c := range counts {
		ch <- prometheus.MustNewConstMetric(g.runs, prometheus.GaugeValue, float64(c.Count), c.Platform, c.State)
		ch <- prometheus.MustNewConstMetric(g.oldest, prometheus.GaugeValue, c.Oldest.Seconds(), c.Platform, c.State)
		if c.State == store.RunDelayed {
			ch <- prometheus.MustNewConstMetric(g.overdue, prometheus.GaugeValue, c.Overdue.Seconds(), c.Platform)
		}
	}
}
