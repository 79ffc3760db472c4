package metrics_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/internal/metrics"
)

func scrape(t *testing.T, addr string) string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

func TestTemporalHandler(t *testing.T) {
	reg := metrics.NewRegistry()
	h := reg.TemporalHandler()

	ns := h.WithTags(map[string]string{"namespace": "default", "task_queue": "integrations"})
	ns.Counter("temporal_request").Inc(2)
	ns.Counter("temporal_request").Inc(1)
	ns.Counter("temporal_request").Inc(-5) // a counter never goes down
	// The same counter with more tags, and with a tag overwritten: the SDK
	// does both, and each is its own series.
	ns.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(1)
	ns.WithTags(map[string]string{"task_queue": "other"}).Counter("temporal_request").Inc(4)
	ns.Gauge("temporal_num_pollers").Update(3)
	ns.Gauge("temporal_num_pollers").Update(2)
	ns.Timer("temporal_activity_execution_latency").Record(1500 * time.Millisecond)
	ns.Timer("temporal_activity_execution_latency").Record(20 * time.Millisecond)
	// Odd names and tags are made valid rather than breaking the scrape.
	h.WithTags(map[string]string{"bad-key": "v\xff", "__reserved": "x", "9lives": "y"}).Counter("odd.name").Inc(1)
	// A second handler from the registry shares the series.
	reg.TemporalHandler().WithTags(map[string]string{"namespace": "default", "task_queue": "integrations"}).Counter("temporal_request").Inc(1)

	ms, err := metrics.Listen("127.0.0.1:0", reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer ms.Close()
	text := scrape(t, ms.Addr())
	for _, line := range []string{
		`temporal_request_total{namespace="default",task_queue="integrations"} 4`,
		`temporal_request_total{namespace="default",operation="StartWorkflowExecution",task_queue="integrations"} 1`,
		`temporal_request_total{namespace="default",task_queue="other"} 4`,
		`temporal_num_pollers{namespace="default",task_queue="integrations"} 2`,
		`temporal_activity_execution_latency_seconds_count{namespace="default",task_queue="integrations"} 2`,
		`temporal_activity_execution_latency_seconds_sum{namespace="default",task_queue="integrations"} 1.52`,
		`temporal_activity_execution_latency_seconds_bucket{namespace="default",task_queue="integrations",le="0.025"} 1`,
		`temporal_activity_execution_latency_seconds_bucket{namespace="default",task_queue="integrations",le="2.5"} 2`,
		`odd_name_total{_9lives="y",bad_key="v` + "\uFFFD" + `",tag__reserved="x"} 1`,
	} {
		assert.True(t, hasLine(text, line), "no line %s in\n%s", line, text)
	}
	assert.Contains(t, text, "\n# TYPE temporal_activity_execution_latency_seconds histogram\n")
	assert.Contains(t, text, "\n# TYPE temporal_request_total counter\n")
	assert.Contains(t, text, "\ngo_goroutines ")
	assert.Contains(t, text, "\nprocess_start_time_seconds ")
}

func TestListen(t *testing.T) {
	reg := metrics.NewRegistry()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ms, err := metrics.Listen("127.0.0.1:0", reg, logger)
	require.NoError(t, err)

	// A taken port is an error at once.
	_, err = metrics.Listen(ms.Addr(), reg, logger)
	assert.ErrorContains(t, err, "metrics: listen on")

	res, err := http.Get("http://" + ms.Addr() + "/other")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 404, res.StatusCode)

	require.NoError(t, ms.Close())
	require.NoError(t, ms.Close(), "twice is fine")
	_, err = http.Get("http://" + ms.Addr() + "/metrics")
	assert.Error(t, err, "closed")
}

func TestAddrFromEnv(t *testing.T) {
	for env, want := range map[string]string{
		"":             "127.0.0.1:9091",
		"  ":           "127.0.0.1:9091",
		":9100":        ":9100",
		"0.0.0.0:9091": "0.0.0.0:9091",
		"off":          "",
		"OFF":          "",
		"none":         "",
		"-":            "",
	} {
		t.Setenv("METRICS_ADDR", env)
		assert.Equal(t, want, metrics.AddrFromEnv(metrics.DefaultWorkerAddr), "METRICS_ADDR=%q", env)
	}
}
