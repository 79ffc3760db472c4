package webui

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"go.temporal.io/api/serviceerror"

	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// DefaultStuckAfter is how long a pending or processing run may go
// without a change before the operators' page calls it stuck.
const DefaultStuckAfter = 30 * time.Minute

// Options configure the UI.
type Options struct {
	// Controller starts and continues runs, as the API's does. Required.
	Controller *control.Controller
	// Store is read for the pages; Controller.Store when nil.
	Store *store.Store
	// Authenticate resolves the token typed at sign-in. Required: for the
	// operator token alone, OperatorToken(API_TOKEN).
	Authenticate Authenticator
	// TemporalUIURL and Namespace make the links to Temporal Web
	// (api.DefaultTemporalUIURL and "default" when empty).
	TemporalUIURL string
	Namespace     string
	// Base is the path the UI is mounted at (api.UIPath when empty).
	Base string
	// StuckAfter: see DefaultStuckAfter.
	StuckAfter time.Duration
	// SecureCookies marks the session cookie Secure even over plain HTTP
	// (behind a proxy that ends TLS); over HTTPS it always is.
	SecureCookies bool
	Logger        *slog.Logger
}

// UI is the web UI's handler.
type UI struct {
	ctl           *control.Controller
	store         *store.Store
	auth          Authenticator
	uiURL         string
	namespace     string
	base          string
	stuckAfter    time.Duration
	secureCookies bool
	logger        *slog.Logger
	sessions      *sessions
	pages         map[string]*template.Template
	mux           chi.Router
}

// New builds the UI.
func New(o Options) (*UI, error) {
	if o.Controller == nil {
		return nil, errors.New("webui: no controller")
	}
	if o.Authenticate == nil {
		return nil, errors.New("webui: no authenticator")
	}
	u := &UI{
		ctl: o.Controller, store: o.Store, auth: o.Authenticate, uiURL: o.TemporalUIURL, namespace: o.Namespace,
		base: strings.TrimRight(o.Base, "/"), stuckAfter: o.StuckAfter, secureCookies: o.SecureCookies,
		logger: o.Logger, sessions: newSessions(),
	}
	if u.store == nil {
		u.store = o.Controller.Store
	}
	if u.store == nil {
		return nil, errors.New("webui: no store")
	}
	if u.uiURL == "" {
		u.uiURL = api.DefaultTemporalUIURL
	}
	if err := api.CheckTemporalUIURL(u.uiURL); err != nil {
		return nil, err
	}
	if u.namespace == "" {
		u.namespace = "default"
	}
	if u.base == "" {
		u.base = api.UIPath
	}
	if u.stuckAfter <= 0 {
		u.stuckAfter = DefaultStuckAfter
	}
	if u.logger == nil {
		u.logger = slog.Default()
	}
	var err error
	if u.pages, err = parsePages(u.base); err != nil {
		return nil, err
	}
	u.routes()
	return u, nil
}

// SignInCode returns a code that signs one browser in with token, once,
// within an hour: <base>/signin?code=<code>. `worker --dev` prints such a
// link so that its operator needs no token typed.
func (u *UI) SignInCode(token string) string { return u.sessions.issueCode(token) }

// SignInPath is the path (under the server's root) of the link with a code.
func (u *UI) SignInPath(code string) string { return u.base + "/signin?code=" + code }

func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

// routes: every page but the sign-in needs a session; every POST needs
// the same origin, and, with a session, the form's CSRF token.
func (u *UI) routes() {
	m := chi.NewRouter()
	m.Use(securityHeaders)
	static, _ := fs.Sub(staticFiles, "static")
	m.Handle("/static/*", http.StripPrefix(u.base+"/static/", http.FileServer(http.FS(static))))
	m.Get("/signin", u.signInPage)
	m.Post("/signin", u.signIn)
	m.Group(func(m chi.Router) {
		m.Use(u.requireSession)
		m.Get("/", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, u.base+"/integrations", http.StatusSeeOther)
		})
		m.Post("/signout", u.signOut)
		m.Get("/integrations", u.integrationsPage)
		m.Get("/connect", u.connectPage)
		m.Post("/connect", u.connect)
		m.Post("/integrations/{id}/runs", u.startRun)
		m.Get("/runs/{id}", u.runPage)
		m.Get("/runs/{id}/live", u.runLive)
		m.Post("/runs/{id}/continue", u.continueRun)
		m.Get("/operators", u.operatorsPage)
	})
	m.NotFound(func(w http.ResponseWriter, r *http.Request) {
		u.render(w, r, http.StatusNotFound, "error", page{Title: "Not found"}, map[string]any{"Message": "There is no page at " + r.URL.Path + "."})
	})
	u.mux = m
}

