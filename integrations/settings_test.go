package integrations_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
)

func TestSettingsFields(t *testing.T) {
	known := []string{"users", "organizations"}
	cases := []struct {
		name, raw, field, message string
	}{
		{"an object of known keys", `{"users": ["a"], "organizations": []}`, "", ""},
		{"an internal key", `{"users": [], "checkpoints": {}}`, "", ""},
		{"not an object", `["users"]`, "settings", "must be a JSON object"},
		{"null", `null`, "settings", "must be a JSON object"},
		{"two objects", `{} {}`, "settings", "must be a single JSON object"},
		{"unknown keys: the first in sorted order is named", `{"zeta": 1, "organisations": []}`, "organisations", "unknown setting (known: users, organizations)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fields, err := integrations.SettingsFields(json.RawMessage(c.raw), known, "checkpoints")
			if c.field == "" {
				require.NoError(t, err)
				assert.NotNil(t, fields)
				return
			}
			var fe *integrations.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, c.field, fe.Field)
			assert.Equal(t, c.message, fe.Message)
		})
	}
}
