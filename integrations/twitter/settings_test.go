package twitter

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
)

func TestValidateSettings(t *testing.T) {
	svc := New(Options{})
	for _, tc := range []struct {
		name, in, want, field string
	}{
		{"list with and without #", `{"hashtags":["#crowddev","opensource"]}`, `{"hashtags":["crowddev","opensource"]}`, ""},
		{"comma-separated string", `{"hashtags":"#crowddev, opensource,,#Go"}`, `{"hashtags":["crowddev","opensource","Go"]}`, ""},
		{"commas inside list items, duplicates in any case", `{"hashtags":["a,#B","b","A"]}`, `{"hashtags":["a","B"]}`, ""},
		{"none", `{}`, `{"hashtags":[]}`, ""},
		{"other keys kept", `{"hashtags":[],"updateMemberAttributes":true}`, `{"hashtags":[],"updateMemberAttributes":true}`, ""},
		{"unicode letters", `{"hashtags":["#café_2026"]}`, `{"hashtags":["café_2026"]}`, ""},
		{"a space inside", `{"hashtags":["open source"]}`, "", "hashtags"},
		{"only digits", `{"hashtags":["#2026"]}`, "", "hashtags"},
		{"punctuation", `{"hashtags":["c++"]}`, "", "hashtags"},
		{"not a list", `{"hashtags":3}`, "", "hashtags"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := svc.ValidateSettings(json.RawMessage(tc.in))
			if tc.field != "" {
				var fe *integrations.FieldError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tc.field, fe.Field)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(got))
		})
	}
}

func TestValidateIdentifier(t *testing.T) {
	svc := New(Options{})
	assert.NoError(t, svc.ValidateIdentifier("1590000000000000001"))
	for _, bad := range []string{"", "crowdflow_demo", "@crowdflow_demo", "12345678901234567890", "12 3"} {
		assert.Error(t, svc.ValidateIdentifier(bad), bad)
	}
}