// securityHeaders: scripts and styles from this server only (no inline
// script runs even if a value slipped through escaping), no framing, no
// caching of pages that hold tenants' data.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.Contains(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

// signedIn is the request's session and who it signs in.
type signedIn struct {
	id        string
	session   *session
	principal Principal
}

func current(r *http.Request) signedIn {
	s, _ := r.Context().Value(ctxKey{}).(signedIn)
	return s
}

// requireSession resolves the session cookie, and the session's token
// again (a revoked token ends the session). Without one, a page redirects
// to the sign-in form and the live fragment answers 401.
func (u *UI) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id string
		if c, err := r.Cookie(sessionCookie); err == nil {
			id = c.Value
		}
		sess := u.sessions.get(id)
		var p Principal
		if sess != nil {
			var err error
			if p, err = u.auth(r.Context(), sess.token); err != nil {
				if !errors.Is(err, ErrUnknownToken) {
					u.fail(w, r, err)
					return
				}
				u.sessions.end(id)
				sess = nil
			}
		}
		if sess == nil {
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/live") {
				http.Redirect(w, r, u.base+"/signin", http.StatusSeeOther)
				return
			}
			http.Error(w, "signed out: sign in again", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			if !sameOrigin(r) || !validCSRF(sess, r.PostFormValue(csrfField)) {
				http.Error(w, "the form is stale or came from another site: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, signedIn{id: id, session: sess, principal: p})))
	})
}

func (u *UI) signInPage(w http.ResponseWriter, r *http.Request) {
	if code := r.URL.Query().Get("code"); code != "" {
		token, ok := u.sessions.redeem(code)
		if !ok {
			u.render(w, r, http.StatusUnauthorized, "signin", page{Title: "Sign in"},
				map[string]any{"Error": "That sign-in link was used already or has expired: sign in with an API token."})
			return
		}
		u.startSession(w, r, token)
		return
	}
	u.render(w, r, http.StatusOK, "signin", page{Title: "Sign in"}, map[string]any{})
}

func (u *UI) signIn(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "the sign-in form came from another site", http.StatusForbidden)
		return
	}
	u.startSession(w, r, strings.TrimSpace(r.PostFormValue("token")))
}

// startSession checks the token and signs the browser in; the token is
// kept in the server's session only, never sent back.
func (u *UI) startSession(w http.ResponseWriter, r *http.Request, token string) {
	if _, err := u.auth(r.Context(), token); err != nil {
		if !errors.Is(err, ErrUnknownToken) {
			u.fail(w, r, err)
			return
		}
		u.render(w, r, http.StatusUnauthorized, "signin", page{Title: "Sign in"},
			map[string]any{"Error": "That token is not valid (or was revoked)."})
		return
	}
	id, _ := u.sessions.create(token)
	u.setSessionCookie(w, r, id, int(sessionTTL/time.Second))
	// 303 to a fresh URL: the code leaves the address bar and the history.
	http.Redirect(w, r, u.base+"/integrations", http.StatusSeeOther)
}

func (u *UI) signOut(w http.ResponseWriter, r *http.Request) {
	u.sessions.end(current(r).id)
	u.setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, u.base+"/signin", http.StatusSeeOther)
}

// fail logs an unexpected error and shows a page that says so without the
// detail.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	u.logger.Error("webui: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	u.render(w, r, http.StatusInternalServerError, "error", page{Title: "Error"},
		map[string]any{"Message": "Something failed on the server (it is logged there). Try again."})
}

func (u *UI) notFound(w http.ResponseWriter, r *http.Request, what string) {
	u.render(w, r, http.StatusNotFound, "error", page{Title: "Not found"}, map[string]any{"Message": what + " not found."})
}

// requestTimeout bounds one page's work, as the API's handlers are bounded.
const requestTimeout = 30 * time.Second

func timeout(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), requestTimeout)
}

// actionError turns an error of the controller into a message for the page
// and its status; unexpected errors are logged and not detailed.
func (u *UI) actionError(r *http.Request, err error) (int, string) {
	var bad *control.BadInputError
	var running *control.AlreadyRunningError
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	switch {
	case errors.As(err, &bad):
		return http.StatusBadRequest, bad.Error()
	case errors.As(err, &running):
		return http.StatusConflict, running.Error() + "."
	case control.IsNotFound(err), errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "Not found."
	case errors.As(err, &unavailable), errors.As(err, &deadline), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "Temporal or the database did not answer; try again."
	case u.ctl.Temporal == nil:
		return http.StatusServiceUnavailable, "This server has no Temporal client: runs cannot be started."
	default:
		u.logger.Error("webui: action failed", "method", r.Method, "path", r.URL.Path, "err", err)
		return http.StatusInternalServerError, "The action failed on the server (it is logged there); try again."
	}
}
