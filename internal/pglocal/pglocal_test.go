package pglocal

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// A kept cluster keeps its data and its port from one start to the next,
// and a start finds and replaces a server left running in its folder.
func TestKeptCluster(t *testing.T) {
	ctx := context.Background()
	// As root the server runs as postgres, which must reach the folder.
	dir, err := os.MkdirTemp("", "pglocal-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	c, err := Start(Options{Dir: dir, Durable: true})
	require.NoError(t, err)
	require.NoError(t, c.CreateDatabase(ctx, "kept"))
	require.NoError(t, c.CreateDatabase(ctx, "kept"), "CreateDatabase twice")
	execSQL(t, c.URL("kept"), `CREATE TABLE t (v int); INSERT INTO t VALUES (42)`)
	port := c.Port

	// The process "dies" without stopping the server: the next start
	// stops it and starts again, on the same port.
	c2, err := Start(Options{Dir: dir, Durable: true})
	require.NoError(t, err)
	require.Equal(t, port, c2.Port)
	require.Equal(t, 42, queryInt(t, c2.URL("kept"), `SELECT v FROM t`))
	require.NoError(t, c2.Stop())

	c3, err := Start(Options{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c3.Stop() })
	require.Equal(t, port, c3.Port)
	require.Equal(t, 42, queryInt(t, c3.URL("kept"), `SELECT v FROM t`))
	_, err = os.Stat(dir)
	require.NoError(t, err, "Stop removed a kept cluster")
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), sql)
	require.NoError(t, err)
}

func queryInt(t *testing.T, url, sql string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), sql).Scan(&n))
	return n
}

// As root, a folder the postgres user cannot reach (a clone in a mode-700
// folder) does not stop the cluster: it goes to a folder under
// FallbackRoot, the same one at the next start (data and port kept), and a
// throwaway cluster asked for in such a folder runs too and leaves nothing.
func TestUnreachableFolderFallsBack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only as root does PostgreSQL run as another user (postgres)")
	}
	private := t.TempDir() // mode 700, owned by root
	fallback, err := os.MkdirTemp("", "pglocal-fallback-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(fallback, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(fallback) })
	old := FallbackRoot
	FallbackRoot = fallback
	t.Cleanup(func() { FallbackRoot = old })

	asked := filepath.Join(private, "clone", ".data", "postgres")
	c, err := Start(Options{Dir: asked, Durable: true})
	require.NoError(t, err)
	require.Equal(t, asked, c.Requested)
	require.Equal(t, fallback, filepath.Dir(c.Dir), "the cluster is under FallbackRoot")
	execSQL(t, c.URL("postgres"), `CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)`)
	require.NoError(t, c.Stop())

	c2, err := Start(Options{Dir: asked, Durable: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c2.Stop() })
	require.Equal(t, c.Dir, c2.Dir, "the next start finds the same folder")
	require.Equal(t, c.Port, c2.Port)
	require.Equal(t, 7, queryInt(t, c2.URL("postgres"), `SELECT v FROM kept`))

	// Another requested folder gets another cluster.
	other, err := Start(Options{Dir: filepath.Join(private, "other"), Durable: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Stop() })
	require.NotEqual(t, c.Dir, other.Dir)

	// A throwaway cluster with TMPDIR out of reach.
	t.Setenv("TMPDIR", private)
	tmp, err := Start(Options{})
	require.NoError(t, err)
	require.Equal(t, fallback, filepath.Dir(tmp.Dir))
	require.NoError(t, tmp.Stop())
	for _, d := range []string{tmp.Dir, tmp.Requested} {
		_, err := os.Stat(d)
		require.True(t, os.IsNotExist(err), "%s left behind", d)
	}
}

// A link planted in the shared FallbackRoot is never followed.
func TestFallbackRefusesALink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only as root does PostgreSQL run as another user (postgres)")
	}
	fallback, err := os.MkdirTemp("", "pglocal-fallback-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(fallback, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(fallback) })
	old := FallbackRoot
	FallbackRoot = fallback
	t.Cleanup(func() { FallbackRoot = old })

	asked := filepath.Join(t.TempDir(), "postgres")
	sum := sha256.Sum256([]byte(asked))
	require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(fallback, fmt.Sprintf("crowdflow-pg-%x", sum[:6]))))
	_, err = Start(Options{Dir: asked})
	require.ErrorContains(t, err, "is not a folder of root or postgres")
	require.ErrorContains(t, err, "cannot enter", "the error says why a folder was needed")
}
