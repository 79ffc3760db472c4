// Package pglocal runs a PostgreSQL server from the local binaries (initdb
// and pg_ctl on PATH, or in /usr/lib/postgresql/<version>/bin): a
// throwaway cluster for the tests (internal/pgtest) or a kept one for
// `worker --dev` (internal/devmode).
//
// PostgreSQL refuses to run as root, so as root the server runs as the
// "postgres" user, which must be able to reach the cluster's folder. When it
// cannot (a clone under /root, a `mktemp -d` folder: mode 700), the cluster
// goes to a folder it can reach instead, under /var/tmp, named after the
// folder asked for so that the next start finds it again; Cluster.Dir says
// where, Cluster.Requested what was asked.
//
// The server listens on 127.0.0.1 only and trusts every local connection:
// it is for a developer's machine and for tests, never for production.
package pglocal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// Options say where and how a cluster runs.
type Options struct {
	// Dir holds the cluster (Dir/data), its log (Dir/server.log) and the
	// port it last used (Dir/port). Empty: a temporary folder that Stop
	// removes.
	Dir string
	// Port is the port to listen on. 0: the port the cluster in Dir used
	// last time if it is free, else a free port.
	Port int
	// Durable keeps fsync on, so that a kept cluster survives a power
	// loss. Off (the tests' throwaway clusters), nothing is synced.
	Durable bool
}

// Cluster is a running PostgreSQL server started from the local binaries.
type Cluster struct {
	// Dir is where the cluster is; it differs from Requested when the
	// postgres user could not reach the folder asked for (see the package
	// documentation).
	Dir string
	// Requested is the folder asked for (Options.Dir made absolute, or the
	// temporary folder made for a throwaway cluster).
	Requested string
	Port      int
	bin       string
	cred      *syscall.Credential
	keep      bool
}

// portFile remembers the port of a kept cluster, so that its URL stays the
// same from one start to the next.
const portFile = "port"

// Start starts a cluster in opts.Dir, initialising it when the folder has
// none. A server left running in that folder (by a process that was
// killed) is stopped first.
func Start(opts Options) (*Cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, Dir: opts.Dir, keep: opts.Dir != ""}
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
		if c.Dir, err = os.MkdirTemp("", "pglocal-"); err != nil {
			return nil, err
		}
	}
	if err := c.start(opts); err != nil {
		if !c.keep {
			_ = os.RemoveAll(c.Dir)
			_ = os.RemoveAll(c.Requested)
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(opts Options) error {
	var err error
	if c.Dir, err = filepath.Abs(c.Dir); err != nil {
		return err
	}
	c.Requested = c.Dir
	if c.cred != nil && reachable(c.Dir, c.cred) != nil {
		if c.Dir, err = c.reachableDir(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	if c.cred != nil {
		if err := os.Chown(c.Dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return err
		}
		if err := reachable(c.Dir, c.cred); err != nil {
			return err
		}
	}
	data := filepath.Join(c.Dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		if out, err := c.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
			return fmt.Errorf("initdb: %v: %s", err, out)
		}
	} else if _, err := c.run("pg_ctl", "-D", data, "status"); err == nil {
		// A server from an earlier start still runs here (its process
		// was killed, the server was not): stop it, then start as usual.
		if out, err := c.run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop"); err != nil {
			return fmt.Errorf("stop the server left running in %s: %v: %s", data, err, out)
		}
	}
	if c.Port, err = c.pickPort(opts.Port); err != nil {
		return err
	}
	settings := "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
	if opts.Durable {
		// A crash of the process loses nothing; an OS crash may lose the
		// last commits, never the cluster.
		settings = "-c synchronous_commit=off"
	}
	// Unix sockets go in the cluster's folder, unless its path is too long
	// for one (about 100 bytes): then TCP only.
	sockets := c.Dir
	if len(sockets) > 80 {
		sockets = "''"
	}
	o := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s %s -c max_connections=200", c.Port, sockets, settings)
	if out, err := c.run("pg_ctl", "-D", data, "-o", o, "-l", filepath.Join(c.Dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, tail(log, 2000))
	}
	if c.keep {
		_ = os.WriteFile(filepath.Join(c.Dir, portFile), []byte(strconv.Itoa(c.Port)+"\n"), 0o644)
	}
	return nil
}

// pickPort returns want if it is set, else the port the cluster last used
// when it is free, else a free port.
func (c *Cluster) pickPort(want int) (int, error) {
	if want != 0 {
		return want, nil
	}
	if c.keep {
		if b, err := os.ReadFile(filepath.Join(c.Dir, portFile)); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 && portFree(p) {
				return p, nil
			}
		}
	}
	return FreePort()
}

// URL is the connection URL of a database on the cluster.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, database)
}

