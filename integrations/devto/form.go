package devto

import "github.com/crowdflow/crowdflow/integrations"

// SettingsForm implements integrations.SettingsFormer: the web UI's connect
// form for the settings ValidateSettings checks (articles is Postprocess's
// cursor, not something a user types).
func (s *Service) SettingsForm() integrations.SettingsForm {
	return integrations.SettingsForm{
		Fields: []integrations.FormField{
			{Name: settingUsers, Label: "Users", Kind: integrations.FieldList, Placeholder: "alice, bob",
				Help: "Dev.to usernames whose articles' comments are read (one per line or comma-separated)."},
			{Name: settingOrganizations, Label: "Organizations", Kind: integrations.FieldList, Placeholder: "acme",
				Help: "Dev.to organization slugs. Give at least one user or organization."},
		},
		TokenLabel:    "API key",
		TokenHelp:     "Optional: a Dev.to API key (Settings > Extensions) gets a higher rate limit.",
		TokenOptional: true,
	}
}
