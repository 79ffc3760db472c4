package pglocal

import (
	"context"
	"os"
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
