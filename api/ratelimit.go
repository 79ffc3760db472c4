package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/crowdflow/crowdflow/internal/auth"
)

// Default per-token request rate: a UI polling a few runs stays well
// under it, a script looping on the API does not.
const (
	DefaultRateLimit = 10 // requests per second, sustained
	DefaultRateBurst = 40
)

// limiters holds one token bucket per principal (the operator, each tenant
// token). Only authenticated principals get one, so their number is bounded
// by the tokens issued.
type limiters struct {
	mu    sync.Mutex
	rate  rate.Limit
	burst int
	by    map[string]*rate.Limiter
}

func newLimiters(perSecond float64, burst int) *limiters {
	return &limiters{rate: rate.Limit(perSecond), burst: burst, by: map[string]*rate.Limiter{}}
}

// wait is how long the principal must wait before this request would be
// allowed (0: allowed now, and counted).
func (l *limiters) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	lim, ok := l.by[key]
	if !ok {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.by[key] = lim
	}
	l.mu.Unlock()
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return time.Second
	}
	d := res.DelayFrom(now)
	if d > 0 {
		// Refused requests do not count against the bucket.
		res.CancelAt(now)
	}
	return d
}

// rateLimit answers 429 with Retry-After (whole seconds, at least 1) when
// the request's principal is over its rate.
func (s *server) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok || s.limits == nil {
			next.ServeHTTP(w, r)
			return
		}
		if d := s.limits.wait(p.Key(), time.Now()); d > 0 {
			secs := int(math.Ceil(d.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeError(w, newError(http.StatusTooManyRequests, CodeRateLimited,
				"too many requests with this token; retry after "+strconv.Itoa(secs)+" s"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
