package apicontract

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeTB records what Check and LoadSpec report instead of failing the
// real test, so that the tests can assert that they do fail.
type fakeTB struct {
	testing.TB // nil: only the methods below may be called
	mu         sync.Mutex
	errors     []string
	fatal      string
	skipped    string
}

func (f *fakeTB) Helper()                    {}
func (f *fakeTB) Logf(string, ...any)        {}
func (f *fakeTB) Errorf(fm string, a ...any) { f.add(fmt.Sprintf(fm, a...)) }
func (f *fakeTB) Fatalf(fm string, a ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(fm, a...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Skipf(fm string, a ...any) {
	f.mu.Lock()
	f.skipped = fmt.Sprintf(fm, a...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) add(s string) {
	f.mu.Lock()
	f.errors = append(f.errors, s)
	f.mu.Unlock()
}

// runTB runs fn with a fakeTB on its own goroutine, as Fatalf ends it.
func runTB(fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

// petServer answers like the pets spec, unless told otherwise.
type petServer struct {
	status int
	body   string
}

func (p petServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(p.status)
	_, _ = io.WriteString(w, p.body)
}

func exchange(t *testing.T, h http.Handler, method, path string, header http.Header) []Exchange {
	t.Helper()
	rec := NewRecorder(h)
	srv := httptest.NewServer(rec)
	defer srv.Close()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return rec.Exchanges()
}

func loadPets(t *testing.T, opts ...Option) *Spec {
	return LoadSpecFile(t, filepath.Join("testdata", "pets.json"), opts...)
}

var withKey = http.Header{"Api-Key": {"secret-value"}}

func TestRecorderRecordsBothSides(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", string(b))
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "hello ")
		_, _ = io.WriteString(w, "world")
	})
	rec := NewRecorder(h)
	srv := httptest.NewServer(rec)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/a/b?x=1", strings.NewReader("ping"))
	req.Header.Set("X-Test", "yes")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "hello world", string(got), "the client still gets the response")

	ex := rec.Exchanges()
	require.Len(t, ex, 1)
	assert.Equal(t, http.MethodPost, ex[0].Request.Method)
	assert.Equal(t, "/a/b", ex[0].Request.URL.Path)
	assert.Equal(t, "x=1", ex[0].Request.URL.RawQuery)
	assert.Equal(t, "yes", ex[0].Request.Header.Get("X-Test"))
	assert.Equal(t, "ping", string(ex[0].Request.Body))
	assert.Equal(t, http.StatusCreated, ex[0].Response.Status)
	assert.Equal(t, "ping", ex[0].Response.Header.Get("X-Echo"))
	assert.Equal(t, "hello world", string(ex[0].Response.Body))

	rec.Reset()
	assert.Empty(t, rec.Exchanges())
}

