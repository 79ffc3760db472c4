package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/internal/auth"
	"github.com/crowdflow/crowdflow/store"
)

// DefaultMaxBodyBytes is the largest request body accepted.
const DefaultMaxBodyBytes = 1 << 20

// DefaultTemporalUIURL is Temporal Web of a local dev server.
const DefaultTemporalUIURL = "http://127.0.0.1:8233"

// Options configure the handler.
type Options struct {
	// Controller starts and continues runs. Required.
	Controller *control.Controller
	// Store is read for the views; Controller.Store when nil.
	Store *store.Store
	// Token is the operator's bearer token (API_TOKEN): every route, every
	// tenant. Required. Tenant tokens (the store's "apiTokens") see their
	// tenant only.
	Token string
	// RateLimit is each token's sustained rate in requests per second
	// (DefaultRateLimit when 0; negative: no limit), RateBurst the bucket
	// (DefaultRateBurst when 0).
	RateLimit float64
	RateBurst int
	// TemporalUIURL is the base URL of Temporal Web, for the links in the
	// answers (DefaultTemporalUIURL when empty).
	TemporalUIURL string
	// Namespace is the Temporal namespace the runs are in ("default" when
	// empty).
	Namespace string
	// MaxBodyBytes limits request bodies (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
	// Metrics records the requests; nil records nothing.
	Metrics *Metrics
	// Logger gets failed requests (slog.Default when nil).
	Logger *slog.Logger
	// GitHubWebhookSecret verifies the signatures of GitHub's deliveries
	// on POST /webhooks/github (webhooks_github.go); empty refuses them.
	GitHubWebhookSecret string
	// UI, when set, is served under UIPath (the web UI, package webui):
	// it signs its users in itself, with the same tokens, so the bearer
	// check does not apply there. / redirects to it.
	UI http.Handler
}

// UIPath is where Options.UI is mounted.
const UIPath = "/ui"

type server struct {
	ctl       *control.Controller
	store     *store.Store
	auth      *auth.Resolver
	limits    *limiters
	uiURL     string
	namespace string
	maxBody   int64
	metrics   *Metrics
	logger    *slog.Logger
	mux       *chi.Mux
	ui        bool

	webhookSecret []byte
}

// Route patterns, as they appear in the metrics' route label.
const (
	RouteHealth         = "/healthz"
	RouteConnect        = "/api/v1/tenants/{tenantId}/integrations"
	RouteStartRun       = "/api/v1/integrations/{id}/runs"
	RouteGetIntegration = "/api/v1/integrations/{id}"
	RouteGetRun         = "/api/v1/runs/{id}"
	RouteContinueRun    = "/api/v1/runs/{id}/continue"
	// RouteUnmatched labels requests that matched no route.
	RouteUnmatched = "unmatched"
)

// Handler returns the API's HTTP handler.
func Handler(o Options) (http.Handler, error) {
	if o.Controller == nil {
		return nil, errors.New("api: no controller")
	}
	if strings.TrimSpace(o.Token) == "" {
		return nil, errors.New("api: no API token: the API refuses to serve without one")
	}
	s := &server{
		ctl:       o.Controller,
		store:     o.Store,
		uiURL:     strings.TrimRight(o.TemporalUIURL, "/"),
		namespace: o.Namespace,
		maxBody:   o.MaxBodyBytes,
		metrics:   o.Metrics,
		logger:    o.Logger,

		webhookSecret: []byte(o.GitHubWebhookSecret),
	}
	if s.store == nil {
		s.store = o.Controller.Store
	}
	if s.store == nil {
		return nil, errors.New("api: no store")
	}
	resolver, err := auth.NewResolver(o.Token, s.store)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s.auth = resolver
	if o.RateLimit >= 0 {
		perSecond, burst := o.RateLimit, o.RateBurst
		if perSecond == 0 {
			perSecond = DefaultRateLimit
		}
		if burst <= 0 {
			burst = DefaultRateBurst
		}
		s.limits = newLimiters(perSecond, burst)
	}
	if s.uiURL == "" {
		s.uiURL = DefaultTemporalUIURL
	}
	if err := CheckTemporalUIURL(s.uiURL); err != nil {
		return nil, err
	}
	if s.namespace == "" {
		s.namespace = "default"
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}

	m := chi.NewRouter()
	s.mux = m
	// Outermost first: the metrics see every answer, the 401s included.
	if s.metrics != nil {
		m.Use(s.metrics.middleware(s.routeOf))
	}
	m.Use(s.recoverer, s.limitBody, s.authenticate, s.rateLimit)
	m.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newError(http.StatusNotFound, CodeNotFound, "no route "+r.URL.Path))
	})
	m.MethodNotAllowed(s.methodNotAllowed)

	m.Get(RouteHealth, s.health)
	m.Post(RouteConnect, s.connect)
	m.Post(RouteStartRun, s.startRun)
	m.Get(RouteGetIntegration, s.getIntegration)
	m.Get(RouteGetRun, s.getRun)
	m.Post(RouteContinueRun, s.continueRun)
	m.Post(RouteGitHubWebhook, s.githubWebhook)
	if o.UI != nil {
		m.Mount(UIPath, o.UI)
		m.Get("/", http.RedirectHandler(UIPath+"/", http.StatusSeeOther).ServeHTTP)
	}
	s.ui = o.UI != nil
	return m, nil
}

