package webui

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/registry"
)

// formService is a service with every kind of form field.
type formService struct{ noForm }

func (formService) SettingsForm() integrations.SettingsForm {
	return integrations.SettingsForm{Fields: []integrations.FormField{
		{Name: "users", Kind: integrations.FieldList},
		{Name: "repos", Kind: integrations.FieldList, ItemKey: "url"},
		{Name: "guildId", Kind: integrations.FieldText},
		{Name: "checkWindowSeconds", Kind: integrations.FieldNumber},
		{Name: "updateMemberAttributes", Kind: integrations.FieldCheckbox},
	}}
}

// noForm is a service without a form description.
type noForm struct{}

func (noForm) Platform() string            { return "test" }
func (noForm) Config() integrations.Config { return integrations.Config{} }
func (noForm) GetStreams(context.Context, *integrations.RunContext) ([]integrations.Stream, error) {
	return nil, nil
}
func (noForm) ProcessStream(context.Context, *integrations.RunContext, integrations.Stream) (*integrations.StreamResult, error) {
	return nil, nil
}

func TestConnectFormMakesTheSettings(t *testing.T) {
	cases := []struct {
		name     string
		svc      integrations.Service
		form     url.Values
		settings string
		errors   map[string]string
	}{
		{"empty fields are left out, an unticked box is false", formService{}, url.Values{},
			`{"updateMemberAttributes":false}`, map[string]string{}},
		{"lists split on commas and lines, items trimmed", formService{}, url.Values{"setting.users": {" alice,bob\r\n carol ,, "}},
			`{"updateMemberAttributes":false,"users":["alice","bob","carol"]}`, map[string]string{}},
		{"a list with an item key makes objects", formService{}, url.Values{"setting.repos": {"https://github.com/a/b\nhttps://github.com/c/d"}},
			`{"repos":[{"url":"https://github.com/a/b"},{"url":"https://github.com/c/d"}],"updateMemberAttributes":false}`, map[string]string{}},
		{"text, number and checkbox", formService{}, url.Values{"setting.guildId": {" 123 "}, "setting.checkWindowSeconds": {"60"},
			"setting.updateMemberAttributes": {"1"}},
			`{"checkWindowSeconds":60,"guildId":"123","updateMemberAttributes":true}`, map[string]string{}},
		{"a number that is not one is the field's error", formService{}, url.Values{"setting.checkWindowSeconds": {"soon"}},
			`{"updateMemberAttributes":false}`, map[string]string{"checkWindowSeconds": "must be a whole number"}},
		{"no form description: the JSON text area as typed", noForm{}, url.Values{"settingsJson": {`{"a": [1]}`}},
			`{"a": [1]}`, map[string]string{}},
		{"an empty text area is an empty object", noForm{}, url.Values{"settingsJson": {"  "}}, `{}`, map[string]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/ui/connect", strings.NewReader(c.form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			f := newConnectForm(c.svc, "")
			assert.Equal(t, c.settings, string(f.read(r)))
			assert.Equal(t, c.errors, f.Errors)
		})
	}
}

func TestConnectFormPutsErrorsNextToTheirField(t *testing.T) {
	cases := []struct{ field, message, key, shown string }{
		{"settings.users", "give at least one user", "users", "give at least one user"},
		{"settings.users[1]", `"X" is not a name`, "users", `users[1]: "X" is not a name`},
		{"settings.repos[0].url", "not a URL", "repos", "repos[0].url: not a URL"},
		{"settings.articles[0].id", "must be positive", "settings", "articles[0].id: must be positive"},
		{"settings", "must be a JSON object", "settings", "must be a JSON object"},
		{"tenant", "must be a UUID", "tenant", "must be a UUID"},
		{"platform", "unknown platform", "platform", "unknown platform"},
		{"somewhere", "odd", errGeneral, "odd"},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			f := newConnectForm(formService{}, "")
			f.setError(c.field, c.message)
			assert.Equal(t, map[string]string{c.key: c.shown}, f.Errors)
		})
	}
}

// TestBuiltinFormsMakeSettingsTheirServiceAccepts fills every built-in
// form with its placeholders (each an example value) and has the service
// validate what the form makes: a form description that drifted from its
// ValidateSettings fails here.
func TestBuiltinFormsMakeSettingsTheirServiceAccepts(t *testing.T) {
	reg := registry.Default()
	withForm := 0
	for _, p := range reg.Platforms() {
		svc, _ := reg.Get(p)
		if _, ok := svc.(integrations.SettingsFormer); !ok {
			continue
		}
		withForm++
		t.Run(p, func(t *testing.T) {
			f := newConnectForm(svc, "")
			values := url.Values{}
			for _, fd := range f.Fields {
				values.Set(fd.Input, fd.Placeholder)
			}
			r := httptest.NewRequest("POST", "/ui/connect", strings.NewReader(values.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			settings := f.read(r)
			require.Empty(t, f.Errors)
			if v, ok := svc.(integrations.SettingsValidator); ok {
				_, err := v.ValidateSettings(settings)
				assert.NoError(t, err, "settings %s", settings)
			}
		})
	}
	assert.GreaterOrEqual(t, withForm, 4, "devto, discord, slack and more describe their forms")
}