func TestRecorderImplicitStatusAndConcurrency(t *testing.T) {
	rec := NewRecorder(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv := httptest.NewServer(rec)
	defer srv.Close()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := srv.Client().Get(fmt.Sprintf("%s/n/%d", srv.URL, i))
			if err == nil {
				_ = resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	ex := rec.Exchanges()
	require.Len(t, ex, 20)
	for _, e := range ex {
		assert.Equal(t, http.StatusOK, e.Response.Status)
	}
}

func TestCheckPassesAValidExchange(t *testing.T) {
	spec := loadPets(t)
	ok := `{"id": 1, "name": "Rex", "tag": null}`
	// With and without the server's base path (/api): both are matched.
	spec.Check(t, exchange(t, petServer{200, ok}, "GET", "/api/pets/1", withKey))
	spec.Check(t, exchange(t, petServer{200, "[" + ok + "]"}, "GET", "/pets?page=2", nil))
}

func TestCheckFailsOnViolations(t *testing.T) {
	ok := `{"id": 1, "name": "Rex", "tag": null}`
	tests := []struct {
		name     string
		srv      petServer
		method   string
		path     string
		header   http.Header
		wantPart string
	}{
		{"wrong type in response", petServer{200, `{"id": "1", "name": "Rex", "tag": null}`}, "GET", "/api/pets/1", withKey, "/id"},
		{"missing required field", petServer{200, `{"id": 1, "name": "Rex"}`}, "GET", "/api/pets/1", withKey, "tag"},
		{"wrong item in a list", petServer{200, `[` + ok + `, {"id": 2}]`}, "GET", "/api/pets", nil, "/1/name"},
		{"undocumented status", petServer{404, `{"error":"not found","status":404}`}, "GET", "/api/pets/1", withKey, "response 404"},
		{"unknown path", petServer{200, ok}, "GET", "/api/cats/1", nil, "no path matching /cats/1"},
		{"unknown method", petServer{200, ok}, "DELETE", "/api/pets/1", withKey, "no DELETE operation"},
		{"bad query parameter", petServer{200, "[]"}, "GET", "/api/pets?page=0", nil, `parameter "page"`},
		{"missing credential", petServer{200, ok}, "GET", "/api/pets/1", nil, "security requirements not met"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := loadPets(t)
			ex := exchange(t, tc.srv, tc.method, tc.path, tc.header)
			f := runTB(func(tb testing.TB) { spec.Check(tb, ex) })
			require.NotEmpty(t, f.errors, "Check must fail")
			joined := strings.Join(f.errors, "\n")
			assert.Contains(t, joined, tc.method+" ", "names the method")
			assert.Contains(t, joined, strings.SplitN(tc.path, "?", 2)[0], "names the path")
			assert.Contains(t, joined, tc.wantPart)
			assert.NotContains(t, joined, "secret-value", "never reports credentials")
		})
	}
}

func TestCheckReportsEveryViolation(t *testing.T) {
	spec := loadPets(t)
	ex := exchange(t, petServer{200, `{"id": "x", "name": 5, "tag": null}`}, "GET", "/api/pets/1", withKey)
	vs := spec.Violations(ex)
	require.Len(t, vs, 2, "MultiError: both fields are reported: %v", vs)
	assert.Equal(t, "/pets/{id}", vs[0].Route)
}

func TestCheckFailsWithNoExchanges(t *testing.T) {
	spec := loadPets(t)
	f := runTB(func(tb testing.TB) { spec.Check(tb, nil) })
	assert.NotEmpty(t, f.errors)
}

func TestOptions(t *testing.T) {
	bad := `{"id": "not a number"}`
	tests := []struct {
		name   string
		opts   []Option
		srv    petServer
		path   string
		header http.Header
	}{
		{"SkipStatus", []Option{SkipStatus(429, "429 is not described")}, petServer{429, `{"error":"slow down"}`}, "/api/pets/1", withKey},
		{"IgnoreResponseBody", []Option{IgnoreResponseBody("GET", "/pets/{id}", "test")}, petServer{200, bad}, "/api/pets/1", withKey},
		{"IgnoreResponseBody any method", []Option{IgnoreResponseBody("", "/pets/{id}", "test")}, petServer{200, bad}, "/api/pets/1", withKey},
		{"IgnoreSecurity", []Option{IgnoreSecurity("test")}, petServer{200, `{"id":1,"name":"a","tag":"b"}`}, "/api/pets/1", nil},
		{"StripPrefix", []Option{StripPrefix("/v9/")}, petServer{200, `{"id":1,"name":"a","tag":"b"}`}, "/v9/pets/1", withKey},
		{"PatchSpec adds a status", []Option{PatchSpec("the API answers 404", func(doc map[string]any) {
			Lookup(doc, "paths", "/pets/{id}", "get", "responses")["404"] = map[string]any{"description": "not found"}
		})}, petServer{404, `{}`}, "/api/pets/1", withKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := exchange(t, tc.srv, "GET", tc.path, tc.header)
			require.NotEmpty(t, loadPets(t).Violations(ex), "fails without the option")
			loadPets(t, tc.opts...).Check(t, ex)
		})
	}

	t.Run("SkipStatus still checks the request", func(t *testing.T) {
		ex := exchange(t, petServer{429, ``}, "GET", "/api/pets?page=zero", nil)
		assert.NotEmpty(t, loadPets(t, SkipStatus(429, "test")).Violations(ex))
	})
	t.Run("IgnoreResponseBody keeps the status check", func(t *testing.T) {
		ex := exchange(t, petServer{500, bad}, "GET", "/api/pets/1", withKey)
		assert.NotEmpty(t, loadPets(t, IgnoreResponseBody("GET", "/pets/{id}", "test")).Violations(ex))
	})
}

