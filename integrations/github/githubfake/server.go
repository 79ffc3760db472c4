package githubfake

import (
	"crypto/rand"
	"crypto/rsa"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
)

// schemaSource is GitHub's public GraphQL schema (npm @octokit/graphql-schema
// 15.26.1, MIT), with one duplicated field definition removed so that
// parsers load it: see schema/README.md.
//
//go:embed schema/github.schema.dedup.graphql
var schemaSource string

var (
	schemaOnce sync.Once
	schema     *ast.Schema
	schemaErr  error
)

// Schema returns GitHub's GraphQL schema, parsed once.
func Schema() (*ast.Schema, error) {
	schemaOnce.Do(func() {
		schema, schemaErr = gqlparser.LoadSchema(&ast.Source{Name: "github.schema.graphql", Input: schemaSource})
	})
	return schema, schemaErr
}

// PointsPerHour is GitHub's GraphQL budget of a user token.
const PointsPerHour = 5000

// Options configure a Server.
type Options struct {
	// Tokens are the personal/OAuth tokens the fake accepts.
	Tokens []string
	// AppID and AppKey are the GitHub App whose JWTs the fake accepts on
	// /app/installations/{id}/access_tokens.
	AppID  int64
	AppKey *rsa.PublicKey
	// InstallationTokenTTL is how long an installation token lives (an
	// hour on GitHub; tests make it short to see it refreshed).
	InstallationTokenTTL time.Duration
	// Now is the fake's clock (time.Now when nil).
	Now func() time.Time
}

// Server is the fake GitHub: GraphQL at /graphql, and the REST routes the
// integration and its tests use.
type Server struct {
	o Options

	mu       sync.Mutex
	world    World
	version  int
	graph    *graph
	graphVer int
	budgets  map[string]*budget
	instToks map[string]installationToken

	// knobs
	rateLimitAfter   int // queries left before RATE_LIMITED; -1 none
	rateLimitFor     time.Duration
	secondaryAfter   int // requests left before a secondary limit; -1 none
	secondaryRetry   int // Retry-After seconds
	secondaryStatus  int
	notFoundAfterAll bool

	// counters
	requests, queries, points, tokensIssued int
	inFlight, maxInFlight                   map[string]int
}

type budget struct {
	remaining int
	resetAt   time.Time
}

type installationToken struct {
	installation int64
	expires      time.Time
}

// New returns a fake serving w.
func New(w World, o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.InstallationTokenTTL == 0 {
		o.InstallationTokenTTL = time.Hour
	}
	return &Server{o: o, world: w, budgets: map[string]*budget{}, instToks: map[string]installationToken{},
		rateLimitAfter: -1, secondaryAfter: -1, inFlight: map[string]int{}, maxInFlight: map[string]int{}}
}

// Update changes the world under the fake's lock (new stars, comments...).
func (s *Server) Update(fn func(w *World)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.world)
	s.version++
}

// RateLimitAfter makes the GraphQL budget run out after n more queries:
// the next ones answer RATE_LIMITED (HTTP 200, x-ratelimit-remaining 0)
// until resetIn has passed, then the budget is whole again.
func (s *Server) RateLimitAfter(n int, resetIn time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimitAfter, s.rateLimitFor = n, resetIn
}

// SecondaryLimitAfter makes request n+1 answer a secondary rate limit
// (status 403 or 429, Retry-After: retryAfter seconds), once.
func (s *Server) SecondaryLimitAfter(n, status, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secondaryAfter, s.secondaryStatus, s.secondaryRetry = n, status, retryAfter
}

// Stats are the fake's counters.
type Stats struct {
	Requests, Queries, Points, TokensIssued int
	// MaxInFlight is the most requests one credential had open at once.
	MaxInFlight int
}

// Stats returns the counters since New or ResetStats.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Requests: s.requests, Queries: s.queries, Points: s.points, TokensIssued: s.tokensIssued}
	for _, n := range s.maxInFlight {
		st.MaxInFlight = max(st.MaxInFlight, n)
	}
	return st
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.queries, s.points, s.tokensIssued = 0, 0, 0, 0
	s.maxInFlight = map[string]int{}
}

