package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/store"
)

// Every foreign key of the engine's tables has an index that leads with its
// columns: a cascading delete (an integration, a tenant, an old run) and
// the lookups by integration would otherwise scan the child table once per
// deleted row.
func TestForeignKeysAreIndexed(t *testing.T) {
	s := newStore(t)
	rows, err := s.Pool().Query(context.Background(), `
		SELECT c.conrelid::regclass::text || ' (' || array_to_string(ARRAY(
			SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
			JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), ', ') || ')'
		FROM pg_constraint c
		WHERE c.contype = 'f'
			AND c.conrelid::regclass::text IN ('integrations', '"integrationRuns"', '"integrationStreams"', 'members',
				'"memberIdentities"', 'activities', '"memberAttributeSettings"', '"memberAttributePlatforms"')
			AND NOT EXISTS (
				SELECT 1 FROM pg_index i
				WHERE i.indrelid = c.conrelid
					AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
					AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
		ORDER BY 1`)
	require.NoError(t, err)
	var missing []string
	for rows.Next() {
		var fk string
		require.NoError(t, rows.Scan(&fk))
		missing = append(missing, fk)
	}
	require.NoError(t, rows.Err())
	assert.Empty(t, missing, "foreign keys without an index")
}

func TestPoolTimeoutsAndSize(t *testing.T) {
	url := pgtestDatabase(t)
	ctx := context.Background()
	show := func(s *store.Store, name string) string {
		t.Helper()
		var v string
		require.NoError(t, s.Pool().QueryRow(ctx, "SHOW "+name).Scan(&v))
		return v
	}

	s, err := store.Open(ctx, url)
	require.NoError(t, err)
	assert.Equal(t, "1min", show(s, "statement_timeout"), "default")
	assert.Equal(t, "30s", show(s, "lock_timeout"), "default")
	s.Close()

	t.Setenv(store.EnvStatementTimeout, "90s")
	t.Setenv(store.EnvLockTimeout, "200ms")
	s, err = store.Open(ctx, url, store.WithMaxConns(7))
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "90s", show(s, "statement_timeout"))
	assert.Equal(t, "200ms", show(s, "lock_timeout"))
	assert.EqualValues(t, 7, s.Pool().Config().MaxConns, "the worker's size")

	// A row held by another session fails the waiting statement after the
	// lock timeout instead of holding its connection for ever.
	_, err = s.Pool().Exec(ctx, `INSERT INTO tenants (id) VALUES ('00000000-0000-0000-0000-000000000001')`)
	require.NoError(t, err)
	tx, err := s.Pool().Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	_, err = tx.Exec(ctx, `UPDATE tenants SET name = 'held'`)
	require.NoError(t, err)
	_, err = s.Pool().Exec(ctx, `UPDATE tenants SET name = 'waiting'`)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "got %v", err)
	assert.Equal(t, "55P03", pgErr.Code, "lock_not_available")

	t.Setenv(store.EnvMaxConns, "3")
	s2, err := store.Open(ctx, url, store.WithMaxConns(7))
	require.NoError(t, err)
	defer s2.Close()
	assert.EqualValues(t, 3, s2.Pool().Config().MaxConns, "DATABASE_MAX_CONNS wins")

	for name, bad := range map[string]string{store.EnvMaxConns: "0", store.EnvLockTimeout: "soon", store.EnvStatementTimeout: "-1s"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, bad)
			_, err := store.Open(ctx, url)
			require.Error(t, err)
			assert.Contains(t, err.Error(), name)
		})
	}
}
