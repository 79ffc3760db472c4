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
// test fails and says how to get one: it never skips. The cluster itself is
// internal/pglocal's.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crowdflow/crowdflow/internal/pglocal"
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
		_ = cluster.Stop()
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
type Cluster = pglocal.Cluster

// StartCluster starts a throwaway cluster in dir (initialising it when
// empty) on a free loopback port, with nothing synced to disk. With dir ""
// it uses a temporary folder that Stop removes.
func StartCluster(dir string) (*Cluster, error) {
	return pglocal.Start(pglocal.Options{Dir: dir})
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