// CreateDatabase creates a database unless it exists.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Stop stops the server (fast: open sessions are ended, nothing is lost),
// and removes a temporary cluster's files.
func (c *Cluster) Stop() error {
	out, err := c.run("pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "fast", "-w", "-t", "60", "stop")
	if err != nil {
		err = fmt.Errorf("pg_ctl stop: %v: %s", err, bytes.TrimSpace(out))
	}
	if !c.keep {
		_ = os.RemoveAll(c.Dir)
		_ = os.RemoveAll(c.Requested)
	}
	return err
}

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.Dir
	// Its own process group: a Ctrl-C in the terminal goes to the
	// process that started the cluster, which stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.cred != nil {
		cmd.SysProcAttr.Credential = c.cred
	}
	return cmd.CombinedOutput()
}

// FallbackRoot is where a cluster goes when the postgres user cannot reach
// the folder asked for: /var/tmp survives a reboot (a kept cluster must),
// and every user may enter it.
var FallbackRoot = "/var/tmp"

// reachableDir returns the folder, under FallbackRoot, that stands for
// c.Requested: the same one at every start for a kept cluster (named after
// a hash of the requested path, so two clones get two clusters), a new one
// for a throwaway cluster (removed, with the requested one, by Stop).
func (c *Cluster) reachableDir() (string, error) {
	why := reachable(c.Requested, c.cred)
	if !c.keep {
		d, err := os.MkdirTemp(FallbackRoot, "pglocal-")
		if err != nil {
			return "", fmt.Errorf("%v; and no folder in %s: %w", why, FallbackRoot, err)
		}
		return d, nil
	}
	sum := sha256.Sum256([]byte(c.Requested))
	d := filepath.Join(FallbackRoot, fmt.Sprintf("crowdflow-pg-%x", sum[:6]))
	// FallbackRoot is writable by everyone: never follow a link someone
	// put there, and only reuse a folder root or postgres owns.
	if fi, err := os.Lstat(d); err == nil {
		st, _ := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || st == nil || (st.Uid != 0 && st.Uid != c.cred.Uid) {
			return "", fmt.Errorf("%v; and %s, the folder used instead, is not a folder of root or postgres", why, d)
		}
	} else if err := os.Mkdir(d, 0o700); err != nil {
		return "", fmt.Errorf("%v; and %s, the folder used instead: %w", why, d, err)
	}
	if err := reachable(d, c.cred); err != nil {
		return "", fmt.Errorf("%v; and %w", why, err)
	}
	return d, nil
}

// reachable says whether the postgres user may enter dir: every folder
// above it must be searchable by that user.
func reachable(dir string, cred *syscall.Credential) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		switch {
		case !ok:
		case st.Uid == cred.Uid && mode&0o100 != 0:
		case st.Gid == cred.Gid && mode&0o010 != 0:
		case mode&0o001 != 0:
		default:
			return fmt.Errorf("PostgreSQL runs as the postgres user (the process runs as root), which cannot enter %s (mode %v); "+
				"choose a folder it can reach, or run as another user", d, mode)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
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
	return "", errors.New("no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)")
}

func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
