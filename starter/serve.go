package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/internal/auth"
	"github.com/crowdflow/crowdflow/internal/config"
	"github.com/crowdflow/crowdflow/internal/metrics"
	"github.com/crowdflow/crowdflow/migrations"
	"github.com/crowdflow/crowdflow/webui"
)

// Defaults of `starter serve`.
const (
	DefaultAPIAddr = "127.0.0.1:8080"
	// minTokenLength keeps a guessable API_TOKEN out of production.
	minTokenLength = 16
	// shutdownGrace is how long requests in flight get on SIGTERM.
	shutdownGrace = 20 * time.Second
)

func serveCmd(e *env) *cobra.Command {
	var addr, metricsAddr, uiURL string
	var webUI bool
	var rateLimit float64
	var rateBurst int
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--metrics-addr HOST:PORT|off] [--temporal-ui-url URL]",
		Short: "Serve the onboarding HTTP API (bearer token from API_TOKEN) and its metrics",
		Long: `Serve the onboarding HTTP API the product UI calls:

  POST /api/v1/tenants/{tenantId}/integrations   connect an integration and start its onboarding
  POST /api/v1/integrations/{id}/runs            start a run ({"onboarding": true} for a full one)
  GET  /api/v1/integrations/{id}                 the integration and its latest run
  GET  /api/v1/runs/{id}                         a run: state, delay, errors, records, streams by state
  POST /api/v1/runs/{id}/continue                re-process a run's pending and failed streams
  GET  /healthz                                  checks the database (no token)
  GET  /ui/                                      the web UI (sign in with the same token; --web-ui=false leaves it out)

Every route but /healthz needs "Authorization: Bearer <token>": the operator's
API_TOKEN (every tenant), or a tenant token from "starter api-token create"
(that tenant's integrations and runs only; any other id is a 404). Each token
is held to --rate-limit requests a second (429 with Retry-After above it).
The server refuses to start without API_TOKEN (at least 16 characters) or
without an encryption key for the stored tokens (ENCRYPTION_KEY). Prometheus
metrics are served on a separate address at /metrics. The schema is applied
at start, as the worker does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token := strings.TrimSpace(os.Getenv("API_TOKEN"))
			if token == "" {
				return &exitError{code: 2, err: errors.New("API_TOKEN is not set: the API refuses to serve without a bearer token")}
			}
			if len(token) < minTokenLength {
				return &exitError{code: 2, err: fmt.Errorf("API_TOKEN is too short: use at least %d characters", minTokenLength)}
			}
			if err := api.CheckTemporalUIURL(uiURL); err != nil {
				return &exitError{code: 2, err: err}
			}
			switch strings.ToLower(metricsAddr) {
			case "off", "none", "-":
				metricsAddr = ""
			}
			for _, v := range []string{"API_RATE_LIMIT", "API_RATE_BURST"} {
				if raw := strings.TrimSpace(os.Getenv(v)); raw != "" {
					if _, err := strconv.ParseFloat(raw, 64); err != nil {
						return &exitError{code: 2, err: fmt.Errorf("%s=%q is not a number", v, raw)}
					}
				}
			}
			if rateBurst < 1 {
				return &exitError{code: 2, err: fmt.Errorf("--rate-burst must be at least 1, not %d", rateBurst)}
			}
			return serve(cmd.Context(), e, serveOptions{
				addr: addr, metricsAddr: metricsAddr, uiURL: uiURL, token: token, webUI: webUI, logger: config.Logger(slog.LevelInfo),
				rateLimit: rateLimit, rateBurst: rateBurst,
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", getenvDefault("API_ADDR", DefaultAPIAddr), "listen address of the API (API_ADDR)")
	f.StringVar(&metricsAddr, "metrics-addr", metrics.AddrFromEnv(metrics.DefaultAPIAddr),
		`listen address of /metrics (METRICS_ADDR); "off" serves no metrics`)
	f.Float64Var(&rateLimit, "rate-limit", envFloat("API_RATE_LIMIT", api.DefaultRateLimit),
		"requests per second each token may make, sustained (API_RATE_LIMIT); 0 or less: no limit")
	f.IntVar(&rateBurst, "rate-burst", envInt("API_RATE_BURST", api.DefaultRateBurst),
		"requests a token may make at once above the rate (API_RATE_BURST)")
	f.StringVar(&uiURL, "temporal-ui-url", getenvDefault("TEMPORAL_UI_URL", api.DefaultTemporalUIURL),
		"base URL of Temporal Web, for the links in answers (TEMPORAL_UI_URL)")
	f.BoolVar(&webUI, "web-ui", true, "serve the web UI under /ui (sign-in with API_TOKEN)")
	return cmd
}

type serveOptions struct {
	addr, metricsAddr, uiURL, token string
	webUI                           bool
	logger                          *slog.Logger
	rateLimit                       float64
	rateBurst                       int
}

func serve(ctx context.Context, e *env, o serveOptions) error {
	if err := e.cfg.RequireDatabase(); err != nil {
		return err
	}
	if err := e.cfg.LoadKeyring(); err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := e.cfg.RequireKeyring("the API"); err != nil {
		return &exitError{code: 2, err: err}
	}
	if _, err := migrations.Up(ctx, e.cfg.DatabaseURL); err != nil {
		return err
	}
	ctl, err := e.open(ctx, false)
	if err != nil {
		return err
	}
	reg := metrics.NewRegistry()
	tc, err := e.cfg.DialTemporal(ctx, o.logger, reg.TemporalClientOption())
	if err != nil {
		return err
	}
	ctl.Temporal = tc // closed by env.close
	apiMetrics, err := api.NewMetrics(reg)
	if err != nil {
		return err
	}
	opts := api.Options{
		Controller: ctl, Store: e.store, Token: o.token, TemporalUIURL: o.uiURL,
		Namespace: e.cfg.TemporalNamespace, Metrics: apiMetrics, Logger: o.logger,
		GitHubWebhookSecret: os.Getenv("GITHUB_WEBHOOK_SECRET"),
		RateLimit:           rateOption(o.rateLimit), RateBurst: o.rateBurst,
	}
	if o.webUI {
		// The UI signs in with the API's tokens: the operator's, or a
		// tenant's (internal/auth, the same check as the API's).
		resolver, err := auth.NewResolver(o.token, e.store)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		ui, err := webui.New(webui.Options{
			Controller: ctl, Store: e.store, Authenticate: uiAuthenticator(resolver),
			TemporalUIURL: o.uiURL, Namespace: e.cfg.TemporalNamespace, Logger: o.logger,
		})
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		opts.UI = ui
	}
	handler, err := api.Handler(opts)
	if err != nil {
		return &exitError{code: 2, err: err}
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", o.addr, err)
	}
	if o.metricsAddr != "" {
		ms, err := metrics.Listen(o.metricsAddr, reg, o.logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer ms.Close()
		fmt.Fprintf(e.errOut, "metrics: listening on http://%s/metrics\n", ms.Addr())
	}
	srv := &http.Server{
		Handler: handler,
		// Slow clients cannot hold connections: headers in 5 s, the body
		// (1 MiB at most) in 30 s; the answer may take the handlers'
		// 30 s budget.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      45 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(o.logger.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(e.errOut, "api: listening on http://%s\n", ln.Addr())
	if o.webUI {
		fmt.Fprintf(e.errOut, "web UI: http://%s%s/ (sign in with API_TOKEN)\n", ln.Addr(), api.UIPath)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done():
	}
	o.logger.Info("api: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	<-done
	return nil
}

// rateOption maps the flag (0 or less: no limit) to api.Options.RateLimit
// (negative: no limit).
func rateOption(perSecond float64) float64 {
	if perSecond <= 0 {
		return -1
	}
	return perSecond
}

func envFloat(key string, def float64) float64 {
	if v, err := strconv.ParseFloat(strings.TrimSpace(os.Getenv(key)), 64); err == nil {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(strings.TrimSpace(os.Getenv(key))); err == nil {
		return v
	}
	return def
}

// uiAuthenticator signs the web UI in with the API's tokens.
func uiAuthenticator(r *auth.Resolver) webui.Authenticator {
	return func(ctx context.Context, token string) (webui.Principal, error) {
		p, err := r.Resolve(ctx, token)
		if errors.Is(err, auth.ErrInvalidToken) {
			return webui.Principal{}, webui.ErrUnknownToken
		}
		if err != nil {
			return webui.Principal{}, err
		}
		return webui.Principal{Operator: p.Operator, TenantID: p.TenantID}, nil
	}
}

func getenvDefault(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}
