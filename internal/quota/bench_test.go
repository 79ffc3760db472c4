package quota_test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// quotaServer enforces limit calls a second per token in one of the ways
// real APIs (and fakes of them) do, and says so in one of their ways.
type quotaServer struct {
	kind    string // "aligned": windows on whole seconds; "opened": a window opens at the first call; "bucket": token bucket
	headers string // "": Retry-After only; "ms": X-RateLimit-Reset in epoch seconds with ms; "epoch": whole epoch seconds; "delta": whole seconds from now
	limit   int
	latency time.Duration

	mu      sync.Mutex
	end     time.Time // window end
	used    int
	tokens  float64
	last    time.Time
	served  int
	refused int
}

func (q *quotaServer) take(now time.Time) (ok bool, remaining int, reset time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch q.kind {
	case "bucket":
		if q.last.IsZero() {
			q.tokens = float64(q.limit)
		} else {
			q.tokens = math.Min(float64(q.limit), q.tokens+now.Sub(q.last).Seconds()*float64(q.limit))
		}
		q.last = now
		reset = now.Add(time.Duration((float64(q.limit) - q.tokens + 1) / float64(q.limit) * float64(time.Second)))
		if q.tokens < 1 {
			q.refused++
			return false, 0, now.Add(time.Duration((1 - q.tokens) / float64(q.limit) * float64(time.Second)))
		}
		q.tokens--
		q.served++
		return true, int(q.tokens), reset
	case "aligned":
		if !now.Before(q.end) {
			q.end, q.used = now.Truncate(time.Second).Add(time.Second), 0
		}
	default:
		if !now.Before(q.end) {
			q.end, q.used = now.Add(time.Second), 0
		}
	}
	if q.used >= q.limit {
		q.refused++
		return false, 0, q.end
	}
	q.used++
	q.served++
	return true, q.limit - q.used, q.end
}

func (q *quotaServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	ok, remaining, reset := q.take(now)
	h := w.Header()
	if q.headers != "" {
		h.Set("X-RateLimit-Limit", strconv.Itoa(q.limit))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		switch q.headers {
		case "ms":
			h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(reset.UnixMilli())/1000, 'f', 3, 64))
		case "epoch":
			h.Set("X-RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(reset.UnixMilli())/1000)), 10))
		case "delta":
			h.Set("X-RateLimit-Reset", strconv.Itoa(int(math.Ceil(reset.Sub(now).Seconds()))))
		}
	}
	time.Sleep(q.latency)
	if !ok {
		h.Set("Retry-After", strconv.Itoa(max(int(math.Ceil(reset.Sub(now).Seconds())), 1)))
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// BenchmarkLedgerAgainstQuotaServers: two workers (two stores, four
// callers each) share one token against servers that allow 20 calls a
// second in different ways; it reports the time against the quota's
// minimum and the refusals:
//
//	go test ./internal/quota -run '^$' -bench LedgerAgainstQuotaServers -benchtime 1x
func BenchmarkLedgerAgainstQuotaServers(b *testing.B) {
	const calls, callers, limit = 160, 4, 20
	for _, kind := range []string{"opened", "aligned", "bucket"} {
		for _, headers := range []string{"", "ms", "epoch", "delta"} {
			b.Run(fmt.Sprintf("%s/headers=%s", kind, headers), func(b *testing.B) {
				for range b.N {
					q := &quotaServer{kind: kind, headers: headers, limit: limit, latency: 100 * time.Millisecond}
					srv := httptest.NewServer(q)
					start := time.Now()
					twoWorkers(b, srv.URL, "xoxb-bench", calls, callers)
					elapsed := time.Since(start)
					srv.Close()
					minimum := time.Duration(float64(q.served) / limit * float64(time.Second))
					b.ReportMetric(elapsed.Seconds()/minimum.Seconds(), "time/min")
					b.ReportMetric(float64(q.refused), "429s")
				}
			})
		}
	}
}