// CheckTemporalUIURL checks a base URL of Temporal Web.
func CheckTemporalUIURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("the Temporal UI URL %q is not an http(s) URL", s)
	}
	return nil
}

// authenticate requires "Authorization: Bearer <token>" on every route but
// the health check, unknown routes included (so they reveal nothing), and
// puts the token's principal (auth.Principal) in the request's context:
// the operator, or one tenant, whose view the handlers narrow to it.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == RouteHealth || s.isUI(r.URL.Path) || isWebhook(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		given := auth.Bearer(r)
		if given == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crowdflow"`)
			writeError(w, newError(http.StatusUnauthorized, CodeUnauthorized, "missing bearer token (Authorization: Bearer <token>)"))
			return
		}
		p, err := s.auth.Resolve(r.Context(), given)
		if errors.Is(err, auth.ErrInvalidToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crowdflow", error="invalid_token"`)
			writeError(w, newError(http.StatusUnauthorized, CodeUnauthorized, err.Error()))
			return
		}
		if err != nil {
			s.logger.Warn("api: cannot check a bearer token", "err", err)
			writeError(w, newError(http.StatusServiceUnavailable, CodeUnavailable, "the database does not answer"))
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// isUI says the path is the web UI's (and / that redirects to it), which
// uses session cookies instead of a bearer header.
func (s *server) isUI(path string) bool {
	return s.ui && (path == "/" || path == UIPath || strings.HasPrefix(path, UIPath+"/"))
}

// canSee reports whether the request's principal may see the tenant's
// data. Every handler asks it before answering about a tenant's
// integration or run, and answers 404 when not, as if the id did not
// exist.
func canSee(r *http.Request, tenantID string) bool {
	p, ok := auth.FromContext(r.Context())
	return ok && p.CanSee(tenantID)
}

// limitBody refuses a body announced larger than the limit and cuts one
// that turns out larger while it is read.
func (s *server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebhook(r.URL.Path) {
			// Deliveries have their own limit (GitHub's 25 MB).
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > s.maxBody {
			writeError(w, tooLarge(s.maxBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		next.ServeHTTP(w, r)
	})
}

func tooLarge(limit int64) *Error {
	return newError(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body is larger than %d bytes", limit))
}

// recoverer turns a panic into a logged 500.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.Error("api: panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			writeError(w, newError(http.StatusInternalServerError, CodeInternal, "internal error (logged on the server)"))
		}()
		next.ServeHTTP(w, r)
	})
}

// methodNotAllowed answers 405 with the methods the path does allow.
func (s *server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if s.mux.Match(chi.NewRouteContext(), m, r.URL.Path) {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
	writeError(w, newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
		fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", "))))
}

// health checks the database; it needs no token, for load balancers and
// orchestrators.
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := contextWithTimeout(r, 3*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger.Warn("api: health check: database does not answer", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "unavailable",
			"error":  newError(http.StatusServiceUnavailable, CodeUnavailable, "the database does not answer"),
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
