package github

import "github.com/crowdflow/crowdflow/integrations"

// SettingsForm implements integrations.SettingsFormer: the web UI's connect
// form. GitHub is connected either with a token and the repositories to
// read, or as a GitHub App installation (its id, no token), whose
// repositories are listed by the run.
func (s *Service) SettingsForm() integrations.SettingsForm {
	return integrations.SettingsForm{
		Fields: []integrations.FormField{
			// parseRepo takes {url} as well as {owner, name}.
			{Name: settingRepos, Label: "Repositories", Kind: integrations.FieldList, ItemKey: "url",
				Placeholder: "https://github.com/crowdflow/crowdflow",
				Help:        "Repository URLs, one per line. Leave empty for an App installation: its repositories are read."},
		},
		Identifier: &integrations.FormField{Label: "Installation id", Kind: integrations.FieldText, Placeholder: "41236712",
			Help: "A GitHub App installation's id, instead of a token (the server needs GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY)."},
		TokenLabel:    "Token",
		TokenHelp:     "A personal access token that can read the repositories; none for an App installation.",
		TokenOptional: true,
	}
}

var _ integrations.SettingsFormer = (*Service)(nil)
