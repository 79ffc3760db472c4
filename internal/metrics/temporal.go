package metrics

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// The Temporal SDK reports its metrics through a small interface (counters,
// gauges and timers, each with a map of tags) rather than through a
// Prometheus client. This file records them with client_golang.
//
// Names follow the Prometheus conventions Temporal's own dashboards expect:
// counters get "_total", timers become histograms in seconds named
// "<name>_seconds" (temporal_request -> temporal_request_total,
// temporal_activity_execution_latency ->
// temporal_activity_execution_latency_seconds_bucket/_sum/_count).
//
// The SDK does not use one tag set per metric name: the same counter may be
// emitted with and without, say, activity_type. client_golang's vectors
// require fixed label names per name, so each (name, tag set) is kept as
// its own series and the collector is "unchecked" (it describes nothing up
// front), which lets one family hold series with different label names, as
// the exposition format allows.

// TimerBuckets are the histogram buckets of SDK timers, in seconds: from a
// millisecond (a cached workflow task) to ten minutes (a long poll or a
// slow activity).
var TimerBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

type kind byte

const (
	kindCounter kind = 'c'
	kindGauge   kind = 'g'
	kindTimer   kind = 't'
)

// sdkCollector holds every series the SDK has created.
type sdkCollector struct {
	mu     sync.RWMutex
	series map[string]prometheus.Collector
}

func newSDKCollector() *sdkCollector {
	return &sdkCollector{series: map[string]prometheus.Collector{}}
}

// Describe sends nothing: the collector is unchecked (see above).
func (c *sdkCollector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series.
func (c *sdkCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	all := make([]prometheus.Collector, 0, len(c.series))
	for _, s := range c.series {
		all = append(all, s)
	}
	c.mu.RUnlock()
	for _, s := range all {
		s.Collect(ch)
	}
}

// get returns the series of a metric and tag set, creating it on first use.
func (c *sdkCollector) get(k kind, name string, tags map[string]string) prometheus.Collector {
	key := seriesKey(k, name, tags)
	c.mu.RLock()
	s, ok := c.series[key]
	c.mu.RUnlock()
	if ok {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.series[key]; ok {
		return s
	}
	labels := prometheus.Labels{}
	for k, v := range tags {
		labels[labelName(k)] = strings.ToValidUTF8(v, "\uFFFD")
	}
	base := metricName(name)
	switch k {
	case kindCounter:
		s = prometheus.NewCounter(prometheus.CounterOpts{
			Name: withSuffix(base, "_total"), Help: "Temporal SDK counter " + name + ".", ConstLabels: labels,
		})
	case kindGauge:
		s = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: base, Help: "Temporal SDK gauge " + name + ".", ConstLabels: labels,
		})
	default:
		s = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: withSuffix(base, "_seconds"), Help: "Temporal SDK timer " + name + ", in seconds.", ConstLabels: labels,
			Buckets: TimerBuckets,
		})
	}
	c.series[key] = s
	return s
}

func seriesKey(k kind, name string, tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for t := range tags {
		keys = append(keys, t)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte(byte(k))
	b.WriteString(name)
	for _, t := range keys {
		b.WriteByte(0)
		b.WriteString(t)
		b.WriteByte('=')
		b.WriteString(tags[t])
	}
	return b.String()
}

func withSuffix(name, suffix string) string {
	if strings.HasSuffix(name, suffix) {
		return name
	}
	return name + suffix
}

// metricName makes name a valid Prometheus metric name.
func metricName(name string) string {
	return sanitize(name, true)
}

// labelName makes a tag key a valid Prometheus label name; names starting
// with "__" are reserved, so they get a prefix.
func labelName(key string) string {
	n := sanitize(key, false)
	if strings.HasPrefix(n, "__") {
		n = "tag" + n
	}
	return n
}

func sanitize(s string, colon bool) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') || (colon && r == ':')
		switch {
		case ok:
			b.WriteRune(r)
		case i == 0 && r >= '0' && r <= '9':
			b.WriteByte('_')
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// sdkHandler implements the SDK's metrics handler over an sdkCollector.
type sdkHandler struct {
	c    *sdkCollector
	tags map[string]string
}

var _ client.MetricsHandler = (*sdkHandler)(nil)

// WithTags returns a handler whose metrics carry these tags too (a key
// that is already set is overwritten).
func (h *sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return &sdkHandler{c: h.c, tags: merged}
}

// Counter returns the counter of this name and the handler's tags.
func (h *sdkHandler) Counter(name string) client.MetricsCounter {
	c := h.c.get(kindCounter, name, h.tags).(prometheus.Counter)
	return counter{c}
}

// Gauge returns the gauge of this name and the handler's tags.
func (h *sdkHandler) Gauge(name string) client.MetricsGauge {
	return gauge{h.c.get(kindGauge, name, h.tags).(prometheus.Gauge)}
}

// Timer returns the timer of this name and the handler's tags.
func (h *sdkHandler) Timer(name string) client.MetricsTimer {
	return timer{h.c.get(kindTimer, name, h.tags).(prometheus.Histogram)}
}

type counter struct{ c prometheus.Counter }

// Inc adds d; a Prometheus counter never goes down, so a negative d is
// dropped rather than letting client_golang panic.
func (c counter) Inc(d int64) {
	if d > 0 {
		c.c.Add(float64(d))
	}
}

type gauge struct{ g prometheus.Gauge }

func (g gauge) Update(v float64) { g.g.Set(v) }

type timer struct{ h prometheus.Histogram }

func (t timer) Record(d time.Duration) { t.h.Observe(d.Seconds()) }
