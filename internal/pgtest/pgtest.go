// Package pgtest gives tests a real, migrated PostgreSQL database.
//
// With DATABASE_URL set, tests use that server. Otherwise the first test that
// asks starts a throwaway cluster from the local PostgreSQL binaries (initdb
// and pg_ctl on PATH, or in /usr/lib/postgresql/<version>/bin) on a free
// port, and Main removes it when the package's tests end. PostgreSQL refuses
// to run as root, so as root the cluster runs as the "postgres" user.
//
// Every test gets its own database, cloned from a migrated template, so tests
// never see each other's rows. With neither DATABASE_URL nor the binaries the
// test fails and says how to get one: it never skips.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crowdflow/crowdflow/migrations"
)

const templateDB = "crowdflow_template"

var (
	once     sync.Once
	baseURL  string // URL of the server's maintenance database
	startErr error
	cluster  *Cluster
)

// Main runs the package's tests and then stops the throwaway cluster, if
// one was started. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	os.Exit(code)
}

// NewDatabase returns the URL of a new, migrated, empty database that is
// dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if startErr != nil {
		t.Fatalf("pgtest: no PostgreSQL for the tests: %v\n"+
			"Set DATABASE_URL to a server the tests may create databases on, or install the PostgreSQL server binaries "+
			"(Debian: apt-get install postgresql) so a throwaway cluster can be started.", startErr)
	}
	name := "test_" + randomHex(6)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, templateDB)); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), baseURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
	})
	return withDatabase(baseURL, name)
}

func setup() {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		baseURL = u
	} else {
		c, err := StartCluster("")
		if err != nil {
			startErr = err
			return
		}
		cluster = c
		baseURL = c.URL("postgres")
	}
	startErr = prepareTemplate(baseURL)
}

// prepareTemplate (re)creates the migrated template database. Several test
// binaries may share one DATABASE_URL server at once, so the work is done
// under an advisory lock and each binary builds the template only if it is
// missing.
func prepareTemplate(base string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(base), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock(727274)`) //nolint:errcheck
	// A template from an older schema would hide a migration bug: rebuild
	// it for every test process.
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+templateDB+` WITH (FORCE)`); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+templateDB); err != nil {
		return err
	}
	if _, err := migrations.Up(ctx, withDatabase(base, templateDB)); err != nil {
		return err
	}
	return nil
}

// Cluster is a PostgreSQL server started from the local binaries.
type Cluster struct {
	Dir  string
	Port int
	bin  string
	cred *syscall.Credential
	keep bool
}

// StartCluster starts a cluster in dir (initialising it when empty) on a
// free loopback port. With dir "" it uses a temporary folder that Stop
// removes.
func StartCluster(dir string) (*Cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, Dir: dir, keep: dir != ""}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no 'postgres' user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(c.Dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
		// The postgres user must be able to reach the folder.
		_ = os.Chmod(filepath.Dir(c.Dir), 0o755)
	}
	data := filepath.Join(c.Dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		if out, err := c.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
			return nil, fmt.Errorf("initdb: %v: %s", err, out)
		}
	}
	if c.Port, err = freePort(); err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200",
		c.Port, c.Dir)
	if out, err := c.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(c.Dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
		return nil, fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log)
	}
	return c, nil
}

// URL is the connection URL of a database on the cluster.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, database)
}

// Stop stops the server, and removes a temporary cluster's files.
func (c *Cluster) Stop() {
	_, _ = c.run("pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "fast", "-w", "stop")
	if !c.keep {
		_ = os.RemoveAll(c.Dir)
	}
}

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.Dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

func findBinaries() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin")
}

func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "DATABASE_URL"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