// Handler serves the fake.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /graphql", s.withAuth(s.serveGraphQL))
	mux.HandleFunc("POST /api/graphql", s.withAuth(s.serveGraphQL)) // GitHub Enterprise's path
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", s.serveAccessToken)
	mux.HandleFunc("GET /installation/repositories", s.withAuth(s.serveInstallationRepos))
	mux.HandleFunc("GET /repos/{owner}/{repo}/stargazers", s.withAuth(s.serveStargazers))
	mux.HandleFunc("GET /repositories/{id}/stargazers", s.withAuth(s.serveStargazers))
	mux.HandleFunc("GET /users/{username}", s.withAuth(s.serveUser))
	mux.HandleFunc("GET /rate_limit", s.withAuth(s.serveRateLimit))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})
	})
	return mux
}

type credKey struct{}

// credential is who a request is: a personal token or an installation.
type credential struct {
	token        string
	installation int64 // 0 for a personal token
}

func (s *Server) withAuth(h func(http.ResponseWriter, *http.Request, credential)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok := ""
		if f := strings.Fields(auth); len(f) == 2 && (strings.EqualFold(f[0], "bearer") || strings.EqualFold(f[0], "token")) {
			tok = f[1]
		}
		s.mu.Lock()
		s.requests++
		cred, ok := s.credential(tok)
		if ok {
			s.inFlight[tok]++
			s.maxInFlight[tok] = max(s.maxInFlight[tok], s.inFlight[tok])
		}
		secondary := false
		if ok && s.secondaryAfter >= 0 {
			if s.secondaryAfter == 0 {
				secondary = true
			}
			s.secondaryAfter--
		}
		s.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
			return
		}
		defer func() {
			s.mu.Lock()
			s.inFlight[tok]--
			s.mu.Unlock()
		}()
		if secondary {
			w.Header().Set("Retry-After", strconv.Itoa(s.secondaryRetry))
			writeJSON(w, s.secondaryStatus, map[string]any{
				"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ABCD:1234:5678.",
				"documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
				"status":            strconv.Itoa(s.secondaryStatus),
			})
			return
		}
		h(w, r, cred)
	}
}

// credential must be called with s.mu held.
func (s *Server) credential(tok string) (credential, bool) {
	if tok == "" {
		return credential{}, false
	}
	for _, t := range s.o.Tokens {
		if t == tok {
			return credential{token: tok}, true
		}
	}
	if it, ok := s.instToks[tok]; ok && s.o.Now().Before(it.expires) {
		return credential{token: tok, installation: it.installation}, true
	}
	return credential{}, false
}

// budgetFor must be called with s.mu held.
func (s *Server) budgetFor(tok string) *budget {
	b := s.budgets[tok]
	now := s.o.Now()
	if b == nil || !now.Before(b.resetAt) {
		b = &budget{remaining: PointsPerHour, resetAt: now.Add(time.Hour).Truncate(time.Second)}
		s.budgets[tok] = b
	}
	return b
}

func (s *Server) rateHeaders(w http.ResponseWriter, b *budget, resource string) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(PointsPerHour))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(b.remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(PointsPerHour-b.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(b.resetAt.Unix(), 10))
	h.Set("X-RateLimit-Resource", resource)
}

type gqlRequest struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName string         `json:"operationName"`
}

func (s *Server) serveGraphQL(w http.ResponseWriter, r *http.Request, cred credential) {
	var req gqlRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Query == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/graphql"})
		return
	}
	sch, err := Schema()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	doc, errs := gqlparser.LoadQueryWithRules(sch, req.Query, nil)
	if len(errs) > 0 {
		// GitHub answers invalid queries with 200 and errors, no data.
		var out []gqlError
		for _, e := range errs {
			ge := gqlError{Message: e.Message}
			for _, l := range e.Locations {
				ge.Locations = append(ge.Locations, location{l.Line, l.Column})
			}
			out = append(out, ge)
		}
		writeJSON(w, http.StatusOK, map[string]any{"errors": out})
		return
	}
	op := doc.Operations.ForName(req.OperationName)
	if op == nil && len(doc.Operations) == 1 {
		op = doc.Operations[0]
	}
	if op == nil || op.Operation != ast.Query {
		writeJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{{Message: "the fake GitHub runs queries only"}}})
		return
	}
	vars, verr := validator.VariableValues(sch, op, req.Variables)
	if verr != nil {
		writeJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{{Message: verr.Error()}}})
		return
	}
	points, _, perr := cost(sch, op.SelectionSet, doc.Fragments, vars)
	if perr != nil {
		writeJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{*perr}})
		return
	}

	s.mu.Lock()
	b := s.budgetFor(cred.token)
	if s.rateLimitAfter == 0 {
		b.remaining, b.resetAt = 0, s.o.Now().Add(s.rateLimitFor)
		s.rateLimitAfter = -1
	} else if s.rateLimitAfter > 0 {
		s.rateLimitAfter--
	}
	if b.remaining < points {
		s.rateHeaders(w, b, "graphql")
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{{Type: "RATE_LIMITED",
			Message: "API rate limit already exceeded for user ID 1000."}}})
		return
	}
	b.remaining -= points
	s.queries++
	s.points += points
	s.rateHeaders(w, b, "graphql")
	if s.graph == nil || s.graphVer != s.version {
		s.graph, s.graphVer = buildGraph(&s.world), s.version
	}
	g := s.graph
	allowed := s.allowedRepos(cred)
	rl := object{"__typename": "RateLimit", "cost": points, "limit": PointsPerHour, "remaining": b.remaining,
		"used": PointsPerHour - b.remaining, "resetAt": b.resetAt, "nodeCount": 0}
	s.mu.Unlock()

	ex := &executor{schema: sch, doc: doc, vars: vars}
	root := s.root(g, allowed, rl)
	data := ex.selectionSet(root, op.SelectionSet, nil)
	out := map[string]any{"data": data}
	if len(ex.errors) > 0 {
		out["errors"] = ex.errors
	}
	writeJSON(w, http.StatusOK, out)
}