func TestRelaxationsNeedAReason(t *testing.T) {
	for _, o := range []Option{
		SkipStatus(429, ""),
		IgnoreResponseBody("GET", "/pets", ""),
		IgnoreSecurity(""),
		PatchSpec("", func(map[string]any) {}),
	} {
		f := runTB(func(tb testing.TB) { LoadSpecFile(tb, filepath.Join("testdata", "pets.json"), o) })
		assert.Contains(t, f.fatal, "need a reason")
	}
}

func TestPatchThatNoLongerFitsFails(t *testing.T) {
	f := runTB(func(tb testing.TB) {
		LoadSpecFile(tb, filepath.Join("testdata", "pets.json"), PatchSpec("fix dogs", func(doc map[string]any) {
			Lookup(doc, "paths", "/dogs")["x"] = 1
		}))
	})
	assert.Contains(t, f.fatal, "fix dogs")
	assert.Contains(t, f.fatal, "paths > /dogs")
}

func TestLoadSpecFailsOnAMissingSpec(t *testing.T) {
	t.Setenv(EnvSpecsDir, filepath.Join(t.TempDir(), "nowhere"))
	f := runTB(func(tb testing.TB) { LoadSpec(tb, "discord.trimmed.json") })
	assert.Contains(t, f.fatal, EnvSpecsDir)

	t.Setenv(EnvSpecsDir, "testdata")
	f = runTB(func(tb testing.TB) { LoadSpec(tb, "missing.json") })
	assert.Contains(t, f.fatal, "missing.json")
	assert.Contains(t, f.fatal, EnvSpecsDir)
	assert.Empty(t, f.skipped)

	spec := LoadSpec(t, "pets.json")
	assert.NotNil(t, spec)
}

// TestUnlicensedSpecSkipsWithItsReason: a spec the repository may not ship
// (notShipped) skips its test, naming the file, the licence problem and how
// to supply it, instead of failing a plain clone.
func TestUnlicensedSpecSkipsWithItsReason(t *testing.T) {
	t.Setenv(EnvSpecsDir, "testdata")
	f := runTB(func(tb testing.TB) { LoadSpec(tb, "forem.v1.trimmed.json") })
	assert.Empty(t, f.fatal)
	assert.Contains(t, f.skipped, "forem.v1.trimmed.json")
	assert.Contains(t, f.skipped, "no licence")
	assert.Contains(t, f.skipped, EnvSpecsDir)
}

// TestRepoSpecsLoad loads every spec the repository ships, 3.0 and 3.1
// alike, with the real folder lookup (no APISPECS_DIR: the files in
// testdata/apispecs).
func TestRepoSpecsLoad(t *testing.T) {
	t.Setenv(EnvSpecsDir, "")
	dir, err := SpecsDir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join("testdata", "apispecs"), filepath.Join(filepath.Base(filepath.Dir(dir)), filepath.Base(dir)))
	for _, f := range []string{
		"discord.trimmed.json",
		"slack.oas3.trimmed.json",
		"slack.oas3.relaxed.trimmed.json",
		"github.rest.trimmed.json",
		"x.latest.trimmed.json",
	} {
		t.Run(f, func(t *testing.T) { LoadSpec(t, f) })
	}
	for f := range notShipped {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.True(t, os.IsNotExist(err), "%s is listed as not shipped but is in %s", f, dir)
	}
}

// TestOpenAPI31 proves that 3.1 type arrays work without pre-processing:
// null is accepted where ["string","null"] allows it, and a wrong type is
// still refused.
func TestOpenAPI31(t *testing.T) {
	spec := LoadSpec(t, "discord.trimmed.json")
	user := func(globalName string) string {
		return `{"id":"80351110224678912","username":"nelly","avatar":null,"discriminator":"0",` +
			`"public_flags":0,"flags":0,"global_name":` + globalName + `,"primary_guild":null}`
	}
	auth := http.Header{"Authorization": {"Bot secret-value"}}
	ok := exchange(t, petServer{200, user("null")}, "GET", "/api/v10/users/80351110224678912", auth)
	spec.Check(t, ok)
	bad := exchange(t, petServer{200, user("5")}, "GET", "/api/v10/users/80351110224678912", auth)
	vs := spec.Violations(bad)
	require.NotEmpty(t, vs)
	assert.Contains(t, vs[0].String(), "global_name")
}
