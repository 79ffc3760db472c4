package crowdflow_test

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// Docker cannot run on the build machines, so docker-compose.yml is checked
// for structure and for agreement with the code and the README instead.

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       string            `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Ports       []string `yaml:"ports"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile("docker-compose.yml")
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(raw, &c))
	return c
}

func TestComposeHasEveryServiceHealthChecked(t *testing.T) {
	c := loadCompose(t)
	var names []string
	for name, s := range c.Services {
		names = append(names, name)
		assert.NotEmpty(t, s.Healthcheck.Test, "service %s has no health check", name)
		for dep, d := range s.DependsOn {
			assert.Contains(t, c.Services, dep, "%s depends on unknown service %s", name, dep)
			assert.Equal(t, "service_healthy", d.Condition, "%s waits for %s to be healthy", name, dep)
		}
	}
	sort.Strings(names)
	assert.Equal(t, []string{"api", "postgres", "temporal", "temporal-ui", "worker"}, names)
	assert.Contains(t, c.Services["temporal"].Image, "temporalio/auto-setup")
	assert.Equal(t, []string{"worker"}, c.Services["worker"].Command)
	assert.Equal(t, []string{"starter", "serve"}, c.Services["api"].Command)
	assert.Contains(t, c.Services["temporal-ui"].Ports, "8233:8080", "Temporal Web where the README says")
}

func TestComposeWiresTheEnvironmentTheCodeReads(t *testing.T) {
	c := loadCompose(t)
	read := envReadByCode(t)
	for _, name := range []string{"worker", "api"} {
		s := c.Services[name]
		assert.Equal(t, ".", s.Build, "%s is built from this repository", name)
		for _, v := range []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE"} {
			assert.NotEmpty(t, s.Environment[v], "%s lacks %s", name, v)
		}
		for v := range s.Environment {
			assert.True(t, read[v], "%s sets %s, which no code reads", name, v)
		}
		assert.Equal(t, "temporal:7233", s.Environment["TEMPORAL_ADDRESS"])
	}
	// The database URL names the postgres service's own credentials.
	pg := c.Services["postgres"].Environment
	u, err := url.Parse(c.Services["worker"].Environment["DATABASE_URL"])
	require.NoError(t, err)
	pass, _ := u.User.Password()
	assert.Equal(t, "postgres:5432", u.Host)
	assert.Equal(t, pg["POSTGRES_USER"], u.User.Username())
	assert.Equal(t, pg["POSTGRES_PASSWORD"], pass)
	assert.Equal(t, "/"+pg["POSTGRES_DB"], u.Path)
	assert.Equal(t, pg["POSTGRES_USER"], c.Services["temporal"].Environment["POSTGRES_USER"])
}

func TestDockerfileBuildsBothCommandsAndREADMEAgrees(t *testing.T) {
	df, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	for _, cmd := range []string{"worker", "starter"} {
		assert.Contains(t, string(df), "./"+cmd, "the Dockerfile builds %s", cmd)
		_, err := os.Stat(filepath.Join(cmd, "main.go"))
		assert.NoError(t, err)
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, want := range []string{"docker compose up", "API_TOKEN", "docker-compose.yml"} {
		assert.True(t, strings.Contains(string(readme), want), "the README mentions %q", want)
	}
}

// envReadByCode collects the environment variable names the Go code reads
// (string literals passed to os.Getenv or named Env* constants).
func envReadByCode(t *testing.T) map[string]bool {
	t.Helper()
	lit := regexp.MustCompile(`"([A-Z][A-Z0-9_]+)"`)
	read := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(src), "Getenv") && !strings.Contains(string(src), "LookupEnv") && !strings.Contains(string(src), "Env") {
			return nil
		}
		for _, m := range lit.FindAllStringSubmatch(string(src), -1) {
			read[m[1]] = true
		}
		return nil
	})
	require.NoError(t, err)
	return read
}