// allowedRepos is nil for a personal token (it sees every repository of
// the world that is not unavailable), or the installation's repositories.
func (s *Server) allowedRepos(cred credential) map[string]bool {
	if cred.installation == 0 {
		return nil
	}
	out := map[string]bool{}
	for _, in := range s.world.Installations {
		if in.ID == cred.installation {
			for _, r := range in.Repos {
				out[strings.ToLower(r)] = true
			}
		}
	}
	return out
}

func (s *Server) root(g *graph, allowed map[string]bool, rl object) object {
	return object{
		"__typename": "Query",
		"rateLimit":  rl,
		"repository": fieldFunc(func(args map[string]any) (any, error) {
			owner, _ := args["owner"].(string)
			name, _ := args["name"].(string)
			full := strings.ToLower(owner + "/" + name)
			e, ok := g.repos[full]
			if ok && e.unavailable == "FORBIDDEN" {
				return nil, &fieldError{typ: "FORBIDDEN", msg: "Resource not accessible by integration"}
			}
			if !ok || e.unavailable != "" || (allowed != nil && !allowed[full]) {
				return nil, &fieldError{typ: "NOT_FOUND", msg: fmt.Sprintf("Could not resolve to a Repository with the name '%s/%s'.", owner, name)}
			}
			return e.obj, nil
		}),
		"node": fieldFunc(func(args map[string]any) (any, error) {
			id, _ := args["id"].(string)
			o, ok := g.nodes[id]
			if !ok {
				return nil, &fieldError{typ: "NOT_FOUND", msg: fmt.Sprintf("Could not resolve to a node with the global id of '%s'", id)}
			}
			return o, nil
		}),
		"user": fieldFunc(func(args map[string]any) (any, error) {
			login, _ := args["login"].(string)
			if u, ok := g.users[login]; ok && u["__typename"] == "User" {
				return u, nil
			}
			return nil, &fieldError{typ: "NOT_FOUND", msg: fmt.Sprintf("Could not resolve to a User with the login of '%s'.", login)}
		}),
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveAccessToken is POST /app/installations/{id}/access_tokens: the app
// JWT (RS256, iss = app id, at most 10 minutes) buys an installation token.
func (s *Server) serveAccessToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || s.o.AppKey == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "A JSON web token could not be decoded", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodRSA); !ok {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return s.o.AppKey, nil
	})
	if err != nil || claims.Issuer != strconv.FormatInt(s.o.AppID, 10) ||
		claims.ExpiresAt == nil || claims.ExpiresAt.Sub(s.o.Now()) > 10*time.Minute+time.Minute {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "'Expiration time' claim ('exp') is too far in the future", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for _, in := range s.world.Installations {
		found = found || in.ID == id
	}
	if !found {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"})
		return
	}
	buf := make([]byte, 18)
	_, _ = rand.Read(buf)
	tok := "ghs_" + hex.EncodeToString(buf)
	exp := s.o.Now().Add(s.o.InstallationTokenTTL)
	s.instToks[tok] = installationToken{installation: id, expires: exp}
	s.tokensIssued++
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "expires_at": exp.UTC().Format(time.RFC3339),
		"permissions":          map[string]string{"metadata": "read", "issues": "read", "pull_requests": "read", "discussions": "read"},
		"repository_selection": "selected"})
}
