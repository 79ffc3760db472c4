package main

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefusesToStartWithoutAKey: in production mode (no --dev) the worker
// stops before it touches the database or Temporal when no encryption key
// is configured, or a malformed one is, and says what to set.
func TestRefusesToStartWithoutAKey(t *testing.T) {
	for _, tt := range []struct {
		name, key, want string
	}{
		{"no key", "", "the worker refuses to start without an encryption key"},
		{"short key", "c2hvcnQ=", "ENCRYPTION_KEY: the key decodes to 5 bytes"},
		{"not base64", "not a key!", "not base64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Nothing listens there: reaching it would be an error of
			// another kind.
			t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
			t.Setenv("ENCRYPTION_KEY", tt.key)
			t.Setenv("ENCRYPTION_KEY_FILE", "")
			t.Setenv("ENCRYPTION_KEYS_OLD", "")
			err := run(slog.New(slog.NewTextHandler(io.Discard, nil)))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "connect to database")
		})
	}
}
