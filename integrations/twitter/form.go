package twitter

import "github.com/crowdflow/crowdflow/integrations"

// SettingsForm implements integrations.SettingsFormer: the profile id, the
// hashtags, and the access token.
func (s *Service) SettingsForm() integrations.SettingsForm {
	return integrations.SettingsForm{
		Fields: []integrations.FormField{
			{Name: fieldHashtags, Label: "Hashtags", Kind: integrations.FieldList, Placeholder: "#crowddev, opensource",
				Help: "Posts of the last 7 days with these hashtags, and new ones every 30 minutes (with or without #)."},
		},
		Identifier: &integrations.FormField{Label: "Profile id", Kind: integrations.FieldText, Required: true,
			Placeholder: "2244994945", Help: "The numeric id of the X account whose followers and mentions are read (not its @handle)."},
		TokenLabel: "Access token",
		TokenHelp: "An OAuth 2.0 user access token (or an app-only bearer token). It lasts two hours: to keep it fresh, " +
			"connect with starter connect --refresh-token as well.",
	}
}

var _ integrations.SettingsFormer = (*Service)(nil)
