package quota

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names. http.Header canonicalises them, so GitHub's lower-case
// x-ratelimit-* and Discord's X-RateLimit-* are the same entries.
const (
	hdrLimit      = "X-RateLimit-Limit"
	hdrRemaining  = "X-RateLimit-Remaining"
	hdrReset      = "X-RateLimit-Reset"
	hdrResetAfter = "X-RateLimit-Reset-After"
	hdrBucket     = "X-RateLimit-Bucket"
	hdrGlobal     = "X-RateLimit-Global"
	hdrScope      = "X-RateLimit-Scope"
	hdrResource   = "X-RateLimit-Resource"
	// X's family.
	hdrXLimit     = "X-Rate-Limit-Limit"
	hdrXRemaining = "X-Rate-Limit-Remaining"
	hdrXReset     = "X-Rate-Limit-Reset"
	// The IETF draft's (RateLimit-Reset is seconds from now).
	hdrIETFLimit     = "RateLimit-Limit"
	hdrIETFRemaining = "RateLimit-Remaining"
	hdrIETFReset     = "RateLimit-Reset"

	hdrRetryAfter = "Retry-After"
)

// Limits is what an answer's headers say of the budget.
type Limits struct {
	Limit     int       // -1: not said
	Remaining int       // -1: not said
	Reset     time.Time // end of the window; zero: not said
	// RetryAfter is set when Retry-After is (HasRetryAfter).
	RetryAfter    time.Duration
	HasRetryAfter bool
	Bucket        string // Discord's X-RateLimit-Bucket
	Global        bool   // Discord's X-RateLimit-Global, or scope "global"
	Scope         string // Discord's X-RateLimit-Scope: user, global, shared
	Resource      string // GitHub's x-ratelimit-resource: core, graphql, search...
}

// ParseLimits reads the three families of rate-limit headers
// (X-RateLimit-*, x-rate-limit-*, RateLimit-*), Retry-After and Discord's
// extras. A family is read whole: the first one with a Remaining wins.
// Malformed values are not said.
func ParseLimits(h http.Header, now time.Time) Limits {
	l := Limits{Limit: -1, Remaining: -1}
	for _, fam := range []struct{ limit, remaining, reset string }{
		{hdrLimit, hdrRemaining, hdrReset},
		{hdrXLimit, hdrXRemaining, hdrXReset},
		{hdrIETFLimit, hdrIETFRemaining, hdrIETFReset},
	} {
		rem, ok := count(h.Get(fam.remaining))
		if !ok {
			continue
		}
		l.Remaining = rem
		if n, ok := count(h.Get(fam.limit)); ok {
			l.Limit = n
		}
		l.Reset = resetTime(h.Get(fam.reset), now)
		break
	}
	// Reset-After is seconds from now, immune to a skewed clock: it wins.
	if d, ok := seconds(h.Get(hdrResetAfter)); ok {
		l.Reset = now.Add(d)
	}
	if v := strings.TrimSpace(h.Get(hdrRetryAfter)); v != "" {
		if d, ok := seconds(v); ok {
			l.RetryAfter, l.HasRetryAfter = d, true
		} else if t, err := http.ParseTime(v); err == nil {
			l.RetryAfter, l.HasRetryAfter = max(t.Sub(now), 0), true
		}
	}
	l.Bucket = h.Get(hdrBucket)
	l.Scope = strings.ToLower(h.Get(hdrScope))
	l.Global = l.Scope == "global" || strings.EqualFold(h.Get(hdrGlobal), "true")
	l.Resource = strings.ToLower(h.Get(hdrResource))
	return l
}

// count reads a non-negative integer ("12", or "12.0" as some send).
func count(v string) (int, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n, n >= 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > math.MaxInt32 || f != math.Trunc(f) {
		return 0, false
	}
	return int(f), true
}

// seconds reads seconds with decimals ("1", "0.345").
func seconds(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 366*24*3600 {
		return 0, false
	}
	return time.Duration(math.Round(f*1000)) * time.Millisecond, true
}

// Epoch bounds that tell a reset instant from a duration: no window is
// longer than a year, and no reset is before 2001.
const (
	epochSeconds = 1e9
	epochMillis  = 1e12
)

// resetTime reads a reset: an instant in epoch seconds (GitHub, X; Discord
// with decimals) or milliseconds, or else seconds from now (the IETF
// draft, and servers that send a delta in X-RateLimit-Reset).
func resetTime(v string, now time.Time) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		if t, err := http.ParseTime(v); err == nil {
			return t
		}
		return time.Time{}
	}
	switch {
	case f >= epochMillis:
		return time.UnixMilli(int64(f))
	case f >= epochSeconds:
		return time.UnixMilli(int64(math.Round(f * 1000)))
	default:
		d, _ := seconds(v)
		return now.Add(d)
	}
}
