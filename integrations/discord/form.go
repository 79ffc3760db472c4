package discord

import "github.com/crowdflow/crowdflow/integrations"

// SettingsForm implements integrations.SettingsFormer: the guild to read
// and the bot's token.
func (s *Service) SettingsForm() integrations.SettingsForm {
	return integrations.SettingsForm{
		Fields: []integrations.FormField{
			{Name: "guildId", Label: "Guild id", Kind: integrations.FieldText, Required: true, Placeholder: "613425648685547541",
				Help: "The server's id (Developer Mode, right-click the server, Copy Server ID)."},
		},
		TokenLabel: "Bot token",
		TokenHelp:  "The token of a bot that was added to the guild.",
	}
}
