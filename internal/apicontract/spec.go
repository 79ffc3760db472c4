package apicontract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// EnvSpecsDir names the environment variable that points at another
// apispecs folder than the one in the repository (testdata/apispecs).
const EnvSpecsDir = "APISPECS_DIR"

// RepoSpecsDir is the folder, relative to the directory holding go.mod, that
// keeps the specs the contract tests read. They travel with the repository,
// so a plain clone tests the fakes against the same files as CI.
const RepoSpecsDir = "testdata/apispecs"

// notShipped lists the specs testdata/apispecs cannot hold because their
// licence does not allow copying them, with what is missing. LoadSpec skips
// a test that needs one of them when it is not found, saying why, instead of
// failing; any other missing spec fails the test.
var notShipped = map[string]string{
	"forem.v1.trimmed.json": "the Forem v1 spec (forem/forem-docs api_v1.json) has no licence, so the repository " +
		"does not ship it (testdata/apispecs/README.md); set " + EnvSpecsDir + " to a folder holding " +
		"forem.v1.trimmed.json to run this contract test",
}

// Spec is a loaded OpenAPI description with the relaxations of one test.
type Spec struct {
	file     string
	doc      *openapi3.T
	router   routers.Router
	prefixes []string
	cfg      config
}

// Violation is one way an exchange breaks the spec.
type Violation struct {
	Method string
	// Path is the request path as the server saw it.
	Path string
	// Route is the spec's path template it matched, empty when none did.
	Route   string
	Message string
}

func (v Violation) String() string {
	if v.Route != "" && v.Route != v.Path {
		return fmt.Sprintf("%s %s (%s): %s", v.Method, v.Path, v.Route, v.Message)
	}
	return fmt.Sprintf("%s %s: %s", v.Method, v.Path, v.Message)
}

// LoadSpec loads file (e.g. "discord.trimmed.json") from the apispecs
// folder: the folder $APISPECS_DIR names, or else testdata/apispecs in the
// module, found by walking up from the working directory. A spec that cannot
// be found or loaded fails the test, except one the repository cannot ship
// for its licence (notShipped): its test is skipped with the reason.
func LoadSpec(t testing.TB, file string, opts ...Option) *Spec {
	t.Helper()
	dir, err := SpecsDir()
	if err != nil {
		t.Fatalf("apicontract: %v", err)
	}
	path := filepath.Join(dir, file)
	if _, err := os.Stat(path); err != nil {
		if why, ok := notShipped[file]; ok {
			t.Skipf("apicontract: contract test skipped, spec %s not in %s: %s", file, dir, why)
		}
		t.Fatalf("apicontract: spec %s not found in %s (%v); set %s to the folder holding it", file, dir, err, EnvSpecsDir)
	}
	return LoadSpecFile(t, path, opts...)
}

// SpecsDir returns the apispecs folder LoadSpec reads from. Its error says
// where it looked and how to point it elsewhere.
func SpecsDir() (string, error) {
	if d := os.Getenv(EnvSpecsDir); d != "" {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("%s=%q is not a directory", EnvSpecsDir, d)
		}
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %v; set %s to the apispecs folder", err, EnvSpecsDir)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			cand := filepath.Join(d, filepath.FromSlash(RepoSpecsDir))
			if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
				return cand, nil
			}
			return "", fmt.Errorf("apispecs folder not found: looked at %s (in the module at %s); set %s to the folder holding the specs",
				cand, d, EnvSpecsDir)
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("apispecs folder not found: no go.mod above %s; set %s to the folder holding the specs", wd, EnvSpecsDir)
		}
	}
}

