package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the API's request metrics:
//
//	crowdflow_api_requests_total{method, route, status}
//	crowdflow_api_request_duration_seconds{method, route}   (histogram)
//	crowdflow_api_requests_in_flight
//
// route is the route's pattern (/api/v1/runs/{id}), never the raw path, so
// ids do not multiply the series; a request that matched no route is
// "unmatched".
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// NewMetrics registers the API's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdflow_api_requests_total",
			Help: "HTTP requests to the onboarding API, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crowdflow_api_request_duration_seconds",
			Help:    "Time to answer a request to the onboarding API, by method and route pattern.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crowdflow_api_requests_in_flight",
			Help: "Requests to the onboarding API being answered.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// knownMethods bounds the method label: anything else is "other".
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// middleware records every request; routeOf names its route.
func (m *Metrics) middleware(routeOf func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			m.inFlight.Inc()
			defer m.inFlight.Dec()
			rec := &statusRecorder{ResponseWriter: w}
			defer func() {
				// Recorded even when a handler panics through.
				method := r.Method
				if !knownMethods[method] {
					method = "other"
				}
				status := rec.status
				if status == 0 {
					status = http.StatusOK
				}
				route := routeOf(r)
				m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
				m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// routeOf is the route pattern a request matched: the one the router
// chose, or for a request refused before routing (401, 413) the one it
// would have chosen; RouteUnmatched for an unknown path or method.
func (s *server) routeOf(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && knownRoute(rc.RoutePattern()) {
		return rc.RoutePattern()
	}
	if p := s.mux.Find(chi.NewRouteContext(), r.Method, r.URL.Path); knownRoute(p) {
		return p
	}
	return RouteUnmatched
}

func knownRoute(pattern string) bool {
	switch pattern {
	case RouteHealth, RouteConnect, RouteStartRun, RouteGetIntegration, RouteGetRun, RouteContinueRun:
		return true
	}
	return false
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
