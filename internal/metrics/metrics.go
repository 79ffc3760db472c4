// Package metrics serves Prometheus metrics for the worker and the API: a
// registry with the Go runtime and process collectors, a small HTTP server
// that exposes it at /metrics on its own address (METRICS_ADDR), and an
// adapter that records the Temporal SDK's metrics into the same registry.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
)

// Default listen addresses of the metrics servers: loopback only, so a
// host's metrics are not exposed unless an operator says so.
const (
	DefaultAPIAddr    = "127.0.0.1:9090"
	DefaultWorkerAddr = "127.0.0.1:9091"
)

// AddrFromEnv returns METRICS_ADDR, or def when it is unset. "off" (or
// "none", "-") disables the metrics server: the result is "".
func AddrFromEnv(def string) string {
	v := strings.TrimSpace(os.Getenv("METRICS_ADDR"))
	switch strings.ToLower(v) {
	case "":
		return def
	case "off", "none", "-":
		return ""
	}
	return v
}

// Registry is a Prometheus registry with the Go and process collectors.
type Registry struct {
	*prometheus.Registry

	once     sync.Once
	temporal *sdkCollector
}

// NewRegistry returns a registry with the Go runtime and process metrics.
func NewRegistry() *Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{Registry: r}
}

// TemporalHandler returns the Temporal SDK metrics handler that records
// into this registry. Every call returns a handler over the same series.
func (r *Registry) TemporalHandler() client.MetricsHandler {
	r.once.Do(func() {
		r.temporal = newSDKCollector()
		r.MustRegister(r.temporal)
	})
	return &sdkHandler{c: r.temporal}
}

// TemporalClientOption sets a Temporal client's metrics handler to
// TemporalHandler (for config.DialTemporal).
func (r *Registry) TemporalClientOption() func(*client.Options) {
	h := r.TemporalHandler()
	return func(o *client.Options) { o.MetricsHandler = h }
}

// Handler serves the registry in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{
		// One bad series must not hide all the others.
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          r,
		EnableOpenMetrics: false,
	})
}

// Server is a running metrics server.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error

	closeOnce sync.Once
	closeErr  error
}

// Listen binds addr and serves the registry at /metrics (any other path is
// a 404). A bind error is returned at once, so a taken port stops the
// command at start rather than silently losing its metrics.
func Listen(addr string, r *Registry, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.Handler())
	s := &Server{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, letting scrapes in flight finish for a moment.
// Calling it again returns the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.closeErr = s.srv.Shutdown(ctx)
		if err := <-s.done; s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}