// LoadSpecFile loads the spec at path, e.g. a small spec in testdata.
func LoadSpecFile(t testing.TB, path string, opts ...Option) *Spec {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.missingReasons) > 0 {
		t.Fatalf("apicontract: relaxations need a reason: %s", strings.Join(cfg.missingReasons, ", "))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("apicontract: %v", err)
	}
	if len(cfg.patches) > 0 {
		data, err = applyPatches(data, cfg.patches)
		if err != nil {
			t.Fatalf("apicontract: %s: %v", filepath.Base(path), err)
		}
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("apicontract: loading %s: %v", path, err)
	}
	// Not doc.Validate(): some specs hold patterns Go's regexp cannot
	// compile in schemas no test touches (api-quirks §2.5); a schema that
	// is used and broken still fails when a value is checked against it.

	s := &Spec{file: filepath.Base(path), doc: doc, cfg: cfg}
	// Match on paths only: fakes listen on 127.0.0.1, not on the spec's
	// hosts. The servers' paths become prefixes to strip instead.
	for _, srv := range doc.Servers {
		bp, err := srv.BasePath()
		if err != nil {
			t.Fatalf("apicontract: %s: server %q: %v", s.file, srv.URL, err)
		}
		if bp = strings.TrimSuffix(bp, "/"); bp != "" {
			s.prefixes = append(s.prefixes, bp)
		}
	}
	s.prefixes = append(s.prefixes, cfg.prefixes...)
	// Longest first, so /api/v10 wins over /api.
	sort.SliceStable(s.prefixes, func(i, j int) bool { return len(s.prefixes[i]) > len(s.prefixes[j]) })
	doc.Servers = nil
	for _, p := range doc.Paths.Map() {
		p.Servers = nil
	}
	s.router, err = gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("apicontract: routing %s: %v", s.file, err)
	}
	return s
}

func applyPatches(data []byte, patches []patch) (out []byte, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep big integers in examples as they are
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding for PatchSpec: %w", err)
	}
	for _, p := range patches {
		if err := runPatch(doc, p); err != nil {
			return nil, err
		}
	}
	return json.Marshal(doc)
}

func runPatch(doc map[string]any, p patch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("PatchSpec %q: %v", p.reason, r)
		}
	}()
	p.fn(doc)
	return nil
}

// Check validates every exchange against the spec and reports each
// violation with t.Errorf. No exchanges at all is a failure too: a contract
// test that recorded nothing proves nothing.
func (s *Spec) Check(t testing.TB, exchanges []Exchange) {
	t.Helper()
	if len(exchanges) == 0 {
		t.Errorf("apicontract: %s: no exchanges to check", s.file)
		return
	}
	vs := s.Violations(exchanges)
	for _, v := range vs {
		t.Errorf("apicontract: %s: %s", s.file, v)
	}
	if len(vs) == 0 {
		t.Logf("apicontract: %d exchanges match %s", len(exchanges), s.file)
	}
}

// Violations returns every violation of the spec in the exchanges.
func (s *Spec) Violations(exchanges []Exchange) []Violation {
	var out []Violation
	for _, ex := range exchanges {
		out = append(out, s.check(ex)...)
	}
	return out
}

func (s *Spec) check(ex Exchange) []Violation {
	ctx := context.Background()
	u := ex.Request.URL
	if u == nil {
		u = &url.URL{Path: "/"}
	}
	at := Violation{Method: ex.Request.Method, Path: u.Path}

	ru := *u
	ru.Path = s.stripPrefix(u.Path)
	ru.RawPath = ""
	if ru.Scheme == "" {
		ru.Scheme = "http"
	}
	if ru.Host == "" {
		ru.Host = "fake.invalid"
	}
	req, err := http.NewRequestWithContext(ctx, ex.Request.Method, ru.String(), bytes.NewReader(ex.Request.Body))
	if err != nil {
		return []Violation{at.with("", "cannot rebuild the request: "+err.Error())}
	}
	req.Header = ex.Request.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}

	route, params, err := s.router.FindRoute(req)
	if err != nil {
		switch {
		case errors.Is(err, routers.ErrMethodNotAllowed):
			return []Violation{at.with("", "the spec has no "+ex.Request.Method+" operation on this path")}
		default:
			return []Violation{at.with("", "the spec has no path matching "+ru.Path+" ("+err.Error()+")")}
		}
	}

	var vs []Violation
	reqOpts := &openapi3filter.Options{
		MultiError:          true,
		SkipSettingDefaults: true,
		AuthenticationFunc:  requireCredential,
	}
	if s.cfg.ignoreSecurity != "" {
		reqOpts.AuthenticationFunc = openapi3filter.NoopAuthenticationFunc
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: reqOpts}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		for _, m := range messages(err) {
			vs = append(vs, at.with(route.Path, "request: "+m))
		}
	}

	if _, skip := s.cfg.skipStatus[ex.Response.Status]; skip {
		return vs
	}
	respOpts := &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		ExcludeResponseBody:   s.cfg.bodyIgnored(req.Method, route.Path),
	}
	respIn := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 ex.Response.Status,
		Header:                 ex.Response.Header,
		Body:                   io.NopCloser(bytes.NewReader(ex.Response.Body)),
		Options:                respOpts,
	}
	if respIn.Header == nil {
		respIn.Header = http.Header{}
	}
	if err := openapi3filter.ValidateResponse(ctx, respIn); err != nil {
		for _, m := range messages(err) {
			vs = append(vs, at.with(route.Path, fmt.Sprintf("response %d: %s", ex.Response.Status, m)))
		}
	}
	return vs
}

