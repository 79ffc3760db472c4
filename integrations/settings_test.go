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

func TestStreamsInFlight(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      integrations.Config
		env      map[string]string
		platform string
		inFlight int
	}{
		{name: "unset means one", platform: "slack", inFlight: 1},
		{name: "the service's own", cfg: integrations.Config{ParallelStreams: 4}, platform: "slack", inFlight: 4},
		{name: "all platforms", cfg: integrations.Config{ParallelStreams: 4}, env: map[string]string{"PARALLEL_STREAMS": "2"}, platform: "slack", inFlight: 2},
		{name: "the platform's beats all", env: map[string]string{"PARALLEL_STREAMS": "2", "PARALLEL_STREAMS_TWITTER_REACH": "3"}, platform: "twitter-reach", inFlight: 3},
		{name: "another platform's is ignored", cfg: integrations.Config{ParallelStreams: 4}, env: map[string]string{"PARALLEL_STREAMS_DISCORD": "8"}, platform: "slack", inFlight: 4},
		{name: "nonsense is ignored", cfg: integrations.Config{ParallelStreams: 4}, env: map[string]string{"PARALLEL_STREAMS": "-1", "PARALLEL_STREAMS_SLACK": "many"}, platform: "slack", inFlight: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"PARALLEL_STREAMS", "PARALLEL_STREAMS_SLACK", "PARALLEL_STREAMS_TWITTER_REACH", "PARALLEL_STREAMS_DISCORD"} {
				t.Setenv(k, tc.env[k])
			}
			assert.Equal(t, tc.inFlight, tc.cfg.StreamsInFlight(tc.platform))
		})
	}
}