func (v Violation) with(route, msg string) Violation {
	v.Route, v.Message = route, msg
	return v
}

func (s *Spec) stripPrefix(p string) string {
	for _, pre := range s.prefixes {
		if p == pre {
			return "/"
		}
		if strings.HasPrefix(p, pre+"/") {
			return p[len(pre):]
		}
	}
	return p
}

// requireCredential checks that the request carries the credential a
// security scheme names. It never looks at, nor reports, its value.
func requireCredential(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	sc := in.SecurityScheme
	switch sc.Type {
	case "apiKey":
		switch sc.In {
		case "header":
			if req.Header.Get(sc.Name) != "" {
				return nil
			}
		case "query":
			if req.URL.Query().Get(sc.Name) != "" {
				return nil
			}
		case "cookie":
			if c, err := req.Cookie(sc.Name); err == nil && c.Value != "" {
				return nil
			}
		}
		return fmt.Errorf("%s: no %s %q", in.SecuritySchemeName, sc.In, sc.Name)
	case "http":
		auth := req.Header.Get("Authorization")
		if scheme, _, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, sc.Scheme) {
			return nil
		}
		return fmt.Errorf("%s: no %q Authorization header", in.SecuritySchemeName, sc.Scheme)
	default: // oauth2, openIdConnect, mutualTLS: a bearer token of some kind
		if req.Header.Get("Authorization") != "" {
			return nil
		}
		return fmt.Errorf("%s: no Authorization header", in.SecuritySchemeName)
	}
}

// messages flattens a validation error into one line per problem.
func messages(err error) []string {
	var me openapi3.MultiError
	if errors.As(err, &me) && isMulti(err) {
		var out []string
		for _, e := range me {
			out = append(out, messages(e)...)
		}
		return out
	}
	switch e := err.(type) {
	case *openapi3filter.RequestError:
		prefix := ""
		switch {
		case e.Parameter != nil:
			prefix = fmt.Sprintf("parameter %q in %s: ", e.Parameter.Name, e.Parameter.In)
		case e.RequestBody != nil:
			prefix = "body: "
		}
		return withReason(prefix, e.Reason, e.Err)
	case *openapi3filter.ResponseError:
		return withReason("", e.Reason, e.Err)
	case *openapi3filter.SecurityRequirementsError:
		parts := make([]string, 0, len(e.Errors))
		for _, x := range e.Errors {
			parts = append(parts, x.Error())
		}
		return []string{"security requirements not met: " + strings.Join(parts, " | ")}
	case *openapi3.SchemaError:
		reason := e.Reason
		if reason == "" {
			reason = e.Error()
		}
		if ptr := e.JSONPointer(); len(ptr) > 0 {
			reason = "/" + strings.Join(ptr, "/") + ": " + reason
		}
		return []string{reason}
	}
	return []string{err.Error()}
}

func isMulti(err error) bool {
	_, ok := err.(openapi3.MultiError)
	return ok
}

func withReason(prefix, reason string, cause error) []string {
	if cause == nil {
		return []string{prefix + reason}
	}
	sub := messages(cause)
	out := make([]string, 0, len(sub))
	for _, m := range sub {
		if reason != "" && reason != m {
			m = reason + ": " + m
		}
		out = append(out, prefix+m)
	}
	return out
}
